package merkle

import (
	"encoding/binary"
	"fmt"
)

// Tree encoding, version 1: what a farmer stores beside a shard so a range
// read or an audit never rehashes the shard (docs/format/merkle.md).
//
//	offset  size  field
//	0       4     magic "SDMT"
//	4       1     version = 1
//	5       8     shard size in bytes, uint64 big-endian, <= MaxSize
//	13      32    root (the shard address)
//	45      32*n  leaf hashes 0..n-1, n = LeafCount(size)
//
// The stored root is a checksum over everything after it: UnmarshalTree
// recomputes it from the leaf hashes (n-1 inner hashes of 65 bytes, never
// the shard bytes) and rejects the encoding on a mismatch.
const (
	treeMagic      = "SDMT"
	treeVersion    = 1
	treeHeaderSize = 4 + 1 + 8 + 32
)

// MarshalBinary encodes the tree (version 1). It never fails.
func (t *Tree) MarshalBinary() ([]byte, error) {
	leaves := t.levels[0]
	out := make([]byte, treeHeaderSize, treeHeaderSize+len(leaves)*len(Hash{}))
	copy(out, treeMagic)
	out[4] = treeVersion
	binary.BigEndian.PutUint64(out[5:], uint64(t.size))
	copy(out[13:], t.root[:])
	for i := range leaves {
		out = append(out, leaves[i][:]...)
	}
	return out, nil
}

// UnmarshalTree decodes a tree encoded by Tree.MarshalBinary, checking every
// length and that the leaf hashes lead to the stored root. Errors wrap
// ErrVersion for an unknown version and ErrCorrupt otherwise. The result
// does not alias b. Callers that know the shard's address must still compare
// it with Tree.Root.
func UnmarshalTree(b []byte) (*Tree, error) {
	if len(b) < treeHeaderSize {
		return nil, fmt.Errorf("%w: tree of %d bytes, shorter than its %d-byte header", ErrCorrupt, len(b), treeHeaderSize)
	}
	if string(b[:4]) != treeMagic {
		return nil, fmt.Errorf("%w: tree magic: want %q, have %q", ErrCorrupt, treeMagic, b[:4])
	}
	if b[4] != treeVersion {
		return nil, fmt.Errorf("%w: tree version: want %d, have %d", ErrVersion, treeVersion, b[4])
	}
	size := binary.BigEndian.Uint64(b[5:])
	if size > uint64(MaxSize) {
		return nil, fmt.Errorf("%w: shard size %d, more than %d", ErrCorrupt, size, MaxSize)
	}
	n := LeafCount(int64(size))
	if want := int64(treeHeaderSize) + int64(n)*int64(len(Hash{})); int64(len(b)) != want {
		return nil, fmt.Errorf("%w: tree of a %d-byte shard: want %d bytes, have %d", ErrCorrupt, size, want, len(b))
	}
	var stored Root
	copy(stored[:], b[13:])
	leaves := make([]Hash, n)
	for i := range leaves {
		copy(leaves[i][:], b[treeHeaderSize+i*len(Hash{}):])
	}
	t := newTree(int64(size), leaves)
	if t.root != stored {
		return nil, fmt.Errorf("%w: leaf hashes lead to root %s, stored root is %s", ErrCorrupt, t.root, stored)
	}
	return t, nil
}

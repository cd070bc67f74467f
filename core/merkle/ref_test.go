package merkle

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// This file is a second, deliberately naive implementation of the
// construction in docs/format/merkle.md, written from the document rather
// than from the package code: it hashes with blake3.Sum256 over freshly
// concatenated buffers and finds splits by counting.

func refLeaves(data []byte) [][]byte {
	var out [][]byte
	for len(data) > LeafSize {
		out = append(out, data[:LeafSize])
		data = data[LeafSize:]
	}
	return append(out, data)
}

func refLargestPow2Below(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func refLeafHash(leaf []byte) Hash {
	return blake3.Sum256(append([]byte{0x00}, leaf...))
}

func refInner(l, r Hash) Hash {
	b := append([]byte{0x01}, l[:]...)
	return blake3.Sum256(append(b, r[:]...))
}

func refLeafHashes(data []byte) []Hash {
	var out []Hash
	for _, leaf := range refLeaves(data) {
		out = append(out, refLeafHash(leaf))
	}
	return out
}

// refMTH is the tree hash over leaf hashes.
func refMTH(leaves []Hash) Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := refLargestPow2Below(len(leaves))
	return refInner(refMTH(leaves[:k]), refMTH(leaves[k:]))
}

func refRoot(data []byte) Root {
	mth := refMTH(refLeafHashes(data))
	b := []byte{0x02}
	b = append(b, "shardrive-merkle-v1"...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	b = append(b, mth[:]...)
	return Root(blake3.Sum256(b))
}

// refProof emits, left to right, the hash of every maximal subtree wholly
// outside leaves [first, end), given the leaf hashes. off is the index of
// leaves[0] in the shard.
func refProof(leaves []Hash, off, first, end int) []Hash {
	lo, hi := off, off+len(leaves)
	if hi <= first || end <= lo {
		return []Hash{refMTH(leaves)}
	}
	if first <= lo && hi <= end {
		return nil
	}
	k := refLargestPow2Below(len(leaves))
	return append(refProof(leaves[:k], off, first, end), refProof(leaves[k:], off+k, first, end)...)
}

package farmer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Shard file, version 1 (docs/format/farmer.md). One file per stored shard
// at shards/<account id>/<first two hex digits of root>/<root hex>. All
// integers are big-endian.
//
//	offset  size  field
//	0       4     magic "SDSF"
//	4       1     version = 1
//	5       3     reserved, zero
//	8       8     shard size s
//	16      32    root (the shard address, also the file name)
//	48      4     tree length t
//	52      t     merkle.Tree.MarshalBinary (its leaf hashes)
//	52+t    s     shard bytes
//
// The stored tree lets a read load only the leaves it serves plus t bytes,
// never rehash the shard, and still check every leaf it sends against the
// tree. The header repeats size and root so that the start-up scan reads
// 52 bytes a file.
const (
	shardMagic      = "SDSF"
	shardVersion    = 1
	shardHeaderSize = 52
	// maxTreeLen bounds the tree length field: the encoding of a tree of
	// a format.MaxShardSize shard is 45+32*4096 bytes.
	maxTreeLen = 1 << 20
)

// errCorruptFile reports a shard file that does not match its header, its
// tree, its name or the index.
var errCorruptFile = errors.New("corrupt shard file")

type shardHeader struct {
	size    int64
	root    merkle.Root
	treeLen int
}

func (h shardHeader) fileSize() int64 { return shardHeaderSize + int64(h.treeLen) + h.size }

func encodeShardHeader(h shardHeader) []byte {
	b := make([]byte, shardHeaderSize)
	copy(b, shardMagic)
	b[4] = shardVersion
	binary.BigEndian.PutUint64(b[8:], uint64(h.size))
	copy(b[16:], h.root[:])
	binary.BigEndian.PutUint32(b[48:], uint32(h.treeLen))
	return b
}

func parseShardHeader(b []byte) (shardHeader, error) {
	switch {
	case len(b) < shardHeaderSize:
		return shardHeader{}, fmt.Errorf("%w: %d-byte header, want %d", errCorruptFile, len(b), shardHeaderSize)
	case string(b[:4]) != shardMagic:
		return shardHeader{}, fmt.Errorf("%w: magic: want %q, have %q", errCorruptFile, shardMagic, b[:4])
	case b[4] != shardVersion:
		return shardHeader{}, fmt.Errorf("%w: version: want %d, have %d", errCorruptFile, shardVersion, b[4])
	case b[5] != 0 || b[6] != 0 || b[7] != 0:
		return shardHeader{}, fmt.Errorf("%w: reserved bytes not zero", errCorruptFile)
	}
	h := shardHeader{treeLen: int(binary.BigEndian.Uint32(b[48:]))}
	size := binary.BigEndian.Uint64(b[8:])
	if size > uint64(format.MaxShardSize) {
		return shardHeader{}, fmt.Errorf("%w: shard size %d, at most %d", errCorruptFile, size, format.MaxShardSize)
	}
	h.size = int64(size)
	if h.treeLen <= 0 || h.treeLen > maxTreeLen {
		return shardHeader{}, fmt.Errorf("%w: tree length %d not in [1, %d]", errCorruptFile, h.treeLen, maxTreeLen)
	}
	copy(h.root[:], b[16:])
	return h, nil
}

// store lays shard files out under one directory. Its methods are safe for
// concurrent use; callers serialize writers of the same shard.
type store struct {
	dir string // <data dir>/shards
	// made holds the fan-out directories known to exist: asking the kernel
	// to mkdir an existing directory on every upload costs more than the
	// hashing.
	made sync.Map
}

func (s *store) fanDir(acct format.AccountID, root merkle.Root) string {
	return filepath.Join(s.dir, acct.String(), root.String()[:2])
}

func (s *store) path(acct format.AccountID, root merkle.Root) string {
	return filepath.Join(s.fanDir(acct, root), root.String())
}

// tempPrefix starts the name of every file being written; the start-up scan
// removes leftovers.
const tempPrefix = ".tmp-"

// write stores a shard atomically and durably: a temporary file in the
// final directory, written and fsynced, renamed over the final name, and
// the directory fsynced. A crash leaves either the old state plus a
// temporary file, or the new file.
func (s *store) write(acct format.AccountID, root merkle.Root, tree, data []byte) (err error) {
	if err := s.mkdirs(acct, root); err != nil {
		return err
	}
	dir := s.fanDir(acct, root)
	tmp, err := os.CreateTemp(dir, tempPrefix)
	if errors.Is(err, fs.ErrNotExist) { // removed behind our back: make it again
		s.made.Delete(dir)
		if err := s.mkdirs(acct, root); err != nil {
			return err
		}
		tmp, err = os.CreateTemp(dir, tempPrefix)
	}
	if err != nil {
		return fmt.Errorf("write shard: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	hdr := encodeShardHeader(shardHeader{size: int64(len(data)), root: root, treeLen: len(tree)})
	for _, b := range [][]byte{hdr, tree, data} {
		if _, err := tmp.Write(b); err != nil {
			return fmt.Errorf("write shard: %w", err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write shard: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write shard: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path(acct, root)); err != nil {
		return fmt.Errorf("write shard: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write shard: %w", err)
	}
	return nil
}

// mkdirs creates the account and fan-out directories of a shard, syncing
// each parent in which it created an entry.
func (s *store) mkdirs(acct format.AccountID, root merkle.Root) error {
	if _, ok := s.made.Load(s.fanDir(acct, root)); ok {
		return nil
	}
	parent := s.dir
	for _, name := range []string{acct.String(), root.String()[:2]} {
		d := filepath.Join(parent, name)
		switch err := os.Mkdir(d, 0o700); {
		case err == nil:
			if err := syncDir(parent); err != nil {
				return fmt.Errorf("create shard directory: %w", err)
			}
		case !errors.Is(err, fs.ErrExist):
			return fmt.Errorf("create shard directory: %w", err)
		}
		parent = d
	}
	s.made.Store(parent, true)
	return nil
}

// remove deletes a shard file durably; a missing file is not an error.
func (s *store) remove(acct format.AccountID, root merkle.Root) error {
	err := os.Remove(s.path(acct, root))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove shard: %w", err)
	}
	if err := syncDir(s.fanDir(acct, root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove shard: %w", err)
	}
	return nil
}

// shardFile is an open shard file with its checked tree.
type shardFile struct {
	f    *os.File
	hdr  shardHeader
	tree *merkle.Tree
}

func (sf *shardFile) Close() error { return sf.f.Close() }

// open opens the shard file of (acct, root) and checks its header, its
// length and its tree against root and size. Errors wrap errCorruptFile
// for anything a checksum or length shows wrong (a missing file included:
// the caller opens only what its index holds), and are plain I/O errors
// otherwise.
func (s *store) open(acct format.AccountID, root merkle.Root, size int64) (*shardFile, error) {
	f, err := os.Open(s.path(acct, root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: file missing", errCorruptFile)
	}
	if err != nil {
		return nil, fmt.Errorf("open shard: %w", err)
	}
	sf, err := readShardFile(f, root, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func readShardFile(f *os.File, root merkle.Root, size int64) (*shardFile, error) {
	b := make([]byte, shardHeaderSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: truncated header", errCorruptFile)
		}
		return nil, fmt.Errorf("read shard header: %w", err)
	}
	hdr, err := parseShardHeader(b)
	if err != nil {
		return nil, err
	}
	if hdr.root != root || hdr.size != size {
		return nil, fmt.Errorf("%w: header names %s (%d bytes), want %s (%d bytes)", errCorruptFile, hdr.root, hdr.size, root, size)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat shard: %w", err)
	}
	if st.Size() != hdr.fileSize() {
		return nil, fmt.Errorf("%w: file of %d bytes, want %d", errCorruptFile, st.Size(), hdr.fileSize())
	}
	tb := make([]byte, hdr.treeLen)
	if _, err := f.ReadAt(tb, shardHeaderSize); err != nil {
		return nil, fmt.Errorf("read shard tree: %w", err)
	}
	tree, err := merkle.UnmarshalTree(tb)
	if err != nil {
		return nil, fmt.Errorf("%w: tree: %w", errCorruptFile, err)
	}
	if tree.Root() != root || tree.Size() != size {
		return nil, fmt.Errorf("%w: tree is of %s (%d bytes), want %s", errCorruptFile, tree.Root(), tree.Size(), root)
	}
	return &shardFile{f: f, hdr: hdr, tree: tree}, nil
}

// readLeaves reads the bytes of leaves [first, end) into buf, which must be
// exactly their length, and checks them against the stored tree. A
// mismatch wraps errCorruptFile.
func (sf *shardFile) readLeaves(first, end int, buf []byte) (merkle.Proof, error) {
	off, n, err := merkle.LeafSpan(sf.hdr.size, first, end)
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) != n {
		return nil, fmt.Errorf("read leaves: buffer of %d bytes for %d", len(buf), n)
	}
	if _, err := sf.f.ReadAt(buf, shardHeaderSize+int64(sf.hdr.treeLen)+off); err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	proof, err := sf.tree.Prove(first, end)
	if err != nil {
		return nil, err
	}
	if err := merkle.Verify(sf.tree.Root(), sf.hdr.size, first, buf, proof); err != nil {
		return nil, fmt.Errorf("%w: leaves [%d, %d): %w", errCorruptFile, first, end, err)
	}
	return proof, nil
}

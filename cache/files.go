package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Files are the local block cache: one sparse file per inode under a
// directory, holding the plaintext of the blocks the cache has (clean or
// dirty) at their natural offsets. Which blocks a file holds is recorded in
// the cached table; a data file is never trusted beyond it.
//
// The local cache is as readable as the local disk, like every sync
// client's (README, Security).
type Files struct {
	dir string
	bs  int64

	mu   sync.Mutex // guards open
	open map[int64]*File
}

// OpenFiles opens the local block cache in dir for blocks of size bs.
func OpenFiles(dir string, bs int) (*Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	return &Files{dir: dir, bs: int64(bs), open: make(map[int64]*File)}, nil
}

func (fs *Files) path(ino int64) string { return filepath.Join(fs.dir, strconv.FormatInt(ino, 10)) }

// File is the local data of one inode. Handles of the same inode share it.
type File struct {
	fs   *Files
	ino  int64
	refs int // guarded by fs.mu

	// mu guards everything below and orders writes against snapshots, so
	// that a block's data and its generation are read together.
	mu      sync.Mutex
	fd      *os.File
	loaded  bool
	created bool // the data file did not exist: nothing the metadata lists is in it
	// has: blocks the data file holds (value: dirty). gen counts writes per
	// block: the uploader marks a block clean only if no write came after
	// the snapshot it stored.
	has  map[int64]bool
	gen  map[int64]uint64
	lost []CachedBlock
	// Unflushed is set by writes and cleared when the metadata (size,
	// times) is flushed; the uploader leaves such a file alone until then.
	Unflushed bool
}

// Get returns the local data of ino, opening it if it exists. A missing
// data file is made only when something is first written to it: a file
// that is only read, or whose small content never leaves memory (drive),
// costs no file on disk. Call Release when done.
func (fs *Files) Get(ino int64) (*File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.open[ino]; f != nil {
		f.refs++
		return f, nil
	}
	fd, err := os.OpenFile(fs.path(ino), os.O_RDWR, 0)
	created := errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	f := &File{fs: fs, ino: ino, refs: 1, fd: fd, created: created, has: map[int64]bool{}, gen: map[int64]uint64{}}
	fs.open[ino] = f
	return f, nil
}

// ensure makes the data file if Get found none. Caller holds the lock.
func (f *File) ensure() error {
	if f.fd != nil {
		return nil
	}
	fd, err := os.OpenFile(f.fs.path(f.ino), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	f.fd = fd
	return nil
}

// IsOpen reports whether anyone holds ino's local data.
func (fs *Files) IsOpen(ino int64) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.open[ino] != nil
}

// Release drops a reference taken by Get.
func (f *File) Release() {
	fs := f.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.refs--; f.refs > 0 {
		return
	}
	delete(fs.open, f.ino)
	f.mu.Lock()
	if f.fd != nil {
		f.fd.Close()
	}
	f.mu.Unlock()
}

// Remove deletes the local data of ino (which must not be open).
func (fs *Files) Remove(ino int64) error {
	err := os.Remove(fs.path(ino))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Lock and Unlock guard the file's state for a sequence of calls.
func (f *File) Lock()   { f.mu.Lock() }
func (f *File) Unlock() { f.mu.Unlock() }

// Load fills the block map from the metadata once. Caller holds the lock.
// A data file that had to be created holds nothing: Lost then returns what
// the metadata claimed, for the caller to forget.
func (f *File) Load(blocks []CachedBlock) {
	if f.loaded {
		return
	}
	if f.created {
		f.lost, f.loaded = blocks, true
		return
	}
	for _, b := range blocks {
		f.has[b.Index] = b.Dirty
	}
	f.loaded = true
}

// Lost returns, once, the blocks the metadata listed for a data file that
// was gone (deleted by hand, a lost disk): the caller forgets them, and a
// dirty one among them is data that never reached the farmers. Caller
// holds the lock.
func (f *File) Lost() []CachedBlock {
	l := f.lost
	f.lost = nil
	return l
}

// Loaded reports whether Load ran. Caller holds the lock.
func (f *File) Loaded() bool { return f.loaded }

// Has reports whether the data file holds block idx and whether it is
// dirty. Caller holds the lock.
func (f *File) Has(idx int64) (present, dirty bool) {
	dirty, present = f.has[idx]
	return present, dirty
}

// Blocks lists the blocks the data file holds. Caller holds the lock.
func (f *File) Blocks() []CachedBlock {
	out := make([]CachedBlock, 0, len(f.has))
	for idx, d := range f.has {
		out = append(out, CachedBlock{Index: idx, Dirty: d})
	}
	return out
}

// Dirty lists the dirty blocks. Caller holds the lock.
func (f *File) Dirty() []int64 {
	var out []int64
	for idx, d := range f.has {
		if d {
			out = append(out, idx)
		}
	}
	return out
}

// Set records block idx as held, dirty or clean, and counts a write if
// dirty. Caller holds the lock and records the same in the metadata.
func (f *File) Set(idx int64, dirty bool) {
	f.has[idx] = dirty
	if dirty {
		f.gen[idx]++
	}
}

// Forget drops blocks from index from on. Caller holds the lock.
func (f *File) Forget(from int64) {
	for idx := range f.has {
		if idx >= from {
			delete(f.has, idx)
			f.gen[idx]++
		}
	}
}

// Drop forgets one clean block and frees its space in the data file; a
// dirty block is kept. Caller holds the lock and drops the metadata row.
func (f *File) Drop(idx int64) error {
	if dirty, ok := f.has[idx]; !ok || dirty {
		return nil
	}
	delete(f.has, idx)
	f.gen[idx]++
	if f.fd == nil {
		return nil
	}
	return punchHole(f.fd, idx*f.fs.bs, f.fs.bs)
}

// Gen is block idx's write count. Caller holds the lock.
func (f *File) Gen(idx int64) uint64 { return f.gen[idx] }

// BlockSize is the drive's block size.
func (f *File) BlockSize() int64 { return f.fs.bs }

// ReadAt reads from the data file; bytes past its end read as zeros.
func (f *File) ReadAt(p []byte, off int64) error {
	if f.fd == nil {
		clear(p)
		return nil
	}
	n, err := f.fd.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		err = nil
	}
	return err
}

// WriteAt writes to the data file.
func (f *File) WriteAt(p []byte, off int64) error {
	if err := f.ensure(); err != nil {
		return err
	}
	_, err := f.fd.WriteAt(p, off)
	return err
}

// Truncate cuts (or extends, sparsely) the data file. Without one there is
// nothing to cut, and reads past its end are zeros anyway.
func (f *File) Truncate(size int64) error {
	if f.fd == nil {
		return nil
	}
	return f.fd.Truncate(size)
}

// TrimTo cuts the data file to size if it is longer: bytes past the end of
// the file mean nothing, and a crash between a truncate's metadata commit
// and the data file's own truncate leaves some behind, which a later
// extension of the file would otherwise show. Caller holds the lock.
func (f *File) TrimTo(size int64) error {
	if f.fd == nil {
		return nil
	}
	fi, err := f.fd.Stat()
	if err != nil {
		return err
	}
	if fi.Size() <= size {
		return nil
	}
	return f.fd.Truncate(size)
}

// Sync makes the data file durable.
func (f *File) Sync() error {
	if f.fd == nil {
		return nil
	}
	return f.fd.Sync()
}

// writeZeros overwrites [off, off+n) of f with zeros, not past its end.
func writeZeros(f *os.File, off, n int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	n = min(n, fi.Size()-off)
	if n <= 0 {
		return nil
	}
	_, err = f.WriteAt(make([]byte, n), off)
	return err
}

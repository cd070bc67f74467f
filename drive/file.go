package drive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/syncer"
)

// timeNow is the clock for attributes; one place to read it.
func timeNow() time.Time { return time.Now() }

// PutAttr is what Put sets on the file besides its content.
type PutAttr struct {
	Mode  uint32    // permission bits; 0 means 0644
	Mtime time.Time // zero means now
}

// Put replaces the content of the file at drive path p with everything r
// yields, creating the file and its missing parent directories. The new
// content becomes visible atomically once every block is stored.
func (d *Drive) Put(ctx context.Context, p string, r io.Reader, attr PutAttr) (cache.Inode, error) {
	if err := d.ReadOnly(); err != nil {
		return cache.Inode{}, err
	}
	names, err := cache.SplitPath(p)
	if err != nil {
		return cache.Inode{}, err
	}
	if len(names) == 0 {
		return cache.Inode{}, fmt.Errorf("put %s: %w", p, cache.ErrIsDir)
	}
	// Reuse the identity of an existing file so hard links see the new
	// content; otherwise mint a fresh one.
	f := syncer.File{}
	var wrapped []byte
	existing, err := d.Stat(ctx, p)
	switch {
	case err == nil && existing.Kind != cache.KindFile:
		return existing, fmt.Errorf("put %s: %w: a %s is there", p, cache.ErrExists, existing.Kind)
	case err == nil:
		fk, err := d.fileKey(existing)
		if err != nil {
			return existing, err
		}
		copy(f.ID[:], existing.FileID)
		f.Ino, f.Sealer, wrapped = existing.Ino, crypto.NewSealer(&fk), existing.FileKey
	case errors.Is(err, cache.ErrNotFound):
		f.ID = crypto.NewFileID()
		fk := crypto.NewFileKey()
		f.Sealer = crypto.NewSealer(&fk)
		wrapped = crypto.WrapKey(d.keys.FileWrapKey(), fk, f.ID[:])
	default:
		return cache.Inode{}, err
	}

	// Small files live in the metadata: read one byte more than fits.
	head := make([]byte, d.cfg.InlineMax+1)
	hn, herr := io.ReadFull(r, head)
	var inline []byte
	switch {
	case herr == io.EOF || herr == io.ErrUnexpectedEOF:
		inline = head[:hn]
		r = bytes.NewReader(nil)
	case herr != nil:
		return cache.Inode{}, fmt.Errorf("put %s: read: %w", p, herr)
	default:
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	stored, size, err := d.storeAll(ctx, f, r)
	if inline != nil {
		size = int64(len(inline))
	}
	if err != nil {
		d.abandon(stored)
		return cache.Inode{}, fmt.Errorf("put %s: %w", p, err)
	}

	var in cache.Inode
	var uncached int64 // blocks of the old content the local cache forgets
	// Refused if the drive turned read-only during the upload: the stored
	// blocks are then abandoned, as after a failure.
	err = d.change(ctx, func(tx *cache.Tx) error {
		parent, err := d.mkdirAll(tx, names[:len(names)-1])
		if err != nil {
			return err
		}
		now := timeNow()
		mtime := attr.Mtime
		if mtime.IsZero() {
			mtime = now
		}
		in, err = tx.Lookup(parent.Ino, names[len(names)-1])
		switch {
		case err == nil && in.Ino != f.Ino:
			return fmt.Errorf("%s: %w: changed during the upload", p, cache.ErrExists)
		case errors.Is(err, cache.ErrNotFound) && f.Ino == 0:
			mode := attr.Mode
			if mode == 0 {
				mode = 0o644
			}
			in = cache.Inode{Kind: cache.KindFile, Mode: mode, UID: d.cfg.UID, GID: d.cfg.GID,
				Atime: now, Ctime: now, FileID: f.ID[:], FileKey: wrapped}
			if in.Ino, err = tx.CreateInode(in); err != nil {
				return err
			}
			if err := tx.Link(parent.Ino, names[len(names)-1], in.Ino); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := tx.TruncateBlocks(in.Ino, 0); err != nil {
			return err
		}
		// The new content replaces whatever the local cache held.
		if uncached, err = tx.CachedBlockCount(in.Ino, 0); err != nil {
			return err
		}
		if err := tx.DropCached(in.Ino, 0); err != nil {
			return err
		}
		if err := tx.Uploaded(in.Ino, time.Now().Add(time.Hour)); err != nil {
			return err
		}
		in.Inline = inline
		for _, st := range stored {
			st.Block.Ino = in.Ino
			if err := tx.PutBlock(st.Block); err != nil {
				return err
			}
			if err := tx.DropPending(st.Pending...); err != nil {
				return err
			}
		}
		in.Size, in.Mtime, in.Ctime = size, mtime, now
		if attr.Mode != 0 {
			in.Mode = attr.Mode
		}
		return tx.UpdateInode(in)
	})
	if err != nil {
		d.abandon(stored)
		return in, fmt.Errorf("put %s: %w", p, err)
	}
	d.room.add(-uncached)
	d.files.Remove(in.Ino)
	return in, nil
}

// abandon queues the shards of blocks that will not be committed for
// deletion. If even that fails they stay pending, and the next start of a
// writer turns them into garbage.
func (d *Drive) abandon(stored []syncer.Stored) {
	err := d.db.Update(context.Background(), func(tx *cache.Tx) error {
		for _, st := range stored {
			if err := tx.PendingToGarbage(st.Pending...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		d.cfg.Logger.Warn("could not queue the shards of a failed write for deletion", "err", err)
	}
}

// storeAll reads r to the end in blocks and stores every block that is not
// all zeros, Concurrency at a time, returning them in block order.
func (d *Drive) storeAll(ctx context.Context, f syncer.File, r io.Reader) ([]syncer.Stored, int64, error) {
	bs := d.dc.BlockSize
	zero := make([]byte, bs)
	g, gctx := errgroup.WithContext(ctx)
	// Buffers bound memory: a block is read only when one is free.
	free := make(chan []byte, d.cfg.Concurrency)
	for range d.cfg.Concurrency {
		free <- nil
	}
	type job struct {
		idx int64
		buf []byte
	}
	jobs := make(chan job)
	var (
		mu     sync.Mutex // guards stored
		stored []syncer.Stored
		size   int64
	)
	g.Go(func() error {
		defer close(jobs)
		for idx := int64(0); ; idx++ {
			var buf []byte
			select {
			case buf = <-free:
			case <-gctx.Done():
				return gctx.Err()
			}
			if buf == nil {
				buf = make([]byte, bs)
			}
			n, err := io.ReadFull(r, buf)
			size += int64(n)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				select {
				case jobs <- job{idx, buf[:n]}:
				case <-gctx.Done():
					return gctx.Err()
				}
			} else {
				free <- buf
			}
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				return nil
			case err != nil:
				return fmt.Errorf("read: %w", err)
			}
		}
	})
	for range d.cfg.Concurrency {
		g.Go(func() error {
			for j := range jobs {
				st, err := d.blocks.Store(gctx, f, j.idx, j.buf)
				free <- j.buf[:cap(j.buf)]
				mu.Lock()
				stored = append(stored, st) // even on failure: its pending shards
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return stored, size, err
}

// Get writes the content of the file at p into w and returns its inode.
// It reads like any front does, so local changes not yet uploaded are
// included; holes are skipped (w must read as zeros there).
func (d *Drive) Get(ctx context.Context, p string, w io.WriterAt) (cache.Inode, error) {
	in, err := d.Stat(ctx, p)
	if err != nil {
		return in, err
	}
	if in.Kind != cache.KindFile {
		return in, fmt.Errorf("%s: %w", p, cache.ErrIsDir)
	}
	h, err := d.Open(ctx, uint64(in.Ino), OpenFlags{Read: true})
	if err != nil {
		return in, err
	}
	defer h.Release(ctx)
	var blocks []cache.Block
	var inline []byte // the metadata's copy of a small file, read with its blocks
	if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
		if blocks, err = tx.Blocks(in.Ino); err != nil {
			return err
		}
		cur, err := tx.Inode(in.Ino)
		inline = cur.Inline
		return err
	}); err != nil {
		return in, err
	}
	h.n.f.Lock()
	size, mem := h.n.size, h.n.mem
	h.n.f.Unlock()
	if mem != nil { // a small file being written: its content is whole in memory
		in.Size = int64(len(mem))
		if _, err := w.WriteAt(mem, 0); err != nil {
			return in, fmt.Errorf("write: %w", err)
		}
		return in, nil
	}
	if err := checkLayout(size, d.dc.BlockSize, blocks); err != nil {
		return in, fmt.Errorf("%s: %w", p, err)
	}
	in.Size = size
	// What the local cache holds now. A clean block may be evicted before
	// it is read: then it comes from the farmers after all.
	h.n.f.Lock()
	bs := int64(d.dc.BlockSize)
	local := map[int64]bool{}
	for idx := int64(0); idx*bs < size; idx++ {
		if present, _ := h.n.f.Has(idx); present {
			local[idx] = true
		}
	}
	h.n.f.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	write := func(b []byte, off int64) error {
		if _, err := w.WriteAt(b, off); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	if len(local) == 0 && inline != nil {
		if err := write(inline[:min(int64(len(inline)), size)], 0); err != nil {
			return in, err
		}
	}
	stored := map[int64]cache.Block{}
	load := func(b cache.Block) error {
		plain, err := d.blocks.Load(gctx, h.n.file, b, nil)
		if err != nil {
			return err
		}
		return write(plain, b.Index*bs)
	}
	for _, b := range blocks {
		stored[b.Index] = b
		if local[b.Index] {
			continue
		}
		g.Go(func() error { return load(b) })
	}
	for idx := range local {
		g.Go(func() error {
			buf := make([]byte, min(bs, size-idx*bs))
			h.n.f.Lock()
			present, _ := h.n.f.Has(idx)
			var err error
			if present {
				err = h.n.f.ReadAt(buf, idx*bs)
			}
			h.n.f.Unlock()
			switch {
			case err != nil:
				return fmt.Errorf("read local cache: %w", err)
			case present:
				return write(buf, idx*bs)
			}
			if b, ok := stored[idx]; ok {
				return load(b)
			}
			if idx == 0 && inline != nil {
				return write(inline[:min(int64(len(inline)), size)], 0)
			}
			return nil // a hole
		})
	}
	if err := g.Wait(); err != nil {
		return in, fmt.Errorf("get %s: %w", p, err)
	}
	return in, nil
}

// checkLayout refuses metadata whose blocks do not tile a file of size
// bytes: a block past the end, or one whose length is not what its place
// in the file implies.
func checkLayout(size int64, bs int, blocks []cache.Block) error {
	for _, b := range blocks {
		start := b.Index * int64(bs)
		if b.Index < 0 || start >= size {
			return fmt.Errorf("%w: block %d lies past the end (%d bytes)", syncer.ErrDamaged, b.Index, size)
		}
		if want := min(int64(bs), size-start); int64(b.PlainLen) != want {
			return fmt.Errorf("%w: block %d holds %d bytes, want %d", syncer.ErrDamaged, b.Index, b.PlainLen, want)
		}
	}
	return nil
}

// fileKey unwraps the per-file key of in.
func (d *Drive) fileKey(in cache.Inode) (crypto.Key, error) {
	if len(in.FileID) != 16 {
		return crypto.Key{}, fmt.Errorf("inode %d: %w: file ID is %d bytes", in.Ino, syncer.ErrDamaged, len(in.FileID))
	}
	k, err := crypto.UnwrapKey(d.keys.FileWrapKey(), in.FileKey, in.FileID)
	if err != nil {
		return k, fmt.Errorf("inode %d: file key: %w", in.Ino, err)
	}
	return k, nil
}

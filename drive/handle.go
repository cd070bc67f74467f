package drive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/syncer"
)

// OpenFlags are the parts of open(2)'s flags the drive acts on.
type OpenFlags struct {
	Read, Write bool
	Append      bool // every write goes to the end
	Truncate    bool // O_TRUNC
	Exclusive   bool // O_EXCL, with create
}

// node is the in-memory state of a file some handle has open. Its size and
// times are authoritative while it is open and reach the metadata on flush.
type node struct {
	ino   int64
	f     *cache.File
	file  syncer.File // identity and key, for fetching blocks
	opens int         // guarded by Drive.mu

	// Guarded by f's lock.
	size         int64
	mtime, ctime time.Time
	// mem is the whole content of a small file (at most memLimit bytes,
	// len(mem) == size) while it has no block in the local cache: writes
	// land here and the flush commits it as the inode's inline content in
	// one transaction, so a small file costs no data file, no dirty-block
	// marks and no upload. nil: the local cache and the metadata hold the
	// content. A write past memLimit moves it to the local cache first.
	mem      []byte
	fetching map[int64]chan struct{} // blocks being fetched; closed when done
	readEnd  int64                   // where the last read ended: the next one there is sequential
	aheadTo  int64                   // first block not yet asked for by read-ahead
}

// Handle is one open file description.
type Handle struct {
	d     *Drive
	n     *node
	flags OpenFlags
}

func (d *Drive) openNode(ino int64) *node {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nodes[ino]
}

// acquire returns the node of file ino, opening it if needed.
func (d *Drive) acquire(ctx context.Context, ino int64) (*node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := d.nodes[ino]; n != nil {
		n.opens++
		return n, nil
	}
	var in cache.Inode
	var cached []cache.CachedBlock
	err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
		if in, err = tx.Inode(ino); err != nil {
			return err
		}
		cached, err = tx.CachedBlocks(ino)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch in.Kind {
	case cache.KindFile:
	case cache.KindDir:
		return nil, ErrIsDir
	default:
		return nil, fmt.Errorf("open a %s: %w", in.Kind, ErrInvalid)
	}
	fk, err := d.fileKey(in)
	if err != nil {
		return nil, err
	}
	f, err := d.files.Get(ino)
	if err != nil {
		return nil, err
	}
	f.Lock()
	f.Load(cached)
	if err := f.TrimTo(in.Size); err != nil {
		f.Unlock()
		f.Release()
		return nil, fmt.Errorf("local cache: %w", err)
	}
	if lost := f.Lost(); len(lost) > 0 {
		if err := d.forgetLost(ctx, ino, lost); err != nil {
			f.Unlock()
			f.Release()
			return nil, err
		}
	}
	f.Unlock()
	n := &node{ino: ino, f: f, opens: 1, size: in.Size, mtime: in.Mtime, ctime: in.Ctime,
		fetching: make(map[int64]chan struct{}),
		file:     syncer.File{Ino: ino, Sealer: crypto.NewSealer(&fk)}}
	copy(n.file.ID[:], in.FileID)
	d.nodes[ino] = n
	return n, nil
}

// forgetLost drops the metadata of cached blocks whose data file is gone,
// so reads go back to the farmers instead of serving zeros.
func (d *Drive) forgetLost(ctx context.Context, ino int64, lost []cache.CachedBlock) error {
	dirty := 0
	for _, b := range lost {
		if b.Dirty {
			dirty++
		}
	}
	if dirty > 0 {
		d.cfg.Logger.Error("local cache file missing: changes not yet uploaded are lost", "ino", ino, "blocks", dirty)
	}
	var rows int64
	err := d.db.Update(ctx, func(tx *cache.Tx) (err error) {
		if rows, err = tx.CachedBlockCount(ino, 0); err != nil {
			return err
		}
		return tx.DropCached(ino, 0)
	})
	if err == nil {
		d.room.add(-rows)
	}
	return err
}

// release drops one open of n; the last one flushes it and, if the file was
// unlinked meanwhile, deletes it.
func (d *Drive) release(ctx context.Context, n *node) error {
	d.mu.Lock()
	n.opens--
	last := n.opens == 0
	if last {
		delete(d.nodes, n.ino)
	}
	d.mu.Unlock()
	if !last {
		return nil
	}
	n.f.Lock()
	err := d.flushLocked(ctx, n)
	n.f.Unlock()
	n.f.Release()
	if d.files.IsOpen(n.ino) {
		return err // the uploader holds it; it will find the orphan later
	}
	var dropped bool
	var rows int64
	derr := d.db.Update(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(n.ino)
		if err != nil || in.Nlink > 0 {
			return err
		}
		if rows, err = tx.CachedBlockCount(n.ino, 0); err != nil {
			return err
		}
		dropped, err = tx.DropOrphan(n.ino)
		return err
	})
	if dropped && derr == nil {
		d.room.add(-rows)
		d.files.Remove(n.ino)
	}
	return errors.Join(err, derr)
}

// flushLocked makes everything written through n durable: the data file
// is synced and size and times committed. Caller holds n.f's lock.
func (d *Drive) flushLocked(ctx context.Context, n *node) error {
	if !n.f.Unflushed {
		return nil
	}
	if n.mem != nil {
		return d.flushMemLocked(ctx, n)
	}
	if err := n.f.Sync(); err != nil {
		return fmt.Errorf("sync local cache: %w", err)
	}
	err := d.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		in, err := tx.Inode(n.ino)
		if err != nil {
			return err
		}
		in.Size, in.Mtime, in.Ctime = n.size, n.mtime, n.ctime
		if err := tx.UpdateInode(in); err != nil {
			return err
		}
		return tx.MarkChanged(n.ino)
	})
	if err == nil {
		n.f.Unflushed = false
	}
	return err
}

// flushMemLocked commits a small file kept in memory: size, times and
// content in one transaction (the drive's durability point for it, like
// the data file's fsync and the metadata commit for a large file). The
// content stays in memory too: it now equals the metadata's.
func (d *Drive) flushMemLocked(ctx context.Context, n *node) error {
	err := d.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		in, err := tx.Inode(n.ino)
		if err != nil {
			return err
		}
		in.Size, in.Mtime, in.Ctime, in.Inline = n.size, n.mtime, n.ctime, n.mem
		if err := tx.UpdateInode(in); err != nil {
			return err
		}
		if err := tx.TruncateBlocks(n.ino, 0); err != nil { // none: the content is whole in memory
			return err
		}
		// Queued like any change: the uploader's pass over it only confirms
		// the content is inline, and the file counts as local until then.
		return tx.MarkChanged(n.ino)
	})
	if err == nil {
		n.f.Unflushed = false
	}
	return err
}

// memLimit is the largest file whose writes stay in memory until flushed.
func (d *Drive) memLimit() int64 { return int64(min(d.cfg.InlineMax, d.dc.BlockSize)) }

// memContent returns the current content of a file that may be kept in
// memory: one with no block in the local cache and none stored, whose
// content (if any) is inline in the metadata. ok is false otherwise.
// Caller holds n.f's lock.
func (d *Drive) memContent(ctx context.Context, n *node) (content []byte, ok bool, err error) {
	if len(n.f.Blocks()) > 0 {
		return nil, false, nil
	}
	if n.size == 0 {
		return []byte{}, true, nil
	}
	err = d.db.View(ctx, func(tx *cache.Tx) error {
		blocks, err := tx.Blocks(n.ino)
		if err != nil || len(blocks) > 0 {
			return err
		}
		in, err := tx.Inode(n.ino)
		if err != nil || int64(len(in.Inline)) > n.size {
			return err
		}
		// No block and no inline content: a hole. What the inline content
		// lacks reads as zeros.
		content = make([]byte, n.size)
		copy(content, in.Inline)
		ok = true
		return nil
	})
	return content, ok, err
}

// writeMem writes a small file in memory (see node.mem). done is false
// when the write must go to the local cache instead; the memory content,
// if any, has then been moved there. Caller holds n.f's lock.
func (h *Handle) writeMem(ctx context.Context, off int64, data []byte) (n int, done bool, err error) {
	nd, d := h.n, h.d
	if err := d.ReadOnly(); err != nil {
		return 0, false, err
	}
	if h.flags.Append {
		off = nd.size
	}
	if off < 0 || len(data) == 0 {
		return 0, false, nil // the local cache path answers these
	}
	end := off + int64(len(data))
	if lim := d.memLimit(); end <= lim && nd.size <= lim {
		if nd.mem == nil {
			content, ok, err := d.memContent(ctx, nd)
			if err != nil || !ok {
				return 0, false, err
			}
			nd.mem = content
		}
		// A fresh slice per write: readers (Get) may hold the old one.
		mem := make([]byte, max(nd.size, end))
		copy(mem, nd.mem)
		copy(mem[off:], data)
		nd.mem, nd.size = mem, int64(len(mem))
		nd.mtime = timeNow()
		nd.ctime = nd.mtime
		nd.f.Unflushed = true
		return len(data), true, nil
	}
	if nd.mem != nil {
		if err := d.spillLocked(ctx, nd); err != nil {
			return 0, false, err
		}
	}
	return 0, false, nil
}

// spillLocked moves a small file's memory content into the local cache,
// as one write of the whole file; the content stays readable from memory
// until it is there. Caller holds n.f's lock.
func (d *Drive) spillLocked(ctx context.Context, n *node) error {
	mem := n.mem
	if len(mem) > 0 {
		w := &Handle{d: d, n: n, flags: OpenFlags{Write: true}}
		if _, err := w.writeLocked(ctx, 0, mem); err != nil {
			return err
		}
	}
	n.mem = nil
	return nil
}

// Create makes and opens a regular file, or opens an existing one unless
// f.Exclusive.
func (d *Drive) Create(ctx context.Context, parent uint64, name string, mode, uid, gid uint32, f OpenFlags) (Attr, *Handle, error) {
	in, err := d.create(ctx, parent, name, cache.Inode{Kind: cache.KindFile, Mode: mode, UID: uid, GID: gid})
	if errors.Is(err, ErrExists) && !f.Exclusive {
		a, lerr := d.Lookup(ctx, parent, name)
		if lerr != nil {
			return a, nil, lerr
		}
		h, err := d.Open(ctx, a.Ino, f)
		if err != nil {
			return a, nil, err
		}
		a, err = d.GetAttr(ctx, a.Ino)
		return a, h, err
	}
	if err != nil {
		return Attr{}, nil, err
	}
	// A file made just now is empty: O_TRUNC has nothing to cut, and
	// skipping it spares a metadata commit per created file.
	f.Truncate = false
	h, err := d.Open(ctx, uint64(in.Ino), f)
	return attrOf(in), h, err
}

// Open opens file ino. A read-only drive opens files for reading only.
func (d *Drive) Open(ctx context.Context, ino uint64, f OpenFlags) (*Handle, error) {
	if f.Write || f.Append || f.Truncate {
		if err := d.ReadOnly(); err != nil {
			return nil, err
		}
	}
	n, err := d.acquire(ctx, int64(ino))
	if err != nil {
		return nil, err
	}
	h := &Handle{d: d, n: n, flags: f}
	if f.Truncate && (f.Write || f.Append) {
		n.f.Lock()
		err = d.truncateLocked(ctx, n, 0)
		n.f.Unlock()
		if err != nil {
			d.release(ctx, n)
			return nil, err
		}
	}
	return h, nil
}

// Ino is the inode the handle has open.
func (h *Handle) Ino() uint64 { return uint64(h.n.ino) }

// Read reads up to len(dst) bytes at off; fewer only at the end of the file.
func (h *Handle) Read(ctx context.Context, off int64, dst []byte) (int, error) {
	n, d := h.n, h.d
	n.f.Lock()
	defer n.f.Unlock()
	if off < 0 {
		return 0, ErrInvalid
	}
	if off >= n.size {
		return 0, nil
	}
	dst = dst[:min(int64(len(dst)), n.size-off)]
	if n.mem != nil {
		return copy(dst, n.mem[off:]), nil
	}
	bs := int64(d.dc.BlockSize)
	for done := 0; done < len(dst); {
		pos := off + int64(done)
		idx := pos / bs
		piece := dst[done:min(len(dst), done+int(bs-pos%bs))]
		if err := d.fillLocked(ctx, n, idx); err != nil {
			return done, err
		}
		if present, _ := n.f.Has(idx); present {
			if err := n.f.ReadAt(piece, pos); err != nil {
				return done, fmt.Errorf("read local cache: %w", err)
			}
			d.room.touch(n.ino, idx)
		} else {
			clear(piece) // a hole
		}
		done += len(piece)
	}
	if off == n.readEnd && off > 0 || off == 0 {
		d.readAheadLocked(n, off+int64(len(dst)))
	}
	n.readEnd = off + int64(len(dst))
	return len(dst), nil
}

// fillLocked brings block idx into the local data file if its content lives
// elsewhere (in the metadata for a small file, or on the farmers), clean.
// A hole stays a hole. Caller holds n.f's lock; it is let go while the
// block travels, so readers of other blocks and read-ahead go on, and the
// caller must look at the file's state again afterwards. Meanwhile, with a
// cache limit, clean blocks are evicted to make room for this one, as far
// as they can: a read is never refused for the limit.
func (d *Drive) fillLocked(ctx context.Context, n *node, idx int64) error {
	return d.fill(ctx, n, idx, true)
}

// fill is fillLocked; makeRoom false is for a writer whose reservation
// covers the block already.
func (d *Drive) fill(ctx context.Context, n *node, idx int64, makeRoom bool) error {
	if n.mem != nil {
		return nil // the whole content is in memory
	}
	for {
		if present, _ := n.f.Has(idx); present {
			return nil
		}
		if ch := n.fetching[idx]; ch != nil { // someone is fetching it already
			n.f.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
			}
			n.f.Lock()
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		break
	}
	bs := int64(d.dc.BlockSize)
	start := idx * bs
	if start >= n.size {
		return nil
	}
	// The metadata, not the node, says where the block's bytes are: the
	// uploader may have moved a small file's content into the inode (and
	// dropped its blocks) since the file was opened.
	var data []byte
	var blk cache.Block
	inline := false
	err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
		blk, err = tx.Block(n.ino, idx)
		if errors.Is(err, cache.ErrNotFound) && idx == 0 {
			in, ierr := tx.Inode(n.ino)
			if ierr != nil {
				return ierr
			}
			if in.Inline != nil {
				data, inline = in.Inline, true
				return nil
			}
		}
		return err
	})
	if !inline {
		if errors.Is(err, cache.ErrNotFound) {
			return nil // a hole
		}
		if err != nil {
			return err
		}
		ch := make(chan struct{})
		n.fetching[idx] = ch
		n.f.Unlock()
		if makeRoom && d.room.limit > 0 {
			// No lock is held here: eviction takes file locks, this
			// file's among them.
			if err := d.evictTo(ctx, d.room.limit-1); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Warn("evict for a read", "err", err)
			}
		}
		data, err = d.blocks.Load(ctx, n.file, blk, nil)
		n.f.Lock()
		delete(n.fetching, idx)
		close(ch)
		if err != nil {
			return err
		}
		if present, _ := n.f.Has(idx); present {
			return nil // written meanwhile: the writer's bytes win
		}
	}
	// The block in the file spans [start, start+extent); what the source
	// lacks of it reads as zeros.
	extent := min(bs, n.size-start)
	if extent <= 0 {
		return nil // truncated meanwhile
	}
	buf := make([]byte, extent)
	copy(buf, data)
	if err := n.f.WriteAt(buf, start); err != nil {
		return fmt.Errorf("write local cache: %w", err)
	}
	if err := d.db.Update(ctx, func(tx *cache.Tx) error { return tx.SetCached(n.ino, idx, false) }); err != nil {
		return err
	}
	n.f.Set(idx, false)
	d.room.add(1)
	return nil
}

// readAhead asks for the blocks after a sequential read ending at end, in
// the background, so the reader finds them local. Caller holds n.f's lock.
func (d *Drive) readAheadLocked(n *node, end int64) {
	if d.cfg.ReadAhead == 0 {
		return
	}
	bs := int64(d.dc.BlockSize)
	first := max((end+bs-1)/bs, n.aheadTo)
	last := min((end-1)/bs+int64(d.cfg.ReadAhead), (n.size-1)/bs)
	if first > last {
		return
	}
	n.aheadTo = last + 1
	go func() {
		// The read-ahead holds the file open. d.mu is never taken under a
		// file's lock (acquire takes them the other way round), so take the
		// reference here, and only if the file is still open.
		d.mu.Lock()
		if d.nodes[n.ino] != n {
			d.mu.Unlock()
			return
		}
		n.opens++
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for idx := first; idx <= last; idx++ {
			n.f.Lock()
			err := d.fillLocked(ctx, n, idx)
			n.f.Unlock()
			if err != nil {
				d.cfg.Logger.Debug("read-ahead", "ino", n.ino, "block", idx, "err", err)
				break
			}
		}
		d.release(ctx, n)
	}()
}

// Write writes data at off (at the end with Append). A write that adds
// blocks to a local cache at its limit first makes room (see doc.go) and
// may wait for uploads, or fail with ErrNoSpace; one that overwrites
// cached blocks never waits. With a limit, a write spanning more blocks
// than the cache holds goes one block at a time, and on an error the
// first n bytes are written.
func (h *Handle) Write(ctx context.Context, off int64, data []byte) (int, error) {
	n, d := h.n, h.d
	n.f.Lock()
	defer n.f.Unlock()
	if w, done, err := h.writeMem(ctx, off, data); done || err != nil {
		return w, err
	}
	bs := int64(d.dc.BlockSize)
	if lim := d.room.limit; lim == 0 || (int64(len(data))+bs-1)/bs+1 <= lim {
		return h.writeLocked(ctx, off, data)
	}
	done := 0
	for done < len(data) {
		pos := off + int64(done)
		if h.flags.Append {
			pos = n.size
		}
		piece := data[done:][:min(int64(len(data)-done), bs-pos%bs)]
		w, err := h.writeLocked(ctx, off+int64(done), piece)
		done += w
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// writeLocked is Write with n.f's lock held. It lets the lock go to make
// room in the local cache and to fetch the old bytes of a partly covered
// block, and looks at the file afresh after each.
func (h *Handle) writeLocked(ctx context.Context, off int64, data []byte) (int, error) {
	n, d := h.n, h.d
	bs := int64(d.dc.BlockSize)
	var held int64 // blocks of the cache reserved for this write
	defer func() { d.room.unreserve(held) }()
	holes := map[int64]bool{} // blocks found to be holes: nothing to fetch
	var end int64
	for {
		// Checked on every round, under the lock: the last round holds it
		// until the bytes are written, so SetReadOnly, which takes the
		// lock after the switch, finds this write either refused or done.
		if err := d.ReadOnly(); err != nil {
			return 0, err
		}
		if h.flags.Append {
			off = n.size
		}
		if off < 0 {
			return 0, ErrInvalid
		}
		if len(data) == 0 {
			return 0, nil
		}
		end = off + int64(len(data))
		// Every block of the range not in the cache now is one more: room
		// for them comes first, fetched ones included.
		var grow int64
		for idx := off / bs; idx <= (end-1)/bs; idx++ {
			if present, _ := n.f.Has(idx); !present {
				grow++
			}
		}
		if grow < held {
			d.room.unreserve(held - grow)
			held = grow
		}
		if grow > held {
			if !d.room.reserve(grow - held) {
				n.f.Unlock()
				err := d.makeRoom(ctx, grow-held)
				n.f.Lock()
				if err != nil {
					return 0, err
				}
			}
			held = grow
			continue
		}
		// Keep a block's old bytes unless this write covers them all: only
		// the first and the last block can be partly covered.
		fetched := false
		for _, idx := range []int64{off / bs, (end - 1) / bs} {
			start, old := idx*bs, min(idx*bs+bs, n.size)
			if present, _ := n.f.Has(idx); present || holes[idx] || old <= start || (off <= start && end >= old) {
				continue
			}
			if err := d.fill(ctx, n, idx, false); err != nil {
				return 0, err
			}
			if present, _ := n.f.Has(idx); !present {
				holes[idx] = true
			}
			fetched = true
			break
		}
		if !fetched {
			break
		}
		// The lock was let go: appends, writes, truncates and evictions
		// may have come meanwhile.
	}
	var newly []int64
	var added int64
	for idx := off / bs; idx <= (end-1)/bs; idx++ {
		present, dirty := n.f.Has(idx)
		if dirty {
			continue
		}
		if !present {
			added++
		}
		newly = append(newly, idx)
	}
	// Dirty marks reach the metadata before the bytes reach the data file:
	// after a crash a block is never taken for clean while holding bytes
	// that were never stored.
	if len(newly) > 0 {
		err := d.db.Update(ctx, func(tx *cache.Tx) error {
			for _, idx := range newly {
				if err := tx.SetCached(n.ino, idx, true); err != nil {
					return err
				}
			}
			return tx.MarkChanged(n.ino)
		})
		if err != nil {
			return 0, err
		}
		d.room.commit(added)
		held -= added
	}
	for idx := off / bs; idx <= (end-1)/bs; idx++ {
		n.f.Set(idx, true)
	}
	if err := n.f.WriteAt(data, off); err != nil {
		return 0, fmt.Errorf("write local cache: %w", err)
	}
	n.size = max(n.size, end)
	n.mtime = timeNow()
	n.ctime = n.mtime
	n.f.Unflushed = true
	return len(data), nil
}

// truncateLocked sets the size of n's file. Caller holds n.f's lock.
func (d *Drive) truncateLocked(ctx context.Context, n *node, size int64) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	if size < 0 {
		return ErrInvalid
	}
	if n.mem != nil {
		if size <= d.memLimit() {
			mem := make([]byte, size)
			copy(mem, n.mem)
			n.mem, n.size = mem, size
			n.mtime = timeNow()
			n.ctime = n.mtime
			n.f.Unflushed = true
			return d.flushMemLocked(ctx, n) // a truncate commits at once, as below
		}
		if err := d.spillLocked(ctx, n); err != nil {
			return err
		}
	}
	bs := int64(d.dc.BlockSize)
	from := (size + bs - 1) / bs // first block wholly past the end
	tail := int64(-1)            // the block holding the new end, if partial
	if size < n.size && size%bs != 0 {
		tail = size / bs
		if err := d.fillLocked(ctx, n, tail); err != nil {
			return err
		}
		if err := d.ReadOnly(); err != nil {
			return err // switched while the lock was let go for the fetch
		}
		// The tail block turns dirty: it must be here to be stored again.
		// Its bytes past the new end go with the data file's truncate
		// below, after the metadata commit that marks it dirty (a clean
		// block's local bytes must always be its stored version; a crash
		// in between leaves bytes past the end, which acquire trims).
		if present, _ := n.f.Has(tail); !present {
			tail = -1
		}
	}
	now := timeNow()
	var dropped int64
	err := d.db.Update(ctx, func(tx *cache.Tx) (err error) {
		if size < n.size {
			if err := tx.TruncateBlocks(n.ino, from); err != nil {
				return err
			}
			if dropped, err = tx.CachedBlockCount(n.ino, from); err != nil {
				return err
			}
			if err := tx.DropCached(n.ino, from); err != nil {
				return err
			}
			if tail >= 0 {
				if err := tx.SetCached(n.ino, tail, true); err != nil {
					return err
				}
			}
		}
		in, err := tx.Inode(n.ino)
		if err != nil {
			return err
		}
		// A small file's content in the metadata is cut with the file;
		// read it here, not from the node: the uploader may have moved it
		// since the file was opened.
		if in.Inline != nil && int64(len(in.Inline)) > size {
			in.Inline = in.Inline[:size]
		}
		in.Size, in.Mtime, in.Ctime = size, now, now
		if err := tx.UpdateInode(in); err != nil {
			return err
		}
		return tx.MarkChanged(n.ino)
	})
	if err != nil {
		return err
	}
	d.room.add(-dropped)
	if size < n.size {
		n.f.Forget(from)
		if tail >= 0 {
			n.f.Set(tail, true)
		}
	}
	if err := n.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate local cache: %w", err)
	}
	n.size, n.mtime, n.ctime = size, now, now
	return nil
}

// Flush runs at each close(2) of a descriptor: what was written through
// it becomes durable.
func (h *Handle) Flush(ctx context.Context) error {
	h.n.f.Lock()
	defer h.n.f.Unlock()
	return h.d.flushLocked(ctx, h.n)
}

// Fsync makes the file's data and attributes durable.
func (h *Handle) Fsync(ctx context.Context) error { return h.Flush(ctx) }

// Release closes the handle.
func (h *Handle) Release(ctx context.Context) error { return h.d.release(ctx, h.n) }

// SetAttr changes attributes; a size truncates or extends the file.
func (d *Drive) SetAttr(ctx context.Context, ino uint64, s SetAttr) (Attr, error) {
	if err := d.ReadOnly(); err != nil {
		return Attr{}, err
	}
	if s.Size != nil {
		n, err := d.acquire(ctx, int64(ino))
		if err != nil {
			return Attr{}, err
		}
		n.f.Lock()
		err = d.truncateLocked(ctx, n, *s.Size)
		n.f.Unlock()
		if rerr := d.release(ctx, n); err == nil {
			err = rerr
		}
		if err != nil {
			return Attr{}, err
		}
	}
	// An mtime-only change to an open file (the kernel sends one as it
	// flushes a file it cached writes for) stays in memory: the flush that
	// follows commits it with the size, one metadata commit instead of two.
	if s.Mode == nil && s.UID == nil && s.GID == nil && s.Atime == nil && s.Mtime != nil {
		if n := d.openNode(int64(ino)); n != nil {
			n.f.Lock()
			if err := d.ReadOnly(); err != nil {
				n.f.Unlock()
				return Attr{}, err
			}
			n.mtime, n.ctime = *s.Mtime, timeNow()
			n.f.Unflushed = true
			n.f.Unlock()
			return d.GetAttr(ctx, ino)
		}
	}
	// An open file's size and times live in its node: its lock is held
	// over the transaction (taken first, as the lock order says), so that
	// node and metadata change together, or neither if the drive turned
	// read-only meanwhile.
	now := timeNow()
	n := d.openNode(int64(ino))
	if n != nil {
		n.f.Lock()
		defer n.f.Unlock()
	}
	var a Attr
	err := d.change(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(ino))
		if err != nil {
			return err
		}
		if s.Mode != nil {
			in.Mode = *s.Mode & modeMask
		}
		if s.UID != nil {
			in.UID = *s.UID
		}
		if s.GID != nil {
			in.GID = *s.GID
		}
		if s.Atime != nil {
			in.Atime = *s.Atime
		}
		if s.Mtime != nil {
			in.Mtime = *s.Mtime
		}
		in.Ctime = now
		if n != nil {
			in.Size = n.size
		}
		if err := tx.UpdateInode(in); err != nil {
			return err
		}
		a = attrOf(in)
		return nil
	})
	if err == nil && n != nil {
		if s.Mtime != nil {
			n.mtime = *s.Mtime
		}
		n.ctime = now
	}
	return a, err
}

// FlushAll flushes every open file, so that an upload round that follows
// covers every write made so far.
func (d *Drive) FlushAll(ctx context.Context) error {
	d.mu.Lock()
	nodes := make([]*node, 0, len(d.nodes))
	for _, n := range d.nodes {
		nodes = append(nodes, n)
	}
	d.mu.Unlock()
	var errs []error
	for _, n := range nodes {
		n.f.Lock()
		errs = append(errs, d.flushLocked(ctx, n))
		n.f.Unlock()
	}
	return errors.Join(errs...)
}

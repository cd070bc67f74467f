package drive

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/shardrive/shardrive/cache"
)

// ClearCache drops every clean block the local cache holds; dirty blocks
// stay until they are uploaded. It reports how many blocks went and how
// many dirty ones stayed. The next reads come from the farmers.
func (d *Drive) ClearCache(ctx context.Context) (dropped, kept int, err error) {
	var inos []int64
	if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
		inos, err = tx.CachedInodes()
		return err
	}); err != nil {
		return 0, 0, err
	}
	for _, ino := range inos {
		n, k, err := d.dropCached(ctx, ino, nil)
		dropped, kept = dropped+n, kept+k
		if err != nil {
			return dropped, kept, err
		}
		if k == 0 {
			d.removeUnused(ino)
		}
	}
	return dropped, kept, nil
}

// removeUnused deletes the local data file of ino if it holds no block and
// nothing uses it. Under d.mu, so that no open (acquire) comes between the
// check and the removal and writes to a file that is gone.
func (d *Drive) removeUnused(ino int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nodes[ino] != nil || d.files.IsOpen(ino) {
		return
	}
	var n int64
	if err := d.db.View(context.Background(), func(tx *cache.Tx) (err error) {
		n, err = tx.CachedBlockCount(ino, 0)
		return err
	}); err != nil || n > 0 {
		return
	}
	d.files.Remove(ino)
}

// dropCached drops the clean cached blocks of ino (only those in only, if
// not nil) and returns how many went and how many dirty ones stayed.
func (d *Drive) dropCached(ctx context.Context, ino int64, only map[int64]bool) (dropped, kept int, err error) {
	f, err := d.files.Get(ino)
	if err != nil {
		return 0, 0, err
	}
	f.Lock()
	if !f.Loaded() {
		var cached []cache.CachedBlock
		if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
			cached, err = tx.CachedBlocks(ino)
			return err
		}); err != nil {
			f.Unlock()
			f.Release()
			return 0, 0, err
		}
		f.Load(cached)
	}
	var clean []int64
	for _, c := range f.Blocks() {
		switch {
		case c.Dirty:
			kept++
		case only == nil || only[c.Index]:
			clean = append(clean, c.Index)
		}
	}
	err = d.db.Update(ctx, func(tx *cache.Tx) error {
		for _, idx := range clean {
			if err := tx.DropCachedBlock(ino, idx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		d.room.add(-int64(len(clean)))
		// Every row is gone: forget every block, even past a failure to
		// free the space of one, so the file's state stays with the rows.
		for _, idx := range clean {
			if derr := f.Drop(idx); derr != nil {
				err = cmp.Or(err, fmt.Errorf("free local cache: %w", derr))
				continue
			}
			dropped++
		}
	}
	f.Unlock()
	f.Release()
	return dropped, kept, err
}

// EnforceCacheLimit evicts clean blocks, least recently used first, until
// the local cache holds at most maxBytes; pinned subtrees stay, and so do
// dirty blocks (they wait for the uploader). Writes keep the drive's own
// limit (Config.CacheMaxSize) without it; this is for a smaller one, now.
func (d *Drive) EnforceCacheLimit(ctx context.Context, maxBytes int64) error {
	return d.evictTo(ctx, maxBytes/int64(d.dc.BlockSize))
}

// Pin keeps the subtree at drive path p in the local cache ("available
// offline"): every block under it is fetched now and never evicted.
func (d *Drive) Pin(ctx context.Context, p string) error {
	in, err := d.Stat(ctx, p)
	if err != nil {
		return err
	}
	if err := d.db.Update(ctx, func(tx *cache.Tx) error { return tx.Pin(in.Ino) }); err != nil {
		return err
	}
	return d.fetchTree(ctx, in)
}

// Unpin lets the subtree at p be evicted again; if the cache is over its
// limit, it goes now.
func (d *Drive) Unpin(ctx context.Context, p string) error {
	in, err := d.Stat(ctx, p)
	if err != nil {
		return err
	}
	if err := d.db.Update(ctx, func(tx *cache.Tx) error { return tx.Unpin(in.Ino) }); err != nil {
		return err
	}
	if d.room.limit > 0 {
		if err := d.evictTo(ctx, d.room.limit); err != nil {
			d.cfg.Logger.Warn("cache limit after unpin", "err", err)
		}
	}
	return nil
}

// fetchTree brings every block of every file under in into the cache.
func (d *Drive) fetchTree(ctx context.Context, in cache.Inode) error {
	switch in.Kind {
	case cache.KindFile:
		n, err := d.acquire(ctx, in.Ino)
		if err != nil {
			return err
		}
		n.f.Lock()
		bs := int64(d.dc.BlockSize)
		for idx := int64(0); idx*bs < n.size && err == nil; idx++ {
			err = d.fillLocked(ctx, n, idx)
		}
		n.f.Unlock()
		return errors.Join(err, d.release(ctx, n))
	case cache.KindDir:
		var ents []cache.Dirent
		if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
			ents, err = tx.ReadDir(in.Ino)
			return err
		}); err != nil {
			return err
		}
		for _, e := range ents {
			if err := d.fetchTree(ctx, e.Inode); err != nil {
				return err
			}
		}
	}
	return nil
}

package drive

import (
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
	}
	return dropped, kept, nil
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
		for _, idx := range clean {
			if err = f.Drop(idx); err != nil {
				err = fmt.Errorf("free local cache: %w", err)
				break
			}
			dropped++
		}
	}
	empty := len(f.Blocks()) == 0
	f.Unlock()
	f.Release()
	if empty && !d.files.IsOpen(ino) {
		d.files.Remove(ino)
	}
	return dropped, kept, err
}

// EnforceCacheLimit evicts clean blocks, least recently used first, until
// the local cache holds at most maxBytes; blocks of open files and pinned
// subtrees stay, and so do dirty ones (they wait for the uploader).
func (d *Drive) EnforceCacheLimit(ctx context.Context, maxBytes int64) error {
	bs := int64(d.dc.BlockSize)
	skip := 0
	for {
		var total int
		var cands []cache.CachedRef
		err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
			if total, _, err = tx.CachedCount(); err != nil {
				return err
			}
			cands, err = tx.EvictableBlocks(skip, 64)
			return err
		})
		if err != nil || int64(total)*bs <= maxBytes || len(cands) == 0 {
			return err
		}
		byIno := map[int64]map[int64]bool{}
		for _, c := range cands {
			if byIno[c.Ino] == nil {
				byIno[c.Ino] = map[int64]bool{}
			}
			byIno[c.Ino][c.Index] = true
		}
		for ino, idxs := range byIno {
			keep := d.openNode(ino) != nil
			if !keep {
				if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
					keep, err = tx.Pinned(ino)
					return err
				}); err != nil {
					return err
				}
			}
			if keep {
				skip += len(idxs)
				continue
			}
			if _, _, err := d.dropCached(ctx, ino, idxs); err != nil {
				return err
			}
		}
	}
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

// Unpin lets the subtree at p be evicted again.
func (d *Drive) Unpin(ctx context.Context, p string) error {
	in, err := d.Stat(ctx, p)
	if err != nil {
		return err
	}
	return d.db.Update(ctx, func(tx *cache.Tx) error { return tx.Unpin(in.Ino) })
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

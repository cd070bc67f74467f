package drive

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/syncer"
)

// Uploads is what the drive asks of the background uploader when dirty
// blocks fill the local cache.
type Uploads interface {
	// Urge starts an upload round now, without the quiet period.
	Urge()
	// Progress reports the uploads done so far and a channel closed at
	// the next progress.
	Progress() (syncer.Progress, <-chan struct{})
}

var _ Uploads = (*syncer.Uploader)(nil)

// maxTouched bounds the reads remembered between evictions; reads beyond
// it do not refresh a block's place in the LRU order until the next one.
const maxTouched = 1 << 16

// cacheRoom accounts the local cache against Config.CacheMaxSize, in
// blocks: every row of the cached table counts as one whole block, clean
// or dirty, however short the block is.
type cacheRoom struct {
	limit int64 // blocks; 0: no limit. Fixed at New.

	mu       sync.Mutex // guards the fields below; a leaf: nothing is locked under it
	used     int64      // blocks the cached table lists, counted as this drive commits them
	reserved int64      // blocks admitted to writes and not yet committed
	peak     int64      // most blocks used at once since New
	waiting  int        // writes waiting for uploads to make room
	freed    chan struct{}
	touched  map[cache.CachedRef]int64 // blocks read since the last eviction: unix ns
	up       Uploads
}

func newCacheRoom(limit, used int64) *cacheRoom {
	return &cacheRoom{limit: limit, used: used, peak: used, freed: make(chan struct{}),
		touched: make(map[cache.CachedRef]int64)}
}

// signal wakes writers waiting for room. Caller holds r.mu.
func (r *cacheRoom) signal() {
	close(r.freed)
	r.freed = make(chan struct{})
}

// add counts n more blocks committed to the cache (n < 0: fewer).
func (r *cacheRoom) add(n int64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.used += n
	r.peak = max(r.peak, r.used)
	if n < 0 {
		r.signal()
	}
}

// reserve admits n more blocks if they fit under the limit.
func (r *cacheRoom) reserve(n int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.limit > 0 && r.used+r.reserved+n > r.limit {
		return false
	}
	r.reserved += n
	return true
}

// unreserve gives back n blocks reserve admitted and that were not used.
func (r *cacheRoom) unreserve(n int64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserved -= n
	r.signal()
}

// commit turns n reserved blocks into committed ones.
func (r *cacheRoom) commit(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reserved -= n
	r.used += n
	r.peak = max(r.peak, r.used)
}

// excess is how many blocks must go for the cache to hold at most target,
// counting those reserved; <= 0 if it does.
func (r *cacheRoom) excess(target int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.used + r.reserved - target
}

// touch remembers a read of a cached block, for the LRU order.
func (r *cacheRoom) touch(ino, idx int64) {
	if r.limit == 0 {
		return
	}
	ref := cache.CachedRef{Ino: ino, Index: idx}
	now := time.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.touched[ref]; ok || len(r.touched) < maxTouched {
		r.touched[ref] = now
	}
}

// CacheUsage is the local cache as the drive counts it: whole blocks, clean
// or dirty.
type CacheUsage struct {
	Bytes     int64 // held now
	MaxBytes  int64 // the limit the drive enforces (CacheMaxSize rounded down to whole blocks); 0: none
	PeakBytes int64 // the most held at once since the drive opened
	Waiting   int   // writes waiting for uploads to make room
}

// CacheUsage reports the local cache's size from the drive's running count.
func (d *Drive) CacheUsage() CacheUsage {
	r, bs := d.room, int64(d.dc.BlockSize)
	r.mu.Lock()
	defer r.mu.Unlock()
	return CacheUsage{Bytes: r.used * bs, MaxBytes: r.limit * bs, PeakBytes: r.peak * bs, Waiting: r.waiting}
}

// SetUploads gives the drive the uploader that runs in the background
// (syncer.Uploader.Run): a write that finds the local cache full of dirty
// blocks asks it to store them now and waits for the room. Without one,
// such a write fails at once with ErrNoSpace.
func (d *Drive) SetUploads(u Uploads) {
	d.room.mu.Lock()
	d.room.up = u
	d.room.mu.Unlock()
}

// makeRoom reserves need more blocks of the local cache. Clean, unpinned
// blocks go first, least recently used first; when only dirty or pinned
// ones are left, it flushes the open files, urges the uploader and waits
// until uploads turn blocks clean. It fails with ErrNoSpace when waiting
// cannot help: no uploader, nothing dirty to upload, an upload round that
// ended with syncer.ErrUnavailable and nothing cleaned, or no block cleaned
// for Config.UploadStall. Caller holds no lock: eviction takes file locks,
// and so do the flush and the uploader's snapshot of the caller's file.
func (d *Drive) makeRoom(ctx context.Context, need int64) error {
	r := d.room
	if need > r.limit {
		return fmt.Errorf("%w: a write needs %d blocks, the local cache holds %d", ErrNoSpace, need, r.limit)
	}
	var (
		up       Uploads
		base     syncer.Progress
		progress <-chan struct{}
		stall    *time.Timer
	)
	defer func() {
		if up != nil {
			stall.Stop()
			r.mu.Lock()
			r.waiting--
			r.mu.Unlock()
		}
	}()
	for {
		r.mu.Lock()
		freed := r.freed // taken before the check, so no release after it goes unseen
		r.mu.Unlock()
		if r.reserve(need) {
			return nil
		}
		if err := d.evictTo(ctx, r.limit-need); err != nil {
			return err
		}
		if r.reserve(need) {
			return nil
		}
		if up == nil {
			r.mu.Lock()
			up = r.up
			if up != nil {
				r.waiting++
			}
			r.mu.Unlock()
			if up == nil {
				return fmt.Errorf("%w: the local cache is full of changes not uploaded yet, and no uploader runs", ErrNoSpace)
			}
			base, progress = up.Progress()
			stall = time.NewTimer(d.cfg.UploadStall)
		}
		var dirty int
		if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
			dirty, err = tx.DirtyCount()
			return err
		}); err != nil {
			return err
		}
		r.mu.Lock()
		others := r.reserved
		r.mu.Unlock()
		if dirty == 0 && others == 0 {
			return fmt.Errorf("%w: the local cache is full of pinned blocks", ErrNoSpace)
		}
		// The uploader leaves files with unflushed writes alone: the
		// caller's own file is likely one of them.
		if err := d.FlushAll(ctx); err != nil {
			return err
		}
		up.Urge()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		case <-progress:
			var p syncer.Progress
			p, progress = up.Progress()
			switch {
			case p.Cleaned > base.Cleaned:
				base = p
				stall.Reset(d.cfg.UploadStall)
			case p.Rounds > base.Rounds && errors.Is(p.Err, syncer.ErrUnavailable):
				return fmt.Errorf("%w: the local cache is full of changes the farmers cannot take now: %v", ErrNoSpace, p.Err)
			}
		case <-stall.C:
			return fmt.Errorf("%w: the local cache is full of changes not uploaded yet, and no upload made progress for %v",
				ErrNoSpace, d.cfg.UploadStall)
		}
	}
}

// evictTo drops clean, unpinned blocks, least recently used first, until
// the cache holds at most target blocks (counting those reserved) or none
// is left to drop. Caller holds no lock.
func (d *Drive) evictTo(ctx context.Context, target int64) error {
	if d.room.excess(target) <= 0 {
		return nil
	}
	if err := d.flushTouched(ctx); err != nil {
		return err
	}
	skip := 0 // candidates that stay (pinned, or dirty again), still listed first
	pinned := map[int64]bool{}
	for {
		excess := d.room.excess(target)
		if excess <= 0 {
			return nil
		}
		var cands []cache.CachedRef
		if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
			cands, err = tx.EvictableBlocks(skip, int(min(excess, 64)))
			return err
		}); err != nil {
			return err
		}
		if len(cands) == 0 {
			return nil
		}
		var order []int64
		byIno := map[int64]map[int64]bool{}
		for _, c := range cands {
			if byIno[c.Ino] == nil {
				byIno[c.Ino] = map[int64]bool{}
				order = append(order, c.Ino)
			}
			byIno[c.Ino][c.Index] = true
		}
		for _, ino := range order {
			idxs := byIno[ino]
			keep, known := pinned[ino]
			if !known {
				if err := d.db.View(ctx, func(tx *cache.Tx) (err error) {
					keep, err = tx.Pinned(ino)
					return err
				}); err != nil {
					return err
				}
				pinned[ino] = keep
			}
			if keep {
				skip += len(idxs)
				continue
			}
			dropped, _, err := d.dropCached(ctx, ino, idxs)
			skip += len(idxs) - dropped
			if err != nil {
				return err
			}
		}
	}
}

// flushTouched writes the reads remembered since the last eviction into
// the LRU order.
func (d *Drive) flushTouched(ctx context.Context) error {
	r := d.room
	r.mu.Lock()
	touched := r.touched
	if len(touched) > 0 {
		r.touched = make(map[cache.CachedRef]int64)
	}
	r.mu.Unlock()
	if len(touched) == 0 {
		return nil
	}
	return d.db.Update(ctx, func(tx *cache.Tx) error {
		for ref, at := range touched {
			if err := tx.TouchCached(ref.Ino, ref.Index, time.Unix(0, at)); err != nil {
				return err
			}
		}
		return nil
	})
}

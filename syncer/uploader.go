package syncer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
)

// UploaderConfig tunes the background uploader.
type UploaderConfig struct {
	// Quiet is how long a file must go unchanged before it is uploaded, so
	// a file being written is not stored again and again.
	Quiet time.Duration
	// Interval is how often the queue is looked at without a Kick.
	Interval time.Duration
	// InlineMax is the largest file kept whole in the metadata (the drive's
	// setting of the same name).
	InlineMax int
	Logger    *slog.Logger
}

// NewUploaderConfig returns the defaults.
func NewUploaderConfig() UploaderConfig {
	return UploaderConfig{Quiet: 3 * time.Second, Interval: time.Second, InlineMax: 16 << 10,
		Logger: slog.New(slog.DiscardHandler)}
}

// Validate reports a setting that cannot work.
func (c UploaderConfig) Validate() error {
	if c.Quiet < 0 || c.Interval <= 0 || c.InlineMax < 0 || c.Logger == nil {
		return fmt.Errorf("uploader config %+v: quiet >= 0, interval > 0, inline max >= 0 and a logger needed", c)
	}
	return nil
}

// errBusy says a file has writes not flushed yet: it is tried again later.
var errBusy = errors.New("file has unflushed writes")

// Uploader stores the files the local cache changed: dirty blocks go to the
// farmers, small files into the metadata. It runs in the background (Run)
// and on demand (Sync).
type Uploader struct {
	cfg    UploaderConfig
	db     *cache.DB
	files  *cache.Files
	blocks *Blocks
	keys   *crypto.Keys
	bs     int64
	kick   chan struct{}

	// BeforeSync, if set, runs at the start of Sync: the drive flushes its
	// open files there, so Sync covers every write made so far.
	BeforeSync func(ctx context.Context) error

	round sync.Mutex // one upload round at a time
	// confirms are the round's files already whole in the metadata,
	// committed together at its end. Guarded by round.
	confirms []confirm

	mu        sync.Mutex // guards the fields below
	uploading int        // blocks in flight
	lastErr   error
	urgent    bool                // the next round skips the quiet period (Urge)
	progress  Progress            // work done so far
	next      chan struct{}       // closed at the next progress, then replaced
	inflight  map[int64]*Transfer // files being stored now, by inode
}

// confirm is a queued file with nothing to store, and when it was queued.
type confirm struct {
	ino   int64
	since time.Time
}

// Transfer is a file the uploader is storing now: the bytes of the dirty
// blocks this pass of the file stores, and how many of them are stored.
// It is for people watching (shardrive status), not for deciding anything.
type Transfer struct {
	Ino     int64
	Done    int64 // <= Total
	Total   int64
	Started time.Time
}

// Transfers returns the files being stored now, oldest first. It is a
// copy: the caller may keep it.
func (u *Uploader) Transfers() []Transfer {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Transfer, 0, len(u.inflight))
	for _, t := range u.inflight {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Transfer) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.Ino, b.Ino))
	})
	return out
}

// track records that the dirty blocks of in are being stored (sizes as
// the file is now) and returns the function that counts one of them
// handled: stored with n bytes, or skipped (n < 0, no longer dirty or past
// the end). The total follows what is really stored, so done never
// passes it. untrack ends the record.
func (u *Uploader) track(in cache.Inode, dirty []int64) (handled func(idx, n int64), untrack func()) {
	planned := make(map[int64]int64, len(dirty))
	t := &Transfer{Ino: in.Ino, Started: time.Now()}
	for _, idx := range dirty {
		planned[idx] = max(0, min(u.bs, in.Size-idx*u.bs))
		t.Total += planned[idx]
	}
	u.mu.Lock()
	if u.inflight == nil {
		u.inflight = make(map[int64]*Transfer)
	}
	u.inflight[in.Ino] = t
	u.mu.Unlock()
	handled = func(idx, n int64) {
		u.mu.Lock()
		defer u.mu.Unlock()
		t.Total -= planned[idx]
		if n >= 0 {
			t.Total += n
			t.Done += n
		}
	}
	untrack = func() {
		u.mu.Lock()
		delete(u.inflight, in.Ino)
		u.mu.Unlock()
	}
	return handled, untrack
}

// Progress counts what the uploader has done since it started, for a
// caller that waits for it (the drive, when dirty blocks fill its local
// cache).
type Progress struct {
	Cleaned uint64 // blocks stored and turned clean, free to evict
	Rounds  uint64 // upload rounds ended
	Err     error  // the error of the last round ended; nil if it went well
}

// NewUploader returns an uploader for the drive of db.
func NewUploader(ctx context.Context, db *cache.DB, files *cache.Files, blocks *Blocks, keys *crypto.Keys, cfg UploaderConfig) (*Uploader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var dc cache.DriveConfig
	if err := db.View(ctx, func(tx *cache.Tx) (err error) { dc, err = tx.Drive(); return err }); err != nil {
		return nil, err
	}
	return &Uploader{cfg: cfg, db: db, files: files, blocks: blocks, keys: keys, bs: int64(dc.BlockSize),
		kick: make(chan struct{}, 1), next: make(chan struct{})}, nil
}

// Kick asks for an upload round soon.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Urge asks for an upload round now that skips the quiet period: a writer
// is waiting for the room dirty blocks take in the local cache. Only Run
// acts on it.
func (u *Uploader) Urge() {
	u.mu.Lock()
	u.urgent = true
	u.mu.Unlock()
	u.Kick()
}

// Progress returns what the uploader has done so far and a channel that is
// closed at its next progress: a block turned clean, or a round ended.
func (u *Uploader) Progress() (Progress, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.progress, u.next
}

// progressed records work done and wakes whoever waits for it. Caller
// holds u.mu.
func (u *Uploader) progressed() {
	close(u.next)
	u.next = make(chan struct{})
}

// Run uploads in the background until ctx ends.
func (u *Uploader) Run(ctx context.Context) {
	t := time.NewTicker(u.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.kick:
		}
		quiet := u.cfg.Quiet
		u.mu.Lock()
		if u.urgent {
			quiet, u.urgent = 0, false
		}
		u.mu.Unlock()
		if _, err := u.runRound(ctx, quiet); err != nil && ctx.Err() == nil {
			u.cfg.Logger.Warn("upload round", "err", err)
		}
	}
}

// Sync uploads every change made so far, quiet period or not, and returns
// once all of it is stored (or with the error that stopped it).
func (u *Uploader) Sync(ctx context.Context) error {
	if u.BeforeSync != nil {
		if err := u.BeforeSync(ctx); err != nil {
			return err
		}
	}
	for {
		left, err := u.runRound(ctx, 0)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // files busy with unflushed writes
		}
	}
}

// runRound uploads the files whose last change is older than quiet, then
// deletes garbage. It returns how many queued files remain.
func (u *Uploader) runRound(ctx context.Context, quiet time.Duration) (int, error) {
	u.round.Lock()
	defer u.round.Unlock()
	var inos []int64
	if err := u.db.View(ctx, func(tx *cache.Tx) (err error) {
		inos, err = tx.Changed(quiet, 1<<20)
		return err
	}); err != nil {
		return 0, err
	}
	var errs []error
	u.confirms = u.confirms[:0]
	for _, ino := range inos {
		if err := u.uploadFile(ctx, ino); err != nil && !errors.Is(err, errBusy) {
			errs = append(errs, fmt.Errorf("upload inode %d: %w", ino, err))
		}
	}
	if len(u.confirms) > 0 {
		err := u.db.Update(ctx, func(tx *cache.Tx) error {
			for _, c := range u.confirms {
				if err := tx.Uploaded(c.ino, c.since); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("confirm inline files: %w", err))
		}
	}
	if _, err := u.blocks.CollectGarbage(ctx, 1024); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	u.mu.Lock()
	u.lastErr = err
	u.progress.Rounds++
	u.progress.Err = err
	u.progressed()
	u.mu.Unlock()
	var left int
	if qerr := u.db.View(ctx, func(tx *cache.Tx) (err error) {
		left, err = tx.PendingUploads()
		return err
	}); qerr != nil {
		return 0, qerr
	}
	return left, err
}

// snapshot is one dirty block as it was when the upload started.
type snapshot struct {
	idx  int64
	gen  uint64
	data []byte
}

// uploadFile stores the changes of one file.
func (u *Uploader) uploadFile(ctx context.Context, ino int64) error {
	var since time.Time
	if err := u.db.View(ctx, func(tx *cache.Tx) (err error) {
		since, _, err = tx.ChangedSince(ino)
		return err
	}); err != nil {
		return err
	}
	f, err := u.files.Get(ino)
	if err != nil {
		return err
	}
	defer f.Release()

	f.Lock()
	if f.Unflushed {
		f.Unlock()
		return errBusy
	}
	var in cache.Inode
	var stored bool // the file has blocks on the farmers
	err = u.db.View(ctx, func(tx *cache.Tx) error {
		if in, err = tx.Inode(ino); err != nil {
			return err
		}
		if in.Size <= int64(u.cfg.InlineMax) { // a small file: are its blocks still stored?
			blocks, err := tx.Blocks(ino)
			if err != nil {
				return err
			}
			stored = len(blocks) > 0
		}
		if !f.Loaded() {
			cached, err := tx.CachedBlocks(ino)
			f.Load(cached)
			return err
		}
		return nil
	})
	if errors.Is(err, cache.ErrNotFound) || (err == nil && in.Kind != cache.KindFile) {
		f.Unlock()
		return u.db.Update(ctx, func(tx *cache.Tx) error { return tx.Uploaded(ino, time.Now().Add(time.Hour)) })
	}
	if err != nil {
		f.Unlock()
		return err
	}
	if in.Size <= int64(u.cfg.InlineMax) {
		defer f.Unlock()
		if present, _ := f.Has(0); !present && !stored && in.Inline != nil {
			// Already whole in the metadata (the drive commits small
			// files inline): nothing to store. Confirmed with the
			// round's others in one transaction.
			u.confirms = append(u.confirms, confirm{ino, since})
			return nil
		}
		return u.inline(ctx, f, in, since)
	}
	dirty := f.Dirty()
	f.Unlock()

	key, err := crypto.UnwrapKey(u.keys.FileWrapKey(), in.FileKey, in.FileID)
	if err != nil {
		return fmt.Errorf("file key: %w", err)
	}
	file := File{Ino: ino, Sealer: crypto.NewSealer(&key)}
	copy(file.ID[:], in.FileID)
	// One block at a time: memory stays at a block or so whatever the
	// size of the file, and the file's lock is held only while one block
	// is copied out.
	buf := make([]byte, u.bs)
	handled, untrack := u.track(in, dirty)
	defer untrack()
	for _, idx := range dirty {
		s, ok, err := u.snapshotBlock(ctx, f, ino, idx, buf)
		if err != nil {
			return err
		}
		if !ok {
			handled(idx, -1)
			continue
		}
		if err := u.storeBlock(ctx, f, file, s); err != nil {
			return err
		}
		handled(idx, int64(len(s.data)))
	}
	f.Lock()
	defer f.Unlock()
	if f.Unflushed || len(f.Dirty()) > 0 {
		return nil // written meanwhile: stays queued
	}
	return u.db.Update(ctx, func(tx *cache.Tx) error {
		cur, err := tx.Inode(ino)
		if err != nil {
			return err
		}
		if cur.Inline != nil {
			cur.Inline = nil // the content lives in blocks now
			if err := tx.UpdateInode(cur); err != nil {
				return err
			}
		}
		return tx.Uploaded(ino, since)
	})
}

// snapshotBlock copies block idx of f into buf as it is now, with its write
// generation. ok is false if the block is no longer dirty or lies past the
// end of the file. A file written but not flushed meanwhile is left for a
// later round (errBusy).
func (u *Uploader) snapshotBlock(ctx context.Context, f *cache.File, ino, idx int64, buf []byte) (snapshot, bool, error) {
	f.Lock()
	defer f.Unlock()
	if f.Unflushed {
		return snapshot{}, false, errBusy
	}
	if present, dirty := f.Has(idx); !present || !dirty {
		return snapshot{}, false, nil
	}
	// The size as flushed now: the file may have changed since the round
	// began.
	var in cache.Inode
	err := u.db.View(ctx, func(tx *cache.Tx) (err error) { in, err = tx.Inode(ino); return err })
	if errors.Is(err, cache.ErrNotFound) {
		return snapshot{}, false, nil // deleted meanwhile
	}
	if err != nil {
		return snapshot{}, false, err
	}
	start := idx * u.bs
	if start >= in.Size {
		return snapshot{}, false, nil
	}
	s := snapshot{idx: idx, gen: f.Gen(idx), data: buf[:min(u.bs, in.Size-start)]}
	if err := f.ReadAt(s.data, start); err != nil {
		return snapshot{}, false, fmt.Errorf("read local cache: %w", err)
	}
	return s, true, nil
}

// storeBlock stores one snapshot and commits it; the block turns clean
// only if nothing wrote to it since the snapshot.
func (u *Uploader) storeBlock(ctx context.Context, f *cache.File, file File, s snapshot) error {
	u.mu.Lock()
	u.uploading++
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.uploading--
		u.mu.Unlock()
	}()
	st, err := u.blocks.Store(ctx, file, s.idx, s.data)
	if err != nil {
		u.abandon(st)
		return err
	}
	f.Lock()
	defer f.Unlock()
	clean := f.Gen(s.idx) == s.gen
	err = u.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		in, err := tx.Inode(file.Ino)
		if err != nil {
			return err
		}
		if s.idx*u.bs >= in.Size {
			return fmt.Errorf("block %d: %w: truncated during upload", s.idx, cache.ErrNotFound)
		}
		if err := tx.PutBlock(st.Block); err != nil {
			return err
		}
		if err := tx.DropPending(st.Pending...); err != nil {
			return err
		}
		if clean {
			return tx.SetCached(file.Ino, s.idx, false)
		}
		return nil
	})
	if err != nil {
		u.abandon(st)
		if errors.Is(err, cache.ErrNotFound) {
			return nil // deleted or truncated meanwhile: nothing to commit
		}
		return err
	}
	if clean {
		f.Set(s.idx, false)
		u.mu.Lock()
		u.progress.Cleaned++
		u.progressed()
		u.mu.Unlock()
	}
	return nil
}

// inline stores a small file's whole content in the metadata. Caller holds
// f's lock.
func (u *Uploader) inline(ctx context.Context, f *cache.File, in cache.Inode, since time.Time) error {
	content := make([]byte, in.Size)
	if present, _ := f.Has(0); present {
		if err := f.ReadAt(content, 0); err != nil {
			return fmt.Errorf("read local cache: %w", err)
		}
	} else if in.Inline != nil {
		copy(content, in.Inline)
	} else if in.Size > 0 {
		var blk cache.Block
		err := u.db.View(ctx, func(tx *cache.Tx) (err error) { blk, err = tx.Block(in.Ino, 0); return err })
		if err == nil {
			key, err := crypto.UnwrapKey(u.keys.FileWrapKey(), in.FileKey, in.FileID)
			if err != nil {
				return fmt.Errorf("file key: %w", err)
			}
			file := File{Ino: in.Ino, Sealer: crypto.NewSealer(&key)}
			copy(file.ID[:], in.FileID)
			plain, err := u.blocks.Load(ctx, file, blk, nil)
			if err != nil {
				return err
			}
			copy(content, plain)
		} else if !errors.Is(err, cache.ErrNotFound) {
			return err
		}
	}
	err := u.db.Update(ctx, func(tx *cache.Tx) error {
		cur, err := tx.Inode(in.Ino)
		if err != nil {
			return err
		}
		cur.Inline = content
		if err := tx.UpdateInode(cur); err != nil {
			return err
		}
		if err := tx.TruncateBlocks(in.Ino, 0); err != nil {
			return err
		}
		for _, idx := range f.Dirty() {
			if err := tx.SetCached(in.Ino, idx, false); err != nil {
				return err
			}
		}
		return tx.Uploaded(in.Ino, since)
	})
	if err != nil {
		return err
	}
	dirty := f.Dirty()
	for _, idx := range dirty {
		f.Set(idx, false)
	}
	if len(dirty) > 0 {
		u.mu.Lock()
		u.progress.Cleaned += uint64(len(dirty))
		u.progressed()
		u.mu.Unlock()
	}
	return nil
}

// abandon queues what a failed store placed for deletion.
func (u *Uploader) abandon(st Stored) {
	if len(st.Pending) == 0 {
		return
	}
	err := u.db.Update(context.Background(), func(tx *cache.Tx) error { return tx.PendingToGarbage(st.Pending...) })
	if err != nil {
		u.cfg.Logger.Warn("could not queue the shards of a failed upload for deletion", "err", err)
	}
}

// Status is what the uploader has to do.
type Status struct {
	QueuedFiles  int // files with changes not yet stored
	DirtyBlocks  int // blocks newer than what the farmers hold
	Uploading    int // blocks in flight now
	CachedBlocks int
	Garbage      int // shards waiting to be deleted
	LastError    string
}

// Status reports the uploader's queue.
func (u *Uploader) Status(ctx context.Context) (Status, error) {
	var s Status
	err := u.db.View(ctx, func(tx *cache.Tx) (err error) {
		if s.QueuedFiles, err = tx.PendingUploads(); err != nil {
			return err
		}
		if s.CachedBlocks, s.DirtyBlocks, err = tx.CachedCount(); err != nil {
			return err
		}
		s.Garbage, err = tx.GarbageCount()
		return err
	})
	u.mu.Lock()
	s.Uploading = u.uploading
	if u.lastErr != nil {
		s.LastError = u.lastErr.Error()
	}
	u.mu.Unlock()
	return s, err
}

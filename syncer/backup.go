package syncer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/meta"
	"github.com/shardrive/shardrive/netclient"
)

// The metadata backup (issue 5; DESIGN.md, Metadata). What it does, in
// terms of the local tables (cache, schema v5) and the formats (core/meta):
//
//   - Triggers note every change to a backed-up row under a growing change
//     number. A round reads the changed rows in one snapshot, writes them as
//     a log segment, seals, erasure-codes and places it like a file block,
//     then stores a new root record, version+1, on every farmer.
//   - The root lists a checkpoint (every row at one moment) and the segments
//     after it, oldest first; replaying them in order rebuilds the metadata.
//     Segments are merged like a binary counter (the two newest while the
//     older is at most twice the newer), so a root names O(log n) of them
//     and a row is rewritten O(log n) times; once the segments add up to
//     more than the checkpoint, a new checkpoint replaces them all. A
//     change therefore costs one small segment, not a copy of the drive.
//   - A root counts as stored once a majority of the drive's farmers hold
//     it: a recovery that hears from a majority sees it. Only then do its
//     segment's pending shards become committed, the change numbers it
//     covers get forgotten, and garbage queued up to them may be deleted.
//     So shards of replaced blocks and superseded objects are deleted only
//     after a root that no longer refers to them is stored.
//   - The root names this device and a lease. A running daemon holds the
//     lease (Round renews it) and gives it up when it stops (Release); a
//     one-shot command stores its root already released. A root on
//     the farmers with a higher version written by another device means the
//     lease was taken over (recovery with --take-over): this device stops
//     writing for good (ErrLeaseLost) and says why.

var (
	// ErrLeaseLost means another device took the drive's writer lease: this
	// one must not write to the drive any more.
	ErrLeaseLost = errors.New("another device took over this drive")
	// ErrNoBackup means the farmers hold no root record for these keys.
	ErrNoBackup = errors.New("no metadata backup found")
)

// RootStore is what the backup needs of the farmers' root record slots.
type RootStore interface {
	PutRoot(ctx context.Context, version uint64, record func(format.NodeID) []byte) []netclient.RootResult
	GetRoots(ctx context.Context) []netclient.RootResult
}

// BackupConfig tunes the metadata backup.
type BackupConfig struct {
	// Delay bounds how long a change waits before a round stores it; changes
	// made within it share one round.
	Delay time.Duration
	// Lease is how long a stored root reserves the drive for this device;
	// rounds renew it when a third of it is left.
	Lease time.Duration
	// PartSize is the plaintext size an object is cut into before sealing
	// and coding; 0 means the drive's block size.
	PartSize int
	Logger   *slog.Logger
}

// NewBackupConfig returns the defaults.
func NewBackupConfig() BackupConfig {
	return BackupConfig{Delay: 5 * time.Second, Lease: 15 * time.Minute, Logger: slog.New(slog.DiscardHandler)}
}

// Validate reports a setting that cannot work.
func (c BackupConfig) Validate() error {
	if c.Delay < 0 || c.Lease < time.Second || c.PartSize < 0 || c.Logger == nil {
		return fmt.Errorf("backup config: delay >= 0, lease >= 1s, part size >= 0 and a logger needed")
	}
	return nil
}

// Backup keeps the drive's metadata stored on the farmers.
type Backup struct {
	cfg    BackupConfig
	db     *cache.DB
	blocks *Blocks
	roots  RootStore
	keys   *crypto.Keys
	drive  cache.DriveConfig
	device [16]byte
	sealer *crypto.Sealer
	sign   ed25519.PrivateKey
	kick   chan struct{}

	round sync.Mutex // one round at a time

	mu      sync.Mutex // guards lastErr
	lastErr error
}

// NewBackup returns the backup of the drive in db. It turns backups on for
// the drive: from now on garbage waits for a root that covers it.
func NewBackup(ctx context.Context, db *cache.DB, blocks *Blocks, roots RootStore, keys *crypto.Keys, cfg BackupConfig) (*Backup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Backup{cfg: cfg, db: db, blocks: blocks, roots: roots, keys: keys, kick: make(chan struct{}, 1),
		sealer: crypto.NewSealer(keys.MetadataObjectKey()), sign: keys.RootSigningKey()}
	err := db.Update(ctx, func(tx *cache.Tx) (err error) {
		if b.drive, err = tx.Drive(); err != nil {
			return err
		}
		if b.device, err = tx.Device(newDeviceID); err != nil {
			return err
		}
		st, err := tx.BackupState()
		if err != nil || st.Enabled {
			return err
		}
		st.Enabled = true
		return tx.SetBackupState(st)
	})
	if err != nil {
		return nil, err
	}
	if b.cfg.PartSize == 0 {
		b.cfg.PartSize = b.drive.BlockSize
	}
	return b, nil
}

func newDeviceID() [16]byte { return crypto.NewFileID() }

// Device is this home's device ID, as roots name it.
func (b *Backup) Device() [16]byte { return b.device }

// Kick asks for a round soon (after Delay).
func (b *Backup) Kick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Run stores changes in the background until ctx ends: a round once
// changes have waited Delay, and whenever the lease needs renewing. It
// returns early if the lease was lost.
func (b *Backup) Run(ctx context.Context) {
	tick := time.NewTicker(max(b.cfg.Delay/2, 100*time.Millisecond))
	defer tick.Stop()
	var since time.Time // when the oldest change not yet stored was first seen
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-b.kick:
		}
		st, unchanged, err := b.state(ctx)
		if err != nil {
			b.setErr(err)
			continue
		}
		if st.LostTo != "" {
			return
		}
		now := time.Now()
		renew := st.LeaseUntil.Sub(now) < b.cfg.Lease/3
		if unchanged && !renew {
			since = time.Time{}
			// Nothing to store: garbage queued since may go.
			b.coverUnchanged(ctx)
			continue
		}
		if !unchanged && since.IsZero() {
			since = now
		}
		if !renew && now.Sub(since) < b.cfg.Delay {
			continue
		}
		err = b.Round(ctx)
		b.setErr(err)
		if err == nil {
			since = time.Time{}
		} else if errors.Is(err, ErrLeaseLost) {
			b.cfg.Logger.Error("metadata backup stopped", "err", err)
			return
		} else if ctx.Err() == nil {
			b.cfg.Logger.Warn("metadata backup failed; will retry", "err", err)
		}
	}
}

func (b *Backup) setErr(err error) {
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
}

func (b *Backup) state(ctx context.Context) (st cache.BackupState, unchanged bool, err error) {
	err = b.db.View(ctx, func(tx *cache.Tx) error {
		if st, err = tx.BackupState(); err != nil {
			return err
		}
		unchanged, _, err = tx.MetaUnchanged()
		return err
	})
	return st, unchanged, err
}

// coverUnchanged moves the covered change number up to now when no
// backed-up row changed since the last root: that root still describes the
// metadata, so garbage queued meanwhile is no longer referenced by it.
func (b *Backup) coverUnchanged(ctx context.Context) {
	err := b.db.Update(ctx, func(tx *cache.Tx) error {
		st, err := tx.BackupState()
		if err != nil || st.Version == 0 {
			return err
		}
		unchanged, seq, err := tx.MetaUnchanged()
		if err != nil || !unchanged || seq <= st.Covered {
			return err
		}
		st.Covered = seq
		return tx.SetBackupState(st)
	})
	if err != nil && ctx.Err() == nil {
		b.cfg.Logger.Warn("metadata backup: could not record an unchanged state", "err", err)
	}
}

// Status is what the backup reports.
type BackupStatus struct {
	Version    uint64    // of the newest stored root; 0: never stored
	Time       time.Time // when it was stored
	LeaseUntil time.Time
	Pending    bool   // changes wait for the next round
	Objects    int    // objects the root names
	Bytes      int64  // their plaintext bytes
	LostTo     string // another device took the lease
	LastError  string
}

// Status reports the backup's state.
func (b *Backup) Status(ctx context.Context) (BackupStatus, error) {
	return ReadBackupStatus(ctx, b.db, b.lastError())
}

func (b *Backup) lastError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// ReadBackupStatus reads the backup's state from the metadata, for a
// process that runs no backup (the CLI on an idle home).
func ReadBackupStatus(ctx context.Context, db *cache.DB, lastErr error) (BackupStatus, error) {
	var s BackupStatus
	err := db.View(ctx, func(tx *cache.Tx) error {
		st, err := tx.BackupState()
		if err != nil {
			return err
		}
		s.Version, s.Time, s.LeaseUntil, s.LostTo = st.Version, st.Time, st.LeaseUntil, st.LostTo
		unchanged, _, err := tx.MetaUnchanged()
		if err != nil {
			return err
		}
		s.Pending = !unchanged
		objs, err := tx.BackupObjects()
		if err != nil {
			return err
		}
		s.Objects = len(objs)
		for _, o := range objs {
			s.Bytes += o.Bytes
		}
		return nil
	})
	if lastErr != nil {
		s.LastError = lastErr.Error()
	}
	return s, err
}

// Round stores every change made so far: a new segment (or checkpoint) if
// anything changed, then a new root that holds the writer lease for Lease.
// It returns once the root is on a majority of the farmers.
func (b *Backup) Round(ctx context.Context) error { return b.doRound(ctx, true) }

// Release is Round with a root whose lease ends now: what a process that
// stops writing (a daemon at stop, a one-shot command) stores last, so
// another device may recover the drive without taking it over.
func (b *Backup) Release(ctx context.Context) error { return b.doRound(ctx, false) }

func (b *Backup) doRound(ctx context.Context, hold bool) error {
	b.round.Lock()
	defer b.round.Unlock()
	var (
		st       cache.BackupState
		objs     []cache.BackupObject
		farmers  []cache.Farmer
		seq      int64
		changes  []meta.Record
		degraded bool
	)
	err := b.db.View(ctx, func(tx *cache.Tx) (err error) {
		if st, err = tx.BackupState(); err != nil {
			return err
		}
		if degraded, err = tx.BackupDegraded(); err != nil {
			return err
		}
		if objs, err = tx.BackupObjects(); err != nil {
			return err
		}
		if farmers, err = tx.Farmers(); err != nil {
			return err
		}
		seq, changes, err = tx.MetaChanges()
		return err
	})
	if err != nil {
		return err
	}
	if st.LostTo != "" {
		return fmt.Errorf("%w (device %s); this device no longer writes", ErrLeaseLost, st.LostTo)
	}
	plan, err := b.plan(ctx, objs, changes, degraded)
	if err != nil {
		return err
	}
	if plan.checkpoint {
		// A checkpoint is a fresh dump: its own snapshot, its own seq.
		var recs []meta.Record
		if err := b.db.View(ctx, func(tx *cache.Tx) (err error) {
			seq, err = tx.MetaDump(func(r meta.Record) error { recs = append(recs, r); return nil })
			return err
		}); err != nil {
			return err
		}
		plan.upload = &meta.Object{Kind: meta.Checkpoint, Records: recs}
	}
	var stored *cache.BackupObject
	var pending []int64
	if plan.upload != nil {
		st.ObjectSeq++
		plan.upload.Seq = st.ObjectSeq
		stored, pending, err = b.storeObject(ctx, *plan.upload)
		if err != nil {
			b.dropPending(pending)
			return err
		}
		plan.keep = append(plan.keep, *stored)
	}
	now := time.Now()
	lease := now
	if hold {
		lease = now.Add(b.cfg.Lease)
	}
	root, err := b.newRoot(st.Version+1, now, lease, plan.keep, farmers)
	if err != nil {
		b.dropPending(pending)
		return err
	}
	version, rootErr := b.storeRoot(ctx, root, st.Version)
	if rootErr != nil {
		b.dropPending(pending)
		// Versions up to the one tried may be on some farmers: never reuse
		// them.
		if uerr := b.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
			cur, err := tx.BackupState()
			if err != nil {
				return err
			}
			if version > cur.Version {
				cur.Version = version
			}
			if errors.Is(rootErr, ErrLeaseLost) {
				cur.LostTo = lostTo(rootErr)
			}
			cur.ObjectSeq = max(cur.ObjectSeq, st.ObjectSeq)
			return tx.SetBackupState(cur)
		}); uerr != nil {
			b.cfg.Logger.Warn("metadata backup: could not record a failed round", "err", uerr)
		}
		return rootErr
	}
	return b.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		if err := tx.DropPending(pending...); err != nil {
			return err
		}
		if stored != nil {
			if err := tx.AddBackupObject(*stored); err != nil {
				return err
			}
		}
		if err := tx.DropBackupObjects(plan.drop); err != nil {
			return err
		}
		if err := tx.MetaCommitted(seq); err != nil {
			return err
		}
		st.Version, st.Covered, st.Time, st.LeaseUntil = version, seq, now, root.LeaseUntil
		return tx.SetBackupState(st)
	})
}

// roundPlan is what a round uploads and which objects the new root names.
type roundPlan struct {
	checkpoint bool
	upload     *meta.Object         // the object to store, nil if none
	keep       []cache.BackupObject // objects the root names, besides upload
	drop       []cache.BackupObject // objects the root no longer names
}

// Policy numbers of the object log.
const (
	maxSegments        = 24
	minCheckpointBytes = 1 << 20
)

// plan decides a round's objects. degraded (an object has a shard the
// keeper no longer counts as healthy) forces a checkpoint: it replaces every
// object, so it is the metadata's repair.
func (b *Backup) plan(ctx context.Context, objs []cache.BackupObject, changes []meta.Record, degraded bool) (roundPlan, error) {
	var p roundPlan
	if len(objs) == 0 || objs[0].Kind != meta.Checkpoint || (degraded && len(changes) > 0) {
		p.checkpoint, p.drop = true, objs
		return p, nil
	}
	if len(changes) == 0 {
		p.keep = objs
		return p, nil
	}
	// Merge the newest segments while the older is at most twice the
	// newer (a binary counter over segment sizes).
	body, err := meta.EncodeObject(meta.Object{Kind: meta.Segment, Records: changes})
	if err != nil {
		return p, err
	}
	segs := objs[1:]
	newRecs, newBytes := changes, int64(len(body))
	for len(segs) > 0 && segs[len(segs)-1].Bytes <= 2*newBytes {
		last := segs[len(segs)-1]
		o, err := meta.DecodeObject(last.Body)
		if err != nil {
			return p, fmt.Errorf("local copy of segment %d: %w", last.Seq, err)
		}
		newRecs = meta.Merge(o.Records, newRecs)
		if body, err = meta.EncodeObject(meta.Object{Kind: meta.Segment, Records: newRecs}); err != nil {
			return p, err
		}
		newBytes = int64(len(body))
		p.drop = append(p.drop, last)
		segs = segs[:len(segs)-1]
	}
	var total int64 = newBytes
	for _, s := range segs {
		total += s.Bytes
	}
	if total > max(objs[0].Bytes, minCheckpointBytes) || len(segs)+1 > maxSegments {
		p.checkpoint, p.drop = true, objs
		return p, nil
	}
	p.keep = append([]cache.BackupObject{objs[0]}, segs...)
	p.upload = &meta.Object{Kind: meta.Segment, Records: newRecs}
	return p, nil
}

// storeObject encodes, seals and places an object in parts. It returns the
// pending journal ids of its shards, to drop once a root names it (or to
// turn into garbage if none will).
func (b *Backup) storeObject(ctx context.Context, o meta.Object) (*cache.BackupObject, []int64, error) {
	body, err := meta.EncodeObject(o)
	if err != nil {
		return nil, nil, err
	}
	bo := &cache.BackupObject{Seq: o.Seq, Kind: o.Kind, Records: int64(len(o.Records)), Bytes: int64(len(body))}
	if o.Kind == meta.Segment {
		bo.Body = body
	}
	var pending []int64
	f := File{ID: b.drive.ID, Sealer: b.sealer}
	for i := 0; i*b.cfg.PartSize < len(body) || i == 0; i++ {
		part := body[i*b.cfg.PartSize : min(len(body), (i+1)*b.cfg.PartSize)]
		st, err := b.blocks.Store(ctx, f, int64(i), part)
		pending = append(pending, st.Pending...)
		if err != nil {
			return nil, pending, fmt.Errorf("store metadata %v %d part %d: %w", o.Kind, o.Seq, i, err)
		}
		p := meta.Part{Version: st.Block.Version, PlainLen: int64(st.Block.PlainLen), SealedLen: int64(st.Block.SealedLen),
			ShardLen: int64(st.Block.ShardLen)}
		for _, s := range st.Block.Shards {
			p.Shards = append(p.Shards, meta.PartShard{Index: s.Index, Farmer: int(s.Farmer), Root: s.Root})
		}
		bo.Parts = append(bo.Parts, p)
	}
	return bo, pending, nil
}

// dropPending turns the pending shards of an object no root will name into
// garbage.
func (b *Backup) dropPending(ids []int64) {
	if len(ids) == 0 {
		return
	}
	if err := b.db.Update(context.Background(), func(tx *cache.Tx) error { return tx.PendingToGarbage(ids...) }); err != nil {
		b.cfg.Logger.Warn("metadata backup: could not queue the shards of an abandoned object", "err", err)
	}
}

// newRoot builds the root naming objs, with farmers as the farmer list
// (shards in objs name farmers by farmers.id; the root by list index).
func (b *Backup) newRoot(version uint64, now, lease time.Time, objs []cache.BackupObject, farmers []cache.Farmer) (*meta.Root, error) {
	r := &meta.Root{Version: version, Time: now, DriveID: b.drive.ID, DataShards: b.drive.DataShards,
		ParityShards: b.drive.ParityShards, BlockSize: b.drive.BlockSize, Device: b.device, LeaseUntil: lease}
	index := make(map[int64]int, len(farmers))
	for i, f := range farmers {
		index[f.ID] = i
		r.Farmers = append(r.Farmers, f.Address)
	}
	for _, o := range objs {
		ref := meta.ObjectRef{Kind: o.Kind, Seq: o.Seq, Records: o.Records, Bytes: o.Bytes}
		for _, p := range o.Parts {
			rp := p
			rp.Shards = nil
			for _, s := range p.Shards {
				i, ok := index[int64(s.Farmer)]
				if !ok {
					return nil, fmt.Errorf("metadata object %d has a shard on farmer %d, which the drive does not know", o.Seq, s.Farmer)
				}
				rp.Shards = append(rp.Shards, meta.PartShard{Index: s.Index, Farmer: i, Root: s.Root})
			}
			ref.Parts = append(ref.Parts, rp)
		}
		r.Objects = append(r.Objects, ref)
	}
	return r, nil
}

// storeRoot seals r for every farmer and stores it. It returns the version
// stored: when a farmer already holds r.Version or more from this device
// (a round that stored a root and then crashed before recording it), the
// root is stored again above it. A higher root from another device means
// the lease was taken: ErrLeaseLost.
func (b *Backup) storeRoot(ctx context.Context, r *meta.Root, known uint64) (uint64, error) {
	sealKey := b.keys.RootSealKey()
	for attempt := 0; ; attempt++ {
		var sealErr error
		res := b.roots.PutRoot(ctx, r.Version, func(format.NodeID) []byte {
			rec, err := meta.SealRoot(r, sealKey, b.sign)
			if err != nil {
				sealErr = err
			}
			return rec
		})
		if sealErr != nil {
			return r.Version, sealErr
		}
		ok, conflict := 0, false
		var errs []error
		for _, x := range res {
			switch {
			case x.Err == nil:
				ok++
			case errors.Is(x.Err, format.ErrConflict):
				conflict = true
				errs = append(errs, x.Err)
			default:
				errs = append(errs, x.Err)
			}
		}
		if 2*ok > len(res) {
			if ok < len(res) {
				b.cfg.Logger.Warn("metadata root stored on a majority of farmers only", "stored", ok, "farmers", len(res), "err", errors.Join(errs...))
			}
			return r.Version, nil
		}
		if !conflict || attempt > 0 {
			return r.Version, fmt.Errorf("store metadata root version %d: on %d of %d farmers, need a majority: %w: %w",
				r.Version, ok, len(res), ErrUnavailable, errors.Join(errs...))
		}
		// Someone holds a root at least this new: who?
		newest, err := b.newestRoot(ctx)
		if err != nil {
			return r.Version, err
		}
		if newest.Device != b.device {
			return newest.Version, &leaseLostError{device: fmt.Sprintf("%x", newest.Device[:]), at: newest.Time}
		}
		b.cfg.Logger.Info("metadata root: farmers hold a newer root from this device (a round cut short); storing above it",
			"known", known, "found", newest.Version)
		r.Version = newest.Version + 1
	}
}

type leaseLostError struct {
	device string
	at     time.Time
}

func (e *leaseLostError) Error() string {
	return fmt.Sprintf("%v: device %s stored a newer root at %s; this device no longer writes (recover again to write here)",
		ErrLeaseLost, e.device, e.at.Format(time.RFC3339))
}

func (e *leaseLostError) Unwrap() error { return ErrLeaseLost }

func lostTo(err error) string {
	var l *leaseLostError
	if errors.As(err, &l) {
		return l.device
	}
	return "unknown"
}

// newestRoot fetches the roots the farmers hold and returns the newest
// that verifies.
func (b *Backup) newestRoot(ctx context.Context) (*meta.Root, error) {
	pick, err := PickRoot(b.roots.GetRoots(ctx), b.keys, b.drive.ID)
	if err != nil {
		return nil, err
	}
	return pick.Root, nil
}

// CheckLease looks at the roots the farmers hold: a newer root from
// another device means this one lost the lease (recorded, and
// ErrLeaseLost returned). A daemon calls it when it starts.
func (b *Backup) CheckLease(ctx context.Context) error {
	var st cache.BackupState
	if err := b.db.View(ctx, func(tx *cache.Tx) (err error) { st, err = tx.BackupState(); return err }); err != nil {
		return err
	}
	if st.LostTo != "" {
		return fmt.Errorf("%w (device %s); this device no longer writes", ErrLeaseLost, st.LostTo)
	}
	pick, err := PickRoot(b.roots.GetRoots(ctx), b.keys, b.drive.ID)
	if errors.Is(err, ErrNoBackup) {
		return nil
	}
	if err != nil {
		return err
	}
	if pick.Root.Version <= st.Version || pick.Root.Device == b.device {
		return nil
	}
	lost := &leaseLostError{device: fmt.Sprintf("%x", pick.Root.Device[:]), at: pick.Root.Time}
	if err := b.db.Update(ctx, func(tx *cache.Tx) error {
		cur, err := tx.BackupState()
		if err != nil {
			return err
		}
		cur.LostTo = lost.device
		return tx.SetBackupState(cur)
	}); err != nil {
		return err
	}
	return lost
}

// RootPick is the outcome of asking every farmer for its root.
type RootPick struct {
	Root     *meta.Root
	Answered int      // farmers that answered with a root or "none"
	Farmers  int      // farmers asked
	Older    []string // farmers that serve an older valid root (a rollback, or behind)
	Bad      []string // farmers that serve a root that does not verify, and why
	Down     []string // farmers that did not answer
}

// PickRoot verifies the roots farmers returned and picks the newest valid
// one. driveID, if not zero, must match.
func PickRoot(res []netclient.RootResult, keys *crypto.Keys, driveID [16]byte) (RootPick, error) {
	p := RootPick{Farmers: len(res)}
	pub := keys.RootSigningKey().Public().(ed25519.PublicKey)
	sealKey := keys.RootSealKey()
	type valid struct {
		farmer string
		root   *meta.Root
	}
	var ok []valid
	for _, x := range res {
		name := x.Farmer.String()
		switch {
		case errors.Is(x.Err, format.ErrNotFound):
			p.Answered++
			continue
		case x.Err != nil:
			p.Down = append(p.Down, name)
			continue
		}
		p.Answered++
		r, err := meta.OpenRoot(x.Record, sealKey, pub)
		if err == nil && r.Version != x.Version {
			err = fmt.Errorf("farmer says version %d, the signed root %d", x.Version, r.Version)
		}
		if err == nil && driveID != ([16]byte{}) && r.DriveID != driveID {
			err = errors.New("a root of another drive")
		}
		if err != nil {
			p.Bad = append(p.Bad, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		ok = append(ok, valid{name, r})
	}
	for _, v := range ok {
		if p.Root == nil || v.root.Version > p.Root.Version {
			p.Root = v.root
		}
	}
	if p.Root == nil {
		if len(p.Bad) > 0 {
			return p, fmt.Errorf("%w: no farmer serves a valid root record; refused: %v", ErrNoBackup, p.Bad)
		}
		return p, ErrNoBackup
	}
	for _, v := range ok {
		if v.root.Version < p.Root.Version {
			p.Older = append(p.Older, fmt.Sprintf("%s (version %d, newest %d)", v.farmer, v.root.Version, p.Root.Version))
		}
		if v.root.DriveID != p.Root.DriveID {
			p.Bad = append(p.Bad, fmt.Sprintf("%s (a root of another drive)", v.farmer))
		}
	}
	return p, nil
}

// Parts of metadata objects are sealed as blocks of a pseudo-file: the
// drive ID as file ID, the part index as block index and a fresh block
// version each, under the metadata object key (never a file's key).
func partAD(driveID [16]byte, idx int, version uint64) crypto.BlockAD {
	return crypto.BlockAD{FileID: driveID, Block: uint64(idx), Version: version}
}

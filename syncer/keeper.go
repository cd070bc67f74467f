package syncer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

// KeeperNetwork is what audits and repair need of the farmers beyond
// storing and loading blocks.
type KeeperNetwork interface {
	Network
	PlaceAvoiding(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int, avoid []format.NodeID) ([]netclient.Placement, error)
	Audit(ctx context.Context, farmer format.NodeID, root merkle.Root, shardLen int64, leaf int) (netclient.AuditResult, error)
	FarmerInfo(ctx context.Context, farmer format.NodeID) (format.Info, error)
	SetExcluded(ids []format.NodeID)
}

// KeeperConfig tunes audits, reputation and repair. The defaults suit a
// real network; tests shorten the intervals.
type KeeperConfig struct {
	// AuditInterval is the time between background rounds (audits, then
	// repair).
	AuditInterval time.Duration
	// AuditsPerFarmer is how many fresh challenges each farmer answers per
	// round, on top of the one it may be held to.
	AuditsPerFarmer int
	// MaxAuditTries is how many times a farmer that answers other calls may
	// leave a challenge unanswered before it counts as failed.
	MaxAuditTries int
	// Decay weighs past outcomes in the reputation: each new audit or
	// availability check multiplies the old counts by Decay.
	Decay float64
	// SuspendBelow and DisqualifyBelow are audit-score thresholds.
	SuspendBelow, DisqualifyBelow float64
	// SuspendOffline and DisqualifyOffline are how long a farmer may be
	// unreachable before it is suspended, and then disqualified.
	SuspendOffline, DisqualifyOffline time.Duration
	// RepairBatch is how many blocks one repair pass lists at a time.
	RepairBatch int
	Logger      *slog.Logger
}

// NewKeeperConfig returns the defaults.
func NewKeeperConfig() KeeperConfig {
	return KeeperConfig{
		AuditInterval:     10 * time.Minute,
		AuditsPerFarmer:   4,
		MaxAuditTries:     3,
		Decay:             0.95,
		SuspendBelow:      0.8,
		DisqualifyBelow:   0.6,
		SuspendOffline:    2 * time.Hour,
		DisqualifyOffline: 7 * 24 * time.Hour,
		RepairBatch:       64,
	}
}

// Validate reports settings the keeper cannot run with.
func (c KeeperConfig) Validate() error {
	switch {
	case c.AuditInterval <= 0:
		return fmt.Errorf("audit interval %v: must be positive", c.AuditInterval)
	case c.AuditsPerFarmer < 0:
		return fmt.Errorf("audits per farmer %d: must not be negative", c.AuditsPerFarmer)
	case c.MaxAuditTries < 1:
		return fmt.Errorf("max audit tries %d: must be at least 1", c.MaxAuditTries)
	case c.Decay <= 0 || c.Decay > 1:
		return fmt.Errorf("decay %v: must be in (0, 1]", c.Decay)
	case c.DisqualifyBelow < 0 || c.SuspendBelow < c.DisqualifyBelow || c.SuspendBelow > 1:
		return fmt.Errorf("thresholds: need 0 <= disqualify (%v) <= suspend (%v) <= 1", c.DisqualifyBelow, c.SuspendBelow)
	case c.SuspendOffline <= 0 || c.DisqualifyOffline < c.SuspendOffline:
		return fmt.Errorf("offline limits: need 0 < suspend (%v) <= disqualify (%v)", c.SuspendOffline, c.DisqualifyOffline)
	case c.RepairBatch < 1:
		return fmt.Errorf("repair batch %d: must be at least 1", c.RepairBatch)
	}
	return nil
}

// Keeper keeps the network honest for one drive: it audits every farmer,
// keeps their reputation and state, and repairs the blocks whose healthy
// shards fall below the drive's repair threshold. See keeper_doc.go.
type Keeper struct {
	db     *cache.DB
	blocks *Blocks
	net    KeeperNetwork
	cfg    KeeperConfig
	log    *slog.Logger
	now    func() time.Time
	kick   chan struct{}

	// round serializes rounds: the background loop and a CLI's verify or
	// repair never audit or repair at the same time.
	round sync.Mutex

	mu      sync.Mutex // guards lastErr and stats
	lastErr error
	stats   KeeperStats
}

// KeeperStats counts the keeper's work since it started.
type KeeperStats struct {
	Audits, AuditsPassed, AuditsFailed, AuditsUnanswered int64
	AuditBytes                                           int64
	AuditTime                                            time.Duration
	ShardsRepaired                                       int64
	RepairBytes                                          int64
	LastRound                                            time.Time
}

// NewKeeper returns the keeper of the drive whose blocks are blocks, over
// net (the same farmers).
func NewKeeper(db *cache.DB, blocks *Blocks, net KeeperNetwork, cfg KeeperConfig) (*Keeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{db: db, blocks: blocks, net: net, cfg: cfg, log: log, now: time.Now, kick: make(chan struct{}, 1)}, nil
}

// Kick starts a round soon (a farmer was added or removed).
func (k *Keeper) Kick() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Stats returns what the keeper did so far and the last round's error.
func (k *Keeper) Stats() (KeeperStats, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats, k.lastErr
}

// Run audits and repairs in the background until ctx ends. The first
// round starts at once: the exclusions of the farmer states must reach the
// network before the first upload.
func (k *Keeper) Run(ctx context.Context) {
	if err := k.ApplyStates(ctx); err != nil && ctx.Err() == nil {
		k.log.Warn("farmer states", "err", err)
	}
	t := time.NewTicker(k.cfg.AuditInterval)
	defer t.Stop()
	for {
		_, err := k.AuditRound(ctx)
		if err == nil {
			_, err = k.Repair(ctx)
		}
		if err != nil && ctx.Err() == nil {
			k.log.Warn("keeper round", "err", err)
		}
		k.mu.Lock()
		k.lastErr = err
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.kick:
		}
	}
}

// ApplyStates tells the network which farmers get no new shards.
func (k *Keeper) ApplyStates(ctx context.Context) error {
	ids, err := Excluded(ctx, k.db)
	if err != nil {
		return err
	}
	k.net.SetExcluded(ids)
	return nil
}

// Excluded lists the farmers that get no new shards: every one not active
// (suspended, disqualified, being removed or removed).
func Excluded(ctx context.Context, db *cache.DB) ([]format.NodeID, error) {
	var fs []cache.Farmer
	if err := db.View(ctx, func(tx *cache.Tx) (err error) { fs, err = tx.Farmers(); return err }); err != nil {
		return nil, err
	}
	var out []format.NodeID
	for _, f := range fs {
		if f.State == cache.StateActive {
			continue
		}
		id, err := format.ParseNodeID(f.NodeID)
		if err != nil {
			return nil, fmt.Errorf("farmer %s: %w", f.Address, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// AuditReport is one round's outcome per farmer.
type AuditReport struct {
	Farmers []FarmerAudit
}

// FarmerAudit is one farmer's part of a round.
type FarmerAudit struct {
	NodeID                     string
	Address                    string
	Up                         bool
	Passed, Failed, Unanswered int
	Lost                       int // shards found missing or wrong this round
	State, Reason              string
	Err                        string // why the farmer was not audited, if it was not
}

// AuditRound checks every farmer that still holds shards: availability, the
// challenge it is held to, and fresh challenges; then updates reputations
// and states.
func (k *Keeper) AuditRound(ctx context.Context) (AuditReport, error) {
	k.round.Lock()
	defer k.round.Unlock()
	return k.auditRound(ctx, k.cfg.AuditsPerFarmer)
}

func (k *Keeper) auditRound(ctx context.Context, fresh int) (AuditReport, error) {
	var hs []cache.Health
	if err := k.db.Update(ctx, func(tx *cache.Tx) (err error) {
		if err := tx.AccrueLedger(k.now()); err != nil {
			return err
		}
		hs, err = tx.Healths()
		return err
	}); err != nil {
		return AuditReport{}, err
	}
	rep := AuditReport{Farmers: make([]FarmerAudit, len(hs))}
	var wg sync.WaitGroup
	errs := make([]error, len(hs))
	for i, h := range hs {
		if h.State == cache.StateDisqualified || h.State == cache.StateRemoved {
			rep.Farmers[i] = FarmerAudit{NodeID: h.NodeID, Address: h.Address, State: h.State, Reason: h.StateReason}
			continue
		}
		wg.Go(func() { rep.Farmers[i], errs[i] = k.auditFarmer(ctx, h, fresh) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	k.mu.Lock()
	k.stats.LastRound = k.now()
	k.mu.Unlock()
	return rep, k.ApplyStates(ctx)
}

// auditFarmer runs one farmer's part of a round.
func (k *Keeper) auditFarmer(ctx context.Context, h cache.Health, fresh int) (FarmerAudit, error) {
	fa := FarmerAudit{NodeID: h.NodeID, Address: h.Address}
	id, err := format.ParseNodeID(h.NodeID)
	if err != nil {
		return fa, fmt.Errorf("farmer %s: %w", h.Address, err)
	}
	now := k.now()
	info, ierr := k.net.FarmerInfo(ctx, id)
	if ctx.Err() != nil {
		return fa, ctx.Err()
	}
	if errors.Is(ierr, ErrUnavailable) {
		// The daemon is paused: nothing was asked, nothing is judged.
		fa.Err = ierr.Error()
		return fa, nil
	}
	fa.Up = ierr == nil
	h.Checks++
	h.UpAlpha, h.UpBeta = decay(h.UpAlpha, h.UpBeta, k.cfg.Decay, fa.Up)
	if fa.Up {
		h.DownSince = time.Time{}
		h.Region = info.Region
	} else {
		if h.DownSince.IsZero() {
			h.DownSince = now
		}
		fa.Err = ierr.Error()
	}
	if fa.Up {
		k.challenge(ctx, &h, &fa, id, fresh)
	}
	if ctx.Err() != nil {
		return fa, ctx.Err()
	}
	return fa, k.settle(ctx, h, &fa, now)
}

// settle stores h's figures and moves the farmer to the state they call
// for, noting both in fa.
func (k *Keeper) settle(ctx context.Context, h cache.Health, fa *FarmerAudit, now time.Time) error {
	state, reason := k.judge(h, now)
	fa.State, fa.Reason = h.State, h.StateReason
	err := k.db.Update(ctx, func(tx *cache.Tx) error {
		if err := tx.SaveHealth(h); err != nil {
			return err
		}
		if state != h.State {
			fa.State, fa.Reason = state, reason
			return tx.SetFarmerState(h.ID, state, reason)
		}
		return nil
	})
	if state != h.State {
		k.log.Warn("farmer state changed", "farmer", h.Address, "from", h.State, "to", state, "reason", reason)
	}
	return err
}

// verdict folds one passed or failed check of shard root into h and fa; a
// failure marks the shard lost. dropChallenge settles the challenge the
// farmer was held to, when the check was that challenge.
func (k *Keeper) verdict(ctx context.Context, h *cache.Health, fa *FarmerAudit, root [32]byte, passed, dropChallenge bool) error {
	h.AuditAlpha, h.AuditBeta = decay(h.AuditAlpha, h.AuditBeta, k.cfg.Decay, passed)
	if passed {
		fa.Passed++
		h.AuditsPassed++
		if !dropChallenge {
			return nil // nothing to write
		}
	} else {
		fa.Failed++
		h.AuditsFailed++
	}
	return k.db.Update(ctx, func(tx *cache.Tx) error {
		if !passed {
			isNew, err := tx.MarkLost(h.ID, root)
			if err != nil {
				return err
			}
			if isNew {
				fa.Lost++
			}
		}
		if dropChallenge {
			return tx.DropChallenge(h.ID)
		}
		return nil
	})
}

// challenge holds the farmer to its outstanding audit, then asks fresh ones
// while it keeps answering.
func (k *Keeper) challenge(ctx context.Context, h *cache.Health, fa *FarmerAudit, id format.NodeID, fresh int) {
	for n := -1; n < fresh && ctx.Err() == nil; n++ {
		var c cache.Challenge
		var have bool
		err := k.db.Update(ctx, func(tx *cache.Tx) error {
			var err error
			c, err = tx.Challenge(h.ID)
			if err == nil {
				have = true
				return nil
			}
			if !errors.Is(err, cache.ErrNotFound) {
				return err
			}
			if n < 0 {
				return nil // nothing outstanding: go on to fresh ones
			}
			shards, err := tx.RandomShards(h.ID, 1)
			if err != nil || len(shards) == 0 {
				return err
			}
			leaves := merkle.LeafCount(shards[0].ShardLen)
			c = cache.Challenge{Farmer: h.ID, Root: shards[0].Root, ShardLen: shards[0].ShardLen,
				Leaf: randIntn(leaves), Issued: k.now()}
			have = true
			return tx.PutChallenge(c)
		})
		if err != nil {
			fa.Err = err.Error()
			return
		}
		if !have {
			if n < 0 {
				continue
			}
			return // the farmer holds nothing of ours
		}
		res, aerr := k.net.Audit(ctx, id, c.Root, c.ShardLen, c.Leaf)
		if ctx.Err() != nil || res.Outcome == netclient.AuditNone || errors.Is(aerr, ErrUnavailable) {
			// No verdict: our side gave up, or the daemon is paused.
			return
		}
		k.count(res)
		failed := false
		switch res.Outcome {
		case netclient.AuditPassed:
			err = k.verdict(ctx, h, fa, c.Root, true, true)
		case netclient.AuditFailed:
			failed = true
		default: // no answer: the farmer is held to the same challenge
			fa.Unanswered++
			c.Tries++
			if c.Tries >= k.cfg.MaxAuditTries {
				failed = true
				break
			}
			k.log.Info("audit unanswered; the farmer is held to it", "farmer", h.Address, "tries", c.Tries, "err", aerr)
			if err := k.db.Update(ctx, func(tx *cache.Tx) error { return tx.PutChallenge(c) }); err != nil {
				fa.Err = err.Error()
			}
			return
		}
		if failed {
			k.log.Warn("audit failed", "farmer", h.Address, "shard", merkle.Root(c.Root), "leaf", c.Leaf, "err", aerr)
			err = k.verdict(ctx, h, fa, c.Root, false, true)
		}
		if err != nil {
			fa.Err = err.Error()
			return
		}
	}
}

func (k *Keeper) count(res netclient.AuditResult) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stats.Audits++
	k.stats.AuditBytes += res.Bytes
	k.stats.AuditTime += res.Duration
	switch res.Outcome {
	case netclient.AuditPassed:
		k.stats.AuditsPassed++
	case netclient.AuditFailed:
		k.stats.AuditsFailed++
	default:
		k.stats.AuditsUnanswered++
	}
}

// decay folds one outcome into a decayed (successes, failures) pair.
func decay(alpha, beta, lambda float64, ok bool) (float64, float64) {
	alpha, beta = alpha*lambda, beta*lambda
	if ok {
		return alpha + 1, beta
	}
	return alpha, beta + 1
}

// Score is the reputation in [0, 1] of a decayed (successes, failures)
// pair: the mean of the beta distribution they describe.
func Score(alpha, beta float64) float64 {
	if alpha+beta == 0 {
		return 1
	}
	return alpha / (alpha + beta)
}

// judge returns the state h should be in now, and why.
func (k *Keeper) judge(h cache.Health, now time.Time) (string, string) {
	switch h.State {
	case cache.StateDisqualified, cache.StateRemoving, cache.StateRemoved:
		return h.State, h.StateReason // only the user moves these
	}
	score := Score(h.AuditAlpha, h.AuditBeta)
	down := time.Duration(0)
	if !h.DownSince.IsZero() {
		down = now.Sub(h.DownSince)
	}
	switch {
	case h.AuditsFailed > 0 && score < k.cfg.DisqualifyBelow:
		return cache.StateDisqualified, fmt.Sprintf("audit score %.2f below %.2f (%d of %d audits failed)",
			score, k.cfg.DisqualifyBelow, h.AuditsFailed, h.AuditsFailed+h.AuditsPassed)
	case down >= k.cfg.DisqualifyOffline:
		return cache.StateDisqualified, fmt.Sprintf("unreachable since %s", h.DownSince.UTC().Format(time.RFC3339))
	case h.AuditsFailed > 0 && score < k.cfg.SuspendBelow:
		return cache.StateSuspended, fmt.Sprintf("audit score %.2f below %.2f", score, k.cfg.SuspendBelow)
	case down >= k.cfg.SuspendOffline:
		return cache.StateSuspended, fmt.Sprintf("unreachable since %s", h.DownSince.UTC().Format(time.RFC3339))
	case h.State == cache.StateSuspended:
		return cache.StateActive, fmt.Sprintf("reinstated: answering, audit score %.2f", score)
	}
	return h.State, h.StateReason
}

// randIntn returns a uniform random int in [0, n): challenges must be
// unpredictable to the farmer.
func randIntn(n int) int {
	if n <= 1 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return int(v.Int64())
}

// Verify audits every farmer now. With full set it also fetches every
// shard each farmer holds, whole, and checks it against its root: slow,
// but it finds every lost shard at once. Each shard checked counts as an
// audit in the farmer's reputation.
func (k *Keeper) Verify(ctx context.Context, full bool) (AuditReport, error) {
	k.round.Lock()
	defer k.round.Unlock()
	rep, err := k.auditRound(ctx, k.cfg.AuditsPerFarmer)
	if err != nil || !full {
		return rep, err
	}
	var hs []cache.Health
	if err := k.db.View(ctx, func(tx *cache.Tx) (err error) { hs, err = tx.Healths(); return err }); err != nil {
		return rep, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(hs))
	for i, h := range hs {
		if !rep.Farmers[i].Up || h.NodeID != rep.Farmers[i].NodeID {
			continue
		}
		wg.Go(func() { errs[i] = k.checkAll(ctx, h, &rep.Farmers[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	return rep, k.ApplyStates(ctx)
}

// checkAll fetches every shard farmer h holds and checks it.
func (k *Keeper) checkAll(ctx context.Context, h cache.Health, fa *FarmerAudit) error {
	id, err := format.ParseNodeID(h.NodeID)
	if err != nil {
		return err
	}
	var afterIno, afterIdx int64 = 0, -1
	for {
		var page []cache.HeldShard
		if err := k.db.View(ctx, func(tx *cache.Tx) (err error) {
			page, err = tx.ShardsOn(h.ID, afterIno, afterIdx, 256)
			return err
		}); err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			afterIno, afterIdx = s.Ino, s.Index
			start := k.now()
			_, ferr := k.net.Fetch(ctx, []netclient.ShardLoc{{Shard: 0, Root: s.Root, Farmer: id}}, 1, 0, -1)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res := netclient.AuditResult{Outcome: netclient.AuditPassed, Bytes: s.ShardLen, Duration: k.now().Sub(start)}
			switch {
			case ferr == nil:
			case answeredWrong(ferr):
				res.Outcome = netclient.AuditFailed
			default:
				res.Outcome = netclient.AuditNoAnswer
			}
			k.count(res)
			if res.Outcome == netclient.AuditNoAnswer {
				fa.Unanswered++
				continue
			}
			if err := k.verdict(ctx, &h, fa, s.Root, res.Outcome == netclient.AuditPassed, false); err != nil {
				return err
			}
		}
	}
	return k.settle(ctx, h, fa, k.now())
}

// answeredWrong reports whether a read failed because the farmer answered
// without the right bytes (as opposed to not answering).
func answeredWrong(err error) bool {
	for _, e := range []error{format.ErrNotFound, format.ErrHashMismatch, format.ErrCorrupt, merkle.ErrProof} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

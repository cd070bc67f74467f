package netclient

// Network: talking to many farmers at once.
//
// A Network holds one client per farmer and decides which farmers to ask,
// how many at a time and when to give up on one. Its operations are Place
// and PlaceAvoiding (store the shards of one block on distinct farmers),
// Fetch (get any k verified pieces of a block, nearest first), Delete,
// Audit (audit.go), Probe and FarmerInfo, and PutRoot and GetRoots for the
// root record every farmer keeps (network_root.go). It owns no background
// goroutine: every operation starts its goroutines, cancels and waits for
// them before it returns, so a Network needs no lifecycle beyond Close.
//
// Terms
//
//   - slot: one of MaxInflightPerFarmer permits per farmer; every call to a
//     farmer holds one, so a farmer never sees more concurrent calls from
//     this client whatever the number of operations in flight.
//   - byte budget: MaxInflightBytes of shard data being uploaded at once,
//     across all farmers (a semaphore weighted by shard size).
//   - down: a farmer whose last call failed without an answer (network
//     error, timeout, server error) or answered with bytes that failed
//     verification. It is asked last, not never, for a backoff period that
//     doubles with each failure in a row (DownBackoff up to
//     MaxDownBackoff; wrong bytes count as four failures in a row); any
//     other answer ends it.
//   - full: a farmer that said it is full or that our account is over its
//     quota. It is asked last for uploads for FullBackoff; reads are
//     unaffected.
//   - excluded: a farmer the caller took out of placement (SetExcluded):
//     suspended, disqualified, or being removed. It gets no new shard; it
//     is still read from, after every farmer that is neither excluded nor
//     down, and still audited. The reputation that decides exclusion is
//     the caller's; the Network only obeys.
//   - region: the label a farmer declares in its Info (format.Info.Region,
//     learned by Probe and FarmerInfo, seeded by SetStats), "" for none.
//     Farmers with the same non-empty region are assumed to fail together.
//   - cost: the time a call is expected to take at a farmer, its EWMA
//     latency plus the bytes over its EWMA throughput, multiplied by
//     1+4×(bad answers / answers) so that a farmer caught lying stays behind
//     honest ones. Calls moving under 64 KiB (Info probes and audits among
//     them) are latency samples; larger ones are throughput samples. A
//     farmer never measured gets the mean of the measured ones: a neutral
//     score.
//
// Ranking. Farmers are ordered by tier, then, among down farmers, soonest
// back first, then by cost, then by node ID, so the order is deterministic
// for equal figures. Tiers, best first: healthy; excluded (reads only);
// full (uploads only); down. Figures live in memory; the cache persists
// Stats and seeds the next run with SetStats.
//
// Place. The candidates are every farmer that is not excluded and not in
// the avoid list (PlaceAvoiding; Place avoids none), ranked for uploads.
// Shards take farmers one at a time, in shard order first and then as puts
// fail, each taking the candidate not yet taken that is best by: tier;
// then the fewest shards of this block in its region (shards on avoided
// farmers and puts in flight count; a farmer without a region counts
// zero); then rank. So shards spread over regions while regions last and
// placement never fails for want of one (a soft preference), but a
// healthy farmer in a used region still comes before a down one in a new
// region. When a put fails, its shard gives its farmer's region back and
// takes the next candidate, so no farmer ever receives two shards of one
// block; a farmer that failed stays reserved to the shard that tried it,
// which may try it again only when no candidate is left and the error was
// transient (not full, over quota or rejected). Each shard gets 1+Retries
// attempts. Place does not stop at minOK: it places every shard it can,
// and returns the placements made even with ErrNotEnoughFarmers so the
// caller can delete them.
//
// Fetch. Locations are ordered by the ranking for the requested length
// (excluded farmers after the others) and the first k+ExtraReads requests
// start at once. Another starts as soon as one fails, and one more each
// time HedgeDelay passes without an answer (a slow farmer). As soon as k
// distinct shards are in, the rest are canceled: the slow tail sees its
// context end, which is not held against it except that a call cut off
// after longer than its farmer's expected time raises that farmer's
// latency. A location whose error was transient is retried only after
// every other location was started. Verification is the farmer client's
// job (GetShard checks the Merkle proof); a verification error is bad
// data, penalised as above, and the piece is fetched elsewhere.
//
// Audit. One call, like a read of one leaf, bounded by AuditTimeout
// instead of RequestTimeout and recorded in the ranking like any call; its
// verdict (audit.go) is the caller's to act on.
//
// Farmers at run time. Add brings a farmer in while operations run. The
// set of farmers is copy-on-write: an operation loads it once (one atomic
// load, no lock on the hot path) and works on that snapshot, so a farmer
// added meanwhile is seen by the next operation. There is no Remove: a
// farmer leaves by being excluded and drained by the caller's repair.
//
// Concurrency. Goroutines: one per shard in Place, one per request in
// Fetch, one per farmer in Probe, PutRoot and GetRoots; each operation
// waits for its own before returning, and their stop path is the
// operation's context (Fetch cancels its own on return, which is how the
// slow tail ends). Fetch's results travel on a channel sized to the most
// requests it can start, so a straggler finishing after Fetch decided
// never blocks; Place's goroutines each write their own result slot. The
// ranker's mutex guards figures, regions and the excluded set; a
// placement's own mutex guards which candidates its shards took; Add's
// mutex only serialises Adds. None is held across a call or while taking
// another. A call takes its farmer's slot, then its upload bytes, and
// releases both itself.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

var (
	// ErrNotEnoughFarmers reports that Place stored fewer shards than
	// required. The error also wraps each failed attempt's error.
	ErrNotEnoughFarmers = errors.New("netclient: not enough farmers accepted shards")
	// ErrNotEnoughShards reports that Fetch got fewer than k verified
	// pieces. The error also wraps each failed request's error.
	ErrNotEnoughShards = errors.New("netclient: not enough shards could be fetched")
	// ErrUnknownFarmer reports a node ID the Network has no client for.
	ErrUnknownFarmer = errors.New("netclient: farmer not in network")
	// ErrDuplicateFarmer reports a farmer given twice to NewNetwork, or
	// added while already in the network.
	ErrDuplicateFarmer = errors.New("netclient: farmer already in network")
)

// farmerConn is what the Network needs of one farmer: the shard calls, the
// root record slot, a cheap call to measure it with (and learn its region
// and accounting from), and its identity.
// *FarmerClient is the implementation; tests use in-memory fakes.
type farmerConn interface {
	shardStore
	rootStore
	Address() format.Address
	Info(ctx context.Context) (format.Info, error)
	// getShardBody is GetShard that also returns the size of the answer's
	// body, proof included: what an audit costs.
	getShardBody(ctx context.Context, root merkle.Root, off, n int64) ([]byte, int64, error)
	Close()
}

// shardStore is one farmer's shard storage. GetShard returns only bytes
// verified against root.
type shardStore interface {
	PutShard(ctx context.Context, root merkle.Root, data []byte) error
	GetShard(ctx context.Context, root merkle.Root, off, n int64) ([]byte, error)
	DeleteShard(ctx context.Context, root merkle.Root) error
}

var _ farmerConn = (*FarmerClient)(nil)

// Network talks to a set of farmers that can grow at run time (Add). It is
// safe for concurrent use.
type Network struct {
	cfg    NetworkConfig
	log    *slog.Logger
	set    atomic.Pointer[farmerSet] // the farmers; replaced whole by Add
	addMu  sync.Mutex                // serialises Add's copy and swap
	budget *semaphore.Weighted       // upload bytes in flight, MaxInflightBytes
	rank   *ranker
	// traffic counts the payload bytes of successful calls (traffic.go).
	traffic traffic
}

// farmerSet is the network's farmers at one moment. A published set is
// never modified: Add publishes a copy, so an operation that loaded the
// set keeps a consistent view without a lock.
type farmerSet struct {
	ids   []format.NodeID // in the order they joined
	peers map[format.NodeID]*peer
}

// farmers returns the current set of farmers: one atomic load.
func (n *Network) farmers() *farmerSet { return n.set.Load() }

// peer is one farmer and its slots.
type peer struct {
	id    format.NodeID
	conn  farmerConn
	slots *semaphore.Weighted // MaxInflightPerFarmer calls in flight
}

// NewNetwork returns a Network over farmers. Node IDs must be distinct.
// On success the Network owns the clients (Close closes them). logger may
// be nil.
func NewNetwork(cfg NetworkConfig, farmers []*FarmerClient, logger *slog.Logger) (*Network, error) {
	conns := make([]farmerConn, len(farmers))
	for i, f := range farmers {
		if f == nil {
			return nil, fmt.Errorf("netclient: new network: farmer %d is nil", i)
		}
		conns[i] = f
	}
	return newNetwork(cfg, conns, logger)
}

func newNetwork(cfg NetworkConfig, conns []farmerConn, logger *slog.Logger) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(conns) == 0 {
		return nil, errors.New("netclient: new network: no farmers")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Network{
		cfg:    cfg,
		log:    logger,
		budget: semaphore.NewWeighted(cfg.MaxInflightBytes),
		rank:   newRanker(cfg, nil),
	}
	set := &farmerSet{peers: make(map[format.NodeID]*peer, len(conns))}
	for _, c := range conns {
		a := c.Address()
		if _, dup := set.peers[a.ID]; dup {
			return nil, fmt.Errorf("netclient: new network: %w: %s listed twice", ErrDuplicateFarmer, a.ID)
		}
		set.ids = append(set.ids, a.ID)
		set.peers[a.ID] = n.newPeer(a.ID, c)
		n.rank.add(a)
	}
	n.set.Store(set)
	return n, nil
}

func (n *Network) newPeer(id format.NodeID, c farmerConn) *peer {
	return &peer{id: id, conn: c, slots: semaphore.NewWeighted(int64(n.cfg.MaxInflightPerFarmer))}
}

// Add adds a farmer at run time (the user added one while the daemon
// runs); operations that start after Add returns see it. It starts with
// neutral figures, which its first calls replace (Probe or FarmerInfo
// measure it at once; SetStats can seed it). On success the Network owns
// f. A farmer already in the network fails with ErrDuplicateFarmer, and f
// is left to the caller.
func (n *Network) Add(f *FarmerClient) error {
	if f == nil {
		return errors.New("netclient: add farmer: nil client")
	}
	return n.add(f)
}

func (n *Network) add(c farmerConn) error {
	a := c.Address()
	n.addMu.Lock()
	defer n.addMu.Unlock()
	old := n.farmers()
	if _, dup := old.peers[a.ID]; dup {
		return fmt.Errorf("netclient: add farmer %s: %w", a.ID, ErrDuplicateFarmer)
	}
	set := &farmerSet{ids: append(slices.Clip(old.ids), a.ID), peers: maps.Clone(old.peers)}
	set.peers[a.ID] = n.newPeer(a.ID, c)
	// The ranker first: every farmer an operation can see has figures.
	n.rank.add(a)
	n.set.Store(set)
	n.log.Info("farmer added", "farmer", a.ID, "addr", a.Host)
	return nil
}

// Farmers returns the node IDs of the network's farmers, in the order they
// were given to NewNetwork and then to Add.
func (n *Network) Farmers() []format.NodeID { return slices.Clone(n.farmers().ids) }

// Stats returns what was measured of every farmer, best first for reads.
func (n *Network) Stats() []FarmerStats { return n.rank.stats(n.farmers().ids) }

// SetStats seeds the ranking with figures from a previous run (Stats as the
// cache stored them). Entries for farmers not in the network are ignored; a
// farmer listed as down is asked last until it answers or one DownBackoff
// passes. A non-empty Region is taken until the farmer's Info says
// otherwise.
func (n *Network) SetStats(stats []FarmerStats) { n.rank.setStats(stats) }

// SetExcluded replaces the set of excluded farmers: those suspended,
// disqualified or being removed. Place and PlaceAvoiding never give them a
// shard; Fetch still reads from them, after every farmer that is not
// excluded and not down. IDs not (yet) in the network are kept, so a
// farmer added later is excluded from the start. nil excludes nobody.
func (n *Network) SetExcluded(ids []format.NodeID) { n.rank.setExcluded(ids) }

// Excluded returns the farmers SetExcluded excluded, in node ID order.
func (n *Network) Excluded() []format.NodeID { return n.rank.excludedIDs() }

// Close closes every farmer's client. The Network must not be used after.
func (n *Network) Close() {
	set := n.farmers()
	for _, id := range set.ids {
		set.peers[id].conn.Close()
	}
}

// Probe asks every farmer for its Info in parallel and records the latency,
// or the failure, in the ranking, and the region each declares. It returns
// when every call has ended or ctx is done.
func (n *Network) Probe(ctx context.Context) {
	set := n.farmers()
	var wg sync.WaitGroup
	for _, id := range set.ids {
		p := set.peers[id]
		wg.Go(func() {
			if _, err := n.info(ctx, p); err != nil && ctx.Err() == nil {
				n.log.Debug("probe failed", "farmer", p.id, "err", err)
			}
		})
	}
	wg.Wait()
}

// FarmerInfo asks one farmer for its Info (one call, ranked like a probe):
// its space, its region and its accounting of this account, for the client
// to compare with its own ledger.
func (n *Network) FarmerInfo(ctx context.Context, farmer format.NodeID) (format.Info, error) {
	p := n.farmers().peers[farmer]
	if p == nil {
		return format.Info{}, fmt.Errorf("farmer info: %w: %s", ErrUnknownFarmer, farmer)
	}
	info, err := n.info(ctx, p)
	if err != nil {
		return format.Info{}, fmt.Errorf("farmer info %s: %w", farmer, err)
	}
	return info, nil
}

// info makes one Info call to p and notes the region it declares and
// whether it is nearly full.
func (n *Network) info(ctx context.Context, p *peer) (format.Info, error) {
	var info format.Info
	err := n.call(ctx, p, callInfo, 0, 0, func(ctx context.Context) (int64, error) {
		var err error
		info, err = p.conn.Info(ctx)
		return 0, err
	})
	if err != nil {
		return format.Info{}, err
	}
	region, err := infoRegion(info)
	if err != nil {
		n.log.Warn("farmer declares a bad region; treated as none", "farmer", p.id, "err", err)
	}
	n.rank.setRegion(p.id, region)
	if info.Capacity > 0 && info.Free < lowFreeSpace(info) {
		// Nearly full: ask it last for uploads rather than learn it from
		// a refused put.
		n.rank.setFull(p.id)
	}
	return info, nil
}

// lowFreeSpace is the free space under which a farmer is treated as full:
// room for fewer than four of its largest shards (at least 64 MiB).
func lowFreeSpace(info format.Info) int64 {
	return max(4*info.MaxShardSize, 64<<20)
}

// Delete removes the shard root from one farmer, retrying transient errors
// up to Retries times. A shard the farmer does not have is reported as
// format.ErrNotFound, which callers collecting garbage can treat as done.
func (n *Network) Delete(ctx context.Context, farmer format.NodeID, root merkle.Root) error {
	p := n.farmers().peers[farmer]
	if p == nil {
		return fmt.Errorf("delete shard %s: %w: %s", root, ErrUnknownFarmer, farmer)
	}
	var err error
	for range 1 + n.cfg.Retries {
		err = n.call(ctx, p, callDelete, 0, 0, func(ctx context.Context) (int64, error) {
			return 0, p.conn.DeleteShard(ctx, root)
		})
		if err == nil || !transient(ctx, callDelete, err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("delete shard %s from farmer %s: %w", root, farmer, err)
	}
	return nil
}

// callKind says which call an error came from; the same error can mean
// different things (a hash mismatch on a read is the farmer's lie, on a
// put the farmer's refusal).
type callKind int

const (
	callInfo callKind = iota
	callPut
	callGet
	callDelete
	callPutRoot
	callGetRoot
	callAudit // a GetShard of one leaf as a storage challenge (audit.go)
)

// timeout is how long one call of kind may take at a farmer.
func (n *Network) timeout(kind callKind) time.Duration {
	if kind == callAudit {
		return n.cfg.AuditTimeout
	}
	return n.cfg.RequestTimeout
}

// call runs op against farmer p and records how it went. It holds one of
// p's slots and, when weight > 0, weight bytes of the upload budget, and
// bounds op by RequestTimeout (AuditTimeout for audits). size is the bytes the call is expected to
// move; op returns the bytes it did move. Only the time op runs is
// measured, not the wait for a slot or budget.
func (n *Network) call(ctx context.Context, p *peer, kind callKind, size, weight int64, op func(context.Context) (int64, error)) error {
	if err := p.slots.Acquire(ctx, 1); err != nil {
		return err
	}
	defer p.slots.Release(1)
	if weight > 0 {
		weight = min(weight, n.cfg.MaxInflightBytes)
		if err := n.budget.Acquire(ctx, weight); err != nil {
			return err
		}
		defer n.budget.Release(weight)
	}
	cctx, cancel := context.WithTimeout(ctx, n.timeout(kind))
	defer cancel()
	start := n.rank.now()
	moved, err := op(cctx)
	d := n.rank.now().Sub(start)
	if err == nil {
		size = moved
		n.traffic.count(kind, moved)
		n.rank.moved(p.id, kind, moved)
	}
	out := classify(ctx, kind, err)
	n.rank.record(p.id, out, d, size, err)
	if out == outcomeBadData {
		n.log.Warn("farmer returned data that failed verification", "farmer", p.id, "err", err)
	}
	return err
}

// classify maps a call's error to its outcome for the ranking. ctx is the
// operation's context, not the call's: when it has ended, the failure is
// ours. A per-call timeout is the farmer's.
func classify(ctx context.Context, kind callKind, err error) outcome {
	switch {
	case err == nil:
		return outcomeOK
	case ctx.Err() != nil:
		return outcomeCanceled
	case errors.Is(err, format.ErrFarmerFull), errors.Is(err, format.ErrQuotaExceeded):
		return outcomeFull
	case (kind == callGet || kind == callAudit) && (errors.Is(err, merkle.ErrProof) || errors.Is(err, format.ErrHashMismatch)):
		return outcomeBadData
	case kind == callAudit && errors.Is(err, merkle.ErrRange):
		return outcomeRefused // an audit asks a leaf the root says exists: "no such range" is a lie
	case errors.Is(err, merkle.ErrRange):
		return outcomeAnswered // we asked for bytes the shard does not have
	case kind == callDelete && errors.Is(err, format.ErrNotFound):
		return outcomeAnswered // already gone: garbage collection repeats itself after a crash
	case kind == callGetRoot && errors.Is(err, format.ErrNotFound):
		return outcomeAnswered // a farmer that never got a root (new to the drive)
	case kind == callPutRoot && errors.Is(err, format.ErrConflict):
		return outcomeAnswered // the farmer has this version or a later one: the farmer working as told
	case kind == callGetRoot && errors.Is(err, format.ErrMalformed):
		return outcomeBadData // no version, or a record no client could have stored
	case errors.Is(err, format.ErrInternal), errors.Is(err, format.ErrUnavailable):
		return outcomeFailed // an answer, but one saying the farmer is broken or going away
	case isAnswer(err):
		return outcomeRefused
	}
	return outcomeFailed // no answer: network error, timeout, garbage
}

// refusals are the sentinels a farmer answers with (or the farmer client
// concludes from an answer) that asking again will not change.
var refusals = []error{
	format.ErrBadRequest, format.ErrUnsigned, format.ErrBadSignature, format.ErrExpired,
	format.ErrReplay, format.ErrWrongFarmer, format.ErrForbidden, format.ErrNotFound,
	format.ErrMethodNotAllowed, format.ErrTooLarge, format.ErrHashMismatch, format.ErrCorrupt, format.ErrConflict,
	merkle.ErrProof, merkle.ErrCorrupt, merkle.ErrVersion,
}

// isAnswer reports whether err is a well-formed answer from the farmer
// rather than the lack of one.
func isAnswer(err error) bool {
	if fe := (*format.Error)(nil); errors.As(err, &fe) {
		return true
	}
	for _, r := range refusals {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// transient reports whether asking the same farmer again might succeed:
// the call got no answer (or a server error) and the operation is still
// wanted.
func transient(ctx context.Context, kind callKind, err error) bool {
	return classify(ctx, kind, err) == outcomeFailed
}

// infoRegion returns the region info declares: "" for none, and for a
// label format.CheckRegion refuses (with its error), which then never
// reaches a log line or a table.
func infoRegion(info format.Info) (string, error) {
	if err := format.CheckRegion(info.Region); err != nil {
		return "", err
	}
	return info.Region, nil
}

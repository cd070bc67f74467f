package netclient

// Network: talking to many farmers at once.
//
// A Network holds one client per farmer and decides which farmers to ask,
// how many at a time and when to give up on one. Its operations are Place
// (store the shards of one block on distinct farmers), Fetch (get any k
// verified pieces of a block, nearest first), Delete, Probe, and PutRoot
// and GetRoots for the root record every farmer keeps (network_root.go).
// It owns no background goroutine: every operation starts its goroutines,
// cancels and waits for them before it returns, so a Network needs no
// lifecycle beyond Close.
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
//   - cost: the time a call is expected to take at a farmer, its EWMA
//     latency plus the bytes over its EWMA throughput, multiplied by
//     1+4×(bad answers / answers) so that a farmer caught lying stays behind
//     honest ones. Calls moving under 64 KiB (and Info probes) are latency
//     samples; larger ones are throughput samples. A farmer never measured
//     gets the mean of the measured ones: a neutral score.
//
// Ranking. Farmers are ordered healthy, then full (uploads only), then down
// (soonest back first); within a group by cost; ties by node ID, so the
// order is deterministic for equal figures. Figures live in memory; the
// cache persists Stats and seeds the next run with SetStats.
//
// Place. Shard i first goes to the i-th best farmer for uploads. When a put
// fails, that shard moves on to the best farmer not yet used for this
// block, so no farmer ever receives two shards of one block; a farmer that
// failed stays reserved to the shard that tried it, which may try it again
// only when no unused farmer is left and the error was transient (not full,
// over quota or rejected). Each shard gets 1+Retries attempts. Place does
// not stop at minOK: it places every shard it can, and returns the
// placements made even with ErrNotEnoughFarmers so the caller can delete
// them.
//
// Fetch. Locations are ordered by cost for the requested length and the
// first k+ExtraReads requests start at once. Another starts as soon as one
// fails, and one more each time HedgeDelay passes without an answer (a slow
// farmer). As soon as k distinct shards are in, the rest are canceled: the
// slow tail sees its context end, which is not held against it except that
// a call cut off after longer than its farmer's expected time raises that
// farmer's latency. A location whose error was transient is retried only
// after every other location was started. Verification is the farmer
// client's job (GetShard checks the Merkle proof); a verification error is
// bad data, penalised as above, and the piece is fetched elsewhere.
//
// Concurrency. Goroutines: one per shard in Place, one per request in
// Fetch, one per farmer in Probe, PutRoot and GetRoots; each operation waits for its own before
// returning, and their stop path is the operation's context (Fetch cancels
// its own on return, which is how the slow tail ends). Fetch's results
// travel on a channel sized to the most requests it can start, so a
// straggler finishing after Fetch decided never blocks; Place's goroutines
// each write their own result slot. The ranker's mutex guards only figures
// and is never held across a call; a call takes its farmer's slot, then its
// upload bytes, and releases both itself.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

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
)

// farmerConn is what the Network needs of one farmer: the shard calls, the
// root record slot, a cheap call to measure it with, and its identity.
// *FarmerClient is the implementation; tests use in-memory fakes.
type farmerConn interface {
	shardStore
	rootStore
	Address() format.Address
	Info(ctx context.Context) (format.Info, error)
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

// Network talks to a fixed set of farmers. It is safe for concurrent use.
type Network struct {
	cfg    NetworkConfig
	log    *slog.Logger
	ids    []format.NodeID // in construction order; immutable
	peers  map[format.NodeID]*peer
	budget *semaphore.Weighted // upload bytes in flight, MaxInflightBytes
	rank   *ranker
	// traffic counts the payload bytes of successful calls (traffic.go).
	traffic traffic
}

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
		peers:  make(map[format.NodeID]*peer, len(conns)),
		budget: semaphore.NewWeighted(cfg.MaxInflightBytes),
	}
	addrs := make([]format.Address, len(conns))
	for i, c := range conns {
		a := c.Address()
		if _, dup := n.peers[a.ID]; dup {
			return nil, fmt.Errorf("netclient: new network: farmer %s listed twice", a.ID)
		}
		addrs[i] = a
		n.ids = append(n.ids, a.ID)
		n.peers[a.ID] = &peer{id: a.ID, conn: c, slots: semaphore.NewWeighted(int64(cfg.MaxInflightPerFarmer))}
	}
	n.rank = newRanker(cfg, addrs)
	return n, nil
}

// Farmers returns the node IDs of the network's farmers, in the order they
// were given to NewNetwork.
func (n *Network) Farmers() []format.NodeID { return slices.Clone(n.ids) }

// Stats returns what was measured of every farmer, best first.
func (n *Network) Stats() []FarmerStats { return n.rank.stats(n.ids) }

// SetStats seeds the ranking with figures from a previous run (Stats as the
// cache stored them). Entries for farmers not in the network are ignored; a
// farmer listed as down is asked last until it answers or one DownBackoff
// passes.
func (n *Network) SetStats(stats []FarmerStats) { n.rank.setStats(stats) }

// Close closes every farmer's client. The Network must not be used after.
func (n *Network) Close() {
	for _, id := range n.ids {
		n.peers[id].conn.Close()
	}
}

// Probe asks every farmer for its Info in parallel and records the latency,
// or the failure, in the ranking. It returns when every call has ended or
// ctx is done.
func (n *Network) Probe(ctx context.Context) {
	var wg sync.WaitGroup
	for _, id := range n.ids {
		p := n.peers[id]
		wg.Go(func() {
			err := n.call(ctx, p, callInfo, 0, 0, func(ctx context.Context) (int64, error) {
				_, err := p.conn.Info(ctx)
				return 0, err
			})
			if err != nil && ctx.Err() == nil {
				n.log.Debug("probe failed", "farmer", p.id, "err", err)
			}
		})
	}
	wg.Wait()
}

// Delete removes the shard root from one farmer, retrying transient errors
// up to Retries times. A shard the farmer does not have is reported as
// format.ErrNotFound, which callers collecting garbage can treat as done.
func (n *Network) Delete(ctx context.Context, farmer format.NodeID, root merkle.Root) error {
	p := n.peers[farmer]
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
)

// call runs op against farmer p and records how it went. It holds one of
// p's slots and, when weight > 0, weight bytes of the upload budget, and
// bounds op by RequestTimeout. size is the bytes the call is expected to
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
	cctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	start := n.rank.now()
	moved, err := op(cctx)
	d := n.rank.now().Sub(start)
	if err == nil {
		size = moved
		n.traffic.count(kind, moved)
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
	case kind == callGet && (errors.Is(err, merkle.ErrProof) || errors.Is(err, format.ErrHashMismatch)):
		return outcomeBadData
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

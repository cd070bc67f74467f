package netclient

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// fakeFarmer is an in-memory farmer behind the farmerConn interface. It can
// be down, full, lying, hanging or gated, and it counts what it was asked
// and how many calls it had in flight at once.
type fakeFarmer struct {
	addr  format.Address
	meter *byteMeter // shared by the fakes of one test; may be nil

	mu      sync.Mutex // guards every field below
	shards  map[merkle.Root][]byte
	root    []byte        // the root record, nil for none
	rootV   uint64        // its version
	down    bool          // calls fail without an answer
	failN   int           // the next failN calls fail without an answer
	full    bool          // puts answer "farmer full"
	corrupt bool          // gets fail verification, as FarmerClient reports wrong bytes (roots: a garbled answer)
	hang    bool          // calls block until their context ends
	region  string        // the region Info declares
	gate    chan struct{} // when non-nil, calls wait for it to be closed
	entered chan struct{} // when non-nil, closed by the first call to begin
	ctxErrs []error       // context errors of calls that ended because their context did
	closed  bool

	inflight, maxInflight int // calls in flight now and at most

	puts, gets, deletes, infos int // calls begun
	rootPuts, rootGets         int
}

// byteMeter counts upload bytes in flight across fakes.
type byteMeter struct {
	mu       sync.Mutex // guards cur and max
	cur, max int64
}

func (m *byteMeter) add(n int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur += n
	m.max = max(m.max, m.cur)
}

func (m *byteMeter) peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max
}

var _ farmerConn = (*fakeFarmer)(nil)

func newFakes(n int) []*fakeFarmer {
	out := make([]*fakeFarmer, n)
	for i := range out {
		var id format.NodeID
		id[0] = byte(i + 1)
		out[i] = &fakeFarmer{
			addr:   format.Address{ID: id, Host: fmt.Sprintf("fake%d.test:443", i)},
			shards: make(map[merkle.Root][]byte),
		}
	}
	return out
}

// set changes a fake's behaviour under its lock.
func (f *fakeFarmer) set(change func(f *fakeFarmer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// read reads a fake's state under its lock.
func read[T any](f *fakeFarmer, get func(f *fakeFarmer) T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return get(f)
}

// answer turns a sentinel into what FarmerClient returns for a farmer's
// error answer: the wire round trip of format.
func answer(err error) error {
	status, body := format.EncodeError(err)
	return format.ErrorFromResponse(status, body)
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// begin counts a call to op and plays the fake's failure modes; the caller
// must call end once begin returned.
func (f *fakeFarmer) begin(ctx context.Context, op *int) error {
	f.mu.Lock()
	*op++
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	if f.entered != nil {
		close(f.entered)
		f.entered = nil
	}
	hang, gate := f.hang, f.gate
	fail := f.down || f.failN > 0
	if f.failN > 0 {
		f.failN--
	}
	f.mu.Unlock()

	if hang {
		<-ctx.Done()
	} else if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	if err := ctx.Err(); err != nil {
		f.mu.Lock()
		f.ctxErrs = append(f.ctxErrs, err)
		f.mu.Unlock()
		return err
	}
	if fail {
		return errRefused
	}
	return nil
}

func (f *fakeFarmer) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
}

func (f *fakeFarmer) Address() format.Address { return f.addr }

func (f *fakeFarmer) Info(ctx context.Context) (format.Info, error) {
	defer f.end()
	if err := f.begin(ctx, &f.infos); err != nil {
		return format.Info{}, err
	}
	return format.Info{NodeID: f.addr.ID, Region: f.region}, nil
}

func (f *fakeFarmer) PutShard(ctx context.Context, root merkle.Root, data []byte) error {
	f.meter.add(int64(len(data)))
	defer f.meter.add(-int64(len(data)))
	defer f.end()
	if err := f.begin(ctx, &f.puts); err != nil {
		return err
	}
	if merkle.RootOf(data) != root {
		return answer(format.ErrHashMismatch)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.full {
		return answer(format.ErrFarmerFull)
	}
	f.shards[root] = slices.Clone(data)
	return nil
}

func (f *fakeFarmer) GetShard(ctx context.Context, root merkle.Root, off, n int64) ([]byte, error) {
	defer f.end()
	if err := f.begin(ctx, &f.gets); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.shards[root]
	switch {
	case !ok:
		return nil, answer(format.ErrNotFound)
	case f.corrupt:
		return nil, fmt.Errorf("get shard %s: %w", root, merkle.ErrProof)
	case n < 0:
		n = int64(len(data)) - off
	}
	if off > int64(len(data)) || n > int64(len(data))-off {
		return nil, fmt.Errorf("get shard %s: %w", root, merkle.ErrRange)
	}
	return slices.Clone(data[off : off+n]), nil
}

// getShardBody counts a body of the data plus one 32-byte hash of proof,
// as if the shard were two leaves.
func (f *fakeFarmer) getShardBody(ctx context.Context, root merkle.Root, off, n int64) ([]byte, int64, error) {
	data, err := f.GetShard(ctx, root, off, n)
	if err != nil {
		return nil, 0, err
	}
	return data, int64(len(data)) + 32, nil
}

func (f *fakeFarmer) DeleteShard(ctx context.Context, root merkle.Root) error {
	defer f.end()
	if err := f.begin(ctx, &f.deletes); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.shards[root]; !ok {
		return answer(format.ErrNotFound)
	}
	delete(f.shards, root)
	return nil
}

func (f *fakeFarmer) PutRoot(ctx context.Context, version uint64, record []byte) error {
	defer f.end()
	if err := f.begin(ctx, &f.rootPuts); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if version <= f.rootV {
		return &RootConflict{Farmer: f.addr.ID, Stored: f.rootV}
	}
	f.root, f.rootV = slices.Clone(record), version
	return nil
}

func (f *fakeFarmer) GetRoot(ctx context.Context) (uint64, []byte, error) {
	defer f.end()
	if err := f.begin(ctx, &f.rootGets); err != nil {
		return 0, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.root == nil:
		return 0, nil, answer(format.ErrNotFound)
	case f.corrupt:
		return 0, nil, fmt.Errorf("get root: %w: no version header", format.ErrMalformed)
	}
	return f.rootV, slices.Clone(f.root), nil
}

func (f *fakeFarmer) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// testNetworkConfig is NewNetworkConfig with hedging out of the way, so
// that only the tests about hedging see it.
func testNetworkConfig() NetworkConfig {
	cfg := NewNetworkConfig()
	cfg.HedgeDelay = time.Hour
	return cfg
}

func newTestNetwork(tb testing.TB, cfg NetworkConfig, fakes []*fakeFarmer) *Network {
	tb.Helper()
	conns := make([]farmerConn, len(fakes))
	for i, f := range fakes {
		conns[i] = f
	}
	logger := slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := newNetwork(cfg, conns, logger)
	if err != nil {
		tb.Fatalf("newNetwork: %v", err)
	}
	tb.Cleanup(n.Close)
	return n
}

// seedLatency gives fake i the latency lats[i] in milliseconds.
func seedLatency(n *Network, fakes []*fakeFarmer, lats ...int) {
	var stats []FarmerStats
	for i, ms := range lats {
		stats = append(stats, FarmerStats{ID: fakes[i].addr.ID, Latency: time.Duration(ms) * time.Millisecond})
	}
	n.SetStats(stats)
}

// testShards returns count random shards of size bytes and their roots.
func testShards(seed uint64, count, size int) ([][]byte, []merkle.Root) {
	rng := rand.New(rand.NewPCG(seed, 1))
	shards := make([][]byte, count)
	roots := make([]merkle.Root, count)
	for i := range shards {
		shards[i] = make([]byte, size)
		for j := range shards[i] {
			shards[i][j] = byte(rng.Uint32())
		}
		roots[i] = merkle.RootOf(shards[i])
	}
	return shards, roots
}

// store puts shard i on fakes[i] directly and returns the locations.
func store(fakes []*fakeFarmer, shards [][]byte, roots []merkle.Root) []ShardLoc {
	locs := make([]ShardLoc, len(shards))
	for i := range shards {
		fakes[i].set(func(f *fakeFarmer) { f.shards[roots[i]] = slices.Clone(shards[i]) })
		locs[i] = ShardLoc{Shard: i, Root: roots[i], Farmer: fakes[i].addr.ID}
	}
	return locs
}

func statsOf(n *Network, id format.NodeID) FarmerStats {
	for _, s := range n.Stats() {
		if s.ID == id {
			return s
		}
	}
	return FarmerStats{}
}

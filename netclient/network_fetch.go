package netclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// minHedgeDelay is the shortest adaptive hedge delay: below it, timer noise
// would start extra requests for nothing.
const minHedgeDelay = 10 * time.Millisecond

// ShardLoc says that shard Shard of a block, with content address Root, is
// stored on farmer Farmer. A shard may have several locations.
type ShardLoc struct {
	Shard  int
	Root   merkle.Root
	Farmer format.NodeID
}

// Fetch gets the byte range [off, off+length) of at least k distinct shards
// (length < 0: to the end of each shard) from the locations given, nearest
// first (see the policies at the top of network.go). pieces[i] is shard i's
// range, verified against its root, or nil; len(pieces) is one more than
// the highest shard index in locs. If fewer than k shards could be fetched
// the error wraps ErrNotEnoughShards and every failed request's error.
func (n *Network) Fetch(ctx context.Context, locs []ShardLoc, k int, off, length int64) ([][]byte, error) {
	if k < 1 {
		return nil, fmt.Errorf("netclient: fetch: k %d, want at least 1", k)
	}
	if off < 0 {
		return nil, fmt.Errorf("netclient: fetch: offset %d below 0", off)
	}
	f := &fetcher{n: n, set: n.farmers(), k: k, off: off, length: length}
	shards := make(map[int]bool)
	var ids []format.NodeID
	for _, l := range locs {
		if l.Shard < 0 {
			return nil, fmt.Errorf("netclient: fetch: shard index %d below 0", l.Shard)
		}
		f.npieces = max(f.npieces, l.Shard+1)
		if f.set.peers[l.Farmer] == nil {
			f.errs = append(f.errs, fmt.Errorf("get shard %d from farmer %s: %w", l.Shard, l.Farmer, ErrUnknownFarmer))
			continue
		}
		shards[l.Shard] = true
		f.locs = append(f.locs, l)
		ids = append(ids, l.Farmer)
	}
	if len(shards) < k {
		f.errs = append(f.errs, fmt.Errorf("%d distinct shards located on known farmers", len(shards)))
		return nil, f.failure()
	}
	keys := n.rank.keys(ids, max(length, 0), false)
	slices.SortStableFunc(f.locs, func(a, b ShardLoc) int {
		if c := compareKeys(keys[a.Farmer], keys[b.Farmer]); c != 0 {
			return c
		}
		return cmp.Compare(a.Shard, b.Shard)
	})
	return f.run(ctx)
}

// fetcher is the state of one Fetch. Only the goroutine running Fetch
// touches it, except results, wg and the fields set before run.
type fetcher struct {
	n           *Network
	set         *farmerSet // the farmers when Fetch began
	k           int
	off, length int64
	locs        []ShardLoc // best first
	npieces     int

	results chan fetchResult // capacity: every request run can start
	wg      sync.WaitGroup   // request goroutines
	next    int              // locs[:next] were started at least once
	retry   []int            // locations whose last error was transient, oldest first
	tries   []int            // requests started per location
	pieces  [][]byte
	got     int // non-nil pieces
	running int // requests started and not yet received from results
	errs    []error
}

type fetchResult struct {
	loc  int
	data []byte
	err  error
}

func (f *fetcher) run(parent context.Context) ([][]byte, error) {
	ctx, cancel := context.WithCancel(parent)
	defer func() {
		cancel() // the slow tail
		f.wg.Wait()
	}()
	f.pieces = make([][]byte, f.npieces)
	f.tries = make([]int, len(f.locs))
	f.results = make(chan fetchResult, len(f.locs)*(1+f.n.cfg.Retries))
	target := f.k + f.n.cfg.ExtraReads
	for f.running < target && f.start(ctx) {
	}
	hedge := f.hedgeDelay()
	timer := time.NewTimer(hedge)
	defer timer.Stop()
	for f.got < f.k {
		if parent.Err() != nil {
			return nil, fmt.Errorf("fetch: %w", parent.Err())
		}
		if f.running == 0 && !f.start(ctx) {
			return nil, f.failure()
		}
		select {
		case r := <-f.results:
			f.running--
			f.collect(parent, r)
			for f.got < f.k && f.got+f.running < target && f.start(ctx) {
			}
			timer.Reset(hedge)
		case <-timer.C:
			f.start(ctx) // a slow farmer: ask one more
			timer.Reset(hedge)
		case <-parent.Done():
			return nil, fmt.Errorf("fetch: %w", parent.Err())
		}
	}
	return f.pieces, nil
}

// start starts a request to the best location not tried yet or, when every
// location was tried, retries the oldest transient failure. It skips
// locations of shards already fetched, and reports whether it started one.
func (f *fetcher) start(ctx context.Context) bool {
	for {
		var i int
		switch {
		case f.next < len(f.locs):
			i = f.next
			f.next++
		case len(f.retry) > 0:
			i, f.retry = f.retry[0], f.retry[1:]
		default:
			return false
		}
		loc := f.locs[i]
		if f.pieces[loc.Shard] != nil {
			continue
		}
		p := f.set.peers[loc.Farmer]
		f.tries[i]++
		f.running++
		f.wg.Go(func() {
			var data []byte
			err := f.n.call(ctx, p, callGet, max(f.length, 0), 0, func(ctx context.Context) (int64, error) {
				var err error
				data, err = p.conn.GetShard(ctx, loc.Root, f.off, f.length)
				return int64(len(data)), err
			})
			f.results <- fetchResult{loc: i, data: data, err: err}
		})
		return true
	}
}

// collect files one request's result.
func (f *fetcher) collect(ctx context.Context, r fetchResult) {
	loc := f.locs[r.loc]
	if r.err == nil {
		if f.pieces[loc.Shard] == nil {
			f.pieces[loc.Shard] = r.data
			f.got++
		}
		return
	}
	f.errs = append(f.errs, fmt.Errorf("get shard %d from farmer %s: %w", loc.Shard, loc.Farmer, r.err))
	f.n.log.Debug("get shard failed", "shard", loc.Shard, "farmer", loc.Farmer, "err", r.err)
	if f.tries[r.loc] <= f.n.cfg.Retries && transient(ctx, callGet, r.err) {
		f.retry = append(f.retry, r.loc)
	}
}

// hedgeDelay is HedgeDelay or, when that is 0, twice the expected time of
// the k-th best location: about when the k-th answer is overdue.
func (f *fetcher) hedgeDelay() time.Duration {
	if d := f.n.cfg.HedgeDelay; d > 0 {
		return d
	}
	kth := f.locs[min(f.k, len(f.locs))-1]
	d := 2 * f.n.rank.expected(kth.Farmer, max(f.length, 0))
	return min(max(d, minHedgeDelay), f.n.cfg.RequestTimeout)
}

func (f *fetcher) failure() error {
	return fmt.Errorf("%w: got %d of %d needed: %w", ErrNotEnoughShards, f.got, f.k, errors.Join(f.errs...))
}

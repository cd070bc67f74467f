package netclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Placement says that shard Shard of a block is stored on farmer Farmer.
type Placement struct {
	Shard  int
	Farmer format.NodeID
}

// claims hands the farmers of one Place call out to its shards, best first,
// each farmer to at most one shard. A farmer stays with the shard that took
// it even when the put failed, so that no farmer can end up with two shards
// of the block.
type claims struct {
	mu    sync.Mutex // guards next
	cands []*peer    // best first for this block's uploads; immutable
	next  int        // cands[:next] are taken
}

// take returns the best farmer not yet taken, or nil when none is left.
func (c *claims) take() *peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == len(c.cands) {
		return nil
	}
	p := c.cands[c.next]
	c.next++
	return p
}

// Place stores shard i, whose content address is roots[i], on a farmer, each
// shard on a different farmer that holds no other shard of this call. It
// prefers healthy, fast farmers; when a put fails, or the farmer is full or
// over quota, the shard moves to the best farmer not yet used (see the
// policies at the top of this file). It returns the placements made,
// ordered by shard. If fewer than minOK shards were placed the error wraps
// ErrNotEnoughFarmers and every failed attempt's error, and the placements
// that did succeed are still returned so the caller can delete them.
func (n *Network) Place(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int) ([]Placement, error) {
	if len(shards) != len(roots) {
		return nil, fmt.Errorf("netclient: place: %d shards but %d roots", len(shards), len(roots))
	}
	if minOK < 0 || minOK > len(shards) {
		return nil, fmt.Errorf("netclient: place: minOK %d not in [0, %d]", minOK, len(shards))
	}
	var size int
	for _, s := range shards {
		size = max(size, len(s))
	}
	c := &claims{}
	for _, id := range n.rank.order(n.ids, int64(size), true) {
		c.cands = append(c.cands, n.peers[id])
	}
	// Hand out first choices in shard order, before any goroutine runs, so
	// that shard i goes to the i-th best farmer when all is well.
	firsts := make([]*peer, len(shards))
	for i := range firsts {
		firsts[i] = c.take()
	}

	type result struct {
		farmer format.NodeID
		ok     bool
		errs   []error
	}
	results := make([]result, len(shards)) // element i is written only by shard i's goroutine
	var wg sync.WaitGroup
	for i := range shards {
		wg.Go(func() {
			id, ok, errs := n.placeOne(ctx, c, firsts[i], i, shards[i], roots[i])
			results[i] = result{id, ok, errs}
		})
	}
	wg.Wait()

	var placed []Placement
	var errs []error
	for i, r := range results {
		if r.ok {
			placed = append(placed, Placement{Shard: i, Farmer: r.farmer})
		}
		errs = append(errs, r.errs...)
	}
	if len(placed) < minOK {
		return placed, fmt.Errorf("%w: placed %d of %d shards on %d farmers, need %d: %w",
			ErrNotEnoughFarmers, len(placed), len(shards), len(n.ids), minOK, errors.Join(errs...))
	}
	return placed, nil
}

// placeOne puts one shard, starting with farmer p (nil when no farmer was
// left for it), and returns where it landed and the errors on the way.
func (n *Network) placeOne(ctx context.Context, c *claims, p *peer, shard int, data []byte, root merkle.Root) (format.NodeID, bool, []error) {
	if p == nil {
		return format.NodeID{}, false, []error{fmt.Errorf("put shard %d: every farmer already holds a shard of this block", shard)}
	}
	size := int64(len(data))
	var errs []error
	for attempt := 0; ; attempt++ {
		err := n.call(ctx, p, callPut, size, size, func(ctx context.Context) (int64, error) {
			return size, p.conn.PutShard(ctx, root, data)
		})
		if err == nil {
			return p.id, true, errs
		}
		errs = append(errs, fmt.Errorf("put shard %d on farmer %s: %w", shard, p.id, err))
		n.log.Debug("put shard failed", "shard", shard, "farmer", p.id, "attempt", attempt+1, "err", err)
		if attempt == n.cfg.Retries || ctx.Err() != nil {
			return format.NodeID{}, false, errs
		}
		next := c.take()
		if next == nil && !transient(ctx, callPut, err) {
			return format.NodeID{}, false, errs
		}
		if next != nil {
			p = next
		}
	}
}

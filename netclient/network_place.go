package netclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Placement says that shard Shard of a block is stored on farmer Farmer.
type Placement struct {
	Shard  int
	Farmer format.NodeID
}

// claims hands the farmers of one placement out to its shards, each
// farmer to at most one shard. A farmer stays with the shard that took it
// even when the put failed, so that no farmer can end up with two shards
// of the block. Among the farmers left, take prefers (in this order) the
// better tier, a region with fewer shards of this block, the better rank
// (see the policies at the top of network.go).
type claims struct {
	cands []rankKey               // best first for this block's uploads; immutable
	peers map[format.NodeID]*peer // the peer of each candidate; immutable

	mu    sync.Mutex     // guards taken and used
	taken []bool         // taken[i]: cands[i] went to a shard
	used  map[string]int // shards of this block per declared region: on avoided farmers or being put
}

// newClaims ranks the farmers of set that may get a shard of this block:
// every one not excluded and not in avoid. The regions of the avoided
// farmers count as used.
func (n *Network) newClaims(set *farmerSet, size int64, avoid []format.NodeID) *claims {
	c := &claims{peers: set.peers, used: make(map[string]int)}
	skip := make(map[format.NodeID]bool, len(avoid))
	for _, id := range avoid {
		if skip[id] || set.peers[id] == nil {
			continue
		}
		skip[id] = true
		if r := n.rank.region(id); r != "" {
			c.used[r]++
		}
	}
	ids := make([]format.NodeID, 0, len(set.ids))
	for _, id := range set.ids {
		if !skip[id] {
			ids = append(ids, id)
		}
	}
	keys := n.rank.keys(ids, size, true)
	for _, id := range ids {
		if k := keys[id]; !k.excluded {
			c.cands = append(c.cands, k)
		}
	}
	slices.SortFunc(c.cands, compareKeys)
	c.taken = make([]bool, len(c.cands))
	return c
}

// take gives up prev (nil for none), whose put failed, and returns the
// best farmer not yet taken, or nil when none is left. prev stays taken.
func (c *claims) take(prev *peer) *peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev != nil {
		c.releaseLocked(prev)
	}
	best := -1
	for i, k := range c.cands {
		if c.taken[i] {
			continue
		}
		if best < 0 || c.betterLocked(k, c.cands[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	c.taken[best] = true
	k := c.cands[best]
	if k.region != "" {
		c.used[k.region]++
	}
	return c.peers[k.id]
}

// betterLocked reports whether a should be taken before b, which comes
// earlier in cands: a better tier, or the same tier and fewer shards of
// the block in a's region. Farmers without a region never share one.
func (c *claims) betterLocked(a, b rankKey) bool {
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	return c.inRegionLocked(a) < c.inRegionLocked(b)
}

func (c *claims) inRegionLocked(k rankKey) int {
	if k.region == "" {
		return 0
	}
	return c.used[k.region]
}

// hold counts p's region again: the shard that gave p up tries it again.
func (c *claims) hold(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.region(p); r != "" {
		c.used[r]++
	}
}

// release stops counting p's region: the shard it held was not placed.
func (c *claims) release(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(p)
}

func (c *claims) releaseLocked(p *peer) {
	if r := c.region(p); r != "" {
		c.used[r]--
	}
}

// region is the region p had when the claims were made.
func (c *claims) region(p *peer) string {
	for _, k := range c.cands {
		if k.id == p.id {
			return k.region
		}
	}
	return ""
}

// Place is PlaceAvoiding with no farmer to avoid: the placement of a new
// block.
func (n *Network) Place(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int) ([]Placement, error) {
	return n.PlaceAvoiding(ctx, shards, roots, minOK, nil)
}

// PlaceAvoiding stores shard i, whose content address is roots[i], on a
// farmer, each shard on a different farmer that holds no other shard of
// this call, is not excluded (SetExcluded) and is not in avoid (repair
// passes the farmers holding the block's other shards; their regions count
// as used). It prefers healthy, fast farmers in regions this block does
// not use yet; when a put fails, or the farmer is full or over quota, the
// shard moves to the best farmer not yet used (see the policies at the top
// of network.go). It returns the placements made, ordered by shard. If
// fewer than minOK shards were placed the error wraps ErrNotEnoughFarmers
// and every failed attempt's error, and the placements that did succeed
// are still returned so the caller can delete them.
func (n *Network) PlaceAvoiding(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int, avoid []format.NodeID) ([]Placement, error) {
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
	c := n.newClaims(n.farmers(), int64(size), avoid)
	// Hand out first choices in shard order, before any goroutine runs, so
	// that the choice is deterministic when all is well.
	firsts := make([]*peer, len(shards))
	for i := range firsts {
		firsts[i] = c.take(nil)
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
		return placed, fmt.Errorf("%w: placed %d of %d shards on %d eligible farmers, need %d: %w",
			ErrNotEnoughFarmers, len(placed), len(shards), len(c.cands), minOK, errors.Join(errs...))
	}
	return placed, nil
}

// placeOne puts one shard, starting with farmer p (nil when no farmer was
// left for it), and returns where it landed and the errors on the way.
func (n *Network) placeOne(ctx context.Context, c *claims, p *peer, shard int, data []byte, root merkle.Root) (format.NodeID, bool, []error) {
	if p == nil {
		return format.NodeID{}, false, []error{fmt.Errorf("put shard %d: no eligible farmer left without a shard of this block", shard)}
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
			c.release(p)
			return format.NodeID{}, false, errs
		}
		next := c.take(p)
		if next == nil {
			if !transient(ctx, callPut, err) {
				return format.NodeID{}, false, errs
			}
			c.hold(p) // no one else: the same farmer again
			continue
		}
		p = next
	}
}

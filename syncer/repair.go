package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

// deadGarbageTries is how many failed deletions a shard on a farmer the
// drive gave up on gets before it is forgotten.
const deadGarbageTries = 5

// RepairReport is what one repair pass did.
type RepairReport struct {
	Blocks    int   // blocks repaired (at least one shard placed anew)
	Shards    int   // shards placed
	Bytes     int64 // shard bytes fetched and placed
	Failed    int   // blocks that could not be repaired this pass
	Remaining int   // blocks still below the threshold after the pass
	Lowest    int   // fewest healthy shards of any block left below (k+m if none)
}

// Repair rebuilds every block with fewer healthy shards than the drive's
// repair threshold, fewest first, and then finishes the removal of farmers
// that no longer hold anything. A block it cannot repair now (too few
// farmers answer, nowhere to place) is left for the next pass.
func (k *Keeper) Repair(ctx context.Context) (RepairReport, error) {
	k.round.Lock()
	defer k.round.Unlock()
	var rep RepairReport
	var threshold int
	if err := k.db.View(ctx, func(tx *cache.Tx) (err error) { threshold, err = tx.RepairThreshold(); return err }); err != nil {
		return rep, err
	}
	failed := make(map[cache.BlockRef]bool)
	var firstErr error
	for ctx.Err() == nil {
		var refs []cache.BlockRef
		if err := k.db.View(ctx, func(tx *cache.Tx) (err error) {
			refs, err = tx.BlocksBelow(threshold, k.cfg.RepairBatch+len(failed))
			return err
		}); err != nil {
			return rep, err
		}
		progress := false
		for _, r := range refs {
			key := cache.BlockRef{Ino: r.Ino, Index: r.Index}
			if failed[key] {
				continue
			}
			n, bytes, err := k.repairBlock(ctx, r)
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if err != nil {
				if !errors.Is(err, cache.ErrBlockChanged) {
					// One line per pass, not per block: with too few
					// farmers every block fails the same way.
					k.log.Debug("repair failed; will retry", "ino", r.Ino, "block", r.Index, "healthy", r.Healthy, "err", err)
					if rep.Failed == 0 {
						firstErr = err
					}
					rep.Failed++
				}
				failed[key] = true
				continue
			}
			if n > 0 {
				rep.Blocks++
				rep.Shards += n
				rep.Bytes += bytes
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	if rep.Failed > 0 {
		k.log.Warn("some blocks could not be repaired; will retry", "blocks", rep.Failed, "first error", firstErr)
	}
	k.mu.Lock()
	k.stats.ShardsRepaired += int64(rep.Shards)
	k.stats.RepairBytes += rep.Bytes
	k.mu.Unlock()
	err := k.db.Update(ctx, func(tx *cache.Tx) error {
		left, err := tx.BlocksBelow(threshold, 1<<30)
		if err != nil {
			return err
		}
		rep.Remaining = len(left)
		rep.Lowest = k.blocks.k + k.blocks.m
		if len(left) > 0 {
			rep.Lowest = left[0].Healthy
		}
		if _, err := tx.DropDeadGarbage(deadGarbageTries); err != nil {
			return err
		}
		return k.finishRemovals(tx)
	})
	return rep, err
}

// finishRemovals marks farmers being removed that hold nothing any more
// as removed.
func (k *Keeper) finishRemovals(tx *cache.Tx) error {
	hs, err := tx.Healths()
	if err != nil {
		return err
	}
	for _, h := range hs {
		if h.State == cache.StateRemoving && h.HeldShards == 0 {
			if err := tx.SetFarmerState(h.ID, cache.StateRemoved, "removed by the user; every shard moved off"); err != nil {
				return err
			}
			k.log.Info("farmer drained and removed", "farmer", h.Address)
		}
	}
	return nil
}

// repairBlock fetches k verified shards of one block, rebuilds the shards
// that are not healthy, places them on farmers holding no other shard of
// the block and commits the moves. The block's version, roots and sealed
// bytes stay the same: repair needs no key and rewrites nothing. It returns
// the shards placed and their bytes.
func (k *Keeper) repairBlock(ctx context.Context, ref cache.BlockRef) (int, int64, error) {
	b := k.blocks
	var blk cache.Block
	healthy := make(map[int]bool)
	err := k.db.View(ctx, func(tx *cache.Tx) (err error) {
		if blk, err = tx.Block(ref.Ino, ref.Index); err != nil {
			return err
		}
		for _, s := range blk.Shards {
			ok, err := tx.Healthy(s)
			if err != nil {
				return err
			}
			healthy[s.Index] = ok
		}
		return nil
	})
	if errors.Is(err, cache.ErrNotFound) {
		return 0, 0, cache.ErrBlockChanged
	}
	if err != nil {
		return 0, 0, err
	}
	if blk.DataShards != b.k || blk.ParityShards != b.m {
		return 0, 0, fmt.Errorf("%w: block coded %d+%d, drive is %d+%d", ErrDamaged, blk.DataShards, blk.ParityShards, b.k, b.m)
	}
	// Fetch from every listed shard, healthy or not: the network asks the
	// best first, and a shard found lost may still come back verified.
	var locs []netclient.ShardLoc
	var avoid []format.NodeID
	known := make(map[int]merkle.Root)
	for _, s := range blk.Shards {
		id, err := format.ParseNodeID(s.NodeID)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: shard %d: %w", ErrDamaged, s.Index, err)
		}
		if s.Index < 0 || s.Index >= b.k+b.m {
			return 0, 0, fmt.Errorf("%w: block names shard %d of %d", ErrDamaged, s.Index, b.k+b.m)
		}
		known[s.Index] = s.Root
		avoid = append(avoid, id)
		if healthy[s.Index] {
			locs = append(locs, netclient.ShardLoc{Shard: s.Index, Root: s.Root, Farmer: id})
		}
	}
	for _, s := range blk.Shards {
		if !healthy[s.Index] {
			id, _ := format.ParseNodeID(s.NodeID)
			locs = append(locs, netclient.ShardLoc{Shard: s.Index, Root: s.Root, Farmer: id})
		}
	}
	var need []int
	for i := range b.k + b.m {
		if !healthy[i] {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return 0, 0, nil
	}
	pieces, err := b.net.Fetch(ctx, locs, b.k, 0, -1)
	if err != nil {
		return 0, 0, fmt.Errorf("fetch shards: %w: %w", ErrUnavailable, err)
	}
	shards, err := k.rebuild(blk, pieces)
	if err != nil {
		return 0, 0, err
	}
	var out [][]byte
	var roots []merkle.Root
	for _, i := range need {
		r := merkle.RootOf(shards[i])
		if want, ok := known[i]; ok && r != want {
			// The k pieces verified against their roots, so this means the
			// metadata's roots disagree with each other.
			return 0, 0, fmt.Errorf("%w: rebuilt shard %d does not match its recorded root", ErrDamaged, i)
		}
		out = append(out, shards[i])
		roots = append(roots, r)
	}
	intents, err := journalIntents(ctx, k.db, roots)
	if err != nil {
		return 0, 0, err
	}
	placed, perr := k.net.PlaceAvoiding(ctx, out, roots, 1, avoid)
	var moved int
	var bytes int64
	err = k.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		keep := make(map[[32]byte]int64, len(placed))
		type move struct {
			shard int
			fid   int64
			root  merkle.Root
		}
		var moves []move
		var pending []int64
		for _, p := range placed {
			fid, ok := b.farmerID(p.Farmer)
			if !ok {
				return fmt.Errorf("shard placed on farmer %s, which the drive does not know", p.Farmer)
			}
			keep[roots[p.Shard]] = fid
			moves = append(moves, move{need[p.Shard], fid, roots[p.Shard]})
			id, err := tx.AddPending(fid, roots[p.Shard])
			if err != nil {
				return err
			}
			pending = append(pending, id)
		}
		if perr == nil && len(placed) == len(out) {
			if err := tx.DropIntents(intents...); err != nil {
				return err
			}
		} else if err := tx.IntentsToGarbage(intents, keep); err != nil {
			return err
		}
		// Commit the moves in a savepoint-free way: if the block changed,
		// the placed shards are garbage instead.
		for _, mv := range moves {
			if err := tx.MoveShard(blk.Ino, blk.Index, blk.Version, mv.shard, mv.root, mv.fid); err != nil {
				if errors.Is(err, cache.ErrBlockChanged) {
					return tx.PendingToGarbage(pending...)
				}
				return err
			}
			moved++
			bytes += int64(blk.ShardLen)
		}
		return tx.DropPending(pending...)
	})
	if err != nil {
		return 0, 0, err
	}
	if moved == 0 && perr != nil {
		return 0, 0, fmt.Errorf("place rebuilt shards: %w: %w", ErrUnavailable, perr)
	}
	if moved > 0 {
		k.log.Info("block repaired", "ino", blk.Ino, "block", blk.Index, "shards", moved, "healthy before", ref.Healthy)
	}
	return moved, bytes + int64(b.k*blk.ShardLen), nil
}

// rebuild returns all k+m shards of blk from the verified pieces (nil where
// missing): decode the sealed block, then code it again. Both steps are
// deterministic, so the rebuilt shards equal the ones first placed.
func (k *Keeper) rebuild(blk cache.Block, pieces [][]byte) ([][]byte, error) {
	c := k.blocks.codec.coder
	if len(pieces) < c.Total() {
		pieces = append(pieces, make([][]byte, c.Total()-len(pieces))...)
	}
	for i, p := range pieces {
		if p != nil && len(p) != blk.ShardLen {
			return nil, fmt.Errorf("%w: shard %d is %d bytes, metadata says %d", ErrDamaged, i, len(p), blk.ShardLen)
		}
	}
	sealed := make([]byte, blk.SealedLen)
	if err := c.DecodeTo(sealed, pieces); err != nil {
		return nil, fmt.Errorf("%w: erasure decode: %w", ErrDamaged, err)
	}
	if got := c.ShardSize(len(sealed)); got != blk.ShardLen {
		return nil, fmt.Errorf("%w: sealed block of %d bytes makes %d-byte shards, metadata says %d", ErrDamaged, len(sealed), got, blk.ShardLen)
	}
	shards := c.Alloc(len(sealed))
	if err := c.EncodeTo(shards, sealed); err != nil {
		return nil, fmt.Errorf("erasure-code block: %w", err)
	}
	return shards, nil
}

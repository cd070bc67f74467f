package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

var (
	// ErrDamaged means a block could not be rebuilt into authentic plaintext:
	// its shards, or the metadata pointing at them, were tampered with or lost.
	ErrDamaged = errors.New("block damaged")
	// ErrUnavailable means too few farmers answered to store or read a block.
	ErrUnavailable = errors.New("not enough farmers available")
)

// Network is what the syncer needs of the farmers.
type Network interface {
	Place(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int) ([]netclient.Placement, error)
	Fetch(ctx context.Context, locs []netclient.ShardLoc, k int, off, length int64) ([][]byte, error)
	Delete(ctx context.Context, farmer format.NodeID, root merkle.Root) error
}

// Blocks stores and loads the blocks of one drive.
type Blocks struct {
	db    *cache.DB
	net   Network
	codec *codec
	k, m  int
	log   *slog.Logger

	mu      sync.RWMutex            // guards farmers
	farmers map[format.NodeID]int64 // node ID -> farmers.id
}

// NewBlocks returns the block store of the drive whose metadata is db, over
// net. Every farmer net may place on must be in the metadata's farmer table.
func NewBlocks(ctx context.Context, db *cache.DB, net Network, log *slog.Logger) (*Blocks, error) {
	b := &Blocks{db: db, net: net, log: log}
	err := db.View(ctx, func(tx *cache.Tx) error {
		cfg, err := tx.Drive()
		if err != nil {
			return err
		}
		b.k, b.m = cfg.DataShards, cfg.ParityShards
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := b.LoadFarmers(ctx); err != nil {
		return nil, err
	}
	if b.codec, err = newCodec(b.k, b.m); err != nil {
		return nil, err
	}
	return b, nil
}

// LoadFarmers reads the farmer table again: call it after adding a farmer
// to the metadata and the network.
func (b *Blocks) LoadFarmers(ctx context.Context) error {
	farmers := make(map[format.NodeID]int64)
	err := b.db.View(ctx, func(tx *cache.Tx) error {
		fs, err := tx.Farmers()
		if err != nil {
			return err
		}
		for _, f := range fs {
			id, err := format.ParseNodeID(f.NodeID)
			if err != nil {
				return fmt.Errorf("farmer %s in metadata: %w", f.Address, err)
			}
			farmers[id] = f.ID
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.farmers = farmers
	b.mu.Unlock()
	return nil
}

// farmerID returns the farmers.id of a node ID.
func (b *Blocks) farmerID(id format.NodeID) (int64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	fid, ok := b.farmers[id]
	return fid, ok
}

// File is what a block needs to know of its file.
type File struct {
	Ino    int64
	ID     [16]byte
	Sealer *crypto.Sealer
}

// Stored is a block placed on the farmers but not yet committed: commit
// Block and drop Pending in one metadata transaction.
type Stored struct {
	Block   cache.Block
	Pending []int64
}

// Store seals, erasure-codes and places block idx of f with a fresh version.
//
// Every shard is journalled as an intent before its upload starts and as
// pending once placed, so neither a crash nor a canceled upload (which may
// still land on a farmer) leaves a shard nobody will delete.
func (b *Blocks) Store(ctx context.Context, f File, idx int64, plain []byte) (Stored, error) {
	var version uint64
	ad := crypto.BlockAD{FileID: f.ID, Block: uint64(idx)}
	// Sealing needs the version, and the intents need the roots: take the
	// version first, in its own small transaction.
	if err := b.db.Update(ctx, func(tx *cache.Tx) (err error) {
		version, err = tx.NextVersion()
		return err
	}); err != nil {
		return Stored{}, err
	}
	ad.Version = version
	enc, err := b.codec.encode(f.Sealer, ad, plain)
	if err != nil {
		return Stored{}, err
	}
	defer enc.release()
	intents, err := journalIntents(ctx, b.db, enc.roots)
	if err != nil {
		return Stored{}, err
	}
	placed, perr := b.net.Place(ctx, enc.shards, enc.roots, b.k+1)
	st := Stored{Block: cache.Block{
		Ino: f.Ino, Index: idx, Version: version,
		PlainLen: len(plain), SealedLen: enc.sealedLen, ShardLen: len(enc.shards[0]),
		DataShards: b.k, ParityShards: b.m,
		NeedsRepair: len(placed) < b.k+b.m,
	}}
	// Journal what was placed even when the caller gave up: the context may
	// be canceled, the journal must still be written.
	err = b.db.Update(context.WithoutCancel(ctx), func(tx *cache.Tx) error {
		keep := make(map[[32]byte]int64, len(placed))
		for _, p := range placed {
			fid, ok := b.farmerID(p.Farmer)
			if !ok {
				return fmt.Errorf("shard placed on farmer %s, which the drive does not know", p.Farmer)
			}
			id, err := tx.AddPending(fid, enc.roots[p.Shard])
			if err != nil {
				return err
			}
			keep[enc.roots[p.Shard]] = fid
			st.Pending = append(st.Pending, id)
			st.Block.Shards = append(st.Block.Shards, cache.Shard{Index: p.Shard, Root: enc.roots[p.Shard], Farmer: fid, NodeID: p.Farmer.String()})
		}
		if perr == nil && len(placed) == len(enc.shards) {
			return tx.DropIntents(intents...)
		}
		// Some upload failed or was cut short and may yet have landed.
		return tx.IntentsToGarbage(intents, keep)
	})
	if err != nil {
		return Stored{}, err
	}
	if perr != nil {
		return st, fmt.Errorf("store block %d: %w: %w", idx, ErrUnavailable, perr)
	}
	if len(placed) < b.k+1 {
		return st, fmt.Errorf("store block %d: %w: placed %d shards, need %d", idx, ErrUnavailable, len(placed), b.k+1)
	}
	if st.Block.NeedsRepair {
		b.log.Warn("block stored below full redundancy", "shards", len(placed), "want", b.k+b.m)
	}
	return st, nil
}

// journalIntents records that shards with these roots are about to be
// uploaded, before the uploads start (see Store).
func journalIntents(ctx context.Context, db *cache.DB, roots []merkle.Root) ([]int64, error) {
	var intents []int64
	err := db.Update(ctx, func(tx *cache.Tx) error {
		for _, r := range roots {
			id, err := tx.AddIntent(r)
			if err != nil {
				return err
			}
			intents = append(intents, id)
		}
		return nil
	})
	return intents, err
}

// Load fetches any k shards of blk, nearest farmers first, and appends its
// plaintext to dst[:0] (give it crypto.OpenedSize(blk.PlainLen) capacity to
// spare an allocation).
func (b *Blocks) Load(ctx context.Context, f File, blk cache.Block, dst []byte) ([]byte, error) {
	if blk.DataShards != b.k || blk.ParityShards != b.m {
		return nil, fmt.Errorf("%w: block %d coded %d+%d, drive is %d+%d", ErrDamaged, blk.Index, blk.DataShards, blk.ParityShards, b.k, b.m)
	}
	locs := make([]netclient.ShardLoc, 0, len(blk.Shards))
	for _, s := range blk.Shards {
		id, err := format.ParseNodeID(s.NodeID)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d shard %d: %w", ErrDamaged, blk.Index, s.Index, err)
		}
		if s.Index < 0 || s.Index >= b.k+b.m {
			return nil, fmt.Errorf("%w: block %d names shard %d of %d", ErrDamaged, blk.Index, s.Index, b.k+b.m)
		}
		locs = append(locs, netclient.ShardLoc{Shard: s.Index, Root: s.Root, Farmer: id})
	}
	pieces, err := b.net.Fetch(ctx, locs, b.k, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("load block %d: %w: %w", blk.Index, ErrUnavailable, err)
	}
	if len(pieces) != b.k+b.m {
		return nil, fmt.Errorf("load block %d: network returned %d pieces, want %d", blk.Index, len(pieces), b.k+b.m)
	}
	for i, p := range pieces {
		if p != nil && len(p) != blk.ShardLen {
			return nil, fmt.Errorf("%w: block %d shard %d is %d bytes, metadata says %d", ErrDamaged, blk.Index, i, len(p), blk.ShardLen)
		}
	}
	ad := crypto.BlockAD{FileID: f.ID, Block: uint64(blk.Index), Version: blk.Version}
	plain, err := b.codec.decode(dst, f.Sealer, ad, pieces, blk.SealedLen, blk.PlainLen)
	if err != nil {
		return nil, fmt.Errorf("load block %d: %w", blk.Index, err)
	}
	return plain, nil
}

// CollectGarbage deletes up to limit queued shards from their farmers and
// reports how many went. A farmer that is down keeps its rows for next time.
//
// Until the metadata is backed up to the network (a later issue), nothing
// outside this machine can refer to a garbage shard, so it may go at once.
func (b *Blocks) CollectGarbage(ctx context.Context, limit int) (int, error) {
	var refs []cache.ShardRef
	if err := b.db.View(ctx, func(tx *cache.Tx) (err error) {
		refs, err = tx.Garbage(limit)
		return err
	}); err != nil {
		return 0, err
	}
	deleted := 0
	for _, r := range refs {
		id, err := format.ParseNodeID(r.NodeID)
		if err != nil {
			return deleted, err
		}
		derr := b.net.Delete(ctx, id, r.Root)
		if derr != nil && !errors.Is(derr, format.ErrNotFound) {
			b.log.Warn("delete shard failed; will retry", "farmer", r.NodeID, "err", derr)
			if err := b.db.Update(ctx, func(tx *cache.Tx) error { return tx.GarbageFailed(r.ID) }); err != nil {
				return deleted, err
			}
			continue
		}
		if err := b.db.Update(ctx, func(tx *cache.Tx) error { return tx.GarbageDone(r.ID) }); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

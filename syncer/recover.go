package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/meta"
	"github.com/shardrive/shardrive/netclient"
)

// Recovery: from the mnemonic's keys and one farmer address to a restored
// metadata database. FindRoot asks that farmer for its root, learns the
// drive's farmers from it, asks every one of them and picks the newest root
// that verifies; Restore downloads the objects that root names and replays
// them into an empty database. Nothing is written before FindRoot has a
// verified root, so a wrong mnemonic or a lying farmer leaves no trace.

// ErrLeaseHeld means the drive's writer lease belongs to another device
// and has not run out: recovering here needs an explicit take-over.
var ErrLeaseHeld = errors.New("the drive is in use by another device")

// Found is a verified root and the network of the farmers it names.
type Found struct {
	RootPick
	Net   *netclient.Network
	Addrs []format.Address // the root's farmers, in its order
}

// Close closes the network.
func (f *Found) Close() {
	if f.Net != nil {
		f.Net.Close()
	}
}

// FindRoot finds the newest valid root of the drive whose keys are keys,
// starting from the farmer at first.
func FindRoot(ctx context.Context, first format.Address, keys *crypto.Keys, ncfg netclient.NetworkConfig, log *slog.Logger) (*Found, error) {
	c := netclient.NewFarmerClient(first, keys.AccountKey(first.ID.PublicKey()), netclient.NewFarmerConfig())
	one, err := netclient.NewNetwork(ncfg, []*netclient.FarmerClient{c}, log)
	if err != nil {
		c.Close()
		return nil, err
	}
	pick, err := PickRoot(one.GetRoots(ctx), keys, [16]byte{})
	one.Close()
	switch {
	case errors.Is(err, ErrNoBackup) && len(pick.Down) > 0:
		return nil, fmt.Errorf("farmer %s did not answer: %w: %v", first, ErrUnavailable, pick.Down)
	case errors.Is(err, ErrNoBackup) && len(pick.Bad) == 0:
		return nil, fmt.Errorf("%w on farmer %s for these words: a wrong mnemonic, or a farmer this drive does not use", ErrNoBackup, first)
	case err != nil:
		return nil, fmt.Errorf("farmer %s: %w", first, err)
	}
	f := &Found{}
	if f.Addrs, f.Net, err = farmerNetwork(pick.Root, keys, ncfg, log); err != nil {
		return nil, err
	}
	// Ask every farmer the root names, the first one again included, and
	// keep the newest valid root of this drive.
	all, err := PickRoot(f.Net.GetRoots(ctx), keys, pick.Root.DriveID)
	if err != nil {
		f.Close()
		return nil, err
	}
	if all.Root.Version < pick.Root.Version {
		// The first farmer is not among those the root names, or failed
		// this time: its root still counts.
		all.Root = pick.Root
	}
	f.RootPick = all
	if !slices.Equal(all.Root.Farmers, pick.Root.Farmers) {
		// The newest root names other farmers: its shards point into its
		// own list.
		f.Close()
		if f.Addrs, f.Net, err = farmerNetwork(all.Root, keys, ncfg, log); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// farmerNetwork returns the farmers r names, in its order, and a network
// over them.
func farmerNetwork(r *meta.Root, keys *crypto.Keys, ncfg netclient.NetworkConfig, log *slog.Logger) ([]format.Address, *netclient.Network, error) {
	var addrs []format.Address
	var clients []*netclient.FarmerClient
	closeAll := func() {
		for _, c := range clients {
			c.Close()
		}
	}
	for _, s := range r.Farmers {
		a, err := format.ParseAddress(s)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%w: root names farmer %q: %w", meta.ErrMalformed, s, err)
		}
		addrs = append(addrs, a)
		clients = append(clients, netclient.NewFarmerClient(a, keys.AccountKey(a.ID.PublicKey()), netclient.NewFarmerConfig()))
	}
	net, err := netclient.NewNetwork(ncfg, clients, log)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return addrs, net, nil
}

// RestoreConfig says how to restore.
type RestoreConfig struct {
	UID, GID   uint32 // owners of the restored files, unless KeepOwners
	KeepOwners bool
	// TakeOver lets the restore proceed while another device holds an
	// unexpired writer lease; that device stops writing at its next round.
	TakeOver bool
	Now      time.Time
	// Progress, if set, is called after each metadata object is fetched
	// with the plaintext bytes fetched so far and in all.
	Progress func(done, total int64)
}

// VersionMargin is added to the highest block version a recovery finds: the
// previous device may have handed out versions it never backed up.
const VersionMargin = 1 << 32

// CheckLease refuses a root whose lease is held by another device, unless
// take-over was asked for.
func (f *Found) CheckLease(device [16]byte, cfg RestoreConfig) error {
	r := f.Root
	if r.Device == device || cfg.TakeOver || !r.LeaseUntil.After(cfg.Now) {
		return nil
	}
	return fmt.Errorf("%w (device %x, lease until %s); recover with --take-over to move the writer here (the other device then stops writing)",
		ErrLeaseHeld, r.Device[:4], r.LeaseUntil.Format(time.RFC3339))
}

// Restore downloads the objects of f's root and replays them into db,
// which must be empty. keys must be the ones FindRoot used.
func Restore(ctx context.Context, db *cache.DB, f *Found, keys *crypto.Keys, cfg RestoreConfig) error {
	r := f.Root
	codec, err := newCodec(r.DataShards, r.ParityShards)
	if err != nil {
		return fmt.Errorf("%w: root: %w", meta.ErrMalformed, err)
	}
	sealer := crypto.NewSealer(keys.MetadataObjectKey())
	type loaded struct {
		ref  meta.ObjectRef
		body []byte
		obj  meta.Object
	}
	var objs []loaded
	var maxVersion uint64
	var done, total int64
	for _, ref := range r.Objects {
		for _, p := range ref.Parts {
			total += int64(p.PlainLen)
		}
	}
	for _, ref := range r.Objects {
		body, err := loadObject(ctx, f, codec, sealer, ref)
		if err != nil {
			return fmt.Errorf("metadata %v %d: %w", ref.Kind, ref.Seq, err)
		}
		o, err := meta.DecodeObject(body)
		if err != nil {
			return fmt.Errorf("metadata %v %d: %w", ref.Kind, ref.Seq, err)
		}
		if o.Kind != ref.Kind || o.Seq != ref.Seq || int64(len(o.Records)) != ref.Records {
			return fmt.Errorf("%w: metadata object %d: the root and the object disagree on its kind, number or size", ErrDamaged, ref.Seq)
		}
		for _, p := range ref.Parts {
			maxVersion = max(maxVersion, p.Version)
			done += int64(p.PlainLen)
		}
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
		objs = append(objs, loaded{ref: ref, body: body, obj: o})
	}
	return db.Update(ctx, func(tx *cache.Tx) error {
		for _, o := range objs {
			if err := tx.ApplyMeta(o.obj.Records); err != nil {
				return fmt.Errorf("%w: %w", cache.ErrInconsistent, err)
			}
		}
		dc, err := tx.Drive()
		if err != nil {
			return fmt.Errorf("%w: restored settings: %w", cache.ErrInconsistent, err)
		}
		if dc.ID != r.DriveID || dc.DataShards != r.DataShards || dc.ParityShards != r.ParityShards || dc.BlockSize != r.BlockSize {
			return fmt.Errorf("%w: the restored settings and the root disagree", cache.ErrInconsistent)
		}
		if err := keys.VerifyCheck(dc.KeyCheck); err != nil {
			return fmt.Errorf("restored drive: %w", err)
		}
		if err := tx.FinishRestore(cfg.UID, cfg.GID, cfg.KeepOwners); err != nil {
			return err
		}
		if err := tx.SetNextVersionPast(maxVersion + VersionMargin); err != nil {
			return err
		}
		farmers, err := tx.Farmers()
		if err != nil {
			return err
		}
		byNode := make(map[string]int64, len(farmers))
		for _, fm := range farmers {
			byNode[fm.NodeID] = fm.ID
		}
		for _, o := range objs {
			bo := cache.BackupObject{Seq: o.ref.Seq, Kind: o.ref.Kind, Records: o.ref.Records, Bytes: o.ref.Bytes}
			if o.ref.Kind == meta.Segment {
				bo.Body = o.body
			}
			for _, p := range o.ref.Parts {
				lp := p
				lp.Shards = nil
				for _, s := range p.Shards {
					id, ok := byNode[f.Addrs[s.Farmer].ID.String()]
					if !ok {
						return fmt.Errorf("%w: the root names farmer %s, the metadata does not", cache.ErrInconsistent, f.Addrs[s.Farmer])
					}
					lp.Shards = append(lp.Shards, meta.PartShard{Index: s.Index, Farmer: int(id), Root: s.Root})
				}
				bo.Parts = append(bo.Parts, lp)
			}
			if err := tx.AddBackupObject(bo); err != nil {
				return err
			}
		}
		seq, err := tx.MetaSeq()
		if err != nil {
			return err
		}
		var lastSeq uint64
		if n := len(r.Objects); n > 0 {
			lastSeq = r.Objects[n-1].Seq
		}
		return tx.SetBackupState(cache.BackupState{Enabled: true, Version: r.Version, Covered: seq, ObjectSeq: lastSeq, Time: r.Time})
	})
}

// loadObject fetches and opens every part of an object.
func loadObject(ctx context.Context, f *Found, codec *codec, sealer *crypto.Sealer, ref meta.ObjectRef) ([]byte, error) {
	var body []byte
	for i, p := range ref.Parts {
		locs := make([]netclient.ShardLoc, 0, len(p.Shards))
		for _, s := range p.Shards {
			locs = append(locs, netclient.ShardLoc{Shard: s.Index, Root: s.Root, Farmer: f.Addrs[s.Farmer].ID})
		}
		pieces, err := f.Net.Fetch(ctx, locs, f.Root.DataShards, 0, -1)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w: %w", i, ErrUnavailable, err)
		}
		for j, piece := range pieces {
			if piece != nil && int64(len(piece)) != p.ShardLen {
				return nil, fmt.Errorf("%w: part %d shard %d is %d bytes, the root says %d", ErrDamaged, i, j, len(piece), p.ShardLen)
			}
		}
		if p.PlainLen > int64(meta.MaxRootSize)<<12 || p.SealedLen > int64(meta.MaxRootSize)<<12 {
			return nil, fmt.Errorf("%w: part %d of %d bytes", ErrDamaged, i, p.PlainLen)
		}
		plain, err := codec.decode(nil, sealer, partAD(f.Root.DriveID, i, p.Version), pieces, int(p.SealedLen), int(p.PlainLen))
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
		body = append(body, plain...)
	}
	if int64(len(body)) != ref.Bytes {
		return nil, fmt.Errorf("%w: object of %d bytes, the root says %d", ErrDamaged, len(body), ref.Bytes)
	}
	return body, nil
}

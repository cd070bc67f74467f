package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// The keeper (audits, reputation, repair; syncer/keeper.go) reaches the
// farmers through the gate too, so a pause stops it like every other
// traffic.
var _ syncer.KeeperNetwork = (*gate)(nil)

func (g *gate) PlaceAvoiding(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int, avoid []format.NodeID) ([]netclient.Placement, error) {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("place shards: %w", err)
	}
	defer leave()
	p, err := g.net.PlaceAvoiding(ctx, shards, roots, minOK, avoid)
	return p, cut(ctx, "place shards", err)
}

func (g *gate) Audit(ctx context.Context, farmer format.NodeID, root merkle.Root, shardLen int64, leaf int) (netclient.AuditResult, error) {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return netclient.AuditResult{}, fmt.Errorf("audit: %w", err)
	}
	defer leave()
	res, err := g.net.Audit(ctx, farmer, root, shardLen, leaf)
	if err = cut(ctx, "audit", err); errors.Is(err, ErrPaused) {
		res = netclient.AuditResult{} // cut short by us: no verdict
	}
	return res, err
}

func (g *gate) FarmerInfo(ctx context.Context, farmer format.NodeID) (format.Info, error) {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return format.Info{}, fmt.Errorf("farmer info: %w", err)
	}
	defer leave()
	info, err := g.net.FarmerInfo(ctx, farmer)
	return info, cut(ctx, "farmer info", err)
}

func (g *gate) SetExcluded(ids []format.NodeID) { g.net.SetExcluded(ids) }

// applyExclusions tells the network which farmers get no new shards (the
// keeper does the same each round; a session without one needs it too).
func (s *Session) applyExclusions(ctx context.Context) error {
	ids, err := syncer.Excluded(ctx, s.DB)
	if err != nil {
		return err
	}
	s.Net.SetExcluded(ids)
	return nil
}

// NewKeeper returns the drive's keeper over the session's gate.
func (s *Session) NewKeeper(cfg syncer.KeeperConfig) (*syncer.Keeper, error) {
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	return syncer.NewKeeper(s.DB, s.Blocks, s.gate, cfg)
}

// ErrFarmerKnown reports a farmer added twice; ErrFarmerUnknown one that is
// not in the drive.
var (
	ErrFarmerKnown   = errors.New("farmer already in the drive")
	ErrFarmerUnknown = errors.New("farmer not in the drive")
)

// AddFarmer adds a farmer to the drive after checking that it answers as
// the node its address names. New shards may go to it at once.
func (s *Session) AddFarmer(ctx context.Context, addr format.Address) error {
	var known bool
	if err := s.DB.View(ctx, func(tx *cache.Tx) error {
		fs, err := tx.Farmers()
		for _, f := range fs {
			if f.NodeID == addr.ID.String() && f.State != cache.StateRemoved {
				known = true
			}
		}
		return err
	}); err != nil {
		return err
	}
	if known {
		return fmt.Errorf("%s: %w", addr, ErrFarmerKnown)
	}
	c := netclient.NewFarmerClient(addr, s.Keys.AccountKey(addr.ID.PublicKey()), netclient.NewFarmerConfig())
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := c.Info(ictx)
	cancel()
	if err != nil {
		c.Close()
		return fmt.Errorf("farmer %s does not answer: %w", addr, err)
	}
	if err := s.DB.Update(ctx, func(tx *cache.Tx) error {
		id, err := tx.AddFarmer(addr.ID.String(), addr.String())
		if err != nil {
			return err
		}
		return tx.SetFarmerState(id, cache.StateActive, "added by the user")
	}); err != nil {
		c.Close()
		return err
	}
	if err := s.Net.Add(c); err != nil {
		c.Close()
		if !errors.Is(err, netclient.ErrDuplicateFarmer) {
			return err
		}
	}
	if err := s.applyExclusions(ctx); err != nil {
		return err
	}
	return s.Blocks.LoadFarmers(ctx)
}

// RemoveFarmer starts draining a farmer: it gets no new shards, the keeper
// moves its shards to others, and it is marked removed once it holds none.
func (s *Session) RemoveFarmer(ctx context.Context, id format.NodeID) error {
	err := s.DB.Update(ctx, func(tx *cache.Tx) error {
		fs, err := tx.Farmers()
		if err != nil {
			return err
		}
		for _, f := range fs {
			if f.NodeID != id.String() {
				continue
			}
			switch f.State {
			case cache.StateRemoving, cache.StateRemoved:
				return nil
			}
			return tx.SetFarmerState(f.ID, cache.StateRemoving, "removed by the user")
		}
		return fmt.Errorf("%s: %w", id, ErrFarmerUnknown)
	})
	if err != nil {
		return err
	}
	return s.applyExclusions(ctx)
}

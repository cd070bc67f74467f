package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/adrg/xdg"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/drive"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// home is where a drive keeps its local state. With --home (or
// SHARDRIVE_HOME) everything lives under one directory; otherwise in the
// XDG state and cache directories.
type home struct {
	state string // drive.db, keys, lock
	cache string // local block cache (the mount's)
}

func (g *globals) home() home {
	dir := g.homeFlag
	if dir == "" {
		dir = os.Getenv("SHARDRIVE_HOME")
	}
	if dir != "" {
		return home{state: dir, cache: filepath.Join(dir, "cache")}
	}
	return home{state: filepath.Join(xdg.StateHome, "shardrive"), cache: filepath.Join(xdg.CacheHome, "shardrive")}
}

func (h home) dbPath() string   { return filepath.Join(h.state, "drive.db") }
func (h home) keysPath() string { return filepath.Join(h.state, "keys") }
func (h home) lockPath() string { return filepath.Join(h.state, "lock") }

// session is an open drive: its metadata, keys, network and files.
type session struct {
	h     home
	db    *cache.DB
	net   *netclient.Network
	drive *drive.Drive
	lock  *homeLock
}

// access says how a command uses the home.
type access int

const (
	readOnly  access = iota // shared lock: several readers may run at once
	readWrite               // exclusive lock
)

// openSession opens the drive in g's home.
func openSession(ctx context.Context, g *globals, mode access) (_ *session, err error) {
	h := g.home()
	if _, err := os.Stat(h.dbPath()); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run shardrive init)", h.state, cache.ErrNotInitialized)
	}
	lock, err := lockHome(h.lockPath(), mode == readWrite)
	if err != nil {
		return nil, err
	}
	s := &session{h: h, lock: lock}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	if s.db, err = cache.Open(ctx, h.dbPath()); err != nil {
		return nil, err
	}
	keys, err := readKeys(h.keysPath())
	if err != nil {
		return nil, err
	}
	var farmers []cache.Farmer
	if err := s.db.View(ctx, func(tx *cache.Tx) (err error) {
		farmers, err = tx.Farmers()
		return err
	}); err != nil {
		return nil, err
	}
	clients := make([]*netclient.FarmerClient, 0, len(farmers))
	stats := make([]netclient.FarmerStats, 0, len(farmers))
	for _, f := range farmers {
		addr, err := format.ParseAddress(f.Address)
		if err != nil {
			return nil, fmt.Errorf("farmer in metadata: %w", err)
		}
		clients = append(clients, netclient.NewFarmerClient(addr, keys.AccountKey(addr.ID.PublicKey()), netclient.NewFarmerConfig()))
		stats = append(stats, netclient.FarmerStats{ID: addr.ID, Addr: f.Address, Latency: f.Latency, Throughput: f.Throughput,
			Successes: f.Successes, Failures: f.Failures, BadData: f.BadData, LastSeen: f.LastSeen})
	}
	if s.net, err = netclient.NewNetwork(netclient.NewNetworkConfig(), clients, g.log); err != nil {
		return nil, err
	}
	s.net.SetStats(stats)
	if mode == readWrite {
		// Nothing else writes while we hold the exclusive lock, so shards a
		// crashed writer placed but never committed are garbage now.
		if err := s.db.Update(ctx, func(tx *cache.Tx) error {
			n, err := tx.AbandonPending()
			if n > 0 {
				g.log.Info("shards of an interrupted upload queued for deletion", "shards", n)
			}
			return err
		}); err != nil {
			return nil, err
		}
	}
	blocks, err := syncer.NewBlocks(ctx, s.db, s.net, g.log)
	if err != nil {
		return nil, err
	}
	var dc cache.DriveConfig
	if err := s.db.View(ctx, func(tx *cache.Tx) (err error) { dc, err = tx.Drive(); return err }); err != nil {
		return nil, err
	}
	files, err := cache.OpenFiles(filepath.Join(h.cache, "data"), dc.BlockSize)
	if err != nil {
		return nil, err
	}
	cfg := drive.NewConfig()
	cfg.Logger = g.log
	if s.drive, err = drive.New(ctx, s.db, keys, blocks, files, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// collectGarbage deletes the shards that no metadata refers to any more
// from the farmers that answer; the rest stay queued for the next command.
func (s *session) collectGarbage(ctx context.Context, g *globals) {
	if err := s.drive.CollectGarbage(ctx); err != nil {
		g.log.Warn("some unused shards could not be deleted yet; they will be retried", "err", err)
	}
}

// Close saves what was learned about the farmers and releases the home.
func (s *session) Close(ctx context.Context) {
	if s.net != nil {
		if s.db != nil {
			s.db.Update(ctx, func(tx *cache.Tx) error {
				for _, st := range s.net.Stats() {
					if err := tx.SaveFarmerStats(cache.Farmer{NodeID: st.ID.String(), Latency: st.Latency, Throughput: st.Throughput,
						Successes: st.Successes, Failures: st.Failures, BadData: st.BadData, LastSeen: st.LastSeen}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		s.net.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
	s.lock.Unlock()
}

// readKeys loads the derived keys (never the mnemonic) from their 0600 file.
func readKeys(path string) (*crypto.Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read drive keys: %w", err)
	}
	k, err := crypto.UnmarshalKeys(b)
	if err != nil {
		return nil, fmt.Errorf("drive keys %s: %w", path, err)
	}
	return k, nil
}

// writeFileAtomic writes data to path via a synced temporary file and a
// rename, so a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// probeTimeout bounds how long init waits for each farmer.
const probeTimeout = 15 * time.Second

package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/drive"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// Access says how a session uses the home.
type Access int

const (
	// Shared: a reader; several may run at once, none while an owner runs.
	Shared Access = iota
	// Exclusive: the owner; the only process using the home.
	Exclusive
)

// OpenConfig says how to open a session.
type OpenConfig struct {
	Access Access
	// CacheDir moves the local block cache to this directory (Exclusive
	// only); "" keeps the recorded one.
	CacheDir string
	// Network tunes the farmer clients.
	Network netclient.NetworkConfig
	// Drive tunes the drive API; its Logger is replaced by Logger.
	Drive  drive.Config
	Logger *slog.Logger
}

// NewOpenConfig returns the defaults: a shared session.
func NewOpenConfig() OpenConfig {
	return OpenConfig{Access: Shared, Network: netclient.NewNetworkConfig(), Drive: drive.NewConfig(),
		Logger: slog.New(slog.DiscardHandler)}
}

// Validate reports settings that cannot work.
func (c OpenConfig) Validate() error {
	if c.Logger == nil {
		return errors.New("open: no logger")
	}
	if c.CacheDir != "" && c.Access != Exclusive {
		return errors.New("open: moving the cache needs exclusive access")
	}
	if err := c.Network.Validate(); err != nil {
		return err
	}
	d := c.Drive
	d.Logger = c.Logger
	return d.Validate()
}

// Session is an open drive: its metadata, keys, network, block store, local
// cache files and the drive API over them.
type Session struct {
	Home     Home
	CacheDir string // root of the local block cache in use
	DB       *cache.DB
	Keys     *crypto.Keys
	Net      *netclient.Network
	Blocks   *syncer.Blocks
	Files    *cache.Files
	Drive    *drive.Drive
	// DriveConfig is what Drive was built with (the uploader must agree on
	// InlineMax).
	DriveConfig drive.Config

	log  *slog.Logger
	lock *HomeLock
	// gate is the way to the farmers of Blocks and the backup: the daemon
	// shuts it to pause (pause.go).
	gate *gate

	ledgerMu    sync.Mutex                 // guards ledgerSaved
	ledgerSaved map[format.NodeID][2]int64 // bytes sent and received already in the ledger
}

// Open opens the drive in home h. With Exclusive access it also cleans up
// after a process that died owning the home: the shards of interrupted
// uploads are queued for deletion and files unlinked while open are
// dropped.
func Open(ctx context.Context, h Home, cfg OpenConfig) (_ *Session, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(h.DBPath()); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run shardrive init)", h.State, cache.ErrNotInitialized)
	}
	lock, err := LockHome(h.LockPath(), cfg.Access == Exclusive)
	if err != nil {
		return nil, err
	}
	s := &Session{Home: h, lock: lock, log: cfg.Logger}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	if s.DB, err = cache.Open(ctx, h.DBPath()); err != nil {
		return nil, err
	}
	if s.Keys, err = NewKeyStore().Load(h); err != nil {
		return nil, err
	}
	if err := s.openNetwork(ctx, cfg.Network); err != nil {
		return nil, err
	}
	if cfg.Access == Exclusive {
		// Nothing else writes while we hold the exclusive lock, so shards a
		// crashed writer placed but never committed are garbage now.
		if err := s.DB.Update(ctx, func(tx *cache.Tx) error {
			n, err := tx.AbandonPending()
			if n > 0 {
				s.log.Info("shards of an interrupted upload queued for deletion", "shards", n)
			}
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := s.applyExclusions(ctx); err != nil {
		return nil, err
	}
	s.gate = newGate(s.Net)
	if s.Blocks, err = syncer.NewBlocks(ctx, s.DB, s.gate, cfg.Logger); err != nil {
		return nil, err
	}
	var dc cache.DriveConfig
	if err := s.DB.View(ctx, func(tx *cache.Tx) (err error) { dc, err = tx.Drive(); return err }); err != nil {
		return nil, err
	}
	if s.CacheDir, err = s.cacheDir(ctx, cfg); err != nil {
		return nil, err
	}
	if s.Files, err = cache.OpenFiles(filesDir(s.CacheDir), dc.BlockSize); err != nil {
		return nil, err
	}
	if cfg.Access == Exclusive {
		if err := s.dropOrphans(ctx); err != nil {
			return nil, err
		}
	}
	s.DriveConfig = cfg.Drive
	s.DriveConfig.Logger = cfg.Logger
	if s.Drive, err = drive.New(ctx, s.DB, s.Keys, s.Blocks, s.Files, s.DriveConfig); err != nil {
		return nil, err
	}
	return s, nil
}

func filesDir(cacheDir string) string { return filepath.Join(cacheDir, "data") }

func (s *Session) openNetwork(ctx context.Context, ncfg netclient.NetworkConfig) error {
	var farmers []cache.Farmer
	if err := s.DB.View(ctx, func(tx *cache.Tx) (err error) {
		farmers, err = tx.Farmers()
		return err
	}); err != nil {
		return err
	}
	clients := make([]*netclient.FarmerClient, 0, len(farmers))
	stats := make([]netclient.FarmerStats, 0, len(farmers))
	for _, f := range farmers {
		addr, err := format.ParseAddress(f.Address)
		if err != nil {
			for _, c := range clients {
				c.Close()
			}
			return fmt.Errorf("farmer in metadata: %w", err)
		}
		clients = append(clients, netclient.NewFarmerClient(addr, s.Keys.AccountKey(addr.ID.PublicKey()), netclient.NewFarmerConfig()))
		stats = append(stats, netclient.FarmerStats{ID: addr.ID, Addr: f.Address, Latency: f.Latency, Throughput: f.Throughput,
			Successes: f.Successes, Failures: f.Failures, BadData: f.BadData, LastSeen: f.LastSeen, Region: f.Region})
	}
	net, err := netclient.NewNetwork(ncfg, clients, s.log)
	if err != nil {
		for _, c := range clients {
			c.Close()
		}
		return err
	}
	s.Net = net
	s.Net.SetStats(stats)
	return nil
}

// cacheDir decides where the local block cache lives: the recorded
// directory, else the home's default (recorded by the first owner, so that
// a changed XDG_CACHE_HOME cannot move it unnoticed), else cfg.CacheDir if
// the cache may move there.
func (s *Session) cacheDir(ctx context.Context, cfg OpenConfig) (string, error) {
	h := s.Home
	cur, err := h.recordedCacheDir()
	if err != nil {
		return "", err
	}
	recorded := cur != ""
	if !recorded {
		if cur, err = filepath.Abs(h.Cache); err != nil {
			return "", err
		}
	}
	if cfg.CacheDir == "" {
		if !recorded && cfg.Access == Exclusive {
			return cur, h.recordCacheDir(cur)
		}
		return cur, nil
	}
	want, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return "", err
	}
	if want == cur {
		if !recorded {
			return cur, h.recordCacheDir(cur)
		}
		return cur, nil
	}
	// Moving: the metadata says which blocks the old directory holds. Clean
	// ones can be fetched again; dirty ones exist nowhere else.
	var total int
	err = s.DB.Update(ctx, func(tx *cache.Tx) error {
		t, dirty, err := tx.CachedCount()
		if err != nil {
			return err
		}
		if dirty > 0 {
			return fmt.Errorf("%w: cannot move the local cache from %s to %s: %d blocks there are not uploaded yet; "+
				"mount without --cache-dir until `shardrive sync --wait` succeeds", ErrCacheDirty, cur, want, dirty)
		}
		total = t
		inos, err := tx.CachedInodes()
		if err != nil {
			return err
		}
		for _, ino := range inos {
			if err := tx.DropCached(ino, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := h.recordCacheDir(want); err != nil {
		return "", err
	}
	// The old files hold only clean blocks now forgotten: plaintext that
	// has no reason to stay on the disk.
	if err := os.RemoveAll(filesDir(cur)); err != nil {
		s.log.Warn("could not remove the old local cache", "dir", filesDir(cur), "err", err)
	}
	s.log.Info("local cache moved", "from", cur, "to", want, "forgotten_blocks", total)
	return want, nil
}

// dropOrphans deletes files that were unlinked while open when the last
// owner stopped (or died): nothing has them open now.
func (s *Session) dropOrphans(ctx context.Context) error {
	var dropped []int64
	err := s.DB.Update(ctx, func(tx *cache.Tx) error {
		inos, err := tx.Orphans()
		if err != nil {
			return err
		}
		for _, ino := range inos {
			ok, err := tx.DropOrphan(ino)
			if err != nil {
				return fmt.Errorf("drop orphan %d: %w", ino, err)
			}
			if ok {
				dropped = append(dropped, ino)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ino := range dropped {
		if err := s.Files.Remove(ino); err != nil {
			s.log.Warn("could not remove the local data of a dropped file", "ino", ino, "err", err)
		}
	}
	if len(dropped) > 0 {
		s.log.Info("files unlinked while open dropped", "files", len(dropped))
	}
	return nil
}

// NewUploader returns an uploader over the session with cfg's timing; its
// InlineMax and BeforeSync follow the drive.
func (s *Session) NewUploader(ctx context.Context, cfg syncer.UploaderConfig) (*syncer.Uploader, error) {
	cfg.InlineMax = s.DriveConfig.InlineMax
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	u, err := syncer.NewUploader(ctx, s.DB, s.Files, s.Blocks, s.Keys, cfg)
	if err != nil {
		return nil, err
	}
	u.BeforeSync = s.Drive.FlushAll
	return u, nil
}

// Sync uploads every change made so far, then stores the metadata backup
// that names it, and returns once all of it is on the farmers; with a
// timeout > 0 it gives up after that long with ErrTimeout (the rest stays
// queued). For sessions without a daemon.
func (s *Session) Sync(ctx context.Context, timeout time.Duration) error {
	u, err := s.NewUploader(ctx, syncer.NewUploaderConfig())
	if err != nil {
		return err
	}
	b, err := s.NewBackup(ctx, syncer.NewBackupConfig())
	if err != nil {
		return err
	}
	return syncWithin(ctx, u, b.Release, s.Drive, timeout)
}

// garbageCollector deletes the shards no stored root needs any more.
type garbageCollector interface {
	CollectGarbage(ctx context.Context) error
}

// syncWithin runs u.Sync, then a backup round (round: b.Round while a
// daemon holds the drive, b.Release when the writer stops), then garbage
// collection, bounded by timeout if > 0.
func syncWithin(ctx context.Context, u *syncer.Uploader, round func(context.Context) error, gc garbageCollector, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrTimeout)
		defer cancel()
	}
	err := u.Sync(ctx)
	if err == nil {
		if err = round(ctx); err != nil {
			err = fmt.Errorf("metadata backup: %w", err)
		}
	}
	if err == nil {
		// Garbage left behind stays queued: it is not the caller's data.
		_ = gc.CollectGarbage(ctx)
	}
	if err != nil && errors.Is(context.Cause(ctx), ErrTimeout) {
		return fmt.Errorf("sync: %w after %v: %w", ErrTimeout, timeout, err)
	}
	return err
}

// SaveFarmerStats stores what was measured of the farmers, so the next run
// starts with it.
// It also adds the bytes moved since the last save to each farmer's
// ledger.
func (s *Session) SaveFarmerStats(ctx context.Context) error {
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if s.ledgerSaved == nil {
		s.ledgerSaved = make(map[format.NodeID][2]int64)
	}
	stats := s.Net.Stats()
	err := s.DB.Update(ctx, func(tx *cache.Tx) error {
		for _, st := range stats {
			last := s.ledgerSaved[st.ID]
			if in, out := st.Sent-last[0], st.Received-last[1]; in != 0 || out != 0 {
				if err := tx.AddTraffic(st.ID.String(), in, out); err != nil {
					return err
				}
			}
			if err := tx.SaveFarmerStats(cache.Farmer{NodeID: st.ID.String(), Latency: st.Latency, Throughput: st.Throughput,
				Successes: st.Successes, Failures: st.Failures, BadData: st.BadData, LastSeen: st.LastSeen}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, st := range stats {
			s.ledgerSaved[st.ID] = [2]int64{st.Sent, st.Received}
		}
	}
	return err
}

// Close saves the farmer figures, closes everything and releases the home.
func (s *Session) Close(ctx context.Context) {
	s.closeData(ctx)
	s.lock.Unlock()
}

// closeData is Close without releasing the lock.
func (s *Session) closeData(ctx context.Context) {
	if s.Net != nil {
		if s.DB != nil {
			if err := s.SaveFarmerStats(ctx); err != nil {
				s.log.Warn("could not save farmer figures", "err", err)
			}
		}
		s.Net.Close()
		s.Net = nil
	}
	if s.DB != nil {
		s.DB.Close()
		s.DB = nil
	}
}

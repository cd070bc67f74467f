package drive

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// TestDrive is a whole client stack over in-process farmers on loopback,
// for tests of this and other packages.
type TestDrive struct {
	*Drive
	DB       *cache.DB
	Keys     *crypto.Keys
	Files    *cache.Files
	Blocks   *syncer.Blocks
	Farmers  []*farmer.Liar // honest until told to lie
	Addrs    []format.Address
	CacheDir string
}

// OpenTest returns a 4+2 drive with 256 KiB blocks over six in-process
// farmers, all closed when the test ends.
func OpenTest(tb testing.TB) *Drive { return NewTest(tb, 4, 2, 6).Drive }

// NewTest is OpenTest with its parts exposed and k, m and the farmer count
// chosen.
func NewTest(tb testing.TB, k, m, farmers int) *TestDrive {
	tb.Helper()
	t := &TestDrive{}
	for range farmers {
		l, a := farmer.StartLiar(tb, farmer.Config{}, nil)
		t.Farmers = append(t.Farmers, l)
		t.Addrs = append(t.Addrs, a)
	}
	t.build(tb, k, m)
	return t
}

// build opens the drive's metadata, network and local cache over t.Addrs.
func (t *TestDrive) build(tb testing.TB, k, m int) {
	tb.Helper()
	ctx := context.Background()
	t.Keys = crypto.NewTestKeys(tb, tb.Name())
	dir := tb.TempDir()
	db, err := cache.Open(ctx, filepath.Join(dir, "drive.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	t.DB = db
	dc := cache.DriveConfig{ID: crypto.NewFileID(), DataShards: k, ParityShards: m, BlockSize: 256 << 10,
		KeyCheck: t.Keys.Check(), Created: time.Now()}
	var clients []*netclient.FarmerClient
	err = db.Update(ctx, func(tx *cache.Tx) error {
		if err := tx.InitDrive(dc, 0, 0); err != nil {
			return err
		}
		for _, a := range t.Addrs {
			if _, err := tx.AddFarmer(a.ID.String(), a.String()); err != nil {
				return err
			}
			clients = append(clients, netclient.NewFarmerClient(a, t.Keys.AccountKey(a.ID.PublicKey()), netclient.NewFarmerConfig()))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	ncfg := netclient.NewNetworkConfig()
	ncfg.RequestTimeout = 10 * time.Second
	net, err := netclient.NewNetwork(ncfg, clients, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(net.Close)
	if t.Blocks, err = syncer.NewBlocks(ctx, db, net, slog.New(slog.DiscardHandler)); err != nil {
		tb.Fatal(err)
	}
	t.CacheDir = filepath.Join(dir, "cache")
	if t.Files, err = cache.OpenFiles(t.CacheDir, dc.BlockSize); err != nil {
		tb.Fatal(err)
	}
	if t.Drive, err = New(ctx, db, t.Keys, t.Blocks, t.Files, NewConfig()); err != nil {
		tb.Fatal(err)
	}
}

// NewTestOn is NewTest over farmers the caller started.
func NewTestOn(tb testing.TB, k, m int, addrs []format.Address) *TestDrive {
	tb.Helper()
	t := &TestDrive{Addrs: addrs}
	t.build(tb, k, m)
	return t
}

// Reopen replaces the drive with one built with cfg over the same metadata
// and local cache directory, as a restart of the daemon does. Nothing may
// be open; make uploaders after it, over the new Files.
func (t *TestDrive) Reopen(tb testing.TB, cfg Config) {
	tb.Helper()
	var err error
	if t.Files, err = cache.OpenFiles(t.CacheDir, t.Settings().BlockSize); err != nil {
		tb.Fatal(err)
	}
	if t.Drive, err = New(context.Background(), t.DB, t.Keys, t.Blocks, t.Files, cfg); err != nil {
		tb.Fatal(err)
	}
}

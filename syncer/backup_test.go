package syncer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/meta"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

var ctx = context.Background()

// stack is one device: metadata, network and backup over shared farmers.
type stack struct {
	db     *cache.DB
	net    *netclient.Network
	blocks *syncer.Blocks
	backup *syncer.Backup
	keys   *crypto.Keys
}

func startFarmers(t testing.TB, n int) ([]*farmer.Liar, []format.Address) {
	t.Helper()
	var liars []*farmer.Liar
	var addrs []format.Address
	for range n {
		l, a := farmer.StartLiar(t, farmer.Config{}, nil)
		liars, addrs = append(liars, l), append(addrs, a)
	}
	return liars, addrs
}

func netConfig() netclient.NetworkConfig {
	c := netclient.NewNetworkConfig()
	c.RequestTimeout = 5 * time.Second
	return c
}

func newNet(t testing.TB, keys *crypto.Keys, addrs []format.Address) *netclient.Network {
	t.Helper()
	var clients []*netclient.FarmerClient
	for _, a := range addrs {
		clients = append(clients, netclient.NewFarmerClient(a, keys.AccountKey(a.ID.PublicKey()), netclient.NewFarmerConfig()))
	}
	n, err := netclient.NewNetwork(netConfig(), clients, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func backupConfig() syncer.BackupConfig {
	c := syncer.NewBackupConfig()
	c.PartSize = 64 << 10 // several parts for a modest checkpoint
	return c
}

// newDrive makes a 2+1 drive over addrs with a backup.
func newDrive(t testing.TB, keys *crypto.Keys, addrs []format.Address) *stack {
	t.Helper()
	return newDriveKM(t, keys, addrs, 2, 1)
}

// newDriveKM is newDrive with k and m chosen.
func newDriveKM(t testing.TB, keys *crypto.Keys, addrs []format.Address, k, m int) *stack {
	t.Helper()
	db, err := cache.Open(ctx, filepath.Join(t.TempDir(), "drive.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dc := cache.DriveConfig{ID: crypto.NewFileID(), DataShards: k, ParityShards: m, BlockSize: 256 << 10, KeyCheck: keys.Check(), Created: time.Now()}
	must(t, db.Update(ctx, func(tx *cache.Tx) error {
		if err := tx.InitDrive(dc, 0, 0); err != nil {
			return err
		}
		for _, a := range addrs {
			if _, err := tx.AddFarmer(a.ID.String(), a.String()); err != nil {
				return err
			}
		}
		return nil
	}))
	return open(t, db, keys, addrs)
}

func open(t testing.TB, db *cache.DB, keys *crypto.Keys, addrs []format.Address) *stack {
	t.Helper()
	s := &stack{db: db, keys: keys, net: newNet(t, keys, addrs)}
	var err error
	if s.blocks, err = syncer.NewBlocks(ctx, db, s.net, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if s.backup, err = syncer.NewBackup(ctx, db, s.blocks, s.net, keys, backupConfig()); err != nil {
		t.Fatal(err)
	}
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// addFiles creates n files with names and contents under root.
func addFiles(t testing.TB, db *cache.DB, prefix string, n int) {
	t.Helper()
	must(t, db.Update(ctx, func(tx *cache.Tx) error {
		now := time.Now()
		dir, err := tx.CreateInode(cache.Inode{Kind: cache.KindDir, Mode: 0o755, Atime: now, Mtime: now, Ctime: now})
		if err != nil {
			return err
		}
		if err := tx.Link(cache.RootIno, prefix, dir); err != nil {
			return err
		}
		for i := range n {
			content := []byte(fmt.Sprintf("file %s/%d", prefix, i))
			ino, err := tx.CreateInode(cache.Inode{Kind: cache.KindFile, Mode: 0o644, Size: int64(len(content)), Atime: now, Mtime: now, Ctime: now,
				FileID: make([]byte, 16), FileKey: make([]byte, 40), Inline: content})
			if err != nil {
				return err
			}
			if err := tx.Link(dir, fmt.Sprintf("f%04d", i), ino); err != nil {
				return err
			}
		}
		return nil
	}))
}

func dump(t testing.TB, db *cache.DB) []meta.Record {
	t.Helper()
	var recs []meta.Record
	must(t, db.View(ctx, func(tx *cache.Tx) error {
		_, err := tx.MetaDump(func(r meta.Record) error { recs = append(recs, r); return nil })
		return err
	}))
	return recs
}

// recoverInto restores the drive from the farmer at first into a new
// database and returns it with what FindRoot found.
func recoverInto(t testing.TB, keys *crypto.Keys, first format.Address) (*cache.DB, *syncer.Found, error) {
	t.Helper()
	found, err := syncer.FindRoot(ctx, first, keys, netConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(found.Close)
	db, err := cache.Open(ctx, filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = syncer.Restore(ctx, db, found, keys, syncer.RestoreConfig{KeepOwners: true, TakeOver: true, Now: time.Now()})
	return db, found, err
}

func objectKinds(t testing.TB, db *cache.DB) []meta.ObjectKind {
	t.Helper()
	var kinds []meta.ObjectKind
	must(t, db.View(ctx, func(tx *cache.Tx) error {
		objs, err := tx.BackupObjects()
		for _, o := range objs {
			kinds = append(kinds, o.Kind)
		}
		return err
	}))
	return kinds
}

func TestBackupAndRestore(t *testing.T) {
	_, addrs := startFarmers(t, 4)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	addFiles(t, s.db, "a", 300)
	must(t, s.backup.Round(ctx))
	if k := objectKinds(t, s.db); !reflect.DeepEqual(k, []meta.ObjectKind{meta.Checkpoint}) {
		t.Fatalf("after the first round: objects %v, want one checkpoint", k)
	}
	// Later changes go into small segments, not new checkpoints.
	for i := range 5 {
		addFiles(t, s.db, fmt.Sprintf("b%d", i), 3)
		must(t, s.backup.Round(ctx))
	}
	kinds := objectKinds(t, s.db)
	if kinds[0] != meta.Checkpoint || len(kinds) < 2 || len(kinds) > 4 {
		t.Fatalf("after five small rounds: objects %v, want the checkpoint and a few merged segments", kinds)
	}
	st, err := s.backup.Status(ctx)
	must(t, err)
	if st.Pending || st.Version != 6 {
		t.Fatalf("status %+v: want version 6, nothing pending", st)
	}

	restored, found, err := recoverInto(t, keys, addrs[2])
	must(t, err)
	if found.Root.Version != 6 || found.Answered != 4 {
		t.Fatalf("found version %d from %d farmers", found.Root.Version, found.Answered)
	}
	if got, want := dump(t, restored), dump(t, s.db); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored metadata differs: %d records, want %d", len(got), len(want))
	}
}

func TestRecoverWithFarmersDown(t *testing.T) {
	liars, addrs := startFarmers(t, 4)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	addFiles(t, s.db, "a", 50)
	must(t, s.backup.Round(ctx))
	// m=1: one farmer may go.
	must(t, liars[1].Shutdown(ctx))
	restored, found, err := recoverInto(t, keys, addrs[0])
	must(t, err)
	if len(found.Down) != 1 {
		t.Fatalf("down farmers %v, want one", found.Down)
	}
	if got, want := dump(t, restored), dump(t, s.db); !reflect.DeepEqual(got, want) {
		t.Fatal("restored metadata differs")
	}
}

func TestRecoverRefusesRollbackAndForgery(t *testing.T) {
	liars, addrs := startFarmers(t, 4)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	addFiles(t, s.db, "a", 20)
	must(t, s.backup.Round(ctx))
	// Farmer 0 replays this root from now on; farmer 1 serves a root made
	// under other keys with a higher version (key overwrite).
	liars[0].FreezeRoot()
	other := crypto.NewTestKeys(t, "attacker")
	forged, err := meta.SealRoot(&meta.Root{Version: 99, DataShards: 2, ParityShards: 1, BlockSize: 256 << 10}, other.RootSealKey(), other.RootSigningKey())
	must(t, err)
	liars[1].ServeRoot(99, forged)
	addFiles(t, s.db, "b", 20)
	must(t, s.backup.Round(ctx))
	want := dump(t, s.db)

	// Starting from the rolled-back farmer still finds the newest root.
	restored, found, err := recoverInto(t, keys, addrs[0])
	must(t, err)
	if found.Root.Version != 2 {
		t.Fatalf("recovered version %d, want 2", found.Root.Version)
	}
	if len(found.Older) != 1 || len(found.Bad) != 1 {
		t.Fatalf("older %v, bad %v: want the replaying and the forging farmer named", found.Older, found.Bad)
	}
	if got := dump(t, restored); !reflect.DeepEqual(got, want) {
		t.Fatal("restored metadata differs")
	}
	// Starting from the forging farmer alone there is no valid root to
	// learn the others from: a loud refusal, not the forged drive.
	if _, err := syncer.FindRoot(ctx, addrs[1], keys, netConfig(), slog.New(slog.DiscardHandler)); !errors.Is(err, syncer.ErrNoBackup) || !errors.Is(err, meta.ErrBadSignature) && !strings.Contains(err.Error(), "signature") {
		t.Fatalf("from the forging farmer: %v, want a refusal naming the bad signature", err)
	}
	// A wrong mnemonic finds nothing, and FindRoot writes nothing.
	if _, err := syncer.FindRoot(ctx, addrs[2], crypto.NewTestKeys(t, "wrong"), netConfig(), slog.New(slog.DiscardHandler)); !errors.Is(err, syncer.ErrNoBackup) {
		t.Fatalf("wrong keys: %v, want ErrNoBackup", err)
	}
}

func TestGarbageWaitsForRoot(t *testing.T) {
	_, addrs := startFarmers(t, 3)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	must(t, s.backup.Round(ctx))
	// A block, backed up; then replaced.
	var ino int64
	store := func(data string) cache.Block {
		st, err := s.blocks.Store(ctx, syncer.File{Ino: ino, ID: [16]byte{1}, Sealer: crypto.NewSealer(&crypto.Key{1})}, 0, []byte(data))
		must(t, err)
		must(t, s.db.Update(ctx, func(tx *cache.Tx) error {
			if err := tx.PutBlock(st.Block); err != nil {
				return err
			}
			return tx.DropPending(st.Pending...)
		}))
		return st.Block
	}
	must(t, s.db.Update(ctx, func(tx *cache.Tx) (err error) {
		now := time.Now()
		ino, err = tx.CreateInode(cache.Inode{Kind: cache.KindFile, Mode: 0o644, Atime: now, Mtime: now, Ctime: now, FileID: make([]byte, 16), FileKey: make([]byte, 40)})
		if err != nil {
			return err
		}
		return tx.Link(cache.RootIno, "f", ino)
	}))
	old := store("old contents")
	must(t, s.backup.Round(ctx))
	store("new contents") // the old block's shards become garbage
	n, err := s.blocks.CollectGarbage(ctx, 100)
	must(t, err)
	if n != 0 {
		t.Fatalf("%d shards deleted before a root without them was stored", n)
	}
	// The root on the farmers still names the old block: it must load.
	file := syncer.File{Ino: ino, ID: [16]byte{1}, Sealer: crypto.NewSealer(&crypto.Key{1})}
	if got, err := s.blocks.Load(ctx, file, old, nil); err != nil || string(got) != "old contents" {
		t.Fatalf("old block after garbage collection: %q, %v", got, err)
	}
	must(t, s.backup.Round(ctx))
	if n, err = s.blocks.CollectGarbage(ctx, 100); err != nil || n < len(old.Shards) {
		t.Fatalf("after the root: %d shards deleted (%v), want at least %d", n, err, len(old.Shards))
	}
	if _, err := s.blocks.Load(ctx, file, old, nil); err == nil {
		t.Fatal("the old block still loads after its garbage was collected")
	}
}

func TestLeaseTakeOver(t *testing.T) {
	_, addrs := startFarmers(t, 3)
	keys := crypto.NewTestKeys(t, "drive")
	a := newDrive(t, keys, addrs)
	addFiles(t, a.db, "a", 5)
	must(t, a.backup.Round(ctx))

	found, err := syncer.FindRoot(ctx, addrs[0], keys, netConfig(), slog.New(slog.DiscardHandler))
	must(t, err)
	defer found.Close()
	if err := found.CheckLease([16]byte{7}, syncer.RestoreConfig{Now: time.Now()}); !errors.Is(err, syncer.ErrLeaseHeld) {
		t.Fatalf("lease of a live device: %v, want ErrLeaseHeld", err)
	}
	// Take over: restore, then store a root naming the new device.
	restored, _, err := recoverInto(t, keys, addrs[0])
	must(t, err)
	b := open(t, restored, keys, addrs)
	must(t, b.backup.Round(ctx))

	// The old device's next round finds out and stops writing.
	addFiles(t, a.db, "late", 1)
	if err := a.backup.Round(ctx); !errors.Is(err, syncer.ErrLeaseLost) {
		t.Fatalf("old device's round: %v, want ErrLeaseLost", err)
	}
	if err := a.backup.Round(ctx); !errors.Is(err, syncer.ErrLeaseLost) {
		t.Fatalf("old device's next round: %v, want ErrLeaseLost", err)
	}
	st, err := a.backup.Status(ctx)
	must(t, err)
	if st.LostTo == "" {
		t.Fatal("status does not say the lease was lost")
	}
}

// TestFailedRootKeepsChanges: a round whose root reaches only a minority
// of the farmers leaves that root naming objects whose shards are garbage
// now. Its changes stay noted, so the covered change number (and with it
// garbage collection) cannot move past them before a later root is stored.
func TestFailedRootKeepsChanges(t *testing.T) {
	liars, addrs := startFarmers(t, 6)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	must(t, s.backup.Round(ctx))
	var covered int64
	must(t, s.db.View(ctx, func(tx *cache.Tx) error { st, err := tx.BackupState(); covered = st.Covered; return err }))
	addFiles(t, s.db, "a", 3)
	for _, l := range liars[:3] {
		must(t, l.Shutdown(ctx))
	}
	// k+1 = 3 farmers take the segment; 3 of 6 is no majority for its root.
	if err := s.backup.Round(ctx); !errors.Is(err, syncer.ErrUnavailable) {
		t.Fatalf("round with half the farmers: %v, want ErrUnavailable", err)
	}
	must(t, s.db.View(ctx, func(tx *cache.Tx) error {
		st, err := tx.BackupState()
		if err != nil {
			return err
		}
		unchanged, _, err := tx.MetaUnchanged()
		if err == nil && (unchanged || st.Covered != covered) {
			t.Errorf("after a root on a minority: unchanged %v, covered %d (was %d)", unchanged, st.Covered, covered)
		}
		return err
	}))
}

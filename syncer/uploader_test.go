package syncer_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// hookedNet is the real network with a function run before each Place,
// to look at the uploader while a block is on its way.
type hookedNet struct {
	*netclient.Network
	beforePlace func()
}

func (n hookedNet) Place(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int) ([]netclient.Placement, error) {
	n.beforePlace()
	return n.Network.Place(ctx, shards, roots, minOK)
}

// TestUploaderTransfers watches Transfers while a file of several blocks
// is stored: the file is listed while it is in flight, with its dirty
// bytes as the total and what is stored so far as done; the list is empty
// once Sync returns.
func TestUploaderTransfers(t *testing.T) {
	keys := crypto.NewTestKeys(t, "drive")
	_, addrs := startFarmers(t, 3)
	s := newDrive(t, keys, addrs) // 2+1, 256 KiB blocks
	const bs = 256 << 10
	data := make([]byte, 4*bs+1000) // five blocks, the last partial
	for i := range data {
		data[i] = byte(i * 7)
	}
	files, err := cache.OpenFiles(t.TempDir(), bs)
	must(t, err)
	ino := dirtyFile(t, s.db, files, keys, "big.bin", data)

	var (
		u        *syncer.Uploader
		mu       sync.Mutex
		observed [][]syncer.Transfer // at each Place
	)
	net := hookedNet{Network: s.net, beforePlace: func() {
		mu.Lock()
		observed = append(observed, u.Transfers())
		mu.Unlock()
	}}
	blocks, err := syncer.NewBlocks(ctx, s.db, net, slog.New(slog.DiscardHandler))
	must(t, err)
	cfg := syncer.NewUploaderConfig()
	cfg.Quiet = 0
	u, err = syncer.NewUploader(ctx, s.db, files, blocks, keys, cfg)
	must(t, err)

	// A reader polling all along, as `shardrive status` does.
	stop := make(chan struct{})
	polled := make(chan error, 1)
	go func() {
		var bad error
		for {
			select {
			case <-stop:
				polled <- bad
				return
			default:
			}
			for _, tr := range u.Transfers() {
				if tr.Done < 0 || tr.Done > tr.Total {
					bad = fmt.Errorf("polled transfer %+v: want 0 <= done <= total", tr)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	before := time.Now()
	must(t, u.Sync(ctx))
	close(stop)
	if err := <-polled; err != nil {
		t.Error(err)
	}

	if len(observed) != 5 {
		t.Fatalf("%d places, want one per block (5)", len(observed))
	}
	var lastDone int64
	for i, trs := range observed {
		if len(trs) != 1 || trs[0].Ino != ino {
			t.Fatalf("place %d: transfers %+v, want the one file (inode %d)", i, trs, ino)
		}
		tr := trs[0]
		if tr.Total != int64(len(data)) || tr.Done >= tr.Total || tr.Done < lastDone {
			t.Errorf("place %d: %d of %d bytes done (before: %d), want a total of %d, done growing and short of it while a block is on its way",
				i, tr.Done, tr.Total, lastDone, len(data))
		}
		if tr.Started.Before(before) || tr.Started != observed[0][0].Started {
			t.Errorf("place %d: started %v, want one time after %v", i, tr.Started, before)
		}
		lastDone = tr.Done
	}
	if trs := u.Transfers(); len(trs) != 0 {
		t.Errorf("after Sync: transfers %+v, want none", trs)
	}
	must(t, s.db.View(ctx, func(tx *cache.Tx) error {
		if _, dirty, err := tx.CachedCount(); err != nil || dirty != 0 {
			t.Errorf("after Sync: %d dirty blocks (%v), want 0", dirty, err)
		}
		return nil
	}))
}

// dirtyFile makes file name in the root with data written to the local
// cache and not uploaded yet, as the drive leaves a flushed write.
func dirtyFile(t testing.TB, db *cache.DB, files *cache.Files, keys *crypto.Keys, name string, data []byte) int64 {
	t.Helper()
	var ino int64
	fk, fid := crypto.NewFileKey(), crypto.NewFileID()
	now := time.Now()
	must(t, db.Update(ctx, func(tx *cache.Tx) (err error) {
		ino, err = tx.CreateInode(cache.Inode{Kind: cache.KindFile, Mode: 0o644, Size: int64(len(data)), Atime: now, Mtime: now, Ctime: now,
			FileID: fid[:], FileKey: crypto.WrapKey(keys.FileWrapKey(), fk, fid[:])})
		if err != nil {
			return err
		}
		return tx.Link(cache.RootIno, name, ino)
	}))
	f, err := files.Get(ino)
	must(t, err)
	f.Lock()
	err = f.WriteAt(data, 0)
	f.Unlock()
	f.Release()
	must(t, err)
	bs := f.BlockSize()
	must(t, db.Update(ctx, func(tx *cache.Tx) error {
		for idx := range (int64(len(data)) + bs - 1) / bs {
			if err := tx.SetCached(ino, idx, true); err != nil {
				return err
			}
		}
		return tx.MarkChanged(ino)
	}))
	return ino
}

package syncer_test

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/syncer"
)

// BenchmarkRepairAfterFarmerLoss measures the time to repair a drive of
// SHARDRIVE_REPAIR_MIB MiB (default 1024) in 4 MiB blocks, coded 4+2 over
// eight loopback farmers, after one farmer is lost for good:
//
//	go test -run '^$' -bench RepairAfterFarmerLoss -benchtime 1x ./syncer/
//
// It reports the wall time of the repair and the plaintext it covered per
// second (MB/s over the whole drive, as if the drive's every block had to
// be checked), and the shard bytes moved.
func BenchmarkRepairAfterFarmerLoss(b *testing.B) {
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("SHARDRIVE_REPAIR_MIB")); err == nil && v > 0 {
		mib = v
	}
	for range b.N {
		b.StopTimer()
		liars, addrs := startFarmers(b, 8)
		keys := crypto.NewTestKeys(b, "repair")
		s := newDriveKM(b, keys, addrs, 4, 2)
		var ino int64
		must(b, s.db.Update(ctx, func(tx *cache.Tx) (err error) {
			now := time.Now()
			ino, err = tx.CreateInode(cache.Inode{Kind: cache.KindFile, Mode: 0o644, Atime: now, Mtime: now, Ctime: now,
				FileID: make([]byte, 16), FileKey: make([]byte, 40)})
			if err != nil {
				return err
			}
			return tx.Link(cache.RootIno, "big", ino)
		}))
		file := syncer.File{Ino: ino, ID: [16]byte{9}, Sealer: crypto.NewSealer(&crypto.Key{9})}
		plain := make([]byte, 4<<20)
		for i := range mib / 4 {
			rand.Read(plain[:64])
			st, err := s.blocks.Store(ctx, file, int64(i), plain)
			must(b, err)
			must(b, s.db.Update(ctx, func(tx *cache.Tx) error {
				if err := tx.PutBlock(st.Block); err != nil {
					return err
				}
				return tx.DropPending(st.Pending...)
			}))
		}
		// Lose the farmer holding the most shards.
		var worst cache.Health
		must(b, s.db.Update(ctx, func(tx *cache.Tx) error {
			hs, err := tx.Healths()
			if err != nil {
				return err
			}
			for _, h := range hs {
				if h.HeldShards > worst.HeldShards {
					worst = h
				}
			}
			return tx.SetFarmerState(worst.ID, cache.StateDisqualified, "benchmark: lost for good")
		}))
		for _, l := range liars {
			if l.ID().String() == worst.NodeID {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				must(b, l.Shutdown(sctx))
				cancel()
			}
		}
		k, err := syncer.NewKeeper(s.db, s.blocks, s.net, syncer.NewKeeperConfig())
		must(b, err)
		must(b, k.ApplyStates(ctx))
		b.StartTimer()
		start := time.Now()
		rep, err := k.Repair(ctx)
		d := time.Since(start)
		b.StopTimer()
		must(b, err)
		if rep.Remaining != 0 {
			b.Fatalf("repair left %d blocks below the threshold", rep.Remaining)
		}
		b.ReportMetric(d.Seconds(), "s/repair")
		b.ReportMetric(float64(mib<<20)/1e6/d.Seconds(), "drive-MB/s")
		b.ReportMetric(float64(rep.Shards), "shards")
		b.ReportMetric(float64(rep.Bytes)/1e6, "MB-moved")
	}
}

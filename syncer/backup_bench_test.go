package syncer_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/syncer"
)

// BenchmarkBackupSmallChange measures what one small-file change costs the
// metadata backup: plaintext bytes of the objects stored per round, and
// bytes of shards placed on farmers (merged segments included, so the
// figure is amortized), over six farmers at 4+2.
//
//	go test -run '^$' -bench BackupSmallChange -benchtime 50x ./syncer/
func BenchmarkBackupSmallChange(b *testing.B) {
	_, addrs := startFarmers(b, 6)
	keys := crypto.NewTestKeys(b, "drive")
	s := newDriveKM(b, keys, addrs, 4, 2)
	addFiles(b, s.db, "base", 1000)
	if err := s.backup.Round(ctx); err != nil {
		b.Fatal(err)
	}
	var plain, stored int64
	last := lastSeq(b, s.db)
	b.ResetTimer()
	for i := range b.N {
		addFiles(b, s.db, fmt.Sprintf("c%d", i), 1)
		if err := s.backup.Round(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p, st, seq := newObjectBytes(b, s.db, last)
		plain, stored, last = plain+p, stored+st, seq
		b.StartTimer()
	}
	b.ReportMetric(float64(plain)/float64(b.N), "meta_plain_B/change")
	b.ReportMetric(float64(stored)/float64(b.N), "meta_shard_B/change")
}

func lastSeq(b *testing.B, db *cache.DB) uint64 {
	var seq uint64
	if err := db.View(ctx, func(tx *cache.Tx) error {
		st, err := tx.BackupState()
		seq = st.ObjectSeq
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return seq
}

// newObjectBytes sums the objects stored after seq after.
func newObjectBytes(b *testing.B, db *cache.DB, after uint64) (plain, stored int64, last uint64) {
	last = after
	if err := db.View(ctx, func(tx *cache.Tx) error {
		objs, err := tx.BackupObjects()
		for _, o := range objs {
			if o.Seq <= after {
				continue
			}
			plain += o.Bytes
			for _, p := range o.Parts {
				stored += p.ShardLen * int64(len(p.Shards))
			}
			last = max(last, o.Seq)
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return plain, stored, last
}

// BenchmarkRecoverMetadata measures recovering the metadata of a drive of
// SHARDRIVE_BENCH_FILES files (default 100,000) over six loopback farmers:
// find the root, fetch and replay the objects, check the tree. No file
// contents are fetched.
//
//	go test -run '^$' -bench RecoverMetadata -benchtime 1x ./syncer/
func BenchmarkRecoverMetadata(b *testing.B) {
	n := 100_000
	if v := os.Getenv("SHARDRIVE_BENCH_FILES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	_, addrs := startFarmers(b, 6)
	keys := crypto.NewTestKeys(b, "drive")
	s := newDriveKM(b, keys, addrs, 4, 2)
	for i := 0; i < n; i += 10_000 {
		addFiles(b, s.db, fmt.Sprintf("d%03d", i/10_000), min(10_000, n-i))
	}
	start := time.Now()
	if err := s.backup.Round(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("checkpoint of %d files stored in %v", n, time.Since(start))
	b.ResetTimer()
	for range b.N {
		found, err := syncer.FindRoot(ctx, addrs[0], keys, netConfig(), slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		db, err := cache.Open(ctx, filepath.Join(b.TempDir(), "restored.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := syncer.Restore(ctx, db, found, keys, syncer.RestoreConfig{TakeOver: true, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
		found.Close()
		db.Close()
	}
	b.ReportMetric(float64(n), "files")
}

package cache

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// OpenTest opens an initialized drive database in a temporary directory with
// k=4, m=2 and 1 MiB blocks, closed when the test ends.
func OpenTest(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "drive.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cfg := DriveConfig{DataShards: 4, ParityShards: 2, BlockSize: 1 << 20, Created: time.Now()}
	if err := db.Update(context.Background(), func(tx *Tx) error { return tx.InitDrive(cfg, 1000, 1000) }); err != nil {
		tb.Fatal(err)
	}
	return db
}

package cache

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var ctx = context.Background()

func update(t *testing.T, db *DB, fn func(*Tx) error) {
	t.Helper()
	if err := db.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func newFile(t *testing.T, tx *Tx, parent int64, name string) int64 {
	t.Helper()
	now := time.Now()
	ino, err := tx.CreateInode(Inode{Kind: KindFile, Mode: 0o644, Atime: now, Mtime: now, Ctime: now, FileID: make([]byte, 16), FileKey: make([]byte, 40)})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Link(parent, name, ino); err != nil {
		t.Fatal(err)
	}
	return ino
}

func TestSchemaReopenAndTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DriveConfig{DataShards: 4, ParityShards: 2, BlockSize: 4 << 20, Created: time.Unix(0, 42)}
	cfg.ID[0], cfg.KeyCheck[31] = 7, 9
	update(t, db, func(tx *Tx) error { return tx.InitDrive(cfg, 0, 0) })
	if err := db.Update(ctx, func(tx *Tx) error { return tx.InitDrive(cfg, 0, 0) }); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	if _, err := db.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open newer schema: %v, want ErrSchemaTooNew", err)
	}
	db2, _ := Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	defer db2.Close()
	if err := db2.View(ctx, func(tx *Tx) error { _, err := tx.Drive(); return err }); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("uninitialized: %v", err)
	}
}

func TestDriveConfigRoundTrip(t *testing.T) {
	db, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := DriveConfig{DataShards: 10, ParityShards: 4, BlockSize: 8 << 20, Created: time.Unix(5, 6)}
	cfg.ID[3], cfg.KeyCheck[0] = 1, 2
	update(t, db, func(tx *Tx) error { return tx.InitDrive(cfg, 0, 0) })
	db.View(ctx, func(tx *Tx) error {
		got, err := tx.Drive()
		if err != nil || got != cfg {
			t.Fatalf("Drive() = %+v, %v; want %+v", got, err, cfg)
		}
		return nil
	})
	var v1, v2 uint64
	update(t, db, func(tx *Tx) (err error) { v1, err = tx.NextVersion(); return })
	update(t, db, func(tx *Tx) (err error) { v2, err = tx.NextVersion(); return })
	if v2 <= v1 {
		t.Fatalf("versions %d then %d: must grow", v1, v2)
	}
}

func TestNamespace(t *testing.T) {
	db := OpenTest(t)
	update(t, db, func(tx *Tx) error {
		now := time.Now()
		dir, err := tx.CreateInode(Inode{Kind: KindDir, Mode: 0o755, Atime: now, Mtime: now, Ctime: now})
		if err != nil {
			return err
		}
		if err := tx.Link(RootIno, "docs", dir); err != nil {
			return err
		}
		f := newFile(t, tx, dir, "report ü.pdf")
		if err := tx.Link(RootIno, "hard", f); err != nil {
			return err
		}
		if err := tx.Link(RootIno, "docs", f); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate name: %v", err)
		}
		if err := tx.Link(f, "x", f); !errors.Is(err, ErrNotDir) {
			t.Errorf("link under a file: %v", err)
		}
		return nil
	})
	db.View(ctx, func(tx *Tx) error {
		in, err := tx.LookupPath("/docs/report ü.pdf")
		if err != nil || in.Kind != KindFile || in.Nlink != 2 {
			t.Fatalf("lookup = %+v, %v", in, err)
		}
		root, _ := tx.Inode(RootIno)
		docs, _ := tx.LookupPath("/docs")
		if root.Nlink != 3 || docs.Nlink != 2 {
			t.Errorf("nlink root %d docs %d, want 3 and 2", root.Nlink, docs.Nlink)
		}
		for _, p := range []string{"/nope", "/docs/nope", "/hard/x"} {
			if _, err := tx.LookupPath(p); err == nil {
				t.Errorf("LookupPath(%q) succeeded", p)
			}
		}
		if _, err := tx.LookupPath("/hard/x"); !errors.Is(err, ErrNotDir) {
			t.Errorf("through a file: %v", err)
		}
		ents, err := tx.ReadDir(RootIno)
		if err != nil || len(ents) != 2 || ents[0].Name != "docs" || ents[1].Name != "hard" {
			t.Errorf("ReadDir = %+v, %v", ents, err)
		}
		return nil
	})
	if err := db.Update(ctx, func(tx *Tx) error { _, err := tx.Unlink(RootIno, "docs"); return err }); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"日本語 ✓", true}, {strings.Repeat("é", 127), true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a\x00", false},
		{strings.Repeat("x", 256), false}, {"\xff", false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if _, err := SplitPath("relative"); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := SplitPath("/a/../b"); err == nil {
		t.Error(".. accepted")
	}
}

func TestBlocksGarbageAndPending(t *testing.T) {
	db := OpenTest(t)
	var ino, f1, f2 int64
	update(t, db, func(tx *Tx) (err error) {
		ino = newFile(t, tx, RootIno, "f")
		if f1, err = tx.AddFarmer("n1", "n1@127.0.0.1:1"); err != nil {
			return err
		}
		f2, err = tx.AddFarmer("n2", "n2@127.0.0.1:2")
		return err
	})
	mk := func(idx int64, v uint64, b byte) Block {
		return Block{Ino: ino, Index: idx, Version: v, PlainLen: 10, SealedLen: 20, ShardLen: 5, DataShards: 1, ParityShards: 1,
			Shards: []Shard{{Index: 0, Root: [32]byte{b}, Farmer: f1}, {Index: 1, Root: [32]byte{b + 1}, Farmer: f2}}}
	}
	update(t, db, func(tx *Tx) error {
		id, err := tx.AddPending(f1, [32]byte{1})
		if err != nil {
			return err
		}
		if err := tx.PutBlock(mk(0, 1, 1)); err != nil {
			return err
		}
		if err := tx.DropPending(id); err != nil {
			return err
		}
		return tx.PutBlock(mk(1, 2, 10))
	})
	update(t, db, func(tx *Tx) error { return tx.PutBlock(mk(0, 3, 20)) }) // rewrite block 0
	db.View(ctx, func(tx *Tx) error {
		bs, err := tx.Blocks(ino)
		if err != nil || len(bs) != 2 || bs[0].Version != 3 || bs[0].Shards[1].NodeID != "n2" || bs[0].Shards[0].Root[0] != 20 {
			t.Fatalf("Blocks = %+v, %v", bs, err)
		}
		g, err := tx.Garbage(10)
		if err != nil || len(g) != 2 || g[0].Root[0] != 1 || g[1].Root[0] != 2 {
			t.Fatalf("garbage after rewrite = %+v, %v", g, err)
		}
		return nil
	})
	update(t, db, func(tx *Tx) error {
		if _, err := tx.AddPending(f2, [32]byte{99}); err != nil {
			return err
		}
		n, err := tx.AbandonPending()
		if n != 1 {
			t.Errorf("abandoned %d, want 1", n)
		}
		return err
	})
	update(t, db, func(tx *Tx) error { _, err := tx.Unlink(RootIno, "f"); return err })
	db.View(ctx, func(tx *Tx) error {
		n, _ := tx.GarbageCount()
		if n != 2+1+4 {
			t.Errorf("garbage count %d, want 7 (rewrite 2, abandoned 1, unlinked file 4)", n)
		}
		if _, err := tx.Inode(ino); !errors.Is(err, ErrNotFound) {
			t.Errorf("inode after last unlink: %v", err)
		}
		return nil
	})
}

func TestFarmerStats(t *testing.T) {
	db := OpenTest(t)
	update(t, db, func(tx *Tx) error {
		if _, err := tx.AddFarmer("n1", "a"); err != nil {
			return err
		}
		if _, err := tx.AddFarmer("n1", "b"); err != nil { // re-add updates the address
			return err
		}
		return tx.SaveFarmerStats(Farmer{NodeID: "n1", Latency: 3 * time.Millisecond, Successes: 5, LastSeen: time.Unix(1, 0)})
	})
	db.View(ctx, func(tx *Tx) error {
		fs, err := tx.Farmers()
		if err != nil || len(fs) != 1 || fs[0].Address != "b" || fs[0].Latency != 3*time.Millisecond || fs[0].Successes != 5 {
			t.Fatalf("Farmers = %+v, %v", fs, err)
		}
		return nil
	})
}

func TestInodeNumbersAreNeverReused(t *testing.T) {
	db := OpenTest(t)
	var first, second int64
	update(t, db, func(tx *Tx) error { first = newFile(t, tx, RootIno, "a"); return nil })
	update(t, db, func(tx *Tx) error { _, err := tx.Unlink(RootIno, "a"); return err })
	update(t, db, func(tx *Tx) error { second = newFile(t, tx, RootIno, "b"); return nil })
	if second <= first {
		t.Fatalf("inode %d after deleting %d: numbers must not be reused", second, first)
	}
	db.View(ctx, func(tx *Tx) error {
		p, err := tx.Parent(second)
		if err != nil || p.Ino != RootIno {
			t.Errorf("Parent = %d, %v", p.Ino, err)
		}
		return nil
	})
}

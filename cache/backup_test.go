package cache

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/meta"
)

// dumpAll returns every backed-up row, for comparing two databases.
func dumpAll(t *testing.T, db *DB) []meta.Record {
	t.Helper()
	var recs []meta.Record
	if err := db.View(ctx, func(tx *Tx) error {
		_, err := tx.MetaDump(func(r meta.Record) error { recs = append(recs, r); return nil })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

func emptyDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBackupReplay checks that a checkpoint plus the change sets made
// after it, replayed into an empty database, give the same metadata.
func TestBackupReplay(t *testing.T) {
	db := OpenTest(t)
	var farmer int64
	var a, b int64
	update(t, db, func(tx *Tx) (err error) {
		if farmer, err = tx.AddFarmer("n1", "n1@127.0.0.1:1"); err != nil {
			return err
		}
		a = newFile(t, tx, RootIno, "a")
		b = newFile(t, tx, RootIno, "b")
		return tx.PutBlock(Block{Ino: a, Index: 0, Version: 1, PlainLen: 10, SealedLen: 20, ShardLen: 5, DataShards: 4, ParityShards: 2,
			Shards: []Shard{{Index: 0, Root: [32]byte{1}, Farmer: farmer}}})
	})
	checkpoint := dumpAll(t, db)
	update(t, db, func(tx *Tx) error { return tx.MetaCommitted(1 << 62) })

	// Changes after the checkpoint: a rename, an xattr, a new block, an
	// unlink, a new directory.
	update(t, db, func(tx *Tx) error {
		if _, _, err := tx.Rename(RootIno, "a", RootIno, "a2", RenameReplace, nil); err != nil {
			return err
		}
		if err := tx.SetXattr(a, "user.k", []byte("v"), false, false); err != nil {
			return err
		}
		if err := tx.PutBlock(Block{Ino: a, Index: 1, Version: 2, PlainLen: 3, SealedLen: 20, ShardLen: 5, DataShards: 4, ParityShards: 2,
			Shards: []Shard{{Index: 2, Root: [32]byte{2}, Farmer: farmer}}}); err != nil {
			return err
		}
		if _, err := tx.Unlink(RootIno, "b"); err != nil {
			return err
		}
		now := time.Now()
		d, err := tx.CreateInode(Inode{Kind: KindDir, Mode: 0o700, Atime: now, Mtime: now, Ctime: now})
		if err != nil {
			return err
		}
		return tx.Link(RootIno, "dir", d)
	})
	var seg []meta.Record
	update(t, db, func(tx *Tx) (err error) { _, seg, err = tx.MetaChanges(); return err })
	if len(seg) == 0 {
		t.Fatal("no changes noted")
	}
	_ = b

	restored := emptyDB(t)
	update(t, restored, func(tx *Tx) error {
		if err := tx.ApplyMeta(checkpoint); err != nil {
			return err
		}
		if err := tx.ApplyMeta(seg); err != nil {
			return err
		}
		return tx.FinishRestore(0, 0, true)
	})
	if got, want := dumpAll(t, restored), dumpAll(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored metadata differs:\n got %d records\nwant %d records", len(got), len(want))
	}
	// Nothing is noted as changed after a restore, and changes made after
	// it are tracked again.
	update(t, restored, func(tx *Tx) error {
		same, _, err := tx.MetaUnchanged()
		if err == nil && !same {
			t.Error("restore left changes to back up")
		}
		return err
	})
	update(t, restored, func(tx *Tx) error { newFile(t, tx, RootIno, "after"); return nil })
	update(t, restored, func(tx *Tx) error {
		same, _, err := tx.MetaUnchanged()
		if err == nil && same {
			t.Error("a change after the restore is not tracked")
		}
		return err
	})
}

// TestRestoreRefusesBrokenTrees checks FinishRestore's consistency checks.
func TestRestoreRefusesBrokenTrees(t *testing.T) {
	db := OpenTest(t)
	update(t, db, func(tx *Tx) error { newFile(t, tx, RootIno, "f"); return nil })
	base := dumpAll(t, db)
	var file int64
	for _, r := range base {
		if r.Type == meta.TypeInode && r.Inode.Ino != RootIno {
			file = r.Inode.Ino
		}
	}
	for name, extra := range map[string][]meta.Record{
		"injected second name": {{Type: meta.TypeDentry, Dentry: &meta.Dentry{Parent: RootIno, Name: "g", Ino: file}}},
		"entry in a file":      {{Type: meta.TypeDentry, Dentry: &meta.Dentry{Parent: file, Name: "x", Ino: file}}},
		"entry to nowhere":     {{Type: meta.TypeDentry, Dentry: &meta.Dentry{Parent: RootIno, Name: "y", Ino: 999}}},
	} {
		restored := emptyDB(t)
		err := restored.Update(ctx, func(tx *Tx) error {
			if err := tx.ApplyMeta(append(append([]meta.Record(nil), base...), extra...)); err != nil {
				return err
			}
			return tx.FinishRestore(0, 0, false)
		})
		if err == nil {
			t.Errorf("%s: restore accepted", name)
		} else if name != "entry to nowhere" && !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: %v, want ErrInconsistent", name, err)
		}
	}
}

// TestGarbageWaitsForBackup checks that once backups are on, a shard
// queued after the covered change number is not handed out.
func TestGarbageWaitsForBackup(t *testing.T) {
	db := OpenTest(t)
	update(t, db, func(tx *Tx) error {
		f, err := tx.AddFarmer("n1", "n1@127.0.0.1:1")
		if err != nil {
			return err
		}
		seq, err := tx.MetaSeq()
		if err != nil {
			return err
		}
		if err := tx.SetBackupState(BackupState{Enabled: true, Covered: seq, Version: 1}); err != nil {
			return err
		}
		id, err := tx.AddPending(f, [32]byte{3})
		if err != nil {
			return err
		}
		return tx.PendingToGarbage(id)
	})
	count := func() int {
		var n int
		update(t, db, func(tx *Tx) error { g, err := tx.Garbage(10); n = len(g); return err })
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d garbage shards handed out before a backup covers them", n)
	}
	update(t, db, func(tx *Tx) error {
		seq, err := tx.MetaSeq()
		if err != nil {
			return err
		}
		return tx.SetBackupState(BackupState{Enabled: true, Covered: seq, Version: 2})
	})
	if n := count(); n != 1 {
		t.Fatalf("%d garbage shards after the backup, want 1", n)
	}
}

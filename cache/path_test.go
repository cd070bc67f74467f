package cache

import (
	"errors"
	"testing"
)

func TestPathOf(t *testing.T) {
	db := OpenTest(t)
	var dir, file, linked, gone int64
	update(t, db, func(tx *Tx) error {
		d, err := tx.CreateInode(Inode{Kind: KindDir, Mode: 0o755})
		if err != nil {
			return err
		}
		if err := tx.Link(RootIno, "a dir", d); err != nil {
			return err
		}
		dir = d
		file = newFile(t, tx, dir, "f.txt")
		linked = newFile(t, tx, dir, "z")
		if err := tx.Link(RootIno, "b", linked); err != nil { // a hard link
			return err
		}
		gone = newFile(t, tx, RootIno, "gone")
		_, err = tx.Unlink(RootIno, "gone")
		return err
	})
	err := db.View(ctx, func(tx *Tx) error {
		for _, c := range []struct {
			ino  int64
			want string
		}{{RootIno, "/"}, {dir, "/a dir"}, {file, "/a dir/f.txt"}, {linked, "/b"}} {
			if got, err := tx.PathOf(c.ino); err != nil || got != c.want {
				t.Errorf("PathOf(%d) = %q, %v; want %q", c.ino, got, err, c.want)
			}
		}
		for _, ino := range []int64{gone, 9999} {
			if got, err := tx.PathOf(ino); !errors.Is(err, ErrNotFound) {
				t.Errorf("PathOf(%d) of an inode with no name = %q, %v; want ErrNotFound", ino, got, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package drive

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shardrive/shardrive/cache"
)

// TestSticky checks the sticky-bit rule (Linux's check_sticky) on unlink,
// rmdir and rename, for the entry removed or moved and for the one a rename
// replaces, and that a refused change changes nothing.
func TestSticky(t *testing.T) {
	d := OpenTest(t)
	const alice, bob = 1000, 1001
	mkdir := func(parent uint64, name string, mode, uid uint32) uint64 {
		t.Helper()
		a, err := d.Mkdir(ctx, parent, name, mode, uid, uid)
		if err != nil {
			t.Fatal(err)
		}
		return a.Ino
	}
	mkfile := func(parent uint64, name string, uid uint32) uint64 {
		t.Helper()
		a, err := d.Mknod(ctx, parent, name, cache.KindFile, 0o644, uid, uid)
		if err != nil {
			t.Fatal(err)
		}
		return a.Ino
	}
	dirs := map[string]uint64{
		"root's sticky":  mkdir(RootIno, "tmp", 0o1777, 0),
		"alice's sticky": mkdir(RootIno, "alice", 0o1777, alice),
		"plain":          mkdir(RootIno, "plain", 0o777, 0),
	}
	plain := dirs["plain"]
	unlink := func(c Caller, dir uint64, e, _ string) error { return d.Unlink(ctx, c, dir, e) }
	rmdir := func(c Caller, dir uint64, e, _ string) error { return d.Rmdir(ctx, c, dir, e) }
	// Each case makes the entry e in dir, owned by owner (a directory if
	// isDir), and a file src of the caller's in the plain directory for the
	// renames that bring a file in.
	for i, tc := range []struct {
		name   string
		caller uint32
		dir    string
		owner  uint32
		isDir  bool
		op     func(c Caller, dir uint64, e, src string) error
		want   error
		kept   bool // e names the same inode afterwards (always so on error)
	}{
		{"unlink another's", alice, "root's sticky", bob, false, unlink, ErrPermission, true},
		{"unlink own", alice, "root's sticky", alice, false, unlink, nil, false},
		{"unlink another's in own dir", alice, "alice's sticky", bob, false, unlink, nil, false},
		{"unlink another's as root", 0, "root's sticky", bob, false, unlink, nil, false},
		{"unlink another's, not sticky", alice, "plain", bob, false, unlink, nil, false},
		{"rmdir another's", alice, "root's sticky", bob, true, rmdir, ErrPermission, true},
		{"rmdir own", alice, "root's sticky", alice, true, rmdir, nil, false},
		// EPERM comes before the check of the kind, as on Linux.
		{"unlink another's dir", alice, "root's sticky", bob, true, unlink, ErrPermission, true},
		{"rmdir another's file", alice, "root's sticky", bob, false, rmdir, ErrPermission, true},
		{"unlink own dir", alice, "root's sticky", alice, true, unlink, ErrIsDir, true},
		{"rename another's away", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, _ string) error {
			return d.Rename(ctx, c, dir, e, plain, e+".moved", RenameFlags{})
		}, ErrPermission, true},
		{"rename another's within", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, _ string) error {
			return d.Rename(ctx, c, dir, e, dir, e+".moved", RenameFlags{})
		}, ErrPermission, true},
		{"rename own away", alice, "root's sticky", alice, false, func(c Caller, dir uint64, e, _ string) error {
			return d.Rename(ctx, c, dir, e, plain, e+".moved", RenameFlags{})
		}, nil, false},
		{"rename another's away from own dir", alice, "alice's sticky", bob, false, func(c Caller, dir uint64, e, _ string) error {
			return d.Rename(ctx, c, dir, e, plain, e+".moved", RenameFlags{})
		}, nil, false},
		{"rename own over another's", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{})
		}, ErrPermission, true},
		{"rename own over another's dir", alice, "root's sticky", bob, true, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{})
		}, ErrPermission, true},
		{"rename own over own", alice, "root's sticky", alice, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{})
		}, nil, false},
		{"rename own over another's as root", 0, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{})
		}, nil, false},
		{"exchange own with another's", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{Exchange: true})
		}, ErrPermission, true},
		{"exchange another's with own", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, dir, e, plain, src, RenameFlags{Exchange: true})
		}, ErrPermission, true},
		{"exchange own with another's in own dir", alice, "alice's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{Exchange: true})
		}, nil, false},
		{"rename own in, no target", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e+".new", RenameFlags{})
		}, nil, true},
		// Where the rename fails or does nothing anyway, its own answer.
		{"no-replace over another's", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, src string) error {
			return d.Rename(ctx, c, plain, src, dir, e, RenameFlags{NoReplace: true})
		}, ErrExists, true},
		{"rename another's onto its own other name", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, _ string) error {
			a, err := d.Lookup(ctx, dir, e)
			if err != nil {
				return err
			}
			if _, err := d.Link(ctx, a.Ino, dir, e+".link"); err != nil {
				return err
			}
			return d.Rename(ctx, c, dir, e+".link", dir, e, RenameFlags{})
		}, nil, true},
		{"rename a missing name", alice, "root's sticky", bob, false, func(c Caller, dir uint64, e, _ string) error {
			return d.Rename(ctx, c, dir, e+".missing", plain, e, RenameFlags{})
		}, ErrNotFound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := dirs[tc.dir]
			e, src := fmt.Sprintf("e%d", i), fmt.Sprintf("src%d", i)
			var ino uint64
			if tc.isDir {
				ino = mkdir(dir, e, 0o755, tc.owner)
			} else {
				ino = mkfile(dir, e, tc.owner)
			}
			mkfile(plain, src, tc.caller)
			err := tc.op(Caller{UID: tc.caller, GID: tc.caller}, dir, e, src)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			a, err := d.Lookup(ctx, dir, e)
			if kept := err == nil && a.Ino == ino; kept != tc.kept {
				t.Errorf("%s names inode %d (%v) afterwards, made as %d: kept %v, want %v", e, a.Ino, err, ino, kept, tc.kept)
			}
			if tc.want != nil {
				if a, err := d.Lookup(ctx, plain, src); err != nil {
					t.Errorf("the caller's file after a refused change: %v", err)
				} else if a.UID != tc.caller {
					t.Errorf("the caller's file is now uid %d's", a.UID)
				}
			}
		})
	}
}

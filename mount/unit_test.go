//go:build linux

package mount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bazil.org/fuse"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/drive"
)

// Tests that need no mount.

func TestErrnoTable(t *testing.T) {
	cases := []struct {
		err   error
		want  syscall.Errno
		known bool
	}{
		{drive.ErrNotFound, syscall.ENOENT, true},
		{fmt.Errorf("lookup x: %w", drive.ErrNotFound), syscall.ENOENT, true},
		{drive.ErrExists, syscall.EEXIST, true},
		{drive.ErrNotDir, syscall.ENOTDIR, true},
		{drive.ErrIsDir, syscall.EISDIR, true},
		{drive.ErrNotEmpty, syscall.ENOTEMPTY, true},
		{drive.ErrNameTooLong, syscall.ENAMETOOLONG, true},
		{drive.ErrInvalid, syscall.EINVAL, true},
		{drive.ErrNoXattr, syscall.ENODATA, true},
		{drive.ErrNotSupported, syscall.ENOTSUP, true},
		{drive.ErrPermission, syscall.EPERM, true},
		{drive.ErrNoSpace, syscall.ENOSPC, true},
		{&os.PathError{Op: "write", Path: "/cache/x", Err: syscall.ENOSPC}, syscall.ENOSPC, true},
		{&os.PathError{Op: "write", Path: "/cache/x", Err: syscall.EDQUOT}, syscall.EDQUOT, true},
		// A missing cache file is an I/O error, not a missing file.
		{&os.PathError{Op: "open", Path: "/cache/x", Err: syscall.ENOENT}, syscall.EIO, false},
		{io.ErrUnexpectedEOF, syscall.EIO, false},
		{errors.New("farmers unreachable"), syscall.EIO, false},
	}
	for _, c := range cases {
		got, known := errno(c.err)
		var n fuse.ErrorNumber
		if !errors.As(got, &n) || syscall.Errno(n.Errno()) != c.want || known != c.known {
			t.Errorf("errno(%v) = %v (known %v), want %v (known %v)", c.err, got, known, c.want, c.known)
		}
	}
	// Cancellation goes back as itself, for bazil to answer EINTR.
	if got, _ := errno(fmt.Errorf("read: %w", context.Canceled)); got != context.Canceled {
		t.Errorf("errno(canceled) = %v", got)
	}
	if got := fuse.ToErrno(errnoError(syscall.EPERM, "mknod of a device")); got != fuse.Errno(syscall.EPERM) {
		t.Errorf("adapter error: %v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := NewOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := map[string]func(*Options){
		"empty fsname":     func(o *Options) { o.FSName = "" },
		"newline in name":  func(o *Options) { o.FSName = "a\nb" },
		"negative attr":    func(o *Options) { o.AttrTimeout = -time.Second },
		"negative entries": func(o *Options) { o.EntryTimeout = -1 },
	}
	for name, edit := range cases {
		o := NewOptions()
		edit(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

func TestCheckAllowOther(t *testing.T) {
	dir := t.TempDir()
	conf := func(s string) string {
		p := filepath.Join(dir, fmt.Sprintf("fuse%d.conf", len(s)))
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		euid int
		conf string
		ok   bool
	}{
		{"root needs nothing", 0, filepath.Join(dir, "missing"), true},
		{"missing file", 1000, filepath.Join(dir, "missing"), false},
		{"commented out", 1000, conf("# user_allow_other\nmount_max = 1000\n"), false},
		{"present", 1000, conf("mount_max = 1000\n  user_allow_other  \n"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkAllowOther(c.euid, c.conf)
			if (err == nil) != c.ok {
				t.Fatalf("got %v, want ok=%v", err, c.ok)
			}
			if err != nil && (!errors.Is(err, ErrAllowOther) || !strings.Contains(err.Error(), "user_allow_other")) {
				t.Fatalf("error without the hint: %v", err)
			}
		})
	}
}

func TestMountInfo(t *testing.T) {
	const table = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
45 27 0:42 / /tmp/with\040space/mnt rw,nosuid,nodev,relatime - fuse.shardrive shardrive rw,user_id=0,group_id=0
46 27 0:43 / /tmp/back\134slash rw - fuse.shardrive shardrive rw
`
	cases := map[string]bool{
		"/":                   true,
		"/tmp/with space/mnt": true,
		`/tmp/back\slash`:     true,
		"/tmp/with":           false,
		"/tmp":                false,
	}
	for dir, want := range cases {
		got, err := mountInfoHas(strings.NewReader(table), dir)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", dir, got, err, want)
		}
	}
}

func TestModes(t *testing.T) {
	cases := []struct {
		kind cache.Kind
		bits uint32
		want os.FileMode
	}{
		{cache.KindFile, 0o644, 0o644},
		{cache.KindFile, 0o4755, os.ModeSetuid | 0o755},
		{cache.KindDir, 0o2775, os.ModeDir | os.ModeSetgid | 0o775},
		{cache.KindDir, 0o1777, os.ModeDir | os.ModeSticky | 0o777},
		{cache.KindSymlink, 0o777, os.ModeSymlink | 0o777},
		{cache.KindFIFO, 0o600, os.ModeNamedPipe | 0o600},
		{cache.KindSocket, 0o600, os.ModeSocket | 0o600},
	}
	for _, c := range cases {
		m := fileMode(c.kind, c.bits)
		if m != c.want {
			t.Errorf("fileMode(%v, %o) = %v, want %v", c.kind, c.bits, m, c.want)
		}
		if back := modeBits(m); back != c.bits {
			t.Errorf("modeBits(%v) = %o, want %o", m, back, c.bits)
		}
	}
}

func TestOpenFlags(t *testing.T) {
	wb := &fsys{opts: Options{WritebackCache: true}}
	wt := &fsys{opts: Options{}}
	cases := []struct {
		fl     fuse.OpenFlags
		f      *fsys
		want   drive.OpenFlags
		reason string
	}{
		{fuse.OpenReadOnly, wt, drive.OpenFlags{Read: true}, "read-only"},
		{fuse.OpenWriteOnly | fuse.OpenAppend, wt, drive.OpenFlags{Write: true, Append: true}, "append without write-back"},
		{fuse.OpenWriteOnly | fuse.OpenAppend, wb, drive.OpenFlags{Read: true, Write: true}, "write-back reads and appends itself"},
		{fuse.OpenReadWrite | fuse.OpenCreate | fuse.OpenExclusive | fuse.OpenTruncate, wt,
			drive.OpenFlags{Read: true, Write: true, Exclusive: true, Truncate: true}, "create flags"},
	}
	for _, c := range cases {
		if got := c.f.openFlags(c.fl); got != c.want {
			t.Errorf("%s: openFlags(%v) = %+v, want %+v", c.reason, c.fl, got, c.want)
		}
	}
}

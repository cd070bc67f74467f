//go:build linux

package mount

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// TestDifferential runs the same random sequence of operations on the mount
// and on a local directory and compares every errno and, at the end, the
// trees: names, kinds, sizes, modes, link counts, contents and user xattrs.
// Raw system calls keep Go's poller away from the mount (see primePoll).
func TestDifferential(t *testing.T) {
	for _, seed := range []uint64{1, 2, uint64(time.Now().UnixNano())} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			mnt, _, _ := mountTest(t)
			local := t.TempDir()
			if err := syscall.Setxattr(local, "user.probe", []byte("x"), 0); err != nil {
				t.Skipf("the local file system has no user xattrs: %v", err)
			}
			syscall.Removexattr(local, "user.probe")
			rng := mrand.New(mrand.NewPCG(seed, 7))
			ok := 0
			for i := range 500 {
				op := randomOp(rng)
				got, want := op.run(mnt), op.run(local)
				if got != want {
					t.Fatalf("op %d %s: mount says %v, local disk %v", i, op, got, want)
				}
				if got == 0 {
					ok++
				}
			}
			if ok < 60 {
				t.Fatalf("only %d of 500 operations succeeded: the sequence tests little", ok)
			}
			if n := compareTrees(t, mnt, local); n == 0 {
				t.Fatal("the trees ended empty: the sequence tests little")
			}
		})
	}
}

var diffNames = []string{"a", "b", "d", "d/a", "d/b", "d/e", "d/e/a", "e"}

type diffOp struct {
	kind     string
	p, q     string
	off, n   int64
	mode     uint32
	data     []byte
	fill     byte
	xattrVal []byte
}

func (o diffOp) String() string {
	return fmt.Sprintf("%s(%s %s off=%d n=%d mode=%o)", o.kind, o.p, o.q, o.off, o.n, o.mode)
}

func randomOp(rng *mrand.Rand) diffOp {
	pick := func() string { return diffNames[rng.IntN(len(diffNames))] }
	kinds := []string{"write", "write", "write", "mkdir", "mkdir", "truncate", "rename", "link", "unlink", "rmdir", "chmod",
		"setxattr", "removexattr", "symlink", "createexcl"}
	o := diffOp{kind: kinds[rng.IntN(len(kinds))], p: pick(), q: pick()}
	o.off = int64(rng.IntN(400 << 10))
	o.n = int64(rng.IntN(300 << 10))
	o.mode = []uint32{0o600, 0o644, 0o755, 0o700, 0o4755}[rng.IntN(5)]
	o.fill = byte(rng.Uint32())
	o.xattrVal = []byte(fmt.Sprint(rng.Uint32()))
	return o
}

// run applies the op under root and returns its errno (0 for success).
func (o diffOp) run(root string) syscall.Errno {
	p, q := filepath.Join(root, o.p), filepath.Join(root, o.q)
	var err error
	switch o.kind {
	case "write", "createexcl":
		flags := syscall.O_CREAT | syscall.O_WRONLY
		if o.kind == "createexcl" {
			flags |= syscall.O_EXCL
		}
		var fd int
		if fd, err = syscall.Open(p, flags|syscall.O_CLOEXEC, 0o644); err == nil {
			_, err = syscall.Pwrite(fd, bytes.Repeat([]byte{o.fill}, int(o.n)), o.off)
			if cerr := syscall.Close(fd); err == nil {
				err = cerr
			}
		}
	case "truncate":
		err = syscall.Truncate(p, o.off)
	case "rename":
		err = syscall.Rename(p, q)
	case "link":
		err = syscall.Link(p, q)
	case "unlink":
		err = syscall.Unlink(p)
	case "mkdir":
		err = syscall.Mkdir(p, 0o755)
	case "rmdir":
		err = syscall.Rmdir(p)
	case "chmod":
		err = syscall.Chmod(p, o.mode)
	case "setxattr":
		err = syscall.Setxattr(p, "user.k", o.xattrVal, 0)
	case "removexattr":
		err = syscall.Removexattr(p, "user.k")
	case "symlink":
		err = syscall.Symlink("target-"+o.q, p)
	}
	if err == nil {
		return 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return e
	}
	return syscall.EIO
}

type diffEntry struct {
	kind        uint32
	size        int64
	mode, nlink uint32
	content     string
	xattr       string
}

func snapshotTree(t *testing.T, root string) map[string]diffEntry {
	t.Helper()
	out := map[string]diffEntry{}
	var walk func(rel string)
	walk = func(rel string) {
		dir := filepath.Join(root, rel)
		fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		names := readDirNames(t, fd)
		syscall.Close(fd)
		for _, n := range names {
			if n == ".prime-poll" {
				continue
			}
			r := filepath.Join(rel, n)
			p := filepath.Join(root, r)
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				t.Fatalf("lstat %s: %v", p, err)
			}
			e := diffEntry{kind: st.Mode & syscall.S_IFMT, mode: st.Mode & 0o7777, nlink: uint32(st.Nlink)}
			switch e.kind {
			case syscall.S_IFREG:
				e.size = st.Size
				b := make([]byte, st.Size)
				fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
				if err != nil {
					t.Fatalf("open %s: %v", p, err)
				}
				for off := 0; off < len(b); {
					n, err := syscall.Pread(fd, b[off:], int64(off))
					if err != nil || n == 0 {
						t.Fatalf("read %s at %d: %d %v", p, off, n, err)
					}
					off += n
				}
				syscall.Close(fd)
				e.content = string(b)
			case syscall.S_IFLNK:
				buf := make([]byte, 256)
				n, _ := syscall.Readlink(p, buf)
				e.content = string(buf[:n])
			case syscall.S_IFDIR:
				walk(r)
			}
			if e.kind != syscall.S_IFLNK {
				buf := make([]byte, 64)
				if n, err := syscall.Getxattr(p, "user.k", buf); err == nil {
					e.xattr = string(buf[:n])
				}
			}
			out[r] = e
		}
	}
	walk("")
	return out
}

func readDirNames(t *testing.T, fd int) []string {
	t.Helper()
	var names []string
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	sort.Strings(names)
	return names
}

// compareTrees reports differences and returns how many entries it compared.
func compareTrees(t *testing.T, mnt, local string) int {
	t.Helper()
	got, want := snapshotTree(t, mnt), snapshotTree(t, local)
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: on the local disk, missing on the mount", name)
		case g.kind != w.kind || g.size != w.size || g.mode != w.mode || g.nlink != w.nlink || g.xattr != w.xattr:
			t.Errorf("%s: mount kind %o size %d mode %o nlink %d xattr %q; local kind %o size %d mode %o nlink %d xattr %q",
				name, g.kind, g.size, g.mode, g.nlink, g.xattr, w.kind, w.size, w.mode, w.nlink, w.xattr)
		case g.content != w.content:
			t.Errorf("%s: contents differ", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: on the mount, not on the local disk", name)
		}
	}
	return len(want)
}

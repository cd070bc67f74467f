//go:build linux

package mount

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The POSIX cases, each in a directory of its own, on a mount with the
// default options (the kernel's write-back cache) and on one where every
// write goes straight through and pages stay cached between opens. Every
// case uses ordinary system calls, as an application would.
func TestPOSIX(t *testing.T) {
	t.Run("WriteBack", func(t *testing.T) { runPOSIX(t) })
	t.Run("WriteThroughKeepCache", func(t *testing.T) {
		runPOSIX(t, func(o *Options) { o.WritebackCache, o.KeepCache = false, true })
	})
}

func runPOSIX(t *testing.T, edit ...func(*Options)) {
	root, _, _ := mountTest(t, edit...)
	cases := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{
		{"CreateWriteRead", testCreateWriteRead},
		{"Append", testAppend},
		{"TruncateBothWays", testTruncate},
		{"OpenTrunc", testOpenTrunc},
		{"Exclusive", testExclusive},
		{"SparseWrite", testSparse},
		{"WriteOnlyPartialPage", testWriteOnlyPartialPage},
		{"ManyBlocks", testManyBlocks},
		{"Mmap", testMmap},
		{"Fsync", testFsync},
		{"RenameOverFile", testRenameOverFile},
		{"RenameDirAcrossDirs", testRenameDirAcross},
		{"RenameErrors", testRenameErrors},
		{"RenameNoReplace", testRenameNoReplace},
		{"UnlinkOpenFile", testUnlinkOpen},
		{"HardLinks", testHardLinks},
		{"Symlink", testSymlink},
		{"FIFOAndSocket", testFIFOAndSocket},
		{"Chmod", testChmod},
		{"Chown", testChown},
		{"SetgidDirectory", testSetgidDir},
		{"Utimes", testUtimes},
		{"Xattrs", testXattrs},
		{"Statfs", testStatfs},
		{"Errnos", testErrnos},
		{"NameLength", testNameLength},
		{"ReadDir", testReadDir},
		{"Flock", testFlock},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, c.name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			c.run(t, dir)
		})
	}
}

func testCreateWriteRead(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	data := pattern(100_000, 1)
	write(t, p, data)
	equal(t, "read back", read(t, p), data)
	st := stat(t, p)
	if st.Size != int64(len(data)) || st.Mode != syscall.S_IFREG|0o644 || st.Nlink != 1 || st.Uid != uint32(os.Geteuid()) {
		t.Fatalf("stat: size %d mode %o nlink %d uid %d", st.Size, st.Mode, st.Nlink, st.Uid)
	}
	// Reads at offsets, through one descriptor.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1000)
	if n, err := f.ReadAt(buf, 99_500); n != 500 || err != io.EOF {
		t.Fatalf("read across the end: %d, %v", n, err)
	}
	equal(t, "tail", buf[:500], data[99_500:])
}

func testAppend(t *testing.T, dir string) {
	p := filepath.Join(dir, "log")
	write(t, p, []byte("one\n"))
	for _, line := range []string{"two\n", "three\n"} {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(line); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Two appenders at once: both lines land at the end.
	a, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteString("four\n")
	b.WriteString("five\n")
	if err := errorsJoin(a.Close(), b.Close()); err != nil {
		t.Fatal(err)
	}
	equal(t, "appended", read(t, p), []byte("one\ntwo\nthree\nfour\nfive\n"))
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func testTruncate(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	data := pattern(600_000, 2) // more than two 256 KiB blocks
	write(t, p, data)
	if err := os.Truncate(p, 300_000); err != nil {
		t.Fatal(err)
	}
	equal(t, "shrunk", read(t, p), data[:300_000])
	if err := os.Truncate(p, 700_000); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(data[:300_000]), make([]byte, 400_000)...)
	equal(t, "grown", read(t, p), want)

	// ftruncate on an open descriptor, both ways, read through it.
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 10 {
		t.Fatalf("fstat after ftruncate: %v, %v", fi, err)
	}
	if err := f.Truncate(20); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 30)
	n, _ := f.ReadAt(got, 0)
	equal(t, "ftruncated", got[:n], append(slices.Clone(data[:10]), make([]byte, 10)...))
}

func testOpenTrunc(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	write(t, p, pattern(5000, 3))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	equal(t, "after O_TRUNC", read(t, p), []byte("new"))
}

func testExclusive(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st := stat(t, p); st.Mode&0o777 != 0o600 {
		t.Fatalf("mode %o, want 600", st.Mode&0o777)
	}
	_, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	isErrno(t, "O_EXCL on an existing file", err, syscall.EEXIST)
	// Without O_EXCL the existing file opens.
	f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func testSparse(t *testing.T, dir string) {
	p := filepath.Join(dir, "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const off = 10<<20 + 12345
	if _, err := f.WriteAt([]byte("end"), off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := read(t, p)
	if len(got) != off+3 {
		t.Fatalf("size %d, want %d", len(got), off+3)
	}
	if !bytes.Equal(got[off:], []byte("end")) || bytes.IndexFunc(got[:off], func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatal("a sparse file reads other than zeros before its data")
	}
}

// With the write-back cache, a partial page written through a write-only
// descriptor must keep the page's other bytes.
func testWriteOnlyPartialPage(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	data := pattern(10_000, 4)
	write(t, p, data)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XY"), 5000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	copy(data[5000:], "XY")
	equal(t, "after a partial-page write", read(t, p), data)
}

func testManyBlocks(t *testing.T, dir string) {
	p := filepath.Join(dir, "big")
	data := pattern(5<<20+77, 5)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes that straddle pages and blocks.
	for off := 0; off < len(data); off += 123_457 {
		if _, err := f.Write(data[off:min(len(data), off+123_457)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	equal(t, "big file", read(t, p), data)
}

// The mapping lives in a child process: a page fault on the mount stops
// its thread inside Go code, and a garbage collection that waited for that
// thread would stop the very goroutines that serve the fault.
func testMmap(t *testing.T, dir string) {
	p := filepath.Join(dir, "mapped")
	const size = 64 << 10
	data := pattern(size, 6)
	write(t, p, make([]byte, size))
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), childEnv+"=mmap", "CHILD_PATH="+p)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mmap writer: %v: %s", err, out)
	}
	equal(t, "written through mmap", read(t, p), data)
}

// mmapChild writes pattern(64 KiB, 6) into path through a shared mapping.
func mmapChild(path string) error {
	const size = 64 << 10
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return err
	}
	copy(m, pattern(size, 6))
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		return err
	}
	if err := syscall.Munmap(m); err != nil {
		return err
	}
	return f.Close()
}

func testFsync(t *testing.T, dir string) {
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(pattern(300_000, 7))
	if err := f.Sync(); err != nil {
		t.Fatal("fsync:", err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal("fdatasync:", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal("fsync of a directory:", err)
	}
}

func testRenameOverFile(t *testing.T, dir string) {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, []byte("new content"))
	write(t, b, []byte("old"))
	ino := stat(t, a).Ino
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	equal(t, "renamed over", read(t, b), []byte("new content"))
	if st := stat(t, b); st.Ino != ino {
		t.Fatalf("inode changed in rename: %d, was %d", st.Ino, ino)
	}
	_, err := os.Stat(a)
	isErrno(t, "old name", err, syscall.ENOENT)
}

func testRenameDirAcross(t *testing.T, dir string) {
	d1, d2 := filepath.Join(dir, "d1"), filepath.Join(dir, "d2")
	for _, d := range []string{d1, filepath.Join(d1, "x"), d2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(d1, "x", "f"), []byte("inside"))
	if n := stat(t, d1).Nlink; n != 3 {
		t.Fatalf("nlink of a directory with one subdirectory: %d, want 3", n)
	}
	if err := os.Rename(filepath.Join(d1, "x"), filepath.Join(d2, "x")); err != nil {
		t.Fatal(err)
	}
	equal(t, "moved", read(t, filepath.Join(d2, "x", "f")), []byte("inside"))
	if n1, n2 := stat(t, d1).Nlink, stat(t, d2).Nlink; n1 != 2 || n2 != 3 {
		t.Fatalf("nlink after the move: %d and %d, want 2 and 3", n1, n2)
	}
	// Over an empty directory.
	if err := os.Mkdir(filepath.Join(d1, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	// (syscall.Rename: os.Rename refuses any directory as a target itself.)
	if err := syscall.Rename(filepath.Join(d2, "x"), filepath.Join(d1, "empty")); err != nil {
		t.Fatal(err)
	}
	equal(t, "moved over an empty directory", read(t, filepath.Join(d1, "empty", "f")), []byte("inside"))
}

func testRenameErrors(t *testing.T, dir string) {
	full, empty, f := filepath.Join(dir, "full"), filepath.Join(dir, "empty"), filepath.Join(dir, "f")
	os.Mkdir(full, 0o755)
	os.Mkdir(empty, 0o755)
	write(t, filepath.Join(full, "x"), nil)
	write(t, f, nil)
	// syscall.Rename: os.Rename refuses any directory as a target itself.
	isErrno(t, "directory over a non-empty one", syscall.Rename(empty, full), syscall.ENOTEMPTY)
	isErrno(t, "file over a directory", syscall.Rename(f, empty), syscall.EISDIR)
	isErrno(t, "directory over a file", syscall.Rename(empty, f), syscall.ENOTDIR)
	isErrno(t, "missing source", syscall.Rename(filepath.Join(dir, "nope"), f), syscall.ENOENT)
	isErrno(t, "directory into itself", syscall.Rename(full, filepath.Join(full, "sub")), syscall.EINVAL)
}

// renameat2(RENAME_NOREPLACE) reaches the file system as RENAME2, which
// bazil answers ENOSYS; the kernel then answers EINVAL. What must hold either
// way: the target is never replaced.
func testRenameNoReplace(t *testing.T, dir string) {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, []byte("a"))
	write(t, b, []byte("b"))
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_NOREPLACE)
	if !errors.Is(err, syscall.EEXIST) && !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("RENAME_NOREPLACE over an existing file: %v, want EEXIST (or EINVAL while bazil lacks RENAME2)", err)
	}
	equal(t, "source", read(t, a), []byte("a"))
	equal(t, "target", read(t, b), []byte("b"))
}

func testUnlinkOpen(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	data := pattern(700_000, 8)
	write(t, p, data)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(p)
	isErrno(t, "stat after unlink", err, syscall.ENOENT)
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "read after unlink", got, data)
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Nlink != 0 {
		t.Fatalf("fstat after unlink: nlink %d, %v", st.Nlink, err)
	}
	// The name is free again at once.
	write(t, p, []byte("another"))
	equal(t, "new file under the old name", read(t, p), []byte("another"))
}

func testHardLinks(t *testing.T, dir string) {
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, a, []byte("shared"))
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	sa, sb := stat(t, a), stat(t, b)
	if sa.Ino != sb.Ino || sa.Nlink != 2 || sb.Nlink != 2 {
		t.Fatalf("links: ino %d/%d nlink %d/%d", sa.Ino, sb.Ino, sa.Nlink, sb.Nlink)
	}
	// A write through one name shows through the other at once.
	f, err := os.OpenFile(a, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("SH"), 0)
	f.Close()
	equal(t, "through the other name", read(t, b), []byte("SHared"))
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if n := stat(t, b).Nlink; n != 1 {
		t.Fatalf("nlink after unlinking one name: %d", n)
	}
	isErrno(t, "hard link to a directory", os.Link(dir, filepath.Join(dir, "d")), syscall.EPERM)
	isErrno(t, "link over an existing name", os.Link(b, b), syscall.EEXIST)
}

func testSymlink(t *testing.T, dir string) {
	write(t, filepath.Join(dir, "target"), []byte("via link"))
	l := filepath.Join(dir, "link")
	if err := os.Symlink("target", l); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(l); err != nil || got != "target" {
		t.Fatalf("readlink: %q, %v", got, err)
	}
	st := stat(t, l)
	if st.Mode&syscall.S_IFMT != syscall.S_IFLNK || st.Size != int64(len("target")) {
		t.Fatalf("lstat of a symlink: mode %o size %d", st.Mode, st.Size)
	}
	equal(t, "read through a symlink", read(t, l), []byte("via link"))
	long := strings.Repeat("d/", 1000) + "end"
	if err := os.Symlink(long, filepath.Join(dir, "long")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(filepath.Join(dir, "long")); got != long {
		t.Fatal("a long symlink target came back different")
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	_, err := os.Stat(dangling)
	isErrno(t, "stat through a dangling symlink", err, syscall.ENOENT)
}

func testFIFOAndSocket(t *testing.T, dir string) {
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o640); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, fifo); st.Mode != syscall.S_IFIFO|0o640 {
		t.Fatalf("fifo mode %o", st.Mode)
	}
	// The kernel runs the pipe itself.
	f, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("through the pipe")
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	f.Close()
	equal(t, "fifo", buf[:n], []byte("through the pipe"))

	sock := filepath.Join(dir, "sock")
	if err := syscall.Mknod(sock, syscall.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, sock); st.Mode != syscall.S_IFSOCK|0o600 {
		t.Fatalf("socket mode %o", st.Mode)
	}
	reg := filepath.Join(dir, "reg")
	if err := syscall.Mknod(reg, syscall.S_IFREG|0o600, 0); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, reg); st.Mode != syscall.S_IFREG|0o600 || st.Size != 0 {
		t.Fatalf("mknod S_IFREG: mode %o size %d", st.Mode, st.Size)
	}
	err = syscall.Mknod(filepath.Join(dir, "dev"), syscall.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
	isErrno(t, "mknod of a device", err, syscall.EPERM)
}

func testChmod(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	write(t, p, nil)
	for _, mode := range []uint32{0o600, 0o755, 0o4755, 0o2750, 0o000} {
		if err := syscall.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if got := stat(t, p).Mode; got != syscall.S_IFREG|mode {
			t.Fatalf("chmod %o: mode %o", mode, got)
		}
	}
}

func testChown(t *testing.T, dir string) {
	if os.Geteuid() != 0 {
		t.Skip("chown to other users needs root")
	}
	p, l := filepath.Join(dir, "f"), filepath.Join(dir, "l")
	write(t, p, nil)
	os.Symlink("f", l)
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(l, 4321, 8765); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, p); st.Uid != 1234 || st.Gid != 5678 {
		t.Fatalf("chown: %d:%d", st.Uid, st.Gid)
	}
	if st := stat(t, l); st.Uid != 4321 || st.Gid != 8765 {
		t.Fatalf("lchown: %d:%d", st.Uid, st.Gid)
	}
	// Changing the owner clears setuid, as on a local disk.
	syscall.Chmod(p, 0o4755)
	os.Chown(p, 1, 1)
	if m := stat(t, p).Mode; m&syscall.S_ISUID != 0 {
		t.Fatalf("setuid survived chown: %o", m)
	}
}

func testSetgidDir(t *testing.T, dir string) {
	if os.Geteuid() != 0 {
		t.Skip("chgrp to a foreign group needs root")
	}
	sg := filepath.Join(dir, "shared")
	if err := os.Mkdir(sg, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sg, -1, 4242); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(sg, 0o2775); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(sg, "f"), nil)
	if err := os.Mkdir(filepath.Join(sg, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, filepath.Join(sg, "f")); st.Gid != 4242 {
		t.Fatalf("file in a setgid directory: gid %d, want 4242", st.Gid)
	}
	if st := stat(t, filepath.Join(sg, "sub")); st.Gid != 4242 || st.Mode&syscall.S_ISGID == 0 {
		t.Fatalf("directory in a setgid directory: gid %d mode %o, want 4242 and setgid", st.Gid, st.Mode)
	}
	// Outside it, the creator's group.
	write(t, filepath.Join(dir, "plain"), nil)
	if st := stat(t, filepath.Join(dir, "plain")); st.Gid != uint32(os.Getegid()) {
		t.Fatalf("file in a plain directory: gid %d", st.Gid)
	}
}

func testUtimes(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	write(t, p, []byte("x"))
	atime := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	mtime := time.Date(2011, 12, 13, 14, 15, 16, 987654321, time.UTC)
	if err := os.Chtimes(p, atime, mtime); err != nil {
		t.Fatal(err)
	}
	st := stat(t, p)
	if got := time.Unix(st.Atim.Unix()); !got.Equal(atime) {
		t.Fatalf("atime %v, want %v", got, atime)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
		t.Fatalf("mtime %v, want %v", got, mtime)
	}
	// On a directory and a symlink (without following it) too.
	if err := os.Chtimes(dir, atime, mtime); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(stat(t, dir).Mtim.Unix()); !got.Equal(mtime) {
		t.Fatalf("directory mtime %v", got)
	}
	l := filepath.Join(dir, "l")
	os.Symlink("f", l)
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano() + 1)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, l, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(stat(t, l).Mtim.Unix()); !got.Equal(mtime.Add(1)) {
		t.Fatalf("symlink mtime %v", got)
	}
	// UTIME_NOW: the kernel's clock.
	before := time.Now()
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, now, 0); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if got := time.Unix(stat(t, p).Mtim.Unix()); got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
		t.Fatalf("UTIME_NOW set mtime %v, between %v and %v", got, before, after)
	}
	// A write moves mtime forward from a date in the past.
	os.Chtimes(p, atime, mtime)
	write(t, p, []byte("y"))
	if got := time.Unix(stat(t, p).Mtim.Unix()); !got.After(mtime) {
		t.Fatalf("mtime after a write: %v", got)
	}
}

func testXattrs(t *testing.T, dir string) {
	p := filepath.Join(dir, "f")
	write(t, p, []byte("x"))
	if err := unix.Setxattr(p, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	// Size probing, then a buffer too small, then the value.
	if n, err := unix.Getxattr(p, "user.color", nil); err != nil || n != 4 {
		t.Fatalf("getxattr size probe: %d, %v", n, err)
	}
	_, err := unix.Getxattr(p, "user.color", make([]byte, 2))
	isErrno(t, "getxattr into a small buffer", err, syscall.ERANGE)
	buf := make([]byte, 16)
	n, err := unix.Getxattr(p, "user.color", buf)
	if err != nil || string(buf[:n]) != "blue" {
		t.Fatalf("getxattr: %q, %v", buf[:n], err)
	}
	if err := unix.Setxattr(p, "user.empty", nil, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Getxattr(p, "user.empty", buf); err != nil || n != 0 {
		t.Fatalf("empty value: %d, %v", n, err)
	}
	isErrno(t, "XATTR_CREATE over an existing name", unix.Setxattr(p, "user.color", []byte("red"), unix.XATTR_CREATE), syscall.EEXIST)
	isErrno(t, "XATTR_REPLACE of a missing name", unix.Setxattr(p, "user.none", []byte("red"), unix.XATTR_REPLACE), syscall.ENODATA)
	if err := unix.Setxattr(p, "user.color", []byte("green"), unix.XATTR_REPLACE); err != nil {
		t.Fatal(err)
	}

	sz, err := unix.Listxattr(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	list := make([]byte, sz)
	if _, err := unix.Listxattr(p, list); err != nil {
		t.Fatal(err)
	}
	names := strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00")
	slices.Sort(names)
	if !slices.Equal(names, []string{"user.color", "user.empty"}) {
		t.Fatalf("listxattr: %q", names)
	}
	if sz > 1 {
		_, err = unix.Listxattr(p, make([]byte, 1))
		isErrno(t, "listxattr into a small buffer", err, syscall.ERANGE)
	}
	if err := unix.Removexattr(p, "user.color"); err != nil {
		t.Fatal(err)
	}
	_, err = unix.Getxattr(p, "user.color", buf)
	isErrno(t, "getxattr after removexattr", err, syscall.ENODATA)
	isErrno(t, "removexattr of a missing name", unix.Removexattr(p, "user.color"), syscall.ENODATA)

	// Only user.* names are kept.
	isErrno(t, "trusted.* set", unix.Setxattr(p, "trusted.x", []byte("1"), 0), syscall.EOPNOTSUPP)
	isErrno(t, "security.* set", unix.Setxattr(p, "security.x", []byte("1"), 0), syscall.EOPNOTSUPP)
	// On a directory too.
	if err := unix.Setxattr(dir, "user.d", []byte("dir"), 0); err != nil {
		t.Fatal(err)
	}
	// The drive's status attribute.
	n, err = unix.Getxattr(p, "user.shardrive.status", buf)
	if err != nil || n == 0 {
		t.Fatalf("user.shardrive.status: %q, %v", buf[:n], err)
	}
}

func testStatfs(t *testing.T, dir string) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		t.Fatal(err)
	}
	const fuseSuperMagic = 0x65735546
	if s.Type != fuseSuperMagic || s.Namelen != 255 || s.Bsize <= 0 || s.Blocks == 0 || s.Bavail == 0 || s.Files == 0 {
		t.Fatalf("statfs: %+v", s)
	}
}

func testErrnos(t *testing.T, dir string) {
	d, f := filepath.Join(dir, "d"), filepath.Join(dir, "f")
	os.Mkdir(d, 0o755)
	write(t, filepath.Join(d, "x"), nil)
	write(t, f, nil)
	_, err := os.Open(filepath.Join(dir, "missing"))
	isErrno(t, "open a missing file", err, syscall.ENOENT)
	isErrno(t, "rmdir a non-empty directory", syscall.Rmdir(d), syscall.ENOTEMPTY)
	isErrno(t, "rmdir a file", syscall.Rmdir(f), syscall.ENOTDIR)
	isErrno(t, "unlink a directory", syscall.Unlink(d), syscall.EISDIR)
	isErrno(t, "mkdir over a file", syscall.Mkdir(f, 0o755), syscall.EEXIST)
	_, err = os.Stat(filepath.Join(f, "x"))
	isErrno(t, "a file as a directory", err, syscall.ENOTDIR)
	_, err = os.OpenFile(d, os.O_WRONLY, 0)
	isErrno(t, "open a directory for writing", err, syscall.EISDIR)
	isErrno(t, "unlink a missing name", syscall.Unlink(filepath.Join(dir, "missing")), syscall.ENOENT)
	_, err = os.Readlink(f)
	isErrno(t, "readlink of a file", err, syscall.EINVAL)
	// After rmdir of an empty directory, it is gone.
	os.Remove(filepath.Join(d, "x"))
	if err := syscall.Rmdir(d); err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(d)
	isErrno(t, "stat after rmdir", err, syscall.ENOENT)
}

func testNameLength(t *testing.T, dir string) {
	ok := strings.Repeat("n", 255)
	write(t, filepath.Join(dir, ok), []byte("255"))
	equal(t, "255-byte name", read(t, filepath.Join(dir, ok)), []byte("255"))
	// 255 bytes of UTF-8: 85 three-byte characters.
	utf := strings.Repeat("€", 85)
	if err := os.Mkdir(filepath.Join(dir, utf), 0o755); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("n", 256)
	err := os.WriteFile(filepath.Join(dir, long), nil, 0o644)
	isErrno(t, "create with a 256-byte name", err, syscall.ENAMETOOLONG)
	isErrno(t, "mkdir with a 256-byte name", os.Mkdir(filepath.Join(dir, long), 0o755), syscall.ENAMETOOLONG)
	_, err = os.Stat(filepath.Join(dir, long))
	isErrno(t, "stat of a 256-byte name", err, syscall.ENAMETOOLONG)
	isErrno(t, "rename to a 256-byte name", os.Rename(filepath.Join(dir, ok), filepath.Join(dir, long)), syscall.ENAMETOOLONG)
	isErrno(t, "symlink with a 256-byte name", os.Symlink("x", filepath.Join(dir, long)), syscall.ENAMETOOLONG)
}

func testReadDir(t *testing.T, dir string) {
	write(t, filepath.Join(dir, "file"), nil)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("file", filepath.Join(dir, "link"))
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	want := map[string]uint8{
		".": syscall.DT_DIR, "..": syscall.DT_DIR, "file": syscall.DT_REG, "sub": syscall.DT_DIR,
		"link": syscall.DT_LNK, "fifo": syscall.DT_FIFO,
	}
	got := getdents(t, dir)
	if len(got) != len(want) {
		t.Fatalf("readdir: %v", got)
	}
	for name, typ := range want {
		e, ok := got[name]
		if !ok || e.typ != typ {
			t.Fatalf("readdir entry %q: %+v (present %v), want type %d", name, e, ok, typ)
		}
		if name == ".." {
			continue
		}
		if st := stat(t, filepath.Join(dir, name)); st.Ino != e.ino {
			t.Fatalf("readdir inode of %q: %d, stat says %d", name, e.ino, st.Ino)
		}
	}
	// Many entries come back complete, over several getdents calls.
	big := filepath.Join(dir, "sub")
	for i := range 500 {
		write(t, filepath.Join(big, strings.Repeat("x", 100)+strconv.Itoa(i)), nil)
	}
	if n := len(getdents(t, big)); n != 502 {
		t.Fatalf("readdir of 500 files: %d entries, want 502", n)
	}
}

type dirent struct {
	ino uint64
	typ uint8
}

// getdents lists dir with getdents64(2), "." and ".." included, in small
// pieces.
func getdents(t *testing.T, dir string) map[string]dirent {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	out := make(map[string]dirent)
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Getdents(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			name := b[19:reclen]
			name = name[:bytes.IndexByte(name, 0)]
			if _, dup := out[string(name)]; dup {
				t.Fatalf("readdir lists %q twice", name)
			}
			out[string(name)] = dirent{ino: *(*uint64)(unsafe.Pointer(&b[0])), typ: b[18]}
			b = b[reclen:]
		}
	}
}

// Locks are the kernel's, local to this machine.
func testFlock(t *testing.T, dir string) {
	p := filepath.Join(dir, "lock")
	write(t, p, nil)
	a, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := syscall.Flock(int(a.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	isErrno(t, "second exclusive flock", syscall.Flock(int(b.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), syscall.EWOULDBLOCK)
	syscall.Flock(int(a.Fd()), syscall.LOCK_UN)
	if err := syscall.Flock(int(b.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	// POSIX byte-range locks are granted (the kernel keeps them).
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 10}
	if err := syscall.FcntlFlock(b.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
}

//go:build linux

package mount

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/shardrive/shardrive/drive"
)

// childEnv makes the test binary a helper process for what must not run
// in the process that serves the mount (see testMmap).
const childEnv = "SHARDRIVE_MOUNT_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "mmap" {
		if err := mmapChild(os.Getenv("CHILD_PATH")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	syscall.Umask(0o022) // the modes the tests expect
	os.Exit(m.Run())
}

// requireFUSE skips a test that needs a real mount where FUSE cannot work,
// as restic's RunFuseTest. SHARDRIVE_TEST_FUSE=0 skips them always;
// SHARDRIVE_TEST_FUSE=1 makes a missing FUSE a failure, for CI, so that the
// mount tests cannot be skipped there unnoticed.
func requireFUSE(tb testing.TB) {
	tb.Helper()
	switch os.Getenv("SHARDRIVE_TEST_FUSE") {
	case "0", "false", "no":
		tb.Skip("mount tests off: SHARDRIVE_TEST_FUSE=0")
	case "1", "true", "yes":
		if err := checkFUSE(); err != nil {
			tb.Fatalf("SHARDRIVE_TEST_FUSE=1 but %v", err)
		}
		return
	}
	if err := checkFUSE(); err != nil {
		tb.Skipf("mount tests skipped: %v", err)
	}
	// Mounting through fusermount3 as another user needs the setuid helper
	// and a readable /dev/fuse; as root it always works.
	if os.Geteuid() != 0 {
		f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
		if err != nil {
			tb.Skipf("mount tests skipped: %v", err)
		}
		f.Close()
	}
}

// testOptions are NewOptions with a lazy last resort on unmount (a failed
// test must never leave a mount behind) and warnings in the test log.
func testOptions(tb testing.TB) Options {
	o := NewOptions()
	o.LazyUnmount = true
	l := &testLog{tb: tb}
	// Registered before the mount's cleanup, so it runs after the unmount.
	tb.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	o.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// testLog writes to the test's log until the test ends; bazil's goroutines
// may outlive it by a moment.
type testLog struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// mountTest mounts a fresh test drive (four data and two parity shards
// over six loopback farmers) in a temporary directory.
func mountTest(tb testing.TB, edit ...func(*Options)) (string, *drive.Drive, *Mounted) {
	tb.Helper()
	requireFUSE(tb)
	d := drive.OpenTest(tb)
	o := testOptions(tb)
	for _, e := range edit {
		e(&o)
	}
	m := mountAt(tb, tb.TempDir(), d, o)
	return m.Dir(), d, m
}

// mountAt mounts d on dir and unmounts it when the test ends, failing the
// test if the mount is left in the mount table.
func mountAt(tb testing.TB, dir string, d *drive.Drive, o Options) *Mounted {
	tb.Helper()
	m, err := Mount(context.Background(), dir, d, o)
	if err != nil {
		tb.Fatalf("mount: %v", err)
	}
	tb.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			tb.Errorf("unmount: %v", err)
		}
		if leftMounted(tb, m.Dir()) {
			tb.Errorf("%s is still in /proc/mounts", m.Dir())
		}
	})
	if !o.ReadOnly {
		p := filepath.Join(m.Dir(), ".prime-poll")
		fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL, 0o600)
		if err != nil {
			tb.Fatal(err)
		}
		primePoll(tb, fd)
		syscall.Close(fd)
		if err := syscall.Unlink(p); err != nil {
			tb.Fatal(err)
		}
	}
	return m
}

// primePoll has the kernel send its first POLL about fd, a file on the
// mount, and learn from the ENOSYS answer not to send more, from a plain
// system call: from os.Open the request would be made inside the Go
// runtime, where a garbage collection could deadlock with the goroutine
// that must answer it (see handle.Poll). A read-only mount needs a file of
// its own (primeFile).
func primePoll(tb testing.TB, fd int) {
	tb.Helper()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	defer syscall.Close(ep)
	// syscall.EpollCtl is a raw system call, which would hold the P just
	// the same: Syscall6 lets the runtime go on without this thread.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if _, _, e := syscall.Syscall6(syscall.SYS_EPOLL_CTL, uintptr(ep), syscall.EPOLL_CTL_ADD, uintptr(fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0); e != 0 {
		tb.Fatal("epoll_ctl:", e)
	}
}

// primeFile is primePoll through an existing file.
func primeFile(tb testing.TB, p string) {
	tb.Helper()
	fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer syscall.Close(fd)
	primePoll(tb, fd)
}

// leftMounted reports whether /proc/mounts still lists dir.
func leftMounted(tb testing.TB, dir string) bool {
	tb.Helper()
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && unescapeMountInfo(f[1]) == dir {
			return true
		}
	}
	return false
}

func write(tb testing.TB, p string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(p, b, 0o666); err != nil {
		tb.Fatal(err)
	}
}

func read(tb testing.TB, p string) []byte {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func equal(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s: got %d bytes %q..., want %d bytes %q...", what, len(got), head(got), len(want), head(want))
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

func stat(tb testing.TB, p string) *syscall.Stat_t {
	tb.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		tb.Fatal(err)
	}
	return &st
}

// isErrno checks that err is the errno want.
func isErrno(tb testing.TB, what string, err error, want syscall.Errno) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got %v, want %v", what, err, want)
	}
}

// pattern is n recognisable bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// asNobody runs argv as uid and gid 65534 and returns its combined output
// and error.
func asNobody(argv ...string) (string, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := c.CombinedOutput()
	return string(out), err
}

// openToAll makes the directories above a mount point traversable by other
// users (t.TempDir makes them 0700).
func openToAll(tb testing.TB, dir string) {
	tb.Helper()
	for p := filepath.Dir(dir); p != "/" && strings.HasPrefix(p, os.TempDir()) && p != filepath.Clean(os.TempDir()); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatal(fmt.Errorf("open %s to all: %w", p, err))
		}
	}
}

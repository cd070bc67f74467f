//go:build unix

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardrive/shardrive/service"
)

// These tests mount the drive for real (FUSE) through the CLI's daemon, in
// a temporary directory, over shardfarmer processes on loopback. Every
// mount is unmounted when the test ends, whatever happened.

// requireFUSE skips a test where FUSE cannot work. SHARDRIVE_TEST_FUSE=0
// skips always; =1 makes a missing FUSE a failure (CI).
func requireFUSE(t *testing.T) {
	t.Helper()
	var missing error
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = fmt.Errorf("no /dev/fuse: %w", err)
	} else if _, err := exec.LookPath("fusermount3"); err != nil {
		missing = errors.New("fusermount3 not found (apt-get install fuse3)")
	}
	switch os.Getenv("SHARDRIVE_TEST_FUSE") {
	case "0", "false", "no":
		t.Skip("mount tests off: SHARDRIVE_TEST_FUSE=0")
	case "1", "true", "yes":
		if missing != nil {
			t.Fatalf("SHARDRIVE_TEST_FUSE=1 but %v", missing)
		}
	}
	if missing != nil {
		t.Skipf("mount tests skipped: %v", missing)
	}
}

// isMountPoint reports whether dir is in this process's mount table.
func isMountPoint(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[4] == dir {
			return true
		}
	}
	return false
}

// alive reports whether any thread of process pid still runs. A zombie
// does not count (the daemon is not our child, so nobody here reaps it),
// but a zombie thread-group leader whose other threads are still exiting
// does: the process lets go of its files only when the last one is done.
func alive(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X' {
			return true
		}
	}
	return false
}

// waitGone waits for pid to exit; a bound only so that a broken daemon
// fails the test instead of hanging it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 1200 {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("daemon pid %d still runs a minute after it was told to stop", pid)
}

var mountedRE = regexp.MustCompile(`^mounted (.+) \(daemon pid (\d+), log (.+)\)\n$`)

// mountDaemon runs `mount --daemon` and returns the daemon's pid. The
// mount is undone when the test ends: unmount through the CLI, else a lazy
// fusermount3, and a daemon still alive after that is killed.
func mountDaemon(t *testing.T, home, dir string, flags ...string) int {
	t.Helper()
	args := append(append([]string{"mount", "--daemon"}, flags...), dir)
	r := shardrive(t, home, nil, args...)
	if r.code != 0 {
		log, _ := os.ReadFile(filepath.Join(home, "daemon.log"))
		t.Fatalf("mount --daemon: exit %d: %s\nlog:\n%s", r.code, r.stderr, log)
	}
	m := mountedRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("mount --daemon printed %q", r.stdout)
	}
	pid, _ := strconv.Atoi(m[2])
	t.Cleanup(func() {
		if alive(pid) {
			shardrive(t, home, nil, "unmount", dir)
		}
		if isMountPoint(t, dir) {
			exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		log, _ := os.ReadFile(filepath.Join(home, "daemon.log"))
		if bytes.Contains(log, []byte("DATA RACE")) || bytes.Contains(log, []byte("panic:")) {
			t.Errorf("the daemon log shows a race or a panic:\n%s", log)
		}
	})
	if m[1] != dir {
		t.Errorf("mounted on %q, want %q", m[1], dir)
	}
	if m[3] != filepath.Join(home, "daemon.log") {
		t.Errorf("log at %q, want the home's daemon.log", m[3])
	} else if _, err := os.Stat(m[3]); err != nil {
		t.Error(err)
	}
	if !isMountPoint(t, dir) {
		t.Fatalf("%s is not a mount point after mount --daemon returned", dir)
	}
	return pid
}

func status(t *testing.T, home string) service.Status {
	t.Helper()
	var st service.Status
	out := mustRun(t, home, "status", "--json")
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Version != service.StatusVersion {
		t.Fatalf("status version %d", st.Version)
	}
	return st
}

// writeSynced writes a file through the mount and fsyncs it.
func writeSynced(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func checkFiles(t *testing.T, root string, want map[string][]byte) {
	t.Helper()
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes that differ from the %d written", name, len(got), len(data))
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var clearedRE = regexp.MustCompile(`^dropped (\d+) cached blocks; (\d+) blocks not uploaded yet stay\n$`)

func cacheClear(t *testing.T, home string) (dropped, kept int) {
	t.Helper()
	out := mustRun(t, home, "cache", "clear")
	m := clearedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("cache clear printed %q", out)
	}
	dropped, _ = strconv.Atoi(m[1])
	kept, _ = strconv.Atoi(m[2])
	return dropped, kept
}

func TestMountDaemonWriteSyncClearReadUnmount(t *testing.T) {
	requireFUSE(t)
	home, _ := network(t, 6, 4, 2, "1MiB")
	mnt := t.TempDir()
	pid := mountDaemon(t, home, mnt, "--cache-max-size", "1GiB")

	files := map[string][]byte{
		"small.txt":          randomBytes(100),
		"dir/medium.bin":     randomBytes(3<<20 + 17),
		"dir/sub/empty":      {},
		"dir/sub/edge.bin":   randomBytes(1 << 20),
		"name with spaces ü": randomBytes(70 << 10),
	}
	for name, data := range files {
		writeSynced(t, filepath.Join(mnt, name), data)
	}

	// One process owns a home: a second mount, or a writer, is refused.
	other := t.TempDir()
	if r := shardrive(t, home, nil, "mount", "--daemon", other); r.code != exitBusy || !strings.Contains(r.stderr, mnt) {
		t.Errorf("second mount --daemon: exit %d %q, want %d naming the live mount", r.code, r.stderr, exitBusy)
	}
	if r := shardrive(t, home, nil, "mount", other); r.code != exitBusy {
		t.Errorf("second mount in the foreground: exit %d %q, want %d", r.code, r.stderr, exitBusy)
	}
	src, _ := randomFile(t, t.TempDir(), 10)
	if r := shardrive(t, home, nil, "put", src, "/x"); r.code != exitBusy {
		t.Errorf("put while mounted: exit %d %q, want %d", r.code, r.stderr, exitBusy)
	}
	if isMountPoint(t, other) {
		t.Fatal("the refused mount mounted anyway")
	}

	mustRun(t, home, "sync", "--wait", "--timeout", "5m")
	st := status(t, home)
	if st.Daemon == nil || st.Daemon.PID != pid || st.Daemon.MountDir != mnt {
		t.Fatalf("status daemon %+v, want pid %d on %s", st.Daemon, pid, mnt)
	}
	if u := st.Uploads; u.QueuedFiles != 0 || u.DirtyBlocks != 0 || u.DirtyBytes != 0 || u.UploadingBlocks != 0 {
		t.Fatalf("after sync --wait: uploads %+v, want nothing queued", u)
	}
	if st.Cache.MaxBytes != 1<<30 || st.Cache.Blocks == 0 {
		t.Errorf("cache %+v, want blocks held and the 1 GiB limit", st.Cache)
	}
	if len(st.Farmers) != 6 {
		t.Errorf("%d farmers in status, want 6", len(st.Farmers))
	}
	for _, f := range st.Farmers {
		if f.State != service.FarmerUp {
			t.Errorf("farmer %s is %s, want up", f.Address, f.State)
		}
	}
	if out := mustRun(t, home, "status"); !strings.Contains(out, "6 up, 0 down") || !strings.Contains(out, mnt) {
		t.Errorf("status text:\n%s", out)
	}

	// pin takes a local path under the mount or a drive path.
	mustRun(t, home, "pin", filepath.Join(mnt, "dir"))
	mustRun(t, home, "unpin", "/dir")
	if r := shardrive(t, home, nil, "pin", "/no/such"); r.code != exitNotFound {
		t.Errorf("pin of a missing path: exit %d %q, want %d", r.code, r.stderr, exitNotFound)
	}

	dropped, kept := cacheClear(t, home)
	if dropped < 5 || kept != 0 {
		t.Fatalf("cache clear dropped %d and kept %d blocks; want at least the 5 of the larger files, none kept", dropped, kept)
	}
	if st := status(t, home); st.Cache.Blocks != 0 {
		t.Fatalf("%d blocks cached after cache clear", st.Cache.Blocks)
	}
	checkFiles(t, mnt, files) // from the farmers
	if st := status(t, home); st.Cache.Blocks < 5 {
		t.Fatalf("reading everything back cached only %d blocks: not read from the farmers?", st.Cache.Blocks)
	}

	// A busy mount stays up, and the error names who holds it.
	sleeper := exec.Command("sleep", "600")
	sleeper.Dir = filepath.Join(mnt, "dir")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	r := shardrive(t, home, nil, "unmount", mnt)
	sleeper.Process.Kill()
	sleeper.Wait()
	if r.code != exitBusy || !strings.Contains(r.stderr, "sleep") {
		t.Errorf("unmount of a busy mount: exit %d %q, want %d naming sleep", r.code, r.stderr, exitBusy)
	}
	if !isMountPoint(t, mnt) || !alive(pid) {
		t.Fatal("a refused unmount took the mount or the daemon down")
	}

	if out := mustRun(t, home, "unmount", mnt); out != "unmounted "+mnt+"\n" {
		t.Errorf("unmount printed %q", out)
	}
	if isMountPoint(t, mnt) {
		t.Fatal("still mounted after unmount")
	}
	waitGone(t, pid)
	if _, err := os.Stat(filepath.Join(home, "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}

	// Without a daemon, the same commands work on the home.
	if st := status(t, home); st.Daemon != nil || st.Uploads.QueuedFiles != 0 {
		t.Errorf("status without a daemon: %+v", st)
	}
	if dropped, kept := cacheClear(t, home); dropped < 5 || kept != 0 {
		t.Errorf("cache clear without a daemon: dropped %d, kept %d", dropped, kept)
	}
	mustRun(t, home, "sync", "--wait")
	mustRun(t, home, "pin", "/dir")
	if got := mustRun(t, home, "get", "/dir/medium.bin", "-"); got != string(files["dir/medium.bin"]) {
		t.Error("get after unmount differs")
	}

	// In the foreground, SIGTERM unmounts cleanly and exits 0.
	fg := exec.Command(filepath.Join(binDir, "shardrive"), "--home", home, "mount", mnt)
	stderr, err := fg.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if isMountPoint(t, mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
		fg.Process.Kill()
	})
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() || sc.Text() != "mounted "+mnt+" (Ctrl-C to unmount)" {
		t.Fatalf("foreground mount said %q", sc.Text())
	}
	checkFiles(t, mnt, map[string][]byte{"small.txt": files["small.txt"]})
	fg.Process.Signal(syscall.SIGTERM)
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	if err := fg.Wait(); err != nil {
		t.Fatalf("foreground mount after SIGTERM: %v; stderr %q", err, rest.String())
	}
	if isMountPoint(t, mnt) || !strings.Contains(rest.String(), "unmounted "+mnt) {
		t.Fatalf("foreground mount left %s mounted; stderr %q", mnt, rest.String())
	}

	// While the mount is busy, SIGTERM keeps retrying the unmount (saying
	// who holds it); a second signal exits at once and detaches the mount.
	fg = exec.Command(filepath.Join(binDir, "shardrive"), "--home", home, "mount", mnt)
	if stderr, err = fg.StderrPipe(); err != nil {
		t.Fatal(err)
	}
	if err := fg.Start(); err != nil {
		t.Fatal(err)
	}
	sc = bufio.NewScanner(stderr)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "mounted ") {
		t.Fatalf("foreground mount said %q", sc.Text())
	}
	sleeper = exec.Command("sleep", "600")
	sleeper.Dir = mnt
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	fg.Process.Signal(syscall.SIGTERM)
	for sc.Scan() && !strings.Contains(sc.Text(), "mount busy") {
	}
	if !strings.Contains(sc.Text(), "sleep") {
		t.Errorf("busy warning %q does not name the sleep holding the mount", sc.Text())
	}
	fg.Process.Signal(syscall.SIGTERM)
	for sc.Scan() {
	}
	if err := fg.Wait(); fg.ProcessState.ExitCode() != exitError {
		t.Errorf("after a second signal: %v, want exit %d", err, exitError)
	}
	if isMountPoint(t, mnt) {
		t.Error("a second signal left the mount in place")
	}
}

// TestMountKill9KeepsFsyncedWrites kills the daemon while everything
// written is only local (a long write-back delay keeps the uploader away),
// mounts again and checks that every fsync'd byte is there and uploads.
func TestMountKill9KeepsFsyncedWrites(t *testing.T) {
	requireFUSE(t)
	home, farmers := network(t, 6, 4, 2, "1MiB")
	mnt := t.TempDir()
	pid := mountDaemon(t, home, mnt, "--write-back", "1h")

	files := map[string][]byte{
		"a/big.bin":  randomBytes(5<<20 + 3),
		"a/tiny":     randomBytes(10),
		"renamed.db": randomBytes(200 << 10),
	}
	writeSynced(t, filepath.Join(mnt, "a/big.bin"), files["a/big.bin"])
	writeSynced(t, filepath.Join(mnt, "a/tiny"), files["a/tiny"])
	writeSynced(t, filepath.Join(mnt, "tmp.db"), files["renamed.db"])
	if err := os.Rename(filepath.Join(mnt, "tmp.db"), filepath.Join(mnt, "renamed.db")); err != nil {
		t.Fatal(err)
	}
	// An in-place overwrite of the middle of a block, fsync'd.
	patch := randomBytes(4096)
	f, err := os.OpenFile(filepath.Join(mnt, "a/big.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(patch, 1<<20+12345); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	copy(files["a/big.bin"][1<<20+12345:], patch)
	if st := status(t, home); st.Uploads.QueuedFiles < 3 || st.Uploads.DirtyBlocks < 6 {
		t.Fatalf("before the kill: uploads %+v, want everything still local", st.Uploads)
	}
	if out := mustRun(t, home, "status", filepath.Join(mnt, "a/big.bin"), "/renamed.db"); out != "local   /a/big.bin\nlocal   /renamed.db\n" {
		t.Errorf("per-file status before upload: %q", out)
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if !service.IsDeadMount(mnt) {
		t.Fatal("after kill -9 the mount point is not a dead mount (statfs should fail with ENOTCONN)")
	}
	if st := status(t, home); st.Daemon != nil || st.Uploads.QueuedFiles < 3 {
		t.Fatalf("status after the kill: %+v, want no daemon and the uploads still queued", st)
	}

	pid = mountDaemon(t, home, mnt, "--write-back", "1h") // clears the dead mount itself
	checkFiles(t, mnt, files)
	mustRun(t, home, "sync", "--wait", "--timeout", "5m")
	if st := status(t, home); st.Uploads.QueuedFiles != 0 || st.Uploads.DirtyBlocks != 0 {
		t.Fatalf("after sync --wait: %+v", st.Uploads)
	}
	if out := mustRun(t, home, "status", "--json", "/a/big.bin"); !strings.Contains(out, `"status": "stored"`) {
		t.Errorf("per-file status after sync: %q", out)
	}
	if dropped, kept := cacheClear(t, home); dropped < 6 || kept != 0 {
		t.Fatalf("cache clear: dropped %d, kept %d", dropped, kept)
	}
	checkFiles(t, mnt, files) // from the farmers

	// With too few farmers, sync --wait fails as unavailable, and unmount
	// keeps what it could not store queued for the next start.
	writeSynced(t, filepath.Join(mnt, "late.bin"), randomBytes(2<<20))
	for _, f := range farmers[:3] {
		f.stop(t)
	}
	if r := shardrive(t, home, nil, "sync", "--wait", "--timeout", "2m"); r.code != exitUnavailable && r.code != exitTimeout {
		t.Fatalf("sync --wait with 3 of 6 farmers down: exit %d %q, want %d (or %d)", r.code, r.stderr, exitUnavailable, exitTimeout)
	}
	out := mustRun(t, home, "unmount", mnt)
	if !strings.Contains(out, "1 files are not uploaded yet") {
		t.Errorf("unmount with an upload pending printed %q", out)
	}
	waitGone(t, pid)
	if st := status(t, home); st.Uploads.QueuedFiles != 1 || st.Uploads.DirtyBlocks != 2 {
		t.Errorf("after unmount with farmers down: %+v, want late.bin still queued", st.Uploads)
	}
}

//go:build unix

package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardrive/shardrive/core/crypto"
)

// Recovery tests (issue 5): a tree written through the mount comes back,
// bytes and attributes, on an empty home from the 24 words and one farmer
// address.

// entry is what a recovered tree must reproduce of one path.
type entry struct {
	Mode   fs.FileMode
	Size   int64
	Mtime  int64 // ns; not for symlinks (the mount sets them at creation)
	Target string
	Sum    [32]byte
	Xattrs map[string]string
	Ino    uint64
}

// snapshot walks root and records every path below it.
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{Mode: fi.Mode(), Ino: fi.Sys().(*syscall.Stat_t).Ino}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("read %s: %w", rel, err)
			}
			e.Size, e.Sum, e.Mtime = fi.Size(), sha256.Sum256(b), fi.ModTime().UnixNano()
		default:
			e.Mtime = fi.ModTime().UnixNano()
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			e.Xattrs = xattrs(t, p)
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func xattrs(t *testing.T, p string) map[string]string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", p, err)
	}
	m := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "user.shardrive.") {
			continue
		}
		v := make([]byte, 64<<10)
		k, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		m[name] = string(v[:k])
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func compareTrees(t *testing.T, got, want map[string]entry) {
	t.Helper()
	var missing, extra, differ []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			missing = append(missing, p)
		case !reflect.DeepEqual(g, w):
			differ = append(differ, fmt.Sprintf("%s: got %+v want %+v", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			extra = append(extra, p)
		}
	}
	sort.Strings(differ)
	if len(missing)+len(extra)+len(differ) > 0 {
		if len(differ) > 5 {
			differ = differ[:5]
		}
		t.Fatalf("recovered tree differs: %d missing (%.5v), %d extra (%.5v), differ: %v", len(missing), missing, len(extra), extra, differ)
	}
}

// writeTree writes the test tree through the mount at mnt.
func writeTree(t *testing.T, mnt string, smallFiles int) {
	t.Helper()
	deep := filepath.Join(mnt, "deep", "a", "b", "c", "d", "e", "f")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(deep, 0o755))
	must(os.WriteFile(filepath.Join(deep, "bottom.txt"), []byte("at the bottom\n"), 0o644))
	must(os.MkdirAll(filepath.Join(mnt, "empty dir"), 0o700))
	for i := range smallFiles {
		dir := filepath.Join(mnt, "small", fmt.Sprintf("d%02d", i%20))
		must(os.MkdirAll(dir, 0o755))
		body := []byte(strings.Repeat(fmt.Sprintf("small file %d\n", i), 1+i%200))
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", i)), body, 0o644))
	}
	for i, size := range []int{300 << 10, 1<<20 + 12345, 3 << 20} {
		writeSynced(t, filepath.Join(mnt, "large", fmt.Sprintf("big%d.bin", i)), randomBytes(size))
	}
	u := filepath.Join(mnt, "unicode", "héllo wörld ☃", "日本語のファイル名.txt")
	must(os.MkdirAll(filepath.Dir(u), 0o755))
	must(os.WriteFile(u, []byte("unicode\n"), 0o644))
	long := filepath.Join(mnt, "unicode", strings.Repeat("é", 127)) // 254 bytes
	must(os.WriteFile(long, []byte("long name"), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "empty"), nil, 0o644))
	for name, mode := range map[string]fs.FileMode{"private": 0o600, "script.sh": 0o755, "readonly": 0o444, "setgid": 0o2755} {
		p := filepath.Join(mnt, "modes", name)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(name), 0o600))
		must(os.Chmod(p, mode))
	}
	must(os.Symlink("deep/a/b/c/d/e/f/bottom.txt", filepath.Join(mnt, "link-rel")))
	must(os.Symlink("/nonexistent/absolute/target", filepath.Join(mnt, "link-dangling")))
	must(os.Link(filepath.Join(mnt, "empty"), filepath.Join(mnt, "hardlink-to-empty")))
	must(os.Link(filepath.Join(mnt, "large", "big1.bin"), filepath.Join(mnt, "deep", "big1-again")))
	must(unix.Setxattr(filepath.Join(mnt, "modes", "private"), "user.color", []byte("blue"), 0))
	must(unix.Setxattr(filepath.Join(mnt, "deep"), "user.note", []byte{0, 1, 2, 255}, 0))
	mt := time.Date(2001, 2, 3, 4, 5, 6, 789012345, time.UTC)
	must(os.Chtimes(filepath.Join(mnt, "modes", "readonly"), mt, mt))
	must(os.Chtimes(filepath.Join(mnt, "empty dir"), mt, mt))
}

// recoverHome runs init --recover into a new home from the farmer at addr.
func recoverHome(t *testing.T, words, addr string, flags ...string) (string, result) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "recovered")
	args := append([]string{"init", "--recover", "--farmers", addr}, flags...)
	r := shardrive(t, home, strings.NewReader(words+"\n"), args...)
	return home, r
}

func TestRecoverDriveFromMnemonic(t *testing.T) {
	requireFUSE(t)
	home, words, farmers := networkWords(t, 6, 4, 2, "256KiB")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	mountDaemon(t, home, mnt)
	writeTree(t, mnt, 2000)
	mustRun(t, home, "sync", "--wait", "--timeout", "5m")
	want := snapshot(t, mnt)
	if st := status(t, home); st.Backup == nil || st.Backup.Version < 2 || st.Backup.Pending {
		t.Fatalf("backup status after sync --wait: %+v", st.Backup)
	}
	if out := mustRun(t, home, "backup", "status"); !strings.Contains(out, "changes: all stored") || !strings.Contains(out, "writer: this device") {
		t.Errorf("backup status while mounted:\n%s", out)
	}
	mustRun(t, home, "unmount", mnt)
	if out := mustRun(t, home, "backup", "status"); !strings.Contains(out, "metadata backup: version") || !strings.Contains(out, "no lease held") {
		t.Errorf("backup status after unmount:\n%s", out)
	}

	// The laptop is lost: nothing of the home is left.
	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}

	// A valid mnemonic of no drive: a clear error, nothing written.
	other, err := crypto.NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	wrongHome, r := recoverHome(t, other, farmers[0].addr)
	if r.code != exitWrongKey || !strings.Contains(r.stderr, "no metadata backup") {
		t.Fatalf("wrong mnemonic: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(wrongHome); !os.IsNotExist(err) {
		t.Fatalf("a failed recovery left %s behind (%v)", wrongHome, err)
	}

	// The words and one farmer bring the drive back.
	home2, r := recoverHome(t, words, farmers[3].addr)
	if r.code != 0 {
		t.Fatalf("recover: exit %d: %s", r.code, r.stderr)
	}
	t.Logf("recover said: %s", strings.TrimSpace(r.stderr))
	if !strings.Contains(r.stderr, "farmers: 6 of 6 answered") {
		t.Errorf("recover summary: %s", r.stderr)
	}
	mnt2 := filepath.Join(t.TempDir(), "mnt2")
	os.Mkdir(mnt2, 0o755)
	mountDaemon(t, home2, mnt2)
	compareTrees(t, snapshot(t, mnt2), want)

	// Two farmers down, another recovery while the second device's daemon
	// holds the lease: refused without --take-over, then taken over.
	farmers[1].stop(t)
	farmers[4].stop(t)
	home3, r := recoverHome(t, words, farmers[0].addr)
	if r.code != exitOtherDevice || !strings.Contains(r.stderr, "--take-over") {
		t.Fatalf("recover while another device holds the lease: exit %d: %s", r.code, r.stderr)
	}
	home3, r = recoverHome(t, words, farmers[0].addr, "--take-over")
	if r.code != 0 {
		t.Fatalf("recover --take-over with two farmers down: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "farmers: 4 of 6 answered") {
		t.Errorf("recover summary: %s", r.stderr)
	}
	mnt3 := filepath.Join(t.TempDir(), "mnt3")
	os.Mkdir(mnt3, 0o755)
	mountDaemon(t, home3, mnt3)
	compareTrees(t, snapshot(t, mnt3), want)

	// The second device lost the drive: its next backup (with the farmers
	// back, so that it gets as far as the root) finds out, it stops
	// writing to the drive, and says so.
	farmers[1] = restartFarmer(t, farmers[1])
	farmers[4] = restartFarmer(t, farmers[4])
	writeSynced(t, filepath.Join(mnt2, "late.txt"), []byte("written after the take-over"))
	r = shardrive(t, home2, nil, "sync", "--wait", "--timeout", "1m")
	if r.code != exitOtherDevice || !strings.Contains(r.stderr, "took over") {
		t.Fatalf("sync on the device that lost the lease: exit %d: %s", r.code, r.stderr)
	}
	if st := status(t, home2); st.Backup == nil || st.Backup.LostTo == "" {
		t.Fatalf("status of the device that lost the lease: %+v", st.Backup)
	}
	// Its mount turns read-only (at the backup's next look, a few seconds).
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := os.WriteFile(filepath.Join(mnt2, "refused.txt"), []byte("x"), 0o644)
		if errors.Is(err, syscall.EROFS) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a write on the mount of the device that lost the lease: %v, want EROFS", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := status(t, home2); st.Daemon == nil || !st.Daemon.ReadOnly {
		t.Fatalf("daemon status of the device that lost the lease: %+v", st.Daemon)
	}
	mustRun(t, home2, "unmount", mnt2)
	r = shardrive(t, home2, strings.NewReader("x"), "put", "-", "/later.txt")
	if r.code != exitOtherDevice || !strings.Contains(r.stderr, "took over") {
		t.Fatalf("write from the device that lost the lease: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(mnt3, "late.txt")); !os.IsNotExist(err) {
		t.Fatalf("the new device sees the old device's late write (%v)", err)
	}
}

// TestRecoverAfterOverwriteAndKill overwrites a file, lets its new blocks
// upload and garbage collection run, and kills the daemon before the
// metadata backup that would name the new version: the recovered drive
// has the old version, whose shards must still be on the farmers.
func TestRecoverAfterOverwriteAndKill(t *testing.T) {
	requireFUSE(t)
	home, words, farmers := networkWords(t, 6, 4, 2, "256KiB")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	pid := mountDaemon(t, home, mnt, "--backup-delay", "1h", "--write-back", "200ms")
	v1 := randomBytes(1<<20 + 100)
	writeSynced(t, filepath.Join(mnt, "f.bin"), v1)
	writeSynced(t, filepath.Join(mnt, "other.txt"), []byte("other"))
	mustRun(t, home, "sync", "--wait", "--timeout", "2m")
	want := snapshot(t, mnt)

	writeSynced(t, filepath.Join(mnt, "f.bin"), randomBytes(1<<20+100))
	// Wait for the uploader to store the new blocks (its rounds collect
	// garbage too) while the metadata backup waits its hour.
	deadline := time.Now().Add(time.Minute)
	for {
		st := status(t, home)
		if st.Uploads.QueuedFiles == 0 && st.Uploads.DirtyBlocks == 0 {
			if st.Backup == nil || !st.Backup.Pending {
				t.Fatalf("backup status %+v: the overwrite should wait for its backup", st.Backup)
			}
			if st.Uploads.GarbageShards == 0 {
				t.Fatal("the old version's shards are not queued as garbage")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("uploads not done after a minute: %+v", st.Uploads)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a few more uploader rounds, each collecting garbage
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
	// The laptop is lost while the mount was busy.
	exec.Command("fusermount3", "-u", "-z", mnt).Run()
	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}

	home2, r := recoverHome(t, words, farmers[5].addr, "--take-over") // the dead daemon still holds the lease
	if r.code != 0 {
		t.Fatalf("recover: exit %d: %s", r.code, r.stderr)
	}
	mnt2 := filepath.Join(t.TempDir(), "mnt2")
	os.Mkdir(mnt2, 0o755)
	mountDaemon(t, home2, mnt2)
	compareTrees(t, snapshot(t, mnt2), want)
}

// restartFarmer starts a stopped farmer again on its directory and port.
func restartFarmer(t *testing.T, f *farmerProc) *farmerProc {
	t.Helper()
	_, port, err := net.SplitHostPort(f.addr[strings.IndexByte(f.addr, '@')+1:])
	if err != nil {
		t.Fatal(err)
	}
	g := startFarmerOn(t, f.dir, "127.0.0.1:"+port)
	if g.addr != f.addr {
		t.Fatalf("farmer came back as %s, was %s", g.addr, f.addr)
	}
	return g
}

// TestRecoverIgnoresReplayedRoot has a real farmer serve an old root
// record (its data directory put back to an earlier copy) and recovers from
// that farmer's address alone: the newest root still wins, and the farmer
// is named.
func TestRecoverIgnoresReplayedRoot(t *testing.T) {
	home, words, farmers := networkWords(t, 4, 2, 1, "256KiB")
	src := filepath.Join(t.TempDir(), "src")
	mustWrite := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(src, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, home, "put", src, name)
	}
	mustWrite("/old.txt", "before the snapshot")
	// The replaying farmer keeps a copy of its directory as it is now.
	f := farmers[0]
	f.stop(t)
	snap := filepath.Join(t.TempDir(), "snap")
	if out, err := exec.Command("cp", "-a", f.dir, snap).CombinedOutput(); err != nil {
		t.Fatalf("copy farmer dir: %v: %s", err, out)
	}
	farmers[0] = restartFarmer(t, f)
	mustWrite("/new.txt", "after the snapshot")
	farmers[0].stop(t)
	if err := os.RemoveAll(f.dir); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", snap, f.dir).CombinedOutput(); err != nil {
		t.Fatalf("put the old farmer dir back: %v: %s", err, out)
	}
	farmers[0] = restartFarmer(t, f)
	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}

	home2, r := recoverHome(t, words, farmers[0].addr)
	if r.code != 0 {
		t.Fatalf("recover from the replaying farmer: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "serves an older root record") || !strings.Contains(r.stderr, farmers[0].addr[:8]) {
		t.Errorf("the replaying farmer is not named:\n%s", r.stderr)
	}
	if got := mustRun(t, home2, "get", "/new.txt", "-"); got != "after the snapshot" {
		t.Fatalf("recovered /new.txt = %q", got)
	}
}

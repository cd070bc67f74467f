//go:build unix

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shardrive/shardrive/core/crypto"
)

// These tests run the real binaries: shardfarmer processes on loopback ports
// and the shardrive CLI against them, as a user would.

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shardrive-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The binaries must not read the developer's own configuration.
	if os.Getenv("XDG_CONFIG_HOME") == "" || !strings.HasPrefix(os.Getenv("XDG_CONFIG_HOME"), os.TempDir()) {
		os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/shardrive/shardrive/cmd/shardrive", "github.com/shardrive/shardrive/cmd/shardfarmer")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type farmerProc struct {
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startFarmer runs `shardfarmer run` in dir on a free loopback port and
// waits for its ready line. It is stopped when the test ends.
func startFarmer(t *testing.T, dir string) *farmerProc {
	return startFarmerWith(t, dir, "127.0.0.1:0", "2GiB")
}

// startFarmerOn is startFarmer listening on listen.
func startFarmerOn(t *testing.T, dir, listen string) *farmerProc {
	return startFarmerWith(t, dir, listen, "2GiB")
}

// startFarmerWith is startFarmer listening on listen with capacity.
func startFarmerWith(t *testing.T, dir, listen, capacity string) *farmerProc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "shardfarmer"), "run", "--dir", dir, "--listen", listen, "--capacity", capacity)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &farmerProc{dir: dir, cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "farmer ready: "); ok {
				ready <- a
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); logf.Close(); close(f.done) }()
	t.Cleanup(func() { f.stop(t) })
	select {
	case f.addr = <-ready:
	case <-f.done:
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("farmer exited before ready: %s", log)
	case <-time.After(30 * time.Second):
		t.Fatal("farmer not ready after 30s")
	}
	return f
}

// stop sends SIGTERM and waits for a clean exit.
func (f *farmerProc) stop(t *testing.T) {
	select {
	case <-f.done:
		return
	default:
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
		if code := f.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("farmer %s exited %d after SIGTERM", f.dir, code)
		}
	case <-time.After(20 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
		t.Errorf("farmer %s did not stop within 20s of SIGTERM", f.dir)
	}
}

type result struct {
	stdout, stderr string
	code           int
	maxRSS         int64 // bytes
}

// shardrive runs the CLI with no stdin (unless given) and returns what it printed.
func shardrive(t *testing.T, home string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "shardrive"), append([]string{"--home", home}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &o, &e
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10 // Linux reports KiB
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else {
			t.Fatalf("run shardrive %v: %v", args, err)
		}
	}
	return r
}

func mustRun(t *testing.T, home string, args ...string) string {
	t.Helper()
	return mustRunR(t, home, args...).stdout
}

func mustRunR(t *testing.T, home string, args ...string) result {
	t.Helper()
	r := shardrive(t, home, nil, args...)
	if r.code != 0 {
		t.Fatalf("shardrive %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r
}

// maxClientRSS is the memory bound the client keeps whatever the file size.
const maxClientRSS = 200 << 20

// network starts n farmers under dir and creates a k+m drive on them.
func network(t *testing.T, n, k, m int, blockSize string) (home string, farmers []*farmerProc) {
	t.Helper()
	home, _, farmers = networkWords(t, n, k, m, blockSize)
	return home, farmers
}

// networkWords is network that also returns the drive's mnemonic.
func networkWords(t *testing.T, n, k, m int, blockSize string) (home, words string, farmers []*farmerProc) {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for i := range n {
		f := startFarmer(t, filepath.Join(dir, fmt.Sprintf("farm%d", i+1)))
		farmers = append(farmers, f)
		addrs = append(addrs, f.addr)
	}
	home = filepath.Join(dir, "home")
	out := mustRun(t, home, "init", "--farmers", strings.Join(addrs, ","),
		"--data-shards", fmt.Sprint(k), "--parity-shards", fmt.Sprint(m), "--block-size", blockSize)
	words, ok := strings.CutPrefix(strings.TrimSpace(out), "mnemonic: ")
	if !ok || len(strings.Fields(words)) != 24 || strings.Contains(out[len("mnemonic: "):len(out)-1], "\n") {
		t.Fatalf("init printed %q, want one line \"mnemonic: \" + 24 words", out)
	}
	return home, words, farmers
}

func randomFile(t *testing.T, dir string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	p := filepath.Join(dir, fmt.Sprintf("rand-%d", size))
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestPutGetSurvivesTwoFarmersDown(t *testing.T) {
	home, farmers := network(t, 6, 4, 2, "4MiB")
	src, want := randomFile(t, t.TempDir(), 64<<20)
	if r := mustRunR(t, home, "put", src, "/big/file.bin"); r.maxRSS > maxClientRSS {
		t.Errorf("put of 64 MiB peaked at %d MiB RSS, the bound is %d MiB", r.maxRSS>>20, maxClientRSS>>20)
	}
	if out := mustRun(t, home, "ls", "-l", "/big"); !strings.Contains(out, fmt.Sprint(64<<20)) || !strings.Contains(out, "file.bin") {
		t.Fatalf("ls -l /big = %q", out)
	}
	farmers[1].stop(t)
	farmers[4].stop(t)
	dst := filepath.Join(t.TempDir(), "copy.bin")
	mustRun(t, home, "get", "/big/file.bin", dst)
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("file read back with two farmers down differs from what was stored")
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 as stored", fi.Mode().Perm())
	}
	// A third farmer down leaves fewer than k shards of every block.
	farmers[0].stop(t)
	r := shardrive(t, home, nil, "get", "/big/file.bin", dst+".2")
	if r.code != exitUnavailable {
		t.Fatalf("get with 3 of 6 farmers down: exit %d (%s), want %d", r.code, r.stderr, exitUnavailable)
	}
	if _, err := os.Stat(dst + ".2"); !os.IsNotExist(err) {
		t.Error("a failed get left a file behind")
	}
}

func TestSmallFilesStdinStdoutAndRemove(t *testing.T) {
	home, _ := network(t, 6, 4, 2, "1MiB")
	for _, size := range []int{0, 1, 65535, 65536, 1<<20 + 1} {
		name := fmt.Sprintf("/s/f%d", size)
		b := make([]byte, size)
		rand.Read(b)
		if r := shardrive(t, home, bytes.NewReader(b), "put", "-", name); r.code != 0 {
			t.Fatalf("put %s: %d %s", name, r.code, r.stderr)
		}
		if got := mustRun(t, home, "get", name, "-"); got != string(b) {
			t.Fatalf("get %s: %d bytes differ from the %d stored", name, len(got), size)
		}
	}
	if out := mustRun(t, home, "ls", "/s"); out != "f0\nf1\nf1048577\nf65535\nf65536\n" {
		t.Fatalf("ls /s = %q", out)
	}
	mustRun(t, home, "rm", "/s/f1")
	if r := shardrive(t, home, nil, "get", "/s/f1", "-"); r.code != exitNotFound {
		t.Fatalf("get after rm: exit %d, want %d", r.code, exitNotFound)
	}
	if r := shardrive(t, home, nil, "rm", "/s"); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("rm of a non-empty folder: %d %q", r.code, r.stderr)
	}
	mustRun(t, home, "rm", "-r", "/s")
	if out := mustRun(t, home, "ls", "/"); out != "" {
		t.Fatalf("ls / after rm -r = %q", out)
	}
}

func TestExitCodes(t *testing.T) {
	home, farmers := network(t, 6, 4, 2, "1MiB")
	empty := filepath.Join(t.TempDir(), "none")
	src, _ := randomFile(t, t.TempDir(), 1000)
	mustRun(t, home, "put", src, "/a")

	locked := func() func() {
		f, err := os.OpenFile(filepath.Join(home, "lock"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		return func() { f.Close() }
	}

	for _, tc := range []struct {
		name  string
		home  string
		args  []string
		setup func() func()
		code  int
	}{
		{"unknown flag", home, []string{"ls", "--bogus"}, nil, exitUsage},
		{"missing argument", home, []string{"put", src}, nil, exitUsage},
		{"relative drive path", home, []string{"put", src, "rel/x"}, nil, exitError},
		{"not found", home, []string{"get", "/nope", "-"}, nil, exitNotFound},
		{"no drive", empty, []string{"ls"}, nil, exitNoDrive},
		{"init twice", home, []string{"init", "--farmers", farmers[0].addr}, nil, exitNoDrive},
		{"busy", home, []string{"put", src, "/b"}, locked, exitBusy},
		{"unreachable farmer", empty, []string{"init", "--data-shards", "1", "--parity-shards", "0", "--farmers",
			strings.Split(farmers[0].addr, "@")[0] + "@127.0.0.1:1"}, nil, exitUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				defer tc.setup()()
			}
			r := shardrive(t, tc.home, nil, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 {
				t.Errorf("error is %d lines, want one: %q", lines+1, r.stderr)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		other, err := crypto.NewTestKeys(t, "someone else").MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "keys"), other, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := shardrive(t, home, nil, "get", "/a", "-"); r.code != exitWrongKey {
			t.Fatalf("exit %d, want %d; stderr %q", r.code, exitWrongKey, r.stderr)
		}
	})
}

// TestNoPlaintextReachesFarmers writes random markers into file contents and
// names, then scans every byte under every farmer's directory (shards, its
// database, its log) for them, raw and in the common text encodings.
func TestNoPlaintextReachesFarmers(t *testing.T) {
	home, farmers := network(t, 6, 4, 2, "1MiB")
	marker := func() []byte {
		b := make([]byte, 12)
		rand.Read(b)
		return []byte(hex.EncodeToString(b))
	}
	var markers [][]byte
	dir := t.TempDir()
	for i, size := range []int{100, 70 << 10, 3 << 20} {
		content, name, folder := marker(), marker(), marker()
		markers = append(markers, content, name, folder)
		body := bytes.Repeat(append(append([]byte{}, content...), ' '), size/len(content)+1)[:size]
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, home, "put", p, "/"+string(folder)+"/"+string(name)+".txt")
	}
	for _, f := range farmers {
		f.stop(t) // flush logs and databases
	}
	scanned := 0
	for _, f := range farmers {
		err := filepath.WalkDir(filepath.Dir(f.dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasPrefix(p, f.dir) {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			scanned++
			for _, m := range markers {
				raw, _ := hex.DecodeString(string(m))
				for _, enc := range [][]byte{m, raw, []byte(base64.StdEncoding.EncodeToString(m)), []byte(hex.EncodeToString(m))} {
					if bytes.Contains(b, enc) {
						t.Errorf("%s holds a plaintext marker", p)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if scanned < len(farmers)*2 {
		t.Fatalf("scanned only %d files under the farmers", scanned)
	}
}

// TestLongHugeFile puts and gets a 4 GiB file (make test-long): the client
// must stay under its memory bound and the bytes must come back identical.
func TestLongHugeFile(t *testing.T) {
	if os.Getenv("SHARDRIVE_LONG") == "" {
		t.Skip("set SHARDRIVE_LONG=1 (make test-long)")
	}
	home, farmers := network(t, 6, 4, 2, "4MiB")
	const size = 4 << 30
	src := filepath.Join(t.TempDir(), "huge")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	buf := make([]byte, 8<<20)
	for written := 0; written < size; written += len(buf) {
		rand.Read(buf)
		f.Write(buf)
		h.Write(buf)
	}
	f.Close()
	want := h.Sum(nil)
	if r := mustRunR(t, home, "put", src, "/huge"); r.maxRSS > maxClientRSS {
		t.Errorf("put of 4 GiB peaked at %d MiB RSS, the bound is %d MiB", r.maxRSS>>20, maxClientRSS>>20)
	}
	os.Remove(src)
	farmers[2].stop(t)
	farmers[3].stop(t)
	dst := filepath.Join(t.TempDir(), "huge.copy")
	if r := mustRunR(t, home, "get", "/huge", dst); r.maxRSS > maxClientRSS {
		t.Errorf("get of 4 GiB peaked at %d MiB RSS, the bound is %d MiB", r.maxRSS>>20, maxClientRSS>>20)
	}
	g, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h.Reset()
	if _, err := io.Copy(h, g); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		t.Fatal("4 GiB file read back with two farmers down differs")
	}
}

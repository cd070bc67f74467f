//go:build unix

package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/syncer"
)

// fakeDaemon is an in-memory controller: the dependency of the control
// server, which (with the client) is what these tests exercise for real
// over a Unix socket.
type fakeDaemon struct {
	mu      sync.Mutex
	pinned  map[string]bool
	syncErr error
	syncs   []SyncRequest
	paused  bool
}

func (f *fakeDaemon) status(context.Context) (Status, error) {
	return Status{Version: StatusVersion, Daemon: &DaemonStatus{PID: 7, MountDir: "/mnt/x"}, Farmers: []FarmerStatus{}}, nil
}

func (f *fakeDaemon) sync(ctx context.Context, req SyncRequest) (SyncReply, error) {
	f.mu.Lock()
	f.syncs = append(f.syncs, req)
	err := f.syncErr
	f.mu.Unlock()
	return SyncReply{QueuedFiles: 3}, err
}

func (f *fakeDaemon) pin(ctx context.Context, p string, pin bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == "/missing" {
		return fmt.Errorf("%s: %w", p, cache.ErrNotFound)
	}
	f.pinned[p] = pin
	return nil
}

func (f *fakeDaemon) fileStatus(ctx context.Context, p string) (FileStatus, error) {
	return FileStatus{Path: p, Status: "local"}, nil
}

func (f *fakeDaemon) clearCache(context.Context) (ClearReply, error) {
	return ClearReply{Dropped: 5, Kept: 2}, nil
}

func (f *fakeDaemon) unmount(context.Context) (UnmountReply, error) {
	return UnmountReply{}, fmt.Errorf("%w: /mnt/x held by pid 1 (sh, cwd)", mount.ErrBusy)
}

func (f *fakeDaemon) pause(_ context.Context, paused bool) (PauseReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := f.paused != paused
	f.paused = paused
	return PauseReply{Paused: paused, Changed: changed}, nil
}

// The keeper calls are tested over a real daemon (cmd/shardrive e2e); the
// server tests only need them to exist.
func (f *fakeDaemon) farmers(context.Context) (FarmersReply, error)     { return FarmersReply{}, nil }
func (f *fakeDaemon) settle(context.Context) (FarmersReply, error)      { return FarmersReply{}, nil }
func (f *fakeDaemon) addFarmer(context.Context, string) error           { return ErrFarmerKnown }
func (f *fakeDaemon) removeFarmer(context.Context, string) error        { return ErrFarmerUnknown }
func (f *fakeDaemon) verify(context.Context, bool) (VerifyReply, error) { return VerifyReply{}, nil }
func (f *fakeDaemon) repair(context.Context, bool) (RepairReply, error) { return RepairReply{}, nil }

// serveFake serves a fakeDaemon on a control socket in a fresh directory.
func serveFake(t *testing.T, dir string) (*fakeDaemon, string) {
	t.Helper()
	f := &fakeDaemon{pinned: map[string]bool{}}
	sock := filepath.Join(dir, "control.sock")
	l, err := listenControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := newControlServer(f, uint32(os.Getuid()), slog.New(slog.DiscardHandler))
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return f, sock
}

func TestControlProtocol(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	f, sock := serveFake(t, dir)
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(sock); fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	c := NewClient(sock)
	defer c.Close()

	st, err := c.Status(ctx)
	if err != nil || st.Daemon == nil || st.Daemon.PID != 7 || st.Daemon.MountDir != "/mnt/x" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if rep, err := c.Sync(ctx, SyncRequest{Wait: true, TimeoutMS: 1500}); err != nil || rep.QueuedFiles != 3 {
		t.Fatalf("sync %+v, %v", rep, err)
	}
	if len(f.syncs) != 1 || f.syncs[0] != (SyncRequest{Wait: true, TimeoutMS: 1500}) {
		t.Fatalf("daemon got %+v", f.syncs)
	}
	if err := c.Pin(ctx, "/Photos"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unpin(ctx, "/Docs"); err != nil {
		t.Fatal(err)
	}
	if !f.pinned["/Photos"] || f.pinned["/Docs"] || len(f.pinned) != 2 {
		t.Fatalf("pins %v", f.pinned)
	}
	if err := c.Pin(ctx, "/missing"); !errors.Is(err, cache.ErrNotFound) || !strings.Contains(err.Error(), "/missing") {
		t.Fatalf("pin of a missing path: %v, want ErrNotFound naming it", err)
	}
	if err := c.Pin(ctx, "relative"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("pin of a relative path: %v, want ErrBadRequest", err)
	}
	if fs, err := c.FileStatus(ctx, "/a b/ü"); err != nil || fs != (FileStatus{Path: "/a b/ü", Status: "local"}) {
		t.Fatalf("file status %+v, %v", fs, err)
	}
	if rep, err := c.ClearCache(ctx); err != nil || rep != (ClearReply{Dropped: 5, Kept: 2}) {
		t.Fatalf("clear %+v, %v", rep, err)
	}
	if _, err := c.Unmount(ctx); !errors.Is(err, mount.ErrBusy) || !strings.Contains(err.Error(), "pid 1 (sh, cwd)") {
		t.Fatalf("unmount: %v, want mount.ErrBusy naming the holder", err)
	}
	f.syncErr = fmt.Errorf("sync: %w after 1s: %w", ErrTimeout, syncer.ErrUnavailable)
	if _, err := c.Sync(ctx, SyncRequest{Wait: true}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("sync timeout came back as %v", err)
	}
	if rep, err := c.Pause(ctx); err != nil || rep != (PauseReply{Paused: true, Changed: true}) {
		t.Fatalf("pause %+v, %v", rep, err)
	}
	if rep, err := c.Pause(ctx); err != nil || rep != (PauseReply{Paused: true}) {
		t.Fatalf("second pause %+v, %v", rep, err)
	}
	// A paused daemon's refusal crosses the socket as itself, and still
	// counts as farmers out of reach (exit code 4).
	f.syncErr = fmt.Errorf("sync: %w", ErrPaused)
	if _, err := c.Sync(ctx, SyncRequest{}); !errors.Is(err, ErrPaused) || !errors.Is(err, syncer.ErrUnavailable) {
		t.Fatalf("sync while paused came back as %v", err)
	}
	if rep, err := c.Resume(ctx); err != nil || rep != (PauseReply{Paused: false, Changed: true}) {
		t.Fatalf("resume %+v, %v", rep, err)
	}

	// Raw requests a client of this package would never send.
	raw := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for _, tc := range []struct {
		method, path, body string
		status             int
		kind               string
	}{
		{"POST", "/v1/sync", `{"wait":true,"bogus":1}`, 400, "bad_request"},
		{"POST", "/v1/pin", `{"path":"/a"} trailing`, 400, "bad_request"},
		{"POST", "/v1/pin", `{"path":"/a` + strings.Repeat("b", maxRequestBody) + `"}`, 400, "bad_request"},
		{"POST", "/v1/cache/clear", `{"all":true}`, 400, "bad_request"},
		{"POST", "/v1/pause", `{"for":"1h"}`, 400, "bad_request"},
		{"GET", "/v1/resume", "", 404, "protocol"},
		{"GET", "/v2/status", "", 404, "protocol"},
		{"DELETE", "/v1/status", "", 404, "protocol"},
		{"GET", "/v1/unmount", "", 404, "protocol"},
	} {
		req, _ := http.NewRequest(tc.method, "http://x"+tc.path, strings.NewReader(tc.body))
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), `"kind":"`+tc.kind+`"`) {
			t.Errorf("%s %s: %d %s, want %d kind %s", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.kind)
		}
	}
}

func TestControlSocketLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sock := filepath.Join(dir, "control.sock")
	if _, err := NewClient(sock).Status(ctx); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("no socket: %v, want ErrNoDaemon", err)
	}
	// A socket whose listener died (a crashed daemon) is stale.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := NewClient(sock).Status(ctx); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("stale socket: %v, want ErrNoDaemon", err)
	}
	serveFake(t, dir) // removes the stale socket
	if _, err := NewClient(sock).Status(ctx); err != nil {
		t.Fatalf("after taking over a stale socket: %v", err)
	}
	// A socket someone answers on is not taken over.
	if _, err := listenControl(sock); !errors.Is(err, ErrBusy) {
		t.Fatalf("second listener: %v, want ErrBusy", err)
	}
	long := filepath.Join(dir, strings.Repeat("d", 100), "control.sock")
	if _, err := listenControl(long); err == nil || !strings.Contains(err.Error(), "shorter --home") {
		t.Fatalf("overlong socket path: %v", err)
	}
}

// TestControlRefusesOtherUsers connects from another uid (the test binary
// run again as nobody), which the kernel's peer credentials expose: the
// socket's file modes are opened up here so that only that check stands.
func TestControlRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid")
	}
	dir, err := os.MkdirTemp("", "sdctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_, sock := serveFake(t, dir)
	os.Chmod(dir, 0o755)
	os.Chmod(sock, 0o666)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "service.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SHARDRIVE_TEST_PEER_SOCKET="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as uid 65534: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "peer refused: forbidden") {
		t.Fatalf("client as uid 65534 got %q, want a refusal", out)
	}
}

// TestMain doubles as the other user's client of TestControlRefusesOtherUsers.
func TestMain(m *testing.M) {
	if sock := os.Getenv("SHARDRIVE_TEST_PEER_SOCKET"); sock != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := NewClient(sock).Status(ctx)
		var re *RemoteError
		switch {
		case errors.As(err, &re) && errors.Is(err, ErrForbidden):
			fmt.Printf("peer refused: %s (uid %d)\n", re.Kind, os.Getuid())
		default:
			fmt.Printf("peer not refused: %v (uid %d)\n", err, os.Getuid())
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

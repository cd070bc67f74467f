package service

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheDirRecord(t *testing.T) {
	h := Home{State: t.TempDir()}
	if dir, err := h.recordedCacheDir(); err != nil || dir != "" {
		t.Fatalf("no record: %q, %v", dir, err)
	}
	want := filepath.Join(t.TempDir(), "my cache")
	if err := h.recordCacheDir(want); err != nil {
		t.Fatal(err)
	}
	if dir, err := h.recordedCacheDir(); err != nil || dir != want {
		t.Fatalf("read back %q, %v; want %q", dir, err, want)
	}
	for _, bad := range []string{
		"",
		"shardrive-cache-dir 1\n/x",
		"shardrive-cache-dir 1\n/x\n\n",
		"shardrive-cache-dir 2\n/x\n",
		"shardrive-cache-dir 1.0\n/x\n",
		"shardrive-cache 1\n/x\n",
		"shardrive-cache-dir 1\nrelative\n",
		"shardrive-cache-dir 1\n/a/../b\n",
		"shardrive-cache-dir 1\n/a\x00b\n",
		"shardrive-cache-dir 1\n\n",
	} {
		if err := os.WriteFile(h.CacheDirPath(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if dir, err := h.recordedCacheDir(); !errors.Is(err, errCacheDirRecord) {
			t.Errorf("%q: got %q, %v; want errCacheDirRecord", bad, dir, err)
		}
	}
	if err := h.recordCacheDir("relative/dir"); !errors.Is(err, errCacheDirRecord) {
		t.Errorf("recorded a relative directory: %v", err)
	}
}

func FuzzParseCacheDir(f *testing.F) {
	f.Add([]byte("shardrive-cache-dir 1\n/var/cache/shardrive\n"))
	f.Add([]byte("shardrive-cache-dir 7\n/x\n"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir, err := parseCacheDir(b)
		if err != nil {
			return
		}
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
			t.Fatalf("accepted %q", dir)
		}
		out, err := marshalCacheDir(dir)
		if err != nil || string(out) != string(b) {
			t.Fatalf("%q parsed to %q, which marshals to %q, %v", b, dir, out, err)
		}
	})
}

func TestSocketPath(t *testing.T) {
	state := t.TempDir()
	if got := (Home{State: state}).SocketPath(); got != filepath.Join(state, "control.sock") {
		t.Fatalf("without a runtime dir: %s", got)
	}
	rt := t.TempDir()
	h := Home{State: state, Runtime: rt}
	own := h.SocketPath()
	if filepath.Dir(own) != filepath.Join(rt, "shardrive") || len(filepath.Base(own)) != 16+len(".sock") {
		t.Fatalf("runtime socket %s, want shardrive/<16 hex>.sock under %s", own, rt)
	}
	// The same home named through a symlink or a relative path shares it;
	// another home does not.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(state, link); err != nil {
		t.Fatal(err)
	}
	if got := (Home{State: link, Runtime: rt}).SocketPath(); got != own {
		t.Errorf("through a symlink: %s, want %s", got, own)
	}
	if got := (Home{State: t.TempDir(), Runtime: rt}).SocketPath(); got == own {
		t.Error("two homes share a socket")
	}
	// A daemon that ran without a runtime dir is found in the state dir,
	// unless the runtime socket exists.
	l, err := listenControl(filepath.Join(state, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := h.SocketPath(); got != filepath.Join(state, "control.sock") {
		t.Errorf("with only a state socket: %s", got)
	}
	l2, err := listenControl(own)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if got := h.SocketPath(); got != own {
		t.Errorf("with both: %s, want the runtime one", got)
	}
	if fi, err := os.Stat(filepath.Dir(own)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("runtime socket dir: %v %v, want 0700", fi.Mode(), err)
	}
}

func TestListenRefusesForeignDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory of another user's")
	}
	dir := filepath.Join(t.TempDir(), "shardrive")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(filepath.Join(dir, "x.sock")); err == nil || !strings.Contains(err.Error(), "not a directory of this user's") {
		t.Fatalf("listen in another user's directory: %v", err)
	}
}

package service

import (
	"errors"
	"os"
	"path/filepath"
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

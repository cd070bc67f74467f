package farmer

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

func TestFarmerRoundTrip(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	data := testData(1, 3*merkle.LeafSize+123)
	root, err := c.put(data)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	for _, tc := range []struct {
		name   string
		off, n int64
	}{
		{"whole", 0, -1},
		{"first byte", 0, 1},
		{"across a leaf edge", merkle.LeafSize - 5, 10},
		{"tail", int64(len(data)) - 7, 7},
		{"from middle to end", 2*merkle.LeafSize + 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.get(root, tc.off, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.n
			if n < 0 {
				n = int64(len(data)) - tc.off
			}
			if !bytes.Equal(got, data[tc.off:tc.off+n]) {
				t.Fatalf("got %d bytes that differ from the shard", len(got))
			}
		})
	}
	// Stat, idempotent re-put, info.
	if _, _, err := c.do(http.MethodGet, shardURL(root)+"/stat", "", nil); err != nil {
		t.Fatalf("stat: %v", err)
	}
	if status, _, err := c.do(http.MethodPut, shardURL(root), "", data); err != nil || status != http.StatusOK {
		t.Fatalf("re-put: %d %v, want 200", status, err)
	}
	info := c.info()
	if info.NodeID != addr.ID || info.Account.Used != int64(len(data)) || info.Account.Shards != 1 || info.Used != int64(len(data)) {
		t.Fatalf("info = %+v", info)
	}
	// Range errors.
	for _, q := range []string{"offset=-1", "length=-2", "offset=x", "offset=1&offset=2", "bogus=1"} {
		if _, _, err := c.do(http.MethodGet, shardURL(root), q, nil); !errors.Is(err, format.ErrBadRequest) {
			t.Errorf("GET ?%s: %v, want ErrBadRequest", q, err)
		}
	}
	if _, _, err := c.do(http.MethodGet, shardURL(root), "offset=1000000", nil); !errors.Is(err, merkle.ErrRange) {
		t.Errorf("GET past the end: %v, want merkle.ErrRange", err)
	}
	// Delete, then everything is gone.
	if status, _, err := c.do(http.MethodDelete, shardURL(root), "", nil); err != nil || status != http.StatusNoContent {
		t.Fatalf("delete: %d %v", status, err)
	}
	if _, err := c.get(root, 0, -1); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, _, err := c.do(http.MethodDelete, shardURL(root), "", nil); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if info := c.info(); info.Account.Used != 0 || info.Account.Shards != 0 || info.Account.Egress == 0 {
		t.Fatalf("info after delete = %+v", info.Account)
	}
}

func TestFarmerEmptyShard(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	root, err := c.put(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.get(root, 0, -1)
	if err != nil || len(got) != 0 {
		t.Fatalf("get empty shard = %q, %v", got, err)
	}
}

func TestFarmerRoutes(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	root := merkle.RootOf([]byte("x"))
	for _, tc := range []struct {
		method, path string
		want         error
	}{
		{"GET", "/", format.ErrNotFound},
		{"GET", "/v2/info", format.ErrNotFound},
		{"POST", "/v1/info", format.ErrMethodNotAllowed},
		{"POST", shardURL(root), format.ErrMethodNotAllowed},
		{"PUT", shardURL(root) + "/stat", format.ErrMethodNotAllowed},
		{"GET", shardURL(root) + "/other", format.ErrNotFound},
		{"GET", "/v1/shards/ABCD", format.ErrBadRequest},
		{"GET", "/v1/shards/" + root.String() + "0", format.ErrBadRequest},
		{"GET", shardURL(root), format.ErrNotFound},
		{"GET", shardURL(root) + "/stat", format.ErrNotFound},
	} {
		if _, _, err := c.do(tc.method, tc.path, "", nil); !errors.Is(err, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.path, err, tc.want)
		}
	}
	// A GET with a body is refused.
	req := c.build("GET", "/v1/info", "", []byte("body"))
	if _, _, err := c.send(req); !errors.Is(err, format.ErrBadRequest) {
		t.Errorf("GET with body: %v", err)
	}
}

func TestFarmerIdentity(t *testing.T) {
	cfg := testConfig(t)
	f, _ := StartTest(t, cfg)
	id := f.ID()
	for path, want := range map[string]os.FileMode{cfg.Dir: 0o700, filepath.Join(cfg.Dir, identityFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", path, st.Mode().Perm(), want)
		}
	}
	if got, err := ReadIdentity(cfg.Dir); err != nil || got != id {
		t.Fatalf("ReadIdentity = %v, %v; want %v", got, err, id)
	}
	// A second farmer on the same directory is refused while the first runs.
	if _, err := New(cfg, nil); !errors.Is(err, errLocked) {
		t.Fatalf("second farmer on a locked directory: %v", err)
	}
	if _, err := ReadIdentity(t.TempDir()); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("ReadIdentity(empty dir) = %v", err)
	}
}

func TestFarmerIdentityRejects(t *testing.T) {
	good := append([]byte("SDID\x01"), bytes.Repeat([]byte{7}, 32)...)
	for _, tc := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"readable by others", good, 0o644},
		{"version 2", append([]byte("SDID\x02"), good[5:]...), 0o600},
		{"short", good[:20], 0o600},
		{"long", append(good, 0), 0o600},
		{"not an identity", []byte("hello"), 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, identityFile)
			if err := os.WriteFile(p, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadIdentity(dir); !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("ReadIdentity = %v, want ErrBadIdentity", err)
			}
			cfg := testConfig(t)
			cfg.Dir = dir
			if _, err := New(cfg, nil); !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("New = %v, want ErrBadIdentity", err)
			}
		})
	}
}

func TestFarmerRestartKeepsIdentityAndShards(t *testing.T) {
	cfg := testConfig(t)
	f1, addr1 := StartTest(t, cfg)
	key, _ := newAccount(t)
	c1 := newRawClient(t, f1, addr1, key)
	data := testData(2, 2*merkle.LeafSize+1)
	root, err := c1.put(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := f1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2, addr2 := StartTest(t, cfg)
	if f2.ID() != f1.ID() {
		t.Fatalf("identity changed across restart: %s -> %s", f1.ID(), f2.ID())
	}
	c2 := newRawClient(t, f2, addr2, key)
	got, err := c2.get(root, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get after restart: %v", err)
	}
	if info := c2.info(); info.Account.Used != int64(len(data)) || info.Account.Shards != 1 {
		t.Fatalf("usage after restart = %+v", info.Account)
	}
}

func TestFarmerRegion(t *testing.T) {
	cfg := testConfig(t)
	cfg.Region = "eu-west"
	f, addr := StartTest(t, cfg)
	key, _ := newAccount(t)
	if info := newRawClient(t, f, addr, key).info(); info.Region != "eu-west" {
		t.Fatalf("info region = %q", info.Region)
	}
	for _, bad := range []string{strings.Repeat("r", format.MaxRegionLen+1), "eu\x1bwest", "eu "} {
		cfg := testConfig(t)
		cfg.Region = bad
		if _, err := New(cfg, nil); !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, format.ErrBadRegion) {
			t.Errorf("New with region %q = %v, want ErrInvalidConfig wrapping ErrBadRegion", bad, err)
		}
	}
}

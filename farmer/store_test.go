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

// A shard whose bytes rot on disk is never served: the farmer checks the
// leaves it reads against the stored tree, refuses with ErrCorrupt, keeps
// refusing, and serves again once the owner uploads the shard again.
func TestFarmerCorruptShardOnDisk(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, treeLen int)
		// readOff is a read that must see the damage.
		readOff, readN int64
	}{
		{"flipped data byte", func(t *testing.T, p string, treeLen int) {
			flipByte(t, p, int64(shardHeaderSize+treeLen)+merkle.LeafSize+3)
		}, merkle.LeafSize, 10},
		{"flipped leaf hash", func(t *testing.T, p string, treeLen int) {
			flipByte(t, p, shardHeaderSize+int64(treeLen)-1)
		}, 0, 1},
		{"flipped header root", func(t *testing.T, p string, _ int) { flipByte(t, p, 20) }, 0, 1},
		{"truncated", func(t *testing.T, p string, _ int) {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()-1); err != nil {
				t.Fatal(err)
			}
		}, 0, 1},
		{"removed", func(t *testing.T, p string, _ int) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, addr := StartTest(t, testConfig(t))
			key, acct := newAccount(t)
			c := newRawClient(t, f, addr, key)
			data := testData(30, 3*merkle.LeafSize)
			root, err := c.put(data)
			if err != nil {
				t.Fatal(err)
			}
			tree, _ := merkle.Build(data).MarshalBinary()
			tc.damage(t, f.ShardPath(acct, root), len(tree))
			if _, err := c.get(root, tc.readOff, tc.readN); !errors.Is(err, format.ErrCorrupt) {
				t.Fatalf("read of damaged shard: %v, want ErrCorrupt", err)
			}
			// Marked: even reads of intact leaves are refused now.
			if _, err := c.get(root, 2*merkle.LeafSize, 1); !errors.Is(err, format.ErrCorrupt) {
				t.Fatalf("second read: %v, want ErrCorrupt", err)
			}
			_, b, err := c.do(http.MethodGet, shardURL(root)+"/stat", "", nil)
			if err != nil || !strings.Contains(string(b), `"corrupt":true`) {
				t.Fatalf("stat = %s, %v; want corrupt", b, err)
			}
			// The owner repairs it by uploading it again.
			if status, _, err := c.do(http.MethodPut, shardURL(root), "", data); err != nil || status != http.StatusCreated {
				t.Fatalf("re-upload: %d %v", status, err)
			}
			if got, err := c.get(root, 0, -1); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read after repair: %v", err)
			}
			if info := c.info(); info.Account.Used != int64(len(data)) || info.Account.Shards != 1 {
				t.Fatalf("usage after repair = %+v", info.Account)
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := []byte{0}
	if _, err := fh.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := fh.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Start-up reconciliation: the files are the truth.
func TestFarmerReconcile(t *testing.T) {
	cfg := testConfig(t)
	f1, addr := StartTest(t, cfg)
	key, acct := newAccount(t)
	c := newRawClient(t, f1, addr, key)
	kept := testData(40, merkle.LeafSize+1)
	lost := testData(41, 2*merkle.LeafSize)
	keptRoot, err := c.put(kept)
	if err != nil {
		t.Fatal(err)
	}
	lostRoot, err := c.put(lost)
	if err != nil {
		t.Fatal(err)
	}
	if err := f1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(cfg.Dir, shardsDir)
	// A file lost while the farmer was down.
	if err := os.Remove(f1.ShardPath(acct, lostRoot)); err != nil {
		t.Fatal(err)
	}
	// A crash between rename and commit: the file of another account,
	// unknown to the index.
	key2, acct2 := newAccount(t)
	orphanPath := f1.store.path(acct2, keptRoot)
	if err := os.MkdirAll(filepath.Dir(orphanPath), 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, f1.ShardPath(acct, keptRoot), orphanPath)
	// An interrupted upload and some junk.
	tmp := filepath.Join(filepath.Dir(orphanPath), tempPrefix+"123")
	junk := filepath.Join(shards, "not-an-account")
	badName := filepath.Join(filepath.Dir(orphanPath), "zz")
	corruptHdr := f1.store.path(acct2, lostRoot)
	for _, p := range []string{tmp, junk, badName} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(corruptHdr), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corruptHdr, []byte("SDSF\x09 not a shard file"), 0o600); err != nil {
		t.Fatal(err)
	}

	f2, addr2 := StartTest(t, cfg)
	c1 := newRawClient(t, f2, addr2, key)
	c2 := newRawClient(t, f2, addr2, key2)
	if _, err := c1.get(lostRoot, 0, -1); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("lost shard: %v, want not found", err)
	}
	if got, err := c1.get(keptRoot, 0, -1); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("kept shard: %v", err)
	}
	if got, err := c2.get(keptRoot, 0, -1); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("orphan file not indexed: %v", err)
	}
	if info := c1.info(); info.Account.Shards != 1 || info.Account.Used != int64(len(kept)) || info.Used != 2*int64(len(kept)) {
		t.Fatalf("usage after reconcile = %+v", info)
	}
	for _, p := range []string{tmp, junk, badName, corruptHdr} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still in the shard store: %v", p, err)
		}
	}
	moved, _ := filepath.Glob(filepath.Join(cfg.Dir, lostFoundDir, "*"))
	if len(moved) != 3 {
		t.Errorf("lost+found holds %v, want 3 entries", moved)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFarmerShardHeader(t *testing.T) {
	h := shardHeader{size: 12345, root: merkle.Root{1, 2, 3}, treeLen: 77}
	got, err := parseShardHeader(encodeShardHeader(h))
	if err != nil || got != h {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	good := encodeShardHeader(h)
	for name, mut := range map[string]func([]byte){
		"magic":     func(b []byte) { b[0] = 'X' },
		"version":   func(b []byte) { b[4] = 2 },
		"reserved":  func(b []byte) { b[7] = 1 },
		"huge size": func(b []byte) { b[8] = 0x80 },
		"tree zero": func(b []byte) { copy(b[48:], []byte{0, 0, 0, 0}) },
		"tree huge": func(b []byte) { copy(b[48:], []byte{0xff, 0, 0, 0}) },
	} {
		b := bytes.Clone(good)
		mut(b)
		if _, err := parseShardHeader(b); !errors.Is(err, errCorruptFile) {
			t.Errorf("%s: %v, want errCorruptFile", name, err)
		}
	}
	if _, err := parseShardHeader(good[:51]); !errors.Is(err, errCorruptFile) {
		t.Errorf("short header accepted")
	}
}

package drive

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

var ctx = context.Background()

// testDrive is a whole client stack over in-process farmers on loopback.
type testDrive struct {
	*Drive
	db    *cache.DB
	keys  *crypto.Keys
	addrs []format.Address
}

// newTestDrive makes a k+m drive with 256 KiB blocks over the farmers at
// addrs.
func newTestDrive(t *testing.T, k, m int, addrs []format.Address) *testDrive {
	t.Helper()
	td := NewTestOn(t, k, m, addrs)
	return &testDrive{Drive: td.Drive, db: td.DB, keys: td.Keys, addrs: addrs}
}

func startFarmers(t *testing.T, n int) ([]*farmer.Farmer, []format.Address) {
	t.Helper()
	var fs []*farmer.Farmer
	var as []format.Address
	for range n {
		f, a := farmer.StartTest(t, farmer.Config{})
		fs = append(fs, f)
		as = append(as, a)
	}
	return fs, as
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// memFile is an io.WriterAt that grows as needed.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (d *testDrive) get(t *testing.T, p string) ([]byte, error) {
	t.Helper()
	in, err := d.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	m := &memFile{b: make([]byte, in.Size)}
	_, err = d.Get(ctx, p, m)
	return m.b, err
}

func (d *testDrive) put(t *testing.T, p string, b []byte) cache.Inode {
	t.Helper()
	in, err := d.Put(ctx, p, bytes.NewReader(b), PutAttr{})
	if err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
	return in
}

func TestPutGetRoundTrip(t *testing.T) {
	_, addrs := startFarmers(t, 6)
	d := newTestDrive(t, 4, 2, addrs)
	bs := d.Settings().BlockSize
	sparse := make([]byte, 3*bs+17) // a hole in the middle block
	copy(sparse, randomBytes(bs))
	copy(sparse[2*bs:], randomBytes(bs+17))
	for name, b := range map[string][]byte{
		"/empty":         {},
		"/one":           {1},
		"/exact":         randomBytes(bs),
		"/a/b/c/several": randomBytes(5*bs + 3),
		"/sparse":        sparse,
		"/zeros":         make([]byte, 2*bs),
	} {
		d.put(t, name, b)
		got, err := d.get(t, name)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s: read back %d bytes (%v), stored %d", name, len(got), err, len(b))
		}
	}
	// Holes cost nothing on the farmers.
	d.db.View(ctx, func(tx *cache.Tx) error {
		for p, want := range map[string]int{"/sparse": 3, "/zeros": 0} {
			in, _ := tx.LookupPath(p)
			bl, _ := tx.Blocks(in.Ino)
			if len(bl) != want {
				t.Errorf("%s: %d blocks stored, want %d", p, len(bl), want)
			}
		}
		return nil
	})
}

func TestOverwriteGarbageCollectsOldShards(t *testing.T) {
	_, addrs := startFarmers(t, 6)
	d := newTestDrive(t, 4, 2, addrs)
	bs := d.Settings().BlockSize
	old := d.put(t, "/f", randomBytes(3*bs))
	oldBlocks := blocksOf(t, d, old.Ino)
	want := randomBytes(bs + 5)
	d.put(t, "/f", want)
	if got, err := d.get(t, "/f"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after overwrite: %v", err)
	}
	if err := d.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	d.db.View(ctx, func(tx *cache.Tx) error {
		if n, _ := tx.GarbageCount(); n != 0 {
			t.Errorf("%d shards still queued for deletion with every farmer up", n)
		}
		return nil
	})
	// The old shards are gone from the farmers.
	for _, b := range oldBlocks {
		for _, s := range b.Shards {
			id, _ := format.ParseNodeID(s.NodeID)
			c := netclient.NewFarmerClient(addrOf(addrs, id), d.keys.AccountKey(id.PublicKey()), netclient.NewFarmerConfig())
			if _, err := c.GetShard(ctx, s.Root, 0, -1); !errors.Is(err, format.ErrNotFound) {
				t.Errorf("old shard %s still on %s: %v", s.Root, s.NodeID, err)
			}
			c.Close()
		}
	}
}

func addrOf(addrs []format.Address, id format.NodeID) format.Address {
	for _, a := range addrs {
		if a.ID == id {
			return a
		}
	}
	return format.Address{}
}

func blocksOf(t *testing.T, d *testDrive, ino int64) (bl []cache.Block) {
	t.Helper()
	if err := d.db.View(ctx, func(tx *cache.Tx) (err error) { bl, err = tx.Blocks(ino); return err }); err != nil {
		t.Fatal(err)
	}
	return bl
}

// failingReader fails after n bytes, like a disk error in the middle of a put.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestFailedPutKeepsOldContentAndLeavesNoOrphans(t *testing.T) {
	_, addrs := startFarmers(t, 6)
	d := newTestDrive(t, 4, 2, addrs)
	bs := d.Settings().BlockSize
	want := randomBytes(2 * bs)
	d.put(t, "/f", want)
	_, err := d.Put(ctx, "/f", &failingReader{r: bytes.NewReader(randomBytes(40 * bs)), n: 30 * bs}, PutAttr{})
	if err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	if got, err := d.get(t, "/f"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("old content after a failed put: %v", err)
	}
	// What the failed put placed is queued for deletion: once collected, the
	// farmers hold exactly the shards of the committed file.
	if err := d.CollectGarbage(ctx); err != nil {
		t.Fatal(err)
	}
	held := int64(0)
	for _, a := range addrs {
		c := netclient.NewFarmerClient(a, d.keys.AccountKey(a.ID.PublicKey()), netclient.NewFarmerConfig())
		info, err := c.Info(ctx)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		held += info.Account.Shards
	}
	if want := int64(2 * 6); held != want {
		t.Fatalf("farmers hold %d shards after the failed put was cleaned up, want %d (2 blocks x 6)", held, want)
	}
}

func TestTooFewFarmersFailsCleanly(t *testing.T) {
	fs, addrs := startFarmers(t, 6)
	d := newTestDrive(t, 4, 2, addrs)
	for _, f := range fs[:2] {
		f.Shutdown(ctx)
	}
	// k+1 = 5 distinct farmers are needed to commit; 4 are up.
	if _, err := d.Put(ctx, "/f", bytes.NewReader(randomBytes(64<<10)), PutAttr{}); !errors.Is(err, syncer.ErrUnavailable) {
		t.Fatalf("put with 4 of 6 farmers: %v, want ErrUnavailable", err)
	}
	if _, err := d.Stat(ctx, "/f"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("a failed put left a file: %v", err)
	}
}

// TestMetadataSwapsAreCaught plays an attacker who rewires the metadata so
// that valid shards of one block are presented as another: the shards pass
// their Merkle checks, and the GCM associated data must refuse them.
func TestMetadataSwapsAreCaught(t *testing.T) {
	_, addrs := startFarmers(t, 6)
	d := newTestDrive(t, 4, 2, addrs)
	bs := d.Settings().BlockSize
	a := d.put(t, "/a", randomBytes(3*bs))
	b := d.put(t, "/b", randomBytes(3*bs))
	aBlocks := blocksOf(t, d, a.Ino)
	bBlocks := blocksOf(t, d, b.Ino)
	// New versions; the old shards wait as garbage. (Restoring an old block
	// record whole, version included, is a rollback of the local metadata,
	// which this machine trusts; the backed-up root guards that later.)
	d.put(t, "/a", randomBytes(3*bs))
	cur := blocksOf(t, d, a.Ino)

	for _, tc := range []struct {
		name string
		blk  cache.Block
	}{
		{"block of the same file at another index", moved(aBlocks[0], a.Ino, 1, cur[1].Version)},
		{"block of another file", moved(bBlocks[1], a.Ino, 1, cur[1].Version)},
		{"old shards under the current version", moved(aBlocks[1], a.Ino, 1, cur[1].Version)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.db.Update(ctx, func(tx *cache.Tx) error { return tx.PutBlock(tc.blk) }); err != nil {
				t.Fatal(err)
			}
			if _, err := d.get(t, "/a"); !errors.Is(err, syncer.ErrDamaged) {
				t.Fatalf("get: %v, want ErrDamaged", err)
			}
		})
	}
}

// moved returns blk presented as block idx of inode ino at version v.
func moved(blk cache.Block, ino, idx int64, v uint64) cache.Block {
	blk.Ino, blk.Index, blk.Version = ino, idx, v
	return blk
}

package drive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/syncer"
)

// newUploader returns the background uploader of td, quiet period zero.
func newUploader(t *testing.T, td *TestDrive) *syncer.Uploader {
	t.Helper()
	cfg := syncer.NewUploaderConfig()
	cfg.Quiet = 0
	u, err := syncer.NewUploader(ctx, td.DB, td.Files, td.Blocks, td.Keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u.BeforeSync = td.FlushAll
	return u
}

// dropLocalCache forgets every clean cached block, as `cache clear` does,
// so the next reads come from the farmers.
func dropLocalCache(t *testing.T, td *TestDrive) {
	t.Helper()
	if err := td.DB.Update(ctx, func(tx *cache.Tx) error {
		n, err := tx.DirtyCount()
		if n > 0 {
			t.Fatalf("%d dirty blocks left", n)
		}
		if err != nil {
			return err
		}
		for ino := int64(1); ino < 1000; ino++ {
			if err := tx.DropCached(ino, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(td.CacheDir)
	os.MkdirAll(td.CacheDir, 0o700)
}

func writeFile(t *testing.T, d *Drive, parent uint64, name string, chunks ...[]byte) Attr {
	t.Helper()
	a, h, err := d.Create(ctx, parent, name, 0o644, 0, 0, OpenFlags{Write: true, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, c := range chunks {
		if _, err := h.Write(ctx, off, c); err != nil {
			t.Fatal(err)
		}
		off += int64(len(c))
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

func readFile(t *testing.T, d *Drive, ino uint64) []byte {
	t.Helper()
	a, err := d.GetAttr(ctx, ino)
	if err != nil {
		t.Fatal(err)
	}
	h, err := d.Open(ctx, ino, OpenFlags{Read: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	buf := make([]byte, a.Size+10)
	n, err := h.Read(ctx, 0, buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func TestWriteUploadClearReadBack(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	bs := td.Settings().BlockSize
	big := randomBytes(3*bs + 1234)
	small := []byte("a small file lives in the metadata")
	aBig := writeFile(t, td.Drive, RootIno, "big", big[:1000], big[1000:])
	aSmall := writeFile(t, td.Drive, RootIno, "small", small)
	for _, ino := range []uint64{aBig.Ino, aSmall.Ino} {
		if st, _ := td.Status(ctx, ino); st != StatusLocal {
			t.Errorf("inode %d before upload: status %q, want %q", ino, st, StatusLocal)
		}
	}
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ino := range []uint64{aBig.Ino, aSmall.Ino} {
		if st, _ := td.Status(ctx, ino); st != StatusStored {
			t.Errorf("inode %d after sync: status %q, want %q", ino, st, StatusStored)
		}
	}
	td.DB.View(ctx, func(tx *cache.Tx) error {
		bl, _ := tx.Blocks(int64(aBig.Ino))
		sm, _ := tx.Blocks(int64(aSmall.Ino))
		in, _ := tx.Inode(int64(aSmall.Ino))
		if len(bl) != 4 || len(sm) != 0 || !bytes.Equal(in.Inline, small) {
			t.Errorf("stored: big %d blocks (want 4), small %d blocks (want 0), inline %q", len(bl), len(sm), in.Inline)
		}
		return nil
	})
	dropLocalCache(t, td)
	if got := readFile(t, td.Drive, aBig.Ino); !bytes.Equal(got, big) {
		t.Fatal("big file read back from the farmers differs")
	}
	if got := readFile(t, td.Drive, aSmall.Ino); !bytes.Equal(got, small) {
		t.Fatalf("small file read back = %q", got)
	}
	// Two farmers gone, cache cleared: still readable.
	dropLocalCache(t, td)
	td.Farmers[0].Shutdown(ctx)
	td.Farmers[3].Shutdown(ctx)
	if got := readFile(t, td.Drive, aBig.Ino); !bytes.Equal(got, big) {
		t.Fatal("big file with two farmers down differs")
	}
}

func TestPartialOverwriteOnlyReuploadsChangedBlocks(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	bs := td.Settings().BlockSize
	data := randomBytes(4 * bs)
	a := writeFile(t, td.Drive, RootIno, "f", data)
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before := blocksOf(t, &testDrive{Drive: td.Drive, db: td.DB}, int64(a.Ino))
	dropLocalCache(t, td)
	// Overwrite 10 bytes inside block 2: the block is fetched, patched and
	// stored again; the others keep their versions.
	h, err := td.Open(ctx, a.Ino, OpenFlags{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte("0123456789")
	if _, err := h.Write(ctx, int64(2*bs+100), patch); err != nil {
		t.Fatal(err)
	}
	h.Release(ctx)
	copy(data[2*bs+100:], patch)
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	after := blocksOf(t, &testDrive{Drive: td.Drive, db: td.DB}, int64(a.Ino))
	for i := range after {
		if changed := after[i].Version != before[i].Version; changed != (i == 2) {
			t.Errorf("block %d: version %d -> %d", i, before[i].Version, after[i].Version)
		}
	}
	dropLocalCache(t, td)
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, data) {
		t.Fatal("patched file differs after the round trip")
	}
}

func TestTruncateAppendSparse(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	bs := int64(td.Settings().BlockSize)
	data := randomBytes(int(3 * bs))
	a := writeFile(t, td.Drive, RootIno, "f", data)
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	dropLocalCache(t, td)
	size := bs + 77
	if _, err := td.SetAttr(ctx, a.Ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	grow := 2*bs + 5
	if _, err := td.SetAttr(ctx, a.Ino, SetAttr{Size: &grow}); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(data[:size]), make([]byte, grow-size)...)
	h, err := td.Open(ctx, a.Ino, OpenFlags{Write: true, Append: true})
	if err != nil {
		t.Fatal(err)
	}
	h.Write(ctx, 0, []byte("tail"))
	h.Release(ctx)
	want = append(want, "tail"...)
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, want) {
		t.Fatal("before upload: content differs")
	}
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	dropLocalCache(t, td)
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, want) {
		t.Fatal("after upload: content differs")
	}
}

func TestNamespaceOps(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	d := td.Drive
	dir, err := d.Mkdir(ctx, RootIno, "dir", 0o755, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, d, dir.Ino, "f", []byte("x"))
	if _, err := d.Link(ctx, f.Ino, RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	if a, _ := d.GetAttr(ctx, f.Ino); a.Nlink != 2 {
		t.Errorf("nlink %d, want 2", a.Nlink)
	}
	for _, tc := range []struct {
		name string
		err  error
		fn   func() error
	}{
		{"rmdir non-empty", ErrNotEmpty, func() error { return d.Rmdir(ctx, RootCaller, RootIno, "dir") }},
		{"unlink a dir", ErrIsDir, func() error { return d.Unlink(ctx, RootCaller, RootIno, "dir") }},
		{"rmdir a file", ErrNotDir, func() error { return d.Rmdir(ctx, RootCaller, RootIno, "hard") }},
		{"long name", ErrNameTooLong, func() error {
			_, err := d.Mkdir(ctx, RootIno, string(bytes.Repeat([]byte("x"), 256)), 0o755, 0, 0)
			return err
		}},
		{"dir into itself", ErrInvalid, func() error {
			sub, _ := d.Mkdir(ctx, dir.Ino, "sub", 0o755, 0, 0)
			return d.Rename(ctx, RootCaller, RootIno, "dir", sub.Ino, "x", RenameFlags{})
		}},
		{"no replace", ErrExists, func() error {
			return d.Rename(ctx, RootCaller, RootIno, "hard", dir.Ino, "f", RenameFlags{NoReplace: true})
		}},
		{"file over dir", ErrIsDir, func() error { return d.Rename(ctx, RootCaller, RootIno, "hard", RootIno, "dir", RenameFlags{}) }},
		{"xattr outside user.", ErrNotSupported, func() error { return d.SetXattr(ctx, f.Ino, "trusted.x", nil, XattrFlags{}) }},
	} {
		if err := tc.fn(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	// Unlink an open file: its data stays readable until close.
	h, err := d.Open(ctx, f.Ino, OpenFlags{Read: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Unlink(ctx, RootCaller, dir.Ino, "f")
	d.Unlink(ctx, RootCaller, RootIno, "hard")
	buf := make([]byte, 4)
	if n, err := h.Read(ctx, 0, buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read of an unlinked open file: %q %v", buf[:n], err)
	}
	h.Release(ctx)
	if _, err := d.GetAttr(ctx, f.Ino); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inode after last close: %v", err)
	}
	// xattrs
	if err := d.SetXattr(ctx, dir.Ino, "user.k", []byte("v"), XattrFlags{Create: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetXattr(ctx, dir.Ino, "user.k", []byte("v"), XattrFlags{Create: true}); !errors.Is(err, ErrExists) {
		t.Errorf("create over existing xattr: %v", err)
	}
	if v, err := d.GetXattr(ctx, dir.Ino, "user.k"); err != nil || string(v) != "v" {
		t.Errorf("getxattr = %q, %v", v, err)
	}
	// Exchange.
	g := writeFile(t, d, RootIno, "g", []byte("g"))
	if err := d.Rename(ctx, RootCaller, RootIno, "g", RootIno, "dir", RenameFlags{Exchange: true}); err != nil {
		t.Fatal(err)
	}
	if a, _ := d.Lookup(ctx, RootIno, "dir"); a.Ino != g.Ino {
		t.Error("exchange did not swap")
	}
}

func TestCacheClearLimitAndPins(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	bs := td.Settings().BlockSize
	dir, err := td.Mkdir(ctx, RootIno, "photos", 0o755, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pinned := randomBytes(2 * bs)
	loose := randomBytes(3 * bs)
	a := writeFile(t, td.Drive, dir.Ino, "pinned", pinned)
	b := writeFile(t, td.Drive, RootIno, "loose", loose)
	// Dirty blocks survive a clear.
	dropped, kept, err := td.ClearCache(ctx)
	if err != nil || dropped != 0 || kept != 5 {
		t.Fatalf("clear before upload: dropped %d kept %d (%v), want 0 and 5", dropped, kept, err)
	}
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if dropped, kept, err = td.ClearCache(ctx); err != nil || dropped != 5 || kept != 0 {
		t.Fatalf("clear after upload: dropped %d kept %d (%v), want 5 and 0", dropped, kept, err)
	}
	if err := td.Pin(ctx, "/photos"); err != nil {
		t.Fatal(err)
	}
	readFile(t, td.Drive, b.Ino) // caches the loose file's 3 blocks
	if err := td.EnforceCacheLimit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	td.DB.View(ctx, func(tx *cache.Tx) error {
		pa, _ := tx.CachedBlocks(int64(a.Ino))
		lo, _ := tx.CachedBlocks(int64(b.Ino))
		if len(pa) != 2 || len(lo) != 0 {
			t.Errorf("after eviction to 0: pinned file holds %d blocks (want 2), loose %d (want 0)", len(pa), len(lo))
		}
		return nil
	})
	// Pinned data reads with every farmer gone.
	for _, f := range td.Farmers {
		f.Shutdown(ctx)
	}
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, pinned) {
		t.Fatal("pinned file unreadable offline")
	}
}

func TestMissingCacheFileFallsBackToFarmers(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	data := randomBytes(3 * td.Settings().BlockSize)
	a := writeFile(t, td.Drive, RootIno, "f", data)
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	readFile(t, td.Drive, a.Ino) // cached
	os.RemoveAll(td.CacheDir)    // the user deletes the cache by hand
	os.MkdirAll(td.CacheDir, 0o700)
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, data) {
		t.Fatal("read after the cache files vanished differs (zeros served?)")
	}
}

// TestConcurrentHandles runs readers (with read-ahead), writers, truncates
// and opens on one file at once, as a mount sees them. It fails if they
// deadlock (a watchdog far beyond any normal run) or race (-race).
func TestConcurrentHandles(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	bs := td.Settings().BlockSize
	a := writeFile(t, td.Drive, RootIno, "f", randomBytes(6*bs))
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := td.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					h, err := td.Open(ctx, a.Ino, OpenFlags{Read: true, Write: true})
					if err != nil {
						t.Error(err)
						return
					}
					buf := make([]byte, 64<<10)
					for off := int64(0); off < int64(6*bs); off += int64(len(buf)) {
						if _, err := h.Read(ctx, off, buf); err != nil {
							t.Error(err)
						}
					}
					switch (w + i) % 3 {
					case 0:
						h.Write(ctx, int64(i*1000), []byte("concurrent"))
					case 1:
						size := int64(5*bs + i)
						td.SetAttr(ctx, a.Ino, SetAttr{Size: &size})
					default:
						td.GetAttr(ctx, a.Ino)
					}
					h.Flush(ctx)
					h.Release(ctx)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("concurrent handles deadlocked")
	}
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMtimeOfOpenFileReachesMetadataOnFlush(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	a, h, err := td.Create(ctx, RootIno, "f", 0o644, 0, 0, OpenFlags{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1234567890, 123456789)
	if got, err := td.SetAttr(ctx, a.Ino, SetAttr{Mtime: &mt}); err != nil || !got.Mtime.Equal(mt) {
		t.Fatalf("SetAttr = %v, %v", got.Mtime, err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	td.DB.View(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(a.Ino))
		if err != nil || !in.Mtime.Equal(mt) {
			t.Errorf("mtime in the metadata after close = %v, %v; want %v", in.Mtime, err, mt)
		}
		return nil
	})
}

// TestBytesPastTheEndAreTrimmed: a crash between a truncate's metadata
// commit and the local data file's own truncate leaves bytes past the end;
// growing the file later must show zeros there, not those bytes.
func TestBytesPastTheEndAreTrimmed(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	// Larger than the drive keeps in memory: it has a local data file.
	size := int64(NewConfig().InlineMax) + 4000
	data := randomBytes(int(size))
	a := writeFile(t, td.Drive, RootIno, "f", data)
	// What the crash left: the data file longer than the file.
	fd, err := os.OpenFile(filepath.Join(td.CacheDir, strconv.FormatUint(a.Ino, 10)), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fd.WriteAt(bytes.Repeat([]byte{0xAB}, 500), size); err != nil {
		t.Fatal(err)
	}
	fd.Close()
	grow := 2 * size
	if _, err := td.SetAttr(ctx, a.Ino, SetAttr{Size: &grow}); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(data), make([]byte, size)...)
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, want) {
		t.Fatalf("grown file shows bytes left past its old end (first difference at %d)", firstDiffAt(got, want))
	}
}

func firstDiffAt(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

package drive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/syncer"
)

// limitedDrive is a 4+2 drive over six farmers whose local cache holds
// blocks blocks, and writes that find it full give up after stall without
// upload progress.
func limitedDrive(t *testing.T, blocks int64, stall time.Duration) *TestDrive {
	t.Helper()
	td := NewTest(t, 4, 2, 6)
	cfg := NewConfig()
	cfg.CacheMaxSize = blocks * int64(td.Settings().BlockSize)
	cfg.UploadStall = stall
	td.Reopen(t, cfg)
	return td
}

// backgroundUploader returns an uploader of td that the drive may urge.
// Its quiet period and interval are an hour, so only Urge starts a round;
// with run false it never runs at all.
func backgroundUploader(t *testing.T, td *TestDrive, run bool) *syncer.Uploader {
	t.Helper()
	cfg := syncer.NewUploaderConfig()
	cfg.Quiet, cfg.Interval = time.Hour, time.Hour
	u, err := syncer.NewUploader(ctx, td.DB, td.Files, td.Blocks, td.Keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u.BeforeSync = td.FlushAll
	if run {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { u.Run(rctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	td.SetUploads(u)
	return u
}

// checkCount fails unless the drive's running count of cached blocks is
// what the metadata lists.
func checkCount(t *testing.T, td *TestDrive, when string) {
	t.Helper()
	var total int
	if err := td.DB.View(ctx, func(tx *cache.Tx) (err error) {
		total, _, err = tx.CachedCount()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := td.CacheUsage().Bytes, int64(total)*int64(td.Settings().BlockSize); got != want {
		t.Errorf("%s: running count %d bytes, metadata lists %d", when, got, want)
	}
}

func cachedBlocks(t *testing.T, td *TestDrive, ino uint64) int {
	t.Helper()
	var c []cache.CachedBlock
	if err := td.DB.View(ctx, func(tx *cache.Tx) (err error) {
		c, err = tx.CachedBlocks(int64(ino))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return len(c)
}

// A file three times the cache limit is written in one go by one handle:
// the writer's own file is the only dirty one, and it must wait for its
// own blocks to upload (the uploader runs only when urged) without
// deadlocking on the file's lock.
func TestCacheLimitWriteWaitsForUploads(t *testing.T) {
	const limit = 4
	td := limitedDrive(t, limit, time.Minute)
	backgroundUploader(t, td, true)
	bs := td.Settings().BlockSize
	data := randomBytes(3 * limit * bs)
	a, h, err := td.Create(ctx, RootIno, "big", 0o644, 0, 0, OpenFlags{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	chunk := 3 * bs / 4 // unaligned: blocks uploaded half written are fetched back to finish
	for off := 0; off < len(data); off += chunk {
		if _, err := h.Write(ctx, int64(off), data[off:min(off+chunk, len(data))]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		if u := td.CacheUsage(); u.Bytes > u.MaxBytes {
			t.Fatalf("after the write at %d the cache holds %d bytes, limit %d", off, u.Bytes, u.MaxBytes)
		}
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	u := td.CacheUsage()
	if u.MaxBytes != limit*int64(bs) || u.PeakBytes > u.MaxBytes {
		t.Errorf("cache peaked at %d bytes, limit %d (want %d)", u.PeakBytes, u.MaxBytes, limit*bs)
	}
	checkCount(t, td, "after the write")
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	checkCount(t, td, "after the read")
}

// With uploads impossible, a write that needs room fails with ErrNoSpace
// (ENOSPC at the mount) once the wait runs out, and what was written
// before stays readable.
func TestCacheLimitFullWithoutUploadsIsENOSPC(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  bool // the uploader runs (and finds every farmer gone)
	}{
		{"farmers stopped", true},
		{"uploads stalled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 4
			td := limitedDrive(t, limit, time.Second)
			backgroundUploader(t, td, tc.run)
			if tc.run {
				for _, f := range td.Farmers {
					f.Shutdown(ctx)
				}
			}
			bs := td.Settings().BlockSize
			data := randomBytes((limit + 1) * bs)
			a, h, err := td.Create(ctx, RootIno, "f", 0o644, 0, 0, OpenFlags{Write: true})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release(ctx)
			for i := range limit {
				if _, err := h.Write(ctx, int64(i*bs), data[i*bs:(i+1)*bs]); err != nil {
					t.Fatalf("block %d, within the limit: %v", i, err)
				}
			}
			_, err = h.Write(ctx, int64(limit*bs), data[limit*bs:])
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("write past a cache full of dirty blocks: %v, want ErrNoSpace", err)
			}
			t.Log(err)
			// Overwriting cached blocks needs no room: no wait, no error.
			if _, err := h.Write(ctx, 10, data[10:2*bs]); err != nil {
				t.Fatalf("overwrite of cached blocks: %v", err)
			}
			buf := make([]byte, limit*bs)
			if n, err := h.Read(ctx, 0, buf); err != nil || !bytes.Equal(buf[:n], data[:limit*bs]) {
				t.Fatalf("data written before the failure: %d bytes read (%v), differ", n, err)
			}
			if u := td.CacheUsage(); u.PeakBytes > u.MaxBytes || u.Waiting != 0 {
				t.Errorf("cache peaked at %d bytes (limit %d), %d writers still waiting", u.PeakBytes, u.MaxBytes, u.Waiting)
			}
			checkCount(t, td, "after the failure")
			if got := cachedBlocks(t, td, a.Ino); got != limit {
				t.Errorf("%d blocks cached, want %d", got, limit)
			}
		})
	}
}

// Writes evict clean blocks least recently used first (reads count as
// use), never pinned or dirty ones.
func TestCacheLimitEvictsLRUAtWriteTime(t *testing.T) {
	const limit = 4
	td := limitedDrive(t, limit, time.Minute)
	bs := td.Settings().BlockSize
	dir, err := td.Mkdir(ctx, RootIno, "keep", 0o755, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, td.Drive, dir.Ino, "p", randomBytes(bs))
	a := writeFile(t, td.Drive, RootIno, "a", randomBytes(bs))
	b := writeFile(t, td.Drive, RootIno, "b", randomBytes(bs))
	c := writeFile(t, td.Drive, RootIno, "c", randomBytes(bs))
	if err := newUploader(t, td).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := td.Pin(ctx, "/keep"); err != nil {
		t.Fatal(err)
	}
	// Uploaded in the order p, a, b, c; read since in the order a, c, b.
	// p, uploaded first, is the least recently used of all.
	for _, f := range []Attr{a, c, b} {
		readFile(t, td.Drive, f.Ino)
	}
	_, h, err := td.Create(ctx, RootIno, "w", 0o644, 0, 0, OpenFlags{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	for i, want := range []map[string]int{
		{"p": 1, "a": 0, "b": 1, "c": 1},
		{"p": 1, "a": 0, "b": 1, "c": 0},
		{"p": 1, "a": 0, "b": 0, "c": 0},
	} {
		if _, err := h.Write(ctx, int64(i*bs), randomBytes(bs)); err != nil {
			t.Fatalf("write block %d: %v", i, err)
		}
		for name, f := range map[string]Attr{"p": p, "a": a, "b": b, "c": c} {
			if got := cachedBlocks(t, td, f.Ino); got != want[name] {
				t.Errorf("after writing block %d: %s has %d blocks cached, want %d", i, name, got, want[name])
			}
		}
	}
	// Only the pinned block and dirty ones are left, and no uploader runs.
	if _, err := h.Write(ctx, int64(3*bs), randomBytes(bs)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("write with only pinned and dirty blocks cached, no uploader: %v, want ErrNoSpace", err)
	}
	if cachedBlocks(t, td, p.Ino) != 1 {
		t.Error("the pinned block was evicted")
	}
	checkCount(t, td, "after eviction")
}

// The running count follows every way blocks leave the cache, and a
// restart finds it again in the metadata.
func TestCacheCountAcrossOperations(t *testing.T) {
	td := limitedDrive(t, 64, time.Minute)
	bs := td.Settings().BlockSize
	u := newUploader(t, td)
	f := writeFile(t, td.Drive, RootIno, "f", randomBytes(5*bs))
	writeFile(t, td.Drive, RootIno, "g", randomBytes(3*bs))
	writeFile(t, td.Drive, RootIno, "h", randomBytes(2*bs))
	checkCount(t, td, "after writes")
	size := int64(2*bs + 100)
	if _, err := td.SetAttr(ctx, f.Ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after truncate")
	if err := td.Unlink(ctx, RootCaller, RootIno, "g"); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after unlink")
	if err := td.Rename(ctx, RootCaller, RootIno, "h", RootIno, "f", RenameFlags{}); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after rename over a file")
	// Unlinked while open: its blocks go at the last close.
	writeFile(t, td.Drive, RootIno, "o", randomBytes(2*bs))
	o, err := td.Lookup(ctx, RootIno, "o")
	if err != nil {
		t.Fatal(err)
	}
	oh, err := td.Open(ctx, o.Ino, OpenFlags{Read: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := td.Unlink(ctx, RootCaller, RootIno, "o"); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after unlink of an open file")
	if err := oh.Release(ctx); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after its last close")
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := td.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after clear")
	f, err = td.Lookup(ctx, RootIno, "f") // h, renamed over f
	if err != nil {
		t.Fatal(err)
	}
	readFile(t, td.Drive, f.Ino)
	checkCount(t, td, "after a read from the farmers")
	if _, err := td.Put(ctx, "/f", bytes.NewReader(randomBytes(bs)), PutAttr{}); err != nil {
		t.Fatal(err)
	}
	checkCount(t, td, "after a put over a cached file")
	writeFile(t, td.Drive, RootIno, "k", randomBytes(4*bs))
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A restart with a smaller limit finds the count in the metadata and
	// evicts down to the limit at once.
	cfg := NewConfig()
	cfg.CacheMaxSize = 2 * int64(bs)
	td.Reopen(t, cfg)
	checkCount(t, td, "after a restart")
	if u := td.CacheUsage(); u.Bytes > u.MaxBytes {
		t.Errorf("after a restart with a smaller limit the cache holds %d bytes, limit %d", u.Bytes, u.MaxBytes)
	}
}

// Writers of several files and a reader share a small cache: writers wait
// for each other's uploads, the reader's fetches evict what is clean, and
// none of them deadlocks or loses a byte.
func TestCacheLimitConcurrentWritersAndReader(t *testing.T) {
	const limit = 4
	td := limitedDrive(t, limit, time.Minute)
	bs := td.Settings().BlockSize
	u := backgroundUploader(t, td, true)
	old := randomBytes(6 * bs)
	r := writeFile(t, td.Drive, RootIno, "r", old) // more than the cache holds: waits for uploads
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := make([][]byte, 3)
	got := make([]Attr, 3)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range want {
			want[w] = randomBytes(3*bs + w*1000)
			wg.Go(func() {
				a, h, err := td.Create(ctx, RootIno, fmt.Sprint("w", w), 0o644, 0, 0, OpenFlags{Write: true})
				if err != nil {
					t.Error(err)
					return
				}
				defer h.Release(ctx)
				got[w] = a
				for off := 0; off < len(want[w]); off += 100 << 10 {
					if _, err := h.Write(ctx, int64(off), want[w][off:min(off+100<<10, len(want[w]))]); err != nil {
						t.Errorf("writer %d at %d: %v", w, off, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 3 {
				h, err := td.Open(ctx, r.Ino, OpenFlags{Read: true})
				if err != nil {
					t.Error(err)
					return
				}
				b := make([]byte, len(old))
				if n, err := h.Read(ctx, 0, b); err != nil || !bytes.Equal(b[:n], old) {
					t.Errorf("reader: %d bytes (%v), content differs", n, err)
				}
				h.Release(ctx)
			}
		})
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("writers and reader deadlocked over the cache limit")
	}
	if t.Failed() {
		return
	}
	for w := range want {
		if b := readFile(t, td.Drive, got[w].Ino); !bytes.Equal(b, want[w]) {
			t.Errorf("writer %d: read back differs", w)
		}
	}
	checkCount(t, td, "at the end")
}

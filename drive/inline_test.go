package drive

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/shardrive/shardrive/cache"
)

// A small file held open while the uploader moves its content into the
// metadata (inline) must keep reading its bytes after the local copy is
// dropped, and a truncate through the old handle must keep them: the open
// node's view of the inline content goes stale at that moment.
func TestOpenFileSurvivesInliningAndCacheClear(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	u := newUploader(t, td)
	want := []byte("small file content, kept inline once uploaded")
	_, h, err := td.Create(ctx, RootIno, "small", 0o644, 0, 0, OpenFlags{Read: true, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	if _, err := h.Write(ctx, 0, want); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := u.Sync(ctx); err != nil { // inlines it: the blocks go, the content is in the metadata
		t.Fatal(err)
	}
	if _, _, err := td.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	n, err := h.Read(ctx, 0, got)
	if err != nil || !bytes.Equal(got[:n], want) {
		t.Fatalf("read after inlining and cache clear: %q, %v; want %q", got[:n], err, want)
	}
	// Grow it through the same handle, drop the local copy again: the
	// content must still be there, then zeros.
	size := int64(100)
	if _, err := td.SetAttr(ctx, h.Ino(), SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := td.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	n, err = h.Read(ctx, 0, got)
	wantGrown := append(bytes.Clone(want), make([]byte, 100-len(want))...)
	if err != nil || !bytes.Equal(got[:n], wantGrown) {
		t.Fatalf("read after growing: %q, %v; want %q", got[:n], err, wantGrown)
	}
}

// Small files are written in memory and committed inline at the flush: no
// local data file, the content reads back before and after the flush and
// after a reopen, and growing past the limit moves it into the local cache
// with every byte kept; truncates inside the limit commit at once.
func TestSmallFileInMemory(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	limit := NewConfig().InlineMax
	a, h, err := td.Create(ctx, RootIno, "small", 0o644, 0, 0, OpenFlags{Read: true, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	want := randomBytes(3000)
	for off := 0; off < len(want); off += 700 { // several writes, like a kernel flushing pages
		if _, err := h.Write(ctx, int64(off), want[off:min(off+700, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 5000)
	if n, err := h.Read(ctx, 0, got); err != nil || !bytes.Equal(got[:n], want) {
		t.Fatalf("read before flush: %d bytes, %v", n, err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(td.CacheDir, strconv.FormatUint(a.Ino, 10))
	if _, err := os.Stat(dataFile); !os.IsNotExist(err) {
		t.Fatalf("a small file made a local data file: %v", err)
	}
	td.DB.View(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(a.Ino))
		if err != nil || !bytes.Equal(in.Inline, want) || in.Size != int64(len(want)) {
			t.Errorf("metadata after flush: size %d, inline %d bytes, %v", in.Size, len(in.Inline), err)
		}
		return nil
	})
	// Truncate inside the limit: committed at once.
	cut := int64(1000)
	if _, err := td.SetAttr(ctx, a.Ino, SetAttr{Size: &cut}); err != nil {
		t.Fatal(err)
	}
	want = want[:cut]
	td.DB.View(ctx, func(tx *cache.Tx) error {
		in, _ := tx.Inode(int64(a.Ino))
		if !bytes.Equal(in.Inline, want) {
			t.Errorf("inline after truncate: %d bytes, want %d", len(in.Inline), len(want))
		}
		return nil
	})
	// Grow past the limit: the content moves to the local cache.
	tail := randomBytes(limit)
	if _, err := h.Write(ctx, cut+500, tail); err != nil {
		t.Fatal(err)
	}
	want = append(append(want, make([]byte, 500)...), tail...)
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, want) {
		t.Fatalf("after growing past the limit: first difference at %d", firstDiffAt(got, want))
	}
	if _, err := os.Stat(dataFile); err != nil {
		t.Fatalf("a large file has no local data file: %v", err)
	}
	// Stored and read back from the farmers.
	u := newUploader(t, td)
	if err := u.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := td.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, td.Drive, a.Ino); !bytes.Equal(got, want) {
		t.Fatalf("from the farmers: first difference at %d", firstDiffAt(got, want))
	}
}

// An unflushed small file's writes are lost with the process (they were
// never fsync'd), and a flushed one's are not.
func TestSmallFileInMemoryAcrossReopen(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	a := writeFile(t, td.Drive, RootIno, "kept", []byte("flushed and closed"))
	_, h, err := td.Create(ctx, RootIno, "open", 0o644, 0, 0, OpenFlags{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write(ctx, 0, []byte("never flushed")); err != nil {
		t.Fatal(err)
	}
	td.Reopen(t, NewConfig()) // as after a kill: nothing of the open file was flushed
	if got := readFile(t, td.Drive, a.Ino); string(got) != "flushed and closed" {
		t.Fatalf("closed small file after reopen: %q", got)
	}
	b, err := td.Lookup(ctx, RootIno, "open")
	if err != nil || b.Size != 0 {
		t.Fatalf("unflushed small file after reopen: %+v, %v; want it empty", b, err)
	}
}

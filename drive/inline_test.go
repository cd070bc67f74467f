package drive

import (
	"bytes"
	"testing"
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

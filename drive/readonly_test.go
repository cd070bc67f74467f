package drive

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
)

// errLeaseLost stands for the reason the daemon gives.
var errLeaseLost = errors.New("writer lease lost to another device")

// snapshot is everything a reader sees of the drive, one line a name:
// attributes, extended attributes, and each file's content or link's
// target.
func snapshot(t *testing.T, d *Drive) string {
	t.Helper()
	var b strings.Builder
	var walk func(dir uint64, p string)
	walk = func(dir uint64, p string) {
		ents, err := d.ReadDir(ctx, dir)
		if err != nil {
			t.Fatalf("readdir %s: %v", p, err)
		}
		slices.SortFunc(ents, func(x, y DirEntry) int { return strings.Compare(x.Name, y.Name) })
		for _, e := range ents {
			name := p + "/" + e.Name
			a, err := d.Lookup(ctx, dir, e.Name)
			if err != nil {
				t.Fatalf("lookup %s: %v", name, err)
			}
			fmt.Fprintf(&b, "%s %s ino=%d mode=%o uid=%d gid=%d size=%d nlink=%d a=%d m=%d c=%d", name, a.Kind,
				a.Ino, a.Mode, a.UID, a.GID, a.Size, a.Nlink, a.Atime.UnixNano(), a.Mtime.UnixNano(), a.Ctime.UnixNano())
			xs, err := d.ListXattr(ctx, a.Ino)
			if err != nil {
				t.Fatalf("listxattr %s: %v", name, err)
			}
			slices.Sort(xs)
			for _, x := range xs {
				v, err := d.GetXattr(ctx, a.Ino, x)
				if err != nil {
					t.Fatalf("getxattr %s %s: %v", name, x, err)
				}
				fmt.Fprintf(&b, " %s=%q", x, v)
			}
			switch a.Kind {
			case cache.KindFile:
				fmt.Fprintf(&b, " sha256=%x", sha256.Sum256(readFile(t, d, a.Ino)))
			case cache.KindSymlink:
				target, err := d.Readlink(ctx, a.Ino)
				if err != nil {
					t.Fatalf("readlink %s: %v", name, err)
				}
				fmt.Fprintf(&b, " -> %s", target)
			}
			b.WriteByte('\n')
			if a.Kind == cache.KindDir {
				walk(a.Ino, name)
			}
		}
	}
	root, err := d.GetAttr(ctx, RootIno)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "/ mode=%o nlink=%d m=%d c=%d\n", root.Mode, root.Nlink, root.Mtime.UnixNano(), root.Ctime.UnixNano())
	walk(RootIno, "")
	return b.String()
}

// sameSnapshot fails the test if the drive shows anything else than before.
func sameSnapshot(t *testing.T, when, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for _, l := range w {
		if !slices.Contains(g, l) {
			t.Errorf("%s: gone: %s", when, l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			t.Errorf("%s: new: %s", when, l)
		}
	}
	t.FailNow()
}

// isReadOnly checks that err is the switch's error, with its reason.
func isReadOnly(t *testing.T, what string, err error, reason error) {
	t.Helper()
	if !errors.Is(err, ErrReadOnly) || !errors.Is(err, reason) {
		t.Errorf("%s: got %v, want an error wrapping ErrReadOnly and %q", what, err, reason)
	}
}

// Once read-only, every change is refused with the reason, and nothing
// changes; reading goes on, and what a handle wrote before the switch is
// committed by its flush and close.
func TestReadOnlyRefusesChanges(t *testing.T) {
	td := NewTest(t, 4, 2, 6)
	d := td.Drive
	if err := d.ReadOnly(); err != nil {
		t.Fatalf("a new drive is read-only: %v", err)
	}
	aData := randomBytes(300_000) // two blocks, dirty in the local cache
	a := writeFile(t, d, RootIno, "a", aData)
	dir, err := d.Mkdir(ctx, RootIno, "dir", 0o755, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, d, dir.Ino, "f", []byte("in a directory"))
	if _, err := d.Mkdir(ctx, RootIno, "empty", 0o755, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Symlink(ctx, RootIno, "l", "a", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.SetXattr(ctx, a.Ino, "user.x", []byte("1"), XattrFlags{}); err != nil {
		t.Fatal(err)
	}
	putData := randomBytes(600_000) // on the farmers only
	if _, err := d.Put(ctx, "/put/p", bytes.NewReader(putData), PutAttr{}); err != nil {
		t.Fatal(err)
	}
	// A handle that wrote before the switch and has not flushed yet.
	wAttr, w, err := d.Create(ctx, RootIno, "w", 0o644, 0, 0, OpenFlags{Read: true, Write: true, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	before := []byte("written before the switch")
	if _, err := w.Write(ctx, 0, before); err != nil {
		t.Fatal(err)
	}
	// And one that reads.
	r, err := d.Open(ctx, a.Ino, OpenFlags{Read: true})
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, d)

	d.SetReadOnly(errLeaseLost)
	d.SetReadOnly(errors.New("a later reason")) // the first one stays
	if err := d.ReadOnly(); err == nil || err.Error() != ErrReadOnly.Error()+": "+errLeaseLost.Error() {
		t.Fatalf("ReadOnly() = %v", err)
	}
	isReadOnly(t, "ReadOnly()", d.ReadOnly(), errLeaseLost)

	size0, size1 := int64(0), int64(1<<20)
	mode, id := uint32(0o600), uint32(1234)
	when := time.Unix(1e9, 0)
	ops := []struct {
		name string
		op   func() error
	}{
		{"mkdir", func() error { _, err := d.Mkdir(ctx, RootIno, "new", 0o755, 0, 0); return err }},
		{"mkdir existing", func() error { _, err := d.Mkdir(ctx, RootIno, "dir", 0o755, 0, 0); return err }},
		{"mknod", func() error { _, err := d.Mknod(ctx, RootIno, "new", cache.KindFIFO, 0o644, 0, 0); return err }},
		{"symlink", func() error { _, err := d.Symlink(ctx, RootIno, "new", "a", 0, 0); return err }},
		{"link", func() error { _, err := d.Link(ctx, a.Ino, dir.Ino, "new"); return err }},
		{"unlink", func() error { return d.Unlink(ctx, RootCaller, RootIno, "a") }},
		{"unlink symlink", func() error { return d.Unlink(ctx, RootCaller, RootIno, "l") }},
		{"rmdir", func() error { return d.Rmdir(ctx, RootCaller, RootIno, "empty") }},
		{"rename", func() error { return d.Rename(ctx, RootCaller, RootIno, "a", dir.Ino, "b", RenameFlags{}) }},
		{"rename replace", func() error { return d.Rename(ctx, RootCaller, RootIno, "a", dir.Ino, "f", RenameFlags{}) }},
		{"rename exchange", func() error {
			return d.Rename(ctx, RootCaller, RootIno, "a", dir.Ino, "f", RenameFlags{Exchange: true})
		}},
		{"create", func() error {
			_, h, err := d.Create(ctx, RootIno, "new", 0o644, 0, 0, OpenFlags{Write: true})
			release(t, h)
			return err
		}},
		{"create existing", func() error {
			_, h, err := d.Create(ctx, RootIno, "a", 0o644, 0, 0, OpenFlags{Read: true})
			release(t, h)
			return err
		}},
		{"open write", func() error { return open(t, d, a.Ino, OpenFlags{Write: true}) }},
		{"open read-write", func() error { return open(t, d, a.Ino, OpenFlags{Read: true, Write: true}) }},
		{"open append", func() error { return open(t, d, a.Ino, OpenFlags{Append: true}) }},
		{"open truncate", func() error { return open(t, d, a.Ino, OpenFlags{Write: true, Truncate: true}) }},
		{"open read truncate", func() error { return open(t, d, a.Ino, OpenFlags{Read: true, Truncate: true}) }},
		{"write", func() error { _, err := w.Write(ctx, 0, []byte("after")); return err }},
		{"write past the end", func() error { _, err := w.Write(ctx, 1<<20, []byte("after")); return err }},
		{"truncate", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{Size: &size0}); return err }},
		{"truncate open", func() error { _, err := d.SetAttr(ctx, wAttr.Ino, SetAttr{Size: &size0}); return err }},
		{"extend", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{Size: &size1}); return err }},
		{"chmod", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{Mode: &mode}); return err }},
		{"chmod open", func() error { _, err := d.SetAttr(ctx, wAttr.Ino, SetAttr{Mode: &mode}); return err }},
		{"chmod dir", func() error { _, err := d.SetAttr(ctx, dir.Ino, SetAttr{Mode: &mode}); return err }},
		{"chown", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{UID: &id, GID: &id}); return err }},
		{"utimes", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{Atime: &when, Mtime: &when}); return err }},
		{"mtime", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{Mtime: &when}); return err }},
		{"mtime open", func() error { _, err := d.SetAttr(ctx, wAttr.Ino, SetAttr{Mtime: &when}); return err }},
		{"touch", func() error { _, err := d.SetAttr(ctx, a.Ino, SetAttr{}); return err }},
		{"setxattr", func() error { return d.SetXattr(ctx, a.Ino, "user.y", []byte("2"), XattrFlags{}) }},
		{"setxattr replace", func() error { return d.SetXattr(ctx, a.Ino, "user.x", []byte("2"), XattrFlags{}) }},
		{"removexattr", func() error { return d.RemoveXattr(ctx, a.Ino, "user.x") }},
		{"put", func() error { _, err := d.Put(ctx, "/put/p", bytes.NewReader([]byte("new")), PutAttr{}); return err }},
		{"put new", func() error {
			_, err := d.Put(ctx, "/new/p", bytes.NewReader(randomBytes(300_000)), PutAttr{})
			return err
		}},
		{"mkdir -p", func() error { _, err := d.MkdirPath(ctx, "/x/y"); return err }},
		{"mkdir -p existing", func() error { _, err := d.MkdirPath(ctx, "/dir"); return err }},
		{"remove", func() error { return d.Remove(ctx, "/a") }},
		{"remove dir", func() error { return d.Remove(ctx, "/empty") }},
	}
	for _, o := range ops {
		isReadOnly(t, o.name, o.op(), errLeaseLost)
	}
	sameSnapshot(t, "after the refused changes", snapshot(t, d), want)

	// Reading goes on: lookups, listings, statfs, status, both kinds of
	// read, and the local cache's own business.
	buf := make([]byte, len(aData)+1)
	if n, err := r.Read(ctx, 0, buf); err != nil || !bytes.Equal(buf[:n], aData) {
		t.Fatalf("read through a handle opened before: %d bytes, %v", n, err)
	}
	r2, err := d.Open(ctx, f.Ino, OpenFlags{Read: true})
	if err != nil {
		t.Fatalf("open for reading: %v", err)
	}
	if n, err := r2.Read(ctx, 0, buf); err != nil || string(buf[:n]) != "in a directory" {
		t.Fatalf("read through a handle opened after: %q, %v", buf[:n], err)
	}
	release(t, r2)
	release(t, r)
	if _, err := d.Stat(ctx, "/dir/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadDirPath(ctx, "/put"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StatFS(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := d.GetXattr(ctx, a.Ino, StatusXattr); err != nil || string(st) != StatusLocal {
		t.Fatalf("status of a: %q, %v", st, err)
	}
	if err := d.Pin(ctx, "/put"); err != nil {
		t.Fatalf("pin: %v", err)
	}
	if err := d.Unpin(ctx, "/put"); err != nil {
		t.Fatalf("unpin: %v", err)
	}
	if _, _, err := d.ClearCache(ctx); err != nil {
		t.Fatalf("clear cache: %v", err)
	}
	got := &memFile{b: make([]byte, len(putData))} // Get writes blocks at once: no growing
	if _, err := d.Get(ctx, "/put/p", got); err != nil || !bytes.Equal(got.b, putData) {
		t.Fatalf("get from the farmers: %d bytes, %v", len(got.b), err)
	}
	sameSnapshot(t, "after the reads", snapshot(t, d), want)

	// The handle that wrote before: refused now, but its flush and close
	// commit what it wrote.
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := w.Fsync(ctx); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if err := w.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	sameSnapshot(t, "after the close", snapshot(t, d), want)

	// As a restart would: the bytes are in the metadata and the local
	// cache, and the switch is not stored (the daemon decides again).
	td.Reopen(t, NewConfig())
	if got := readFile(t, td.Drive, wAttr.Ino); !bytes.Equal(got, before) {
		t.Fatalf("after reopening: %q, want %q", got, before)
	}
	if err := td.ReadOnly(); err != nil {
		t.Fatalf("read-only after reopening: %v", err)
	}
}

// SetReadOnly waits for the changes in flight: once it returns, the drive
// changes no further, whatever ran beside it. Two switches race too; one
// reason wins, and every refusal carries it.
func TestReadOnlySettlesChangesInFlight(t *testing.T) {
	d := OpenTest(t)
	c := writeFile(t, d, RootIno, "c", []byte("chmod me"))
	small := randomBytes(1000)

	type worker struct {
		name string
		op   func(i int) error // the i-th change
		done func() error      // afterwards
	}
	var workers []worker
	for k := range 2 {
		a, h, err := d.Create(ctx, RootIno, fmt.Sprintf("w%d", k), 0o644, 0, 0, OpenFlags{Read: true, Write: true, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, worker{
			name: "write",
			op: func(i int) error {
				if i%50 == 49 {
					s := int64(i) * 100
					_, err := d.SetAttr(ctx, a.Ino, SetAttr{Size: &s})
					return err
				}
				_, err := h.Write(ctx, int64(i)*1000, small)
				return err
			},
			done: func() error { return errors.Join(h.Flush(ctx), h.Release(ctx)) },
		})
	}
	workers = append(workers,
		worker{name: "mkdir", op: func(i int) error {
			_, err := d.Mkdir(ctx, RootIno, fmt.Sprintf("m%d", i), 0o755, 0, 0)
			return err
		}},
		worker{name: "chmod", op: func(i int) error {
			m := uint32(0o600 + i%2)
			_, err := d.SetAttr(ctx, c.Ino, SetAttr{Mode: &m})
			return err
		}},
		worker{name: "xattr", op: func(i int) error {
			return d.SetXattr(ctx, c.Ino, fmt.Sprintf("user.n%d", i), []byte("v"), XattrFlags{})
		}},
		worker{name: "put", op: func(i int) error {
			_, err := d.Put(ctx, fmt.Sprintf("/p/%d", i), bytes.NewReader(small), PutAttr{})
			return err
		}},
		worker{name: "rename", op: func(i int) error {
			return d.Rename(ctx, RootCaller, RootIno, fmt.Sprintf("r%d", i%2), RootIno, fmt.Sprintf("r%d", (i+1)%2), RenameFlags{})
		}},
	)
	if _, h, err := d.Create(ctx, RootIno, "r0", 0o644, 0, 0, OpenFlags{}); err != nil {
		t.Fatal(err)
	} else {
		release(t, h)
	}

	// The workers take turns: SQLite's busy wait is not fair, and writers
	// in tight loops would starve one of them past its timeout. What is
	// tested is a change beside SetReadOnly, and there is one at all times.
	var turn sync.Mutex
	var started, ended sync.WaitGroup
	// The writers close after the first snapshot: a stat during a last
	// close may see the size before the flush for a moment, which is not
	// what this test is about.
	snapped := make(chan struct{})
	stopWorkers := sync.OnceFunc(func() { close(snapped) })
	t.Cleanup(func() { stopWorkers(); ended.Wait() }) // before the drive closes, if the test fails early
	refusals := make([]error, len(workers))
	afters := make([]error, len(workers))
	for wi, w := range workers {
		started.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			var err error
			for i := 0; err == nil; i++ {
				turn.Lock()
				err = w.op(i)
				turn.Unlock()
				if i == 0 {
					started.Done()
				}
			}
			refusals[wi] = err
			<-snapped
			if w.done != nil {
				afters[wi] = w.done()
			}
		}()
	}
	started.Wait() // every worker has tried once

	reasons := []error{errors.New("lease lost (first)"), errors.New("lease lost (second)")}
	var switched sync.WaitGroup
	for _, r := range reasons {
		switched.Go(func() { d.SetReadOnly(r) })
	}
	switched.Wait()
	want := snapshot(t, d)
	stopWorkers()
	ended.Wait()
	sameSnapshot(t, "after the workers stopped", snapshot(t, d), want)

	winner := reasons[0]
	if !errors.Is(d.ReadOnly(), winner) {
		winner = reasons[1]
	}
	isReadOnly(t, "ReadOnly()", d.ReadOnly(), winner)
	for i, err := range refusals {
		isReadOnly(t, workers[i].name, err, winner)
		if afters[i] != nil {
			t.Errorf("%s: flush and close after the switch: %v", workers[i].name, afters[i])
		}
	}
}

// release closes h, if there is one.
func release(t *testing.T, h *Handle) {
	t.Helper()
	if h == nil {
		return
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// open opens ino and closes it again, returning what the open returned.
func open(t *testing.T, d *Drive, ino uint64, f OpenFlags) error {
	t.Helper()
	h, err := d.Open(ctx, ino, f)
	release(t, h)
	return err
}

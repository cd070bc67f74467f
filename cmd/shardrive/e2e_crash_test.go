//go:build unix

package main

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// TestCrashStorm kills the daemon with SIGKILL at random moments while a
// storm of writes, overwrites, truncates, renames and unlinks runs on the
// mount, each followed by fsync; after every kill it mounts again and checks
// every byte that was fsync'd. Uploads run during the storm (a short
// write-back delay), so kills land in uploads too. 10 rounds here, 100 with
// SHARDRIVE_LONG (make test-long).
func TestCrashStorm(t *testing.T) {
	requireFUSE(t)
	rounds := 10
	if os.Getenv("SHARDRIVE_LONG") != "" {
		rounds = 100
	}
	home, _ := network(t, 6, 4, 2, "256KiB")
	mnt := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(uint64(seed), 1))
	model := map[string][]byte{} // what every fsync'd file holds

	for round := range rounds {
		pid := mountDaemon(t, home, mnt, "--write-back", "200ms")
		checkModel(t, mnt, model, nil)

		stop := make(chan struct{})
		done := make(chan []string, 1) // names of the op in flight when killed
		go func() { done <- storm(mnt, model, rng, stop) }()
		time.Sleep(time.Duration(50+rng.IntN(700)) * time.Millisecond)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		close(stop)
		skip := <-done
		waitGone(t, pid)
		t.Logf("round %d: %d files fsync'd, in flight at the kill: %v", round, len(model), skip)
		// Mount again: everything fsync'd is there, whatever was in flight.
		pid = mountDaemon(t, home, mnt, "--write-back", "200ms")
		checkModel(t, mnt, model, skip)
		for _, name := range skip { // settle the in-flight file to what is there now
			if b, err := os.ReadFile(filepath.Join(mnt, name)); err == nil {
				model[name] = b
			} else {
				delete(model, name)
			}
		}
		if round == rounds-1 {
			mustRun(t, home, "sync", "--wait", "--timeout", "5m")
			cacheClear(t, home)
			checkModel(t, mnt, model, nil) // from the farmers
		}
		mustRun(t, home, "unmount", mnt)
		waitGone(t, pid)
	}
}

// storm runs random fsync'd operations on the mount until stop closes or the
// mount dies, recording each finished one in model. It returns the names an
// operation in flight when it stopped touched (nil if none was).
func storm(mnt string, model map[string][]byte, rng *mrand.Rand, stop chan struct{}) []string {
	names := []string{"a", "b", "c", "d/e", "d/f", "g"}
	if err := os.MkdirAll(filepath.Join(mnt, "d"), 0o755); err != nil {
		return nil
	}
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		name := names[rng.IntN(len(names))]
		p := filepath.Join(mnt, name)
		old, exists := model[name]
		var err error
		var next []byte
		switch op := rng.IntN(5); {
		case op <= 1 || !exists: // write a new file, or overwrite a range
			next = bytes.Clone(old)
			off := 0
			if len(old) > 0 {
				off = rng.IntN(len(old))
			}
			// Half small (the drive keeps files of up to 16 KiB in memory
			// until they are flushed, and moves them to the local cache
			// when they grow), half up to 600 KiB (several blocks).
			size := 1 + rng.IntN(600<<10)
			if rng.IntN(2) == 0 {
				size = 1 + rng.IntN(20<<10)
			}
			patch := make([]byte, size)
			for i := range patch {
				patch[i] = byte(rng.Uint32())
			}
			if end := off + len(patch); end > len(next) {
				next = append(next, make([]byte, end-len(next))...)
			}
			copy(next[off:], patch)
			if err = writeAtSync(p, patch, int64(off)); err != nil {
				return []string{name}
			}
			model[name] = next
		case op == 2: // truncate either way
			size := rng.IntN(len(old)*2 + 1)
			next = make([]byte, size)
			copy(next, old)
			if err = truncateSync(p, int64(size)); err != nil {
				return []string{name}
			}
			model[name] = next
		case op == 3: // rename over another name
			to := names[rng.IntN(len(names))]
			if to == name {
				continue
			}
			if err = os.Rename(p, filepath.Join(mnt, to)); err != nil {
				return []string{name, to}
			}
			model[to] = old
			delete(model, name)
		default: // unlink
			if err = os.Remove(p); err != nil {
				return []string{name}
			}
			delete(model, name)
		}
	}
}

func writeAtSync(p string, b []byte, off int64) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func truncateSync(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkModel compares the mount with model, except the names in skip.
func checkModel(t *testing.T, mnt string, model map[string][]byte, skip []string) {
	t.Helper()
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	var names []string
	for n := range model {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if skipped[n] {
			continue
		}
		got, err := os.ReadFile(filepath.Join(mnt, n))
		if err != nil {
			t.Fatalf("%s: %v (fsync'd, must survive)", n, err)
		}
		if !bytes.Equal(got, model[n]) {
			t.Fatalf("%s: %d bytes read differ from the %d fsync'd (first difference at %s)", n, len(got), len(model[n]), firstDiff(got, model[n]))
		}
	}
	for _, n := range []string{"a", "b", "c", "d/e", "d/f", "g"} {
		if _, ok := model[n]; !ok && !skipped[n] {
			if _, err := os.Stat(filepath.Join(mnt, n)); err == nil {
				t.Fatalf("%s exists but was removed (or renamed away) before the kill", n)
			}
		}
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprint(i)
		}
	}
	return fmt.Sprint(min(len(a), len(b)))
}

//go:build unix

package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// maxDaemonWriteRSS is the memory bound of the mount daemon while a huge
// file streams in: the file goes to the cache disk, never into memory.
const maxDaemonWriteRSS = 300 << 20

// TestLongMountDD8GiB writes an 8 GiB file with dd through a real `shardrive
// mount` over six shardfarmer processes (make test-long), checks the
// daemon's peak RSS while it writes, uploads it, drops the cache, mounts
// again and reads every byte back from the farmers. The bytes are a seeded
// ChaCha8 stream, so they are checked against the stream made again rather
// than a stored copy. Throughputs and the other peaks are logged.
func TestLongMountDD8GiB(t *testing.T) {
	if os.Getenv("SHARDRIVE_LONG") == "" {
		t.Skip("set SHARDRIVE_LONG=1 (make test-long)")
	}
	requireFUSE(t)
	dd, err := exec.LookPath("dd")
	if err != nil {
		t.Skip("dd (coreutils) is not installed")
	}
	const mib = 1 << 20
	const size = 8 << 30
	// 8 GiB in the cache, 12 GiB of shards (4+2), 8 GiB cached again on
	// the read back, and room to spare.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(os.TempDir(), &fs); err != nil {
		t.Fatal(err)
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < 40<<30 {
		t.Skipf("%d GiB free under %s, the test needs 40 GiB", free>>30, os.TempDir())
	}

	home := bigNetwork(t, "4GiB") // each farmer stores a quarter of the file, plus parity
	mnt := t.TempDir()
	pid := mountDaemon(t, home, mnt)
	seed := [32]byte{'d', 'd', '8'}

	// Write: a generator feeds dd through a pipe, hashing what it sends.
	rss := watchRSS(pid)
	cmd := exec.Command(dd, "of="+filepath.Join(mnt, "big"), "bs=1M", fmt.Sprint("count=", size/mib),
		"iflag=fullblock", "conv=fsync", "status=none")
	pw, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var ddErr bytes.Buffer
	cmd.Stderr = &ddErr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wantSum := make(chan []byte, 1)
	go func() {
		h, rng, buf := sha256.New(), mrand.NewChaCha8(seed), make([]byte, mib)
		for range size / mib {
			rng.Read(buf)
			h.Write(buf)
			if _, err := pw.Write(buf); err != nil {
				break // dd failed; its error is reported below
			}
		}
		pw.Close()
		wantSum <- h.Sum(nil)
	}()
	err = cmd.Wait()
	want := <-wantSum
	writeTime := time.Since(start)
	writePeak := rss.stop()
	if err != nil {
		t.Fatalf("dd: %v: %s", err, ddErr.String())
	}
	t.Logf("dd wrote 8 GiB in %v: %.0f MB/s; daemon peak RSS %d MiB (VmHWM), highest VmRSS sampled %d MiB",
		writeTime.Round(time.Millisecond), size/1e6/writeTime.Seconds(), writePeak.hwm>>20, writePeak.rss>>20)
	// Checked at the end, after the bytes. The upload usually starts
	// while dd still writes (the write-back delay passes between its
	// writes), so the peak covers both.
	overBound := writePeak.hwm > maxDaemonWriteRSS

	// Upload, and the memory it takes.
	rss = watchRSS(pid)
	start = time.Now()
	mustRun(t, home, "sync", "--wait", "--timeout", "50m")
	upTime := time.Since(start)
	upPeak := rss.stop()
	t.Logf("sync --wait uploaded 8 GiB (12 GiB of shards) in %v: %.0f MB/s of file; daemon peak RSS now %d MiB, highest VmRSS sampled %d MiB",
		upTime.Round(time.Millisecond), size/1e6/upTime.Seconds(), upPeak.hwm>>20, upPeak.rss>>20)

	mustRun(t, home, "unmount", mnt)
	waitGone(t, pid)
	if dropped, kept := cacheClear(t, home); kept != 0 || dropped == 0 {
		t.Fatalf("cache clear dropped %d blocks and kept %d: want all of them dropped", dropped, kept)
	}

	// Read back from the farmers, checking every MiB against the stream.
	pid = mountDaemon(t, home, mnt)
	rss = watchRSS(pid)
	start = time.Now()
	f, err := os.Open(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != size {
		t.Fatalf("stat after remount: %v %v, want %d bytes", fi, err, size)
	}
	h, rng := sha256.New(), mrand.NewChaCha8(seed)
	got, exp := make([]byte, mib), make([]byte, mib)
	for i := range size / mib {
		if _, err := io.ReadFull(f, got); err != nil {
			t.Fatalf("read at MiB %d: %v", i, err)
		}
		rng.Read(exp)
		if !bytes.Equal(got, exp) {
			j := 0
			for got[j] == exp[j] {
				j++
			}
			t.Fatalf("read back: first difference at byte %d", int64(i)*mib+int64(j))
		}
		h.Write(got)
	}
	if n, err := f.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("read past 8 GiB: %d, %v", n, err)
	}
	readTime := time.Since(start)
	readPeak := rss.stop()
	if !bytes.Equal(h.Sum(nil), want) {
		t.Fatal("sha256 of the read back differs from what dd was given")
	}
	t.Logf("read 8 GiB back from the farmers in %v: %.0f MB/s; daemon peak RSS %d MiB, highest VmRSS sampled %d MiB; sha256 %x",
		readTime.Round(time.Millisecond), size/1e6/readTime.Seconds(), readPeak.hwm>>20, readPeak.rss>>20, want)
	if overBound || upPeak.hwm > maxDaemonWriteRSS {
		t.Fatalf("the daemon peaked at %d MiB RSS while writing and %d MiB while uploading 8 GiB, the bound is %d MiB",
			writePeak.hwm>>20, upPeak.hwm>>20, maxDaemonWriteRSS>>20)
	}
}

// bigNetwork is network(t, 6, 4, 2, "4MiB") with farmers of the given
// capacity: startFarmer's 2 GiB cannot hold a quarter of 8 GiB and its
// headers.
func bigNetwork(t *testing.T, capacity string) string {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for i := range 6 {
		addrs = append(addrs, startFarmerCapacity(t, filepath.Join(dir, fmt.Sprintf("farm%d", i+1)), capacity))
	}
	home := filepath.Join(dir, "home")
	mustRun(t, home, "init", "--farmers", strings.Join(addrs, ","), "--data-shards", "4", "--parity-shards", "2", "--block-size", "4MiB")
	return home
}

// startFarmerCapacity starts a farmer of the given capacity and returns
// its address.
func startFarmerCapacity(t *testing.T, dir, capacity string) string {
	t.Helper()
	return startFarmerWith(t, dir, "127.0.0.1:0", capacity).addr
}

// rssPeak is what watchRSS saw: the kernel's peak (VmHWM, since the process
// started) at the end, and the highest VmRSS among the samples.
type rssPeak struct{ hwm, rss int64 }

type rssWatch struct {
	pid  int
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak rssPeak
}

// watchRSS samples pid's memory every 200 ms until stop.
func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample()
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *rssWatch) sample() {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.pid))
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmHWM" {
			w.peak.hwm = max(w.peak.hwm, kb<<10)
		} else {
			w.peak.rss = max(w.peak.rss, kb<<10)
		}
	}
}

func (w *rssWatch) stop() rssPeak {
	w.sample()
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

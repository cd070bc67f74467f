//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardrive/shardrive/service"
)

// TestStatusShowsTransfers asks a daemon for its status while it uploads
// a big file. One farmer is stopped (SIGSTOP), so the file's first block
// cannot be placed (every shard goes somewhere, and that farmer's call
// waits for its timeout): the upload stays in flight until the farmer
// continues, and status shows it, by drive path, in JSON and in text.
// Once synced, nothing is in flight.
func TestStatusShowsTransfers(t *testing.T) {
	requireFUSE(t)
	home, farmers := network(t, 6, 4, 2, "1MiB")
	e := newUserEnv(t)
	e.home = home
	mnt := filepath.Join(t.TempDir(), "Drive")
	e.writeConfig(t, "version = 1\nhome = "+home+"\nmount = "+mnt+"\nwrite-back = 200ms\n")
	startDaemon(t, e, mnt)
	if out := e.must(t, "status", "--json"); !strings.Contains(out, `"transfers": []`) {
		t.Fatalf("status --json of an idle daemon has no empty transfers list:\n%s", out)
	}

	stopped := farmers[2].cmd.Process.Pid
	if err := syscall.Kill(stopped, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(stopped, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume) // before the farmer's own cleanup, which waits for its exit
	data := randomBytes(8<<20 + 5)
	writeSynced(t, filepath.Join(mnt, "a dir", "big.bin"), data)

	// The daemon picks the file up after its quiet period; a bound only so
	// that a broken daemon fails the test instead of hanging it.
	var tr service.TransferStatus
	poll(t, "a transfer in status --json", func() bool {
		st := envStatus(t, e)
		if len(st.Transfers) == 0 {
			return false
		}
		if len(st.Transfers) != 1 {
			t.Fatalf("transfers %+v, want the one file", st.Transfers)
		}
		tr = st.Transfers[0]
		return true
	})
	if tr.Path != "/a dir/big.bin" || tr.TotalBytes <= 0 || tr.TotalBytes > int64(len(data)) ||
		tr.DoneBytes < 0 || tr.DoneBytes > tr.TotalBytes || tr.Started.IsZero() || tr.Started.After(time.Now()) {
		t.Errorf("transfer %+v, want /a dir/big.bin with 0 <= done <= total <= %d and a start time", tr, len(data))
	}
	// Not on a terminal: a plain line, no bar.
	poll(t, "a transfer in status", func() bool {
		out := e.must(t, "status")
		line := lineWith(out, "/a dir/big.bin")
		if line == "" {
			return false
		}
		if !strings.Contains(line, "uploaded (") || strings.ContainsAny(line, "[]=>") {
			t.Errorf("status transfer line %q, want plain words", line)
		}
		return true
	})
	// On a terminal: a bar. The pseudo-terminal's process finds the
	// daemon's socket through the runtime directory.
	t.Setenv("TERM", "xterm")
	t.Setenv("XDG_RUNTIME_DIR", e.runtime)
	poll(t, "a transfer bar in status on a terminal", func() bool {
		p := startPTY(t, home, "status")
		if code := p.wait(); code != 0 {
			t.Fatalf("status on a terminal: exit %d", code)
		}
		<-p.done // all it printed is read
		p.mu.Lock()
		out := p.out.String()
		p.mu.Unlock()
		line := lineWith(out, "/a dir/big.bin")
		if line == "" {
			return false
		}
		if !strings.Contains(line, "/a dir/big.bin [") || !strings.Contains(line, "] ") || !strings.Contains(line, "%") {
			t.Errorf("status transfer line on a terminal %q, want a bar", line)
		}
		return true
	})

	resume()
	e.must(t, "sync", "--wait", "--timeout", "5m")
	if st := envStatus(t, e); len(st.Transfers) != 0 || st.Uploads.QueuedFiles != 0 {
		t.Fatalf("after sync: transfers %+v, uploads %+v, want nothing left", st.Transfers, st.Uploads)
	}
	checkFiles(t, mnt, map[string][]byte{"a dir/big.bin": data})
}

// poll calls ok until it says true, failing the test after two minutes:
// the bound is only there so that a broken daemon does not hang the test.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("no %s after two minutes", what)
}

func lineWith(text, sub string) string {
	for l := range strings.Lines(text) {
		if strings.Contains(l, sub) {
			return strings.TrimSuffix(l, "\n")
		}
	}
	return ""
}

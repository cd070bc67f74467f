//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProgressOnTerminalOnly runs put and get as a user at a terminal
// would (a bar that ends at 100%), then as a script does (stderr in a
// file: nothing on it), then on a dumb terminal (no bar).
func TestProgressOnTerminalOnly(t *testing.T) {
	home, _ := network(t, 6, 4, 2, "1MiB")
	dir := t.TempDir()
	src, want := randomFile(t, dir, 4<<20)
	const full = "100%   4.0 MiB / 4.0 MiB"
	t.Setenv("TERM", "xterm")

	p := startPTY(t, home, "put", src, "/progress/file")
	p.expect(full)
	if code := p.wait(); code != 0 {
		t.Fatalf("put on a terminal: exit %d", code)
	}
	back := filepath.Join(dir, "back")
	p = startPTY(t, home, "get", "/progress/file", back)
	p.expect(full)
	if code := p.wait(); code != 0 {
		t.Fatalf("get on a terminal: exit %d", code)
	}
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file read back differs (err %v)", err)
	}

	// stderr redirected to a file: not a byte on it, even with TERM set.
	for _, args := range [][]string{{"put", src, "/progress/file2"}, {"get", "/progress/file2", filepath.Join(dir, "back2")}} {
		errPath := filepath.Join(dir, "stderr-"+args[0])
		f, err := os.Create(errPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(binDir, "shardrive"), append([]string{"--home", home}, args...)...)
		cmd.Stderr = f
		err = cmd.Run()
		f.Close()
		if err != nil {
			t.Fatalf("shardrive %v with stderr in a file: %v", args, err)
		}
		if b, err := os.ReadFile(errPath); err != nil || len(b) != 0 {
			t.Errorf("shardrive %v printed %q on stderr redirected to a file (err %v), want nothing", args, b, err)
		}
	}

	// A dumb terminal cannot redraw a line: no bar.
	t.Setenv("TERM", "dumb")
	p = startPTY(t, home, "put", src, "/progress/file3")
	if code := p.wait(); code != 0 {
		t.Fatalf("put on a dumb terminal: exit %d", code)
	}
	<-p.done // all it printed is read
	p.mu.Lock()
	out := p.out.String()
	p.mu.Unlock()
	if strings.Contains(out, "%") || strings.Contains(out, "MiB") {
		t.Errorf("put on a dumb terminal drew a bar: %q", out)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// farmerProc is "shardfarmer run" running in this process.
type farmerProc struct {
	cancel context.CancelFunc
	code   chan int
	addr   format.Address
	stdout []string // lines after the ready line, read at exit
	stderr *syncBuffer
	rest   chan []string
}

// startRun runs "shardfarmer run" with args and waits for its ready line.
func startRun(t *testing.T, args ...string) *farmerProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &farmerProc{cancel: cancel, code: make(chan int, 1), stderr: &syncBuffer{}, rest: make(chan []string, 1)}
	go func() {
		p.code <- run(ctx, func() {}, append([]string{"run"}, args...), pw, p.stderr)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("no ready line; exit %d; stderr:\n%s", <-p.code, p.stderr)
	}
	line, ok := strings.CutPrefix(sc.Text(), "farmer ready: ")
	if !ok {
		t.Fatalf("first stdout line %q", sc.Text())
	}
	addr, err := format.ParseAddress(line)
	if err != nil {
		t.Fatalf("ready line address: %v", err)
	}
	p.addr = addr
	go func() {
		var rest []string
		for sc.Scan() {
			rest = append(rest, sc.Text())
		}
		p.rest <- rest
	}()
	t.Cleanup(func() { cancel() })
	return p
}

// stop cancels the run (as SIGTERM does) and returns its exit code.
func (p *farmerProc) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	code := <-p.code
	if rest := <-p.rest; len(rest) > 0 {
		t.Errorf("stdout had more than the ready line: %q", rest)
	}
	return code
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), func() {}, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFarmerCommandRunServesAndStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	p := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0", "--capacity", "20MiB", "--log-level", "debug")
	key := testAccountKey()
	c := netclient.NewFarmerClient(p.addr, key, netclient.NewFarmerConfig())
	defer c.Close()
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if info.Capacity != 20<<20 || info.NodeID != p.addr.ID {
		t.Fatalf("info = %+v", info)
	}
	data := bytes.Repeat([]byte("shard"), 5000)
	root := merkle.RootOf(data)
	if err := c.PutShard(ctx, root, data); err != nil {
		t.Fatal(err)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit code %d after stop, want 0; stderr:\n%s", code, p.stderr)
	}
	if s := p.stderr.String(); strings.Contains(s, string(data[:20])) {
		t.Errorf("logs contain request bodies")
	}

	// id prints the same identity; a restart serves the same shard.
	code, out, _ := runCmd("id", "--dir", dir)
	if code != 0 || strings.TrimSpace(out) != p.addr.ID.String() {
		t.Fatalf("id = %d %q, want %s", code, out, p.addr.ID)
	}
	code, out, _ = runCmd("id", "--dir", dir, "--advertise", "farm.example:7001")
	if code != 0 || strings.TrimSpace(out) != p.addr.ID.String()+"@farm.example:7001" {
		t.Fatalf("id --advertise = %d %q", code, out)
	}
	p2 := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:1")
	if p2.addr.ID != p.addr.ID || p2.addr.Host != "127.0.0.1:1" {
		t.Fatalf("restarted farmer is %s, want %s@127.0.0.1:1", p2.addr, p.addr.ID)
	}
	if code := p2.stop(t); code != exitOK {
		t.Fatalf("exit code %d", code)
	}
}

func TestFarmerCommandExitCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, exitUsage},
		{"unknown command", []string{"frobnicate"}, exitUsage},
		{"unknown flag", []string{"run", "--bogus"}, exitUsage},
		{"bad size", []string{"run", "--dir", dir, "--capacity", "lots"}, exitUsage},
		{"zero capacity", []string{"run", "--dir", dir, "--capacity", "0"}, exitUsage},
		{"bad advertise", []string{"run", "--dir", dir, "--advertise", "nowhere"}, exitUsage},
		{"extra argument", []string{"run", "--dir", dir, "extra"}, exitUsage},
		{"bad log level", []string{"run", "--dir", dir, "--log-level", "loud"}, exitUsage},
		{"id without identity", []string{"id", "--dir", t.TempDir()}, exitDataDir},
		{"listen in use", []string{"run", "--dir", dir, "--listen", busy.Addr().String()}, exitListen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.want, errOut)
			}
			if strings.Contains(out, "farmer ready") {
				t.Fatalf("printed ready on failure")
			}
		})
	}
	t.Run("directory in use", func(t *testing.T) {
		p := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0")
		code, _, errOut := runCmd("run", "--dir", dir, "--listen", "127.0.0.1:0")
		if code != exitDataDir {
			t.Fatalf("second farmer on the directory: exit %d, want %d; stderr:\n%s", code, exitDataDir, errOut)
		}
		if code := p.stop(t); code != exitOK {
			t.Fatalf("exit %d", code)
		}
	})
}

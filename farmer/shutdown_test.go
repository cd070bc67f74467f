package farmer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/shardrive/shardrive/core/merkle"
)

// An upload in flight when Shutdown starts is finished and committed
// before the index closes.
func TestFarmerShutdownFinishesUploads(t *testing.T) {
	cfg := testConfig(t)
	f, addr := StartTest(t, cfg)
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	data := testData(60, 4*merkle.LeafSize)
	req := c.build(http.MethodPut, shardURL(merkle.RootOf(data)), "", data)
	pr, pw := io.Pipe()
	req.Body = pr
	req.GetBody = nil
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.hc.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	if _, err := pw.Write(data[:merkle.LeafSize]); err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool { f.gate.mu.Lock(); defer f.gate.mu.Unlock(); return f.gate.n == 1 })
	shut := make(chan error, 1)
	go func() { shut <- f.Shutdown(context.Background()) }()
	waitFor(func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.closed })
	if _, err := pw.Write(data[merkle.LeafSize:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if r := <-done; r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("upload across shutdown: %d %v", r.status, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	f2, addr2 := StartTest(t, cfg)
	got, err := newRawClient(t, f2, addr2, key).get(merkle.RootOf(data), 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("shard after restart: %v", err)
	}
}

// waitFor yields until cond holds. It has no deadline: the test binary's
// timeout catches a condition that never comes.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

func TestFarmerSchemaTooNew(t *testing.T) {
	cfg := testConfig(t)
	f, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.index.db.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, nil); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("New on a newer index: %v, want ErrSchemaTooNew", err)
	}
	// The failed start released the directory lock.
	if _, err := lockDir(filepath.Join(cfg.Dir, lockFile)); err != nil {
		t.Fatalf("lock after failed start: %v", err)
	}
}

func TestFarmerConfigValidate(t *testing.T) {
	good := NewConfig()
	good.Dir = "x"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no dir":            func(c *Config) { c.Dir = "" },
		"zero capacity":     func(c *Config) { c.Capacity = 0 },
		"negative quota":    func(c *Config) { c.AccountQuota = -1 },
		"huge shards":       func(c *Config) { c.MaxShardSize = 1 << 40 },
		"memory < shard":    func(c *Config) { c.MaxMemory = 1 },
		"bad advertise":     func(c *Config) { c.Advertise = "no-port" },
		"zero read timeout": func(c *Config) { c.ReadTimeout = 0 },
		"tiny headers":      func(c *Config) { c.MaxHeaderBytes = 10 },
		"bad verifier":      func(c *Config) { c.Verifier.MaxNonces = 0 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}

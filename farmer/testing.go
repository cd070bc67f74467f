package farmer

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// StartTest runs a farmer in this process on 127.0.0.1 with a port chosen
// by the OS, in cfg.Dir or else a fresh tb.TempDir(), and shuts it down in
// tb.Cleanup. A zero cfg gets NewConfig's defaults with 1 GiB capacity.
// Warnings and errors the farmer logs go to tb.Log. The address returned
// carries the farmer's identity for pinning.
func StartTest(tb testing.TB, cfg Config) (*Farmer, format.Address) {
	tb.Helper()
	return startTest(tb, cfg, nil)
}

func startTest(tb testing.TB, cfg Config, wrap func(http.Handler) http.Handler) (*Farmer, format.Address) {
	tb.Helper()
	if cfg == (Config{}) {
		cfg = NewConfig()
		cfg.Capacity = 1 << 30
	}
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
		os.Chmod(cfg.Dir, 0o700) // as an operator's data directory should be
	}
	f, err := New(cfg, slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		tb.Fatalf("start test farmer: %v", err)
	}
	f.wrap = wrap
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Shutdown(context.Background())
		tb.Fatalf("start test farmer: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	addr := format.Address{ID: f.ID(), Host: ln.Addr().String()}
	if cfg.Advertise != "" {
		addr.Host = cfg.Advertise
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			tb.Errorf("shut down test farmer: %v", err)
		}
		if err := <-served; err != nil && err != ErrClosed {
			tb.Errorf("test farmer: %v", err)
		}
	})
	return f, addr
}

// testWriter sends log lines to tb.Log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.tb.Log(string(b))
	return len(b), nil
}

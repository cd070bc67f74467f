package service

import (
	"errors"
	"testing"

	"github.com/shardrive/shardrive/core/promtext"
)

// A metrics address off loopback is refused before the daemon touches the
// home; a loopback one listens on loopback.
func TestMetricsAddressLoopbackOnly(t *testing.T) {
	cfg := NewConfig(Home{State: t.TempDir()}, t.TempDir())
	for _, addr := range []string{"0.0.0.0:9100", "[::]:9100", ":9100", "192.0.2.1:9100"} {
		cfg.Metrics = addr
		if err := cfg.Validate(); !errors.Is(err, promtext.ErrNotLoopback) {
			t.Errorf("Validate with metrics %q: %v, want ErrNotLoopback", addr, err)
		}
		if _, err := Start(t.Context(), cfg); !errors.Is(err, promtext.ErrNotLoopback) {
			t.Errorf("Start with metrics %q: %v, want ErrNotLoopback", addr, err)
		}
		if ln, err := listenMetrics(addr); !errors.Is(err, promtext.ErrNotLoopback) {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("listenMetrics(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	cfg.Metrics = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := listenMetrics("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func TestFarmerLabel(t *testing.T) {
	if got := farmerLabel("abcdefghijklmnopqrstuvwxyz"); got != "abcdefghijkl" {
		t.Errorf("farmerLabel = %q", got)
	}
	if got := farmerLabel("abc"); got != "abc" {
		t.Errorf("farmerLabel of a short id = %q", got)
	}
}

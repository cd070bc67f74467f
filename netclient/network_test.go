package netclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

func TestNetworkConfigValidate(t *testing.T) {
	if err := NewNetworkConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name   string
		change func(c *NetworkConfig)
	}{
		{"no inflight per farmer", func(c *NetworkConfig) { c.MaxInflightPerFarmer = 0 }},
		{"no inflight bytes", func(c *NetworkConfig) { c.MaxInflightBytes = 0 }},
		{"no timeout", func(c *NetworkConfig) { c.RequestTimeout = 0 }},
		{"negative retries", func(c *NetworkConfig) { c.Retries = -1 }},
		{"negative extra reads", func(c *NetworkConfig) { c.ExtraReads = -1 }},
		{"negative hedge", func(c *NetworkConfig) { c.HedgeDelay = -time.Second }},
		{"no down backoff", func(c *NetworkConfig) { c.DownBackoff = 0 }},
		{"cap below base", func(c *NetworkConfig) { c.MaxDownBackoff = c.DownBackoff - 1 }},
		{"negative full backoff", func(c *NetworkConfig) { c.FullBackoff = -1 }},
		{"no audit timeout", func(c *NetworkConfig) { c.AuditTimeout = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewNetworkConfig()
			tt.change(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrNetworkConfig) {
				t.Fatalf("Validate = %v, want ErrNetworkConfig", err)
			}
			if _, err := newNetwork(cfg, []farmerConn{newFakes(1)[0]}, nil); !errors.Is(err, ErrNetworkConfig) {
				t.Fatalf("newNetwork = %v, want ErrNetworkConfig", err)
			}
		})
	}
}

func TestNetworkNewRejects(t *testing.T) {
	f := newFakes(1)[0]
	if _, err := newNetwork(NewNetworkConfig(), nil, nil); err == nil {
		t.Error("no farmers: no error")
	}
	if _, err := newNetwork(NewNetworkConfig(), []farmerConn{f, f}, nil); err == nil {
		t.Error("duplicate farmer: no error")
	}
	if _, err := NewNetwork(NewNetworkConfig(), []*FarmerClient{nil}, nil); err == nil {
		t.Error("nil farmer: no error")
	}
}

func TestNetworkFarmersAndClose(t *testing.T) {
	fakes := newFakes(3)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	got := n.Farmers()
	for i, f := range fakes {
		if got[i] != f.addr.ID {
			t.Errorf("Farmers()[%d] = %s, want %s", i, got[i], f.addr.ID)
		}
	}
	n.Close()
	for i, f := range fakes {
		if !read(f, func(f *fakeFarmer) bool { return f.closed }) {
			t.Errorf("farmer %d not closed", i)
		}
	}
}

// checkPlaced checks that placements name distinct farmers and that each
// farmer holds the shard it was given.
func checkPlaced(t *testing.T, fakes []*fakeFarmer, placed []Placement, shards [][]byte, roots []merkle.Root) {
	t.Helper()
	byID := make(map[format.NodeID]*fakeFarmer)
	for _, f := range fakes {
		byID[f.addr.ID] = f
	}
	seen := make(map[format.NodeID]bool)
	for _, p := range placed {
		if seen[p.Farmer] {
			t.Errorf("farmer %s got two shards", p.Farmer)
		}
		seen[p.Farmer] = true
		f := byID[p.Farmer]
		if f == nil {
			t.Fatalf("shard %d placed on unknown farmer %s", p.Shard, p.Farmer)
		}
		held := read(f, func(f *fakeFarmer) []byte { return f.shards[roots[p.Shard]] })
		if !bytes.Equal(held, shards[p.Shard]) {
			t.Errorf("farmer %s does not hold shard %d", p.Farmer, p.Shard)
		}
	}
	for _, f := range fakes {
		if held := read(f, func(f *fakeFarmer) int { return len(f.shards) }); held > 1 {
			t.Errorf("farmer %s holds %d shards of one block", f.addr.ID, held)
		}
	}
}

func TestNetworkPlaceDistinctFarmers(t *testing.T) {
	fakes := newFakes(8)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	shards, roots := testShards(1, 6, 1000)
	placed, err := n.Place(t.Context(), shards, roots, 6)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if len(placed) != 6 {
		t.Fatalf("placed %d shards, want 6", len(placed))
	}
	for i, p := range placed {
		if p.Shard != i {
			t.Errorf("placements[%d].Shard = %d, want shard order", i, p.Shard)
		}
	}
	checkPlaced(t, fakes, placed, shards, roots)
}

func TestNetworkPlacePrefersFastFarmers(t *testing.T) {
	fakes := newFakes(5)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	seedLatency(n, fakes, 50, 10, 40, 20, 30)
	shards, roots := testShards(2, 3, 100)
	placed, err := n.Place(t.Context(), shards, roots, 3)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	want := []format.NodeID{fakes[1].addr.ID, fakes[3].addr.ID, fakes[4].addr.ID}
	for i, p := range placed {
		if p.Farmer != want[i] {
			t.Errorf("shard %d on %s, want %s", p.Shard, p.Farmer, want[i])
		}
	}
	for _, i := range []int{0, 2} {
		if puts := read(fakes[i], func(f *fakeFarmer) int { return f.puts }); puts != 0 {
			t.Errorf("slow farmer %d asked %d times", i, puts)
		}
	}
}

func TestNetworkPlaceFullFarmerSkipped(t *testing.T) {
	fakes := newFakes(4)
	fakes[0].full = true
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	seedLatency(n, fakes, 1, 10, 10, 10) // the full one is asked first
	shards, roots := testShards(3, 3, 500)
	placed, err := n.Place(t.Context(), shards, roots, 3)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if len(placed) != 3 {
		t.Fatalf("placed %d shards, want 3", len(placed))
	}
	checkPlaced(t, fakes, placed, shards, roots)
	for _, p := range placed {
		if p.Farmer == fakes[0].addr.ID {
			t.Errorf("shard %d placed on the full farmer", p.Shard)
		}
	}
	if puts := read(fakes[0], func(f *fakeFarmer) int { return f.puts }); puts != 1 {
		t.Fatalf("full farmer asked %d times, want 1", puts)
	}
	if s := statsOf(n, fakes[0].addr.ID); s.Down || s.Failures != 0 {
		t.Errorf("full farmer stats %+v: full is neither down nor a failure", s)
	}

	// The next block skips the full farmer without asking it.
	shards, roots = testShards(4, 3, 500)
	if _, err := n.Place(t.Context(), shards, roots, 3); err != nil {
		t.Fatalf("second Place: %v", err)
	}
	if puts := read(fakes[0], func(f *fakeFarmer) int { return f.puts }); puts != 1 {
		t.Errorf("full farmer asked again (%d puts)", puts)
	}
}

func TestNetworkPlaceFailedFarmerReplaced(t *testing.T) {
	fakes := newFakes(4)
	fakes[1].down = true
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	seedLatency(n, fakes, 1, 2, 3, 4)
	shards, roots := testShards(5, 3, 500)
	placed, err := n.Place(t.Context(), shards, roots, 3)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	checkPlaced(t, fakes, placed, shards, roots)
	if len(placed) != 3 || placed[1].Farmer != fakes[3].addr.ID {
		t.Errorf("placements %v: want shard 1 moved to farmer 3", placed)
	}
	if puts := read(fakes[1], func(f *fakeFarmer) int { return f.puts }); puts != 1 {
		t.Errorf("down farmer asked %d times, want 1", puts)
	}
	if s := statsOf(n, fakes[1].addr.ID); !s.Down || s.Failures != 1 || s.LastError == "" {
		t.Errorf("down farmer stats %+v, want down with one failure", s)
	}
}

func TestNetworkPlaceNotEnoughFarmers(t *testing.T) {
	tests := []struct {
		name    string
		farmers int
		down    []int
		shards  int
		minOK   int
		placed  int
	}{
		{"fewer farmers than shards", 2, nil, 4, 3, 2},
		{"farmers down", 4, []int{0, 2}, 4, 3, 2},
		{"all down", 3, []int{0, 1, 2}, 3, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakes := newFakes(tt.farmers)
			for _, i := range tt.down {
				fakes[i].down = true
			}
			n := newTestNetwork(t, testNetworkConfig(), fakes)
			shards, roots := testShards(6, tt.shards, 300)
			placed, err := n.Place(t.Context(), shards, roots, tt.minOK)
			if !errors.Is(err, ErrNotEnoughFarmers) {
				t.Fatalf("Place error %v, want ErrNotEnoughFarmers", err)
			}
			if len(placed) != tt.placed {
				t.Fatalf("placed %d shards, want %d returned for garbage collection", len(placed), tt.placed)
			}
			checkPlaced(t, fakes, placed, shards, roots)
			if tt.down != nil {
				var op *net.OpError
				if !errors.As(err, &op) {
					t.Errorf("error %v does not wrap the farmers' errors", err)
				}
			}
		})
	}
}

func TestNetworkPlaceRetries(t *testing.T) {
	tests := []struct {
		name    string
		retries int
		setup   func(f *fakeFarmer)
		ok      bool
		puts    int
	}{
		{"transient error on the only farmer is retried", 2, func(f *fakeFarmer) { f.failN = 2 }, true, 3},
		{"retries are bounded", 1, func(f *fakeFarmer) { f.failN = 2 }, false, 2},
		{"full is not retried", 3, func(f *fakeFarmer) { f.full = true }, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakes := newFakes(1)
			tt.setup(fakes[0])
			cfg := testNetworkConfig()
			cfg.Retries = tt.retries
			n := newTestNetwork(t, cfg, fakes)
			shards, roots := testShards(7, 1, 100)
			placed, err := n.Place(t.Context(), shards, roots, 1)
			if (err == nil) != tt.ok || len(placed) != map[bool]int{true: 1, false: 0}[tt.ok] {
				t.Errorf("Place = %v, %v; want ok=%v", placed, err, tt.ok)
			}
			if puts := read(fakes[0], func(f *fakeFarmer) int { return f.puts }); puts != tt.puts {
				t.Errorf("farmer asked %d times, want %d", puts, tt.puts)
			}
		})
	}
}

func TestNetworkPlaceBadArguments(t *testing.T) {
	n := newTestNetwork(t, testNetworkConfig(), newFakes(2))
	shards, roots := testShards(8, 2, 10)
	if _, err := n.Place(t.Context(), shards, roots[:1], 1); err == nil {
		t.Error("roots and shards of different lengths: no error")
	}
	if _, err := n.Place(t.Context(), shards, roots, 3); err == nil {
		t.Error("minOK above the shard count: no error")
	}
}

func TestNetworkPlaceByteBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size = 1000
		fakes := newFakes(3)
		meter := &byteMeter{}
		gate := make(chan struct{})
		for _, f := range fakes {
			f.meter, f.gate = meter, gate
		}
		cfg := testNetworkConfig()
		cfg.MaxInflightPerFarmer = 10
		cfg.MaxInflightBytes = 2 * size
		n := newTestNetwork(t, cfg, fakes)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for b := range errs {
			shards, roots := testShards(uint64(10+b), 3, size)
			wg.Go(func() { _, errs[b] = n.Place(t.Context(), shards, roots, 3) })
		}
		synctest.Wait()
		if got := meter.peak(); got != 2*size {
			t.Errorf("%d bytes in flight with everything blocked, want %d", got, 2*size)
		}
		close(gate)
		wg.Wait()
		for b, err := range errs {
			if err != nil {
				t.Errorf("Place %d: %v", b, err)
			}
		}
		if got := meter.peak(); got > 2*size {
			t.Errorf("peak %d bytes in flight, bound %d", got, 2*size)
		}
	})
}

func TestNetworkPerFarmerLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes := newFakes(3)
		gate := make(chan struct{})
		for _, f := range fakes {
			f.gate = gate
		}
		cfg := testNetworkConfig()
		cfg.MaxInflightPerFarmer = 2
		n := newTestNetwork(t, cfg, fakes)
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for b := range errs {
			shards, roots := testShards(uint64(20+b), 3, 100)
			wg.Go(func() { _, errs[b] = n.Place(t.Context(), shards, roots, 3) })
		}
		synctest.Wait()
		for i, f := range fakes {
			if got := read(f, func(f *fakeFarmer) int { return f.inflight }); got != 2 {
				t.Errorf("farmer %d: %d calls in flight with everything blocked, want 2", i, got)
			}
		}
		close(gate)
		wg.Wait()
		for b, err := range errs {
			if err != nil {
				t.Errorf("Place %d: %v", b, err)
			}
		}
		for i, f := range fakes {
			if got := read(f, func(f *fakeFarmer) int { return f.maxInflight }); got > 2 {
				t.Errorf("farmer %d saw %d concurrent calls, limit 2", i, got)
			}
			if got := read(f, func(f *fakeFarmer) int { return len(f.shards) }); got != 10 {
				t.Errorf("farmer %d holds %d shards, want one of each of the 10 blocks", i, got)
			}
		}
	})
}

// checkPieces checks that pieces hold exactly want of the shards, each
// equal to shards[i][off:off+n].
func checkPieces(t *testing.T, pieces, shards [][]byte, want []int, off, n int64) {
	t.Helper()
	if len(pieces) != len(shards) {
		t.Fatalf("%d pieces, want %d", len(pieces), len(shards))
	}
	got := 0
	for i, p := range pieces {
		if p == nil {
			continue
		}
		got++
		end := int64(len(shards[i]))
		if n >= 0 {
			end = off + n
		}
		if !bytes.Equal(p, shards[i][off:end]) {
			t.Errorf("piece %d is not the shard's bytes [%d, %d)", i, off, end)
		}
	}
	for _, i := range want {
		if pieces[i] == nil {
			t.Errorf("piece %d missing", i)
		}
	}
	if got != len(want) {
		t.Errorf("%d pieces, want %d", got, len(want))
	}
}

func TestNetworkFetchWithFarmersDown(t *testing.T) {
	tests := []struct {
		name   string
		extra  int
		off, n int64
	}{
		{"whole shards, no extra reads", 0, 0, -1},
		{"whole shards, extra reads", 2, 0, -1},
		{"range", 0, 100, 50},
		{"to the end", 1, 900, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const k, m = 3, 2
			fakes := newFakes(k + m)
			fakes[0].down, fakes[3].down = true, true
			cfg := testNetworkConfig()
			cfg.ExtraReads = tt.extra
			n := newTestNetwork(t, cfg, fakes)
			shards, roots := testShards(30, k+m, 1000)
			locs := store(fakes, shards, roots)
			pieces, err := n.Fetch(t.Context(), locs, k, tt.off, tt.n)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			checkPieces(t, pieces, shards, []int{1, 2, 4}, tt.off, tt.n)
			if tt.extra > 0 {
				return // a down farmer's request may have been cut off as the tail
			}
			for _, i := range []int{0, 3} {
				if s := statsOf(n, fakes[i].addr.ID); !s.Down {
					t.Errorf("farmer %d not marked down: %+v", i, s)
				}
			}
		})
	}
}

func TestNetworkFetchNotEnoughShards(t *testing.T) {
	fakes := newFakes(4)
	fakes[1].down, fakes[2].down = true, true
	cfg := testNetworkConfig()
	cfg.Retries = 1
	n := newTestNetwork(t, cfg, fakes)
	shards, roots := testShards(31, 4, 100)
	locs := store(fakes, shards, roots)
	_, err := n.Fetch(t.Context(), locs, 3, 0, -1)
	if !errors.Is(err, ErrNotEnoughShards) {
		t.Fatalf("Fetch error %v, want ErrNotEnoughShards", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("error %v does not wrap the farmers' errors", err)
	}
	// A transient failure is retried once (Retries = 1) after every other
	// location was tried.
	for _, i := range []int{1, 2} {
		if gets := read(fakes[i], func(f *fakeFarmer) int { return f.gets }); gets != 2 {
			t.Errorf("down farmer %d asked %d times, want 2", i, gets)
		}
	}

	// Too few locations fail without asking anyone.
	before := read(fakes[0], func(f *fakeFarmer) int { return f.gets })
	if _, err := n.Fetch(t.Context(), locs[:2], 3, 0, -1); !errors.Is(err, ErrNotEnoughShards) {
		t.Errorf("Fetch of 2 locations for k=3: %v, want ErrNotEnoughShards", err)
	}
	if after := read(fakes[0], func(f *fakeFarmer) int { return f.gets }); after != before {
		t.Error("farmer asked although k could not be reached")
	}
}

func TestNetworkFetchTransientRetry(t *testing.T) {
	fakes := newFakes(2)
	fakes[0].failN = 1
	cfg := testNetworkConfig()
	cfg.Retries = 1
	cfg.ExtraReads = 0
	n := newTestNetwork(t, cfg, fakes)
	shards, roots := testShards(32, 2, 100)
	locs := store(fakes, shards, roots)
	pieces, err := n.Fetch(t.Context(), locs, 2, 0, -1)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkPieces(t, pieces, shards, []int{0, 1}, 0, -1)
}

func TestNetworkFetchBadDataRoutedAround(t *testing.T) {
	fakes := newFakes(4)
	fakes[0].corrupt = true
	cfg := testNetworkConfig()
	cfg.ExtraReads = 0
	n := newTestNetwork(t, cfg, fakes)
	seedLatency(n, fakes, 1, 10, 10, 10) // the liar is asked first
	shards, roots := testShards(33, 4, 2000)
	locs := store(fakes, shards, roots)
	pieces, err := n.Fetch(t.Context(), locs, 3, 0, -1)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkPieces(t, pieces, shards, []int{1, 2, 3}, 0, -1)
	s := statsOf(n, fakes[0].addr.ID)
	if s.BadData != 1 || s.Failures != 1 || !s.Down {
		t.Errorf("liar's stats %+v, want one bad answer and down", s)
	}
	if st := n.Stats(); st[len(st)-1].ID != fakes[0].addr.ID {
		t.Errorf("liar not ranked last: %v", st)
	}

	// Routed around: the next fetch does not ask it.
	if _, err := n.Fetch(t.Context(), locs, 3, 0, -1); err != nil {
		t.Fatalf("second Fetch: %v", err)
	}
	if gets := read(fakes[0], func(f *fakeFarmer) int { return f.gets }); gets != 1 {
		t.Errorf("liar asked %d times, want 1", gets)
	}
}

func TestNetworkFetchCancelsSlowTail(t *testing.T) {
	fakes := newFakes(4)
	slowEntered := make(chan struct{})
	fakes[0].hang, fakes[0].entered = true, slowEntered
	gate := make(chan struct{})
	for _, f := range fakes[1:] {
		f.gate = gate
	}
	cfg := testNetworkConfig()
	cfg.ExtraReads = 1
	n := newTestNetwork(t, cfg, fakes)
	shards, roots := testShards(34, 4, 500)
	locs := store(fakes, shards, roots)

	// The fast farmers answer only once the slow one is being asked.
	go func() {
		<-slowEntered
		close(gate)
	}()
	pieces, err := n.Fetch(t.Context(), locs, 3, 0, -1)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkPieces(t, pieces, shards, []int{1, 2, 3}, 0, -1)
	ctxErrs := read(fakes[0], func(f *fakeFarmer) []error { return f.ctxErrs })
	if len(ctxErrs) != 1 || !errors.Is(ctxErrs[0], context.Canceled) {
		t.Errorf("slow farmer's request ended with %v, want one context.Canceled", ctxErrs)
	}
	if s := statsOf(n, fakes[0].addr.ID); s.Failures != 0 || s.Down {
		t.Errorf("slow farmer blamed for our cancellation: %+v", s)
	}
}

func TestNetworkFetchHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes := newFakes(2)
		fakes[0].hang = true
		cfg := testNetworkConfig()
		cfg.ExtraReads = 0
		cfg.HedgeDelay = 50 * time.Millisecond
		n := newTestNetwork(t, cfg, fakes)
		seedLatency(n, fakes, 1, 10) // the hanging farmer is asked first
		shards, roots := testShards(35, 2, 100)
		locs := store(fakes, shards, roots)
		pieces, err := n.Fetch(t.Context(), locs, 1, 0, -1)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		checkPieces(t, pieces, shards, []int{1}, 0, -1)
		ctxErrs := read(fakes[0], func(f *fakeFarmer) []error { return f.ctxErrs })
		if len(ctxErrs) != 1 || !errors.Is(ctxErrs[0], context.Canceled) {
			t.Errorf("slow farmer's request ended with %v, want one context.Canceled", ctxErrs)
		}
		// Being cut off after longer than expected raised its latency.
		if s := statsOf(n, fakes[0].addr.ID); s.Latency <= time.Millisecond || s.Failures != 0 {
			t.Errorf("slow farmer's stats %+v: want latency raised, no failure", s)
		}
	})
}

func TestNetworkFetchAdaptiveHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes := newFakes(2)
		fakes[0].hang = true
		cfg := testNetworkConfig()
		cfg.ExtraReads = 0
		cfg.HedgeDelay = 0
		n := newTestNetwork(t, cfg, fakes)
		seedLatency(n, fakes, 20, 30)
		shards, roots := testShards(36, 2, 100)
		locs := store(fakes, shards, roots)
		start := time.Now()
		if _, err := n.Fetch(t.Context(), locs, 1, 0, -1); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		// In the bubble time moves only when everything waits, so the hedge
		// fired exactly twice the first farmer's latency after the start.
		if got := time.Since(start); got != 40*time.Millisecond {
			t.Errorf("hedged after %v, want 2×20ms", got)
		}
	})
}

func TestNetworkFetchNearestFirst(t *testing.T) {
	fakes := newFakes(6)
	cfg := testNetworkConfig()
	cfg.ExtraReads = 0
	n := newTestNetwork(t, cfg, fakes)
	seedLatency(n, fakes, 50, 5, 40, 10, 30, 20)
	shards, roots := testShards(37, 6, 100)
	locs := store(fakes, shards, roots)
	pieces, err := n.Fetch(t.Context(), locs, 3, 0, -1)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkPieces(t, pieces, shards, []int{1, 3, 5}, 0, -1)
	for i, f := range fakes {
		want := map[int]int{1: 1, 3: 1, 5: 1}[i]
		if gets := read(f, func(f *fakeFarmer) int { return f.gets }); gets != want {
			t.Errorf("farmer %d (latency rank) asked %d times, want %d", i, gets, want)
		}
	}
}

func TestNetworkFetchDuplicateLocations(t *testing.T) {
	fakes := newFakes(3)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	shards, roots := testShards(38, 2, 100)
	locs := store(fakes, shards, roots)
	// Shard 0 also on farmer 2 (a repair in progress); farmer 0 is down.
	fakes[2].set(func(f *fakeFarmer) { f.shards[roots[0]] = shards[0] })
	fakes[0].set(func(f *fakeFarmer) { f.down = true })
	locs = append(locs, ShardLoc{Shard: 0, Root: roots[0], Farmer: fakes[2].addr.ID})
	pieces, err := n.Fetch(t.Context(), locs, 2, 0, -1)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkPieces(t, pieces, shards, []int{0, 1}, 0, -1)
}

func TestNetworkFetchUnknownFarmer(t *testing.T) {
	fakes := newFakes(2)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	shards, roots := testShards(39, 2, 100)
	locs := store(fakes, shards, roots)
	locs[1].Farmer = format.NodeID{0xff}
	if _, err := n.Fetch(t.Context(), locs, 2, 0, -1); !errors.Is(err, ErrNotEnoughShards) || !errors.Is(err, ErrUnknownFarmer) {
		t.Errorf("Fetch with an unknown farmer: %v, want ErrNotEnoughShards and ErrUnknownFarmer", err)
	}
	pieces, err := n.Fetch(t.Context(), locs, 1, 0, -1)
	if err != nil {
		t.Fatalf("Fetch k=1: %v", err)
	}
	checkPieces(t, pieces, shards, []int{0}, 0, -1)
}

func TestNetworkFetchContextCanceled(t *testing.T) {
	fakes := newFakes(2)
	entered := make(chan struct{})
	fakes[0].hang, fakes[0].entered = true, entered
	fakes[1].hang = true
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	shards, roots := testShards(40, 2, 100)
	locs := store(fakes, shards, roots)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-entered
		cancel()
	}()
	if _, err := n.Fetch(ctx, locs, 2, 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch = %v, want context.Canceled", err)
	}
	for i, f := range fakes {
		if s := statsOf(n, f.addr.ID); s.Failures != 0 || s.Down {
			t.Errorf("farmer %d blamed for the caller's cancellation: %+v", i, s)
		}
	}
}

func TestNetworkDelete(t *testing.T) {
	fakes := newFakes(2)
	cfg := testNetworkConfig()
	cfg.Retries = 1
	n := newTestNetwork(t, cfg, fakes)
	shards, roots := testShards(41, 2, 100)
	store(fakes, shards, roots)

	if err := n.Delete(t.Context(), fakes[0].addr.ID, roots[0]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if held := read(fakes[0], func(f *fakeFarmer) int { return len(f.shards) }); held != 0 {
		t.Errorf("farmer still holds %d shards", held)
	}
	if err := n.Delete(t.Context(), fakes[0].addr.ID, roots[0]); !errors.Is(err, format.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if err := n.Delete(t.Context(), format.NodeID{0xff}, roots[0]); !errors.Is(err, ErrUnknownFarmer) {
		t.Errorf("Delete on unknown farmer = %v, want ErrUnknownFarmer", err)
	}
	fakes[1].set(func(f *fakeFarmer) { f.failN = 1 })
	if err := n.Delete(t.Context(), fakes[1].addr.ID, roots[1]); err != nil {
		t.Errorf("Delete after a transient error: %v", err)
	}
	if d := read(fakes[1], func(f *fakeFarmer) int { return f.deletes }); d != 2 {
		t.Errorf("farmer asked %d times, want 2", d)
	}
}

func TestNetworkProbe(t *testing.T) {
	fakes := newFakes(3)
	fakes[2].down = true
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	n.Probe(t.Context())
	for i, f := range fakes {
		if infos := read(f, func(f *fakeFarmer) int { return f.infos }); infos != 1 {
			t.Errorf("farmer %d probed %d times", i, infos)
		}
		s := statsOf(n, f.addr.ID)
		if i == 2 {
			if !s.Down || s.Failures != 1 || !s.LastSeen.IsZero() {
				t.Errorf("down farmer stats %+v", s)
			}
			continue
		}
		if s.Down || s.Latency <= 0 || s.LastSeen.IsZero() || s.Addr != f.addr.Host {
			t.Errorf("farmer %d stats %+v: want up, measured, seen", i, s)
		}
	}
}

func TestNetworkStatsRoundTrip(t *testing.T) {
	fakes := newFakes(2)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	seen := time.Unix(1700000000, 0)
	in := []FarmerStats{
		{ID: fakes[0].addr.ID, Latency: 30 * time.Millisecond, Throughput: 1e6, Successes: 5, Failures: 2, BadData: 1, LastError: "boom", LastSeen: seen},
		{ID: fakes[1].addr.ID, Latency: 10 * time.Millisecond, Down: true},
		{ID: format.NodeID{0xee}, Latency: time.Millisecond}, // not in the network
	}
	n.SetStats(in)
	out := n.Stats()
	if len(out) != 2 {
		t.Fatalf("%d stats, want 2", len(out))
	}
	// The down farmer comes last although it is faster.
	want0 := in[0]
	want0.Addr = fakes[0].addr.Host
	if out[0] != want0 {
		t.Errorf("stats[0] = %+v, want %+v", out[0], want0)
	}
	if out[1].ID != fakes[1].addr.ID || !out[1].Down || out[1].Latency != 10*time.Millisecond {
		t.Errorf("stats[1] = %+v, want the down farmer", out[1])
	}
}

// FarmerClient errors in the shapes the network sorts them into.
func TestNetworkClassify(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		kind      callKind
		err       error
		out       outcome
		transient bool
	}{
		{"ok", live, callGet, nil, outcomeOK, false},
		{"our cancel", done, callGet, context.Canceled, outcomeCanceled, false},
		{"call timeout", live, callGet, fmt.Errorf("get: %w", context.DeadlineExceeded), outcomeFailed, true},
		{"refused connection", live, callPut, errRefused, outcomeFailed, true},
		{"server error", live, callPut, answer(errors.New("disk on fire")), outcomeFailed, true},
		{"shutting down", live, callGet, answer(format.ErrUnavailable), outcomeFailed, true},
		{"full", live, callPut, answer(format.ErrFarmerFull), outcomeFull, false},
		{"quota", live, callPut, answer(format.ErrQuotaExceeded), outcomeFull, false},
		{"proof on get", live, callGet, fmt.Errorf("x: %w", merkle.ErrProof), outcomeBadData, false},
		{"hash mismatch on get", live, callGet, format.ErrHashMismatch, outcomeBadData, false},
		{"hash mismatch on put", live, callPut, answer(format.ErrHashMismatch), outcomeRefused, false},
		{"not found", live, callGet, answer(format.ErrNotFound), outcomeRefused, false},
		{"not found on delete", live, callDelete, answer(format.ErrNotFound), outcomeAnswered, false},
		{"stored copy corrupt", live, callGet, answer(format.ErrCorrupt), outcomeRefused, false},
		{"bad range", live, callGet, merkle.ErrRange, outcomeAnswered, false},
		{"no root record", live, callGetRoot, answer(format.ErrNotFound), outcomeAnswered, false},
		{"root conflict", live, callPutRoot, &RootConflict{Stored: 3}, outcomeAnswered, false},
		{"root conflict without a version", live, callPutRoot, answer(format.ErrConflict), outcomeAnswered, false},
		{"garbled root", live, callGetRoot, fmt.Errorf("x: %w", format.ErrMalformed), outcomeBadData, false},
		{"root put refused", live, callPutRoot, answer(format.ErrTooLarge), outcomeRefused, false},
		{"root over quota", live, callPutRoot, answer(format.ErrQuotaExceeded), outcomeFull, false},
		{"root put timeout", live, callPutRoot, context.DeadlineExceeded, outcomeFailed, true},
		{"audit passed", live, callAudit, nil, outcomeOK, false},
		{"audit wrong bytes", live, callAudit, fmt.Errorf("x: %w: %w", format.ErrHashMismatch, merkle.ErrProof), outcomeBadData, false},
		{"audit shard gone", live, callAudit, answer(format.ErrNotFound), outcomeRefused, false},
		{"audit leaf denied", live, callAudit, answer(merkle.ErrRange), outcomeRefused, false},
		{"audit timeout", live, callAudit, context.DeadlineExceeded, outcomeFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.ctx, tt.kind, tt.err); got != tt.out {
				t.Errorf("classify = %d, want %d", got, tt.out)
			}
			if tt.err != nil {
				if got := transient(tt.ctx, tt.kind, tt.err); got != tt.transient {
					t.Errorf("transient = %v, want %v", got, tt.transient)
				}
			}
		})
	}
}

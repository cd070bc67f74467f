package netclient

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/shardrive/shardrive/core/format"
)

// placedOn returns the farmer index (into fakes) of each placement, by
// shard.
func placedOn(t *testing.T, fakes []*fakeFarmer, placed []Placement) []int {
	t.Helper()
	out := make([]int, len(placed))
	for i, p := range placed {
		out[i] = slices.IndexFunc(fakes, func(f *fakeFarmer) bool { return f.addr.ID == p.Farmer })
		if out[i] < 0 || p.Shard != i {
			t.Fatalf("placement %d = %+v: unknown farmer or out of shard order", i, p)
		}
	}
	return out
}

func ids(fakes []*fakeFarmer, idx ...int) []format.NodeID {
	var out []format.NodeID
	for _, i := range idx {
		out = append(out, fakes[i].addr.ID)
	}
	return out
}

func gets(f *fakeFarmer) int { return read(f, func(f *fakeFarmer) int { return f.gets }) }

func TestNetworkExcludedGetNoShards(t *testing.T) {
	fakes := newFakes(8)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	// Wide gaps: the puts below are measured too and pull their farmers'
	// latency towards the fakes' microseconds; farmer 0 must stay fastest
	// whatever the machine's speed.
	seedLatency(n, fakes, 1, 10, 11, 12, 13, 14, 15, 16)
	n.SetExcluded(ids(fakes, 0, 2))
	if got, want := n.Excluded(), ids(fakes, 0, 2); !slices.Equal(got, want) {
		t.Errorf("Excluded() = %v, want %v", got, want)
	}
	shards, roots := testShards(60, 6, 100)
	placed, err := n.Place(t.Context(), shards, roots, 6)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if got, want := placedOn(t, fakes, placed), []int{1, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
		t.Errorf("placed on %v, want %v (the fastest not excluded)", got, want)
	}
	for _, i := range []int{0, 2} {
		if puts := read(fakes[i], func(f *fakeFarmer) int { return f.puts }); puts != 0 {
			t.Errorf("excluded farmer %d asked to store %d times", i, puts)
		}
	}
	// Seven shards do not fit on six eligible farmers.
	shards, roots = testShards(61, 7, 100)
	if _, err := n.Place(t.Context(), shards, roots, 7); !errors.Is(err, ErrNotEnoughFarmers) {
		t.Errorf("Place of 7 shards on 6 eligible farmers = %v, want ErrNotEnoughFarmers", err)
	}
	// Lifting the exclusion makes them eligible again.
	n.SetExcluded(nil)
	shards, roots = testShards(62, 1, 100)
	placed, err = n.Place(t.Context(), shards, roots, 1)
	if err != nil || placedOn(t, fakes, placed)[0] != 0 {
		t.Errorf("Place after SetExcluded(nil) = %v, %v; want farmer 0", placed, err)
	}
}

func TestNetworkFetchExcludedLast(t *testing.T) {
	// Farmer 0 is the fastest but excluded, farmer 1 is down, 2 and 3
	// are healthy.
	fakes := newFakes(4)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	seedLatency(n, fakes, 1, 2, 30, 40)
	n.SetStats([]FarmerStats{{ID: fakes[1].addr.ID, Latency: 2e6, Down: true}})
	n.SetExcluded(ids(fakes, 0))
	shards, roots := testShards(63, 4, 100)
	locs := store(fakes, shards, roots)

	pieces, err := n.Fetch(t.Context(), locs, 2, 0, -1)
	if err != nil {
		t.Fatalf("Fetch k=2: %v", err)
	}
	checkPieces(t, pieces, shards, []int{2, 3}, 0, -1)
	// A third piece comes from the excluded farmer, before the down one.
	pieces, err = n.Fetch(t.Context(), locs, 3, 0, -1)
	if err != nil {
		t.Fatalf("Fetch k=3: %v", err)
	}
	checkPieces(t, pieces, shards, []int{0, 2, 3}, 0, -1)
	if g := gets(fakes[1]); g != 0 {
		t.Errorf("down farmer asked %d times before the excluded one was", g)
	}
	if s := n.Stats(); s[2].ID != fakes[0].addr.ID || s[3].ID != fakes[1].addr.ID {
		t.Errorf("Stats order %v, %v last: want the excluded farmer, then the down one", s[2].ID, s[3].ID)
	}
}

func TestNetworkPlaceAvoiding(t *testing.T) {
	fakes := newFakes(6)
	fakes[3].failN = 1 // the first choice of shard 0 fails once
	cfg := testNetworkConfig()
	cfg.Retries = 2
	n := newTestNetwork(t, cfg, fakes)
	seedLatency(n, fakes, 1, 2, 3, 4, 5, 6)
	shards, roots := testShards(64, 2, 100)
	// Repair of two shards of a block whose others sit on farmers 0-2;
	// an unknown ID and a repeat are ignored.
	avoid := append(ids(fakes, 0, 1, 2, 1), format.NodeID{0xee})
	placed, err := n.PlaceAvoiding(t.Context(), shards, roots, 2, avoid)
	if err != nil {
		t.Fatalf("PlaceAvoiding: %v", err)
	}
	// Shard 0 tried farmer 3, failed, and moved on to 5 (4 went to shard 1).
	if got, want := placedOn(t, fakes, placed), []int{5, 4}; !slices.Equal(got, want) {
		t.Errorf("placed on %v, want %v", got, want)
	}
	for _, i := range []int{0, 1, 2} {
		if puts := read(fakes[i], func(f *fakeFarmer) int { return f.puts }); puts != 0 {
			t.Errorf("avoided farmer %d asked %d times", i, puts)
		}
	}
	// With every other farmer avoided, nothing can be placed.
	shards, roots = testShards(65, 1, 100)
	placed, err = n.PlaceAvoiding(t.Context(), shards, roots, 1, ids(fakes, 0, 1, 2, 3, 4, 5))
	if !errors.Is(err, ErrNotEnoughFarmers) || len(placed) != 0 {
		t.Errorf("PlaceAvoiding every farmer = %v, %v; want ErrNotEnoughFarmers", placed, err)
	}
}

func TestNetworkPlaceRegions(t *testing.T) {
	// Farmers by speed: 0 and 1 in region a, 2 and 3 in b, 4 in c, 5
	// declares none.
	regions := []string{"a", "a", "b", "b", "c", ""}
	setup := func(t *testing.T) ([]*fakeFarmer, *Network) {
		fakes := newFakes(len(regions))
		for i, r := range regions {
			fakes[i].region = r
		}
		cfg := testNetworkConfig()
		cfg.Retries = 2
		n := newTestNetwork(t, cfg, fakes)
		n.Probe(t.Context()) // learns the regions
		seedLatency(n, fakes, 1, 2, 3, 4, 5, 6)
		return fakes, n
	}
	tests := []struct {
		name   string
		shards int
		avoid  []int
		change func(fakes []*fakeFarmer, n *Network)
		want   []int
	}{
		{"one per region first", 3, nil, nil, []int{0, 2, 4}},
		// The farmer without a region shares with nobody; then regions
		// run out and the best farmer left is taken: a soft preference.
		{"regions run out", 6, nil, nil, []int{0, 2, 4, 5, 1, 3}},
		{"avoided farmers' regions are used", 2, []int{0}, nil, []int{2, 4}},
		{"health before region", 3, nil, func(fakes []*fakeFarmer, n *Network) {
			n.SetStats([]FarmerStats{{ID: fakes[4].addr.ID, Latency: 5e6, Down: true}})
		}, []int{0, 2, 5}},
		// Shard 0's first choice (a) fails; a is free again, so it moves
		// to farmer 1 rather than to b's farmer 3.
		{"a failed put frees its region", 2, nil, func(fakes []*fakeFarmer, n *Network) {
			fakes[0].set(func(f *fakeFarmer) { f.down = true })
		}, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakes, n := setup(t)
			if tt.change != nil {
				tt.change(fakes, n)
			}
			shards, roots := testShards(66, tt.shards, 100)
			placed, err := n.PlaceAvoiding(t.Context(), shards, roots, tt.shards, ids(fakes, tt.avoid...))
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if got := placedOn(t, fakes, placed); !slices.Equal(got, tt.want) {
				t.Errorf("placed on %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNetworkRegionLearned(t *testing.T) {
	fakes := newFakes(3)
	fakes[0].region = "eu-west"
	fakes[1].region = "bad\x00label"
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	// A region seeded from the cache holds until the farmer says otherwise.
	n.SetStats([]FarmerStats{{ID: fakes[2].addr.ID, Region: "us-east"}})
	if r := statsOf(n, fakes[2].addr.ID).Region; r != "us-east" {
		t.Errorf("seeded region %q", r)
	}
	info, err := n.FarmerInfo(t.Context(), fakes[0].addr.ID)
	if err != nil || info.NodeID != fakes[0].addr.ID || info.Region != "eu-west" {
		t.Fatalf("FarmerInfo = %+v, %v", info, err)
	}
	if r := statsOf(n, fakes[0].addr.ID).Region; r != "eu-west" {
		t.Errorf("region after FarmerInfo %q, want eu-west", r)
	}
	n.Probe(t.Context())
	for i, want := range []string{"eu-west", "", ""} {
		if r := statsOf(n, fakes[i].addr.ID).Region; r != want {
			t.Errorf("farmer %d region after Probe %q, want %q", i, r, want)
		}
	}
	if _, err := n.FarmerInfo(t.Context(), format.NodeID{0xee}); !errors.Is(err, ErrUnknownFarmer) {
		t.Errorf("FarmerInfo of an unknown farmer: %v", err)
	}
	fakes[0].set(func(f *fakeFarmer) { f.down = true })
	if _, err := n.FarmerInfo(t.Context(), fakes[0].addr.ID); err == nil || !statsOf(n, fakes[0].addr.ID).Down {
		t.Errorf("FarmerInfo of a down farmer: %v, want an error and the farmer down", err)
	}
}

func TestNetworkAdd(t *testing.T) {
	fakes := newFakes(4)
	n := newTestNetwork(t, testNetworkConfig(), fakes[:2])
	n.SetExcluded(ids(fakes, 3)) // known to be excluded before it joins
	for _, f := range fakes[2:] {
		if err := n.add(f); err != nil {
			t.Fatalf("add: %v", err)
		}
	}
	if err := n.add(fakes[1]); !errors.Is(err, ErrDuplicateFarmer) {
		t.Errorf("adding a farmer twice: %v, want ErrDuplicateFarmer", err)
	}
	if err := n.Add(nil); err == nil {
		t.Error("Add(nil): no error")
	}
	if got, want := n.Farmers(), ids(fakes, 0, 1, 2, 3); !slices.Equal(got, want) {
		t.Errorf("Farmers() = %v, want %v", got, want)
	}
	seedLatency(n, fakes, 40, 30, 20, 10)
	shards, roots := testShards(67, 3, 100)
	placed, err := n.Place(t.Context(), shards, roots, 3)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if got, want := placedOn(t, fakes, placed), []int{2, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("placed on %v, want %v: the added farmer first, the excluded one never", got, want)
	}
	n.Probe(t.Context())
	if infos := read(fakes[3], func(f *fakeFarmer) int { return f.infos }); infos != 1 {
		t.Errorf("added farmer probed %d times", infos)
	}
	n.Close()
	if !read(fakes[3], func(f *fakeFarmer) bool { return f.closed }) {
		t.Error("added farmer not closed")
	}
}

// TestNetworkAddConcurrent adds farmers while blocks are placed and
// fetched: the race detector checks the copy-on-write farmer set.
func TestNetworkAddConcurrent(t *testing.T) {
	const start, added = 3, 12
	fakes := newFakes(start + added)
	n := newTestNetwork(t, testNetworkConfig(), fakes[:start])
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 20 {
				shards, roots := testShards(uint64(100+w*20+i), 3, 100)
				// Early on, one of the three first farmers is excluded.
				placed, err := n.Place(t.Context(), shards, roots, 2)
				if err != nil {
					t.Errorf("Place: %v", err)
					return
				}
				var locs []ShardLoc
				for _, p := range placed {
					locs = append(locs, ShardLoc{Shard: p.Shard, Root: roots[p.Shard], Farmer: p.Farmer})
				}
				if _, err := n.Fetch(t.Context(), locs, 2, 0, -1); err != nil {
					t.Errorf("Fetch: %v", err)
				}
				n.SetExcluded(ids(fakes, i%start))
				_ = n.Stats()
			}
		})
	}
	for _, f := range fakes[start:] {
		if err := n.add(f); err != nil {
			t.Errorf("add: %v", err)
		}
	}
	wg.Wait()
	if got := len(n.Farmers()); got != start+added {
		t.Errorf("%d farmers, want %d", got, start+added)
	}
	if got := len(n.Stats()); got != start+added {
		t.Errorf("%d stats, want %d", got, start+added)
	}
	for i, r := range n.GetRoots(t.Context()) {
		if r.Farmer != fakes[i].addr.ID {
			t.Errorf("GetRoots[%d] from %s, want %s", i, r.Farmer, fakes[i].addr.ID)
		}
	}
}

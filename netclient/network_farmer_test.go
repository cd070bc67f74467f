package netclient

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
)

// TestNetworkWithFarmers runs the Network over real farmers on loopback
// TLS: four that work, one that is full and one address where nobody
// listens.
func TestNetworkWithFarmers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six farmers")
	}
	const k, m = 2, 2
	type node struct {
		farm *farmer.Farmer // nil for the dead address
		addr format.Address
		key  ed25519.PrivateKey
	}
	newKey := func(i int) ed25519.PrivateKey {
		return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
	}
	var good []node
	for i := range k + m {
		f, addr := farmer.StartTest(t, farmer.Config{})
		good = append(good, node{f, addr, newKey(i)})
	}
	fullCfg := farmer.NewConfig()
	fullCfg.Capacity = 1 << 10
	fullFarm, fullAddr := farmer.StartTest(t, fullCfg)
	full := node{fullFarm, fullAddr, newKey(10)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := node{addr: format.Address{ID: format.NodeID{0xde, 0xad}, Host: ln.Addr().String()}, key: newKey(11)}
	ln.Close()

	all := append(slices.Clone(good), full, dead)
	var clients []*FarmerClient
	for _, nd := range all {
		clients = append(clients, NewFarmerClient(nd.addr, nd.key, NewFarmerConfig()))
	}
	cfg := NewNetworkConfig()
	cfg.RequestTimeout = 30 * time.Second
	cfg.HedgeDelay = time.Minute // hedging is the fakes' business
	cfg.ExtraReads = 0
	n, err := NewNetwork(cfg, clients, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	// The full farmer and the dead address look fastest, so Place meets
	// them first.
	seed := []FarmerStats{{ID: full.addr.ID, Latency: time.Microsecond}, {ID: dead.addr.ID, Latency: time.Microsecond}}
	for _, nd := range good {
		seed = append(seed, FarmerStats{ID: nd.addr.ID, Latency: 10 * time.Millisecond})
	}
	n.SetStats(seed)

	shards, roots := testShards(100, k+m, 40<<10)
	placed, err := n.Place(t.Context(), shards, roots, k+m)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	onGood := make(map[format.NodeID]bool)
	for _, nd := range good {
		onGood[nd.addr.ID] = true
	}
	seen := make(map[format.NodeID]bool)
	for _, p := range placed {
		if !onGood[p.Farmer] || seen[p.Farmer] {
			t.Errorf("shard %d on %s: want each on its own working farmer", p.Shard, p.Farmer)
		}
		seen[p.Farmer] = true
	}
	if s := statsOf(n, dead.addr.ID); !s.Down || s.Failures == 0 {
		t.Errorf("dead address stats %+v, want down", s)
	}
	if s := statsOf(n, full.addr.ID); s.Down || s.LastSeen.IsZero() {
		t.Errorf("full farmer stats %+v, want up and seen", s)
	}

	byID := make(map[format.NodeID]node)
	for _, nd := range all {
		byID[nd.addr.ID] = nd
	}
	locs := make([]ShardLoc, len(placed))
	for i, p := range placed {
		locs[i] = ShardLoc{Shard: p.Shard, Root: roots[p.Shard], Farmer: p.Farmer}
	}
	t.Run("fetch", func(t *testing.T) {
		pieces, err := n.Fetch(t.Context(), locs, k, 0, -1)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if got := countPieces(pieces); got != k {
			t.Errorf("%d pieces, want %d", got, k)
		}
		for i, p := range pieces {
			if p != nil && !bytes.Equal(p, shards[i]) {
				t.Errorf("piece %d differs from the shard", i)
			}
		}
		pieces, err = n.Fetch(t.Context(), locs, k+m, 20000, 1000)
		if err != nil {
			t.Fatalf("Fetch range: %v", err)
		}
		for i, p := range pieces {
			if !bytes.Equal(p, shards[i][20000:21000]) {
				t.Errorf("range of piece %d differs from the shard", i)
			}
		}
	})

	t.Run("rotten disk routed around", func(t *testing.T) {
		// Two farmers' copies rot on disk, and those farmers look fastest.
		var stats []FarmerStats
		for _, l := range locs[:m] {
			nd := byID[l.Farmer]
			acct, err := format.AccountIDFromKey(nd.key.Public().(ed25519.PublicKey))
			if err != nil {
				t.Fatal(err)
			}
			path := nd.farm.ShardPath(acct, l.Root)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 0xff
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			stats = append(stats, FarmerStats{ID: l.Farmer, Latency: time.Microsecond})
		}
		n.SetStats(stats)
		pieces, err := n.Fetch(t.Context(), locs, k, 0, -1)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for _, l := range locs[:m] {
			if pieces[l.Shard] != nil {
				t.Errorf("rotten shard %d returned", l.Shard)
			}
			if s := statsOf(n, l.Farmer); s.Failures == 0 {
				t.Errorf("farmer with rotten shard %d not penalised: %+v", l.Shard, s)
			}
		}
		for _, l := range locs[m:] {
			if !bytes.Equal(pieces[l.Shard], shards[l.Shard]) {
				t.Errorf("piece %d missing or wrong", l.Shard)
			}
		}
	})

	t.Run("probe", func(t *testing.T) {
		n.Probe(t.Context())
		for _, nd := range all {
			s := statsOf(n, nd.addr.ID)
			if nd.farm == nil {
				if !s.Down {
					t.Errorf("dead address not down after probe: %+v", s)
				}
				continue
			}
			if s.Down || s.LastSeen.IsZero() {
				t.Errorf("farmer %s after probe: %+v, want up", nd.addr.Host, s)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		for _, p := range placed {
			// A farmer may have dropped a rotten copy already.
			if err := n.Delete(t.Context(), p.Farmer, roots[p.Shard]); err != nil && !errors.Is(err, format.ErrNotFound) {
				t.Errorf("Delete shard %d: %v", p.Shard, err)
			}
		}
		_, err := n.Fetch(t.Context(), locs, 1, 0, -1)
		if !errors.Is(err, ErrNotEnoughShards) || !errors.Is(err, format.ErrNotFound) {
			t.Errorf("Fetch after delete: %v, want ErrNotEnoughShards wrapping ErrNotFound", err)
		}
	})
}

func countPieces(pieces [][]byte) int {
	c := 0
	for _, p := range pieces {
		if p != nil {
			c++
		}
	}
	return c
}

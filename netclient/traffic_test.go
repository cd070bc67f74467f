package netclient

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
)

// TestTrafficCounts checks the byte counters against real farmers: every
// payload byte of a successful put or get is counted once, on its side.
func TestTrafficCounts(t *testing.T) {
	var clients []*FarmerClient
	for i := range 2 {
		_, addr := farmer.StartTest(t, farmer.Config{})
		key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		clients = append(clients, NewFarmerClient(addr, key, NewFarmerConfig()))
	}
	cfg := NewNetworkConfig()
	cfg.RequestTimeout = 30 * time.Second
	cfg.HedgeDelay = time.Minute
	cfg.ExtraReads = 0
	n, err := NewNetwork(cfg, clients, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if tr := n.Traffic(); tr != (Traffic{}) {
		t.Fatalf("new network: %+v", tr)
	}
	shards := [][]byte{bytes.Repeat([]byte{1}, 70000), bytes.Repeat([]byte{2}, 70000)}
	roots := []merkle.Root{merkle.RootOf(shards[0]), merkle.RootOf(shards[1])}
	placed, err := n.Place(t.Context(), shards, roots, 2)
	if err != nil {
		t.Fatal(err)
	}
	if tr := n.Traffic(); tr.Sent != 140000 || tr.Received != 0 {
		t.Fatalf("after placing 2×70000 bytes: %+v", tr)
	}
	var locs []ShardLoc
	for _, p := range placed {
		locs = append(locs, ShardLoc{Shard: p.Shard, Root: roots[p.Shard], Farmer: p.Farmer})
	}
	if _, err := n.Fetch(t.Context(), locs, 1, 0, -1); err != nil {
		t.Fatal(err)
	}
	if tr := n.Traffic(); tr.Sent != 140000 || tr.Received != 70000 {
		t.Fatalf("after fetching one shard: %+v", tr)
	}
	for _, r := range n.PutRoot(t.Context(), 1, func(format.NodeID) []byte { return []byte("0123456789") }) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for _, r := range n.GetRoots(t.Context()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if tr := n.Traffic(); tr.Sent != 140020 || tr.Received != 70020 {
		t.Fatalf("after a 10-byte root put to and read from 2 farmers: %+v", tr)
	}
}

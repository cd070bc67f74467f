package service

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// TestGatePauses runs the gate over three real farmers: shut, every kind
// of call fails at once with ErrPaused (which also reads as farmers out of
// reach); open again, the same calls go through.
func TestGatePauses(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var clients []*netclient.FarmerClient
	var ids []format.NodeID
	for range 3 {
		_, addr := farmer.StartTest(t, farmer.Config{})
		clients = append(clients, netclient.NewFarmerClient(addr, key, netclient.NewFarmerConfig()))
		ids = append(ids, addr.ID)
	}
	n, err := netclient.NewNetwork(netclient.NewNetworkConfig(), clients, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := newGate(n)
	ctx := context.Background()

	shard := bytes.Repeat([]byte("shard"), 1000)
	root := merkle.RootOf(shard)
	place := func() ([]netclient.Placement, error) {
		return g.Place(ctx, [][]byte{shard}, []merkle.Root{root}, 1)
	}
	if !g.setPaused(true) || g.setPaused(true) || !g.isPaused() {
		t.Fatal("setPaused does not report its changes")
	}
	paused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrPaused) || !errors.Is(err, syncer.ErrUnavailable) {
			t.Errorf("%s while paused: %v, want ErrPaused", what, err)
		}
	}
	_, err = place()
	paused("place", err)
	_, err = g.Fetch(ctx, []netclient.ShardLoc{{Shard: 0, Root: root, Farmer: ids[0]}}, 1, 0, -1)
	paused("fetch", err)
	paused("delete", g.Delete(ctx, ids[0], root))
	for _, r := range g.GetRoots(ctx) {
		paused("get roots", r.Err)
	}
	res := g.PutRoot(ctx, 1, func(format.NodeID) []byte { return []byte("x") })
	if len(res) != 3 {
		t.Fatalf("put root while paused: %d results, want one per farmer", len(res))
	}
	for _, r := range res {
		paused("put root", r.Err)
	}

	if !g.setPaused(false) || g.isPaused() {
		t.Fatal("resume did not open the gate")
	}
	placed, err := place()
	if err != nil || len(placed) != 1 {
		t.Fatalf("place after resume: %v, %v", placed, err)
	}
	got, err := g.Fetch(ctx, []netclient.ShardLoc{{Shard: 0, Root: root, Farmer: placed[0].Farmer}}, 1, 0, -1)
	if err != nil || !bytes.Equal(got[0], shard) {
		t.Fatalf("fetch after resume: %v", err)
	}
	if err := g.Delete(ctx, placed[0].Farmer, root); err != nil {
		t.Fatalf("delete after resume: %v", err)
	}
}

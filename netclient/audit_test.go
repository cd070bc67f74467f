package netclient

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
)

// auditShardLen is three leaves, the last one short.
const auditShardLen = 2*merkle.LeafSize + 5000

// newAuditNetwork returns a Network over the farmers at addrs, each as a
// fresh account, with audits bounded by auditTimeout.
func newAuditNetwork(t *testing.T, auditTimeout time.Duration, addrs ...format.Address) *Network {
	t.Helper()
	var clients []*FarmerClient
	for _, a := range addrs {
		clients = append(clients, NewFarmerClient(a, farmerTestKey(t), NewFarmerConfig()))
	}
	cfg := NewNetworkConfig()
	cfg.RequestTimeout = 30 * time.Second
	cfg.AuditTimeout = auditTimeout
	n, err := NewNetwork(cfg, clients, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// TestAuditWithFarmers audits real farmers on loopback: an honest one, and
// a Liar added at run time that later drops or swaps what it holds.
func TestAuditWithFarmers(t *testing.T) {
	_, honest := farmer.StartTest(t, farmer.Config{})
	liar, liarAddr := farmer.StartLiar(t, farmer.Config{}, nil)
	n := newAuditNetwork(t, 30*time.Second, honest)
	if err := n.Add(NewFarmerClient(liarAddr, farmerTestKey(t), NewFarmerConfig())); err != nil {
		t.Fatalf("Add: %v", err)
	}
	shards := [][]byte{farmerTestData(1, auditShardLen), farmerTestData(2, auditShardLen)}
	roots := []merkle.Root{merkle.RootOf(shards[0]), merkle.RootOf(shards[1])}
	placed, err := n.Place(t.Context(), shards, roots, 2)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	rootOn := make(map[format.NodeID]merkle.Root)
	dataOn := make(map[format.NodeID][]byte)
	for _, p := range placed {
		rootOn[p.Farmer] = roots[p.Shard]
		dataOn[p.Farmer] = shards[p.Shard]
	}

	t.Run("honest", func(t *testing.T) {
		var total int64
		var full int64
		for leaf := range 3 {
			res, err := n.Audit(t.Context(), honest.ID, rootOn[honest.ID], auditShardLen, leaf)
			if err != nil || res.Outcome != AuditPassed {
				t.Fatalf("leaf %d: %+v, %v; want passed", leaf, res, err)
			}
			if res.Duration <= 0 {
				t.Errorf("leaf %d: duration %v", leaf, res.Duration)
			}
			switch leaf {
			case 0:
				full = res.Bytes
				if full <= merkle.LeafSize {
					t.Errorf("leaf 0: %d bytes, want the leaf and its proof", full)
				}
			case 2:
				if res.Bytes <= 5000 || res.Bytes >= full {
					t.Errorf("short last leaf: %d bytes, want between 5000 and %d", res.Bytes, full)
				}
			}
			total += res.Bytes
		}
		if got := n.Traffic().Audited; got != total {
			t.Errorf("Traffic().Audited = %d, want %d", got, total)
		}
	})

	t.Run("farmer info", func(t *testing.T) {
		info, err := n.FarmerInfo(t.Context(), honest.ID)
		if err != nil {
			t.Fatal(err)
		}
		if info.NodeID != honest.ID || info.Account.Shards != 1 || info.Account.Used < auditShardLen {
			t.Errorf("FarmerInfo = %+v, want one shard of %d bytes", info, auditShardLen)
		}
	})

	liarRoot := rootOn[liarAddr.ID]
	audit := func(t *testing.T, leaf int) (AuditResult, error) {
		t.Helper()
		return n.Audit(t.Context(), liarAddr.ID, liarRoot, auditShardLen, leaf)
	}
	if res, err := audit(t, 1); res.Outcome != AuditPassed {
		t.Fatalf("liar while honest: %+v, %v", res, err)
	}
	lies := []struct {
		name string
		lie  farmer.Lie
		want error
	}{
		{"dropped the shard", func(merkle.Root, []byte, func(merkle.Root) []byte) ([]byte, bool) {
			return nil, true
		}, format.ErrNotFound},
		{"serves another shard", func(_ merkle.Root, _ []byte, shard func(merkle.Root) []byte) ([]byte, bool) {
			return dataOn[honest.ID], true // what the honest farmer holds, as if colluding
		}, format.ErrHashMismatch},
		{"lost its tail", func(_ merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			return stored[:2*merkle.LeafSize], true
		}, format.ErrHashMismatch},
	}
	for _, tt := range lies {
		t.Run(tt.name, func(t *testing.T) {
			liar.SetLie(tt.lie)
			defer liar.SetLie(nil)
			before := statsOf(n, liarAddr.ID).Failures
			res, err := audit(t, 2)
			if res.Outcome != AuditFailed || !errors.Is(err, tt.want) {
				t.Errorf("audit: %+v, %v; want failed with %v", res, err, tt.want)
			}
			if s := statsOf(n, liarAddr.ID); s.Failures != before+1 {
				t.Errorf("failures %d → %d, want the failed audit recorded", before, s.Failures)
			}
		})
	}
}

// TestAuditProvesStorage pits audits against farmers that try to pass
// without the bytes: one kept only the shard's Merkle tree, one kept the
// tree and the first two leaves. Both send correct proofs; only the leaf
// bytes give them away.
func TestAuditProvesStorage(t *testing.T) {
	data := farmerTestData(3, auditShardLen)
	root := merkle.RootOf(data)
	// keeps reports whether the farmer still has the bytes of leaf i.
	cheat := func(keeps func(leaf int) bool) format.Address {
		return lyingFarmer(t, func(off, n int64) []byte {
			r := honestRange(t, data, off, n)
			for i := range r.LeafCount {
				if keeps(r.FirstLeaf + i) {
					continue
				}
				lo := int64(i) * merkle.LeafSize
				clear(r.Data[lo:min(lo+merkle.LeafSize, int64(len(r.Data)))])
			}
			b, err := format.EncodeRange(r)
			if err != nil {
				t.Error(err)
			}
			return b
		})
	}
	hashesOnly := cheat(func(int) bool { return false })
	partial := cheat(func(leaf int) bool { return leaf < 2 })
	honest := cheat(func(int) bool { return true })
	n := newAuditNetwork(t, 30*time.Second, hashesOnly, partial, honest)
	tests := []struct {
		name string
		addr format.Address
		want []AuditOutcome // by leaf
	}{
		{"kept only hashes", hashesOnly, []AuditOutcome{AuditFailed, AuditFailed, AuditFailed}},
		{"dropped the last leaf", partial, []AuditOutcome{AuditPassed, AuditPassed, AuditFailed}},
		{"kept everything", honest, []AuditOutcome{AuditPassed, AuditPassed, AuditPassed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for leaf, want := range tt.want {
				res, err := n.Audit(t.Context(), tt.addr.ID, root, auditShardLen, leaf)
				if res.Outcome != want {
					t.Errorf("leaf %d: %v (%v), want %v", leaf, res.Outcome, err, want)
				}
				if want == AuditFailed && (!errors.Is(err, format.ErrHashMismatch) || res.Bytes == 0) {
					t.Errorf("leaf %d: %v, %d bytes; want a hash mismatch on a received body", leaf, err, res.Bytes)
				}
			}
		})
	}
	if s := statsOf(n, hashesOnly.ID); s.BadData != 3 {
		t.Errorf("hashes-only farmer: %d bad answers recorded, want 3", s.BadData)
	}
}

// TestAuditNoAnswer covers the farmers that do not answer an audit: none
// listening, one that hangs past AuditTimeout, one shutting down, and
// someone else at the farmer's address.
func TestAuditNoAnswer(t *testing.T) {
	root := merkle.RootOf(farmerTestData(4, auditShardLen))
	dead := format.Address{ID: format.NodeID{0xde, 0xad}, Host: deadHost(t)}
	hang := tlsFarmer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	unavailable := tlsFarmer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body := format.EncodeError(format.ErrUnavailable)
		w.WriteHeader(status)
		w.Write(body)
	}))
	_, real := farmer.StartTest(t, farmer.Config{})
	impostor := format.Address{ID: format.NodeID{0x1f}, Host: real.Host}
	tests := []struct {
		name    string
		addr    format.Address
		timeout time.Duration // AuditTimeout
		want    error
		down    bool // the ranking takes it for down
	}{
		{"nobody listening", dead, 10 * time.Second, nil, true},
		{"hangs", hang, 300 * time.Millisecond, context.DeadlineExceeded, true},
		{"shutting down", unavailable, 10 * time.Second, format.ErrUnavailable, true},
		{"someone else", impostor, 10 * time.Second, format.ErrWrongFarmer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newAuditNetwork(t, tt.timeout, tt.addr)
			res, err := n.Audit(t.Context(), tt.addr.ID, root, auditShardLen, 0)
			if res.Outcome != AuditNoAnswer || err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("audit: %+v, %v; want no answer, wrapping %v", res, err, tt.want)
			}
			if res.Bytes != 0 {
				t.Errorf("%d bytes counted without an answer body", res.Bytes)
			}
			if s := statsOf(n, tt.addr.ID); s.Down != tt.down {
				t.Errorf("farmer stats %+v, want down=%v", s, tt.down)
			}
		})
	}
}

// TestAuditNone covers audits that give no verdict: nothing is asked, or
// the caller gave up first, and nothing is held against the farmer.
func TestAuditNone(t *testing.T) {
	fakes := newFakes(1)
	n := newTestNetwork(t, testNetworkConfig(), fakes)
	shards, roots := testShards(70, 1, 3*merkle.LeafSize)
	store(fakes, shards, roots)
	id, root := fakes[0].addr.ID, roots[0]
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		farmer   format.NodeID
		shardLen int64
		leaf     int
		want     error
	}{
		{"unknown farmer", t.Context(), format.NodeID{0xee}, 3 * merkle.LeafSize, 0, ErrUnknownFarmer},
		{"leaf past the end", t.Context(), id, 3 * merkle.LeafSize, 3, merkle.ErrRange},
		{"negative leaf", t.Context(), id, 3 * merkle.LeafSize, -1, merkle.ErrRange},
		{"negative size", t.Context(), id, -1, 0, merkle.ErrRange},
		{"caller canceled", canceled, id, 3 * merkle.LeafSize, 0, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := n.Audit(tt.ctx, tt.farmer, root, tt.shardLen, tt.leaf)
			if res.Outcome != AuditNone || !errors.Is(err, tt.want) {
				t.Errorf("Audit = %+v, %v; want no verdict, %v", res, err, tt.want)
			}
		})
	}
	if s := statsOf(n, id); s.Failures != 0 || s.Successes != 0 || s.Down {
		t.Errorf("farmer stats %+v after audits without a verdict", s)
	}
	// The fakes' exact leaf: the last one of 3 full leaves, and the
	// empty shard's one leaf.
	res, err := n.Audit(t.Context(), id, root, 3*merkle.LeafSize, 2)
	if res.Outcome != AuditPassed || res.Bytes != merkle.LeafSize+32 {
		t.Errorf("Audit of the last leaf = %+v, %v; want passed with %d bytes", res, err, merkle.LeafSize+32)
	}
	empty := merkle.RootOf(nil)
	fakes[0].set(func(f *fakeFarmer) { f.shards[empty] = []byte{} })
	if res, err := n.Audit(t.Context(), id, empty, 0, 0); res.Outcome != AuditPassed {
		t.Errorf("Audit of the empty shard = %+v, %v; want passed", res, err)
	}
}

// BenchmarkAudit measures one audit of a random leaf of a 4 MiB shard on a
// real farmer over loopback TLS: ns/op is the audit's time, body-B/op its
// download (leaf, proof and framing).
func BenchmarkAudit(b *testing.B) {
	_, addr := farmer.StartTest(b, farmer.Config{})
	c := NewFarmerClient(addr, farmerTestKey(b), NewFarmerConfig())
	n, err := NewNetwork(NewNetworkConfig(), []*FarmerClient{c}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(n.Close)
	data := farmerTestData(5, 4<<20)
	root := merkle.RootOf(data)
	if err := c.PutShard(b.Context(), root, data); err != nil {
		b.Fatal(err)
	}
	leaves := merkle.LeafCount(int64(len(data)))
	var body int64
	i := 0
	for b.Loop() {
		res, err := n.Audit(b.Context(), addr.ID, root, int64(len(data)), (i*7919)%leaves)
		if res.Outcome != AuditPassed {
			b.Fatalf("audit: %+v, %v", res, err)
		}
		body += res.Bytes
		i++
	}
	b.ReportMetric(float64(body)/float64(i), "body-B/op")
}

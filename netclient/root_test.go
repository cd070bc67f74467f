package netclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
)

func TestFarmerClientRoot(t *testing.T) {
	_, addr := farmer.StartTest(t, farmer.Config{})
	c := newTestFarmerClient(t, addr, farmerTestKey(t))
	ctx := t.Context()
	if _, _, err := c.GetRoot(ctx); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("GetRoot before any PutRoot: %v, want ErrNotFound", err)
	}
	r1 := farmerTestData(1, 500)
	if err := c.PutRoot(ctx, 1, r1); err != nil {
		t.Fatalf("PutRoot v1: %v", err)
	}
	if v, rec, err := c.GetRoot(ctx); err != nil || v != 1 || !bytes.Equal(rec, r1) {
		t.Fatalf("GetRoot = v%d, %d bytes, %v; want v1, the record", v, len(rec), err)
	}
	r7 := farmerTestData(7, format.MaxRootRecord)
	if err := c.PutRoot(ctx, 7, r7); err != nil {
		t.Fatalf("PutRoot v7 of the largest size: %v", err)
	}
	for _, v := range []uint64{7, 6, 1} {
		err := c.PutRoot(ctx, v, farmerTestData(9, 10))
		var rc *RootConflict
		if !errors.Is(err, format.ErrConflict) || !errors.As(err, &rc) || rc.Stored != 7 || rc.Farmer != addr.ID {
			t.Errorf("PutRoot v%d over v7 = %v (%+v), want a RootConflict with Stored 7", v, err, rc)
		}
	}
	if v, rec, err := c.GetRoot(ctx); err != nil || v != 7 || !bytes.Equal(rec, r7) {
		t.Fatalf("GetRoot after refusals = v%d, %d bytes, %v; want v7", v, len(rec), err)
	}
	// Another account has its own slot.
	other := newTestFarmerClient(t, addr, farmerTestKey(t))
	if _, _, err := other.GetRoot(ctx); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("other account's GetRoot: %v, want ErrNotFound", err)
	}
	// Refused before anything is sent.
	for _, tc := range []struct {
		name    string
		version uint64
		record  []byte
		want    error
	}{
		{"version zero", 0, r1, format.ErrBadRequest},
		{"version over the maximum", format.MaxRootVersion + 1, r1, format.ErrBadRequest},
		{"empty", 8, nil, format.ErrBadRequest},
		{"too large", 8, make([]byte, format.MaxRootRecord+1), format.ErrTooLarge},
	} {
		if err := c.PutRoot(ctx, tc.version, tc.record); !errors.Is(err, tc.want) {
			t.Errorf("%s: PutRoot = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A farmer that answers the root slot with garbage is an error, never a
// record.
func TestFarmerClientRootGarbage(t *testing.T) {
	record := []byte("sealed")
	for _, tc := range []struct {
		name    string
		status  int
		version string // header; "" for none
		body    []byte
		want    error
	}{
		{"no version", http.StatusOK, "", record, format.ErrMalformed},
		{"version zero", http.StatusOK, "0", record, format.ErrMalformed},
		{"version not decimal", http.StatusOK, "0x10", record, format.ErrMalformed},
		{"empty record", http.StatusOK, "3", nil, format.ErrMalformed},
		{"record too large", http.StatusOK, "3", make([]byte, format.MaxRootRecord+1), format.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tlsFarmer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.version != "" {
					w.Header().Set(format.HeaderRootVersion, tc.version)
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(tc.body)))
				w.WriteHeader(tc.status)
				w.Write(tc.body)
			}))
			c := newTestFarmerClient(t, addr, farmerTestKey(t))
			if v, rec, err := c.GetRoot(t.Context()); !errors.Is(err, tc.want) || rec != nil || v != 0 {
				t.Fatalf("GetRoot = v%d, %d bytes, %v; want %v", v, len(rec), err, tc.want)
			}
		})
	}
	// A conflict that does not say which version the farmer holds.
	addr := tlsFarmer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		status, body := format.EncodeError(format.ErrConflict)
		w.WriteHeader(status)
		w.Write(body)
	}))
	c := newTestFarmerClient(t, addr, farmerTestKey(t))
	err := c.PutRoot(t.Context(), 2, record)
	var rc *RootConflict
	if !errors.Is(err, format.ErrConflict) || !errors.Is(err, format.ErrMalformed) || errors.As(err, &rc) {
		t.Fatalf("conflict without a version = %v, want ErrConflict and ErrMalformed, no RootConflict", err)
	}
}

// PutRoot and GetRoots over real farmers on loopback TLS: three that work,
// one rolling back (a liar), one address where nobody listens.
func TestNetworkRootWithFarmers(t *testing.T) {
	const good = 3
	var clients []*FarmerClient
	var addrs []format.Address
	for range good {
		_, addr := farmer.StartTest(t, farmer.Config{})
		addrs = append(addrs, addr)
	}
	liar, liarAddr := farmer.StartLiar(t, farmer.Config{}, nil)
	addrs = append(addrs, liarAddr)
	dead := format.Address{ID: format.NodeID{0xde, 0xad}, Host: deadHost(t)}
	addrs = append(addrs, dead)
	for _, a := range addrs {
		clients = append(clients, NewFarmerClient(a, farmerTestKey(t), NewFarmerConfig()))
	}
	n, err := NewNetwork(NewNetworkConfig(), clients, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	ctx := t.Context()
	sealed := func(v uint64) func(format.NodeID) []byte {
		return func(id format.NodeID) []byte { return []byte("v" + strconv.FormatUint(v, 10) + " for " + id.String()) }
	}
	check := func(res []RootResult) {
		t.Helper()
		if len(res) != len(addrs) {
			t.Fatalf("%d results for %d farmers", len(res), len(addrs))
		}
		for i, r := range res {
			if r.Farmer != addrs[i].ID {
				t.Fatalf("result %d is farmer %s, want %s (Farmers() order)", i, r.Farmer, addrs[i].ID)
			}
		}
		if last := res[len(res)-1]; last.Err == nil || isAnswer(last.Err) {
			t.Errorf("dead farmer: %v, want a failure without an answer", last.Err)
		}
	}

	res := n.PutRoot(ctx, 1, sealed(1))
	check(res)
	for _, r := range res[:good+1] {
		if r.Err != nil || r.Version != 1 {
			t.Errorf("PutRoot v1 on %s = v%d, %v", r.Farmer, r.Version, r.Err)
		}
	}
	liar.FreezeRoot()
	res = n.PutRoot(ctx, 2, sealed(2))
	check(res)
	for _, r := range res[:good+1] {
		if r.Err != nil || r.Version != 2 {
			t.Errorf("PutRoot v2 on %s = v%d, %v", r.Farmer, r.Version, r.Err)
		}
	}
	// A second writer with an older version learns what each farmer holds.
	res = n.PutRoot(ctx, 2, sealed(2))
	check(res)
	for _, r := range res[:good] {
		var rc *RootConflict
		if !errors.As(r.Err, &rc) || rc.Stored != 2 || r.Version != 2 {
			t.Errorf("PutRoot v2 again on %s = v%d, %v; want a conflict naming v2", r.Farmer, r.Version, r.Err)
		}
	}
	if s := statsOf(n, addrs[0].ID); s.Down || s.Failures != 0 {
		t.Errorf("a conflict counted against the farmer: %+v", s)
	}

	res = n.GetRoots(ctx)
	check(res)
	for i, r := range res[:good] {
		if r.Err != nil || r.Version != 2 || !bytes.Equal(r.Record, sealed(2)(addrs[i].ID)) {
			t.Errorf("GetRoots from %s = v%d %q, %v; want v2 and its record", r.Farmer, r.Version, r.Record, r.Err)
		}
	}
	// The rollback is visible as an older version, which the caller
	// outvotes with the highest one that verifies.
	if r := res[good]; r.Err != nil || r.Version != 1 || !bytes.Equal(r.Record, sealed(1)(liarAddr.ID)) {
		t.Errorf("GetRoots from the frozen liar = v%d %q, %v; want its v1", r.Version, r.Record, r.Err)
	}
	if s := statsOf(n, dead.ID); !s.Down {
		t.Errorf("dead farmer not down: %+v", s)
	}
}

// deadHost returns a loopback address where nobody listens.
func deadHost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	return host
}

// PutRoot and GetRoots over fakes: every farmer asked once, in parallel,
// each result in its farmer's slot whatever happened to the others.
func TestNetworkRootFakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes := newFakes(5)
		fakes[1].down = true
		fakes[2].hang = true
		fakes[3].set(func(f *fakeFarmer) { f.root, f.rootV = []byte("newer"), 9 })
		cfg := testNetworkConfig()
		cfg.RequestTimeout = 10 * time.Second
		n := newTestNetwork(t, cfg, fakes)
		ctx := t.Context()
		records := map[format.NodeID][]byte{}
		for i, f := range fakes {
			records[f.addr.ID] = []byte{'r', byte(i)}
		}
		records[fakes[4].addr.ID] = nil // the caller had nothing to seal: not sent

		res := n.PutRoot(ctx, 5, func(id format.NodeID) []byte { return records[id] })
		if len(res) != len(fakes) {
			t.Fatalf("%d results for %d farmers", len(res), len(fakes))
		}
		for i, r := range res {
			if r.Farmer != fakes[i].addr.ID {
				t.Fatalf("result %d for farmer %s, want %s", i, r.Farmer, fakes[i].addr.ID)
			}
		}
		if r := res[0]; r.Err != nil || r.Version != 5 {
			t.Errorf("working farmer: v%d, %v", r.Version, r.Err)
		}
		if got := read(fakes[0], func(f *fakeFarmer) []byte { return f.root }); !bytes.Equal(got, records[fakes[0].addr.ID]) {
			t.Errorf("working farmer holds %q, want its own record", got)
		}
		if r := res[1]; !errors.Is(r.Err, syscall.ECONNREFUSED) {
			t.Errorf("down farmer: %v", r.Err)
		}
		if r := res[2]; !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("hanging farmer: %v, want its request timeout", r.Err)
		}
		var rc *RootConflict
		if r := res[3]; !errors.As(r.Err, &rc) || rc.Stored != 9 || r.Version != 9 {
			t.Errorf("farmer ahead of us: v%d, %v; want a conflict naming v9", r.Version, r.Err)
		}
		if r := res[4]; !errors.Is(r.Err, format.ErrBadRequest) || read(fakes[4], func(f *fakeFarmer) int { return f.rootPuts }) != 0 {
			t.Errorf("farmer without a record: %v; want ErrBadRequest and no call", r.Err)
		}
		// Failures: the down and the hanging farmer; not the conflict,
		// not the farmer never asked.
		for i, want := range []int64{0, 1, 1, 0, 0} {
			if s := statsOf(n, fakes[i].addr.ID); s.Failures != want {
				t.Errorf("farmer %d after PutRoot: %d failures, want %d (%+v)", i, s.Failures, want, s)
			}
		}

		fakes[0].set(func(f *fakeFarmer) { f.corrupt = true })
		res = n.GetRoots(ctx)
		for i, f := range fakes {
			if res[i].Farmer != f.addr.ID {
				t.Fatalf("result %d for farmer %s, want %s", i, res[i].Farmer, f.addr.ID)
			}
			if gets := read(f, func(f *fakeFarmer) int { return f.rootGets }); gets != 1 {
				t.Errorf("farmer %d asked %d times, want once", i, gets)
			}
		}
		if r := res[0]; !errors.Is(r.Err, format.ErrMalformed) || r.Record != nil {
			t.Errorf("garbled answer: %v", r.Err)
		}
		if s := statsOf(n, fakes[0].addr.ID); s.BadData != 1 {
			t.Errorf("garbled answer not held against the farmer: %+v", s)
		}
		if r := res[2]; !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("hanging farmer: %v", r.Err)
		}
		if r := res[3]; r.Err != nil || r.Version != 9 || string(r.Record) != "newer" {
			t.Errorf("farmer with a record: v%d %q, %v", r.Version, r.Record, r.Err)
		}
		if r := res[4]; !errors.Is(r.Err, format.ErrNotFound) {
			t.Errorf("farmer without a record: %v, want ErrNotFound", r.Err)
		}
		if s := statsOf(n, fakes[4].addr.ID); s.Failures != 0 || s.Down {
			t.Errorf("not found counted against the farmer: %+v", s)
		}
	})
}

// A canceled operation returns at once, and every call ends with it.
func TestNetworkRootContextCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes := newFakes(3)
		for _, f := range fakes {
			f.hang = true
		}
		n := newTestNetwork(t, testNetworkConfig(), fakes)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan []RootResult)
		go func() { done <- n.GetRoots(ctx) }()
		synctest.Wait()
		cancel()
		for i, r := range <-done {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("farmer %d: %v, want context.Canceled", i, r.Err)
			}
		}
	})
}

package netclient

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// testRanker returns a ranker over n farmers (IDs 1..n) whose clock the
// returned function moves forward.
func testRanker(n int) (*ranker, []format.NodeID, func(time.Duration)) {
	cfg := NewNetworkConfig()
	cfg.DownBackoff = time.Second
	cfg.MaxDownBackoff = 10 * time.Second
	cfg.FullBackoff = time.Minute
	var addrs []format.Address
	var ids []format.NodeID
	for i := range n {
		var id format.NodeID
		id[0] = byte(i + 1)
		addrs = append(addrs, format.Address{ID: id, Host: "h:1"})
		ids = append(ids, id)
	}
	r := newRanker(cfg, addrs)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	return r, ids, func(d time.Duration) { now = now.Add(d) }
}

var errTest = errors.New("test failure")

func TestRankerBackoff(t *testing.T) {
	r, ids, advance := testRanker(2)
	a := ids[0]
	wantPeriods := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, want := range wantPeriods {
		r.record(a, outcomeFailed, time.Millisecond, 0, errTest)
		want *= time.Second
		advance(want - time.Nanosecond)
		if !r.stats(ids)[1].Down {
			t.Fatalf("failure %d: up before %v", i+1, want)
		}
		advance(time.Nanosecond)
		if r.stats(ids)[0].ID != a || r.stats(ids)[0].Down {
			t.Fatalf("failure %d: still down after %v", i+1, want)
		}
	}
	// Any answer ends the backoff and resets the doubling.
	r.record(a, outcomeFailed, time.Millisecond, 0, errTest)
	r.record(a, outcomeRefused, time.Millisecond, 0, errTest)
	if s := r.stats(ids); s[0].ID != a || s[0].Down {
		t.Errorf("after an answer: %+v, want up", s)
	}
	r.record(a, outcomeFailed, time.Millisecond, 0, errTest)
	advance(time.Second)
	if s := r.stats(ids); s[0].Down {
		t.Errorf("backoff did not restart at the base: %+v", s)
	}
}

func TestRankerBadDataHeavierThanFailure(t *testing.T) {
	r, ids, advance := testRanker(3)
	for _, id := range ids {
		r.record(id, outcomeOK, 10*time.Millisecond, 100, nil)
	}
	r.record(ids[0], outcomeBadData, time.Millisecond, 0, errTest)
	r.record(ids[1], outcomeFailed, time.Millisecond, 0, errTest)
	advance(time.Second) // the plain failure's backoff is over, the liar's is not
	if got := r.order(ids, 0, false); !slices.Equal(got, []format.NodeID{ids[1], ids[2], ids[0]}) {
		t.Errorf("order %v: want the liar last", got)
	}
	advance(time.Hour) // both back up: the liar's cost stays higher
	if got := r.order(ids, 0, false); got[2] != ids[0] {
		t.Errorf("order %v: want the liar last once back up", got)
	}
}

func TestRankerFullOnlyForPuts(t *testing.T) {
	r, ids, advance := testRanker(2)
	r.record(ids[0], outcomeFull, time.Millisecond, 0, errTest)
	if got := r.order(ids, 0, true); got[0] != ids[1] {
		t.Errorf("put order %v: full farmer first", got)
	}
	if got := r.order(ids, 0, false); got[0] != ids[0] {
		t.Errorf("get order %v: full farmer should not lose its place for reads", got)
	}
	if s := r.stats(ids)[0]; s.Down || s.Failures != 0 {
		t.Errorf("full farmer stats %+v", s)
	}
	advance(time.Minute)
	if got := r.order(ids, 0, true); got[0] != ids[0] {
		t.Errorf("put order %v after FullBackoff: want back in ID order", got)
	}
}

func TestRankerCostAndNeutral(t *testing.T) {
	r, ids, _ := testRanker(4)
	// Farmer 0: low latency, slow transfers; farmer 1: higher latency, fast
	// transfers; farmer 2 unknown; farmer 3 equally unknown.
	r.record(ids[0], outcomeOK, 10*time.Millisecond, 100, nil)
	r.record(ids[0], outcomeOK, time.Second, 1<<20, nil) // 1 MiB/s
	r.record(ids[1], outcomeOK, 50*time.Millisecond, 100, nil)
	r.record(ids[1], outcomeOK, 100*time.Millisecond, 1<<20, nil) // 10 MiB/s
	if got := r.order(ids[:2], 1000, false); got[0] != ids[0] {
		t.Errorf("small read order %v: want the low-latency farmer first", got)
	}
	if got := r.order(ids[:2], 4<<20, false); got[0] != ids[1] {
		t.Errorf("large read order %v: want the high-throughput farmer first", got)
	}
	// Unknown farmers sit at the mean of the known ones: between them for
	// small reads, and in ID order among themselves.
	if got := r.order(ids, 1000, false); !slices.Equal(got, []format.NodeID{ids[0], ids[2], ids[3], ids[1]}) {
		t.Errorf("order %v: want unknown farmers between the known ones", got)
	}
}

func TestRankerCanceledOnlySlowsDown(t *testing.T) {
	r, ids, _ := testRanker(1)
	r.record(ids[0], outcomeOK, 100*time.Millisecond, 10, nil)
	r.record(ids[0], outcomeCanceled, 10*time.Millisecond, 10, errTest)
	s := r.stats(ids)[0]
	if s.Latency != 100*time.Millisecond || s.Failures != 0 || s.LastError != "" {
		t.Errorf("a quick cancel changed the figures: %+v", s)
	}
	r.record(ids[0], outcomeCanceled, time.Second, 10, errTest)
	if s := r.stats(ids)[0]; s.Latency <= 100*time.Millisecond || s.Failures != 0 || s.Down {
		t.Errorf("a cancel after longer than expected: %+v, want latency raised and nothing else", s)
	}
}

func TestRankerSetStatsSanitises(t *testing.T) {
	r, ids, _ := testRanker(1)
	for _, tp := range []float64{math.NaN(), math.Inf(1), -5} {
		r.setStats([]FarmerStats{{ID: ids[0], Throughput: tp, Latency: -time.Second, Successes: -1}})
		s := r.stats(ids)[0]
		if s.Throughput != 0 || s.Latency != 0 || s.Successes != 0 {
			t.Errorf("throughput %v: stats %+v, want figures ignored", tp, s)
		}
		if got := r.order(ids, 1<<20, false); len(got) != 1 {
			t.Errorf("order broke: %v", got)
		}
	}
}

func TestRankerUnknownID(t *testing.T) {
	r, ids, _ := testRanker(1)
	r.record(format.NodeID{0xff}, outcomeFailed, time.Second, 0, errTest) // ignored
	if s := r.stats(ids)[0]; s.Failures != 0 {
		t.Errorf("record for an unknown farmer changed %+v", s)
	}
	if d := r.expected(format.NodeID{0xff}, 0); d != neutralLatency {
		t.Errorf("expected for unknown farmer = %v, want %v", d, neutralLatency)
	}
}

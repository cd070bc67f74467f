package netclient

import (
	"bytes"
	"cmp"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// Ranking constants. They shape the order in which farmers are asked; none
// of them affects correctness, so they are not configuration.
const (
	// ewmaWeight is the weight of a new sample in the moving averages.
	ewmaWeight = 0.3
	// smallTransfer separates latency samples from throughput samples: a
	// call that moved fewer bytes is timed as latency, a larger one as
	// throughput (bytes over the call's duration).
	smallTransfer = 64 << 10
	// badDataSteps is how many consecutive failures one wrong answer counts
	// as for the down backoff: wrong bytes cost far more than a timeout.
	badDataSteps = 4
	// badDataWeight scales a farmer's cost by 1 + badDataWeight*bad/answers,
	// so a farmer that lied stays behind honest ones after it is back up.
	badDataWeight = 4.0
	// neutralLatency is the latency assumed when no farmer has been
	// measured yet; it only matters for the adaptive hedge delay.
	neutralLatency = 100 * time.Millisecond
)

// FarmerStats is what the network measured of one farmer. The cache stores
// it between runs and hands it back through Network.SetStats.
type FarmerStats struct {
	ID         format.NodeID
	Addr       string        // host:port
	Latency    time.Duration // EWMA of small calls' durations; 0 = unknown
	Throughput float64       // EWMA of large transfers, bytes per second; 0 = unknown
	Successes  int64
	Failures   int64 // failed calls the farmer is to blame for, bad data included
	BadData    int64 // answers that failed verification
	Down       bool  // in its down backoff: asked last
	LastError  string
	LastSeen   time.Time // last time the farmer answered at all
	// Region is the region the farmer declared in its last Info, "" for
	// none; placement spreads a block's shards over regions.
	Region string
	// Sent and Received are the shard bytes put on the farmer and served
	// by it (reads and audits) since the Network was made: the client's
	// record of the farmer's ingress and egress. SetStats ignores them.
	Sent, Received int64
}

// outcome is how one call to a farmer ended, as far as ranking cares.
type outcome int

const (
	outcomeOK       outcome = iota // answered and the answer was good
	outcomeCanceled                // our own context ended first: not the farmer's fault
	outcomeFailed                  // no usable answer (network, timeout, server error): down backoff
	outcomeAnswered                // answered with a refusal that is our fault (a bad range)
	outcomeRefused                 // answered with a refusal that is the farmer's fault (lost shard, rejected put)
	outcomeFull                    // answered "full" or "over quota": skip for uploads a while
	outcomeBadData                 // answered with bytes that failed verification
)

// ranker keeps per-farmer figures and orders farmers by them. It is safe
// for concurrent use.
type ranker struct {
	downBackoff    time.Duration
	maxDownBackoff time.Duration
	fullBackoff    time.Duration
	now            func() time.Time

	mu       sync.Mutex                   // guards peers, excluded and every peerStats
	peers    map[format.NodeID]*peerStats // grows with add, never shrinks
	excluded map[format.NodeID]bool       // SetExcluded's set; may name farmers not in peers
}

// peerStats is the mutable part of one farmer's figures.
type peerStats struct {
	addr        string
	latency     time.Duration // 0 = unknown
	throughput  float64       // bytes/s, 0 = unknown
	successes   int64
	failures    int64
	badData     int64
	consecutive int       // failures since the last good answer; drives the backoff
	downUntil   time.Time // asked last before this
	fullUntil   time.Time // asked last for uploads before this
	lastError   string
	lastSeen    time.Time
	region      string // declared by the farmer, "" for none
	sent        int64  // shard bytes put on the farmer, this run
	received    int64  // shard and audit bytes the farmer served, this run
}

// moved counts the payload a successful call of kind moved to or from id:
// the client's side of the farmer's accounting (ingress and egress).
func (r *ranker) moved(id format.NodeID, kind callKind, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[id]
	if p == nil {
		return
	}
	switch kind {
	case callPut:
		p.sent += n
	case callGet, callAudit:
		p.received += n
	}
}

func newRanker(cfg NetworkConfig, addrs []format.Address) *ranker {
	r := &ranker{
		downBackoff:    cfg.DownBackoff,
		maxDownBackoff: cfg.MaxDownBackoff,
		fullBackoff:    cfg.FullBackoff,
		now:            time.Now,
		peers:          make(map[format.NodeID]*peerStats, len(addrs)),
	}
	for _, a := range addrs {
		r.add(a)
	}
	return r
}

// add gives a farmer empty figures; a farmer already known keeps its own.
func (r *ranker) add(a format.Address) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[a.ID] == nil {
		r.peers[a.ID] = &peerStats{addr: a.Host}
	}
}

// setExcluded replaces the set of excluded farmers.
func (r *ranker) setExcluded(ids []format.NodeID) {
	ex := make(map[format.NodeID]bool, len(ids))
	for _, id := range ids {
		ex[id] = true
	}
	r.mu.Lock()
	r.excluded = ex
	r.mu.Unlock()
}

// excludedIDs returns the excluded set in node ID order.
func (r *ranker) excludedIDs() []format.NodeID {
	r.mu.Lock()
	out := slices.Collect(maps.Keys(r.excluded))
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b format.NodeID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// setRegion records the region a farmer declared.
func (r *ranker) setRegion(id format.NodeID, region string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		p.region = region
	}
}

// setFull makes a farmer asked last for uploads for the full backoff, as
// when it refuses a put for want of space.
func (r *ranker) setFull(id format.NodeID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		p.fullUntil = r.now().Add(r.fullBackoff)
	}
}

// region returns the region a farmer declared, "" for none or unknown.
func (r *ranker) region(id format.NodeID) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		return p.region
	}
	return ""
}

func ewmaDuration(old, sample time.Duration) time.Duration {
	if old <= 0 {
		return sample
	}
	return time.Duration(float64(old) + ewmaWeight*float64(sample-old))
}

func ewmaFloat(old, sample float64) float64 {
	if old <= 0 {
		return sample
	}
	return old + ewmaWeight*(sample-old)
}

// record folds the outcome of one call into id's figures. d is how long the
// call took; size is the bytes it moved (or would have moved, for a call
// that did not finish); err is its error, kept as the last error.
func (r *ranker) record(id format.NodeID, out outcome, d time.Duration, size int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.peers[id]
	if p == nil {
		return
	}
	now := r.now()
	d = max(d, time.Microsecond) // a zero duration would be an infinite throughput
	if err != nil && out != outcomeCanceled {
		p.lastError = err.Error()
	}
	switch out {
	case outcomeOK:
		p.successes++
		p.answered(now)
		if size >= smallTransfer {
			p.throughput = ewmaFloat(p.throughput, float64(size)/d.Seconds())
		} else {
			p.latency = ewmaDuration(p.latency, d)
		}
	case outcomeCanceled:
		// A censored sample: we only know the call took at least d. It
		// can only make the farmer look slower, so a farmer whose calls
		// keep getting cut off as the slow tail stops being asked first.
		if d > r.expectedLocked(p, size, r.neutralLocked()) {
			p.latency = ewmaDuration(p.latency, d)
		}
	case outcomeFailed:
		p.failures++
		p.consecutive++
		p.downUntil = now.Add(r.backoff(p.consecutive))
	case outcomeAnswered:
		p.answered(now)
	case outcomeRefused:
		p.failures++
		p.answered(now)
	case outcomeFull:
		p.answered(now)
		p.fullUntil = now.Add(r.fullBackoff)
	case outcomeBadData:
		p.failures++
		p.badData++
		p.lastSeen = now
		p.consecutive += badDataSteps
		p.downUntil = now.Add(r.backoff(p.consecutive))
	}
}

// answered notes that the farmer is up: it gave an answer, good or a
// well-formed refusal.
func (p *peerStats) answered(now time.Time) {
	p.lastSeen = now
	p.consecutive = 0
	p.downUntil = time.Time{}
}

// backoff returns the down period after n consecutive failures:
// downBackoff doubled n-1 times, at most maxDownBackoff.
func (r *ranker) backoff(n int) time.Duration {
	d := r.downBackoff
	for i := 1; i < n && d < r.maxDownBackoff; i++ {
		d *= 2
	}
	return min(d, r.maxDownBackoff)
}

// neutral is what an unmeasured farmer is assumed to be: the mean of the
// measured ones.
type neutral struct {
	latency    time.Duration // > 0
	throughput float64       // 0 when no farmer has a throughput yet
}

func (r *ranker) neutralLocked() neutral {
	var lat time.Duration
	var tp float64
	var nl, nt int
	for _, p := range r.peers {
		if p.latency > 0 {
			lat += p.latency
			nl++
		}
		if p.throughput > 0 {
			tp += p.throughput
			nt++
		}
	}
	n := neutral{latency: neutralLatency}
	if nl > 0 {
		n.latency = lat / time.Duration(nl)
	}
	if nt > 0 {
		n.throughput = tp / float64(nt)
	}
	return n
}

// expectedLocked is how long a call moving size bytes should take at p:
// its latency plus size over its throughput, using the neutral figures
// where p has none.
func (r *ranker) expectedLocked(p *peerStats, size int64, nt neutral) time.Duration {
	lat, tp := p.latency, p.throughput
	if lat <= 0 {
		lat = nt.latency
	}
	if tp <= 0 {
		tp = nt.throughput
	}
	if size > 0 && tp > 0 {
		lat += time.Duration(float64(size) / tp * float64(time.Second))
	}
	return lat
}

// expected is expectedLocked for a farmer by ID.
func (r *ranker) expected(id format.NodeID, size int64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	nt := r.neutralLocked()
	p := r.peers[id]
	if p == nil {
		return nt.latency
	}
	return r.expectedLocked(p, size, nt)
}

// Tiers, best first. A farmer's tier outranks its cost.
const (
	tierHealthy  = iota
	tierExcluded // reads only: placement never sees excluded farmers
	tierFull     // uploads only: said full or over quota lately
	tierDown     // no answer lately, whatever else it is
)

// rankKey orders farmers: lower tier first, then (for down farmers) the one
// due back soonest, then lower cost, then the node ID so that equal farmers
// always come in the same order.
type rankKey struct {
	tier  int
	until time.Time
	cost  float64 // expected seconds, scaled up for past bad data
	id    format.NodeID
	// Not part of the order: placement drops excluded farmers and spreads
	// a block's shards over regions.
	excluded bool
	region   string
}

func compareKeys(a, b rankKey) int {
	if c := cmp.Compare(a.tier, b.tier); c != 0 {
		return c
	}
	if c := a.until.Compare(b.until); c != 0 {
		return c
	}
	if c := cmp.Compare(a.cost, b.cost); c != 0 {
		return c
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// keys returns the rank key of each farmer in ids, which must all be known
// to r, for a call moving size bytes; forPut ranks farmers that recently
// said "full" after the others, otherwise excluded farmers come after the
// others (placement drops them before it asks).
func (r *ranker) keys(ids []format.NodeID, size int64, forPut bool) map[format.NodeID]rankKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	nt := r.neutralLocked()
	out := make(map[format.NodeID]rankKey, len(ids))
	for _, id := range ids {
		p := r.peers[id]
		k := rankKey{id: id, cost: r.expectedLocked(p, size, nt).Seconds(), excluded: r.excluded[id], region: p.region}
		if answers := p.successes + p.badData; p.badData > 0 {
			k.cost *= 1 + badDataWeight*float64(p.badData)/float64(answers)
		}
		switch {
		case now.Before(p.downUntil):
			k.tier, k.until = tierDown, p.downUntil
		case forPut && now.Before(p.fullUntil):
			k.tier = tierFull
		case !forPut && k.excluded:
			k.tier = tierExcluded
		}
		out[id] = k
	}
	return out
}

// order returns ids sorted best first for a call moving size bytes.
func (r *ranker) order(ids []format.NodeID, size int64, forPut bool) []format.NodeID {
	keys := r.keys(ids, size, forPut)
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b format.NodeID) int { return compareKeys(keys[a], keys[b]) })
	return out
}

// stats returns every farmer's figures, best first.
func (r *ranker) stats(ids []format.NodeID) []FarmerStats {
	ordered := r.order(ids, 0, false)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	out := make([]FarmerStats, 0, len(ordered))
	for _, id := range ordered {
		p := r.peers[id]
		out = append(out, FarmerStats{
			ID:         id,
			Addr:       p.addr,
			Latency:    p.latency,
			Throughput: p.throughput,
			Successes:  p.successes,
			Failures:   p.failures,
			BadData:    p.badData,
			Down:       now.Before(p.downUntil),
			LastError:  p.lastError,
			LastSeen:   p.lastSeen,
			Sent:       p.sent,
			Received:   p.received,
			Region:     p.region,
		})
	}
	return out
}

// setStats seeds figures from a previous run. Farmers not in the network
// are ignored, and so are the address (the network's own is current),
// negative figures and an empty region (the farmer's Info sets it). A farmer that was down is down again for one base
// backoff, so it is asked last until it answers.
func (r *ranker) setStats(stats []FarmerStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, s := range stats {
		p := r.peers[s.ID]
		if p == nil {
			continue
		}
		p.latency = max(s.Latency, 0)
		p.throughput = 0
		if s.Throughput > 0 && !math.IsInf(s.Throughput, 1) { // also rejects NaN
			p.throughput = s.Throughput
		}
		p.successes = max(s.Successes, 0)
		p.failures = max(s.Failures, 0)
		p.badData = max(s.BadData, 0)
		p.lastError = s.LastError
		p.lastSeen = s.LastSeen
		if s.Region != "" && format.CheckRegion(s.Region) == nil {
			p.region = s.Region
		}
		p.consecutive = 0
		p.downUntil = time.Time{}
		if s.Down {
			p.consecutive = 1
			p.downUntil = now.Add(r.backoff(1))
		}
	}
}

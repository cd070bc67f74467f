package netclient

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
)

// delayProxy forwards loopback TCP connections to a farmer and holds every
// chunk of bytes for delay in each direction before passing it on: a
// farmer further away, with the same bandwidth.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup // the accept loop and every pipe

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]bool
	closed bool
}

func startDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, target: target, delay: delay, conns: make(map[net.Conn]bool)}
	p.wg.Go(p.serve)
	t.Cleanup(p.Close)
	return p
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, cuts every connection and waits for the pipes:
// the farmer is gone as far as the client can tell.
func (p *delayProxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *delayProxy) serve() {
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			down.Close()
			up.Close()
			return
		}
		p.conns[down], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, down) })
		p.wg.Go(func() { p.pipe(down, up) })
	}
}

// pipe copies src to dst, each chunk delay after it was read. When either
// side ends, both connections are closed.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	chunks := make(chan chunk, 1024)
	written := make(chan struct{})
	go func() {
		defer close(written)
		failed := false
		for c := range chunks {
			if failed {
				continue // drain, so the reader never blocks
			}
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.b); err != nil {
				failed = true
				src.Close()
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunks <- chunk{time.Now().Add(p.delay), bytes.Clone(buf[:n])}
		}
		if err != nil {
			break
		}
	}
	close(chunks)
	<-written
	dst.Close()
	src.Close()
}

// TestNetworkNearestFirstBehindProxies puts six real farmers behind loopback proxies:
// four add no delay, two add 50 and 80 ms each way. Once probed, reads of
// k=4 of 6 shards go to the four near farmers only; when one of them is
// gone, the nearer of the far ones stands in, and the farthest stays idle.
// The assertions are on who served, never on how long anything took.
func TestNetworkNearestFirstBehindProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six farmers")
	}
	const k, m, blocks = 4, 2, 4
	delays := []time.Duration{0, 0, 0, 0, 50 * time.Millisecond, 80 * time.Millisecond}
	const near0 = 0 // the near farmer that goes away
	var ids []format.NodeID
	var proxies []*delayProxy
	var clients []*FarmerClient
	for _, d := range delays {
		_, addr := farmer.StartTest(t, farmer.Config{})
		px := startDelayProxy(t, addr.Host, d)
		ids = append(ids, addr.ID)
		proxies = append(proxies, px)
		clients = append(clients, NewFarmerClient(format.Address{ID: addr.ID, Host: px.Addr()}, farmerTestKey(t), NewFarmerConfig()))
	}
	cfg := NewNetworkConfig()
	cfg.RequestTimeout = 30 * time.Second
	cfg.HedgeDelay = time.Minute // ranking alone decides; hedging has its own tests
	cfg.ExtraReads = 0
	n, err := NewNetwork(cfg, clients, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)

	// k+m shards per block on six farmers: every farmer holds one shard
	// of every block.
	locs := make([][]ShardLoc, blocks)
	data := make([][][]byte, blocks)
	var wg sync.WaitGroup
	for b := range blocks {
		wg.Go(func() {
			shards, roots := testShards(uint64(200+b), k+m, 8<<10)
			placed, err := n.Place(t.Context(), shards, roots, k+m)
			if err != nil {
				t.Errorf("Place block %d: %v", b, err)
				return
			}
			data[b] = shards
			for _, p := range placed {
				locs[b] = append(locs[b], ShardLoc{Shard: p.Shard, Root: roots[p.Shard], Farmer: p.Farmer})
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for range 2 {
		n.Probe(t.Context())
	}

	successes := func() map[format.NodeID]int64 {
		out := make(map[format.NodeID]int64)
		for _, s := range n.Stats() {
			out[s.ID] = s.Successes
		}
		return out
	}
	// readAll fetches k shards of every block and returns how many reads
	// each farmer served.
	readAll := func(t *testing.T) []int64 {
		t.Helper()
		before := successes()
		for b := range blocks {
			pieces, err := n.Fetch(t.Context(), locs[b], k, 0, -1)
			if err != nil {
				t.Fatalf("Fetch block %d: %v", b, err)
			}
			got := 0
			for i, p := range pieces {
				if p == nil {
					continue
				}
				got++
				if !bytes.Equal(p, data[b][i]) {
					t.Errorf("block %d piece %d differs", b, i)
				}
			}
			if got != k {
				t.Errorf("block %d: %d pieces, want %d", b, got, k)
			}
		}
		after := successes()
		served := make([]int64, len(ids))
		for i, id := range ids {
			served[i] = after[id] - before[id]
		}
		return served
	}
	check := func(t *testing.T, served []int64, want []int64) {
		t.Helper()
		for i := range served {
			if served[i] != want[i] {
				t.Errorf("reads served per farmer (delays %v): %v, want %v", delays, served, want)
				for _, s := range n.Stats() {
					t.Logf("%s latency %v successes %d down %v", s.Addr, s.Latency, s.Successes, s.Down)
				}
				return
			}
		}
	}

	t.Run("near farmers carry the reads", func(t *testing.T) {
		want := []int64{blocks, blocks, blocks, blocks, 0, 0}
		check(t, readAll(t), want)
	})
	t.Run("a far farmer stands in for a lost near one", func(t *testing.T) {
		proxies[near0].Close()
		want := []int64{0, blocks, blocks, blocks, blocks, 0} // near0 gone, far50 in, far80 idle
		check(t, readAll(t), want)
		if s := statsOf(n, ids[near0]); !s.Down {
			t.Errorf("lost farmer not down: %+v", s)
		}
	})
}

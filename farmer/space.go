package farmer

import (
	"fmt"
	"sync"

	"github.com/shardrive/shardrive/core/format"
)

// space accounts stored bytes against the capacity and per-account quota,
// including uploads in flight, so that concurrent uploads cannot together
// overshoot a limit they each fit under. It counts shard bytes and root
// record bytes; the ~0.2% of tree and header each shard file adds is not
// counted.
type space struct {
	capacity int64
	quota    int64 // 0: no per-account quota

	mu       sync.Mutex // guards used, reserved, accounts
	used     int64      // bytes of indexed shards
	reserved int64      // bytes of uploads in flight
	accounts map[format.AccountID]*accountSpace
}

type accountSpace struct{ stored, reserved int64 }

func newSpace(capacity, quota int64, stored map[format.AccountID]int64) *space {
	s := &space{capacity: capacity, quota: quota, accounts: make(map[format.AccountID]*accountSpace, len(stored))}
	for a, n := range stored {
		s.accounts[a] = &accountSpace{stored: n}
		s.used += n
	}
	return s
}

func (s *space) account(a format.AccountID) *accountSpace {
	as := s.accounts[a]
	if as == nil {
		as = &accountSpace{}
		s.accounts[a] = as
	}
	return as
}

// accountQuota is the limit reported for and applied to each account.
func (s *space) accountQuota() int64 {
	if s.quota > 0 {
		return min(s.quota, s.capacity)
	}
	return s.capacity
}

// reserve sets n bytes aside for an upload by a. The returned function
// ends the reservation: stored=true turns it into stored bytes (after the
// shard is committed), false gives it back.
func (s *space) reserve(a format.AccountID, n int64) (func(stored bool), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	as := s.account(a)
	// n == 0 (an empty shard, the repair of a corrupt copy) takes no
	// space, and is allowed even over a limit lowered since.
	if q := s.accountQuota(); n > 0 && as.stored+as.reserved+n > q {
		return nil, fmt.Errorf("%w: storing %d more bytes would exceed the account's %d-byte quota (%d used)",
			format.ErrQuotaExceeded, n, q, as.stored+as.reserved)
	}
	if n > 0 && s.used+s.reserved+n > s.capacity {
		return nil, fmt.Errorf("%w: %d bytes free, shard is %d", format.ErrFarmerFull, max(0, s.capacity-s.used-s.reserved), n)
	}
	as.reserved += n
	s.reserved += n
	var once sync.Once
	return func(stored bool) {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			as.reserved -= n
			s.reserved -= n
			if stored {
				as.stored += n
				s.used += n
			}
		})
	}, nil
}

// release forgets n stored bytes of a (a deleted shard).
func (s *space) release(a format.AccountID, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	as := s.account(a)
	as.stored -= n
	s.used -= n
}

// snapshot returns the farmer's used and free bytes and a's stored bytes.
func (s *space) snapshot(a format.AccountID) (used, free, acctStored int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if as := s.accounts[a]; as != nil {
		acctStored = as.stored
	}
	return s.used, max(0, s.capacity-s.used-s.reserved), acctStored
}

// keyLocks serializes the writers (PUT, DELETE) of one shard of one
// account; readers need no lock because a shard file is only ever replaced
// by rename or unlinked, and an open file stays readable.
type keyLocks struct {
	mu sync.Mutex // guards m
	m  map[shardKey]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int // guarded by keyLocks.mu
}

func (k *keyLocks) lock(key shardKey) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[shardKey]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// egress counts bytes served per account between flushes to the index.
type egress struct {
	mu      sync.Mutex // guards pending
	pending map[format.AccountID]int64
}

func (e *egress) add(a format.AccountID, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending == nil {
		e.pending = make(map[format.AccountID]int64)
	}
	e.pending[a] += n
}

func (e *egress) peek(a format.AccountID) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending[a]
}

// take returns the pending counts and starts new ones.
func (e *egress) take() map[format.AccountID]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.pending
	e.pending = nil
	return p
}

// putBack returns counts a failed flush could not write.
func (e *egress) putBack(p map[format.AccountID]int64) {
	for a, n := range p {
		e.add(a, n)
	}
}

// gate counts requests in handlers and refuses new ones once closed, so
// shutdown can wait for the last one before closing the index.
type gate struct {
	mu     sync.Mutex // guards n, closed, idle
	n      int
	closed bool
	idle   chan struct{} // closed when closed && n == 0
}

func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n--; g.n == 0 && g.closed {
		close(g.idle)
	}
}

// close refuses new requests and returns a channel closed once none is in
// a handler.
func (g *gate) close() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

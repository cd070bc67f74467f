package farmer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Lie decides what a lying farmer serves when asked for shard root. stored
// is what it holds under root; shard returns what it holds, or ever held,
// under any other root of the same account (nil if nothing). It returns the
// bytes to pass off as the whole shard, or ok=false to answer honestly; nil
// with ok=true drops the shard (the farmer answers not found).
type Lie func(root merkle.Root, stored []byte, shard func(merkle.Root) []byte) (served []byte, ok bool)

// DodgeAction is how a Liar answers a read its Dodge picks out.
type DodgeAction int

const (
	// DodgeNone answers the read (honestly, or through the Lie).
	DodgeNone DodgeAction = iota
	// DodgeHang never answers: the request hangs until the client gives
	// up (its context ends), as a farmer that times out does, or until
	// the liar shuts down.
	DodgeHang
	// DodgeInternal answers 500 with the wire code "internal"
	// (format.ErrInternal), as a farmer with a passing fault does.
	DodgeInternal
)

func (a DodgeAction) String() string {
	switch a {
	case DodgeNone:
		return "none"
	case DodgeHang:
		return "hang"
	case DodgeInternal:
		return "internal"
	}
	return fmt.Sprintf("DodgeAction(%d)", int(a))
}

// Dodge decides, from a GET of shard root with its range (off >= 0; n is
// -1 for "to the end"), whether and how the liar dodges it. It sees only
// reads the farmer would serve: signed, well formed, of a shard it holds.
type Dodge func(root merkle.Root, off, n int64) DodgeAction

// DodgePartialReads is the Dodge of a farmer that refuses audits and
// serves everything else: every read that is not of a whole shard
// (offset 0, length -1 or absent) gets act. An audit is a one-leaf read;
// the client's whole-shard reads, uploads, stats and deletes stay honest.
func DodgePartialReads(act DodgeAction) Dodge {
	return func(_ merkle.Root, off, n int64) DodgeAction {
		if off != 0 || n != -1 {
			return act
		}
		return DodgeNone
	}
}

// Liar is the malicious-farmer harness: a real farmer (real identity, TLS,
// request signing, storage) that keeps a copy of every shard it is told to
// delete and answers reads through a Lie. Whatever it serves comes with a
// valid Merkle proof for the bytes it chose, so only the client's own roots
// can expose it. It can drop shards (DropShards) and dodge chosen reads,
// audits for instance, by hanging or failing (SetDodge). Its root record
// slot lies on demand too (FreezeRoot, ServeRoot, DropRoot); only the
// client's signature and version checks can expose that. It still answers
// only requests signed by an account. For tests only.
type Liar struct {
	*Farmer
	next http.Handler

	mu       sync.Mutex // guards lie, dodge, dodged, kept, accounts and the root lie
	lie      Lie
	dodge    Dodge
	dodged   int
	kept     map[shardKey][]byte
	accounts map[format.AccountID]bool

	rootLie     rootLie
	rootVersion uint64 // rootServe: the version served
	rootRecord  []byte // rootServe: the record served
}

// rootLie is how the liar answers on the root record slot.
type rootLie int

const (
	rootHonest rootLie = iota
	rootFreeze         // PUTs succeed without storing: GET serves what was held
	rootServe          // GET serves rootVersion and rootRecord to every account
	rootDrop           // GET answers not_found
)

// StartLiar runs a Liar like StartTest runs a farmer; lie may be nil
// (honest until SetLie).
func StartLiar(tb testing.TB, cfg Config, lie Lie) (*Liar, format.Address) {
	tb.Helper()
	l := &Liar{lie: lie, kept: make(map[shardKey][]byte), accounts: make(map[format.AccountID]bool)}
	f, addr := startTest(tb, cfg, func(next http.Handler) http.Handler {
		l.next = next
		return l
	})
	l.Farmer = f
	return l, addr
}

// SetLie changes what the liar serves from now on.
func (l *Liar) SetLie(lie Lie) {
	l.mu.Lock()
	l.lie = lie
	l.mu.Unlock()
}

// DropShards makes the liar lose every shard drop picks from now on: reads
// of it, whole or partial, answer not_found, while stat and Info still
// count it and DELETE still succeeds, as on a farmer that silently lost
// the file. It replaces the Lie (SetLie); drop must be safe for concurrent
// use and give the same answer for a root every time.
func (l *Liar) DropShards(drop func(merkle.Root) bool) {
	l.SetLie(func(root merkle.Root, _ []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
		return nil, drop(root)
	})
}

// ShardFraction picks about fraction (0 to 1) of all roots, the same ones
// every time and on every liar: a root is picked when its first 8 bytes,
// read as a number, fall below fraction of their range. Roots are uniform,
// so among n shards about fraction*n are picked.
func ShardFraction(fraction float64) func(merkle.Root) bool {
	switch {
	case fraction <= 0:
		return func(merkle.Root) bool { return false }
	case fraction >= 1:
		return func(merkle.Root) bool { return true }
	}
	limit := uint64(fraction * (1 << 64))
	return func(root merkle.Root) bool { return binary.BigEndian.Uint64(root[:8]) < limit }
}

// SetDodge makes the liar dodge the reads d picks from now on; nil stops
// dodging. Dodged reads are dodged before the Lie is asked.
func (l *Liar) SetDodge(d Dodge) {
	l.mu.Lock()
	l.dodge = d
	l.mu.Unlock()
}

// Dodged returns how many reads the liar has dodged so far.
func (l *Liar) Dodged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dodged
}

// FreezeRoot makes the liar a rollback attacker from now on: it answers
// every PUT /v1/root (signed by an account) with success but stores
// nothing, so GET /v1/root keeps serving the record each account had at
// the moment of the call. It replaces ServeRoot and DropRoot.
func (l *Liar) FreezeRoot() { l.setRootLie(rootFreeze, 0, nil) }

// ServeRoot makes the liar answer GET /v1/root from now on, for any
// account, with record at version: a forged record, or another account's.
// PUTs are stored honestly. It replaces FreezeRoot and DropRoot.
func (l *Liar) ServeRoot(version uint64, record []byte) {
	l.setRootLie(rootServe, version, bytes.Clone(record))
}

// DropRoot makes the liar answer GET /v1/root with not_found from now on,
// as if it never held a root record. PUTs are stored honestly. It replaces
// FreezeRoot and ServeRoot.
func (l *Liar) DropRoot() { l.setRootLie(rootDrop, 0, nil) }

func (l *Liar) setRootLie(lie rootLie, version uint64, record []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rootLie, l.rootVersion, l.rootRecord = lie, version, record
}

func (l *Liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == format.RootPath {
		l.serveRoot(w, r)
		return
	}
	rest, isShard := strings.CutPrefix(r.URL.Path, format.PathPrefix+"/shards/")
	root, err := merkle.ParseRoot(rest)
	acct, aerr := format.ParseAccountID(r.Header.Get(format.HeaderAccount))
	if !isShard || err != nil || aerr != nil || (r.Method != http.MethodGet && r.Method != http.MethodDelete) {
		l.next.ServeHTTP(w, r)
		return
	}
	l.mu.Lock()
	l.accounts[acct] = true
	l.mu.Unlock()
	if r.Method == http.MethodDelete {
		if b := l.read(acct, root); b != nil {
			l.mu.Lock()
			l.kept[shardKey{acct, root}] = b
			l.mu.Unlock()
		}
		l.next.ServeHTTP(w, r)
		return
	}
	// Let the honest farmer check the request first: the liar still only
	// answers its own account's signed requests.
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	l.next.ServeHTTP(rec, r)
	l.mu.Lock()
	lie, dodge := l.lie, l.dodge
	l.mu.Unlock()
	if rec.code == http.StatusOK && dodge != nil {
		if off, n, err := rangeParams(r.URL.Query()); err == nil {
			if act := dodge(root, off, n); act != DodgeNone {
				l.dodgeRead(w, r, act)
				return
			}
		}
	}
	var served []byte
	ok := false
	if rec.code == http.StatusOK && lie != nil {
		served, ok = lie(root, l.read(acct, root), func(other merkle.Root) []byte { return l.read(acct, other) })
	}
	switch {
	case !ok:
		rec.replay(w)
	case served == nil:
		lieError(w, format.ErrNotFound)
	default:
		l.serve(w, r, served)
	}
}

// dodgeRead refuses a read as act says.
func (l *Liar) dodgeRead(w http.ResponseWriter, r *http.Request, act DodgeAction) {
	l.mu.Lock()
	l.dodged++
	l.mu.Unlock()
	switch act {
	case DodgeHang:
		select {
		case <-r.Context().Done():
			// The client gave up. Cut the connection without a word:
			// returning would send an empty 200, which a client still
			// reading the socket could take for an answer.
			panic(http.ErrAbortHandler)
		case <-l.stopping:
			// Shutdown waits for requests in flight: let it.
			lieError(w, format.ErrUnavailable)
		}
	default:
		lieError(w, format.ErrInternal)
	}
}

// serveRoot answers on the root record slot as the root lie says.
func (l *Liar) serveRoot(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	lie, version, record := l.rootLie, l.rootVersion, l.rootRecord
	l.mu.Unlock()
	switch {
	case lie == rootFreeze && r.Method == http.MethodPut:
		// Authenticate like the farmer, then pretend to store.
		if _, err := l.verifier.Verify(r, time.Now()); err != nil {
			lieError(w, err)
			return
		}
		v, err := rootVersionParam(r.URL.Query())
		if err != nil {
			lieError(w, err)
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, format.MaxRootRecord))
		w.Header().Set(format.HeaderRootVersion, format.FormatRootVersion(v))
		w.WriteHeader(http.StatusNoContent)
	case (lie == rootServe || lie == rootDrop) && r.Method == http.MethodGet:
		// Let the honest farmer check the request first: 200 or 404 means
		// a signed, well-formed read.
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		l.next.ServeHTTP(rec, r)
		switch {
		case rec.code != http.StatusOK && rec.code != http.StatusNotFound:
			rec.replay(w)
		case lie == rootDrop:
			lieError(w, fmt.Errorf("%w: no root record", format.ErrNotFound))
		default:
			writeRoot(w, version, record)
		}
	default:
		l.next.ServeHTTP(w, r)
	}
}

// lieError answers err as the farmer would.
func lieError(w http.ResponseWriter, err error) {
	status, body := format.EncodeError(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// serve answers the range request as an honest farmer holding data would.
func (l *Liar) serve(w http.ResponseWriter, r *http.Request, data []byte) {
	off, n, err := rangeParams(r.URL.Query())
	size := int64(len(data))
	first, end, rerr := merkle.LeafRange(size, off, n)
	if err != nil || rerr != nil {
		first, end, _ = merkle.LeafRange(size, 0, -1)
	}
	proof, err := merkle.Build(data).Prove(first, end)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	lo, ln, _ := merkle.LeafSpan(size, first, end)
	body, err := format.EncodeRange(format.Range{ShardSize: size, FirstLeaf: first, LeafCount: end - first,
		Proof: proof, Data: data[lo : lo+ln]})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", format.RangeContentType)
	w.Write(body)
}

// Held returns the bytes the liar holds, or kept, for root under any
// account that has talked to it: what colluding farmers could pool.
func (l *Liar) Held(root merkle.Root) []byte {
	l.mu.Lock()
	var accts []format.AccountID
	for a := range l.accounts {
		accts = append(accts, a)
	}
	l.mu.Unlock()
	for _, a := range accts {
		if b := l.read(a, root); b != nil {
			return b
		}
	}
	return nil
}

// read returns the bytes the liar holds, or kept, for root.
func (l *Liar) read(acct format.AccountID, root merkle.Root) []byte {
	b, err := os.ReadFile(l.store.path(acct, root))
	if err == nil {
		if h, err := parseShardHeader(b); err == nil && int64(len(b)) == h.fileSize() {
			return bytes.Clone(b[shardHeaderSize+h.treeLen:])
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kept[shardKey{acct, root}]
}

// recorder holds a response so the liar can decide whether to pass it on.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func (r *recorder) replay(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.code)
	w.Write(r.body.Bytes())
}

package farmer

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Lie decides what a lying farmer serves when asked for shard root. stored
// is what it holds under root; shard returns what it holds, or ever held,
// under any other root of the same account (nil if nothing). It returns the
// bytes to pass off as the whole shard, or ok=false to answer honestly; nil
// with ok=true drops the shard (the farmer answers not found).
type Lie func(root merkle.Root, stored []byte, shard func(merkle.Root) []byte) (served []byte, ok bool)

// Liar is the malicious-farmer harness: a real farmer (real identity, TLS,
// request signing, storage) that keeps a copy of every shard it is told to
// delete and answers reads through a Lie. Whatever it serves comes with a
// valid Merkle proof for the bytes it chose, so only the client's own roots
// can expose it. For tests only.
type Liar struct {
	*Farmer
	next http.Handler

	mu       sync.Mutex // guards lie, kept and accounts
	lie      Lie
	kept     map[shardKey][]byte
	accounts map[format.AccountID]bool
}

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

func (l *Liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	lie := l.lie
	l.mu.Unlock()
	var served []byte
	ok := false
	if rec.code == http.StatusOK && lie != nil {
		served, ok = lie(root, l.read(acct, root), func(other merkle.Root) []byte { return l.read(acct, other) })
	}
	switch {
	case !ok:
		rec.replay(w)
	case served == nil:
		status, body := format.EncodeError(format.ErrNotFound)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	default:
		l.serve(w, r, served)
	}
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

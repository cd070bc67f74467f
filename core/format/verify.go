package format

import (
	"container/heap"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Farmer is the node ID requests must be addressed to.
	Farmer NodeID
	// MaxAge is how far in the past a request's timestamp may be: the
	// tolerated clock skew plus transit time. Nonces are remembered this
	// long.
	MaxAge time.Duration
	// MaxFuture is how far past the farmer's clock (or past the floor, see
	// Verifier) a timestamp may be.
	MaxFuture time.Duration
	// MaxNonces bounds the replay cache (about 100 bytes an entry). When
	// it is full, the oldest entry is dropped and the floor rises to its
	// timestamp, so memory stays bounded without reopening replays.
	MaxNonces int
}

// NewVerifierConfig returns the defaults for the farmer id: five minutes
// of past skew, two seconds of future skew (a client ahead by more learns
// the farmer's clock from its first refusal), 256 Ki nonces.
func NewVerifierConfig(id NodeID) VerifierConfig {
	return VerifierConfig{
		Farmer:    id,
		MaxAge:    5 * time.Minute,
		MaxFuture: 2 * time.Second,
		MaxNonces: 1 << 18,
	}
}

// Validate reports a configuration a Verifier cannot run with.
func (c VerifierConfig) Validate() error {
	switch {
	case c.Farmer.IsZero():
		return errors.New("verifier config: farmer id is zero")
	case c.MaxAge < time.Second:
		return fmt.Errorf("verifier config: max age %v, at least 1s", c.MaxAge)
	case c.MaxFuture < 0 || c.MaxFuture > c.MaxAge:
		return fmt.Errorf("verifier config: max future %v not in [0, max age %v]", c.MaxFuture, c.MaxAge)
	case c.MaxNonces < 1:
		return fmt.Errorf("verifier config: max nonces %d, at least 1", c.MaxNonces)
	}
	return nil
}

// Verifier checks signed requests for one farmer and refuses replays.
//
// A request is accepted once, if its signature is valid for its account,
// it names this farmer, its nonce is new and its timestamp t (milliseconds)
// satisfies
//
//	floor < t, now-MaxAge <= t, t <= max(now, floor)+MaxFuture.
//
// Accepted nonces are remembered until their timestamp leaves the window.
// The floor starts at the verifier's creation time plus MaxFuture: the
// previous process of the same farmer accepted nothing later than its own
// clock plus MaxFuture, so a restart, which forgets the nonces, cannot
// reopen a replay. When the replay cache is full the oldest nonce is
// forgotten and the floor rises to its timestamp, with the same effect. A
// client refused as expired signs its retry after the floor, which every
// response reports in HeaderNotBefore.
type Verifier struct {
	cfg VerifierConfig

	mu    sync.Mutex // guards floor, seen, order
	floor int64      // Unix ms; timestamps <= floor are refused
	seen  map[[nonceSize]byte]struct{}
	order nonceHeap // the entries of seen, oldest timestamp first
}

// NewVerifier returns a Verifier created at now.
func NewVerifier(cfg VerifierConfig, now time.Time) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Verifier{
		cfg:   cfg,
		floor: now.Add(cfg.MaxFuture).UnixMilli(),
		seen:  make(map[[nonceSize]byte]struct{}),
	}, nil
}

// NotBefore returns the floor: timestamps at or before it are refused.
func (v *Verifier) NotBefore() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return time.UnixMilli(v.floor)
}

// Signed is what a verified request's headers established.
type Signed struct {
	Account AccountID
	// BodyHash is the body hash the account signed. The caller must still
	// check the body it reads against it (CheckBody).
	BodyHash [32]byte
	Time     time.Time
}

// CheckBody reports whether the body read hashes to the signed hash; a
// body altered after signing fails with ErrBadSignature.
func (s Signed) CheckBody(actual [32]byte) error {
	if actual != s.BodyHash {
		return fmt.Errorf("%w: body does not match the signed hash", ErrBadSignature)
	}
	return nil
}

// Verify checks the signing headers of r at time now, and records its
// nonce. It does not read the body. Errors wrap ErrUnsigned,
// ErrBadSignature, ErrWrongFarmer, ErrExpired, ErrReplay or ErrBadRequest.
func (v *Verifier) Verify(r *http.Request, now time.Time) (Signed, error) {
	h, err := headerValues(r.Header)
	if err != nil {
		return Signed{}, err
	}
	account, err := ParseAccountID(h.account)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderAccount, err)
	}
	farmer, err := ParseNodeID(h.farmer)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderFarmer, err)
	}
	ts, err := parseMillis(h.timestamp)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderTimestamp, err)
	}
	var nonce [nonceSize]byte
	if err := decodeHex(nonce[:], h.nonce); err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderNonce, err)
	}
	var bodyHash [32]byte
	if err := decodeHex(bodyHash[:], h.bodyHash); err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderBodyHash, err)
	}
	sig, err := decodeSignature(h.signature)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: %s: %v", ErrBadSignature, HeaderSignature, err)
	}
	msg, err := canonical(r.Method, r.URL, h.signedHeaders)
	if err != nil {
		return Signed{}, err
	}
	if !ed25519.Verify(account.PublicKey(), msg, sig) {
		return Signed{}, fmt.Errorf("%w: signature does not verify", ErrBadSignature)
	}
	if farmer != v.cfg.Farmer {
		return Signed{}, fmt.Errorf("%w: request signed for %s, this is %s", ErrWrongFarmer, farmer, v.cfg.Farmer)
	}
	if err := v.admit(nonce, ts, now.UnixMilli()); err != nil {
		return Signed{}, err
	}
	return Signed{Account: account, BodyHash: bodyHash, Time: time.UnixMilli(ts)}, nil
}

// admit applies the timestamp rule and records the nonce.
func (v *Verifier) admit(nonce [nonceSize]byte, ts, now int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	oldest := now - v.cfg.MaxAge.Milliseconds()
	switch {
	case ts <= v.floor:
		return fmt.Errorf("%w: timestamp %d at or before the farmer's floor %d", ErrExpired, ts, v.floor)
	case ts < oldest:
		return fmt.Errorf("%w: timestamp %d older than %v", ErrExpired, ts, v.cfg.MaxAge)
	case ts > max(now, v.floor)+v.cfg.MaxFuture.Milliseconds():
		return fmt.Errorf("%w: timestamp %d more than %v ahead of the farmer's clock %d", ErrExpired, ts, v.cfg.MaxFuture, now)
	}
	for len(v.order) > 0 && v.order[0].ts < oldest {
		delete(v.seen, heap.Pop(&v.order).(nonceEntry).nonce)
	}
	if _, dup := v.seen[nonce]; dup {
		return fmt.Errorf("%w: nonce %x", ErrReplay, nonce)
	}
	for len(v.order) >= v.cfg.MaxNonces {
		e := heap.Pop(&v.order).(nonceEntry)
		delete(v.seen, e.nonce)
		v.floor = max(v.floor, e.ts)
	}
	if ts <= v.floor {
		return fmt.Errorf("%w: timestamp %d at or before the farmer's floor %d", ErrExpired, ts, v.floor)
	}
	v.seen[nonce] = struct{}{}
	heap.Push(&v.order, nonceEntry{ts: ts, nonce: nonce})
	return nil
}

// requestHeaders are the six signing headers as received.
type requestHeaders struct {
	signedHeaders
	signature string
}

// headerValues collects the signing headers, each of which must appear
// exactly once.
func headerValues(hdr http.Header) (requestHeaders, error) {
	var out requestHeaders
	missing := 0
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{HeaderAccount, &out.account},
		{HeaderFarmer, &out.farmer},
		{HeaderTimestamp, &out.timestamp},
		{HeaderNonce, &out.nonce},
		{HeaderBodyHash, &out.bodyHash},
		{HeaderSignature, &out.signature},
	} {
		switch vs := hdr.Values(f.name); len(vs) {
		case 0:
			missing++
		case 1:
			*f.dst = vs[0]
		default:
			return out, fmt.Errorf("%w: header %s appears %d times", ErrBadSignature, f.name, len(vs))
		}
	}
	if missing > 0 {
		return out, fmt.Errorf("%w: %d of 6 signing headers missing", ErrUnsigned, missing)
	}
	return out, nil
}

// parseMillis parses a decimal Unix millisecond count: digits only, no sign,
// no leading zero.
func parseMillis(s string) (int64, error) {
	if len(s) == 0 || len(s) > 15 || (s[0] == '0' && len(s) > 1) {
		return 0, errors.New("not a millisecond timestamp")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a millisecond timestamp")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// decodeHex decodes exactly len(dst) bytes of lowercase hex.
func decodeHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, have %d", 2*len(dst), len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return errors.New("not lowercase hex")
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

func decodeSignature(s string) ([]byte, error) {
	if len(s) != base64.RawStdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, fmt.Errorf("want %d base64 characters, have %d", base64.RawStdEncoding.EncodedLen(ed25519.SignatureSize), len(s))
	}
	sig, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	return sig, nil
}

type nonceEntry struct {
	ts    int64
	nonce [nonceSize]byte
}

// nonceHeap is a min-heap of nonce entries by timestamp.
type nonceHeap []nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

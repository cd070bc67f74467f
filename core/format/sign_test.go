package format

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestVerifier(tb testing.TB, farmer NodeID, created time.Time, nonces int) *Verifier {
	tb.Helper()
	cfg := NewVerifierConfig(farmer)
	if nonces > 0 {
		cfg.MaxNonces = nonces
	}
	v, err := NewVerifier(cfg, created)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func signedRequest(tb testing.TB, method, target string, body []byte, key ed25519.PrivateKey, farmer NodeID, at time.Time) *http.Request {
	tb.Helper()
	req := httptest.NewRequest(method, target, nil)
	if err := Sign(req, BodyHash(body), key, farmer, at); err != nil {
		tb.Fatal(err)
	}
	return req
}

func TestFormatSignVerify(t *testing.T) {
	farmer := testNodeID(t, 10)
	key := testKey(t, 11)
	acct, _ := AccountIDFromKey(key.Public().(ed25519.PublicKey))
	v := newTestVerifier(t, farmer, t0, 0)
	now := t0.Add(time.Minute)
	body := []byte("shard bytes")
	req := signedRequest(t, http.MethodPut, "/v1/shards/ab?x=1&b=2&b=1", body, key, farmer, now)
	s, err := v.Verify(req, now)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if s.Account != acct || s.BodyHash != BodyHash(body) || !s.Time.Equal(now) {
		t.Fatalf("Signed = %+v", s)
	}
	if err := s.CheckBody(BodyHash(body)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckBody(BodyHash([]byte("other"))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("CheckBody(altered) = %v, want ErrBadSignature", err)
	}
	// The same request again is a replay.
	if _, err := v.Verify(req, now); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v, want ErrReplay", err)
	}
}

func TestFormatVerifyRejects(t *testing.T) {
	farmer := testNodeID(t, 12)
	other := testNodeID(t, 13)
	key := testKey(t, 14)
	now := t0.Add(time.Hour)
	fresh := func() *http.Request {
		return signedRequest(t, http.MethodGet, "/v1/shards/ab?offset=1&length=2", nil, key, farmer, now)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want error
	}{
		{"unsigned", func() *http.Request { return httptest.NewRequest("GET", "/v1/info", nil) }, ErrUnsigned},
		{"one header missing", func() *http.Request { r := fresh(); r.Header.Del(HeaderNonce); return r }, ErrUnsigned},
		{"duplicate header", func() *http.Request { r := fresh(); r.Header.Add(HeaderNonce, r.Header.Get(HeaderNonce)); return r }, ErrBadSignature},
		{"method changed", func() *http.Request { r := fresh(); r.Method = "DELETE"; return r }, ErrBadSignature},
		{"path changed", func() *http.Request { r := fresh(); r.URL.Path = "/v1/shards/ac"; return r }, ErrBadSignature},
		{"query changed", func() *http.Request { r := fresh(); r.URL.RawQuery = "offset=1&length=3"; return r }, ErrBadSignature},
		{"query added", func() *http.Request { r := fresh(); r.URL.RawQuery += "&x=1"; return r }, ErrBadSignature},
		{"body hash changed", func() *http.Request {
			r := fresh()
			h := BodyHash([]byte("x"))
			r.Header.Set(HeaderBodyHash, hexOf(h[:]))
			return r
		}, ErrBadSignature},
		{"nonce changed", func() *http.Request {
			r := fresh()
			r.Header.Set(HeaderNonce, "00000000000000000000000000000000")
			return r
		}, ErrBadSignature},
		{"timestamp changed", func() *http.Request {
			r := fresh()
			ts := r.Header.Get(HeaderTimestamp)
			last := ts[len(ts)-1]
			r.Header.Set(HeaderTimestamp, ts[:len(ts)-1]+string('0'+(last-'0'+1)%10))
			return r
		}, ErrBadSignature},
		{"account swapped", func() *http.Request {
			r := fresh()
			acct, _ := AccountIDFromKey(testKey(t, 15).Public().(ed25519.PublicKey))
			r.Header.Set(HeaderAccount, acct.String())
			return r
		}, ErrBadSignature},
		{"farmer header swapped", func() *http.Request { r := fresh(); r.Header.Set(HeaderFarmer, other.String()); return r }, ErrBadSignature},
		{"signature garbage", func() *http.Request { r := fresh(); r.Header.Set(HeaderSignature, "!!"); return r }, ErrBadSignature},
		{"timestamp leading zero", func() *http.Request {
			r := fresh()
			r.Header.Set(HeaderTimestamp, "0"+r.Header.Get(HeaderTimestamp))
			return r
		}, ErrBadSignature},
		{"uppercase nonce", func() *http.Request {
			r := fresh()
			r.Header.Set(HeaderNonce, "ABCDEF00000000000000000000000000")
			return r
		}, ErrBadSignature},
		{"signed for another farmer", func() *http.Request {
			return signedRequest(t, http.MethodGet, "/v1/info", nil, key, other, now)
		}, ErrWrongFarmer},
		{"too old", func() *http.Request {
			return signedRequest(t, http.MethodGet, "/v1/info", nil, key, farmer, now.Add(-5*time.Minute-time.Millisecond))
		}, ErrExpired},
		{"too far ahead", func() *http.Request {
			return signedRequest(t, http.MethodGet, "/v1/info", nil, key, farmer, now.Add(2*time.Second+time.Millisecond))
		}, ErrExpired},
		{"before the verifier started", func() *http.Request {
			return signedRequest(t, http.MethodGet, "/v1/info", nil, key, farmer, t0)
		}, ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, farmer, now.Add(-time.Minute), 0)
			if tc.name == "before the verifier started" {
				v = newTestVerifier(t, farmer, t0, 0)
				if _, err := v.Verify(tc.req(), t0.Add(time.Second)); !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
				return
			}
			if _, err := v.Verify(tc.req(), now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestFormatVerifyWindowEdges(t *testing.T) {
	farmer := testNodeID(t, 16)
	key := testKey(t, 17)
	now := t0.Add(time.Hour)
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"oldest accepted", now.Add(-5 * time.Minute)},
		{"newest accepted", now.Add(2 * time.Second)},
		{"now", now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, farmer, t0, 0)
			if _, err := v.Verify(signedRequest(t, "GET", "/v1/info", nil, key, farmer, tc.at), now); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// A restarted farmer must refuse what its previous process accepted, even
// timestamps ahead of its clock.
func TestFormatVerifyRestartFloor(t *testing.T) {
	farmer := testNodeID(t, 18)
	key := testKey(t, 19)
	old := newTestVerifier(t, farmer, t0, 0)
	lastAccept := t0.Add(time.Hour)
	future := signedRequest(t, "GET", "/v1/info", nil, key, farmer, lastAccept.Add(2*time.Second))
	if _, err := old.Verify(future, lastAccept); err != nil {
		t.Fatal(err)
	}
	restarted := newTestVerifier(t, farmer, lastAccept.Add(time.Millisecond), 0)
	if _, err := restarted.Verify(future, lastAccept.Add(2*time.Millisecond)); !errors.Is(err, ErrExpired) {
		t.Fatalf("replay after restart: %v, want ErrExpired", err)
	}
	// A client following Shardrive-Not-Before gets in at once.
	nb := restarted.NotBefore()
	retry := signedRequest(t, "GET", "/v1/info", nil, key, farmer, nb.Add(time.Millisecond))
	if _, err := restarted.Verify(retry, lastAccept.Add(3*time.Millisecond)); err != nil {
		t.Fatalf("retry after the floor: %v", err)
	}
}

// A full replay cache forgets its oldest nonce and raises the floor, so the
// forgotten request still cannot be replayed.
func TestFormatVerifyBoundedNonces(t *testing.T) {
	farmer := testNodeID(t, 20)
	key := testKey(t, 21)
	v := newTestVerifier(t, farmer, t0, 4)
	now := t0.Add(time.Hour)
	var reqs []*http.Request
	for i := range 10 {
		r := signedRequest(t, "GET", "/v1/info", nil, key, farmer, now.Add(time.Duration(i)*time.Millisecond))
		if _, err := v.Verify(r, now.Add(10*time.Millisecond)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		reqs = append(reqs, r)
	}
	if len(v.seen) > 4 || len(v.order) > 4 {
		t.Fatalf("cache holds %d/%d entries, cap 4", len(v.seen), len(v.order))
	}
	for i, r := range reqs {
		_, err := v.Verify(r, now.Add(10*time.Millisecond))
		if !errors.Is(err, ErrReplay) && !errors.Is(err, ErrExpired) {
			t.Fatalf("replay of request %d: %v", i, err)
		}
	}
	// Entries leave the cache once their timestamp leaves the window.
	later := now.Add(6 * time.Minute)
	if _, err := v.Verify(signedRequest(t, "GET", "/v1/info", nil, key, farmer, later), later); err != nil {
		t.Fatal(err)
	}
	if len(v.seen) != 1 {
		t.Fatalf("cache holds %d entries after expiry, want 1", len(v.seen))
	}
}

// The canonical query ignores parameter order.
func TestFormatCanonicalQueryOrder(t *testing.T) {
	farmer := testNodeID(t, 22)
	key := testKey(t, 23)
	now := t0.Add(time.Hour)
	v := newTestVerifier(t, farmer, t0, 0)
	r := signedRequest(t, "GET", "/v1/shards/ab?offset=1&length=2&a=y&a=x", nil, key, farmer, now)
	r.URL.RawQuery = "a=x&length=2&a=y&offset=1"
	if _, err := v.Verify(r, now); err != nil {
		t.Fatalf("Verify reordered query: %v", err)
	}
}

func TestFormatVerifierConfigValidate(t *testing.T) {
	good := NewVerifierConfig(testNodeID(t, 24))
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*VerifierConfig){
		"zero farmer":     func(c *VerifierConfig) { c.Farmer = NodeID{} },
		"tiny max age":    func(c *VerifierConfig) { c.MaxAge = time.Millisecond },
		"negative future": func(c *VerifierConfig) { c.MaxFuture = -1 },
		"future > age":    func(c *VerifierConfig) { c.MaxFuture = time.Hour },
		"no nonces":       func(c *VerifierConfig) { c.MaxNonces = 0 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

package format

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/merkle"
)

func FuzzParseAddress(f *testing.F) {
	id := testNodeID(f, 40).String()
	for _, s := range []string{
		id + "@127.0.0.1:7001", id + "@[::1]:1", id + "@farmer.example:443",
		id + "@:7001", "@", id, "x@y:1", id + "@[::1%lo]:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("error %v does not wrap ErrBadID", err)
			}
			return
		}
		// One spelling per address: what parses prints back the same.
		if a.String() != s {
			t.Fatalf("ParseAddress(%q).String() = %q", s, a.String())
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("reparse: %v, %v", b, err)
		}
	})
}

func FuzzDecodeRange(f *testing.F) {
	for _, size := range []int{0, 1, merkle.LeafSize + 1, 3 * merkle.LeafSize} {
		data := testShard(size)
		r := rangeOf(f, data, 0, -1)
		b, err := EncodeRange(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if size > 0 {
			b, err = EncodeRange(rangeOf(f, data, int64(size-1), 1))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("SDRG\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRange(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := EncodeRange(r)
		if err != nil {
			t.Fatalf("re-encode of a decoded range: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
		// Verify must reject or accept without panicking.
		_ = merkle.Verify(merkle.Root{}, r.ShardSize, r.FirstLeaf, r.Data, r.Proof)
	})
}

func FuzzErrorFromResponse(f *testing.F) {
	f.Add(404, []byte(`{"code":"not_found","message":"x"}`))
	f.Add(500, []byte(`<html>`))
	f.Add(200, []byte(`{"code":1}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := ErrorFromResponse(status, body)
		if err == nil {
			t.Fatal("nil error")
		}
		_ = err.Error()
		var e *Error
		if !errors.As(err, &e) || e.Status != status {
			t.Fatalf("not an *Error with the status: %#v", err)
		}
	})
}

// FuzzVerifyRequest feeds arbitrary signing headers, method, path and query
// to a Verifier: it must never panic, never accept what it did not sign
// itself, and accept a genuine request built from the same parts once.
func FuzzVerifyRequest(f *testing.F) {
	farmer := testNodeID(f, 41)
	key := testKey(f, 42)
	now := t0.Add(time.Hour)
	acct, err := AccountIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	// Nonces are random, so this seed is valid only in the process that
	// made it; in fuzz workers it exercises the refusal paths.
	good := signedRequest(f, "GET", "/v1/shards/ab?offset=0", nil, key, farmer, now)
	hv := func(k string) string { return good.Header.Get(k) }
	f.Add("GET", "/v1/shards/ab", "offset=0", hv(HeaderAccount), hv(HeaderFarmer), hv(HeaderTimestamp),
		hv(HeaderNonce), hv(HeaderBodyHash), hv(HeaderSignature))
	f.Add("PUT", "/v1/x%0a", "a=%zz", "", "", "-1", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, query, account, farmerHdr, ts, nonce, bodyHash, sig string) {
		v := newTestVerifier(t, farmer, t0, 8)
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
		for k, val := range map[string]string{HeaderAccount: account, HeaderFarmer: farmerHdr, HeaderTimestamp: ts,
			HeaderNonce: nonce, HeaderBodyHash: bodyHash, HeaderSignature: sig} {
			if val != "" {
				r.Header.Set(k, val)
			}
		}
		// Only the seed, signed in this process with key, can pass: nobody
		// else can sign for key's account, and no other key is trusted.
		s, err := v.Verify(r, now)
		if err == nil && s.Account != acct {
			t.Fatalf("accepted a request not signed by the test key: %s %s?%s", method, path, query)
		}
		// A freshly signed request over the same method, path and query is
		// accepted exactly once, whenever the parts are valid.
		fresh := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
		if err := Sign(fresh, EmptyBodyHash(), key, farmer, now); err != nil {
			return
		}
		if _, err := v.Verify(fresh, now); err != nil {
			t.Fatalf("genuine request refused: %v", err)
		}
		if _, err := v.Verify(fresh, now); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay: %v", err)
		}
	})
}

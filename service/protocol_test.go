package service

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/syncer"
)

func TestParseRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want SyncRequest
		ok   bool
	}{
		{"empty", "", SyncRequest{}, true},
		{"empty object", "{}", SyncRequest{}, true},
		{"wait", `{"wait":true,"timeout_ms":600000}`, SyncRequest{Wait: true, TimeoutMS: 600000}, true},
		{"unknown field", `{"wait":true,"force":1}`, SyncRequest{}, false},
		{"trailing data", `{"wait":true} {}`, SyncRequest{}, false},
		{"negative timeout", `{"timeout_ms":-1}`, SyncRequest{}, false},
		{"huge timeout", `{"timeout_ms":604800001}`, SyncRequest{}, false},
		{"wrong type", `{"wait":"yes"}`, SyncRequest{}, false},
		{"not an object", `[1]`, SyncRequest{}, false},
		{"too big", `{"wait":true}` + strings.Repeat(" ", maxRequestBody), SyncRequest{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSyncRequest(strings.NewReader(tc.body))
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err %v is not ErrBadRequest", err)
			}
			if tc.ok && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"path":"/Photos"}`, true},
		{`{"path":"/"}`, true},
		{`{"path":"Photos"}`, false},
		{`{"path":""}`, false},
		{``, false},
		{`{"path":"/a\u0000b"}`, false},
		{`{"path":"/` + strings.Repeat("a", maxPathLen) + `"}`, false},
		{`{"path":"/a","pin":true}`, false},
	} {
		_, err := parsePathRequest(strings.NewReader(tc.body))
		if tc.ok != (err == nil) {
			t.Errorf("parsePathRequest(%.40q): err = %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{{"", true}, {"{}", true}, {" {} ", true}, {`{"x":1}`, false}, {"null x", false}} {
		if err := parseEmpty(strings.NewReader(tc.body)); tc.ok != (err == nil) {
			t.Errorf("parseEmpty(%q): err = %v, want ok=%v", tc.body, err, tc.ok)
		}
	}
}

// TestErrorKindsRoundTrip: every sentinel of the table survives the trip
// through kind and back, so exit codes are the same with or without a
// daemon.
func TestErrorKindsRoundTrip(t *testing.T) {
	for _, sentinel := range []error{ErrBadRequest, ErrForbidden, ErrProtocol, ErrStopping, ErrTimeout, mount.ErrBusy,
		syncer.ErrDamaged, syncer.ErrUnavailable, cache.ErrNotFound, cache.ErrNotDir, cache.ErrInvalid, ErrCacheDirty} {
		wrapped := fmt.Errorf("doing something: %w", sentinel)
		kind, status := kindOf(wrapped)
		remote := &RemoteError{Kind: kind, Message: wrapped.Error(), Status: status}
		if !errors.Is(remote, sentinel) {
			t.Errorf("%v: came back as kind %q, which is not the sentinel", sentinel, kind)
		}
	}
	// A timeout that cut an upload short is a timeout first.
	both := fmt.Errorf("sync: %w: %w", ErrTimeout, syncer.ErrUnavailable)
	if kind, _ := kindOf(both); kind != "timeout" {
		t.Errorf("timeout+unavailable classified %q", kind)
	}
	if kind, status := kindOf(errors.New("boom")); kind != "internal" || status != 500 {
		t.Errorf("unknown error: %q %d", kind, status)
	}
	if errors.Unwrap(&RemoteError{Kind: "from-the-future"}) != nil {
		t.Error("unknown kind unwraps to a sentinel")
	}
}

func FuzzParseRequests(f *testing.F) {
	for _, s := range []string{"", "{}", `{"wait":true,"timeout_ms":5}`, `{"path":"/a/b"}`, `{"path":1}`, `{"a":`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := parseSyncRequest(strings.NewReader(string(b))); err == nil {
			if req.TimeoutMS < 0 || req.TimeoutMS > maxSyncTimeoutMS {
				t.Fatalf("accepted timeout %d", req.TimeoutMS)
			}
		} else if !errors.Is(err, ErrBadRequest) {
			t.Fatalf("sync: %v is not ErrBadRequest", err)
		}
		if req, err := parsePathRequest(strings.NewReader(string(b))); err == nil {
			if !strings.HasPrefix(req.Path, "/") || len(req.Path) > maxPathLen || strings.ContainsRune(req.Path, 0) {
				t.Fatalf("accepted path %q", req.Path)
			}
		} else if !errors.Is(err, ErrBadRequest) {
			t.Fatalf("path: %v is not ErrBadRequest", err)
		}
		parseEmpty(strings.NewReader(string(b)))
	})
}

package format

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func testKey(tb testing.TB, seed byte) ed25519.PrivateKey {
	tb.Helper()
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed%26)), ed25519.SeedSize)))
}

func testNodeID(tb testing.TB, seed byte) NodeID {
	tb.Helper()
	id, err := NodeIDFromKey(testKey(tb, seed).Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestFormatNodeIDRoundTrip(t *testing.T) {
	id := testNodeID(t, 1)
	s := id.String()
	if len(s) != 52 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q, want 52 lowercase characters", s)
	}
	got, err := ParseNodeID(s)
	if err != nil || got != id {
		t.Fatalf("ParseNodeID(%q) = %v, %v; want %v", s, got, err, id)
	}
	acct, err := ParseAccountID(s)
	if err != nil || [32]byte(acct) != [32]byte(id) {
		t.Fatalf("ParseAccountID(%q) = %v, %v", s, acct, err)
	}
	var back NodeID
	if err := back.UnmarshalText([]byte(s)); err != nil || back != id {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
}

func TestFormatParseNodeIDRejects(t *testing.T) {
	good := testNodeID(t, 2).String()
	// The last character carries 4 unused bits; flipping one of them gives
	// a second spelling of the same key, which must not parse.
	alt := []byte(good)
	idx := strings.IndexByte("abcdefghijklmnopqrstuvwxyz234567", alt[51])
	alt[51] = "abcdefghijklmnopqrstuvwxyz234567"[idx^1]
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"short", good[:51]},
		{"long", good + "a"},
		{"uppercase", strings.ToUpper(good)},
		{"bad char", "1" + good[1:]},
		{"padding", good[:50] + "=="},
		{"non-canonical tail", string(alt)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseNodeID(tc.in); !errors.Is(err, ErrBadID) {
				t.Fatalf("ParseNodeID(%q) error = %v, want ErrBadID", tc.in, err)
			}
		})
	}
}

func TestFormatParseAddress(t *testing.T) {
	id := testNodeID(t, 3).String()
	for _, tc := range []struct {
		in   string
		host string // "" means must fail
	}{
		{id + "@127.0.0.1:7001", "127.0.0.1:7001"},
		{id + "@farmer.example.org:443", "farmer.example.org:443"},
		{id + "@[::1]:7001", "[::1]:7001"},
		{id + "@localhost:1", "localhost:1"},
		{id + "@127.0.0.1:65535", "127.0.0.1:65535"},
		{id + "@:7001", ""},
		{id + "@127.0.0.1", ""},
		{id + "@127.0.0.1:0", ""},
		{id + "@127.0.0.1:65536", ""},
		{id + "@127.0.0.1:07001", ""},
		{id + "@127.0.0.1:+1", ""},
		{id + "@::1:7001", ""},
		{id + "@[fe80::1%eth0]:7001", ""},
		{id + "@[127.0.0.1]:7001", ""},
		{id + "@exa mple.org:1", ""},
		{id + "@example.org.:1", ""},
		{id + "@-bad.org:1", ""},
		{id + "@a/b:1", ""},
		{"127.0.0.1:7001", ""},
		{"nodeid@127.0.0.1:7001", ""},
		{id + "@" + strings.Repeat("a.", 127) + "a:1", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			a, err := ParseAddress(tc.in)
			if tc.host == "" {
				if !errors.Is(err, ErrBadID) {
					t.Fatalf("ParseAddress = %v, %v; want ErrBadID", a, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddress: %v", err)
			}
			if a.Host != tc.host || a.ID.String() != id {
				t.Fatalf("ParseAddress = %+v", a)
			}
			if a.String() != tc.in {
				t.Fatalf("String() = %q, want %q", a.String(), tc.in)
			}
		})
	}
}

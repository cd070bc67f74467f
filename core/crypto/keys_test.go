package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func testSeed(b byte) []byte {
	return bytes.Repeat([]byte{b}, 64)
}

func mustDerive(tb testing.TB, seed []byte) *Keys {
	tb.Helper()
	k, err := DeriveKeys(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestDeriveKeysDeterministicAndDistinct(t *testing.T) {
	a1 := mustDerive(t, testSeed(1))
	a2 := mustDerive(t, testSeed(1))
	b := mustDerive(t, testSeed(2))
	if *a1 != *a2 {
		t.Error("same seed, different keys")
	}

	all := map[[32]byte]string{}
	for _, k := range []struct {
		name string
		keys *Keys
	}{{"a", a1}, {"b", b}} {
		for _, v := range []struct {
			label string
			val   [32]byte
		}{
			{"file-wrap", *k.keys.FileWrapKey()},
			{"metadata", *k.keys.MetadataKey()},
			{"names", *k.keys.NamesKey()},
			{"account", k.keys.account},
			{"check", k.keys.Check()},
		} {
			if v.val == ([32]byte{}) {
				t.Errorf("%s %s is zero", k.name, v.label)
			}
			id := k.name + " " + v.label
			if prev, dup := all[v.val]; dup {
				t.Errorf("%s equals %s", id, prev)
			}
			all[v.val] = id
		}
	}
}

func TestDeriveKeysRejectsShortSeed(t *testing.T) {
	for _, n := range []int{0, 1, MinSeedSize - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			k, err := DeriveKeys(make([]byte, n))
			if !errors.Is(err, ErrInvalidSeed) || k != nil {
				t.Fatalf("DeriveKeys(%d bytes) = %v, %v; want ErrInvalidSeed", n, k, err)
			}
		})
	}
	if _, err := DeriveKeys(make([]byte, MinSeedSize)); err != nil {
		t.Fatalf("DeriveKeys(%d bytes): %v", MinSeedSize, err)
	}
}

func TestAccountKey(t *testing.T) {
	k := mustDerive(t, testSeed(1))
	other := mustDerive(t, testSeed(2))
	farmerA := ed25519.PublicKey(bytes.Repeat([]byte{0xaa}, ed25519.PublicKeySize))
	farmerB := ed25519.PublicKey(bytes.Repeat([]byte{0xbb}, ed25519.PublicKeySize))

	a1, a2 := k.AccountKey(farmerA), k.AccountKey(farmerA)
	if !a1.Equal(a2) {
		t.Error("AccountKey is not deterministic")
	}
	pubs := map[string]string{}
	for _, c := range []struct {
		name string
		priv ed25519.PrivateKey
	}{
		{"k/A", a1},
		{"k/B", k.AccountKey(farmerB)},
		{"other/A", other.AccountKey(farmerA)},
		{"k/short-id", k.AccountKey(farmerA[:31])},
		{"k/nil-id", k.AccountKey(nil)},
	} {
		if len(c.priv) != ed25519.PrivateKeySize {
			t.Fatalf("%s: private key length %d", c.name, len(c.priv))
		}
		pub := string(c.priv.Public().(ed25519.PublicKey))
		if prev, dup := pubs[pub]; dup {
			t.Errorf("%s has the same public key as %s", c.name, prev)
		}
		pubs[pub] = c.name
	}
	// The key works: a farmer verifies what the account signs.
	msg := []byte("PUT /shards/x")
	if !ed25519.Verify(a1.Public().(ed25519.PublicKey), msg, ed25519.Sign(a1, msg)) {
		t.Error("signature does not verify")
	}
}

func TestVerifyCheck(t *testing.T) {
	k := mustDerive(t, testSeed(1))
	other := mustDerive(t, testSeed(2))
	if err := k.VerifyCheck(k.Check()); err != nil {
		t.Errorf("own check: %v", err)
	}
	if err := k.VerifyCheck(other.Check()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("other check: err = %v, want ErrWrongKey", err)
	}
}

func TestKeysRedacted(t *testing.T) {
	k := mustDerive(t, testSeed(1))
	secret := fmt.Sprintf("%x", k.FileWrapKey()[:])
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k),
		fmt.Sprint(*k.MetadataKey()), fmt.Sprintf("%x %v %#v", *k.FileWrapKey(), *k.FileWrapKey(), *k.FileWrapKey()),
	} {
		if !strings.Contains(s, "redacted") || strings.Contains(s, secret) {
			t.Errorf("formatted keys leak: %q", s)
		}
	}
}

func TestKeysFileRoundTrip(t *testing.T) {
	k := mustDerive(t, testSeed(7))
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != KeysFileSize {
		t.Fatalf("keys file is %d bytes, want %d", len(b), KeysFileSize)
	}
	got, err := UnmarshalKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *k {
		t.Error("round trip changed the keys")
	}
	var viaMethod Keys
	if err := viaMethod.UnmarshalBinary(b); err != nil || viaMethod != *k {
		t.Errorf("UnmarshalBinary: %v", err)
	}
	if bytes.Contains(b, testSeed(7)[:32]) {
		t.Error("keys file contains the seed")
	}
}

func TestKeysFileRejects(t *testing.T) {
	good, err := mustDerive(t, testSeed(7)).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte {
		return f(bytes.Clone(good))
	}
	// reseal recomputes the checksum so the test reaches the later checks.
	reseal := func(b []byte) []byte {
		sum := sha256.Sum256(b[:len(b)-sha256.Size])
		copy(b[len(b)-sha256.Size:], sum[:])
		return b
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		wantMsg string
	}{
		{"nil", nil, ErrMalformed, "shorter"},
		{"magic only", []byte(keysMagic), ErrMalformed, "shorter"},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'X'; return reseal(b) }), ErrMalformed, "magic"},
		{"version 0", mod(func(b []byte) []byte { b[8] = 0; return reseal(b) }), ErrUnknownVersion, "want version 1, have 0"},
		{"version 2", mod(func(b []byte) []byte { b[8] = 2; return reseal(b) }), ErrUnknownVersion, "want version 1, have 2"},
		{"truncated", good[:KeysFileSize-1], ErrMalformed, "want 201 bytes, have 200"},
		{"header only", good[:keysHeaderSize], ErrMalformed, "want 201 bytes"},
		{"extended", append(bytes.Clone(good), 0), ErrMalformed, "want 201 bytes, have 202"},
		{"flipped key bit", mod(func(b []byte) []byte { b[50] ^= 1; return b }), ErrMalformed, "checksum"},
		{"flipped checksum bit", mod(func(b []byte) []byte { b[KeysFileSize-1] ^= 0x80; return b }), ErrMalformed, "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := UnmarshalKeys(tt.in)
			if !errors.Is(err, tt.wantErr) || k != nil {
				t.Fatalf("UnmarshalKeys = %v, %v; want %v", k, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
	// A failed UnmarshalBinary leaves the receiver alone.
	k := *mustDerive(t, testSeed(3))
	before := k
	if err := k.UnmarshalBinary(good[:10]); err == nil || k != before {
		t.Error("failed UnmarshalBinary modified its receiver")
	}
}

func TestNewTestKeys(t *testing.T) {
	a, b := NewTestKeys(t, "a"), NewTestKeys(t, "b")
	if *a != *NewTestKeys(t, "a") || *a == *b {
		t.Error("NewTestKeys is not deterministic per name")
	}
}

func FuzzUnmarshalKeys(f *testing.F) {
	good, err := mustDerive(f, testSeed(7)).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:keysHeaderSize])
	f.Add([]byte{})
	f.Add([]byte("SHDRKEYS\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := UnmarshalKeys(b)
		if err != nil {
			if k != nil {
				t.Fatal("keys returned with error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		out, err := k.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted input does not re-encode to itself: %v", err)
		}
	})
}

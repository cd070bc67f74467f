package crypto

import (
	"crypto/sha512"
	"testing"
)

// NewTestKeys returns a deterministic key set for tests of other packages,
// derived from a fixed seed chosen by name (different names, different
// drives). It skips the 2048-round BIP39 PBKDF2, so it is cheap. Never use
// it outside tests.
func NewTestKeys(tb testing.TB, name string) *Keys {
	tb.Helper()
	seed := sha512.Sum512([]byte("shardrive test seed " + name))
	k, err := DeriveKeys(seed[:])
	if err != nil {
		tb.Fatalf("derive test keys: %v", err)
	}
	return k
}

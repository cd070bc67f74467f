package format

import (
	"fmt"
	"strconv"
)

// Root record slot, protocol version 1 (docs/format/wire.md, "Root
// record"):
//
//	PUT /v1/root?version=N   body: the record, 1..MaxRootRecord bytes
//	                         204, Shardrive-Root-Version: N
//	                         409 conflict, Shardrive-Root-Version: stored,
//	                         when N <= the stored version
//	GET /v1/root             200, body: the record, Shardrive-Root-Version
//	                         404 not_found when the account has none
//
// The record is opaque to the farmer: the client signs and seals it (one
// per farmer), the farmer keeps the highest version per account and never
// goes back. That is all a farmer can enforce; a lying one can still serve
// an old record, so a recovering client asks every farmer and keeps the
// highest version that verifies.
const (
	// RootPath is the path of the account's root record.
	RootPath = PathPrefix + "/root"
	// RootVersionParam is the query parameter of PUT /v1/root.
	RootVersionParam = "version"
	// HeaderRootVersion carries a root record's version: the one just
	// stored (PUT), the one stored when a PUT is refused (409), or the one
	// served (GET).
	HeaderRootVersion = "Shardrive-Root-Version"
	// MaxRootRecord bounds a root record. The record names where the
	// metadata lives, not the metadata itself, so it stays small; the bound
	// lets both sides hold it in memory.
	MaxRootRecord = 256 << 10
	// MaxRootVersion is the highest root version: SQLite integers are
	// signed 64-bit, and a version that grows by one per update never gets
	// near it.
	MaxRootVersion = 1<<63 - 1
)

// FormatRootVersion is the wire spelling of a root version.
func FormatRootVersion(v uint64) string { return strconv.FormatUint(v, 10) }

// ParseRootVersion parses a root version as sent in the version query
// parameter or the Shardrive-Root-Version header: decimal digits only, no
// sign, no leading zero, 1..MaxRootVersion, so every version has one
// spelling. Errors wrap ErrMalformed.
func ParseRootVersion(s string) (uint64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("%w: root version %.24q: want 1 to 19 digits", ErrMalformed, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: root version %q: not decimal", ErrMalformed, s)
		}
	}
	if s[0] == '0' {
		return 0, fmt.Errorf("%w: root version %q: zero or leading zero", ErrMalformed, s)
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxRootVersion {
		return 0, fmt.Errorf("%w: root version %q: above %d", ErrMalformed, s, uint64(MaxRootVersion))
	}
	return v, nil
}

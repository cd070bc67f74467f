package format

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ProtocolVersion is the version of the farmer HTTP API this package
// describes; it is also the "/v1" in every path. Fields added to a JSON
// body keep the version: both sides ignore fields they do not know and
// read a missing one as its zero value (docs/format/wire.md, "Info").
const ProtocolVersion = 1

// PathPrefix starts every API path.
const PathPrefix = "/v1"

// Info is the JSON body of GET /v1/info: the farmer's identity, its space
// and the asking account's usage. Sizes are bytes.
type Info struct {
	NodeID       NodeID `json:"node_id"`
	Software     string `json:"software"`
	Protocol     int    `json:"protocol"`
	Capacity     int64  `json:"capacity"`
	Used         int64  `json:"used"`
	Free         int64  `json:"free"`
	MaxShardSize int64  `json:"max_shard_size"`
	// Region is the location label the operator declared (CheckRegion),
	// empty if none. It is the farmer's word, for placement to spread a
	// block's shards; a client must CheckRegion it before use.
	Region  string       `json:"region,omitempty"`
	Account AccountUsage `json:"account"`
}

// AccountUsage is one account's standing on a farmer: what the farmer
// would bill, so that either side's records can settle a payment.
type AccountUsage struct {
	ID AccountID `json:"id"`
	// Quota is the most the account may store; without a per-account
	// quota it equals the farmer's capacity.
	Quota  int64 `json:"quota"`
	Used   int64 `json:"used"`
	Shards int64 `json:"shards"`
	// Egress counts shard bytes served to the account.
	Egress int64 `json:"egress"`
	// ByteHours is stored bytes times hours stored, accrued up to the
	// answer while the farmer runs (time it is down does not count).
	ByteHours float64 `json:"byte_hours"`
	// Ingress counts shard bytes received and kept: each stored shard
	// once, when first stored; refused or repeated uploads add nothing.
	Ingress int64 `json:"ingress"`
	// Since is when the farmer first stored something for the account
	// (RFC 3339, whole seconds, UTC); zero, and absent from the JSON,
	// for an account it holds nothing of and never did.
	Since time.Time `json:"since,omitzero"`
}

// ShardStat is the JSON body of GET /v1/shards/{root}/stat and of a
// successful PUT: what the farmer holds for the asking account.
type ShardStat struct {
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	// Corrupt is set once the farmer has found the stored bytes no longer
	// match their tree; reads then fail with ErrCorrupt until the owner
	// uploads the shard again or deletes it.
	Corrupt bool `json:"corrupt,omitempty"`
}

// MaxRegionLen bounds a region label, in bytes.
const MaxRegionLen = 64

// ErrBadRegion reports a region label CheckRegion refuses.
var ErrBadRegion = errors.New("format: bad region")

// CheckRegion reports whether s may be a farmer's region: free text such
// as "eu-west", at most MaxRegionLen bytes of UTF-8, printable (spaces
// only between words), so that it shows safely in a table and compares
// byte for byte. The empty string, "no region declared", is valid.
// Errors wrap ErrBadRegion.
func CheckRegion(s string) error {
	switch {
	case s == "":
		return nil
	case len(s) > MaxRegionLen:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadRegion, len(s), MaxRegionLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not UTF-8", ErrBadRegion)
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%w: %q starts or ends with a space", ErrBadRegion, s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %q has the unprintable character %U", ErrBadRegion, s, r)
		}
	}
	return nil
}

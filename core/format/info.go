package format

import "time"

// ProtocolVersion is the version of the farmer HTTP API this package
// describes; it is also the "/v1" in every path.
const ProtocolVersion = 1

// PathPrefix starts every API path.
const PathPrefix = "/v1"

// Info is the JSON body of GET /v1/info: the farmer's identity, its space
// and the asking account's usage. Sizes are bytes.
type Info struct {
	NodeID       NodeID       `json:"node_id"`
	Software     string       `json:"software"`
	Protocol     int          `json:"protocol"`
	Capacity     int64        `json:"capacity"`
	Used         int64        `json:"used"`
	Free         int64        `json:"free"`
	MaxShardSize int64        `json:"max_shard_size"`
	Account      AccountUsage `json:"account"`
}

// AccountUsage is one account's standing on a farmer.
type AccountUsage struct {
	ID AccountID `json:"id"`
	// Quota is the most the account may store; without a per-account
	// quota it equals the farmer's capacity.
	Quota  int64 `json:"quota"`
	Used   int64 `json:"used"`
	Shards int64 `json:"shards"`
	// Egress counts shard bytes served to the account.
	Egress int64 `json:"egress"`
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

package netclient

import (
	"errors"
	"fmt"
	"time"
)

// ErrNetworkConfig reports a NetworkConfig that Validate rejects.
var ErrNetworkConfig = errors.New("netclient: invalid network config")

// NetworkConfig bounds and tunes a Network. Start from NewNetworkConfig.
type NetworkConfig struct {
	// MaxInflightPerFarmer bounds the calls in flight to one farmer, across
	// every operation of the Network (and so its connections).
	MaxInflightPerFarmer int
	// MaxInflightBytes bounds the shard bytes being uploaded at once,
	// across all farmers. A shard larger than the bound is sent alone.
	MaxInflightBytes int64
	// RequestTimeout bounds one call to one farmer, not counting the wait
	// for a connection slot. A call that runs out of time counts as a
	// failure of that farmer.
	RequestTimeout time.Duration
	// Retries is how many more attempts one shard gets after its first
	// one fails: for Place each goes to another farmer, for Fetch to
	// another location, and the same farmer is tried again only once no
	// other is left and its error was transient. Delete retries transient
	// errors on its one farmer.
	Retries int
	// ExtraReads is how many requests Fetch starts beyond the k it needs.
	ExtraReads int
	// HedgeDelay is how long Fetch waits for an answer before it starts
	// one more request. Zero means adaptive: twice the expected time of the
	// k-th fastest location, from the measured latency and throughput.
	HedgeDelay time.Duration
	// DownBackoff is how long a farmer is asked last after it fails once;
	// each further failure in a row doubles it, up to MaxDownBackoff.
	DownBackoff    time.Duration
	MaxDownBackoff time.Duration
	// FullBackoff is how long a farmer that said it is full (or that our
	// account is over quota) is asked last for uploads.
	FullBackoff time.Duration
	// AuditTimeout bounds one audit call (one leaf and its proof), not
	// counting the wait for a slot. It is short because the answer is
	// small: a farmer that cannot produce 16 KiB in this time gets no
	// answer recorded, which the auditor holds against it.
	AuditTimeout time.Duration
}

// NewNetworkConfig returns the defaults: sized for a home uplink and
// blocks of a few MiB split into tens of shards.
func NewNetworkConfig() NetworkConfig {
	return NetworkConfig{
		MaxInflightPerFarmer: 8,
		MaxInflightBytes:     64 << 20,
		RequestTimeout:       60 * time.Second,
		Retries:              3,
		ExtraReads:           0,
		HedgeDelay:           0,
		DownBackoff:          5 * time.Second,
		MaxDownBackoff:       10 * time.Minute,
		FullBackoff:          10 * time.Minute,
		AuditTimeout:         15 * time.Second,
	}
}

// Validate reports the first setting out of range. Errors wrap
// ErrNetworkConfig.
func (c NetworkConfig) Validate() error {
	bad := func(msg string, args ...any) error {
		return fmt.Errorf("%w: "+msg, append([]any{ErrNetworkConfig}, args...)...)
	}
	switch {
	case c.MaxInflightPerFarmer < 1:
		return bad("MaxInflightPerFarmer %d, want at least 1", c.MaxInflightPerFarmer)
	case c.MaxInflightBytes < 1:
		return bad("MaxInflightBytes %d, want at least 1", c.MaxInflightBytes)
	case c.RequestTimeout <= 0:
		return bad("RequestTimeout %v, want more than 0", c.RequestTimeout)
	case c.Retries < 0:
		return bad("Retries %d, want at least 0", c.Retries)
	case c.ExtraReads < 0:
		return bad("ExtraReads %d, want at least 0", c.ExtraReads)
	case c.HedgeDelay < 0:
		return bad("HedgeDelay %v, want 0 (adaptive) or more", c.HedgeDelay)
	case c.DownBackoff <= 0:
		return bad("DownBackoff %v, want more than 0", c.DownBackoff)
	case c.MaxDownBackoff < c.DownBackoff:
		return bad("MaxDownBackoff %v below DownBackoff %v", c.MaxDownBackoff, c.DownBackoff)
	case c.FullBackoff < 0:
		return bad("FullBackoff %v, want at least 0", c.FullBackoff)
	case c.AuditTimeout <= 0:
		return bad("AuditTimeout %v, want more than 0", c.AuditTimeout)
	}
	return nil
}

package farmer

import (
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// Config configures a Farmer. Build it with NewConfig and change what you
// need; New calls Validate.
type Config struct {
	// Dir is the farmer's data directory: identity, index and shards.
	// Created with mode 0700 if missing.
	Dir string
	// Capacity is the most shard bytes the farmer stores, all accounts
	// together. Uploads past it are refused with format.ErrFarmerFull.
	Capacity int64
	// AccountQuota is the most shard bytes one account may store; 0 means
	// no per-account limit beyond Capacity.
	AccountQuota int64
	// MaxShardSize is the largest shard accepted, at most
	// format.MaxShardSize; larger uploads get format.ErrTooLarge (413).
	MaxShardSize int64
	// MaxMemory bounds the shard bytes held in memory by requests in
	// flight (an upload is hashed whole before it is written; a read is
	// verified whole before it is sent). Requests wait for room.
	MaxMemory int64
	// Advertise is the host:port clients should dial, when it differs
	// from the listener's address (NAT, a wildcard listen address).
	Advertise string
	// Software names the running program in Info, e.g. "shardfarmer 1.2".
	Software string
	// Region is an optional location label served in Info (e.g.
	// "eu-west"), so that clients can keep a block's shards out of one
	// region; see format.CheckRegion. Empty: none declared.
	Region string

	// HTTP server limits.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // whole request, body included
	WriteTimeout      time.Duration // whole response
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// ShutdownGrace bounds how long Shutdown waits for requests in flight
	// once its context is done, before closing the index under them.
	ShutdownGrace time.Duration
	// FlushInterval is how often egress counters and byte-hours are
	// written to the index.
	FlushInterval time.Duration

	// Request verification: see format.VerifierConfig. The Farmer field
	// of Verifier is filled in from the identity.
	Verifier format.VerifierConfig
}

// NewConfig returns the defaults: 10 GiB capacity, no per-account quota,
// 64 MiB shards, 512 MiB of request memory, and timeouts that let a
// 64 MiB shard through a 1 Mbit/s link.
func NewConfig() Config {
	return Config{
		Capacity:          10 << 30,
		MaxShardSize:      format.MaxShardSize,
		MaxMemory:         512 << 20,
		Software:          "shardfarmer",
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute,
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ShutdownGrace:     5 * time.Second,
		FlushInterval:     time.Minute,
		Verifier:          format.NewVerifierConfig(format.NodeID{}),
	}
}

// Validate reports a configuration New refuses.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is empty"))
	}
	if c.Capacity <= 0 {
		errs = append(errs, fmt.Errorf("capacity %d, want > 0", c.Capacity))
	}
	if c.AccountQuota < 0 {
		errs = append(errs, fmt.Errorf("account quota %d, want >= 0", c.AccountQuota))
	}
	if c.MaxShardSize <= 0 || c.MaxShardSize > format.MaxShardSize {
		errs = append(errs, fmt.Errorf("max shard size %d not in [1, %d]", c.MaxShardSize, format.MaxShardSize))
	}
	if c.MaxMemory < c.MaxShardSize {
		errs = append(errs, fmt.Errorf("max memory %d below max shard size %d", c.MaxMemory, c.MaxShardSize))
	}
	if c.Advertise != "" {
		if err := format.CheckHostPort(c.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("advertise %q: %w", c.Advertise, err))
		}
	}
	if err := format.CheckRegion(c.Region); err != nil {
		errs = append(errs, fmt.Errorf("region: %w", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout}, {"read timeout", c.ReadTimeout},
		{"write timeout", c.WriteTimeout}, {"idle timeout", c.IdleTimeout},
		{"flush interval", c.FlushInterval},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v, want > 0", d.name, d.v))
		}
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("shutdown grace %v, want >= 0", c.ShutdownGrace))
	}
	if c.MaxHeaderBytes < 4<<10 {
		errs = append(errs, fmt.Errorf("max header bytes %d, want >= 4096", c.MaxHeaderBytes))
	}
	v := c.Verifier
	v.Farmer = format.NodeID{1} // filled in by New
	if err := v.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("farmer config: %w", err)
	}
	return nil
}

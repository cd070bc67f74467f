package service

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// Pausing (shardrive pause, POST /v1/pause) stops the daemon's network
// traffic until it is resumed: the uploader and the metadata backup stop
// (and with them the deletion of unused shards), and every call to the
// farmers fails at once with ErrPaused, the ones in flight included. Writes
// keep landing in the local cache and stay queued. Reads of blocks that are
// not cached fail fast rather than wait (an application waiting on a read
// for hours is worse than one that reports an error): the mount answers
// EIO and logs ErrPaused. A write that needs room in a cache full of
// changes not uploaded gets ENOSPC at once. sync answers kind "paused".
//
// The pause lives as long as the daemon: a daemon that starts (a reboot,
// a login) is never paused, so a forgotten pause cannot keep data off the
// farmers for good. While paused the writer lease is not renewed; if it
// runs out and another device takes the drive over, this one learns it at
// resume and turns read-only, as after any time offline.

// ErrPaused: the daemon's network traffic is paused. It matches
// syncer.ErrUnavailable too, so that callers that handle farmers being out
// of reach (the drive, the CLI's exit codes) handle a pause the same way.
var ErrPaused error = pausedError{}

type pausedError struct{}

func (pausedError) Error() string        { return "network traffic is paused (shardrive resume restarts it)" }
func (pausedError) Is(target error) bool { return target == syncer.ErrUnavailable }

// gate stands between the session and the farmers: every block and root
// record call passes it, and a pause shuts it. It implements the syncer's
// Network and RootStore over a netclient.Network.
type gate struct {
	net *netclient.Network

	mu     sync.Mutex // guards the fields below
	paused bool
	// open ends (with cause ErrPaused) when the gate shuts, cutting the
	// calls in flight; replaced when it opens again.
	open   context.Context
	cancel context.CancelCauseFunc
}

var (
	_ syncer.Network   = (*gate)(nil)
	_ syncer.RootStore = (*gate)(nil)
)

func newGate(n *netclient.Network) *gate {
	g := &gate{net: n}
	g.open, g.cancel = context.WithCancelCause(context.Background())
	return g
}

// setPaused shuts or opens the gate; it reports whether that changed it.
func (g *gate) setPaused(paused bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused == paused {
		return false
	}
	g.paused = paused
	if paused {
		g.cancel(ErrPaused)
	} else {
		g.open, g.cancel = context.WithCancelCause(context.Background())
	}
	return true
}

// isPaused reports whether the gate is shut.
func (g *gate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// enter admits a call: its context also ends when the gate shuts.
func (g *gate) enter(ctx context.Context) (context.Context, func(), error) {
	g.mu.Lock()
	paused, open := g.paused, g.open
	g.mu.Unlock()
	if paused {
		return nil, nil, ErrPaused
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(open, func() { cancel(ErrPaused) })
	return ctx, func() { stop(); cancel(nil) }, nil
}

// cut turns the error of a call the gate cut short into ErrPaused.
func cut(ctx context.Context, op string, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrPaused) {
		return fmt.Errorf("%s: %w", op, ErrPaused)
	}
	return err
}

func (g *gate) Place(ctx context.Context, shards [][]byte, roots []merkle.Root, minOK int) ([]netclient.Placement, error) {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("place shards: %w", err)
	}
	defer leave()
	p, err := g.net.Place(ctx, shards, roots, minOK)
	return p, cut(ctx, "place shards", err)
}

func (g *gate) Fetch(ctx context.Context, locs []netclient.ShardLoc, k int, off, length int64) ([][]byte, error) {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch shards: %w", err)
	}
	defer leave()
	p, err := g.net.Fetch(ctx, locs, k, off, length)
	return p, cut(ctx, "fetch shards", err)
}

func (g *gate) Delete(ctx context.Context, farmer format.NodeID, root merkle.Root) error {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return fmt.Errorf("delete shard: %w", err)
	}
	defer leave()
	return cut(ctx, "delete shard", g.net.Delete(ctx, farmer, root))
}

func (g *gate) PutRoot(ctx context.Context, version uint64, record func(format.NodeID) []byte) []netclient.RootResult {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return g.refused(fmt.Errorf("put root: %w", err))
	}
	defer leave()
	res := g.net.PutRoot(ctx, version, record)
	return g.cutResults(ctx, "put root", res)
}

func (g *gate) GetRoots(ctx context.Context) []netclient.RootResult {
	ctx, leave, err := g.enter(ctx)
	if err != nil {
		return g.refused(fmt.Errorf("get roots: %w", err))
	}
	defer leave()
	return g.cutResults(ctx, "get roots", g.net.GetRoots(ctx))
}

// refused is a root call's answer while paused: every farmer failed with err.
func (g *gate) refused(err error) []netclient.RootResult {
	ids := g.net.Farmers()
	out := make([]netclient.RootResult, len(ids))
	for i, id := range ids {
		out[i] = netclient.RootResult{Farmer: id, Err: err}
	}
	return out
}

func (g *gate) cutResults(ctx context.Context, op string, res []netclient.RootResult) []netclient.RootResult {
	for i := range res {
		res[i].Err = cut(ctx, op, res[i].Err)
	}
	return res
}

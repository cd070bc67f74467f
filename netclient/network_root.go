package netclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/shardrive/shardrive/core/format"
)

// Root records over the network. The client keeps one root record on
// every farmer (format.RootPath): sealed per farmer, versioned, and only
// ever replaced by a higher version. PutRoot writes a version everywhere
// and GetRoots reads every farmer's copy; choosing the highest version that
// verifies is the caller's business, since only it can open the records.
// Both ask every farmer at once, each call holding one of the farmer's
// slots and bounded by RequestTimeout like any other, so a dead farmer
// costs at most one timeout. Neither retries: the next root version is the
// retry.

// rootStore is one farmer's root record slot.
type rootStore interface {
	PutRoot(ctx context.Context, version uint64, record []byte) error
	GetRoot(ctx context.Context) (uint64, []byte, error)
}

// RootResult is one farmer's part of PutRoot or GetRoots.
type RootResult struct {
	Farmer format.NodeID
	// Version is the version the farmer holds, as far as the call learned:
	// for PutRoot the version stored, or the farmer's own on a conflict
	// (0 when unknown); for GetRoots the version the farmer served.
	Version uint64
	// Record is the record the farmer served (GetRoots only), unverified.
	Record []byte
	// Err is the call's error: format.ErrNotFound for a farmer without a
	// record, a *RootConflict for a version the farmer holds already or
	// has passed, anything else for a farmer that failed.
	Err error
}

// PutRoot stores version on every farmer at once, farmer id getting
// record(id) (the client seals each farmer's copy under its own keys).
// record is called once per farmer, from the calling goroutine, before any
// call starts. It returns one result per farmer, in Farmers() order, once
// every call has ended or ctx is done.
func (n *Network) PutRoot(ctx context.Context, version uint64, record func(format.NodeID) []byte) []RootResult {
	set := n.farmers()
	out := make([]RootResult, len(set.ids))
	var wg sync.WaitGroup
	for i, id := range set.ids {
		out[i].Farmer = id
		rec := record(id)
		if err := checkRoot(version, rec); err != nil {
			// Ours, not the farmer's: no call, nothing held against it.
			out[i].Err = fmt.Errorf("put root v%d on farmer %s: %w", version, id, err)
			continue
		}
		p := set.peers[id]
		size := int64(len(rec))
		wg.Go(func() {
			err := n.call(ctx, p, callPutRoot, size, size, func(ctx context.Context) (int64, error) {
				return size, p.conn.PutRoot(ctx, version, rec)
			})
			r := &out[i]
			if err == nil {
				r.Version = version
				return
			}
			if rc := (*RootConflict)(nil); errors.As(err, &rc) {
				r.Version = rc.Stored
			}
			r.Err = fmt.Errorf("put root v%d on farmer %s: %w", version, id, err)
		})
	}
	wg.Wait()
	return out
}

// GetRoots asks every farmer at once for its root record. It returns one
// result per farmer, in Farmers() order, once every call has ended or ctx
// is done. Records are as the farmers sent them: the caller verifies each
// and keeps the highest valid version.
func (n *Network) GetRoots(ctx context.Context) []RootResult {
	set := n.farmers()
	out := make([]RootResult, len(set.ids))
	var wg sync.WaitGroup
	for i, id := range set.ids {
		out[i].Farmer = id
		p := set.peers[id]
		wg.Go(func() {
			var version uint64
			var record []byte
			err := n.call(ctx, p, callGetRoot, 0, 0, func(ctx context.Context) (int64, error) {
				var err error
				version, record, err = p.conn.GetRoot(ctx)
				return int64(len(record)), err
			})
			r := &out[i]
			if err != nil {
				r.Err = fmt.Errorf("get root from farmer %s: %w", id, err)
				return
			}
			r.Version, r.Record = version, record
		})
	}
	wg.Wait()
	return out
}

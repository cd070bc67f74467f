package drive

import (
	"context"
	"fmt"

	"github.com/shardrive/shardrive/cache"
)

// SetReadOnly makes the drive refuse every change from now on with an error
// that wraps both ErrReadOnly and reason (see doc.go for what counts as a
// change). It is for a drive this device may no longer write, such as when
// another device took the writer lease. The first reason stays: later calls
// change nothing but wait as the first does.
//
// When it returns, no change begun before it is still in flight: the
// drive changes no further, except by flushes and closes of files written
// before, which commit what was written.
func (d *Drive) SetReadOnly(reason error) {
	err := ErrReadOnly
	if reason != nil {
		err = fmt.Errorf("%w: %w", ErrReadOnly, reason)
	}
	d.readOnly.CompareAndSwap(nil, &err)
	d.settle()
}

// ReadOnly returns nil while the drive accepts changes, and afterwards the
// error every change fails with: errors.Is finds ErrReadOnly and the reason
// given to SetReadOnly in it.
func (d *Drive) ReadOnly() error {
	if p := d.readOnly.Load(); p != nil {
		return *p
	}
	return nil
}

// change runs fn in a metadata write transaction unless the drive is
// read-only: the transaction of every change goes through it. The check
// and the transaction are one step for SetReadOnly, which waits for the
// steps in flight.
func (d *Drive) change(ctx context.Context, fn func(*cache.Tx) error) error {
	d.changes.RLock()
	defer d.changes.RUnlock()
	if err := d.ReadOnly(); err != nil {
		return err
	}
	return d.db.Update(ctx, fn)
}

// settle waits for the changes that passed their check of the switch
// before it was set: those in a metadata transaction (change), and the
// writes and truncates of open files, which check it under the file's
// lock and hold that lock until their bytes are written.
func (d *Drive) settle() {
	d.changes.Lock() // every change in a transaction now has ended
	d.changes.Unlock()
	d.mu.Lock()
	nodes := make([]*node, 0, len(d.nodes))
	for _, n := range d.nodes {
		nodes = append(nodes, n)
	}
	d.mu.Unlock()
	for _, n := range nodes {
		n.f.Lock() // a write or truncate that held it has ended
		n.f.Unlock()
	}
}

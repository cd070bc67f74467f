package service

import (
	"context"
	"errors"
	"time"
)

// WaitFree waits until no process owns home h (its lock can be taken),
// or ctx ends.
func WaitFree(ctx context.Context, h Home) error {
	for {
		l, err := LockHome(h.LockPath(), false)
		if err == nil {
			l.Unlock()
			return nil
		}
		if !errors.Is(err, ErrBusy) {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

//go:build unix

package service

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// HomeLock is an advisory lock on a home: one owner (exclusive), or many
// readers (shared). The kernel drops it when the process dies, so a crash
// never leaves the home locked.
type HomeLock struct{ f *os.File }

// LockHome takes the lock at path without waiting; ErrBusy if someone else
// holds it in a conflicting way.
func LockHome(path string, exclusive bool) (*HomeLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock home: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrBusy)
		}
		return nil, fmt.Errorf("lock home: %w", err)
	}
	return &HomeLock{f: f}, nil
}

// Unlock releases the lock. A nil lock is fine.
func (l *HomeLock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

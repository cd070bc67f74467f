//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// homeLock is an advisory lock on the home: one writer, or many readers.
// The kernel drops it when the process dies, so a crash never leaves the
// home locked.
type homeLock struct{ f *os.File }

func lockHome(path string, exclusive bool) (*homeLock, error) {
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
			return nil, fmt.Errorf("%s: %w", path, errBusy)
		}
		return nil, fmt.Errorf("lock home: %w", err)
	}
	return &homeLock{f: f}, nil
}

func (l *homeLock) Unlock() {
	if l != nil {
		l.f.Close()
	}
}

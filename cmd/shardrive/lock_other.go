//go:build !unix

package main

import (
	"fmt"
	"os"
)

// homeLock on platforms without flock: an exclusive create of the lock file.
// A crash leaves it behind; the message says which file to remove.
type homeLock struct{ path string }

func lockHome(path string, exclusive bool) (*homeLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s exists (remove it if no shardrive runs): %w", path, errBusy)
	}
	f.Close()
	return &homeLock{path: path}, nil
}

func (l *homeLock) Unlock() {
	if l != nil {
		os.Remove(l.path)
	}
}

//go:build !unix

package service

import (
	"fmt"
	"os"
)

// HomeLock on platforms without flock: an exclusive create of the lock
// file, shared and exclusive alike. A crash leaves it behind; the message
// says which file to remove.
type HomeLock struct{ path string }

func LockHome(path string, exclusive bool) (*HomeLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s exists (remove it if no shardrive runs): %w", path, ErrBusy)
	}
	f.Close()
	return &HomeLock{path: path}, nil
}

func (l *HomeLock) Unlock() {
	if l != nil && l.path != "" {
		os.Remove(l.path)
		l.path = ""
	}
}

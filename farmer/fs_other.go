//go:build !unix && !windows

package farmer

import (
	"errors"
	"fmt"
	"os"
)

// syncDir flushes a directory where the platform allows it.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	_ = f.Sync() // best effort: not every platform can flush a directory
	return nil
}

type dirLock struct{}

var errLocked = fmt.Errorf("%w: in use by another process", ErrDataDir)

// lockDir refuses to run: without a lock two processes could share a data
// directory and corrupt it.
func lockDir(string) (*dirLock, error) {
	return nil, errors.New("farmer: data directory locking is not supported on this platform")
}

func (l *dirLock) unlock() error { return nil }

// lockHeld reports false: no farmer runs where lockDir refuses.
func lockHeld(string) (bool, error) { return false, nil }

func isNoSpace(error) bool { return false }

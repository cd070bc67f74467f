//go:build unix

package farmer

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// syncDir makes the entries of directory dir durable (after a create,
// rename or remove inside it).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// dirLock holds an exclusive advisory lock on a file, so that two farmer
// processes never share a data directory.
type dirLock struct{ f *os.File }

// errLocked reports a data directory another process holds.
var errLocked = fmt.Errorf("%w: in use by another process", ErrDataDir)

func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	err = retryLocked(func() error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) },
		func(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) })
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", errLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

// lockHeld reports whether a process holds the lock file at path. It
// probes with a shared lock it drops at once (see ReadStats); a missing
// file means no farmer ever ran there.
func lockHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe lock: %w", err)
	}
	defer f.Close() // drops the probe's lock
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe lock %s: %w", path, err)
	}
	return false, nil
}

func (l *dirLock) unlock() error { return l.f.Close() }

// isNoSpace reports whether err is the disk being full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

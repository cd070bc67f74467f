//go:build windows

package farmer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// syncDir is a no-op on Windows: NTFS journals directory entries, and a
// directory handle cannot be flushed.
func syncDir(string) error { return nil }

// dirLock holds an exclusive lock on a file, so that two farmer processes
// never share a data directory.
type dirLock struct{ f *os.File }

// errLocked reports a data directory another process holds.
var errLocked = fmt.Errorf("%w: in use by another process", ErrDataDir)

func lockDir(path string) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	err = retryLocked(func() error {
		ol := new(windows.Overlapped)
		return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	}, func(err error) bool { return errors.Is(err, windows.ERROR_LOCK_VIOLATION) })
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, fmt.Errorf("%w: %s", errLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) unlock() error { return l.f.Close() }

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
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe lock %s: %w", path, err)
	}
	// Closing the handle unlocks too, but not necessarily at once.
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
	return false, nil
}

// isNoSpace reports whether err is the disk being full.
func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

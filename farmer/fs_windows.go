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
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
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

// isNoSpace reports whether err is the disk being full.
func isNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

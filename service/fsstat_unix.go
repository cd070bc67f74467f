//go:build unix

package service

import (
	"errors"
	"io/fs"
	"syscall"
)

// IsDeadMount reports whether dir is a FUSE mount whose server is gone.
func IsDeadMount(dir string) bool {
	var st syscall.Statfs_t
	return errors.Is(syscall.Statfs(dir, &st), syscall.ENOTCONN)
}

// allocatedBytes is the disk space fi takes (its allocated blocks), which
// for a sparse cache file is less than its size.
func allocatedBytes(fi fs.FileInfo) (int64, bool) {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(sys.Blocks) * 512, true
	}
	return 0, false
}

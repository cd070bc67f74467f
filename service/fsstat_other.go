//go:build !unix

package service

import "io/fs"

// IsDeadMount is false: there are no FUSE mounts on this platform.
func IsDeadMount(dir string) bool { return false }

// allocatedBytes is unknown here; callers count the file's size.
func allocatedBytes(fi fs.FileInfo) (int64, bool) { return 0, false }

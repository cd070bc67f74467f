//go:build !linux

package cache

import "os"

// punchHole zeroes [off, off+n) of f where the platform cannot free it.
func punchHole(f *os.File, off, n int64) error { return writeZeros(f, off, n) }

package cache

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole frees the bytes [off, off+n) of f, which then read as zeros.
func punchHole(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == unix.EOPNOTSUPP {
		return writeZeros(f, off, n)
	}
	return err
}

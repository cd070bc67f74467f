package service

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS writes back what the kernel caches of the file system holding
// dir (syncfs(2)). Called on a FUSE mount from outside its server, it makes
// the kernel send the server every write it still holds.
func SyncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

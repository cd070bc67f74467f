//go:build unix && !linux

package service

import "syscall"

// SyncFS falls back to sync(2) where syncfs(2) does not exist.
func SyncFS(dir string) error {
	syscall.Sync()
	return nil
}

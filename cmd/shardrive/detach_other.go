//go:build !unix

package main

import "syscall"

// detachedAttr has nothing to set where there are no sessions (and no FUSE
// mounts to detach yet).
func detachedAttr() *syscall.SysProcAttr { return nil }

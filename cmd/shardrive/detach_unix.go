//go:build unix

package main

import "syscall"

// detachedAttr starts the mount daemon in a session of its own, so that the
// terminal's hangup and Ctrl-C never reach it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

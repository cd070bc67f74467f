//go:build !linux

package main

import "os"

// isTerminal reports whether f looks like a terminal: a character device
// (which /dev/null is too; good enough until these platforms run).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

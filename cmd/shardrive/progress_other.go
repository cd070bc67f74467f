//go:build !unix

package main

import "os"

// termWidth is 0 (the default width) until these platforms run.
func termWidth(f *os.File) int { return 0 }

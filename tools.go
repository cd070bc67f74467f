//go:build tools

// Package main pins the design-card dependencies in go.mod until their real users land.
package main

import (
	_ "bazil.org/fuse"
	_ "github.com/adrg/xdg"
	_ "github.com/cosmos/go-bip39"
	_ "github.com/dustin/go-humanize"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/kardianos/service"
	_ "github.com/klauspost/reedsolomon"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/spf13/cobra"
	_ "github.com/zeebo/blake3"
	_ "golang.org/x/crypto/hkdf"
	_ "golang.org/x/sync/errgroup"
)

func main() {}

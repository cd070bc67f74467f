//go:build tools

// Package main pins the design-card dependencies in go.mod until their real users land.
package main
import (
 _ "bazil.org/fuse"
 _ "github.com/klauspost/reedsolomon"
 _ "golang.org/x/crypto/hkdf"
 _ "github.com/mattn/go-sqlite3"
 _ "github.com/fsnotify/fsnotify"
 _ "github.com/kardianos/service"
 _ "github.com/cosmos/go-bip39"
 _ "github.com/spf13/cobra"
 _ "golang.org/x/sync/errgroup"
 _ "github.com/zeebo/blake3"
 _ "github.com/adrg/xdg"
 _ "github.com/dustin/go-humanize"
)
func main(){}

// Command mkdeb builds the shardrive and shardfarmer .deb files of one
// architecture from built binaries; scripts/package.sh runs it.
//
//	go run ./installer/mkdeb -version 1.2.3 -arch amd64 -shardrive BIN -shardfarmer BIN -readme README.md -out dist
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shardrive/shardrive/installer"
)

func main() {
	var o installer.Options
	var out string
	flag.StringVar(&o.Version, "version", "", "Debian version of the packages")
	flag.StringVar(&o.Arch, "arch", "", "Debian architecture (amd64, arm64)")
	flag.StringVar(&o.DriveBinary, "shardrive", "", "the shardrive binary")
	flag.StringVar(&o.FarmerBinary, "shardfarmer", "", "the shardfarmer binary")
	flag.StringVar(&o.Readme, "readme", "README.md", "the README to install as documentation")
	flag.StringVar(&o.DriveConfig, "drive-config", "", "the drive's example configuration (shardrive config init)")
	flag.StringVar(&out, "out", ".", "directory to write the .deb files to")
	flag.Parse()
	if flag.NArg() > 0 || o.Version == "" || o.Arch == "" || o.DriveBinary == "" || o.FarmerBinary == "" {
		fmt.Fprintln(os.Stderr, "usage: mkdeb -version V -arch A -shardrive BIN -shardfarmer BIN [-readme FILE] [-drive-config FILE] [-out DIR]")
		os.Exit(2)
	}
	debs, err := installer.Packages(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
	for _, d := range debs {
		path, err := d.Build(out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mkdeb:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}

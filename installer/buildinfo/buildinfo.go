// Package buildinfo says which build of Shardrive is running: the release
// version and commit stamped in at link time, else what the Go toolchain
// recorded from the checkout, so that a bug report names its binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the release build (Makefile, scripts/package.sh):
//
//	-ldflags "-X github.com/shardrive/shardrive/installer/buildinfo.version=1.2.3
//	          -X github.com/shardrive/shardrive/installer/buildinfo.commit=0123456789ab"
var version, commit string

// commitLen is how much of a commit hash is shown: enough to be unique.
const commitLen = 12

// Info describes one binary.
type Info struct {
	Program   string // "shardrive"
	Version   string // "1.2.3", or "dev" for an unstamped build
	Commit    string // short hash, "-dirty" when built from a modified tree; "unknown" when nobody recorded it
	GoVersion string // "go1.26.8"
	Platform  string // "linux/amd64"
}

// Read returns the build information of the running binary.
func Read(program string) Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return read(program, version, commit, bi)
}

// read is Read on explicit inputs, for tests.
func read(program, version, commit string, bi *debug.BuildInfo) Info {
	in := Info{Program: program, Version: version, Commit: commit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if in.Version == "" {
			// Go stamps the main module's version from the VCS tag, or a
			// pseudo-version; "(devel)" says it did neither.
			if v := bi.Main.Version; v != "" && v != "(devel)" {
				in.Version = strings.TrimPrefix(v, "v")
			}
		}
		if in.Commit == "" {
			in.Commit = vcsCommit(bi.Settings)
		}
	}
	if in.Version == "" {
		in.Version = "dev"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

func vcsCommit(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	rev = rev[:min(len(rev), commitLen)]
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// String is the line `version` prints:
// "shardrive 1.2.3 (commit 0123456789ab, go1.26.8, linux/amd64)".
func (in Info) String() string {
	return fmt.Sprintf("%s %s (commit %s, %s, %s)", in.Program, in.Version, in.Commit, in.GoVersion, in.Platform)
}

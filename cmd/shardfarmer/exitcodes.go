package main

import (
	"errors"

	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/service/system"
)

// Exit codes are API: scripts and service managers branch on them. Keep
// this table and the one in doc.go in step; never renumber.
const (
	exitOK        = 0 // success, including a signal-triggered clean shutdown
	exitFailure   = 1 // any other error: serving failed, shutdown was unclean
	exitUsage     = 2 // bad command line: unknown command or flag, bad value
	exitDataDir   = 3 // data directory unusable: in use, bad or missing identity, newer index
	exitListen    = 4 // cannot listen on the --listen address
	exitNoManager = 5 // service: no service manager runs here (a container)
)

var (
	errUsage  = errors.New("usage")
	errListen = errors.New("listen")
)

// exitCode maps an error to its exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, farmer.ErrInvalidConfig):
		return exitUsage
	case errors.Is(err, errListen):
		return exitListen
	case errors.Is(err, farmer.ErrDataDir):
		return exitDataDir
	case errors.Is(err, system.ErrNoManager):
		return exitNoManager
	}
	return exitFailure
}

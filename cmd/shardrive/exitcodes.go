package main

import (
	"errors"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/meta"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/service/system"
	"github.com/shardrive/shardrive/syncer"
)

// Exit codes; see doc.go. The numbers are API.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitWrongKey    = 3
	exitUnavailable = 4
	exitDamaged     = 5
	exitNotFound    = 6
	exitNoDrive     = 7
	exitBusy        = 8
	exitTimeout     = 9
	exitOtherDevice = 10
	exitNoManager   = 11
	exitNoKeys      = 12
)

var (
	errUsage       = errors.New("usage")
	errDriveExists = errors.New("a drive already exists in this home")
)

// exitTable maps errors to exit codes, first match wins: damage outranks
// unavailability because a damaged block is also one we could not read.
var exitTable = []struct {
	err  error
	code int
}{
	{errUsage, exitUsage},
	{service.ErrTimeout, exitTimeout}, // outranks the failure a cut-short upload reports
	{crypto.ErrInvalidMnemonic, exitWrongKey},
	{crypto.ErrWrongKey, exitWrongKey},
	{service.ErrBadKeys, exitWrongKey},
	{service.ErrKeyringUnavailable, exitNoKeys},
	{service.ErrKeysMissing, exitNoKeys},
	{syncer.ErrNoBackup, exitWrongKey},
	{syncer.ErrLeaseHeld, exitOtherDevice},
	{syncer.ErrLeaseLost, exitOtherDevice},
	{cache.ErrInconsistent, exitDamaged},
	{meta.ErrMalformed, exitDamaged},
	{syncer.ErrDamaged, exitDamaged},
	{errDamagedDrive, exitDamaged},
	{errRepairIncomplete, exitUnavailable},
	{service.ErrFarmerKnown, exitUsage},
	{service.ErrFarmerUnknown, exitNotFound},
	{crypto.ErrUnauthenticated, exitDamaged},
	{syncer.ErrUnavailable, exitUnavailable},
	{cache.ErrNotFound, exitNotFound},
	{cache.ErrNotInitialized, exitNoDrive},
	{errDriveExists, exitNoDrive},
	{service.ErrBusy, exitBusy},
	{mount.ErrBusy, exitBusy},
	{system.ErrNoManager, exitNoManager},
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	for _, e := range exitTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return exitError
}

package drive

import (
	"errors"

	"github.com/shardrive/shardrive/cache"
)

// Errors every front maps to its own codes (mount: errnos, in one table).
var (
	ErrNotFound     = cache.ErrNotFound
	ErrExists       = cache.ErrExists
	ErrNotDir       = cache.ErrNotDir
	ErrIsDir        = cache.ErrIsDir
	ErrNotEmpty     = cache.ErrNotEmpty
	ErrInvalid      = cache.ErrInvalid
	ErrNoXattr      = cache.ErrNoXattr
	ErrNameTooLong  = errors.New("file name too long")
	ErrNotSupported = errors.New("operation not supported")
	ErrPermission   = errors.New("operation not permitted")
	ErrNoSpace      = errors.New("no space left on device")
	// ErrReadOnly: the drive no longer accepts changes: see the reason it
	// wraps beside this (SetReadOnly), such as the writer lease lost to
	// another device.
	ErrReadOnly = errors.New("drive is read-only")
)

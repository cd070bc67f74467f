package mount

import "errors"

// Errors of the mount itself, for callers that branch on them.
var (
	// ErrUnavailable: FUSE cannot be used here (no /dev/fuse, or no
	// fusermount3 to mount with).
	ErrUnavailable = errors.New("FUSE is not available")
	// ErrAllowOther: AllowOther was asked by a non-root user while
	// /etc/fuse.conf lacks user_allow_other.
	ErrAllowOther = errors.New("allow_other is not permitted")
	// ErrBusy: the mount is in use and could not be unmounted.
	ErrBusy = errors.New("mount point is busy")
)

package mount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"

	"bazil.org/fuse"

	"github.com/shardrive/shardrive/drive"
)

// errnos is the one table from drive errors to the errnos the kernel hands
// to applications. Order matters only for errors that wrap several of these;
// the drive's sentinels come first, ErrReadOnly before all: its reason (a
// lost writer lease, say) may wrap any other error, and what the application
// must learn is that the drive takes no changes. Anything not listed is EIO
// (and logged).
//
// Syscall errnos from the local cache disk are listed for the two that mean
// something to an application (the disk is full); every other local failure
// is EIO, never a misleading ENOENT or EACCES from a cache file.
var errnos = []struct {
	err   error
	errno syscall.Errno
}{
	{drive.ErrReadOnly, syscall.EROFS},
	{drive.ErrNotFound, syscall.ENOENT},
	{drive.ErrExists, syscall.EEXIST},
	{drive.ErrNotDir, syscall.ENOTDIR},
	{drive.ErrIsDir, syscall.EISDIR},
	{drive.ErrNotEmpty, syscall.ENOTEMPTY},
	{drive.ErrNameTooLong, syscall.ENAMETOOLONG},
	{drive.ErrInvalid, syscall.EINVAL},
	{drive.ErrNoXattr, syscall.ENODATA},
	{drive.ErrNotSupported, syscall.ENOTSUP},
	{drive.ErrPermission, syscall.EPERM},
	{drive.ErrNoSpace, syscall.ENOSPC},
	{syscall.ENOSPC, syscall.ENOSPC},
	{syscall.EDQUOT, syscall.EDQUOT},
}

// errno turns err into what bazil answers the kernel with. It returns a
// fuse.Errno for every error but cancellation: context.Canceled goes back
// as itself, so that bazil answers EINTR when the kernel interrupted the
// request (and EIO when something else canceled it).
func errno(err error) (e error, known bool) {
	if errors.Is(err, context.Canceled) {
		return context.Canceled, true
	}
	for _, m := range errnos {
		if errors.Is(err, m.err) {
			return fuse.Errno(m.errno), true
		}
	}
	return fuse.Errno(syscall.EIO), false
}

// fail converts err for an answer to the kernel and logs what has no errno
// of its own: such an error is a bug or a failing disk or network, and EIO
// alone would leave the user with nothing to go on. The log names the
// operation and the inode number, never a file name.
func (f *fsys) fail(op string, ino uint64, err error) error {
	e, known := errno(err)
	if known {
		if f.log.Enabled(context.Background(), slog.LevelDebug) {
			f.log.Debug("fuse: request failed", "op", op, "ino", ino, "errno", e, "err", err)
		}
		return e
	}
	f.log.Warn("fuse: I/O error", "op", op, "ino", ino, "err", err)
	return e
}

// failIO is fail for reads and writes, the interruptible requests: once the
// kernel has interrupted one, whatever error the drive met on the way out
// (a transaction cut short, a fetch abandoned) is the interrupt's doing,
// and the answer is EINTR.
func (f *fsys) failIO(ctx context.Context, op string, ino uint64, err error) error {
	if ctx.Err() != nil {
		return context.Canceled
	}
	return f.fail(op, ino, err)
}

// errnoError is an errno raised by the adapter itself (for requests the
// drive never sees), with the reason kept for bazil's debug log.
func errnoError(e syscall.Errno, format string, args ...any) error {
	return &adapterError{errno: e, msg: fmt.Sprintf(format, args...)}
}

type adapterError struct {
	errno syscall.Errno
	msg   string
}

func (e *adapterError) Error() string     { return e.msg + ": " + e.errno.Error() }
func (e *adapterError) Errno() fuse.Errno { return fuse.Errno(e.errno) }
func (e *adapterError) Unwrap() error     { return e.errno }

var _ fuse.ErrorNumber = (*adapterError)(nil)

package service

import "errors"

// Errors callers branch on.
var (
	// ErrBusy: another process owns the home (holds its lock).
	ErrBusy = errors.New("home is in use by another shardrive process")
	// ErrNoDaemon: no daemon answers on the home's control socket.
	ErrNoDaemon = errors.New("no shardrive daemon runs for this home")
	// ErrTimeout: the operation did not finish in the time it was given;
	// the work left stays queued.
	ErrTimeout = errors.New("timed out")
	// ErrStopping: the daemon is stopping and takes no more requests.
	ErrStopping = errors.New("daemon is stopping")
	// ErrBadRequest: the daemon refused a malformed request.
	ErrBadRequest = errors.New("bad control request")
	// ErrForbidden: the peer is not the daemon's user (nor root).
	ErrForbidden = errors.New("not allowed to control this daemon")
	// ErrProtocol: the other side speaks a control protocol this binary
	// does not (another version), or answered with something unparsable.
	ErrProtocol = errors.New("control protocol mismatch")
	// ErrCacheDirty: the local cache cannot move to another directory while
	// it holds blocks not uploaded yet.
	ErrCacheDirty = errors.New("local cache holds data not uploaded yet")
)

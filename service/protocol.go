package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/syncer"
)

// The control protocol, version 1 (docs/format/control.md): HTTP/1.1 over
// the home's Unix socket, JSON bodies, every path under apiPrefix.
//
//	GET  /v1/status                          -> Status
//	POST /v1/sync       SyncRequest          -> SyncReply
//	POST /v1/pin        PathRequest          -> OKReply
//	POST /v1/unpin      PathRequest          -> OKReply
//	POST /v1/file-status PathRequest         -> FileStatus
//	POST /v1/cache/clear  (empty or {})      -> ClearReply
//	POST /v1/unmount      (empty or {})      -> UnmountReply
//	POST /v1/pause        (empty or {})      -> PauseReply
//	POST /v1/resume       (empty or {})      -> PauseReply
//
// Failures answer an HTTP error status with ErrorReply.
const (
	apiPrefix = "/v1/"
	// maxRequestBody bounds request bodies; the largest legal one is a path
	// of maxPathLen bytes, JSON-escaped.
	maxRequestBody = 64 << 10
	// maxReplyBody bounds what the client reads of a reply.
	maxReplyBody = 4 << 20
	// maxSyncTimeoutMS bounds SyncRequest.TimeoutMS (a week).
	maxSyncTimeoutMS = 7 * 24 * 3600 * 1000
)

// SyncRequest asks for an upload of every change made so far.
type SyncRequest struct {
	// Wait: answer only once everything is stored (or failed). Without it
	// the daemon starts the upload and answers at once.
	Wait bool `json:"wait"`
	// TimeoutMS bounds the wait; 0 waits as long as the request lasts.
	TimeoutMS int64 `json:"timeout_ms"`
}

// SyncReply says what is left after a sync.
type SyncReply struct {
	QueuedFiles int `json:"queued_files"`
}

// PathRequest names a drive path (starting with /).
type PathRequest struct {
	Path string `json:"path"`
}

// OKReply is the answer of requests that return nothing else.
type OKReply struct {
	OK bool `json:"ok"`
}

// FileStatus is the sync state of one drive path: drive.StatusLocal
// ("local": changes not on the farmers yet) or drive.StatusStored.
type FileStatus struct {
	Path   string `json:"path"`
	Status string `json:"status"`
}

// ClearReply says what cache clear did.
type ClearReply struct {
	Dropped int `json:"dropped"` // clean blocks dropped
	Kept    int `json:"kept"`    // dirty blocks that stay until uploaded
}

// UnmountReply says how the daemon stopped.
type UnmountReply struct {
	MountDir string `json:"mount_dir"`
	// QueuedFiles are files whose changes the last upload round did not
	// store; they upload at the next start.
	QueuedFiles int    `json:"queued_files"`
	SyncError   string `json:"sync_error,omitempty"`
}

// PauseReply says whether the daemon's network traffic is paused now, and
// whether the request changed that.
type PauseReply struct {
	Paused  bool `json:"paused"`
	Changed bool `json:"changed"`
}

// ErrorReply is the body of every failed request.
type ErrorReply struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is a failure: Kind for programs, Message for people.
type ErrorBody struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// errorKinds is the one table between errors and what crosses the socket:
// the kind string, the HTTP status and the sentinel the client gives back,
// so that exit codes survive the trip. First match wins (damage outranks
// unavailability, a timeout outranks both).
var errorKinds = []struct {
	kind   string
	status int
	err    error
}{
	{"bad_request", http.StatusBadRequest, ErrBadRequest},
	{"forbidden", http.StatusForbidden, ErrForbidden},
	{"protocol", http.StatusNotFound, ErrProtocol},
	{"stopping", http.StatusServiceUnavailable, ErrStopping},
	{"timeout", http.StatusGatewayTimeout, ErrTimeout},
	{"mount_busy", http.StatusConflict, mount.ErrBusy},
	{"lease_lost", http.StatusConflict, syncer.ErrLeaseLost},
	{"damaged", http.StatusBadGateway, syncer.ErrDamaged},
	{"damaged", http.StatusBadGateway, crypto.ErrUnauthenticated},
	{"paused", http.StatusServiceUnavailable, ErrPaused}, // before unavailable, which it matches
	{"unavailable", http.StatusServiceUnavailable, syncer.ErrUnavailable},
	{"not_found", http.StatusNotFound, cache.ErrNotFound},
	{"not_dir", http.StatusConflict, cache.ErrNotDir},
	{"invalid", http.StatusBadRequest, cache.ErrInvalid},
	{"cache_dirty", http.StatusConflict, ErrCacheDirty},
}

// kindOf classifies err for the wire; "internal" if no row matches.
func kindOf(err error) (kind string, status int) {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.kind, k.status
		}
	}
	return "internal", http.StatusInternalServerError
}

// RemoteError is a failure the daemon reported. It unwraps to the sentinel
// of its kind, so errors.Is works across the socket.
type RemoteError struct {
	Kind    string
	Message string
	Status  int
}

func (e *RemoteError) Error() string { return e.Message }

func (e *RemoteError) Unwrap() error {
	for _, k := range errorKinds {
		if k.kind == e.Kind {
			return k.err
		}
	}
	return nil
}

// decodeJSON reads one JSON value of type T from r: at most maxRequestBody
// bytes, no unknown fields, nothing after it. An empty body is T's zero
// value when emptyOK.
func decodeJSON[T any](r io.Reader, emptyOK bool) (T, error) {
	var v T
	b, err := io.ReadAll(io.LimitReader(r, maxRequestBody+1))
	if err != nil {
		return v, fmt.Errorf("%w: read body: %w", ErrBadRequest, err)
	}
	if len(b) > maxRequestBody {
		return v, fmt.Errorf("%w: body over %d bytes", ErrBadRequest, maxRequestBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return v, nil
		}
		return v, fmt.Errorf("%w: empty body", ErrBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return v, fmt.Errorf("%w: data after the JSON value", ErrBadRequest)
	}
	return v, nil
}

// parseSyncRequest decodes and checks a SyncRequest.
func parseSyncRequest(r io.Reader) (SyncRequest, error) {
	req, err := decodeJSON[SyncRequest](r, true)
	if err != nil {
		return req, err
	}
	if req.TimeoutMS < 0 || req.TimeoutMS > maxSyncTimeoutMS {
		return req, fmt.Errorf("%w: timeout_ms %d: must be 0..%d", ErrBadRequest, req.TimeoutMS, maxSyncTimeoutMS)
	}
	return req, nil
}

// parsePathRequest decodes and checks a PathRequest: an absolute drive
// path, clean of NULs, at most maxPathLen bytes (the drive checks names).
func parsePathRequest(r io.Reader) (PathRequest, error) {
	req, err := decodeJSON[PathRequest](r, false)
	if err != nil {
		return req, err
	}
	switch {
	case req.Path == "" || len(req.Path) > maxPathLen:
		return req, fmt.Errorf("%w: path of %d bytes", ErrBadRequest, len(req.Path))
	case !strings.HasPrefix(req.Path, "/"):
		return req, fmt.Errorf("%w: drive path %q does not start with /", ErrBadRequest, req.Path)
	case strings.ContainsRune(req.Path, 0):
		return req, fmt.Errorf("%w: path has a NUL", ErrBadRequest)
	}
	return req, nil
}

// parseEmpty accepts an empty body or {}.
func parseEmpty(r io.Reader) error {
	_, err := decodeJSON[struct{}](r, true)
	return err
}

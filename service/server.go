package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// controller is what the control server needs of a daemon.
type controller interface {
	status(ctx context.Context) (Status, error)
	sync(ctx context.Context, req SyncRequest) (SyncReply, error)
	pin(ctx context.Context, drivePath string, pin bool) error
	fileStatus(ctx context.Context, drivePath string) (FileStatus, error)
	clearCache(ctx context.Context) (ClearReply, error)
	unmount(ctx context.Context) (UnmountReply, error)
	pause(ctx context.Context, paused bool) (PauseReply, error)
	keeperController
}

// peerKey is the context key of a connection's peer uid.
type peerKey struct{}

// peer is what the server knows of a connection's other end.
type peer struct {
	uid uint32
	err error // why the uid is unknown
}

// newControlServer returns the HTTP server of the control protocol. Only
// connections from uid (or root) are served; the rest get 403.
func newControlServer(c controller, uid uint32, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := c.status(r.Context())
		reply(w, log, st, err)
	})
	mux.HandleFunc("POST /v1/sync", func(w http.ResponseWriter, r *http.Request) {
		req, err := parseSyncRequest(r.Body)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		rep, err := c.sync(r.Context(), req)
		reply(w, log, rep, err)
	})
	for _, ep := range []struct {
		path string
		pin  bool
	}{{"/v1/pin", true}, {"/v1/unpin", false}} {
		mux.HandleFunc("POST "+ep.path, func(w http.ResponseWriter, r *http.Request) {
			req, err := parsePathRequest(r.Body)
			if err == nil {
				err = c.pin(r.Context(), req.Path, ep.pin)
			}
			reply(w, log, OKReply{OK: err == nil}, err)
		})
	}
	mux.HandleFunc("POST /v1/file-status", func(w http.ResponseWriter, r *http.Request) {
		req, err := parsePathRequest(r.Body)
		if err != nil {
			reply(w, log, nil, err)
			return
		}
		rep, err := c.fileStatus(r.Context(), req.Path)
		reply(w, log, rep, err)
	})
	mux.HandleFunc("POST /v1/cache/clear", func(w http.ResponseWriter, r *http.Request) {
		if err := parseEmpty(r.Body); err != nil {
			reply(w, log, nil, err)
			return
		}
		rep, err := c.clearCache(r.Context())
		reply(w, log, rep, err)
	})
	mux.HandleFunc("POST /v1/unmount", func(w http.ResponseWriter, r *http.Request) {
		if err := parseEmpty(r.Body); err != nil {
			reply(w, log, nil, err)
			return
		}
		rep, err := c.unmount(r.Context())
		reply(w, log, rep, err)
	})
	for _, ep := range []struct {
		path  string
		pause bool
	}{{"/v1/pause", true}, {"/v1/resume", false}} {
		mux.HandleFunc("POST "+ep.path, func(w http.ResponseWriter, r *http.Request) {
			if err := parseEmpty(r.Body); err != nil {
				reply(w, log, nil, err)
				return
			}
			rep, err := c.pause(r.Context(), ep.pause)
			reply(w, log, rep, err)
		})
	}
	handleKeeper(mux, c, func(w http.ResponseWriter, v any, err error) { reply(w, log, v, err) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, log, nil, fmt.Errorf("%w: no endpoint %s %s (this daemon speaks %s)", ErrProtocol, r.Method, r.URL.Path, apiPrefix))
	})
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		if p.err != nil || (p.uid != uid && p.uid != 0) {
			log.Warn("control request refused", "peer_uid", p.uid, "err", p.err)
			reply(w, log, nil, fmt.Errorf("%w: only uid %d (or root) may use this socket", ErrForbidden, uid))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		mux.ServeHTTP(w, r)
	})
	return &http.Server{
		Handler:           guarded,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uid, err := peerUID(c)
			return context.WithValue(ctx, peerKey{}, peer{uid: uid, err: err})
		},
	}
}

// reply writes v as JSON, or err as an ErrorReply with its status.
func reply(w http.ResponseWriter, log *slog.Logger, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		kind, status := kindOf(err)
		if kind == "internal" {
			log.Warn("control request failed", "err", err)
		}
		w.WriteHeader(status)
		v = ErrorReply{Error: ErrorBody{Kind: kind, Message: err.Error()}}
	}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Debug("control reply not sent", "err", err)
	}
}

// listenControl listens on the control socket at path. A socket left by a
// process that died is removed; one that answers means another daemon
// owns the home. The directory (made if missing) must be the user's own;
// it is made 0700 and the socket 0600.
func listenControl(path string) (net.Listener, error) {
	if n := len(path); n > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: path is %d bytes, the system allows %d: use a shorter --home", path, n, maxSocketPath)
	}
	dir := filepath.Dir(path)
	// The runtime directory's shardrive/ is ours to make; the state
	// directory exists already.
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if !fi.IsDir() || !ownedByMe(fi) {
		return nil, fmt.Errorf("control socket: %s is not a directory of this user's: refusing to serve in it", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("control socket: make %s private: %w", dir, err)
		}
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: %w: another daemon answers on it", path, ErrBusy)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Closing the listener must not unlink a socket that a successor
	// already put in its place; the daemon removes its own on stop.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return l, nil
}

// maxSocketPath is the longest Unix socket path (sun_path less the NUL).
const maxSocketPath = 107

// errNoCred: the platform cannot tell who is on the other end.
var errNoCred = errors.New("peer credentials unavailable")

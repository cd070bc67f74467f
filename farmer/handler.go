package farmer

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// handler serves the farmer API (docs/format/wire.md):
//
//	GET    /v1/info
//	PUT    /v1/shards/{root}          body: the shard
//	GET    /v1/shards/{root}?offset=&length=
//	DELETE /v1/shards/{root}
//	GET    /v1/shards/{root}/stat
//	PUT    /v1/root?version=N         body: the root record
//	GET    /v1/root
//
// Every request is verified (format.Verifier) before it is routed, so an
// unsigned request learns nothing, not even which paths exist. Shards live
// in one namespace per account: an account asking for another's shard gets
// not_found, exactly as if nobody stored it; so does each account's root
// record.
type handler struct {
	f *Farmer
}

// request is a verified request on its way through the handler.
type request struct {
	r      *http.Request
	signed format.Signed
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	f := h.f
	var acct string
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			f.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !sw.wrote {
				h.fail(sw, r, format.ErrInternal)
			}
		}
		f.requests.add(r.Method, sw.status)
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelError
		}
		f.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"account", acct, "bytes_out", sw.n, "duration", time.Since(start))
	}()
	if !f.gate.enter() {
		h.fail(sw, r, format.ErrUnavailable)
		return
	}
	defer f.gate.leave()
	now := time.Now()
	sw.Header().Set(format.HeaderTime, strconv.FormatInt(now.UnixMilli(), 10))
	sw.Header().Set(format.HeaderNotBefore, strconv.FormatInt(f.verifier.NotBefore().UnixMilli(), 10))
	signed, err := f.verifier.Verify(r, now)
	if err != nil {
		h.fail(sw, r, err)
		return
	}
	acct = signed.Account.String()
	req := request{r: r, signed: signed}
	if r.Method != http.MethodPut {
		if err := emptyBody(req); err != nil {
			h.fail(sw, r, err)
			return
		}
	}
	if err := h.route(sw, req); err != nil {
		h.fail(sw, r, err)
	}
}

// emptyBody checks that a request other than PUT has no body and signed
// the empty body's hash.
func emptyBody(req request) error {
	if req.r.ContentLength > 0 {
		return fmt.Errorf("%w: %s requests take no body", format.ErrBadRequest, req.r.Method)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(req.r.Body, 1))
	if err != nil {
		return fmt.Errorf("%w: read body: %v", format.ErrBadRequest, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s requests take no body", format.ErrBadRequest, req.r.Method)
	}
	return req.signed.CheckBody(format.EmptyBodyHash())
}

func (h *handler) route(w http.ResponseWriter, req request) error {
	path := req.r.URL.Path
	if path == format.PathPrefix+"/info" {
		if req.r.Method != http.MethodGet {
			return methodNotAllowed(w, http.MethodGet)
		}
		return h.info(w, req)
	}
	if path == format.RootPath {
		switch req.r.Method {
		case http.MethodGet:
			return h.getRoot(w, req)
		case http.MethodPut:
			return h.putRoot(w, req)
		}
		return methodNotAllowed(w, "GET, PUT")
	}
	rest, ok := strings.CutPrefix(path, format.PathPrefix+"/shards/")
	if !ok {
		return fmt.Errorf("%w: no such path", format.ErrNotFound)
	}
	rootStr, sub, _ := strings.Cut(rest, "/")
	root, err := merkle.ParseRoot(rootStr)
	if err != nil {
		return fmt.Errorf("%w: %v", format.ErrBadRequest, err)
	}
	switch sub {
	case "":
		switch req.r.Method {
		case http.MethodGet:
			return h.getShard(w, req, root)
		case http.MethodPut:
			return h.putShard(w, req, root)
		case http.MethodDelete:
			return h.deleteShard(w, req, root)
		}
		return methodNotAllowed(w, "GET, PUT, DELETE")
	case "stat":
		if req.r.Method != http.MethodGet {
			return methodNotAllowed(w, http.MethodGet)
		}
		return h.statShard(w, req, root)
	}
	return fmt.Errorf("%w: no such path", format.ErrNotFound)
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return format.ErrMethodNotAllowed
}

// fail answers err as a wire error. Anything that is not one of the
// format sentinels is logged here and reported as "internal error".
func (h *handler) fail(w *statusWriter, r *http.Request, err error) {
	status, body := format.EncodeError(err)
	if r.Context().Err() != nil {
		// The client went away (a hedged read it no longer needs): not
		// the farmer's failure, and nobody reads the answer.
		h.f.log.Debug("request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		w.status = 499
		return
	}
	if status >= 500 {
		h.f.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		h.f.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if w.wrote {
		// Headers are gone; the client sees a short body and fails its
		// length or proof check.
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal response: %w", err)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	// A failed write means the client went away; nobody is left to tell.
	_, _ = w.Write(b)
	return nil
}

// statusWriter records the status and byte count of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	n      int64
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corrupt marks a shard whose stored bytes failed a check, logs it, and
// returns the error the client gets. Nothing is served from it until the
// owner uploads it again.
func (h *handler) corrupt(req request, root merkle.Root, cause error) error {
	f := h.f
	f.log.Error("stored shard failed its check; refusing to serve it",
		"account", req.signed.Account.String(), "root", root.String(), "err", cause)
	if err := f.index.markCorrupt(req.r.Context(), req.signed.Account, root); err != nil {
		f.log.Error("mark shard corrupt", "root", root.String(), "err", err)
	}
	return fmt.Errorf("%w: shard %s", format.ErrCorrupt, root)
}

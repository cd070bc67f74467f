package farmer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// The root record slot (docs/format/wire.md, "Root record"):
//
//	PUT /v1/root?version=N   body: 1..format.MaxRootRecord opaque bytes
//	                         204 + Shardrive-Root-Version: N, or
//	                         409 conflict + Shardrive-Root-Version: stored
//	GET /v1/root             200 + Shardrive-Root-Version, body: the record
//
// One record per account, in the index (table roots). The farmer cannot
// read the record; all it enforces is that the version only grows.

// putRoot stores the body as the account's root record if the version in
// the query is above the stored one.
//
// Order: the query and size; the stored version, under the account's root
// lock (so the version check, the space accounting and the write see the
// same row); quota and capacity for the growth, if any; only then is the
// body read and checked against the signed hash. A stale version is
// refused before a byte of the body is read.
func (h *handler) putRoot(w http.ResponseWriter, req request) error {
	f := h.f
	r := req.r
	version, err := rootVersionParam(r.URL.Query())
	if err != nil {
		return err
	}
	switch {
	case r.ContentLength < 0:
		return fmt.Errorf("%w: PUT needs a Content-Length", format.ErrBadRequest)
	case r.ContentLength == 0:
		return fmt.Errorf("%w: empty root record", format.ErrBadRequest)
	case r.ContentLength > format.MaxRootRecord:
		return fmt.Errorf("%w: root record of %d bytes, at most %d", format.ErrTooLarge, r.ContentLength, format.MaxRootRecord)
	}
	size := r.ContentLength
	acct := req.signed.Account
	ctx := r.Context()
	unlock := f.roots.lock(shardKey{acct: acct})
	defer unlock()

	prev, err := f.index.rootInfo(ctx, acct)
	if err != nil {
		return fmt.Errorf("look up root: %w", err)
	}
	if prev.version >= version {
		return rootConflict(w, version, prev.version)
	}
	grow := size - prev.size
	done := func(bool) {}
	if grow > 0 {
		if done, err = f.space.reserve(acct, grow); err != nil {
			return err
		}
	}
	committed := false
	defer func() { done(committed) }()

	buf, release, err := f.readBody(w, r, size)
	if err != nil {
		return err
	}
	defer release()
	// A plain body: the signed hash is BLAKE3 of the bytes.
	if err := req.signed.CheckBody(format.BodyHash(buf)); err != nil {
		return err
	}
	// The body is read and checked: finish the write even if the client
	// has gone, as for shards. Only this handler writes roots, under the
	// lock taken above, so the transaction finds prev again; its own
	// version check is the last word anyway.
	held, stored, err := f.index.putRoot(context.WithoutCancel(ctx), acct, version, buf, time.Now())
	if err != nil {
		return fmt.Errorf("store root: %w", err)
	}
	if !stored {
		return rootConflict(w, version, held.version)
	}
	if grow > 0 {
		committed = true
	} else if grow < 0 {
		f.space.release(acct, -grow)
	}
	f.log.Debug("stored root record", "account", acct.String(), "version", version, "size", size)
	w.Header().Set(format.HeaderRootVersion, format.FormatRootVersion(version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rootConflict refuses a root record whose version is not above the stored
// one, naming the stored version in the header and the message.
func rootConflict(w http.ResponseWriter, version, stored uint64) error {
	w.Header().Set(format.HeaderRootVersion, format.FormatRootVersion(stored))
	return fmt.Errorf("%w: version %d is not above the stored version %d", format.ErrConflict, version, stored)
}

// rootVersionParam parses the query of PUT /v1/root: exactly one
// parameter, version, given once.
func rootVersionParam(q url.Values) (uint64, error) {
	vs, ok := q[format.RootVersionParam]
	if !ok || len(q) != 1 {
		return 0, fmt.Errorf("%w: want exactly the query parameter %q", format.ErrBadRequest, format.RootVersionParam)
	}
	if len(vs) != 1 {
		return 0, fmt.Errorf("%w: query parameter %q given %d times", format.ErrBadRequest, format.RootVersionParam, len(vs))
	}
	v, err := format.ParseRootVersion(vs[0])
	if err != nil {
		return 0, fmt.Errorf("%w: %v", format.ErrBadRequest, err)
	}
	return v, nil
}

// getRoot serves the account's root record and its version.
func (h *handler) getRoot(w http.ResponseWriter, req request) error {
	f := h.f
	if req.r.URL.RawQuery != "" {
		return fmt.Errorf("%w: GET %s takes no query", format.ErrBadRequest, format.RootPath)
	}
	ctx := req.r.Context()
	// The size is unknown before the row is read; the bound is small.
	if err := f.mem.Acquire(ctx, format.MaxRootRecord); err != nil {
		return fmt.Errorf("wait for memory: %w", err)
	}
	defer f.mem.Release(format.MaxRootRecord)
	version, record, err := f.index.root(ctx, req.signed.Account)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no root record", format.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read root: %w", err)
	}
	writeRoot(w, version, record)
	return nil
}

// writeRoot answers a GET /v1/root with record at version.
func writeRoot(w http.ResponseWriter, version uint64, record []byte) {
	w.Header().Set(format.HeaderRootVersion, format.FormatRootVersion(version))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(record)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the client went away; nobody is left to tell.
	_, _ = w.Write(record)
}

package farmer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// putShard stores the request body as shard root of the signing account.
//
// Order: size limits; the owner's existing copy makes the upload a no-op
// (the root binds the bytes, so there is nothing to overwrite); quota and
// capacity are reserved before a byte is read; the body is read whole,
// checked against the signed hash and against root; only then is the file
// written (atomically) and indexed. A corrupt stored copy is replaced.
func (h *handler) putShard(w http.ResponseWriter, req request, root merkle.Root) error {
	f := h.f
	r := req.r
	if r.ContentLength < 0 {
		return fmt.Errorf("%w: PUT needs a Content-Length", format.ErrBadRequest)
	}
	if r.ContentLength > f.cfg.MaxShardSize {
		return fmt.Errorf("%w: shard of %d bytes, at most %d", format.ErrTooLarge, r.ContentLength, f.cfg.MaxShardSize)
	}
	size := r.ContentLength
	acct := req.signed.Account
	ctx := r.Context()
	unlock := f.keys.lock(shardKey{acct, root})
	defer unlock()

	replace := false
	row, err := f.index.shard(ctx, acct, root)
	switch {
	case err == nil && row.size != size:
		return fmt.Errorf("%w: shard %s is %d bytes, body is %d", format.ErrHashMismatch, root, row.size, size)
	case err == nil && !row.corrupt:
		return writeJSON(w, http.StatusOK, format.ShardStat{Size: row.size, Created: row.created})
	case err == nil:
		replace = true
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("look up shard: %w", err)
	}

	need := size
	if replace {
		need = 0 // the corrupt copy's bytes are already counted
	}
	done, err := f.space.reserve(acct, need)
	if err != nil {
		return err
	}
	committed := false
	defer func() { done(committed) }()

	buf, release, err := f.readBody(w, r, size)
	if err != nil {
		return err
	}
	defer release()
	tree := merkle.Build(buf)
	if got := tree.Root(); got != root {
		return fmt.Errorf("%w: body hashes to %s, not %s", format.ErrHashMismatch, got, root)
	}
	// The signed body hash of an upload is its root (format.ShardBodyHash).
	if err := req.signed.CheckBody(format.ShardBodyHash(root)); err != nil {
		return err
	}
	tb, err := tree.MarshalBinary()
	if err != nil {
		return fmt.Errorf("marshal tree: %w", err)
	}
	if err := f.store.write(acct, root, tb, buf); err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: disk full", format.ErrFarmerFull)
		}
		return err
	}
	// The file is durable: index it even if the client has gone.
	now := time.Now()
	if err := f.index.addShard(context.WithoutCancel(ctx), acct, root, size, now); err != nil {
		return fmt.Errorf("index shard: %w", err)
	}
	committed = !replace
	created := now
	if replace {
		created = row.created
	}
	f.log.Debug("stored shard", "account", acct.String(), "root", root.String(), "size", size)
	return writeJSON(w, http.StatusCreated, format.ShardStat{Size: size, Created: created.UTC()})
}

// readBody reads a request body of exactly size bytes, within the farmer's
// memory budget (release gives the memory back).
func (f *Farmer) readBody(w http.ResponseWriter, r *http.Request, size int64) (buf []byte, release func(), err error) {
	if err := f.mem.Acquire(r.Context(), size); err != nil {
		return nil, nil, fmt.Errorf("wait for memory: %w", err)
	}
	buf = make([]byte, size)
	if _, err := io.ReadFull(http.MaxBytesReader(w, r.Body, size), buf); err != nil {
		f.mem.Release(size)
		return nil, nil, fmt.Errorf("%w: read body: %v", format.ErrBadRequest, err)
	}
	return buf, func() { f.mem.Release(size) }, nil
}

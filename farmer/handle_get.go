package farmer

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// getShard answers a range read: the whole leaves covering the asked bytes
// with their proof (format.Range). It reads those leaves and the stored
// tree, never the rest of the shard, and checks the leaves against the
// tree before sending them: bit rot is reported (and the shard marked
// corrupt), never served.
func (h *handler) getShard(w http.ResponseWriter, req request, root merkle.Root) error {
	f := h.f
	off, n, err := rangeParams(req.r.URL.Query())
	if err != nil {
		return err
	}
	acct := req.signed.Account
	ctx := req.r.Context()
	row, err := h.lookup(req, root)
	if err != nil {
		return err
	}
	if row.corrupt {
		return fmt.Errorf("%w: shard %s", format.ErrCorrupt, root)
	}
	first, end, err := merkle.LeafRange(row.size, off, n)
	if err != nil {
		return err // wraps merkle.ErrRange: 416
	}
	sf, err := f.store.open(acct, root, row.size)
	if errors.Is(err, errCorruptFile) {
		return h.corrupt(req, root, err)
	}
	if err != nil {
		return err
	}
	defer sf.Close()
	_, length, err := merkle.LeafSpan(row.size, first, end)
	if err != nil {
		return err
	}
	if err := f.mem.Acquire(ctx, length); err != nil {
		return fmt.Errorf("wait for memory: %w", err)
	}
	defer f.mem.Release(length)
	data := make([]byte, length)
	proof, err := sf.readLeaves(first, end, data)
	if errors.Is(err, errCorruptFile) {
		return h.corrupt(req, root, err)
	}
	if err != nil {
		return err
	}
	hdr, err := format.EncodeRangeHeader(format.Range{
		ShardSize: row.size, FirstLeaf: first, LeafCount: end - first, Proof: proof, Data: data,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", format.RangeContentType)
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(hdr))+length, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(hdr); err != nil {
		return nil // the client went away
	}
	if _, err := w.Write(data); err != nil {
		return nil
	}
	f.egress.add(acct, length)
	return nil
}

// rangeParams parses ?offset=&length=: decimal, offset >= 0 (default 0),
// length >= 0 or -1 for "to the end" (the default). Any other parameter,
// or one given twice, is refused.
func rangeParams(q url.Values) (off, n int64, err error) {
	off, n = 0, -1
	for k, vs := range q {
		if len(vs) != 1 {
			return 0, 0, fmt.Errorf("%w: query parameter %q given %d times", format.ErrBadRequest, k, len(vs))
		}
		v, err := strconv.ParseInt(vs[0], 10, 64)
		switch k {
		case "offset":
			if err != nil || v < 0 {
				return 0, 0, fmt.Errorf("%w: offset %q", format.ErrBadRequest, vs[0])
			}
			off = v
		case "length":
			if err != nil || v < -1 {
				return 0, 0, fmt.Errorf("%w: length %q", format.ErrBadRequest, vs[0])
			}
			n = v
		default:
			return 0, 0, fmt.Errorf("%w: unknown query parameter %q", format.ErrBadRequest, k)
		}
	}
	return off, n, nil
}

// lookup returns the signing account's row for root, or ErrNotFound.
func (h *handler) lookup(req request, root merkle.Root) (shardRow, error) {
	row, err := h.f.index.shard(req.r.Context(), req.signed.Account, root)
	if errors.Is(err, sql.ErrNoRows) {
		return shardRow{}, fmt.Errorf("%w: shard %s", format.ErrNotFound, root)
	}
	if err != nil {
		return shardRow{}, fmt.Errorf("look up shard: %w", err)
	}
	return row, nil
}

// statShard reports what the farmer holds of root for the account.
func (h *handler) statShard(w http.ResponseWriter, req request, root merkle.Root) error {
	row, err := h.lookup(req, root)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, format.ShardStat{Size: row.size, Created: row.created, Corrupt: row.corrupt})
}

package erasure

import "fmt"

// ReconstructColumns rebuilds one column range of every data shard from the
// same column range of other shards. cols has k+m entries in shard order;
// each present entry holds columns [c, c+w) of its shard, the same c and w
// for all, and nil (or empty) marks a missing shard. It needs k present
// entries, or all k data entries.
//
// It returns k slices of w bytes, columns [c, c+w) of data shards 0..k-1:
// present data entries are returned as they are (aliasing cols), missing
// ones in new memory. Errors wrap ErrShardCount, ErrShardSize or
// ErrTooFewShards. As with Decode, verify every column range against its
// shard's Merkle root first; Reed-Solomon cannot tell wrong bytes.
func (c *Coder) ReconstructColumns(cols [][]byte) ([][]byte, error) {
	if _, err := c.checkColumns("reconstruct columns", cols); err != nil {
		return nil, err
	}
	work := make([][]byte, len(cols))
	copy(work, cols)
	required := make([]bool, c.k)
	missing := false
	for i := range c.k {
		if len(work[i]) == 0 {
			work[i] = nil
			required[i] = true
			missing = true
		}
	}
	if missing {
		if err := c.reconstruct("reconstruct columns", work, required); err != nil {
			return nil, err
		}
	}
	return work[:c.k:c.k], nil
}

// DecodeRange returns block bytes [off, off+n) of a block of blockLen bytes
// (n < 0 means "to the end") from the same column range of several shards.
// cols is as for ReconstructColumns, each present entry holding columns
// [col, col+w) of its shard; that range must hold the columns of every piece
// of the byte range (ColumnSpan gives the smallest). Only the data shards the
// range touches are rebuilt, and only if missing: it needs those data
// shards, or any k shards. Errors wrap ErrRange, ErrShardCount,
// ErrShardSize or ErrTooFewShards.
func (c *Coder) DecodeRange(cols [][]byte, col, blockLen, off, n int) ([]byte, error) {
	pieces, err := c.Pieces(blockLen, off, n)
	if err != nil {
		return nil, fmt.Errorf("decode range: %w", err)
	}
	w, err := c.checkColumns("decode range", cols)
	if err != nil {
		return nil, err
	}
	s := c.ShardSize(blockLen)
	if col < 0 || col > s || w > s-col {
		return nil, fmt.Errorf("decode range: %w: columns [%d, %d+%d) of %d-byte shards", ErrRange, col, col, w, s)
	}
	var required []bool
	for _, p := range pieces {
		if p.Col < col || p.Col+p.Len > col+w {
			return nil, fmt.Errorf("decode range: %w: block bytes [%d, %d+%d) are columns [%d, %d+%d) of data shard %d, outside the given columns [%d, %d+%d)",
				ErrRange, p.Off, p.Off, p.Len, p.Col, p.Col, p.Len, p.Shard, col, col, w)
		}
		if len(cols[p.Shard]) == 0 {
			if required == nil {
				required = make([]bool, c.k)
			}
			required[p.Shard] = true
		}
	}
	work := cols
	if required != nil {
		work = make([][]byte, len(cols))
		copy(work, cols)
		for i := range c.k {
			if len(work[i]) == 0 {
				work[i] = nil
			}
		}
		if err := c.reconstruct("decode range", work, required); err != nil {
			return nil, err
		}
	}
	total := 0
	for _, p := range pieces {
		total += p.Len
	}
	out := make([]byte, 0, total)
	for _, p := range pieces {
		out = append(out, work[p.Shard][p.Col-col:p.Col-col+p.Len]...)
	}
	return out, nil
}

// checkColumns checks that cols has k+m entries and that all present ones
// have the same length, which it returns (0 if none is present).
func (c *Coder) checkColumns(op string, cols [][]byte) (int, error) {
	if len(cols) != c.Total() {
		return 0, fmt.Errorf("%s: %w: want %d, have %d", op, ErrShardCount, c.Total(), len(cols))
	}
	w, first := 0, -1
	for i, sh := range cols {
		switch {
		case len(sh) == 0:
		case first < 0:
			w, first = len(sh), i
		case len(sh) != w:
			return 0, fmt.Errorf("%s: %w: shard %d has %d columns, shard %d has %d", op, ErrShardSize, i, len(sh), first, w)
		}
	}
	return w, nil
}

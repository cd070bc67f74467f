package erasure

import "fmt"

// All offset and size arithmetic of the package: where block bytes sit in
// the data shards. With S = ShardSize(blockLen), block byte b is column
// b % S of data shard b / S; columns at or past blockLen - i*S of data shard
// i are zero padding.

// ShardSize returns the length of every shard of a block of blockLen bytes:
// ceil(blockLen/k), and at least 1 so that even an empty block has shards.
func (c *Coder) ShardSize(blockLen int) int { return shardSize(c.k, blockLen) }

func shardSize(k, blockLen int) int {
	if blockLen <= 0 {
		return 1
	}
	s := blockLen / k
	if blockLen%k != 0 {
		s++
	}
	return s
}

// Piece is the part of a block byte range held by one data shard: columns
// [Col, Col+Len) of data shard Shard, which are block bytes [Off, Off+Len).
type Piece struct {
	Shard int // data shard index, in [0, k)
	Col   int // first column in the shard
	Len   int // number of bytes, > 0
	Off   int // block offset of the first byte: Shard*S + Col
}

// checkRange validates the block byte range [off, off+n) of a block of
// blockLen bytes, n < 0 meaning "to the end", and returns n resolved.
func checkRange(blockLen, off, n int) (int, error) {
	if blockLen < 0 {
		return 0, fmt.Errorf("%w: block length %d", ErrRange, blockLen)
	}
	if off < 0 || off > blockLen {
		return 0, fmt.Errorf("%w: offset %d not in [0, %d]", ErrRange, off, blockLen)
	}
	if n < 0 {
		n = blockLen - off
	}
	if n > blockLen-off {
		return 0, fmt.Errorf("%w: range [%d, %d+%d) past block length %d", ErrRange, off, off, n, blockLen)
	}
	return n, nil
}

// Pieces splits block bytes [off, off+n) of a block of blockLen bytes into
// the pieces the data shards hold, in block order; n < 0 means "to the end
// of the block". An empty range has no pieces. Errors wrap ErrRange.
func (c *Coder) Pieces(blockLen, off, n int) ([]Piece, error) {
	n, err := checkRange(blockLen, off, n)
	if err != nil {
		return nil, err
	}
	s := c.ShardSize(blockLen)
	var out []Piece
	for n > 0 {
		p := Piece{Shard: off / s, Col: off % s, Off: off}
		p.Len = min(s-p.Col, n)
		out = append(out, p)
		off += p.Len
		n -= p.Len
	}
	return out, nil
}

// ColumnSpan returns the smallest single column range [col, col+cnt) that
// holds every piece of block bytes [off, off+n): fetching those columns
// from any k shards is enough for DecodeRange. For a range inside one data
// shard that is exactly its columns; a range that crosses a data-shard
// boundary needs columns from the end of one shard and the start of the
// next, so its span is the whole shard width [0, S). For small ranges that
// cross a boundary, fetching each piece's columns separately (Pieces, then
// DecodeRange per piece) moves less data. An empty range spans (0, 0).
// Errors wrap ErrRange.
func (c *Coder) ColumnSpan(blockLen, off, n int) (col, cnt int, err error) {
	pieces, err := c.Pieces(blockLen, off, n)
	if err != nil {
		return 0, 0, err
	}
	switch len(pieces) {
	case 0:
		return 0, 0, nil
	case 1:
		return pieces[0].Col, pieces[0].Len, nil
	}
	return 0, c.ShardSize(blockLen), nil
}

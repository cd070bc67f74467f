package erasure

import (
	"errors"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// MaxShards is the largest k+m: the GF(2^8) code has 256 distinct rows.
const MaxShards = 256

var (
	// ErrTooFewShards reports that fewer than k shards are present, so the
	// block (or the asked range) cannot be rebuilt.
	ErrTooFewShards = errors.New("erasure: too few shards to reconstruct")
	// ErrInvalidParams reports k and m outside 1 <= k, 0 <= m, k+m <= 256.
	ErrInvalidParams = errors.New("erasure: invalid shard counts")
	// ErrShardCount reports a shard list whose length is not k+m.
	ErrShardCount = errors.New("erasure: wrong number of shards")
	// ErrShardSize reports shards (or column ranges, or buffers) whose
	// lengths do not match each other or the block length.
	ErrShardSize = errors.New("erasure: wrong shard size")
	// ErrRange reports a block byte range or column range out of bounds.
	ErrRange = errors.New("erasure: range out of bounds")
)

// Coder encodes and decodes blocks with k data and m parity shards. It is
// immutable and safe for concurrent use.
type Coder struct {
	k, m int
	// enc is nil when m == 0: there is no parity to compute and nothing
	// to reconstruct.
	enc reedsolomon.Encoder
}

// New returns a Coder for k data and m parity shards: 1 <= k, 0 <= m,
// k+m <= MaxShards. Errors wrap ErrInvalidParams.
func New(k, m int) (*Coder, error) {
	if k < 1 || m < 0 || k > MaxShards || m > MaxShards-k {
		return nil, fmt.Errorf("%w: k=%d m=%d, want 1 <= k, 0 <= m, k+m <= %d", ErrInvalidParams, k, m, MaxShards)
	}
	c := &Coder{k: k, m: m}
	if m > 0 {
		// Default options only: the matrix is part of the format (see
		// doc.go and docs/format/erasure.md).
		enc, err := reedsolomon.New(k, m)
		if err != nil {
			return nil, fmt.Errorf("%w: k=%d m=%d: %v", ErrInvalidParams, k, m, err)
		}
		c.enc = enc
	}
	return c, nil
}

// DataShards returns k.
func (c *Coder) DataShards() int { return c.k }

// ParityShards returns m.
func (c *Coder) ParityShards() int { return c.m }

// Total returns k+m, the number of shards of each block.
func (c *Coder) Total() int { return c.k + c.m }

// Alloc returns k+m shard buffers of ShardSize(blockLen) bytes each, cut
// from one allocation, for EncodeTo.
func (c *Coder) Alloc(blockLen int) [][]byte {
	s := c.ShardSize(blockLen)
	buf := make([]byte, c.Total()*s)
	shards := make([][]byte, c.Total())
	for i := range shards {
		shards[i] = buf[i*s : (i+1)*s : (i+1)*s]
	}
	return shards
}

// Encode returns the k+m shards of block, each ShardSize(len(block)) bytes,
// in one backing allocation. Shard i < k holds block bytes [i*S, (i+1)*S),
// zero-padded; the rest are parity. An empty block has shards of one zero
// byte. The shards do not alias block.
func (c *Coder) Encode(block []byte) ([][]byte, error) {
	shards := c.Alloc(len(block))
	if err := c.EncodeTo(shards, block); err != nil {
		return nil, err
	}
	return shards, nil
}

// EncodeTo writes the k+m shards of block into dst, which must hold k+m
// non-overlapping slices of exactly ShardSize(len(block)) bytes (see Alloc);
// their previous contents do not matter. dst may not overlap block, except
// that data shard i may be exactly block[i*S:(i+1)*S]. Errors wrap
// ErrShardCount or ErrShardSize.
func (c *Coder) EncodeTo(dst [][]byte, block []byte) error {
	if len(dst) != c.Total() {
		return fmt.Errorf("encode: %w: want %d, have %d", ErrShardCount, c.Total(), len(dst))
	}
	s := c.ShardSize(len(block))
	for i, d := range dst {
		if len(d) != s {
			return fmt.Errorf("encode: %w: shard %d has %d bytes, want %d for a %d-byte block", ErrShardSize, i, len(d), s, len(block))
		}
	}
	for i := range c.k {
		lo := min(i*s, len(block))
		hi := min(lo+s, len(block))
		n := copy(dst[i], block[lo:hi])
		clear(dst[i][n:])
	}
	if c.enc == nil {
		return nil
	}
	if err := c.enc.Encode(dst); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return nil
}

// Decode rebuilds a block of blockLen bytes from its shards and returns it
// in new memory. shards must have k+m entries in shard order, nil (or empty)
// for a missing shard; every present one must be ShardSize(blockLen) bytes.
// It needs the data shards that hold block bytes, or any k shards;
// otherwise the error wraps ErrTooFewShards.
//
// Reed-Solomon does not detect wrong bytes: verify every shard against its
// Merkle root before calling Decode, and pass nil for any that fails.
func (c *Coder) Decode(shards [][]byte, blockLen int) ([]byte, error) {
	if blockLen < 0 {
		return nil, fmt.Errorf("decode: %w: block length %d", ErrRange, blockLen)
	}
	dst := make([]byte, blockLen)
	if err := c.DecodeTo(dst, shards); err != nil {
		return nil, err
	}
	return dst, nil
}

// DecodeTo is Decode into dst, whose length is the block length. Missing
// data shards that lie wholly inside the block are rebuilt in place in dst,
// so a decode allocates at most one shard. dst must not overlap shards.
func (c *Coder) DecodeTo(dst []byte, shards [][]byte) error {
	blockLen := len(dst)
	s := c.ShardSize(blockLen)
	if err := c.checkShards("decode", shards, s); err != nil {
		return err
	}
	// used is the number of data shards holding block bytes; the rest are
	// all padding and never needed.
	used := (blockLen + s - 1) / s
	work := make([][]byte, len(shards))
	copy(work, shards)
	var required []bool
	for i := range used {
		if len(work[i]) != 0 {
			continue
		}
		if required == nil {
			required = make([]bool, c.k)
		}
		required[i] = true
		work[i] = nil
		if (i+1)*s <= blockLen {
			// Zero length with room for a shard: the library rebuilds
			// into this memory.
			work[i] = dst[i*s : i*s : (i+1)*s]
		}
	}
	if required != nil {
		if err := c.reconstruct("decode", work, required); err != nil {
			return err
		}
	}
	for i := range used {
		lo := i * s
		hi := min(lo+s, blockLen)
		copy(dst[lo:hi], work[i][:hi-lo])
	}
	return nil
}

// checkShards checks that shards has k+m entries and that every present one
// has length s.
func (c *Coder) checkShards(op string, shards [][]byte, s int) error {
	if len(shards) != c.Total() {
		return fmt.Errorf("%s: %w: want %d, have %d", op, ErrShardCount, c.Total(), len(shards))
	}
	for i, sh := range shards {
		if len(sh) != 0 && len(sh) != s {
			return fmt.Errorf("%s: %w: shard %d has %d bytes, want %d", op, ErrShardSize, i, len(sh), s)
		}
	}
	return nil
}

// reconstruct rebuilds the data shards marked in required (len k) in work,
// whose missing entries are empty. It needs k present shards.
func (c *Coder) reconstruct(op string, work [][]byte, required []bool) error {
	present := 0
	for _, sh := range work {
		if len(sh) != 0 {
			present++
		}
	}
	if present < c.k || c.enc == nil {
		return fmt.Errorf("%s: %w: have %d of %d shards, need %d", op, ErrTooFewShards, present, c.Total(), c.k)
	}
	if err := c.enc.ReconstructSome(work, required); err != nil {
		if errors.Is(err, reedsolomon.ErrTooFewShards) {
			return fmt.Errorf("%s: %w: %v", op, ErrTooFewShards, err)
		}
		return fmt.Errorf("%s: reconstruct: %w", op, err)
	}
	return nil
}

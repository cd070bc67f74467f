package format

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shardrive/shardrive/core/merkle"
)

// MaxShardSize is the largest shard protocol version 1 carries. Farmers may
// accept less (their Info says how much); nobody accepts more.
const MaxShardSize int64 = 64 << 20

// ErrMalformed reports a wire message that does not parse: bad magic,
// unknown version, inconsistent or out-of-bounds lengths, trailing bytes.
var ErrMalformed = errors.New("format: malformed message")

// Range response body, version 1 (docs/format/wire.md). All integers are
// big-endian.
//
//	offset  size    field
//	0       4       magic "SDRG"
//	4       1       version = 1
//	5       3       reserved, zero
//	8       8       shard size in bytes, <= MaxShardSize
//	16      4       first leaf
//	20      4       leaf count k >= 1; first+k <= merkle.LeafCount(size)
//	24      2       proof hash count p <= merkle.MaxProofLen
//	26      32*p    proof hashes, left to right (merkle.Tree.Prove)
//	26+32p  8       data length d: exactly the bytes of leaves [first, first+k)
//	34+32p  d       data
//
// Nothing may follow the data. The client checks data and proof against
// the shard's root with merkle.Verify before using a byte.
const (
	rangeMagic        = "SDRG"
	rangeVersion      = 1
	rangeFixedHeader  = 26
	rangeDataLenField = 8
)

// RangeContentType is the media type of a range response body.
const RangeContentType = "application/vnd.shardrive.range"

// Range is a run of whole leaves of a shard with their Merkle proof.
type Range struct {
	ShardSize int64
	FirstLeaf int
	LeafCount int
	Proof     merkle.Proof
	Data      []byte // the bytes of leaves [FirstLeaf, FirstLeaf+LeafCount)
}

// check validates the lengths of r, the same rules DecodeRange applies.
func (r Range) check() error {
	if r.ShardSize < 0 || r.ShardSize > MaxShardSize {
		return fmt.Errorf("%w: shard size %d not in [0, %d]", ErrMalformed, r.ShardSize, MaxShardSize)
	}
	if r.LeafCount < 1 || r.FirstLeaf < 0 {
		return fmt.Errorf("%w: leaves [%d, +%d)", ErrMalformed, r.FirstLeaf, r.LeafCount)
	}
	n := merkle.LeafCount(r.ShardSize)
	if r.FirstLeaf >= n || r.LeafCount > n-r.FirstLeaf {
		return fmt.Errorf("%w: leaves [%d, +%d) of a shard of %d leaves", ErrMalformed, r.FirstLeaf, r.LeafCount, n)
	}
	if len(r.Proof) > merkle.MaxProofLen {
		return fmt.Errorf("%w: %d proof hashes, at most %d", ErrMalformed, len(r.Proof), merkle.MaxProofLen)
	}
	_, want, err := merkle.LeafSpan(r.ShardSize, r.FirstLeaf, r.FirstLeaf+r.LeafCount)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if int64(len(r.Data)) != want {
		return fmt.Errorf("%w: %d data bytes for leaves [%d, +%d) of a %d-byte shard, want %d",
			ErrMalformed, len(r.Data), r.FirstLeaf, r.LeafCount, r.ShardSize, want)
	}
	return nil
}

// RangeHeaderSize returns the number of bytes before the data in a range
// body with proofLen proof hashes.
func RangeHeaderSize(proofLen int) int {
	return rangeFixedHeader + proofLen*len(merkle.Hash{}) + rangeDataLenField
}

// EncodeRangeHeader returns everything of r's encoding that precedes the
// data, so a farmer can stream the data after it. r.Data must already hold
// the data (only its length is used here).
func EncodeRangeHeader(r Range) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("encode range: %w", err)
	}
	out := make([]byte, rangeFixedHeader, RangeHeaderSize(len(r.Proof)))
	copy(out, rangeMagic)
	out[4] = rangeVersion
	binary.BigEndian.PutUint64(out[8:], uint64(r.ShardSize))
	binary.BigEndian.PutUint32(out[16:], uint32(r.FirstLeaf))
	binary.BigEndian.PutUint32(out[20:], uint32(r.LeafCount))
	binary.BigEndian.PutUint16(out[24:], uint16(len(r.Proof)))
	for i := range r.Proof {
		out = append(out, r.Proof[i][:]...)
	}
	out = binary.BigEndian.AppendUint64(out, uint64(len(r.Data)))
	return out, nil
}

// EncodeRange returns the whole encoding of r.
func EncodeRange(r Range) ([]byte, error) {
	hdr, err := EncodeRangeHeader(r)
	if err != nil {
		return nil, err
	}
	return append(hdr, r.Data...), nil
}

// MaxRangeBody is the largest valid range body; a client reads no more.
var MaxRangeBody = int64(RangeHeaderSize(merkle.MaxProofLen)) + MaxShardSize

// DecodeRange parses a range body, checking every length against the
// others and the caps. The returned Data aliases b; Proof does not.
// Errors wrap ErrMalformed.
func DecodeRange(b []byte) (Range, error) {
	if len(b) < rangeFixedHeader {
		return Range{}, fmt.Errorf("decode range: %w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), rangeFixedHeader)
	}
	if string(b[:4]) != rangeMagic {
		return Range{}, fmt.Errorf("decode range: %w: magic: want %q, have %q", ErrMalformed, rangeMagic, b[:4])
	}
	if b[4] != rangeVersion {
		return Range{}, fmt.Errorf("decode range: %w: version: want %d, have %d", ErrMalformed, rangeVersion, b[4])
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return Range{}, fmt.Errorf("decode range: %w: reserved bytes not zero", ErrMalformed)
	}
	size := binary.BigEndian.Uint64(b[8:])
	if size > uint64(MaxShardSize) {
		return Range{}, fmt.Errorf("decode range: %w: shard size %d, at most %d", ErrMalformed, size, MaxShardSize)
	}
	first := binary.BigEndian.Uint32(b[16:])
	count := binary.BigEndian.Uint32(b[20:])
	p := int(binary.BigEndian.Uint16(b[24:]))
	if p > merkle.MaxProofLen {
		return Range{}, fmt.Errorf("decode range: %w: %d proof hashes, at most %d", ErrMalformed, p, merkle.MaxProofLen)
	}
	hdr := RangeHeaderSize(p)
	if len(b) < hdr {
		return Range{}, fmt.Errorf("decode range: %w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), hdr)
	}
	proof := make(merkle.Proof, p)
	for i := range proof {
		copy(proof[i][:], b[rangeFixedHeader+i*len(merkle.Hash{}):])
	}
	dataLen := binary.BigEndian.Uint64(b[hdr-rangeDataLenField:])
	if rest := uint64(len(b) - hdr); dataLen != rest {
		return Range{}, fmt.Errorf("decode range: %w: data length %d, %d bytes follow the header", ErrMalformed, dataLen, rest)
	}
	if uint64(first) > uint64(MaxShardSize) || uint64(count) > uint64(MaxShardSize) {
		// Keeps the int conversions below exact on 32-bit platforms.
		return Range{}, fmt.Errorf("decode range: %w: leaves [%d, +%d)", ErrMalformed, first, count)
	}
	r := Range{
		ShardSize: int64(size),
		FirstLeaf: int(first),
		LeafCount: int(count),
		Proof:     proof,
		Data:      b[hdr:],
	}
	if err := r.check(); err != nil {
		return Range{}, fmt.Errorf("decode range: %w", err)
	}
	return r, nil
}

package crypto

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"slices"
)

// BlockAD names the place of a block in the drive: which file, which block
// of the file, and which version of that block. It is bound into the
// associated data of every segment, so a sealed block opens only at the place
// it was sealed for.
type BlockAD struct {
	FileID  [16]byte
	Block   uint64
	Version uint64
}

// Sealed segment, format version 1 (docs/format/crypto.md):
//
//	offset size field
//	     0   12 nonce (random, fresh for every segment of every seal)
//	    12  64Ki AES-256-GCM ciphertext of SegmentSize plaintext bytes
//	 65548   16 GCM tag
//
// A sealed block is SegmentCount segments back to back, nothing else. The
// format version is not on the wire: it is bound into the associated data of
// each segment (56 bytes, integers big-endian):
//
//	offset size field
//	     0   15 "shardrive/block"
//	    15    1 block format version = 1
//	    16   16 file ID
//	    32    8 block index
//	    40    8 block version
//	    48    4 segment index
//	    52    4 segment count
const (
	BlockFormatVersion = 1
	blockLabel         = "shardrive/block"
	blockADSize        = len(blockLabel) + 1 + 16 + 8 + 8 + 4 + 4
)

// noncesPerRead bounds the stack buffer the nonces of a block are read into:
// one crypto/rand call covers a whole 4 MiB block.
const noncesPerRead = 64

// putAD writes the associated data of segment seg of count into b.
func (ad *BlockAD) putAD(b *[blockADSize]byte, seg, count int) {
	n := copy(b[:], blockLabel)
	b[n] = BlockFormatVersion
	n++
	n += copy(b[n:], ad.FileID[:])
	binary.BigEndian.PutUint64(b[n:], ad.Block)
	binary.BigEndian.PutUint64(b[n+8:], ad.Version)
	binary.BigEndian.PutUint32(b[n+16:], uint32(seg))
	binary.BigEndian.PutUint32(b[n+20:], uint32(count))
}

// Sealer seals and opens blocks under one key. Build it once per file key:
// it holds the expanded AES key schedule and GHASH tables, so sealing many
// blocks does not pay for them again. A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key.
func NewSealer(key *Key) *Sealer {
	return &Sealer{aead: newAEAD(key)}
}

// SealBlock appends the sealed form of plain (SealedSize(len(plain)) bytes)
// to dst and returns the extended slice; pass dst[:0] of a buffer with enough
// capacity to seal without allocating. plain is zero-padded to whole
// segments; every segment gets a fresh random nonce. dst must not overlap
// plain.
func (s *Sealer) SealBlock(dst []byte, ad BlockAD, plain []byte) []byte {
	n := SegmentCount(len(plain))
	if uint64(n) > MaxSegments {
		panic(fmt.Sprintf("crypto: block of %d bytes exceeds %d segments", len(plain), uint64(MaxSegments)))
	}
	start := len(dst)
	out := slices.Grow(dst, n*SealedSegmentSize)
	out = out[:start+n*SealedSegmentSize]

	var nonces [noncesPerRead * NonceSize]byte
	adb := new([blockADSize]byte)
	for i := range n {
		if i%noncesPerRead == 0 {
			k := min(n-i, noncesPerRead)
			mustRead(nonces[:k*NonceSize])
		}
		seg := out[start+SealedOffset(i) : start+SealedOffset(i+1)]
		nonce := seg[:NonceSize]
		copy(nonce, nonces[(i%noncesPerRead)*NonceSize:])
		ad.putAD(adb, i, n)

		lo := i * SegmentSize
		hi := min(lo+SegmentSize, len(plain))
		body := seg[NonceSize:NonceSize]
		if hi-lo == SegmentSize {
			s.aead.Seal(body, nonce, plain[lo:hi], adb[:])
			continue
		}
		// Last, partial segment: pad in place in the output and seal in
		// place (GCM allows dst to be exactly plaintext[:0]).
		pad := seg[NonceSize : NonceSize+SegmentSize]
		clear(pad[copy(pad, plain[lo:hi]):])
		s.aead.Seal(body, nonce, pad, adb[:])
	}
	return out
}

// OpenBlock authenticates and decrypts a sealed block, appending its padded
// plaintext (segment count × SegmentSize bytes) to dst; the caller trims it to
// the real length it keeps in the metadata. Any alteration, truncation,
// extension, reordering, or a block sealed for another file, block index or
// version fails with an error wrapping ErrUnauthenticated that names the
// first failing segment; then nothing is returned and the bytes written into
// dst's spare capacity are zeroed. dst must not overlap sealed.
func (s *Sealer) OpenBlock(dst []byte, ad BlockAD, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 || len(sealed)%SealedSegmentSize != 0 {
		return nil, fmt.Errorf("open block: sealed length %d is not a whole number of %d-byte segments: %w",
			len(sealed), SealedSegmentSize, ErrUnauthenticated)
	}
	n := len(sealed) / SealedSegmentSize
	if uint64(n) > MaxSegments {
		return nil, fmt.Errorf("open block: %d segments exceed %d: %w", n, uint64(MaxSegments), ErrUnauthenticated)
	}
	start := len(dst)
	out := slices.Grow(dst, n*SegmentSize)
	adb := new([blockADSize]byte)
	for i := range n {
		seg := sealed[SealedOffset(i):SealedOffset(i+1)]
		ad.putAD(adb, i, n)
		next, err := s.aead.Open(out, seg[:NonceSize], seg[NonceSize:], adb[:])
		if err != nil {
			clear(out[start:cap(out)])
			return nil, fmt.Errorf("open block: segment %d of %d: %w", i, n, ErrUnauthenticated)
		}
		out = next
	}
	return out, nil
}

// OpenSegment authenticates and decrypts segment seg of a block sealed as
// segCount segments, appending its SegmentSize plaintext bytes to dst. It is
// what a range read uses: SegmentSpan says which segments to fetch,
// SealedOffset where they are. Errors are as for OpenBlock; a seg or segCount
// out of range is a plain error (a caller bug, not an attack).
func (s *Sealer) OpenSegment(dst []byte, ad BlockAD, seg, segCount int, sealedSeg []byte) ([]byte, error) {
	if segCount < 1 || uint64(segCount) > MaxSegments || seg < 0 || seg >= segCount {
		return nil, fmt.Errorf("crypto: open segment %d of %d: index out of range", seg, segCount)
	}
	if len(sealedSeg) != SealedSegmentSize {
		return nil, fmt.Errorf("open segment %d of %d: want %d bytes, have %d: %w",
			seg, segCount, SealedSegmentSize, len(sealedSeg), ErrUnauthenticated)
	}
	adb := new([blockADSize]byte)
	ad.putAD(adb, seg, segCount)
	out, err := s.aead.Open(dst, sealedSeg[:NonceSize], sealedSeg[NonceSize:], adb[:])
	if err != nil {
		return nil, fmt.Errorf("open segment %d of %d: %w", seg, segCount, ErrUnauthenticated)
	}
	return out, nil
}

// SealBlock is NewSealer(key).SealBlock: convenient for one block, but it
// expands the key each call; keep a Sealer when sealing many blocks.
func SealBlock(dst []byte, key *Key, ad BlockAD, plain []byte) []byte {
	return NewSealer(key).SealBlock(dst, ad, plain)
}

// OpenBlock is NewSealer(key).OpenBlock.
func OpenBlock(dst []byte, key *Key, ad BlockAD, sealed []byte) ([]byte, error) {
	return NewSealer(key).OpenBlock(dst, ad, sealed)
}

// OpenSegment is NewSealer(key).OpenSegment.
func OpenSegment(dst []byte, key *Key, ad BlockAD, seg, segCount int, sealedSeg []byte) ([]byte, error) {
	return NewSealer(key).OpenSegment(dst, ad, seg, segCount, sealedSeg)
}

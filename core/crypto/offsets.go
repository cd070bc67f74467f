package crypto

// All size and offset arithmetic of sealed blocks lives in this file.
//
// A block of plaintext length L is sealed as SegmentCount(L) segments. Each
// segment carries exactly SegmentSize bytes of plaintext (the last one
// zero-padded), so a sealed block is SealedSize(L) bytes and reveals L only
// to the next multiple of SegmentSize. Segment i of a sealed block starts at
// SealedOffset(i) and covers plaintext bytes [i*SegmentSize, (i+1)*SegmentSize).

// SegmentSize is the plaintext size of one GCM segment.
const SegmentSize = 64 << 10

// SegmentOverhead is the nonce and tag each segment adds.
const SegmentOverhead = NonceSize + TagSize

// SealedSegmentSize is the size of one sealed segment on the wire.
const SealedSegmentSize = SegmentSize + SegmentOverhead

// MaxSegments is the largest segment count a block may have (the count is a
// uint32 in the associated data). It is far above any real block size.
const MaxSegments = 1<<32 - 1

// SegmentCount is the number of segments a block of plainLen plaintext bytes
// is sealed into: ceil(plainLen/SegmentSize), and at least 1 so an empty block
// is still authenticated. plainLen <= 0 counts as empty.
func SegmentCount(plainLen int) int {
	if plainLen <= 0 {
		return 1
	}
	return (plainLen + SegmentSize - 1) / SegmentSize
}

// SealedSize is the size of a sealed block of plainLen plaintext bytes.
func SealedSize(plainLen int) int {
	return SegmentCount(plainLen) * SealedSegmentSize
}

// OpenedSize is the size of the padded plaintext OpenBlock returns for a
// block of plainLen plaintext bytes.
func OpenedSize(plainLen int) int {
	return SegmentCount(plainLen) * SegmentSize
}

// SealedOffset is the offset of segment seg in a sealed block.
func SealedOffset(seg int) int {
	return seg * SealedSegmentSize
}

// SegmentSpan returns the segments a read of n plaintext bytes at offset off
// of a block touches: segments [first, first+count). A read of n <= 0 bytes
// touches none (count 0). off must not be negative.
func SegmentSpan(off, n int) (first, count int) {
	first = off / SegmentSize
	if n <= 0 {
		return first, 0
	}
	last := (off + n - 1) / SegmentSize
	return first, last - first + 1
}

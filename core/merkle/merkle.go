package merkle

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"

	"github.com/zeebo/blake3"
)

// LeafSize is the number of shard bytes under one leaf hash.
const LeafSize = 16 << 10

// MaxSize is the largest shard size this package accepts (1 TiB, 2^26
// leaves). Shards are pieces of blocks of a few MiB; the bound keeps leaf
// counts inside an int on every platform and every loop over hostile sizes
// short.
const MaxSize int64 = 1 << 40

// maxDepth is the height of the tree over MaxSize/LeafSize leaves.
const maxDepth = 26

// MaxProofLen is the largest number of hashes in any range proof: at most
// two per tree level (one at each edge of the range).
const MaxProofLen = 2 * maxDepth

// Domain-separation prefixes and the root's context string. See
// docs/format/merkle.md.
const (
	prefixLeaf  = 0x00
	prefixInner = 0x01
	prefixRoot  = 0x02
	rootContext = "shardrive-merkle-v1"
)

var (
	// ErrProof reports that leaves and a proof do not match a root. Errors
	// returned by Verify wrap it together with the reason.
	ErrProof = errors.New("merkle: proof does not match root")
	// ErrRange reports a byte or leaf range outside a shard.
	ErrRange = errors.New("merkle: range out of bounds")
	// ErrCorrupt reports an encoded tree or proof that is malformed.
	ErrCorrupt = errors.New("merkle: corrupt encoding")
	// ErrVersion reports an encoding version this package does not know.
	ErrVersion = errors.New("merkle: unknown encoding version")
)

// Hash is a BLAKE3-256 digest of a leaf or an inner node.
type Hash [32]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Root is a shard's address: the size-bound root of its Merkle tree. It is a
// distinct type from Hash so that a leaf or node hash cannot be passed where
// an address is meant.
type Root [32]byte

// String returns the root in lowercase hex, the form used in paths and logs.
func (r Root) String() string { return hex.EncodeToString(r[:]) }

// IsZero reports whether r is the zero value, which is never a real root.
func (r Root) IsZero() bool { return r == Root{} }

// MarshalText implements encoding.TextMarshaler (lowercase hex).
func (r Root) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(r)))
	hex.Encode(out, r[:])
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts only what
// MarshalText produces.
func (r *Root) UnmarshalText(b []byte) error {
	p, err := parseRoot(b)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseRoot parses the 64 lowercase hex digits of a root. Uppercase is
// rejected so that every root has exactly one spelling (roots name files and
// URL paths).
func ParseRoot(s string) (Root, error) { return parseRoot([]byte(s)) }

func parseRoot(b []byte) (Root, error) {
	var r Root
	if len(b) != hex.EncodedLen(len(r)) {
		return Root{}, fmt.Errorf("merkle: parse root: want %d hex digits, have %d", hex.EncodedLen(len(r)), len(b))
	}
	for i, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Root{}, fmt.Errorf("merkle: parse root: byte %d (%q) is not a lowercase hex digit", i, c)
		}
	}
	if _, err := hex.Decode(r[:], b); err != nil {
		return Root{}, fmt.Errorf("merkle: parse root: %w", err)
	}
	return r, nil
}

// LeafCount returns the number of leaves of a shard of size bytes:
// ceil(size/LeafSize), and at least 1 because an empty shard has one empty
// leaf. size must be in [0, MaxSize]; sizes below 0 count as empty, sizes
// above MaxSize are clamped to it.
func LeafCount(size int64) int {
	size = min(max(size, 0), MaxSize)
	if size == 0 {
		return 1
	}
	return int((size + LeafSize - 1) / LeafSize)
}

// leafLen returns the length of leaf i of a shard of size bytes with n
// leaves.
func leafLen(size int64, n, i int) int {
	if i < n-1 {
		return LeafSize
	}
	return int(size - int64(n-1)*LeafSize)
}

// LeafRange returns the leaves [first, end) that cover the byte range
// [off, off+n) of a shard of size bytes. n < 0 means "to the end of the
// shard". The range must be non-empty and inside the shard, except that the
// empty shard's single empty leaf is its whole content: LeafRange(0, 0, 0)
// and LeafRange(0, 0, -1) return (0, 1). Errors wrap ErrRange.
func LeafRange(size, off, n int64) (first, end int, err error) {
	if size < 0 || size > MaxSize {
		return 0, 0, fmt.Errorf("%w: shard size %d not in [0, %d]", ErrRange, size, MaxSize)
	}
	if off < 0 || off > size {
		return 0, 0, fmt.Errorf("%w: offset %d not in [0, %d]", ErrRange, off, size)
	}
	if n < 0 {
		n = size - off
	}
	if n > size-off {
		return 0, 0, fmt.Errorf("%w: range [%d, %d+%d) past shard size %d", ErrRange, off, off, n, size)
	}
	if size == 0 {
		return 0, 1, nil
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("%w: empty range at offset %d", ErrRange, off)
	}
	return int(off / LeafSize), int((off+n-1)/LeafSize) + 1, nil
}

// LeafSpan returns the byte range [off, off+n) of a shard of size bytes that
// the leaves [first, end) hold: what a farmer sends for them and what Verify
// expects as leaves. Errors wrap ErrRange.
func LeafSpan(size int64, first, end int) (off, n int64, err error) {
	if size < 0 || size > MaxSize {
		return 0, 0, fmt.Errorf("%w: shard size %d not in [0, %d]", ErrRange, size, MaxSize)
	}
	if err := checkLeaves(LeafCount(size), first, end); err != nil {
		return 0, 0, err
	}
	off = int64(first) * LeafSize
	stop := min(int64(end)*LeafSize, size)
	return off, stop - off, nil
}

// checkLeaves validates a leaf range [first, end) of a tree of count leaves.
func checkLeaves(count, first, end int) error {
	if first < 0 || first >= end || end > count {
		return fmt.Errorf("%w: leaves [%d, %d) of %d", ErrRange, first, end, count)
	}
	return nil
}

// split returns the number of leaves in the left subtree of a node over
// n > 1 leaves: the largest power of two smaller than n (RFC 6962).
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// leafHasher hashes leaves; it owns one BLAKE3 state and is not safe for
// concurrent use.
type leafHasher struct{ h *blake3.Hasher }

func newLeafHasher() leafHasher { return leafHasher{h: blake3.New()} }

// hash returns BLAKE3(0x00 || leaf).
func (l leafHasher) hash(leaf []byte) Hash {
	l.h.Reset()
	_, _ = l.h.Write([]byte{prefixLeaf})
	_, _ = l.h.Write(leaf)
	var out Hash
	l.h.Sum(out[:0])
	return out
}

// hashInner returns BLAKE3(0x01 || left || right).
func hashInner(left, right *Hash) Hash {
	var buf [1 + 2*len(Hash{})]byte
	buf[0] = prefixInner
	copy(buf[1:], left[:])
	copy(buf[1+len(left):], right[:])
	return blake3.Sum256(buf[:])
}

// finalRoot returns BLAKE3(0x02 || "shardrive-merkle-v1" || uint64be(size) ||
// treeRoot).
func finalRoot(size int64, treeRoot *Hash) Root {
	var buf [1 + len(rootContext) + 8 + len(Hash{})]byte
	buf[0] = prefixRoot
	n := 1 + copy(buf[1:], rootContext)
	binary.BigEndian.PutUint64(buf[n:], uint64(size))
	copy(buf[n+8:], treeRoot[:])
	return Root(blake3.Sum256(buf[:]))
}

package merkle

import (
	"fmt"
)

// Proof is a range proof: the hashes of the maximal subtrees outside a leaf
// range, in left-to-right order (see Tree.Prove).
type Proof []Hash

// Proof encoding, version 1 (docs/format/merkle.md):
//
//	offset  size     field
//	0       1        version = 1
//	1       1        count, number of hashes, <= MaxProofLen
//	2       32*count hashes, left to right
const (
	proofVersion    = 1
	proofHeaderSize = 2
)

// MarshalBinary encodes the proof in the version 1 proof encoding.
func (p Proof) MarshalBinary() ([]byte, error) {
	if len(p) > MaxProofLen {
		return nil, fmt.Errorf("merkle: marshal proof: %d hashes, at most %d", len(p), MaxProofLen)
	}
	out := make([]byte, proofHeaderSize, proofHeaderSize+len(p)*len(Hash{}))
	out[0] = proofVersion
	out[1] = byte(len(p))
	for i := range p {
		out = append(out, p[i][:]...)
	}
	return out, nil
}

// ParseProof decodes a proof encoded by Proof.MarshalBinary. It rejects
// unknown versions (ErrVersion) and wrong lengths (ErrCorrupt). The result
// does not alias b.
func ParseProof(b []byte) (Proof, error) {
	if len(b) < proofHeaderSize {
		return nil, fmt.Errorf("%w: proof of %d bytes, shorter than its %d-byte header", ErrCorrupt, len(b), proofHeaderSize)
	}
	if b[0] != proofVersion {
		return nil, fmt.Errorf("%w: proof version: want %d, have %d", ErrVersion, proofVersion, b[0])
	}
	count := int(b[1])
	if count > MaxProofLen {
		return nil, fmt.Errorf("%w: proof of %d hashes, at most %d", ErrCorrupt, count, MaxProofLen)
	}
	if want := proofHeaderSize + count*len(Hash{}); len(b) != want {
		return nil, fmt.Errorf("%w: proof of %d hashes: want %d bytes, have %d", ErrCorrupt, count, want, len(b))
	}
	p := make(Proof, count)
	for i := range p {
		copy(p[i][:], b[proofHeaderSize+i*len(Hash{}):])
	}
	return p, nil
}

// Verify checks that leaves are the bytes of leaves [first, first+k) of the
// shard of size bytes whose address is root, given the range proof. leaves
// is the concatenation of whole leaves: every one LeafSize bytes, except the
// shard's final leaf, which is shorter when size is not a multiple of
// LeafSize (and empty for the empty shard). k follows from len(leaves).
//
// Any mismatch returns an error wrapping ErrProof with the reason: wrong
// root, size, first, leaf lengths, or a proof with hashes missing or left
// over. Verify never panics and does work bounded by len(leaves) and
// len(proof), whatever the inputs.
func Verify(root Root, size int64, first int, leaves []byte, proof Proof) error {
	if size < 0 || size > MaxSize {
		return fmt.Errorf("%w: shard size %d not in [0, %d]", ErrProof, size, MaxSize)
	}
	n := LeafCount(size)
	if first < 0 || first >= n {
		return fmt.Errorf("%w: first leaf %d not in [0, %d)", ErrProof, first, n)
	}
	// The bytes from leaf first to the end of the shard. leaves is either
	// all of them, or a non-empty run of whole leaves that stops earlier.
	rest := size - int64(first)*LeafSize
	var end int
	switch l := int64(len(leaves)); {
	case l == rest:
		end = n
	case l > 0 && l < rest && l%LeafSize == 0:
		end = first + int(l/LeafSize)
	default:
		return fmt.Errorf("%w: %d bytes of leaves from leaf %d of a %d-byte shard are not whole leaves", ErrProof, l, first, size)
	}
	if want := proofLen(0, n, first, end); len(proof) != want {
		return fmt.Errorf("%w: proof for leaves [%d, %d) of %d: want %d hashes, have %d", ErrProof, first, end, n, want, len(proof))
	}
	v := verifier{size: size, n: n, first: first, end: end, leaves: leaves, proof: proof, h: newLeafHasher()}
	tr := v.walk(0, n)
	if v.used != len(proof) {
		// Unreachable after the proofLen check; kept so a change to one
		// traversal cannot silently accept trailing hashes.
		return fmt.Errorf("%w: %d of %d proof hashes unused", ErrProof, len(proof)-v.used, len(proof))
	}
	if got := finalRoot(size, &tr); got != root {
		return fmt.Errorf("%w: leaves [%d, %d) of a %d-byte shard hash to root %s, want %s", ErrProof, first, end, size, got, root)
	}
	return nil
}

// verifier replays Tree.prove's traversal, taking the hashes outside the
// range from the proof and hashing the supplied leaves inside it.
type verifier struct {
	size       int64
	n          int
	first, end int
	leaves     []byte
	proof      Proof
	used       int
	h          leafHasher
}

func (v *verifier) walk(lo, hi int) Hash {
	switch {
	case hi <= v.first || v.end <= lo:
		if v.used >= len(v.proof) {
			// Cannot happen after the length check; a zero hash makes
			// the root comparison fail rather than panic.
			return Hash{}
		}
		v.used++
		return v.proof[v.used-1]
	case hi-lo == 1:
		off := (lo - v.first) * LeafSize
		return v.h.hash(v.leaves[off : off+leafLen(v.size, v.n, lo)])
	}
	k := split(hi - lo)
	l, r := v.walk(lo, lo+k), v.walk(lo+k, hi)
	return hashInner(&l, &r)
}

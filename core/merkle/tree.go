package merkle

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelMin is the input size from which Build hashes leaves on several
// goroutines; below it the goroutine start-up costs more than it saves.
const parallelMin = 256 << 10

// parallelBatch is the number of leaves a Build worker claims at a time.
const parallelBatch = 4

// Tree is the Merkle tree of one shard: its size and the hashes of its
// perfect subtrees. It is immutable once built and safe for concurrent use.
type Tree struct {
	size int64
	// levels[j][i] is the hash of the perfect subtree over leaves
	// [i<<j, (i+1)<<j); levels[0] holds the leaf hashes. Nodes of the right
	// spine whose leaf count is not a power of two are computed on demand
	// (at most one per level).
	levels [][]Hash
	root   Root
}

// Build hashes data as one shard and returns its tree. Inputs of 256 KiB and
// more are hashed on up to runtime.GOMAXPROCS goroutines, which all end
// before Build returns. Build panics if len(data) > MaxSize.
func Build(data []byte) *Tree {
	size := int64(len(data))
	if size > MaxSize {
		panic(fmt.Sprintf("merkle: Build of %d bytes, more than MaxSize %d", size, MaxSize))
	}
	n := LeafCount(size)
	leaves := make([]Hash, n)
	workers := 1
	if len(data) >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), (n+parallelBatch-1)/parallelBatch)
	}
	if workers <= 1 {
		hashLeaves(newLeafHasher(), data, leaves, 0, n)
	} else {
		// Workers claim batches from a shared counter, so a worker slowed
		// by other load on the machine does not hold up the rest.
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				h := newLeafHasher()
				for {
					lo := int(next.Add(parallelBatch)) - parallelBatch
					if lo >= n {
						return
					}
					hashLeaves(h, data, leaves, lo, min(lo+parallelBatch, n))
				}
			})
		}
		wg.Wait()
	}
	return newTree(size, leaves)
}

// hashLeaves sets leaves[i] for i in [lo, hi) to the hash of leaf i of data.
func hashLeaves(h leafHasher, data []byte, leaves []Hash, lo, hi int) {
	for i := lo; i < hi; i++ {
		start := i * LeafSize
		stop := min(start+LeafSize, len(data))
		leaves[i] = h.hash(data[start:stop])
	}
}

// RootOf returns the address of data as a shard: Build(data).Root().
func RootOf(data []byte) Root { return Build(data).Root() }

// newTree computes the inner levels and the root over leaf hashes. The
// caller guarantees len(leaves) == LeafCount(size).
func newTree(size int64, leaves []Hash) *Tree {
	t := &Tree{size: size, levels: [][]Hash{leaves}}
	for prev := leaves; len(prev) >= 2; {
		next := make([]Hash, len(prev)/2)
		for i := range next {
			next[i] = hashInner(&prev[2*i], &prev[2*i+1])
		}
		t.levels = append(t.levels, next)
		prev = next
	}
	tr := t.node(0, len(leaves))
	t.root = finalRoot(size, &tr)
	return t
}

// node returns the hash of the subtree over leaves [lo, hi), a node of the
// tree's shape.
func (t *Tree) node(lo, hi int) Hash {
	if w := hi - lo; w&(w-1) == 0 && lo%w == 0 {
		j := 0
		for 1<<j < w {
			j++
		}
		if j < len(t.levels) && lo>>j < len(t.levels[j]) {
			return t.levels[j][lo>>j]
		}
	}
	k := split(hi - lo)
	l, r := t.node(lo, lo+k), t.node(lo+k, hi)
	return hashInner(&l, &r)
}

// Root returns the shard's address.
func (t *Tree) Root() Root { return t.root }

// Size returns the shard's length in bytes.
func (t *Tree) Size() int64 { return t.size }

// Leaves returns the number of leaves, LeafCount(t.Size()).
func (t *Tree) Leaves() int { return len(t.levels[0]) }

// Prove returns the range proof for the contiguous leaves [first, end): the
// hash of every maximal subtree wholly outside the range, left to right.
// The whole tree needs an empty proof. Errors wrap ErrRange.
func (t *Tree) Prove(first, end int) (Proof, error) {
	if err := checkLeaves(t.Leaves(), first, end); err != nil {
		return nil, fmt.Errorf("prove: %w", err)
	}
	return t.prove(make(Proof, 0, proofLen(0, t.Leaves(), first, end)), 0, t.Leaves(), first, end), nil
}

func (t *Tree) prove(out Proof, lo, hi, first, end int) Proof {
	switch {
	case hi <= first || end <= lo:
		return append(out, t.node(lo, hi))
	case first <= lo && hi <= end:
		return out
	}
	k := split(hi - lo)
	out = t.prove(out, lo, lo+k, first, end)
	return t.prove(out, lo+k, hi, first, end)
}

// proofLen returns the number of hashes in the proof of leaves [first, end)
// for the subtree over [lo, hi), without hashing anything. It visits at most
// two nodes per level.
func proofLen(lo, hi, first, end int) int {
	switch {
	case hi <= first || end <= lo:
		return 1
	case first <= lo && hi <= end:
		return 0
	}
	k := split(hi - lo)
	return proofLen(lo, lo+k, first, end) + proofLen(lo+k, hi, first, end)
}

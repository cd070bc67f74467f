package merkle

import (
	"crypto/sha256"
	"testing"
)

func BenchmarkBuild1MiB(b *testing.B) {
	data := testData(b, 1<<20, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Build(data)
	}
}

// BenchmarkBuild1MiBSerial is Build on one goroutine.
func BenchmarkBuild1MiBSerial(b *testing.B) {
	data := testData(b, 1<<20, 1)
	leaves := make([]Hash, LeafCount(int64(len(data))))
	h := newLeafHasher()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		hashLeaves(h, data, leaves, 0, len(leaves))
		newTree(int64(len(data)), leaves)
	}
}

func BenchmarkBuild4MiB(b *testing.B) {
	data := testData(b, 4<<20, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Build(data)
	}
}

// BenchmarkSHA256_1MiB is the comparison point for BLAKE3: one SHA-256 pass
// over the same data, without any tree.
func BenchmarkSHA256_1MiB(b *testing.B) {
	data := testData(b, 1<<20, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sha256.Sum256(data)
	}
}

// BenchmarkVerifyLeaf is one audit answer checked: one leaf of a 1 MiB shard.
func BenchmarkVerifyLeaf(b *testing.B) {
	data := testData(b, 1<<20, 1)
	tree := Build(data)
	proof, _ := tree.Prove(37, 38)
	leaf := data[37*LeafSize : 38*LeafSize]
	b.SetBytes(LeafSize)
	for b.Loop() {
		if err := Verify(tree.Root(), tree.Size(), 37, leaf, proof); err != nil {
			b.Fatal(err)
		}
	}
}

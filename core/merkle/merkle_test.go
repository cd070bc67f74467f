package merkle

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
)

// testData returns size deterministic pseudo-random bytes for seed.
func testData(tb testing.TB, size int, seed uint64) []byte {
	tb.Helper()
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

func TestLeafCount(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{-1, 1},
		{0, 1},
		{1, 1},
		{LeafSize - 1, 1},
		{LeafSize, 1},
		{LeafSize + 1, 2},
		{64 * LeafSize, 64},
		{64*LeafSize + 1, 65},
		{MaxSize, 1 << 26},
		{MaxSize + 1, 1 << 26},
	}
	for _, tt := range tests {
		if got := LeafCount(tt.size); got != tt.want {
			t.Errorf("LeafCount(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestLeafRange(t *testing.T) {
	const L = LeafSize
	tests := []struct {
		name         string
		size, off, n int64
		first, end   int
		wantErr      bool
	}{
		{"empty shard whole", 0, 0, -1, 0, 1, false},
		{"empty shard zero length", 0, 0, 0, 0, 1, false},
		{"empty shard past end", 0, 1, 0, 0, 0, true},
		{"empty shard one byte", 0, 0, 1, 0, 0, true},
		{"one byte", 1, 0, 1, 0, 1, false},
		{"first leaf", 3 * L, 0, L, 0, 1, false},
		{"crosses boundary", 3 * L, L - 1, 2, 0, 2, false},
		{"second leaf exact", 3 * L, L, L, 1, 2, false},
		{"to end", 3*L + 5, L + 3, -1, 1, 4, false},
		{"last byte", 3*L + 5, 3*L + 4, 1, 3, 4, false},
		{"whole", 3*L + 5, 0, 3*L + 5, 0, 4, false},
		{"empty range inside", 3 * L, 5, 0, 0, 0, true},
		{"to end from end", 3 * L, 3 * L, -1, 0, 0, true},
		{"past end", 3 * L, 3*L - 1, 2, 0, 0, true},
		{"negative offset", 3 * L, -1, 1, 0, 0, true},
		{"offset past end", 3 * L, 3*L + 1, -1, 0, 0, true},
		{"negative size", -1, 0, -1, 0, 0, true},
		{"size over max", MaxSize + 1, 0, 1, 0, 0, true},
		{"huge n", 3 * L, 1, 1 << 62, 0, 0, true},
		{"max size tail", MaxSize, MaxSize - 1, 1, 1<<26 - 1, 1 << 26, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, end, err := LeafRange(tt.size, tt.off, tt.n)
			if tt.wantErr {
				if !errors.Is(err, ErrRange) {
					t.Fatalf("LeafRange(%d, %d, %d) error = %v, want ErrRange", tt.size, tt.off, tt.n, err)
				}
				return
			}
			if err != nil || first != tt.first || end != tt.end {
				t.Fatalf("LeafRange(%d, %d, %d) = %d, %d, %v; want %d, %d", tt.size, tt.off, tt.n, first, end, err, tt.first, tt.end)
			}
		})
	}
}

// TestLeafRangeCovers checks exhaustively on small shards that the leaves
// LeafRange picks are exactly those that hold a byte of the range.
func TestLeafRangeCovers(t *testing.T) {
	const L = LeafSize
	for _, size := range []int64{1, L - 1, L, L + 1, 3*L + 7} {
		offs := []int64{0, 1, L - 1, L, L + 1, 2*L - 1, 2 * L, 3 * L, size - 1}
		for _, off := range offs {
			if off < 0 || off >= size {
				continue
			}
			for _, n := range []int64{1, 2, L - 1, L, L + 1, size - off} {
				if n > size-off {
					continue
				}
				first, end, err := LeafRange(size, off, n)
				if err != nil {
					t.Fatalf("LeafRange(%d, %d, %d): %v", size, off, n, err)
				}
				lo, cnt, err := LeafSpan(size, first, end)
				if err != nil {
					t.Fatalf("LeafSpan(%d, %d, %d): %v", size, first, end, err)
				}
				if lo > off || lo+cnt < off+n {
					t.Fatalf("size %d range [%d,+%d): leaves [%d,%d) span [%d,+%d) do not cover it", size, off, n, first, end, lo, cnt)
				}
				if off-lo >= L || lo+cnt-(off+n) >= L {
					t.Fatalf("size %d range [%d,+%d): leaves [%d,%d) span [%d,+%d) has a whole spare leaf", size, off, n, first, end, lo, cnt)
				}
			}
		}
	}
}

func TestLeafSpan(t *testing.T) {
	const L = LeafSize
	tests := []struct {
		size       int64
		first, end int
		off, n     int64
		wantErr    bool
	}{
		{0, 0, 1, 0, 0, false},
		{1, 0, 1, 0, 1, false},
		{3*L + 5, 1, 3, L, 2 * L, false},
		{3*L + 5, 2, 4, 2 * L, L + 5, false},
		{3 * L, 0, 3, 0, 3 * L, false},
		{3 * L, 0, 0, 0, 0, true},
		{3 * L, 2, 1, 0, 0, true},
		{3 * L, -1, 1, 0, 0, true},
		{3 * L, 0, 4, 0, 0, true},
		{-5, 0, 1, 0, 0, true},
	}
	for _, tt := range tests {
		off, n, err := LeafSpan(tt.size, tt.first, tt.end)
		if tt.wantErr {
			if !errors.Is(err, ErrRange) {
				t.Errorf("LeafSpan(%d, %d, %d) error = %v, want ErrRange", tt.size, tt.first, tt.end, err)
			}
			continue
		}
		if err != nil || off != tt.off || n != tt.n {
			t.Errorf("LeafSpan(%d, %d, %d) = %d, %d, %v; want %d, %d", tt.size, tt.first, tt.end, off, n, err, tt.off, tt.n)
		}
	}
}

func TestSplit(t *testing.T) {
	for n := 2; n < 1100; n++ {
		if got, want := split(n), refLargestPow2Below(n); got != want {
			t.Fatalf("split(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestRootGolden pins the roots of fixed inputs: a change here is a change
// of every shard address on the network. The inputs are bytes i%251.
func TestRootGolden(t *testing.T) {
	const L = LeafSize
	tests := []struct {
		size int
		want string
	}{
		{0, "8e78779af2f7e3e7a3c51c0fdb1dff34f96079017bf7769ab43441c09ebe9873"},
		{1, "7b167fff7f2deaf4c0b7d6c38bc3aba09aa01835b2bbb743e773ba630a4bf393"},
		{L - 1, "9c5fbbf46489c8fe3ccbb695b1d16015695b111e5ab1d74dd4b8bf451df97f65"},
		{L, "82f1c3b45234f23690dc7fb627092a88d5f403514f197016a178b73408fefc63"},
		{L + 1, "d1237b4ed41068b84ce1bb96633456fa9ee246231c44cb292beea8149aea5a5b"},
		{5*L + 123, "01a2cc73ae0f661b203f1d281fdd56cfe03bdbd3867e1886c6c55ea493a5b266"},
		{33 * L, "ab296edfc07daf125d298bb845bbefb414b1d78fe528b90881383598208834c2"},
	}
	for _, tt := range tests {
		data := make([]byte, tt.size)
		for i := range data {
			data[i] = byte(i % 251)
		}
		got := RootOf(data)
		if ref := refRoot(data); got != ref {
			t.Errorf("size %d: root %s, reference implementation says %s", tt.size, got, ref)
		}
		if got.String() != tt.want {
			t.Errorf("size %d: root %s, golden %s", tt.size, got, tt.want)
		}
	}
}

// TestBLAKE3Vector anchors the hash to BLAKE3 itself: the official test
// vector for the empty input.
func TestBLAKE3Vector(t *testing.T) {
	got := Hash(blake3.Sum256(nil)).String()
	if want := "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"; got != want {
		t.Fatalf("BLAKE3(\"\") = %s, want %s", got, want)
	}
}

// TestRootMatchesReference compares Build, serial and parallel, with the
// naive implementation over many leaf counts, odd ones included.
func TestRootMatchesReference(t *testing.T) {
	const L = LeafSize
	sizes := []int{0, 1, 2, 100, L - 1, L, L + 1, 2 * L, 3*L - 1, 3 * L, 5*L + 1, 7 * L, 13*L + 99, 16 * L, 17 * L, 31*L + 1, 33 * L, 64 * L, 65*L + 17, 100*L + 3}
	for _, size := range sizes {
		data := testData(t, size, uint64(size))
		tree := Build(data)
		if got, want := tree.Root(), refRoot(data); got != want {
			t.Fatalf("size %d: Build root %s, reference %s", size, got, want)
		}
		if tree.Size() != int64(size) || tree.Leaves() != LeafCount(int64(size)) {
			t.Fatalf("size %d: tree has size %d, %d leaves", size, tree.Size(), tree.Leaves())
		}
		serial := make([]Hash, tree.Leaves())
		hashLeaves(newLeafHasher(), data, serial, 0, len(serial))
		if st := newTree(int64(size), serial); st.Root() != tree.Root() {
			t.Fatalf("size %d: serial root %s, parallel %s", size, st.Root(), tree.Root())
		}
	}
}

func TestRootBindsData(t *testing.T) {
	const L = LeafSize
	data := testData(t, 3*L+10, 1)
	root := RootOf(data)
	variants := map[string][]byte{
		"truncated one byte":        data[:len(data)-1],
		"truncated to whole leaves": data[:3*L],
		"extended by a zero":        append(bytes.Clone(data), 0),
		"extended to whole leaf":    append(bytes.Clone(data), make([]byte, L-10)...),
		"empty":                     nil,
	}
	for name, v := range variants {
		if RootOf(v) == root {
			t.Errorf("%s: same root as the original", name)
		}
	}
	// Zero padding inside a leaf must change the root too: the size is bound.
	short := []byte{1, 2, 3}
	if RootOf(short) == RootOf(append(short, 0)) {
		t.Error("appending a zero byte kept the root")
	}
	if RootOf(nil) == RootOf(make([]byte, LeafSize)) {
		t.Error("empty shard and one zero leaf share a root")
	}
}

func TestProveVerifyAllRanges(t *testing.T) {
	const L = LeafSize
	for n := 1; n <= 33; n++ {
		for _, size := range []int{n * L, n*L - 7} {
			data := testData(t, size, uint64(n))
			tree := Build(data)
			root := tree.Root()
			leaves := refLeafHashes(data)
			for first := 0; first < n; first++ {
				for end := first + 1; end <= n; end++ {
					proof, err := tree.Prove(first, end)
					if err != nil {
						t.Fatalf("n=%d size=%d Prove(%d,%d): %v", n, size, first, end, err)
					}
					if want := refProof(leaves, 0, first, end); !equalProofs(proof, want) {
						t.Fatalf("n=%d size=%d Prove(%d,%d) = %d hashes, reference %d hashes (or different)", n, size, first, end, len(proof), len(want))
					}
					if len(proof) > MaxProofLen {
						t.Fatalf("proof of %d hashes, MaxProofLen %d", len(proof), MaxProofLen)
					}
					off, cnt, err := LeafSpan(int64(size), first, end)
					if err != nil {
						t.Fatal(err)
					}
					if err := Verify(root, int64(size), first, data[off:off+cnt], proof); err != nil {
						t.Fatalf("n=%d size=%d Verify(%d,%d): %v", n, size, first, end, err)
					}
				}
			}
		}
	}
}

func equalProofs(a, b []Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestProveVerifyEmptyShard(t *testing.T) {
	tree := Build(nil)
	proof, err := tree.Prove(0, 1)
	if err != nil || len(proof) != 0 {
		t.Fatalf("Prove(0,1) of the empty shard = %v, %v; want an empty proof", proof, err)
	}
	if err := Verify(tree.Root(), 0, 0, nil, proof); err != nil {
		t.Fatalf("Verify empty shard: %v", err)
	}
	if err := Verify(tree.Root(), 0, 0, []byte{0}, proof); !errors.Is(err, ErrProof) {
		t.Fatalf("Verify empty shard with one byte: %v, want ErrProof", err)
	}
}

func TestProveRejectsBadRange(t *testing.T) {
	tree := Build(testData(t, 5*LeafSize, 2))
	for _, r := range [][2]int{{-1, 1}, {0, 0}, {3, 2}, {0, 6}, {5, 6}} {
		if _, err := tree.Prove(r[0], r[1]); !errors.Is(err, ErrRange) {
			t.Errorf("Prove(%d, %d) error = %v, want ErrRange", r[0], r[1], err)
		}
	}
}

// fixture is an honest range proof to tamper with.
type fixture struct {
	data   []byte
	tree   *Tree
	first  int
	end    int
	leaves []byte
	proof  Proof
}

func newFixture(tb testing.TB, size, first, end int, seed uint64) fixture {
	tb.Helper()
	data := testData(tb, size, seed)
	tree := Build(data)
	proof, err := tree.Prove(first, end)
	if err != nil {
		tb.Fatal(err)
	}
	off, n, err := LeafSpan(int64(size), first, end)
	if err != nil {
		tb.Fatal(err)
	}
	f := fixture{data: data, tree: tree, first: first, end: end, leaves: data[off : off+n], proof: proof}
	if err := f.verify(f.leaves, f.proof); err != nil {
		tb.Fatalf("honest fixture does not verify: %v", err)
	}
	return f
}

func (f fixture) verify(leaves []byte, proof Proof) error {
	return Verify(f.tree.Root(), f.tree.Size(), f.first, leaves, proof)
}

// TestVerifyRejectsBitFlips flips every bit of the leaves and of the proof,
// one at a time. The shards are small, but the cases cover a full leaf, a
// short final leaf and proof hashes on both sides. A full leaf is 131072
// bits, so only the "middle full leaf" case flips all of them; in the others
// (and in every case with -short) full-leaf bytes away from the leaf's edges
// get one flipped bit each, rotating through the bit positions.
func TestVerifyRejectsBitFlips(t *testing.T) {
	const L = LeafSize
	cases := []struct {
		name             string
		size, first, end int
		allBits          bool
	}{
		{"one short leaf", 700, 0, 1, true},
		{"short last leaf of five", 4*L + 300, 4, 5, true},
		{"middle full leaf of seven", 7*L - 5, 3, 4, true},
		{"two leaves with short tail", 2*L + 200, 1, 3, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.size, c.first, c.end, 3)
			leaves := bytes.Clone(f.leaves)
			for i := range leaves {
				inFull := f.first*L+i < (f.tree.Leaves()-1)*L
				edge := i%L < 64 || i%L >= L-64
				sample := inFull && !edge && (testing.Short() || !c.allBits)
				for bit := range 8 {
					if sample && bit != i%8 {
						continue
					}
					leaves[i] ^= 1 << bit
					if err := f.verify(leaves, f.proof); !errors.Is(err, ErrProof) {
						t.Fatalf("leaf byte %d bit %d flipped: Verify = %v, want ErrProof", i, bit, err)
					}
					leaves[i] ^= 1 << bit
				}
			}
			proof := append(Proof(nil), f.proof...)
			for h := range proof {
				for i := range proof[h] {
					for bit := range 8 {
						proof[h][i] ^= 1 << bit
						if err := f.verify(f.leaves, proof); !errors.Is(err, ErrProof) {
							t.Fatalf("proof hash %d byte %d bit %d flipped: Verify = %v, want ErrProof", h, i, bit, err)
						}
						proof[h][i] ^= 1 << bit
					}
				}
			}
			root := f.tree.Root()
			for i := range root {
				for bit := range 8 {
					bad := root
					bad[i] ^= 1 << bit
					if err := Verify(bad, f.tree.Size(), f.first, f.leaves, f.proof); !errors.Is(err, ErrProof) {
						t.Fatalf("root byte %d bit %d flipped: Verify = %v, want ErrProof", i, bit, err)
					}
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	const L = LeafSize
	f := newFixture(t, 6*L+100, 2, 4, 4)
	root, size := f.tree.Root(), f.tree.Size()
	otherData := testData(t, int(size), 5)
	other := Build(otherData)
	otherProof, _ := other.Prove(2, 4)
	proof13, _ := f.tree.Prove(1, 3)
	proof24a, _ := f.tree.Prove(2, 5)
	lastProof, _ := f.tree.Prove(6, 7)
	swapped := append(Proof(nil), f.proof...)
	swapped[0], swapped[1] = swapped[1], swapped[0]

	tests := []struct {
		name   string
		root   Root
		size   int64
		first  int
		leaves []byte
		proof  Proof
	}{
		{"wrong size bigger", root, size + 1, 2, f.leaves, f.proof},
		{"wrong size smaller", root, size - 1, 2, f.leaves, f.proof},
		{"wrong size whole leaves", root, 6 * L, 2, f.leaves, f.proof},
		{"negative size", root, -1, 2, f.leaves, f.proof},
		{"huge size", root, 1 << 62, 2, f.leaves, f.proof},
		{"max size", root, MaxSize, 2, f.leaves, f.proof},
		{"first shifted", root, size, 1, f.leaves, f.proof},
		{"first negative", root, size, -1, f.leaves, f.proof},
		{"first past end", root, size, 7, f.leaves, f.proof},
		{"first huge", root, size, 1 << 40, f.leaves, f.proof},
		{"leaves of another shard", root, size, 2, otherData[2*L : 4*L], otherProof},
		{"other shard's proof", root, size, 2, f.leaves, otherProof},
		{"proof of another range", root, size, 2, f.leaves, proof13},
		{"one leaf fewer", root, size, 2, f.leaves[:L], f.proof},
		{"one leaf more", root, size, 2, f.data[2*L : 5*L], f.proof},
		{"one leaf more with its proof", root, size, 2, f.data[2*L : 4*L], proof24a},
		{"partial leaf not last", root, size, 2, f.leaves[:L+1], f.proof},
		{"partial first leaf", root, size, 2, f.leaves[:L-1], f.proof},
		{"leaves padded", root, size, 2, append(bytes.Clone(f.leaves), 0), f.proof},
		{"no leaves", root, size, 2, nil, f.proof},
		{"missing proof hash", root, size, 2, f.leaves, f.proof[:len(f.proof)-1]},
		{"missing first proof hash", root, size, 2, f.leaves, f.proof[1:]},
		{"extra proof hash", root, size, 2, f.leaves, append(append(Proof(nil), f.proof...), Hash{})},
		{"duplicated proof hash", root, size, 2, f.leaves, append(append(Proof(nil), f.proof...), f.proof[0])},
		{"swapped proof hashes", root, size, 2, f.leaves, swapped},
		{"empty proof", root, size, 2, f.leaves, nil},
		{"last leaf padded to full", root, size, 6, append(bytes.Clone(f.data[6*L:]), make([]byte, L-100)...), lastProof},
		{"last leaf truncated", root, size, 6, f.data[6*L : 6*L+99], lastProof},
		{"zero root", Root{}, size, 2, f.leaves, f.proof},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.root, tt.size, tt.first, tt.leaves, tt.proof)
			if !errors.Is(err, ErrProof) {
				t.Fatalf("Verify = %v, want ErrProof", err)
			}
		})
	}
	// The honest last leaf does verify, so the two cases above fail for
	// the length alone.
	if err := Verify(root, size, 6, f.data[6*L:], lastProof); err != nil {
		t.Fatalf("honest last leaf: %v", err)
	}
}

func TestTreeConcurrentUse(t *testing.T) {
	data := testData(t, 40*LeafSize+9, 6)
	tree := Build(data)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for first := g; first < tree.Leaves(); first += 4 {
				proof, err := tree.Prove(first, first+1)
				if err != nil {
					t.Error(err)
					return
				}
				off, n, _ := LeafSpan(tree.Size(), first, first+1)
				if err := Verify(tree.Root(), tree.Size(), first, data[off:off+n], proof); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRootText(t *testing.T) {
	root := RootOf([]byte("shardrive"))
	s := root.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q, want 64 lowercase hex digits", s)
	}
	parsed, err := ParseRoot(s)
	if err != nil || parsed != root {
		t.Fatalf("ParseRoot(String()) = %s, %v", parsed, err)
	}
	js, err := json.Marshal(map[string]Root{"root": root})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"root":"` + s + `"}`; string(js) != want {
		t.Fatalf("JSON = %s, want %s", js, want)
	}
	var back map[string]Root
	if err := json.Unmarshal(js, &back); err != nil || back["root"] != root {
		t.Fatalf("JSON round trip = %v, %v", back, err)
	}
	if root.IsZero() || !(Root{}).IsZero() {
		t.Fatal("IsZero wrong")
	}
	for _, bad := range []string{"", s[:63], s + "0", strings.ToUpper(s), "g" + s[1:], " " + s[1:], s[:62] + "\x00\x00"} {
		if _, err := ParseRoot(bad); err == nil {
			t.Errorf("ParseRoot(%q) accepted", bad)
		}
		var r Root
		if err := r.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
}

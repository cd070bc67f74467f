package erasure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

// testBlock returns n deterministic pseudo-random bytes for seed.
func testBlock(tb testing.TB, n int, seed uint64) []byte {
	tb.Helper()
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

func newCoder(tb testing.TB, k, m int) *Coder {
	tb.Helper()
	c, err := New(k, m)
	if err != nil {
		tb.Fatalf("New(%d, %d): %v", k, m, err)
	}
	return c
}

// without returns a copy of shards with the listed entries set to nil.
func without(shards [][]byte, missing ...int) [][]byte {
	out := make([][]byte, len(shards))
	copy(out, shards)
	for _, i := range missing {
		out[i] = nil
	}
	return out
}

func TestNew(t *testing.T) {
	tests := []struct {
		k, m int
		ok   bool
	}{
		{1, 0, true}, {2, 1, true}, {4, 2, true}, {10, 4, true},
		{255, 1, true}, {128, 128, true}, {1, 255, true}, {256, 0, true},
		{0, 0, false}, {0, 1, false}, {-1, 2, false}, {1, -1, false},
		{200, 57, false}, {256, 1, false}, {257, 0, false},
		{1 << 62, 1 << 62, false}, {1, 1<<63 - 1, false},
	}
	for _, tt := range tests {
		c, err := New(tt.k, tt.m)
		if !tt.ok {
			if !errors.Is(err, ErrInvalidParams) {
				t.Errorf("New(%d, %d) error = %v, want ErrInvalidParams", tt.k, tt.m, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%d, %d): %v", tt.k, tt.m, err)
			continue
		}
		if c.DataShards() != tt.k || c.ParityShards() != tt.m || c.Total() != tt.k+tt.m {
			t.Errorf("New(%d, %d) reports %d+%d=%d", tt.k, tt.m, c.DataShards(), c.ParityShards(), c.Total())
		}
	}
}

func TestShardSize(t *testing.T) {
	tests := []struct{ k, blockLen, want int }{
		{1, 0, 1}, {1, -5, 1}, {1, 1, 1}, {1, 100, 100},
		{4, 0, 1}, {4, 1, 1}, {4, 4, 1}, {4, 5, 2}, {4, 8, 2}, {4, 9, 3},
		{10, 4<<20 + 1792, 419610}, {4, 4<<20 + 1792, 1049024},
		{3, 1<<62 + 1, 1<<62/3 + 1},
	}
	for _, tt := range tests {
		c := newCoder(t, tt.k, 1)
		if got := c.ShardSize(tt.blockLen); got != tt.want {
			t.Errorf("k=%d ShardSize(%d) = %d, want %d", tt.k, tt.blockLen, got, tt.want)
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 4001, 1)
	shards, err := c.Encode(block)
	if err != nil {
		t.Fatal(err)
	}
	s := c.ShardSize(len(block))
	if len(shards) != 6 {
		t.Fatalf("%d shards, want 6", len(shards))
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(shards[0])))
	for i, sh := range shards {
		if len(sh) != s || cap(sh) != s {
			t.Fatalf("shard %d: len %d cap %d, want %d", i, len(sh), cap(sh), s)
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(sh))); p != base+uintptr(i*s) {
			t.Fatalf("shard %d is not at offset %d of one allocation", i, i*s)
		}
	}
	for i := range 4 {
		want := make([]byte, s)
		copy(want, block[min(i*s, len(block)):min((i+1)*s, len(block))])
		if !bytes.Equal(shards[i], want) {
			t.Fatalf("data shard %d is not block bytes [%d, %d) zero-padded", i, i*s, (i+1)*s)
		}
	}
	// The shards must not alias the block.
	block[0] ^= 0xff
	if shards[0][0] == block[0] {
		t.Fatal("shard 0 aliases the block")
	}
}

func TestEncodeToReusesBuffers(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 64<<10, 2)
	dst := c.Alloc(len(block))
	for i := range dst {
		for j := range dst[i] {
			dst[i][j] = 0xAA // stale contents must not leak into shards
		}
	}
	if err := c.EncodeTo(dst, block[:len(block)-3]); !errors.Is(err, ErrShardSize) {
		// Shard size changes with the block length; reusing buffers
		// of another size is refused.
		if c.ShardSize(len(block)-3) != c.ShardSize(len(block)) {
			t.Fatalf("EncodeTo with wrong-size buffers: %v", err)
		}
	}
	short := block[:len(block)-3]
	if err := c.EncodeTo(dst, short); err != nil {
		t.Fatal(err)
	}
	want, _ := c.Encode(short)
	for i := range dst {
		if !bytes.Equal(dst[i], want[i]) {
			t.Fatalf("EncodeTo shard %d differs from Encode (stale bytes?)", i)
		}
	}
	// The library keeps a little per-call state (goroutine bookkeeping);
	// what matters is that no shard-sized buffer is allocated.
	perCall := allocBytes(20, func() {
		if err := c.EncodeTo(dst, short); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("EncodeTo allocates %d bytes per call", perCall)
	if s := c.ShardSize(len(short)); perCall >= uint64(s) {
		t.Errorf("EncodeTo allocates %d bytes per call, at least a shard (%d)", perCall, s)
	}
}

func TestEncodeToRejects(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 100, 3)
	dst := c.Alloc(len(block))
	if err := c.EncodeTo(dst[:5], block); !errors.Is(err, ErrShardCount) {
		t.Errorf("5 buffers: %v, want ErrShardCount", err)
	}
	bad := without(dst)
	bad[3] = bad[3][:24]
	if err := c.EncodeTo(bad, block); !errors.Is(err, ErrShardSize) {
		t.Errorf("short buffer: %v, want ErrShardSize", err)
	}
}

func TestRoundTrip(t *testing.T) {
	configs := [][2]int{{1, 0}, {2, 1}, {4, 2}, {10, 4}}
	for _, km := range configs {
		k, m := km[0], km[1]
		c := newCoder(t, k, m)
		s := 1000
		sizes := []int{0, 1, 7, 999, k * s, k*s - 1, k*s + 1, 4<<20 + 1792}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%d+%d/%d", k, m, size), func(t *testing.T) {
				block := testBlock(t, size, uint64(size))
				shards, err := c.Encode(block)
				if err != nil {
					t.Fatal(err)
				}
				if len(shards) != k+m {
					t.Fatalf("%d shards", len(shards))
				}
				// All present, the first m missing, the last m
				// missing (parity only), every data shard missing
				// when m allows.
				cases := [][]int{nil}
				var first, last []int
				for i := range m {
					first = append(first, i)
					last = append(last, k+i)
				}
				cases = append(cases, first, last)
				for _, missing := range cases {
					got, err := c.Decode(without(shards, missing...), size)
					if err != nil {
						t.Fatalf("missing %v: %v", missing, err)
					}
					if !bytes.Equal(got, block) {
						t.Fatalf("missing %v: decoded block differs", missing)
					}
				}
			})
		}
	}
}

// TestAnySubset tries every subset of the shards of a 4+2 block: it decodes
// exactly when at least k shards, or every data shard holding block bytes,
// are present.
func TestAnySubset(t *testing.T) {
	c := newCoder(t, 4, 2)
	for _, size := range []int{4 * 777, 4*777 - 2, 1, 3} {
		block := testBlock(t, size, 9)
		shards, _ := c.Encode(block)
		s := c.ShardSize(size)
		used := (size + s - 1) / s
		for mask := range 1 << 6 {
			var missing []int
			for i := range 6 {
				if mask&(1<<i) == 0 {
					missing = append(missing, i)
				}
			}
			in := without(shards, missing...)
			before := without(in)
			got, err := c.Decode(in, size)
			usedPresent := mask&(1<<used-1) == 1<<used-1
			if bits.OnesCount(uint(mask)) >= 4 || usedPresent {
				if err != nil || !bytes.Equal(got, block) {
					t.Fatalf("size %d present %06b: %v", size, mask, err)
				}
			} else if !errors.Is(err, ErrTooFewShards) {
				t.Fatalf("size %d present %06b: error %v, want ErrTooFewShards", size, mask, err)
			}
			for i := range in {
				if unsafe.SliceData(in[i]) != unsafe.SliceData(before[i]) || len(in[i]) != len(before[i]) {
					t.Fatalf("Decode changed the caller's shard list at %d", i)
				}
			}
			for i, sh := range shards {
				if mask&(1<<i) != 0 && !bytes.Equal(sh, in[i]) {
					t.Fatalf("Decode modified shard %d", i)
				}
			}
		}
	}
}

func TestDecodeTooFewShards(t *testing.T) {
	c := newCoder(t, 10, 4)
	block := testBlock(t, 100000, 4)
	shards, _ := c.Encode(block)
	_, err := c.Decode(without(shards, 0, 1, 2, 3, 4), len(block))
	if !errors.Is(err, ErrTooFewShards) {
		t.Fatalf("9 of 14: %v, want ErrTooFewShards", err)
	}
	c0 := newCoder(t, 3, 0)
	shards0, _ := c0.Encode(block)
	if _, err := c0.Decode(without(shards0, 1), len(block)); !errors.Is(err, ErrTooFewShards) {
		t.Fatalf("3+0 without shard 1: %v, want ErrTooFewShards", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 1000, 5)
	shards, _ := c.Encode(block)
	if _, err := c.Decode(shards[:5], 1000); !errors.Is(err, ErrShardCount) {
		t.Errorf("5 shards: %v, want ErrShardCount", err)
	}
	if _, err := c.Decode(append(without(shards), nil), 1000); !errors.Is(err, ErrShardCount) {
		t.Errorf("7 shards: %v, want ErrShardCount", err)
	}
	bad := without(shards)
	bad[2] = bad[2][:249]
	if _, err := c.Decode(bad, 1000); !errors.Is(err, ErrShardSize) {
		t.Errorf("short shard: %v, want ErrShardSize", err)
	}
	if _, err := c.Decode(shards, 1004); !errors.Is(err, ErrShardSize) {
		t.Errorf("block length needing bigger shards: %v, want ErrShardSize", err)
	}
	if _, err := c.Decode(shards, -1); !errors.Is(err, ErrRange) {
		t.Errorf("negative block length: %v, want ErrRange", err)
	}
	// A shorter block length with the same shard size is a different,
	// valid question: the block's prefix.
	if got, err := c.Decode(shards, 997); err != nil || !bytes.Equal(got, block[:997]) {
		t.Errorf("block length 997: %v", err)
	}
}

// TestGolden pins the parity of fixed inputs: the coding matrix is part of
// the network format, and a library upgrade that changed it would make old
// parity shards undecodable. Input byte j is j % 251.
func TestGolden(t *testing.T) {
	tests := []struct {
		k, m, size int
		want       []string // SHA-256 of each parity shard
	}{
		{4, 2, 1000, []string{
			"93a3e97af4dda1781ca37366c84a7b6028e9247aef2ee58a468e3ef054157225",
			"47fdb4c619e05f0af51ee4ac8863637863bd8720a9f74da996aeb0682b45709e",
		}},
		{10, 4, 4099, []string{
			"9d2ec3c7e3336e63ec7702d34e7a685fded8058256761c99ab3c003049cfa0a7",
			"9c130996ae00fe2362ff4eef7bf8ecd09925a91ee537be34bef10ae0a68c7d4c",
			"b510017b7a960feb98dac1ceaf49f8fefe1672aab977d97054b431972cc8988a",
			"58ee3f1b9b859b4a644a7c2e9a1492e5b49b7e8bdc58b1ded9023e194be9ae04",
		}},
		{2, 1, 5, []string{"3e0a2d98eb6865913a43585d0f7bfaeaa48e9771b31d99ddb028e65d510ae708"}},
	}
	for _, tt := range tests {
		c := newCoder(t, tt.k, tt.m)
		block := make([]byte, tt.size)
		for j := range block {
			block[j] = byte(j % 251)
		}
		shards, err := c.Encode(block)
		if err != nil {
			t.Fatal(err)
		}
		for j, want := range tt.want {
			sum := sha256.Sum256(shards[tt.k+j])
			if got := hex.EncodeToString(sum[:]); got != want {
				t.Errorf("%d+%d size %d parity %d: sha256 %s, golden %s", tt.k, tt.m, tt.size, j, got, want)
			}
		}
	}
}

// TestGoldenSmall pins a whole tiny encoding byte for byte, so the format
// document can show it.
func TestGoldenSmall(t *testing.T) {
	c := newCoder(t, 2, 2)
	shards, err := c.Encode([]byte{1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%x", shards)
	if want := "[010203 040500 0b0c05 0e0b06]"; got != want {
		t.Errorf("2+2 encoding of 0102030405 = %s, golden %s", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := newCoder(t, 4, 2)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			block := testBlock(t, 100000+g, uint64(g))
			for range 5 {
				shards, err := c.Encode(block)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.Decode(without(shards, g%4, 4+g%2), len(block))
				if err != nil || !bytes.Equal(got, block) {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecodeToInPlace(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 64<<10, 6)
	shards, _ := c.Encode(block)
	dst := make([]byte, len(block))
	in := without(shards, 1, 2)
	perCall := allocBytes(10, func() {
		if err := c.DecodeTo(dst, in); err != nil {
			t.Fatal(err)
		}
	})
	if !bytes.Equal(dst, block) {
		t.Fatal("DecodeTo result differs")
	}
	// Two missing data shards wholly inside the block are rebuilt into dst;
	// what remains is bookkeeping (the shard list copy, the required mask,
	// the library's small per-call state), never a shard-sized buffer.
	t.Logf("DecodeTo allocates %d bytes per call", perCall)
	if s := c.ShardSize(len(block)); perCall >= uint64(s) {
		t.Errorf("DecodeTo allocates %d bytes per call, at least a shard (%d)", perCall, s)
	}
}

// allocBytes returns the bytes allocated per call of f, averaged over runs.
func allocBytes(runs int, f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

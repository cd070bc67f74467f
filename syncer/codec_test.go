package syncer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/merkle"
)

func testSealer(t testing.TB) *crypto.Sealer {
	k := crypto.NewFileKey()
	return crypto.NewSealer(&k)
}

func TestCodecRoundTripAnyK(t *testing.T) {
	c, err := newCodec(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := testSealer(t)
	ad := crypto.BlockAD{FileID: crypto.NewFileID(), Block: 3, Version: 9}
	for _, size := range []int{0, 1, crypto.SegmentSize, 4<<20 - 7} {
		plain := make([]byte, size)
		rand.Read(plain)
		enc, err := c.encode(s, ad, plain)
		if err != nil {
			t.Fatal(err)
		}
		for i, sh := range enc.shards {
			if merkle.RootOf(sh) != enc.roots[i] {
				t.Fatalf("shard %d: root does not match its bytes", i)
			}
		}
		// Lose any two shards.
		for a := 0; a < 6; a++ {
			for b := a + 1; b < 6; b++ {
				pieces := make([][]byte, 6)
				for i := range pieces {
					if i != a && i != b {
						pieces[i] = bytes.Clone(enc.shards[i])
					}
				}
				got, err := c.decode(nil, s, ad, pieces, enc.sealedLen, size)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("size %d without shards %d,%d: %v", size, a, b, err)
				}
			}
		}
	}
}

func TestCodecRefusesWrongPlace(t *testing.T) {
	c, _ := newCodec(4, 2)
	s := testSealer(t)
	ad := crypto.BlockAD{FileID: crypto.NewFileID(), Block: 1, Version: 5}
	plain := bytes.Repeat([]byte("x"), 300<<10)
	enc, err := c.encode(s, ad, plain)
	if err != nil {
		t.Fatal(err)
	}
	for name, other := range map[string]crypto.BlockAD{
		"other block":   {FileID: ad.FileID, Block: 2, Version: 5},
		"older version": {FileID: ad.FileID, Block: 1, Version: 4},
		"other file":    {FileID: crypto.NewFileID(), Block: 1, Version: 5},
	} {
		if _, err := c.decode(nil, s, other, enc.shards, enc.sealedLen, len(plain)); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v, want ErrDamaged", name, err)
		}
	}
	if _, err := c.decode(nil, s, ad, enc.shards, enc.sealedLen, len(plain)-crypto.SegmentSize); !errors.Is(err, ErrDamaged) {
		t.Errorf("length lie: %v, want ErrDamaged", err)
	}
}

const benchBlock = 4 << 20

// BenchmarkAESGCMRaw is the yardstick: one core sealing a 4 MiB block in
// 64 KiB pieces with the standard library, nothing else.
func BenchmarkAESGCMRaw(b *testing.B) {
	key := make([]byte, 32)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	plain := make([]byte, benchBlock)
	nonce := make([]byte, 12)
	dst := make([]byte, 0, benchBlock+benchBlock/crypto.SegmentSize*16)
	b.SetBytes(benchBlock)
	for b.Loop() {
		dst = dst[:0]
		for off := 0; off < benchBlock; off += crypto.SegmentSize {
			dst = g.Seal(dst, nonce, plain[off:off+crypto.SegmentSize], nil)
		}
	}
}

// BenchmarkEncodePipeline is seal + Reed-Solomon 4+2 + a Merkle root per
// shard for one 4 MiB block at a time (the hashing uses both cores).
func BenchmarkEncodePipeline(b *testing.B) {
	c, _ := newCodec(4, 2)
	s := testSealer(b)
	plain := make([]byte, benchBlock)
	b.SetBytes(benchBlock)
	for b.Loop() {
		enc, err := c.encode(s, crypto.BlockAD{}, plain)
		if err != nil {
			b.Fatal(err)
		}
		enc.release()
	}
}

// BenchmarkEncodePipelineParallel runs blocks side by side, as a put does.
func BenchmarkEncodePipelineParallel(b *testing.B) {
	c, _ := newCodec(4, 2)
	s := testSealer(b)
	b.SetBytes(benchBlock)
	b.RunParallel(func(pb *testing.PB) {
		plain := make([]byte, benchBlock)
		for pb.Next() {
			enc, err := c.encode(s, crypto.BlockAD{}, plain)
			if err != nil {
				b.Fatal(err)
			}
			enc.release()
		}
	})
}

// BenchmarkDecodePipeline rebuilds a block with two data shards missing and
// opens it.
func BenchmarkDecodePipeline(b *testing.B) {
	c, _ := newCodec(4, 2)
	s := testSealer(b)
	plain := make([]byte, benchBlock)
	enc, _ := c.encode(s, crypto.BlockAD{}, plain)
	b.SetBytes(benchBlock)
	for b.Loop() {
		pieces := [][]byte{nil, enc.shards[1], nil, enc.shards[3], enc.shards[4], enc.shards[5]}
		if _, err := c.decode(nil, s, crypto.BlockAD{}, pieces, enc.sealedLen, benchBlock); err != nil {
			b.Fatal(err)
		}
	}
}

package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"testing"
)

const benchBlock = 4 << 20

// BenchmarkAESGCMRaw is the reference: crypto/aes + cipher.GCM sealing 4 MiB
// in 64 KiB pieces with counter nonces, no randomness, no framing.
func BenchmarkAESGCMRaw(b *testing.B) {
	key := NewFileKey()
	block, err := aes.NewCipher(key[:])
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	plain := pattern(benchBlock)
	out := make([]byte, 0, SealedSize(benchBlock))
	var nonce [NonceSize]byte
	ad := make([]byte, blockADSize)
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	for b.Loop() {
		out = out[:0]
		for off := 0; off < benchBlock; off += SegmentSize {
			binary.BigEndian.PutUint64(nonce[4:], uint64(off))
			out = aead.Seal(out, nonce[:], plain[off:off+SegmentSize], ad)
		}
	}
}

func BenchmarkSealBlock4MiB(b *testing.B) {
	key := NewFileKey()
	plain := pattern(benchBlock)
	ad := testAD(1, 1)
	out := make([]byte, 0, SealedSize(benchBlock))
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	for b.Loop() {
		out = SealBlock(out[:0], &key, ad, plain)
	}
}

func BenchmarkSealerSealBlock4MiB(b *testing.B) {
	key := NewFileKey()
	s := NewSealer(&key)
	plain := pattern(benchBlock)
	ad := testAD(1, 1)
	out := make([]byte, 0, SealedSize(benchBlock))
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	for b.Loop() {
		out = s.SealBlock(out[:0], ad, plain)
	}
}

func BenchmarkOpenBlock4MiB(b *testing.B) {
	key := NewFileKey()
	ad := testAD(1, 1)
	sealed := SealBlock(nil, &key, ad, pattern(benchBlock))
	out := make([]byte, 0, OpenedSize(benchBlock))
	b.SetBytes(benchBlock)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = OpenBlock(out[:0], &key, ad, sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenSegment(b *testing.B) {
	key := NewFileKey()
	s := NewSealer(&key)
	ad := testAD(1, 1)
	sealed := s.SealBlock(nil, ad, pattern(benchBlock))
	count := SegmentCount(benchBlock)
	out := make([]byte, 0, SegmentSize)
	b.SetBytes(SegmentSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var err error
		seg := sealed[SealedOffset(i):SealedOffset(i+1)]
		if out, err = s.OpenSegment(out[:0], ad, i, count, seg); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % count
	}
}

package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// pattern returns n bytes that differ from segment to segment.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/SegmentSize)
	}
	return b
}

func testAD(block, version uint64) BlockAD {
	return BlockAD{FileID: [16]byte{0xf1, 0x1e}, Block: block, Version: version}
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := NewFileKey()
	s := NewSealer(&key)
	for _, n := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize - 5, 4 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			plain := pattern(n)
			ad := testAD(2, 5)
			sealed := s.SealBlock(nil, ad, plain)
			if len(sealed) != SealedSize(n) {
				t.Fatalf("sealed %d bytes, want SealedSize = %d", len(sealed), SealedSize(n))
			}
			if n >= 16 && bytes.Contains(sealed, plain[:16]) {
				t.Error("plaintext visible in sealed block")
			}
			opened, err := s.OpenBlock(nil, ad, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if len(opened) != OpenedSize(n) {
				t.Fatalf("opened %d bytes, want %d", len(opened), OpenedSize(n))
			}
			if !bytes.Equal(opened[:n], plain) {
				t.Fatal("plaintext differs")
			}
			if !bytes.Equal(opened[n:], make([]byte, len(opened)-n)) {
				t.Fatal("padding is not zero")
			}

			// The package-level functions agree with the Sealer.
			opened2, err := OpenBlock(nil, &key, ad, SealBlock(nil, &key, ad, plain))
			if err != nil || !bytes.Equal(opened2, opened) {
				t.Fatalf("package functions: %v", err)
			}

			// Each segment opens alone, as a range read does it.
			count := SegmentCount(n)
			for i := range count {
				seg := sealed[SealedOffset(i):SealedOffset(i+1)]
				p, err := OpenSegment(nil, &key, ad, i, count, seg)
				if err != nil {
					t.Fatalf("segment %d: %v", i, err)
				}
				if !bytes.Equal(p, opened[i*SegmentSize:(i+1)*SegmentSize]) {
					t.Fatalf("segment %d plaintext differs", i)
				}
			}
		})
	}
}

func TestSealAppendsToDst(t *testing.T) {
	key := NewFileKey()
	s := NewSealer(&key)
	ad := testAD(0, 1)
	prefix := []byte("prefix")
	plain := pattern(SegmentSize + 10)
	sealed := s.SealBlock(bytes.Clone(prefix), ad, plain)
	if !bytes.HasPrefix(sealed, prefix) || len(sealed) != len(prefix)+SealedSize(len(plain)) {
		t.Fatal("SealBlock did not append to dst")
	}
	opened, err := s.OpenBlock(bytes.Clone(prefix), ad, sealed[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(opened, prefix) || !bytes.Equal(opened[len(prefix):len(prefix)+len(plain)], plain) {
		t.Fatal("OpenBlock did not append to dst")
	}
	seg, err := s.OpenSegment(bytes.Clone(prefix), ad, 1, 2, sealed[len(prefix)+SealedOffset(1):])
	if err != nil || !bytes.Equal(seg[len(prefix):len(prefix)+10], plain[SegmentSize:]) {
		t.Fatalf("OpenSegment did not append to dst: %v", err)
	}
}

func TestSealReusesDst(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	key := NewFileKey()
	s := NewSealer(&key)
	ad := testAD(0, 1)
	plain := pattern(4 << 20)
	sealBuf := make([]byte, 0, SealedSize(len(plain)))
	openBuf := make([]byte, 0, OpenedSize(len(plain)))
	// Allocation counts are deterministic, unlike timings. What remains is
	// one small associated-data buffer per call.
	if a := testing.AllocsPerRun(5, func() { sealBuf = s.SealBlock(sealBuf[:0], ad, plain) }); a > 1 {
		t.Errorf("SealBlock into a big enough dst: %v allocations, want <= 1", a)
	}
	if a := testing.AllocsPerRun(5, func() {
		var err error
		if openBuf, err = s.OpenBlock(openBuf[:0], ad, sealBuf); err != nil {
			t.Fatal(err)
		}
	}); a > 1 {
		t.Errorf("OpenBlock into a big enough dst: %v allocations, want <= 1", a)
	}
}

func TestSealsDiffer(t *testing.T) {
	key := NewFileKey()
	s := NewSealer(&key)
	ad := testAD(1, 1)
	plain := pattern(3 * SegmentSize)
	a, b := s.SealBlock(nil, ad, plain), s.SealBlock(nil, ad, plain)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same block are equal")
	}
	// Every segment has its own nonce, in and across seals.
	nonces := map[string]bool{}
	for _, sealed := range [][]byte{a, b} {
		for i := range 3 {
			n := string(sealed[SealedOffset(i) : SealedOffset(i)+NonceSize])
			if nonces[n] {
				t.Fatalf("nonce of segment %d repeated", i)
			}
			nonces[n] = true
		}
	}
}

func TestOpenRejectsAttacks(t *testing.T) {
	key := NewFileKey()
	otherKey := NewFileKey()
	s := NewSealer(&key)
	const segs = 3
	plain := pattern(segs * SegmentSize)
	ad := testAD(4, 9)
	sealed := s.SealBlock(nil, ad, plain)
	// A sibling block of the same file and version, and an older version
	// of this block.
	sibling := s.SealBlock(nil, testAD(5, 9), plain)
	older := s.SealBlock(nil, testAD(4, 8), plain)
	seg := func(b []byte, i int) []byte { return b[SealedOffset(i):SealedOffset(i+1)] }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	type attack struct {
		name    string
		sealed  []byte
		ad      BlockAD
		key     *Key
		wantSeg int // failing segment named in the error, -1: length error
	}
	var attacks []attack
	for i := range segs {
		for _, at := range []struct {
			part string
			off  int
		}{{"nonce", 0}, {"ciphertext", NonceSize + 1000}, {"tag", SealedSegmentSize - 1}} {
			b := bytes.Clone(sealed)
			b[SealedOffset(i)+at.off] ^= 0x40
			attacks = append(attacks, attack{fmt.Sprintf("flipped %s bit in segment %d", at.part, i), b, ad, &key, i})
		}
	}
	attacks = append(attacks,
		attack{"segments 0 and 1 swapped", join(seg(sealed, 1), seg(sealed, 0), seg(sealed, 2)), ad, &key, 0},
		attack{"last two segments swapped", join(seg(sealed, 0), seg(sealed, 2), seg(sealed, 1)), ad, &key, 1},
		attack{"segment from sibling block", join(seg(sealed, 0), seg(sibling, 1), seg(sealed, 2)), ad, &key, 1},
		attack{"segment from older version", join(seg(sealed, 0), seg(sealed, 1), seg(older, 2)), ad, &key, 2},
		attack{"whole block of another index", sibling, ad, &key, 0},
		attack{"replayed older version", older, ad, &key, 0},
		attack{"opened as another file", sealed, BlockAD{FileID: [16]byte{1}, Block: 4, Version: 9}, &key, 0},
		attack{"opened as another index", sealed, testAD(3, 9), &key, 0},
		attack{"opened as newer version", sealed, testAD(4, 10), &key, 0},
		attack{"wrong key", sealed, ad, &otherKey, 0},
		attack{"last segment dropped", sealed[:SealedOffset(segs-1)], ad, &key, 0},
		attack{"first segment dropped", sealed[SealedOffset(1):], ad, &key, 0},
		attack{"segment appended (repeat)", join(sealed, seg(sealed, 2)), ad, &key, 0},
		attack{"segment appended (sibling)", join(sealed, seg(sibling, 2)), ad, &key, 0},
		attack{"one byte appended", join(sealed, []byte{0}), ad, &key, -1},
		attack{"one byte cut", sealed[:len(sealed)-1], ad, &key, -1},
		attack{"tag cut", sealed[:len(sealed)-TagSize], ad, &key, -1},
		attack{"empty", nil, ad, &key, -1},
	)
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			dst := make([]byte, 0, len(plain)+SegmentSize)
			got, err := NewSealer(at.key).OpenBlock(dst, at.ad, at.sealed)
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
			if got != nil {
				t.Fatal("plaintext returned with error")
			}
			if bytes.Contains(dst[:cap(dst)], plain[:64]) {
				t.Fatal("plaintext left in dst's spare capacity")
			}
			if at.wantSeg >= 0 {
				if want := fmt.Sprintf("segment %d of", at.wantSeg); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

func TestOpenSegmentRejects(t *testing.T) {
	key := NewFileKey()
	s := NewSealer(&key)
	ad := testAD(0, 1)
	sealed := s.SealBlock(nil, ad, pattern(2*SegmentSize))
	seg1 := sealed[SealedOffset(1):SealedOffset(2)]
	if _, err := s.OpenSegment(nil, ad, 1, 2, seg1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		seg, count  int
		in          []byte
		wantUnauth  bool
		wantContain string
	}{
		{"wrong index", 0, 2, seg1, true, "segment 0 of 2"},
		{"wrong count (truncated view)", 1, 3, seg1, true, "segment 1 of 3"},
		{"short", 1, 2, seg1[:len(seg1)-1], true, "want"},
		{"index past count", 2, 2, seg1, false, "out of range"},
		{"negative index", -1, 2, seg1, false, "out of range"},
		{"zero count", 0, 0, seg1, false, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.OpenSegment(nil, ad, tt.seg, tt.count, tt.in)
			if err == nil || got != nil {
				t.Fatalf("OpenSegment succeeded")
			}
			if errors.Is(err, ErrUnauthenticated) != tt.wantUnauth {
				t.Errorf("err = %v, ErrUnauthenticated: %v", err, !tt.wantUnauth)
			}
			if !strings.Contains(err.Error(), tt.wantContain) {
				t.Errorf("error %q does not mention %q", err, tt.wantContain)
			}
		})
	}
}

func TestSealedSizeHidesExactLength(t *testing.T) {
	if SealedSize(1) != SealedSize(SegmentSize) || SealedSize(0) != SealedSize(1) {
		t.Error("sizes within one segment are distinguishable")
	}
	if SealedSize(SegmentSize) == SealedSize(SegmentSize+1) {
		t.Error("SealedSize does not grow past a segment")
	}
}

func FuzzOpenBlock(f *testing.F) {
	key := Key{7}
	s := NewSealer(&key)
	ad := testAD(1, 1)
	good := s.SealBlock(nil, ad, []byte("hello"))
	f.Add(good, uint64(1))
	f.Add(good[:len(good)-1], uint64(1))
	f.Add(good, uint64(2))
	f.Add([]byte{}, uint64(0))
	f.Add(make([]byte, SealedSegmentSize), uint64(1))
	// The only segment ever sealed under key is "hello" as segment 0 of 1 of
	// testAD(1, 1) (the worker processes of the fuzzer seal their own copy,
	// with other nonces), so that is all that may open.
	want := append([]byte("hello"), make([]byte, SegmentSize-5)...)
	f.Fuzz(func(t *testing.T, sealed []byte, version uint64) {
		ad := testAD(1, version)
		p, err := s.OpenBlock(nil, ad, sealed)
		if err != nil {
			if p != nil || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("OpenBlock = %d bytes, %v", len(p), err)
			}
		} else if version != 1 || len(sealed) != SealedSegmentSize || !bytes.Equal(p, want) {
			t.Fatalf("forged block opened: %d bytes, version %d", len(sealed), version)
		}
		n := max(1, len(sealed)/SealedSegmentSize)
		first := sealed[:min(len(sealed), SealedSegmentSize)]
		p, err = s.OpenSegment(nil, ad, 0, n, first)
		if err != nil {
			if p != nil || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("OpenSegment = %d bytes, %v", len(p), err)
			}
		} else if version != 1 || n != 1 || !bytes.Equal(p, want) {
			t.Fatal("forged segment opened")
		}
	})
}

func FuzzSealOpen(f *testing.F) {
	f.Add([]byte(""), []byte("file"), uint64(0), uint64(0))
	f.Add([]byte("hello"), []byte{}, uint64(1), uint64(1<<63))
	f.Add(bytes.Repeat([]byte{0xff}, SegmentSize+1), []byte{1, 2, 3}, uint64(7), uint64(3))
	f.Fuzz(func(t *testing.T, plain, fileID []byte, block, version uint64) {
		key := Key{byte(len(plain)), 9}
		s := NewSealer(&key)
		var ad BlockAD
		copy(ad.FileID[:], fileID)
		ad.Block, ad.Version = block, version
		sealed := s.SealBlock(nil, ad, plain)
		if len(sealed) != SealedSize(len(plain)) {
			t.Fatalf("sealed size %d, want %d", len(sealed), SealedSize(len(plain)))
		}
		opened, err := s.OpenBlock(nil, ad, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(opened[:len(plain)], plain) {
			t.Fatal("round trip changed the plaintext")
		}
		ad.Version++
		if _, err := s.OpenBlock(nil, ad, sealed); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("opened under another version: %v", err)
		}
	})
}

package merkle

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzVerify starts from an honest range proof over a shard of up to six
// leaves and lets the fuzzer tamper with every input: the size, the first
// leaf, the leaf bytes (xor, cut, extend) and the proof (xor, or raw bytes).
// Verify must never panic, must accept the honest input, and may accept a
// tampered one only when it is again an honest proof of the same shard.
func FuzzVerify(f *testing.F) {
	f.Add(uint32(3*LeafSize+5), uint8(1), uint8(1), int64(0), 0, []byte{}, uint32(0), int32(-1), uint8(0), []byte{})
	f.Add(uint32(0), uint8(0), uint8(0), int64(0), 0, []byte{}, uint32(0), int32(-1), uint8(0), []byte{})
	f.Add(uint32(100), uint8(0), uint8(0), int64(1), 0, []byte{1}, uint32(5), int32(-1), uint8(0), []byte{})
	f.Add(uint32(5*LeafSize), uint8(2), uint8(2), int64(0), 0, []byte{}, uint32(0), int32(-1), uint8(1), []byte{0, 0, 1})
	f.Add(uint32(5*LeafSize), uint8(4), uint8(0), int64(0), 0, []byte{}, uint32(0), int32(LeafSize-1), uint8(0), []byte{})
	f.Add(uint32(2*LeafSize+1), uint8(0), uint8(1), int64(1<<50), -3, []byte{}, uint32(0), int32(-1), uint8(2), make([]byte, 96))
	f.Fuzz(func(t *testing.T, size32 uint32, first8, count8 uint8, sizeDelta int64, firstDelta int,
		leafXor []byte, leafXorAt uint32, cut int32, proofMode uint8, proofBytes []byte) {
		size := int(size32 % (6*LeafSize + 1))
		data := testData(t, size, uint64(size32))
		tree := Build(data)
		n := tree.Leaves()
		first := int(first8) % n
		end := first + 1 + int(count8)%(n-first)
		proof, err := tree.Prove(first, end)
		if err != nil {
			t.Fatal(err)
		}
		off, cnt, err := LeafSpan(int64(size), first, end)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(tree.Root(), int64(size), first, data[off:off+cnt], proof); err != nil {
			t.Fatalf("honest proof rejected: %v", err)
		}

		// Tamper.
		leaves := bytes.Clone(data[off : off+cnt])
		if len(leafXor) > 0 {
			at := int(leafXorAt) % (len(leaves) + 1)
			for i, b := range leafXor {
				if at+i < len(leaves) {
					leaves[at+i] ^= b
				} else {
					leaves = append(leaves, b)
				}
			}
		}
		if cut >= 0 && int(cut) < len(leaves) {
			leaves = leaves[:cut]
		}
		switch proofMode % 3 {
		case 1:
			p := append(Proof(nil), proof...)
			for i, b := range proofBytes {
				if i/32 < len(p) {
					p[i/32][i%32] ^= b
				}
			}
			proof = p
		case 2:
			proof = make(Proof, len(proofBytes)/32)
			for i := range proof {
				copy(proof[i][:], proofBytes[32*i:])
			}
		}
		vSize := int64(size) + sizeDelta
		vFirst := first + firstDelta

		err = Verify(tree.Root(), vSize, vFirst, leaves, proof)
		if err != nil {
			if !errors.Is(err, ErrProof) {
				t.Fatalf("Verify error %v does not wrap ErrProof", err)
			}
			return
		}
		// Accepted: it must be an honest proof of this shard.
		if vSize != int64(size) {
			t.Fatalf("accepted size %d for a %d-byte shard", vSize, size)
		}
		if vFirst < 0 || vFirst >= n {
			t.Fatalf("accepted first leaf %d of %d", vFirst, n)
		}
		vOff := int64(vFirst) * LeafSize
		if vOff+int64(len(leaves)) > int64(size) || !bytes.Equal(leaves, data[vOff:vOff+int64(len(leaves))]) {
			t.Fatalf("accepted leaves that are not the shard's bytes from leaf %d", vFirst)
		}
		vEnd := LeafCount(vOff + int64(len(leaves)))
		if vOff+int64(len(leaves)) == int64(size) {
			vEnd = n
		}
		want, err := tree.Prove(vFirst, vEnd)
		if err != nil || !equalProofs(proof, want) {
			t.Fatalf("accepted a proof that is not the honest proof of [%d, %d)", vFirst, vEnd)
		}
	})
}

// FuzzUnmarshalTree feeds arbitrary bytes to UnmarshalTree: it must never
// panic, and whatever it accepts must re-encode to the same bytes.
func FuzzUnmarshalTree(f *testing.F) {
	for _, size := range []int{0, 1, LeafSize, 3*LeafSize + 1} {
		enc, _ := Build(testData(f, size, 1)).MarshalBinary()
		f.Add(enc)
	}
	f.Add([]byte("SDMT"))
	f.Add([]byte("SDMT\x01\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("SDMT\x02\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := UnmarshalTree(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			return
		}
		enc, err := tree.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted encoding does not round-trip (%v)", err)
		}
		if _, err := tree.Prove(0, tree.Leaves()); err != nil {
			t.Fatalf("accepted tree cannot prove its leaves: %v", err)
		}
	})
}

// FuzzParseProof feeds arbitrary bytes to ParseProof: it must never panic,
// and whatever it accepts must re-encode to the same bytes.
func FuzzParseProof(f *testing.F) {
	p, _ := Build(testData(f, 5*LeafSize, 2)).Prove(1, 3)
	enc, _ := p.MarshalBinary()
	f.Add(enc)
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrVersion", err)
			}
			return
		}
		enc, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted proof does not round-trip (%v)", err)
		}
	})
}

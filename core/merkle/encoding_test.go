package merkle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestTreeMarshalRoundTrip(t *testing.T) {
	const L = LeafSize
	for _, size := range []int{0, 1, L - 1, L, L + 1, 7*L + 3, 64 * L} {
		data := testData(t, size, uint64(size)+7)
		tree := Build(data)
		enc, err := tree.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if want := treeHeaderSize + 32*tree.Leaves(); len(enc) != want {
			t.Fatalf("size %d: encoding of %d bytes, want %d", size, len(enc), want)
		}
		back, err := UnmarshalTree(enc)
		if err != nil {
			t.Fatalf("size %d: UnmarshalTree: %v", size, err)
		}
		if back.Root() != tree.Root() || back.Size() != tree.Size() || back.Leaves() != tree.Leaves() {
			t.Fatalf("size %d: round trip changed the tree", size)
		}
		// The decoded tree serves the same proofs as the built one.
		for first := 0; first < tree.Leaves(); first++ {
			p1, _ := tree.Prove(first, tree.Leaves())
			p2, err := back.Prove(first, tree.Leaves())
			if err != nil || !equalProofs(p1, p2) {
				t.Fatalf("size %d: proofs differ after round trip (%v)", size, err)
			}
		}
		// The result must not alias the input.
		for i := range enc {
			enc[i] = 0
		}
		if back.Root() != tree.Root() {
			t.Fatal("decoded tree aliases its input")
		}
		if p, err := back.Prove(0, back.Leaves()); err != nil || len(p) != 0 {
			t.Fatalf("whole-tree proof after clearing input: %v, %v", p, err)
		}
	}
}

func TestTreeMarshalLayout(t *testing.T) {
	tree := Build(testData(t, LeafSize+5, 9))
	enc, _ := tree.MarshalBinary()
	root := tree.Root()
	if string(enc[:4]) != "SDMT" || enc[4] != 1 ||
		binary.BigEndian.Uint64(enc[5:13]) != LeafSize+5 ||
		!bytes.Equal(enc[13:45], root[:]) ||
		!bytes.Equal(enc[45:77], tree.levels[0][0][:]) ||
		!bytes.Equal(enc[77:109], tree.levels[0][1][:]) {
		t.Fatalf("encoding does not follow the documented layout: %x", enc[:45])
	}
}

// TestUnmarshalTreeRejectsCorruption flips every bit and cuts at every length
// of a small tree's encoding: every corruption must be refused.
func TestUnmarshalTreeRejectsCorruption(t *testing.T) {
	tree := Build(testData(t, 3*LeafSize+1, 10))
	enc, _ := tree.MarshalBinary()
	for i := range enc {
		for bit := range 8 {
			bad := bytes.Clone(enc)
			bad[i] ^= 1 << bit
			_, err := UnmarshalTree(bad)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("byte %d bit %d flipped: UnmarshalTree error = %v", i, bit, err)
			}
		}
	}
	for n := range len(enc) {
		if _, err := UnmarshalTree(enc[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d bytes: UnmarshalTree error = %v, want ErrCorrupt", n, err)
		}
	}
	if _, err := UnmarshalTree(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("one byte appended: UnmarshalTree error = %v, want ErrCorrupt", err)
	}
}

func TestUnmarshalTreeRejects(t *testing.T) {
	good, _ := Build([]byte("x")).MarshalBinary()
	withVersion := func(v byte) []byte { b := bytes.Clone(good); b[4] = v; return b }
	withSize := func(size uint64) []byte { b := bytes.Clone(good); binary.BigEndian.PutUint64(b[5:], size); return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrCorrupt},
		{"header only", good[:treeHeaderSize], ErrCorrupt},
		{"bad magic", append([]byte("SDMX"), good[4:]...), ErrCorrupt},
		{"version 0", withVersion(0), ErrVersion},
		{"version 2", withVersion(2), ErrVersion},
		{"size over max", withSize(uint64(MaxSize) + 1), ErrCorrupt},
		{"size 2^63", withSize(1 << 63), ErrCorrupt},
		{"size max uint64", withSize(^uint64(0)), ErrCorrupt},
		{"size needs more leaves", withSize(LeafSize + 1), ErrCorrupt},
		{"size with same leaf count", withSize(2), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UnmarshalTree(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalTree error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestProofEncoding(t *testing.T) {
	tree := Build(testData(t, 9*LeafSize, 11))
	for first := range tree.Leaves() {
		p, _ := tree.Prove(first, first+1)
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) != 2+32*len(p) || enc[0] != 1 || int(enc[1]) != len(p) {
			t.Fatalf("proof encoding header %x for %d hashes", enc[:2], len(p))
		}
		back, err := ParseProof(enc)
		if err != nil || !equalProofs(p, back) {
			t.Fatalf("ParseProof round trip: %v", err)
		}
	}
	empty, _ := Proof(nil).MarshalBinary()
	if p, err := ParseProof(empty); err != nil || len(p) != 0 {
		t.Fatalf("empty proof round trip: %v, %v", p, err)
	}
	if _, err := make(Proof, MaxProofLen+1).MarshalBinary(); err == nil {
		t.Fatal("MarshalBinary accepted an over-long proof")
	}

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrCorrupt},
		{"version only", []byte{1}, ErrCorrupt},
		{"version 0", []byte{0, 0}, ErrVersion},
		{"version 2", []byte{2, 0}, ErrVersion},
		{"count too big", append([]byte{1, MaxProofLen + 1}, make([]byte, 32*(MaxProofLen+1))...), ErrCorrupt},
		{"short", append([]byte{1, 2}, make([]byte, 63)...), ErrCorrupt},
		{"long", append([]byte{1, 1}, make([]byte, 33)...), ErrCorrupt},
	}
	for _, tt := range tests {
		if _, err := ParseProof(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: ParseProof error = %v, want %v", tt.name, err, tt.want)
		}
	}
}

package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/shardrive/shardrive/core/merkle"
)

func testShard(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// rangeOf builds the range covering bytes [off, off+n) of data.
func rangeOf(tb testing.TB, data []byte, off, n int64) Range {
	tb.Helper()
	tree := merkle.Build(data)
	first, end, err := merkle.LeafRange(int64(len(data)), off, n)
	if err != nil {
		tb.Fatal(err)
	}
	proof, err := tree.Prove(first, end)
	if err != nil {
		tb.Fatal(err)
	}
	lo, ln, err := merkle.LeafSpan(int64(len(data)), first, end)
	if err != nil {
		tb.Fatal(err)
	}
	return Range{ShardSize: int64(len(data)), FirstLeaf: first, LeafCount: end - first, Proof: proof, Data: data[lo : lo+ln]}
}

func TestFormatRangeRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		off, n    int64
		wantLeafs int
	}{
		{"empty shard", 0, 0, -1, 1},
		{"one byte", 1, 0, 1, 1},
		{"whole multi-leaf", 5*merkle.LeafSize + 3, 0, -1, 6},
		{"middle across leaves", 5*merkle.LeafSize + 3, merkle.LeafSize - 1, 2, 2},
		{"tail", 5*merkle.LeafSize + 3, 5 * merkle.LeafSize, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := testShard(tc.size)
			r := rangeOf(t, data, tc.off, tc.n)
			b, err := EncodeRange(r)
			if err != nil {
				t.Fatal(err)
			}
			hdr, err := EncodeRangeHeader(r)
			if err != nil || !bytes.Equal(hdr, b[:len(hdr)]) || len(hdr) != RangeHeaderSize(len(r.Proof)) {
				t.Fatalf("EncodeRangeHeader = %d bytes, %v", len(hdr), err)
			}
			got, err := DecodeRange(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.ShardSize != r.ShardSize || got.FirstLeaf != r.FirstLeaf || got.LeafCount != tc.wantLeafs ||
				!bytes.Equal(got.Data, r.Data) || len(got.Proof) != len(r.Proof) {
				t.Fatalf("DecodeRange = %+v", got)
			}
			root := merkle.Build(data).Root()
			if err := merkle.Verify(root, got.ShardSize, got.FirstLeaf, got.Data, got.Proof); err != nil {
				t.Fatalf("Verify decoded range: %v", err)
			}
		})
	}
}

func TestFormatDecodeRangeRejects(t *testing.T) {
	data := testShard(3*merkle.LeafSize + 10)
	good, err := EncodeRange(rangeOf(t, data, merkle.LeafSize, 10))
	if err != nil {
		t.Fatal(err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short header", good[:10]},
		{"bad magic", mut(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version 2", mut(func(b []byte) []byte { b[4] = 2; return b })},
		{"reserved", mut(func(b []byte) []byte { b[6] = 1; return b })},
		{"huge size", mut(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 1<<62); return b })},
		{"size over cap", mut(func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], uint64(MaxShardSize)+1); return b })},
		{"first past end", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[16:], 4); return b })},
		{"zero leaves", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[20:], 0); return b })},
		{"too many leaves", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[20:], 4); return b })},
		{"proof count huge", mut(func(b []byte) []byte { binary.BigEndian.PutUint16(b[24:], 0xffff); return b })},
		{"proof count off by one", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[24:], binary.BigEndian.Uint16(b[24:])+1)
			return b
		})},
		{"data length lies", mut(func(b []byte) []byte {
			p := int(binary.BigEndian.Uint16(b[24:]))
			binary.BigEndian.PutUint64(b[RangeHeaderSize(p)-8:], 1)
			return b
		})},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"truncated data", good[:len(good)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeRange(tc.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeRange = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestFormatEncodeRangeRejects(t *testing.T) {
	data := testShard(2 * merkle.LeafSize)
	r := rangeOf(t, data, 0, 1)
	r.Data = r.Data[:10]
	if _, err := EncodeRange(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeRange(short data) = %v", err)
	}
	r = rangeOf(t, data, 0, 1)
	r.Proof = make(merkle.Proof, merkle.MaxProofLen+1)
	if _, err := EncodeRange(r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("EncodeRange(long proof) = %v", err)
	}
}

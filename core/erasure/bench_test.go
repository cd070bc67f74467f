package erasure

import "testing"

const benchBlock = 4 << 20

func BenchmarkEncode4plus2_4MiB(b *testing.B) {
	c := newCoder(b, 4, 2)
	block := testBlock(b, benchBlock, 1)
	dst := c.Alloc(len(block))
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		if err := c.EncodeTo(dst, block); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode4plus2_4MiB decodes with two data shards missing, the
// worst case for 4+2.
func BenchmarkDecode4plus2_4MiB(b *testing.B) {
	c := newCoder(b, 4, 2)
	block := testBlock(b, benchBlock, 1)
	shards, _ := c.Encode(block)
	in := without(shards, 0, 1)
	dst := make([]byte, len(block))
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		if err := c.DecodeTo(dst, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRange64KiB rebuilds a 64 KiB range of a 4 MiB block whose
// data shard is missing, from 64 KiB of columns of four other shards.
func BenchmarkDecodeRange64KiB(b *testing.B) {
	c := newCoder(b, 4, 2)
	block := testBlock(b, benchBlock, 1)
	shards, _ := c.Encode(block)
	off, n := 1<<20+4096, 64<<10
	col, cnt, _ := c.ColumnSpan(len(block), off, n)
	cols := columnsOf(shards, col, cnt, 1)
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := c.DecodeRange(cols, col, len(block), off, n); err != nil {
			b.Fatal(err)
		}
	}
}

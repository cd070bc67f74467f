package erasure

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// columnsOf returns columns [col, col+w) of each shard, nil for the missing.
func columnsOf(shards [][]byte, col, w int, missing ...int) [][]byte {
	out := make([][]byte, len(shards))
	for i, sh := range shards {
		out[i] = sh[col : col+w]
	}
	for _, i := range missing {
		out[i] = nil
	}
	return out
}

func TestReconstructColumnsEqualsSlicing(t *testing.T) {
	configs := []struct {
		k, m    int
		missing [][]int
	}{
		{2, 1, [][]int{{}, {0}, {1}, {2}}},
		{4, 2, [][]int{{}, {0, 1}, {2, 3}, {1, 5}, {4, 5}, {0, 3}}},
		{10, 4, [][]int{{0, 1, 2, 3}, {9, 10, 11, 12}, {3, 5, 7}}},
	}
	for _, cfg := range configs {
		c := newCoder(t, cfg.k, cfg.m)
		for _, size := range []int{1, 777, 4<<20 + 1792} {
			block := testBlock(t, size, uint64(size))
			shards, _ := c.Encode(block)
			s := c.ShardSize(size)
			ranges := [][2]int{{0, s}, {0, 1}, {s - 1, 1}, {s / 3, s / 3}, {s / 2, s - s/2}}
			for _, missing := range cfg.missing {
				for _, r := range ranges {
					if r[1] == 0 {
						continue
					}
					name := fmt.Sprintf("%d+%d/%d/missing%v/cols[%d,+%d)", cfg.k, cfg.m, size, missing, r[0], r[1])
					got, err := c.ReconstructColumns(columnsOf(shards, r[0], r[1], missing...))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if len(got) != cfg.k {
						t.Fatalf("%s: %d slices, want %d", name, len(got), cfg.k)
					}
					for i := range cfg.k {
						if !bytes.Equal(got[i], shards[i][r[0]:r[0]+r[1]]) {
							t.Fatalf("%s: data shard %d columns differ from slicing the full encoding", name, i)
						}
					}
				}
			}
		}
	}
}

func TestReconstructColumnsRejects(t *testing.T) {
	c := newCoder(t, 4, 2)
	shards, _ := c.Encode(testBlock(t, 4000, 1))
	if _, err := c.ReconstructColumns(columnsOf(shards, 0, 10, 0, 1, 2)); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("3 of 6: %v, want ErrTooFewShards", err)
	}
	if _, err := c.ReconstructColumns(make([][]byte, 6)); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("none: %v, want ErrTooFewShards", err)
	}
	if _, err := c.ReconstructColumns(columnsOf(shards, 0, 10)[:5]); !errors.Is(err, ErrShardCount) {
		t.Errorf("5 entries: %v, want ErrShardCount", err)
	}
	cols := columnsOf(shards, 0, 10, 0)
	cols[3] = shards[3][:11]
	if _, err := c.ReconstructColumns(cols); !errors.Is(err, ErrShardSize) {
		t.Errorf("uneven columns: %v, want ErrShardSize", err)
	}
}

func TestDecodeRangeEqualsSlice(t *testing.T) {
	for _, km := range [][2]int{{1, 0}, {2, 1}, {4, 2}, {10, 4}} {
		k, m := km[0], km[1]
		c := newCoder(t, k, m)
		for _, size := range []int{1, 1001, 4<<20 + 1792} {
			block := testBlock(t, size, uint64(size)+1)
			shards, _ := c.Encode(block)
			s := c.ShardSize(size)
			var missingSets [][]int
			missingSets = append(missingSets, nil)
			if m > 0 {
				var first []int
				for i := range min(m, k) {
					first = append(first, i)
				}
				missingSets = append(missingSets, first, []int{k - 1})
			}
			ranges := [][2]int{{0, -1}, {0, 1}, {size - 1, 1}, {size / 3, size / 5}, {s - 1, 2}, {s / 2, s}, {size / 2, -1}}
			for _, missing := range missingSets {
				for _, r := range ranges {
					off, n := r[0], r[1]
					if off+n > size {
						continue
					}
					want := block[off:]
					if n >= 0 {
						want = block[off : off+n]
					}
					name := fmt.Sprintf("%d+%d/%d/missing%v/[%d,+%d)", k, m, size, missing, off, n)
					col, cnt, err := c.ColumnSpan(size, off, n)
					if err != nil {
						t.Fatalf("%s: ColumnSpan: %v", name, err)
					}
					got, err := c.DecodeRange(columnsOf(shards, col, cnt, missing...), col, size, off, n)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s: DecodeRange over its column span: %v", name, err)
					}
					// Whole columns work too.
					got, err = c.DecodeRange(columnsOf(shards, 0, s, missing...), 0, size, off, n)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%s: DecodeRange over whole shards: %v", name, err)
					}
					// And piece by piece, each over its own columns.
					pieces, _ := c.Pieces(size, off, n)
					var joined []byte
					for _, p := range pieces {
						part, err := c.DecodeRange(columnsOf(shards, p.Col, p.Len, missing...), p.Col, size, p.Off, p.Len)
						if err != nil {
							t.Fatalf("%s: piece %+v: %v", name, p, err)
						}
						joined = append(joined, part...)
					}
					if !bytes.Equal(joined, want) {
						t.Fatalf("%s: piece-by-piece result differs", name)
					}
				}
			}
		}
	}
}

// TestDecodeRangeNeedsOnlyTouchedShards: a range inside present data shards
// decodes from those alone, fewer than k.
func TestDecodeRangeNeedsOnlyTouchedShards(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 4000, 2)
	shards, _ := c.Encode(block)
	cols := columnsOf(shards, 100, 50, 0, 2, 3, 4, 5) // only data shard 1
	got, err := c.DecodeRange(cols, 100, 4000, 1100, 50)
	if err != nil || !bytes.Equal(got, block[1100:1150]) {
		t.Fatalf("range inside the one present data shard: %v", err)
	}
	if _, err := c.DecodeRange(cols, 100, 4000, 2100, 50); !errors.Is(err, ErrTooFewShards) {
		t.Fatalf("range in a missing data shard with 1 of 6 present: %v, want ErrTooFewShards", err)
	}
}

func TestDecodeRangeRejects(t *testing.T) {
	c := newCoder(t, 4, 2)
	block := testBlock(t, 4000, 3)
	shards, _ := c.Encode(block)
	tests := []struct {
		name        string
		cols        [][]byte
		col, off, n int
		want        error
	}{
		{"columns miss the range start", columnsOf(shards, 101, 50, 1), 101, 1100, 50, ErrRange},
		{"columns miss the range end", columnsOf(shards, 100, 49, 1), 100, 1100, 50, ErrRange},
		{"wrong col offset", columnsOf(shards, 100, 50, 1), 99, 1100, 50, ErrRange},
		{"columns past shard end", columnsOf(shards, 900, 100, 1), 901, 1950, 10, ErrRange},
		{"negative col", columnsOf(shards, 0, 50, 1), -1, 0, 10, ErrRange},
		{"range past block", columnsOf(shards, 0, 1000, 1), 0, 3990, 20, ErrRange},
		{"too few", columnsOf(shards, 100, 50, 0, 1, 2), 100, 1100, 50, ErrTooFewShards},
		{"wrong count", columnsOf(shards, 100, 50)[:4], 100, 1100, 50, ErrShardCount},
	}
	for _, tt := range tests {
		if _, err := c.DecodeRange(tt.cols, tt.col, 4000, tt.off, tt.n); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	uneven := columnsOf(shards, 100, 50, 1)
	uneven[5] = shards[5][100:151]
	if _, err := c.DecodeRange(uneven, 100, 4000, 1100, 50); !errors.Is(err, ErrShardSize) {
		t.Errorf("uneven columns: %v, want ErrShardSize", err)
	}
}

// FuzzDecodeRange checks the offset math and column reconstruction on
// arbitrary shapes: any range of any block, from its column span of the
// shards left after dropping up to m of them, equals slicing the block.
func FuzzDecodeRange(f *testing.F) {
	f.Add(uint8(4), uint8(2), uint16(1001), uint16(10), int16(300), uint8(0b000011))
	f.Add(uint8(1), uint8(0), uint16(1), uint16(0), int16(-1), uint8(0))
	f.Add(uint8(10), uint8(4), uint16(4099), uint16(4000), int16(99), uint8(0b1111))
	f.Add(uint8(3), uint8(3), uint16(0), uint16(0), int16(0), uint8(0b111))
	f.Fuzz(func(t *testing.T, k8, m8 uint8, size16, off16 uint16, n16 int16, drop uint8) {
		k, m := int(k8%16)+1, int(m8%5)
		c := newCoder(t, k, m)
		size := int(size16 % 5000)
		off := int(off16) % (size + 1)
		n := int(n16)
		if n >= 0 {
			n %= size - off + 1
		} else {
			n = -1
		}
		block := testBlock(t, size, uint64(size16))
		shards, err := c.Encode(block)
		if err != nil {
			t.Fatal(err)
		}
		var missing []int
		for i := 0; i < k+m && len(missing) < m; i++ {
			if drop&(1<<(i%8)) != 0 {
				missing = append(missing, i)
			}
		}
		col, cnt, err := c.ColumnSpan(size, off, n)
		if err != nil {
			t.Fatal(err)
		}
		if cnt == 0 {
			cnt = 1 // an empty range still needs a (any) column to carry shard presence
		}
		if col+cnt > c.ShardSize(size) {
			col = c.ShardSize(size) - cnt
		}
		got, err := c.DecodeRange(columnsOf(shards, col, cnt, missing...), col, size, off, n)
		if err != nil {
			t.Fatalf("k=%d m=%d size=%d [%d,+%d) missing %v: %v", k, m, size, off, n, missing, err)
		}
		want := block[off:]
		if n >= 0 {
			want = block[off : off+n]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("k=%d m=%d size=%d [%d,+%d) missing %v: wrong bytes", k, m, size, off, n, missing)
		}
	})
}

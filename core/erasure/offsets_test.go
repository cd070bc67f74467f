package erasure

import (
	"errors"
	"reflect"
	"testing"
)

func TestPieces(t *testing.T) {
	c := newCoder(t, 4, 2) // blockLen 10 -> S = 3: shards [0,3) [3,6) [6,9) [9,10)
	tests := []struct {
		name     string
		blockLen int
		off, n   int
		want     []Piece
		wantErr  bool
	}{
		{"inside one shard", 10, 1, 2, []Piece{{Shard: 0, Col: 1, Len: 2, Off: 1}}, false},
		{"one whole shard", 10, 3, 3, []Piece{{Shard: 1, Col: 0, Len: 3, Off: 3}}, false},
		{"crosses a boundary", 10, 2, 2, []Piece{{0, 2, 1, 2}, {1, 0, 1, 3}}, false},
		{"spans three shards", 10, 2, 6, []Piece{{0, 2, 1, 2}, {1, 0, 3, 3}, {2, 0, 2, 6}}, false},
		{"short last shard", 10, 8, -1, []Piece{{2, 2, 1, 8}, {3, 0, 1, 9}}, false},
		{"whole block", 10, 0, -1, []Piece{{0, 0, 3, 0}, {1, 0, 3, 3}, {2, 0, 3, 6}, {3, 0, 1, 9}}, false},
		{"empty at start", 10, 0, 0, nil, false},
		{"empty at end", 10, 10, -1, nil, false},
		{"empty block", 0, 0, -1, nil, false},
		{"past end", 10, 9, 2, nil, true},
		{"offset past end", 10, 11, 0, nil, true},
		{"negative offset", 10, -1, 1, nil, true},
		{"negative block", -1, 0, 0, nil, true},
		{"huge n", 10, 1, 1 << 62, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Pieces(tt.blockLen, tt.off, tt.n)
			if tt.wantErr {
				if !errors.Is(err, ErrRange) {
					t.Fatalf("error = %v, want ErrRange", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Pieces(%d, %d, %d) = %v, %v; want %v", tt.blockLen, tt.off, tt.n, got, err, tt.want)
			}
		})
	}
}

// TestPiecesExhaustive checks every range of small blocks against the
// byte-by-byte definition: block byte b is column b%S of data shard b/S.
func TestPiecesExhaustive(t *testing.T) {
	for _, k := range []int{1, 2, 3, 4, 7} {
		c := newCoder(t, k, 1)
		for blockLen := 0; blockLen <= 23; blockLen++ {
			s := c.ShardSize(blockLen)
			for off := 0; off <= blockLen; off++ {
				for n := 0; off+n <= blockLen; n++ {
					pieces, err := c.Pieces(blockLen, off, n)
					if err != nil {
						t.Fatalf("k=%d Pieces(%d, %d, %d): %v", k, blockLen, off, n, err)
					}
					b := off
					for _, p := range pieces {
						if p.Len <= 0 || p.Shard >= k || p.Col+p.Len > s || p.Off != p.Shard*s+p.Col {
							t.Fatalf("k=%d Pieces(%d, %d, %d): bad piece %+v", k, blockLen, off, n, p)
						}
						for i := range p.Len {
							if (b+i)/s != p.Shard || (b+i)%s != p.Col+i {
								t.Fatalf("k=%d Pieces(%d, %d, %d): piece %+v maps byte %d wrong", k, blockLen, off, n, p, b+i)
							}
						}
						b += p.Len
					}
					if b != off+n {
						t.Fatalf("k=%d Pieces(%d, %d, %d) cover %d bytes", k, blockLen, off, n, b-off)
					}
					col, cnt, err := c.ColumnSpan(blockLen, off, n)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range pieces {
						if p.Col < col || p.Col+p.Len > col+cnt {
							t.Fatalf("k=%d ColumnSpan(%d, %d, %d) = [%d,+%d) misses piece %+v", k, blockLen, off, n, col, cnt, p)
						}
					}
					if len(pieces) == 1 && (col != pieces[0].Col || cnt != pieces[0].Len) {
						t.Fatalf("k=%d ColumnSpan(%d, %d, %d) = [%d,+%d), want the piece's columns", k, blockLen, off, n, col, cnt)
					}
				}
			}
		}
	}
}

func TestColumnSpan(t *testing.T) {
	c := newCoder(t, 4, 2) // blockLen 4000 -> S = 1000
	tests := []struct {
		off, n, col, cnt int
	}{
		{0, 1, 0, 1},
		{1500, 100, 500, 100},
		{1000, 1000, 0, 1000},
		{1990, 20, 0, 1000},
		{3999, -1, 999, 1},
		{4000, -1, 0, 0},
		{0, -1, 0, 1000},
	}
	for _, tt := range tests {
		col, cnt, err := c.ColumnSpan(4000, tt.off, tt.n)
		if err != nil || col != tt.col || cnt != tt.cnt {
			t.Errorf("ColumnSpan(4000, %d, %d) = %d, %d, %v; want %d, %d", tt.off, tt.n, col, cnt, err, tt.col, tt.cnt)
		}
	}
	if _, _, err := c.ColumnSpan(4000, 3999, 2); !errors.Is(err, ErrRange) {
		t.Errorf("ColumnSpan past end: %v, want ErrRange", err)
	}
}

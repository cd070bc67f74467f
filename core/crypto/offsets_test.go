package crypto

import (
	"fmt"
	"testing"
)

func TestSegmentCountAndSizes(t *testing.T) {
	tests := []struct {
		plain, count int
	}{
		{-1, 1}, {0, 1}, {1, 1}, {SegmentSize - 1, 1}, {SegmentSize, 1},
		{SegmentSize + 1, 2}, {2 * SegmentSize, 2}, {4 << 20, 64}, {4<<20 + 1, 65},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.plain), func(t *testing.T) {
			if got := SegmentCount(tt.plain); got != tt.count {
				t.Errorf("SegmentCount = %d, want %d", got, tt.count)
			}
			if got, want := SealedSize(tt.plain), tt.count*(SegmentSize+SegmentOverhead); got != want {
				t.Errorf("SealedSize = %d, want %d", got, want)
			}
			if got, want := OpenedSize(tt.plain), tt.count*SegmentSize; got != want {
				t.Errorf("OpenedSize = %d, want %d", got, want)
			}
		})
	}
	if SegmentOverhead != 28 || SealedSegmentSize != 65564 || SealedOffset(3) != 3*65564 {
		t.Error("segment layout constants changed: that is a format change")
	}
}

func TestSegmentSpan(t *testing.T) {
	tests := []struct {
		off, n, first, count int
	}{
		{0, 0, 0, 0},
		{0, 1, 0, 1},
		{0, SegmentSize, 0, 1},
		{0, SegmentSize + 1, 0, 2},
		{SegmentSize - 1, 1, 0, 1},
		{SegmentSize - 1, 2, 0, 2},
		{SegmentSize, 1, 1, 1},
		{3*SegmentSize + 5, 2 * SegmentSize, 3, 3},
		{5 * SegmentSize, -3, 5, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.off, tt.n), func(t *testing.T) {
			first, count := SegmentSpan(tt.off, tt.n)
			if first != tt.first || count != tt.count {
				t.Errorf("SegmentSpan = (%d, %d), want (%d, %d)", first, count, tt.first, tt.count)
			}
		})
	}
}

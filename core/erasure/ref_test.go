package erasure

import (
	"bytes"
	"fmt"
	"testing"
)

// A slow, independent implementation of the code in docs/format/erasure.md,
// written from the document: GF(2^8) with polynomial x^8+x^4+x^3+x^2+1
// (0x11D); V[r][c] = r^c for r in [0, k+m), c in [0, k) with 0^0 = 1;
// E = V * inverse(top k rows of V); parity shard j = sum over c of
// E[k+j][c] * data shard c, byte column by byte column.

func refMul(a, b byte) byte {
	var p byte
	for b != 0 {
		if b&1 != 0 {
			p ^= a
		}
		hi := a & 0x80
		a <<= 1
		if hi != 0 {
			a ^= 0x1D
		}
		b >>= 1
	}
	return p
}

func refPow(a byte, n int) byte {
	r := byte(1)
	for range n {
		r = refMul(r, a)
	}
	return r
}

func refInv(a byte) byte {
	for b := 1; b < 256; b++ {
		if refMul(a, byte(b)) == 1 {
			return byte(b)
		}
	}
	panic("refInv(0)")
}

// refInvert inverts a square matrix by Gauss-Jordan elimination.
func refInvert(a [][]byte) [][]byte {
	n := len(a)
	m := make([][]byte, n)
	for i := range m {
		m[i] = make([]byte, 2*n)
		copy(m[i], a[i])
		m[i][n+i] = 1
	}
	for col := range n {
		piv := col
		for m[piv][col] == 0 {
			piv++
		}
		m[col], m[piv] = m[piv], m[col]
		inv := refInv(m[col][col])
		for j := range m[col] {
			m[col][j] = refMul(m[col][j], inv)
		}
		for r := range n {
			if r != col && m[r][col] != 0 {
				f := m[r][col]
				for j := range m[r] {
					m[r][j] ^= refMul(f, m[col][j])
				}
			}
		}
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = m[i][n:]
	}
	return out
}

func refMatrix(k, m int) [][]byte {
	v := make([][]byte, k+m)
	for r := range v {
		v[r] = make([]byte, k)
		for c := range k {
			v[r][c] = refPow(byte(r), c)
		}
	}
	topInv := refInvert(v[:k])
	e := make([][]byte, k+m)
	for r := range e {
		e[r] = make([]byte, k)
		for c := range k {
			var x byte
			for i := range k {
				x ^= refMul(v[r][i], topInv[i][c])
			}
			e[r][c] = x
		}
	}
	return e
}

func refEncode(k, m int, block []byte) [][]byte {
	s := shardSize(k, len(block))
	e := refMatrix(k, m)
	data := make([][]byte, k)
	for i := range data {
		data[i] = make([]byte, s)
		copy(data[i], block[min(i*s, len(block)):min((i+1)*s, len(block))])
	}
	out := append([][]byte(nil), data...)
	for j := range m {
		p := make([]byte, s)
		for col := range s {
			for c := range k {
				p[col] ^= refMul(e[k+j][c], data[c][col])
			}
		}
		out = append(out, p)
	}
	return out
}

// TestMatchesReference checks the library's shards against the documented
// construction.
func TestMatchesReference(t *testing.T) {
	for _, km := range [][2]int{{1, 1}, {2, 1}, {2, 2}, {3, 3}, {4, 2}, {10, 4}, {17, 5}, {1, 3}} {
		k, m := km[0], km[1]
		c := newCoder(t, k, m)
		for _, size := range []int{1, 5, 333, 4099} {
			block := testBlock(t, size, uint64(k*1000+size))
			got, err := c.Encode(block)
			if err != nil {
				t.Fatal(err)
			}
			want := refEncode(k, m, block)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%d+%d size %d: shard %d differs from the documented construction", k, m, size, i)
				}
			}
		}
	}
}

// TestPrintSmallMatrix keeps the matrix shown in docs/format/erasure.md
// honest.
func TestPrintSmallMatrix(t *testing.T) {
	got := fmt.Sprintf("%x", refMatrix(2, 2))
	if want := "[0100 0001 0302 0203]"; got != want {
		t.Errorf("2+2 matrix = %s, doc shows %s", got, want)
	}
}

package meta

import (
	"encoding/binary"
	"fmt"
)

// writer appends the primitive encodings every format of this package is
// built from: unsigned and zigzag varints, length-prefixed bytes and
// strings, fixed-size fields.
type writer struct{ b []byte }

func (w *writer) u8(v byte)        { w.b = append(w.b, v) }
func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) fixed(p []byte)   { w.b = append(w.b, p...) }
func (w *writer) bytes(p []byte)   { w.uvarint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *writer) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }
func (w *writer) boolean(v bool)   { w.u8(boolByte(v)) }
func (w *writer) int(v int)        { w.varint(int64(v)) }
func (w *writer) count(n int)      { w.uvarint(uint64(n)) }
func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// reader decodes what writer wrote. The first error sticks: later calls
// return zero values, so a parser reads field after field and checks err
// once. Every length is checked against what is left and a caller's
// maximum before anything is allocated.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (r *reader) u8() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a varint that must fit [lo, hi].
func (r *reader) int(what string, lo, hi int64) int64 {
	v := r.varint()
	if r.err == nil && (v < lo || v > hi) {
		r.fail("%s %d outside [%d, %d]", what, v, lo, hi)
		return 0
	}
	return v
}

// count reads an element count that must be at most max and, each element
// taking at least minSize bytes, fit in what is left.
func (r *reader) count(what string, max, minSize int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	if v > uint64(max) || v*uint64(minSize) > uint64(len(r.b)) {
		r.fail("%s count %d too large", what, v)
		return 0
	}
	return int(v)
}

func (r *reader) fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string, max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail("%s of %d bytes, more than %d", what, n, max)
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated %s", what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) str(what string, max int) string { return string(r.bytes(what, max)) }

func (r *reader) boolean() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad boolean")
	return false
}

// done fails unless every byte was consumed.
func (r *reader) done(what string) {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes after %s", len(r.b), what)
	}
}

package promtext

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
)

// ContentType is the media type of what Writer writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types, as the TYPE line spells them.
const (
	Counter = "counter"
	Gauge   = "gauge"
)

// ErrNotLoopback reports a metrics address whose host is not loopback.
var ErrNotLoopback = errors.New("metrics address must be on loopback (127.0.0.1, ::1 or localhost)")

// CheckLoopback accepts host:port whose host is a loopback IP or
// "localhost", and nothing else: metrics are for this machine only.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics address %q: want host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// Label is one name="value" pair of a sample.
type Label struct{ Name, Value string }

// L is shorthand for a Label.
func L(name, value string) Label { return Label{name, value} }

// Writer writes metric families to an io.Writer. The first write error
// sticks: later calls do nothing and Err reports it.
type Writer struct {
	w   io.Writer
	err error
	b   []byte // the line being built
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Err is the first write error, if any.
func (w *Writer) Err() error { return w.err }

// Family writes the HELP and TYPE lines of metric name. It panics on an
// invalid name or type: those are fixed in the program.
func (w *Writer) Family(name, typ, help string) {
	mustName(name, true)
	if typ != Counter && typ != Gauge {
		panic("promtext: unknown metric type " + typ)
	}
	w.b = append(w.b[:0], "# HELP "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = appendEscaped(w.b, help, false)
	w.b = append(w.b, "\n# TYPE "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, typ...)
	w.b = append(w.b, '\n')
	w.flush()
}

// Sample writes one sample of name with labels, in the order given.
func (w *Writer) Sample(name string, v float64, labels ...Label) {
	mustName(name, true)
	w.b = append(w.b[:0], name...)
	if len(labels) > 0 {
		w.b = append(w.b, '{')
		for i, l := range labels {
			mustName(l.Name, false)
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, l.Name...)
			w.b = append(w.b, '=', '"')
			w.b = appendEscaped(w.b, l.Value, true)
			w.b = append(w.b, '"')
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ' ')
	w.b = appendValue(w.b, v)
	w.b = append(w.b, '\n')
	w.flush()
}

// Gauge writes a family of one unlabelled gauge sample.
func (w *Writer) Gauge(name, help string, v float64) {
	w.Family(name, Gauge, help)
	w.Sample(name, v)
}

// Counter writes a family of one unlabelled counter sample.
func (w *Writer) Counter(name, help string, v float64) {
	w.Family(name, Counter, help)
	w.Sample(name, v)
}

// Bool is 1 for true and 0 for false, the way 0.0.4 has no booleans.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (w *Writer) flush() {
	if w.err != nil {
		return
	}
	_, w.err = w.w.Write(w.b)
}

// appendEscaped escapes s for a HELP line (backslash, newline) or a label
// value (also the double quote).
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) <= 1<<53:
		return strconv.AppendInt(b, int64(v), 10) // byte counts read as written
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// mustName panics unless s is a valid metric name (colons allowed) or
// label name.
func mustName(s string, metric bool) {
	ok := s != "" && (metric || !strings.HasPrefix(s, "__"))
	for i := 0; i < len(s) && ok; i++ {
		c := s[i]
		ok = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (i > 0 && c >= '0' && c <= '9') || (metric && c == ':')
	}
	if !ok {
		panic(fmt.Sprintf("promtext: invalid name %q", s))
	}
}

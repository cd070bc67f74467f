package promtext

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestWriterFormat(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Family("x_requests_total", Counter, "Requests\\answered,\nby \"class\".")
	w.Sample("x_requests_total", 3, L("method", "GET"), L("class", "2xx"))
	w.Sample("x_requests_total", 0.5, L("odd", "a\"b\\c\nd"))
	w.Gauge("x_up", "Up.", Bool(true))
	w.Gauge("x_inf", "Inf.", math.Inf(1))
	w.Gauge("x_nan", "NaN.", math.NaN())
	w.Counter("x_big", "Big.", 1<<53)
	w.Counter("x_huge", "Huge.", 1<<60)
	want := `# HELP x_requests_total Requests\\answered,\nby "class".
# TYPE x_requests_total counter
x_requests_total{method="GET",class="2xx"} 3
x_requests_total{odd="a\"b\\c\nd"} 0.5
# HELP x_up Up.
# TYPE x_up gauge
x_up 1
# HELP x_inf Inf.
# TYPE x_inf gauge
x_inf +Inf
# HELP x_nan NaN.
# TYPE x_nan gauge
x_nan NaN
# HELP x_big Big.
# TYPE x_big counter
x_big 9007199254740992
# HELP x_huge Huge.
# TYPE x_huge counter
x_huge 1.152921504606847e+18
`
	if w.Err() != nil || b.String() != want {
		t.Fatalf("err %v, got:\n%s\nwant:\n%s", w.Err(), b.String(), want)
	}
}

func TestWriterRejectsBadNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(w *Writer)
	}{
		{"metric digit first", func(w *Writer) { w.Sample("1x", 1) }},
		{"metric dash", func(w *Writer) { w.Sample("x-y", 1) }},
		{"label colon", func(w *Writer) { w.Sample("x", 1, L("a:b", "")) }},
		{"label reserved", func(w *Writer) { w.Sample("x", 1, L("__name", "")) }},
		{"empty label", func(w *Writer) { w.Sample("x", 1, L("", "v")) }},
		{"bad type", func(w *Writer) { w.Family("x", "summary", "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f(NewWriter(&bytes.Buffer{}))
		})
	}
}

type failWriter struct{ n int }

var errWrite = errors.New("write failed")

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errWrite
}

func TestWriterErrorSticks(t *testing.T) {
	fw := &failWriter{}
	w := NewWriter(fw)
	w.Gauge("a", "A.", 1)
	w.Gauge("b", "B.", 2)
	if !errors.Is(w.Err(), errWrite) || fw.n != 1 {
		t.Fatalf("err %v after %d writes, want errWrite after 1", w.Err(), fw.n)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:9100", true},
		{"127.1.2.3:0", true},
		{"[::1]:9100", true},
		{"localhost:9100", true},
		{"0.0.0.0:9100", false},
		{":9100", false},
		{"[::]:9100", false},
		{"192.168.1.2:9100", false},
		{"example.com:9100", false},
		{"127.0.0.1", false},
	} {
		err := CheckLoopback(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.addr, err, tc.ok)
		}
		if !tc.ok && tc.addr != "127.0.0.1" && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%q: %v, want ErrNotLoopback", tc.addr, err)
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestProgress(label string, total int64, width int) (*progress, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	c := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newProgressTo(&buf, label, total, width, c.now), &buf, c
}

// frames splits what a bar wrote into the lines it drew, in order.
func frames(out string) []string {
	var fs []string
	for _, f := range strings.Split(out, "\r")[1:] {
		fs = append(fs, strings.TrimRight(f, " \n"))
	}
	return fs
}

func TestProgressRendersBytesPercentRateAndETA(t *testing.T) {
	const MiB = 1 << 20
	p, buf, c := newTestProgress("video.mkv", 4*MiB, 80)
	c.advance(500 * time.Millisecond)
	p.Add(MiB / 2)
	c.advance(500 * time.Millisecond)
	p.Add(MiB / 2)
	fs := frames(buf.String())
	if len(fs) != 2 {
		t.Fatalf("drew %d frames, want 2: %q", len(fs), buf.String())
	}
	// Half a second is too little to tell a rate.
	if want := "video.mkv [=>                ]  12%   512 KiB / 4.0 MiB"; fs[0] != want {
		t.Errorf("first frame\n%q, want\n%q", fs[0], want)
	}
	want := "video.mkv [===>              ]  25%   1.0 MiB / 4.0 MiB    1.0 MiB/s  ETA 3s"
	if fs[1] != want {
		t.Errorf("frame\n%q, want\n%q", fs[1], want)
	}
	c.advance(3 * time.Second)
	p.Add(3 * MiB)
	p.Done()
	out := buf.String()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("Done does not end the line: %q", out)
	}
	fs = frames(out)
	last := fs[len(fs)-1]
	if want := "video.mkv [==================] 100%   4.0 MiB / 4.0 MiB    1.0 MiB/s"; last != want {
		t.Errorf("final frame\n%q, want a full bar at the average rate, no ETA:\n%q", last, want)
	}
	// Nothing after the end.
	n := buf.Len()
	p.Add(MiB)
	p.Done()
	p.Abort()
	if buf.Len() != n {
		t.Errorf("bar drew after Done: %q", buf.String()[n:])
	}
}

func TestProgressRedrawsAtMostTenTimesASecond(t *testing.T) {
	p, buf, c := newTestProgress("f", 1000, 80)
	for range 100 {
		p.Add(10)
		c.advance(10 * time.Millisecond)
	}
	if n := len(frames(buf.String())); n != 10 {
		t.Errorf("100 updates over 1s drew %d frames, want 10", n)
	}
}

func TestProgressRateFollowsRecentWindow(t *testing.T) {
	p, buf, c := newTestProgress("f", 100<<20, 100)
	// 10 MiB/s for 10s, then a stall: the rate falls, the average does not.
	for range 10 {
		c.advance(time.Second)
		p.Add(10 << 20)
	}
	for range 10 {
		c.advance(time.Second)
		p.Add(0)
	}
	fs := frames(buf.String())
	if last := fs[len(fs)-1]; !strings.Contains(last, "100 MiB / 100 MiB") || strings.Contains(last, "/s") {
		t.Errorf("after a 10s stall the frame is %q, want no rate", last)
	}
	c.advance(time.Second)
	p.Add(0)
	p.Done()
	fs = frames(buf.String())
	if last := fs[len(fs)-1]; !strings.Contains(last, "4.8 MiB/s") {
		t.Errorf("final frame %q, want the average 100 MiB / 21s = 4.8 MiB/s", last)
	}
}

func TestProgressUnknownTotal(t *testing.T) {
	p, buf, c := newTestProgress("stdin", 0, 80)
	p.Add(512)
	c.advance(2 * time.Second)
	p.Add(1536)
	p.Done()
	fs := frames(buf.String())
	if got, want := fs[len(fs)-1], "stdin   2.0 KiB   1.0 KiB/s"; got != want {
		t.Errorf("frame %q, want %q", got, want)
	}
	if strings.Contains(buf.String(), "%") || strings.Contains(buf.String(), "[") {
		t.Errorf("a bar of unknown total shows a percentage or a bar: %q", buf.String())
	}
}

func TestProgressFitsNarrowTerminals(t *testing.T) {
	for _, width := range []int{20, 40, 60, 80} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			p, buf, c := newTestProgress("a rather long file name that does not fit.tar.gz", 3<<30, width)
			for i := range int64(30) {
				c.advance(time.Second)
				p.Set(i << 27)
			}
			p.Done()
			for _, f := range frames(buf.String()) {
				if n := len([]rune(f)); n > width-1 {
					t.Errorf("frame of %d columns on a %d-column terminal: %q", n, width, f)
				}
			}
		})
	}
}

func TestProgressShorterFrameCoversLonger(t *testing.T) {
	p, buf, c := newTestProgress("f", 0, 80)
	c.advance(time.Second)
	p.Add(1 << 30) // "1.0 GiB  1.0 GiB/s"
	c.advance(time.Second)
	p.Add(0) // rate over the window: "1.0 GiB  512 MiB/s"
	c.advance(10 * time.Second)
	p.Add(0) // no rate: "1.0 GiB"
	parts := strings.Split(buf.String(), "\r")[1:]
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) < len(parts[i-1]) {
			t.Errorf("frame %q does not cover the previous %q", parts[i], parts[i-1])
		}
	}
}

func TestProgressAbortClearsTheLine(t *testing.T) {
	p, buf, _ := newTestProgress("f", 100, 80)
	p.Add(50)
	drawn := len(strings.TrimPrefix(buf.String(), "\r"))
	p.End(errors.New("farmers gone"))
	out := buf.String()
	want := "\r" + strings.Repeat(" ", drawn) + "\r"
	if !strings.HasSuffix(out, want) || strings.HasSuffix(out, "\n") {
		t.Errorf("Abort wrote %q, want the line blanked out: %q", out, want)
	}
}

func TestProgressQuietWithNothingDone(t *testing.T) {
	p, buf, _ := newTestProgress("empty", 0, 80)
	p.Done()
	if buf.Len() != 0 {
		t.Errorf("an empty transfer drew %q", buf.String())
	}
	var nilBar *progress // stderr no terminal
	nilBar.Add(1)
	nilBar.Set(1)
	nilBar.End(nil)
	if r := strings.NewReader("x"); nilBar.reader(r) != r {
		t.Error("a nil bar wraps the reader")
	}
}

func TestProgressEscapesControlCharacters(t *testing.T) {
	p, buf, _ := newTestProgress("evil\x1b]0;title\x07\n.txt", 10, 80)
	p.Add(10)
	p.Done()
	if strings.ContainsAny(strings.TrimSuffix(buf.String(), "\n"), "\x1b\x07\n") {
		t.Errorf("control characters of the label reach the terminal: %q", buf.String())
	}
}

func TestProgressReaderAndWriterAtCount(t *testing.T) {
	p, _, _ := newTestProgress("f", 0, 80)
	var dst bytes.Buffer
	if _, err := dst.ReadFrom(p.reader(strings.NewReader(strings.Repeat("x", 1000)))); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := p.writerAt(f).WriteAt(make([]byte, 24), 100); err != nil {
		t.Fatal(err)
	}
	if p.done != 1024 {
		t.Errorf("counted %d bytes, want 1024", p.done)
	}
}

func TestProgressNotOnFilesOrDumbTerminals(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := func(term string) func(string) string {
		return func(k string) string {
			if k == "TERM" {
				return term
			}
			return ""
		}
	}
	if canRedraw(f, env("xterm")) {
		t.Error("a regular file counts as a terminal")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if canRedraw(null, env("xterm")) {
		t.Error("/dev/null counts as a terminal")
	}
}

func TestProgressQueue(t *testing.T) {
	type step struct{ dirty, done, total int64 }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"drains", []step{{100, 0, 100}, {60, 40, 100}, {0, 100, 100}}},
		{"grows while draining", []step{{100, 0, 100}, {50, 50, 100}, {80, 50, 130}, {30, 100, 130}, {0, 130, 130}}},
		{"never goes back", []step{{100, 0, 100}, {20, 80, 100}, {20, 80, 100}, {0, 100, 100}}},
		{"empty", []step{{0, 0, 0}, {0, 0, 0}}},
		{"fills after an empty start", []step{{0, 0, 0}, {50, 0, 50}, {10, 40, 50}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q queueProgress
			for i, s := range tc.steps {
				q.observe(s.dirty)
				if q.done != s.done || q.total != s.total {
					t.Fatalf("step %d (dirty %d): %d of %d, want %d of %d", i, s.dirty, q.done, q.total, s.done, s.total)
				}
			}
		})
	}
}

func TestProgressCacheBar(t *testing.T) {
	for _, tc := range []struct {
		bytes, dirty, limit int64
		want                string
	}{
		{0, 0, 100, "[          ]"},
		{50, 20, 100, "[##===     ]"},
		{100, 100, 100, "[##########]"},
		{150, 10, 100, "[#=========]"},
		{50, 1, 100, "[#====     ]"},
	} {
		if got := cacheBar(tc.bytes, tc.dirty, tc.limit, 10); got != tc.want {
			t.Errorf("cacheBar(%d, %d, %d) = %q, want %q", tc.bytes, tc.dirty, tc.limit, got, tc.want)
		}
	}
}

func TestProgressFormatETA(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * time.Second:                 "7s",
		125 * time.Second:               "2m05s",
		time.Hour + 2*time.Minute + 900: "1h02m",
		200 * time.Hour:                 "--",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}

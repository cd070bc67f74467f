package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shardrive/shardrive/service"
)

// TestPrintTransfers renders transfers on terminals of several widths and
// in plain text.
func TestPrintTransfers(t *testing.T) {
	trs := []service.TransferStatus{
		{Path: "/photos/2026/IMG_0001.raw", DoneBytes: 8 << 20, TotalBytes: 20 << 20},
		{Path: "/a\nb", DoneBytes: 0, TotalBytes: 3 << 20},
		{Path: service.DeletedPath, DoneBytes: 0, TotalBytes: 0},
	}
	var plain bytes.Buffer
	printTransfers(&plain, trs, 0)
	want := statusIndent + "/photos/2026/IMG_0001.raw: 8.0 MiB of 20 MiB uploaded (40%)\n" +
		statusIndent + "/a?b: 0 B of 3.0 MiB uploaded (0%)\n" +
		statusIndent + "(deleted): 0 B of 0 B uploaded (100%)\n"
	if plain.String() != want {
		t.Errorf("plain:\n%s\nwant:\n%s", plain.String(), want)
	}
	for _, width := range []int{120, 80, 60} {
		var b bytes.Buffer
		printTransfers(&b, trs, width)
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != len(trs) {
			t.Fatalf("width %d: %d lines, want %d:\n%s", width, len(lines), len(trs), b.String())
		}
		col := -1
		for i, l := range lines {
			if n := utf8.RuneCountInString(l); n >= width {
				t.Errorf("width %d: line %q is %d columns", width, l, n)
			}
			at := utf8.RuneCountInString(l[:strings.Index(l, " [")])
			if col >= 0 && at != col {
				t.Errorf("width %d: bars not lined up:\n%s", width, b.String())
			}
			col = at
			if !strings.Contains(l, "] ") || !strings.Contains(l, "%") {
				t.Errorf("width %d: line %q has no bar and percentage", width, l)
			}
			if i == 0 && width >= 80 && !strings.Contains(l, "/photos/2026/IMG_0001.raw [") {
				t.Errorf("width %d: line %q does not show the whole path", width, l)
			}
			if i == 0 && !strings.Contains(l, "40%") || i == 2 && !strings.Contains(l, "100%") {
				t.Errorf("width %d: line %q has the wrong percentage", width, l)
			}
		}
		if width == 60 && !strings.Contains(lines[0], "…") {
			t.Errorf("width 60: long path not shortened: %q", lines[0])
		}
	}
}

package service

import (
	"strings"
	"testing"
)

func TestStartHandshake(t *testing.T) {
	r, err := ParseStartLine(FormatReady(4242, "/home/u/My Drive"))
	if err != nil || !r.OK || r.PID != 4242 || r.MountDir != "/home/u/My Drive" {
		t.Fatalf("ready: %+v, %v", r, err)
	}
	r, err = ParseStartLine(FormatStartError(8, "home is in use\nby another process"))
	if err != nil || r.OK || r.Code != 8 || r.Message != "home is in use by another process" {
		t.Fatalf("error: %+v, %v", r, err)
	}
	long := FormatStartError(1, strings.Repeat("x", 2*MaxHandshakeLine))
	if len(long) > MaxHandshakeLine {
		t.Fatalf("error line of %d bytes", len(long))
	}
	if _, err := ParseStartLine(long); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"shardrive-ready 1 42\n",
		"shardrive-ready 2 42 /mnt\n",
		"shardrive-ready 01 42 /mnt\n",
		"shardrive-ready 1 0 /mnt\n",
		"shardrive-ready 1 -3 /mnt\n",
		"shardrive-ready 1 42 mnt\n",
		"shardrive-error 1 0 oops\n",
		"shardrive-error 1 256 oops\n",
		"shardrive-error 1 8 a\x00b\n",
		"shardrive-hello 1 8 hi\n",
		"farmer ready: x\n",
		"shardrive-error 1 8 " + strings.Repeat("x", MaxHandshakeLine) + "\n",
	} {
		if r, err := ParseStartLine(bad); err == nil {
			t.Errorf("accepted %.60q as %+v", bad, r)
		}
	}
}

func FuzzParseStartLine(f *testing.F) {
	f.Add(FormatReady(1, "/mnt"))
	f.Add(FormatStartError(9, "timed out"))
	f.Add("shardrive-ready 1 1 \n")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseStartLine(line)
		if err != nil {
			return
		}
		if r.OK && (r.PID <= 0 || !strings.HasPrefix(r.MountDir, "/")) {
			t.Fatalf("accepted %+v", r)
		}
		if !r.OK && (r.Code < 1 || r.Code > 255) {
			t.Fatalf("accepted %+v", r)
		}
		// What was accepted formats back to something that parses the same.
		again := FormatStartError(r.Code, r.Message)
		r.Message = oneLine(r.Message) // formatting keeps the message to one line
		if r.OK {
			again = FormatReady(r.PID, r.MountDir)
		}
		if r2, err := ParseStartLine(again); err != nil || r2 != r {
			t.Fatalf("%+v -> %q -> %+v, %v", r, again, r2, err)
		}
	})
}

package service

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// The start handshake (docs/format/control.md): `mount --daemon` starts a
// detached child with a pipe, and the child writes exactly one line to it
// once it knows how the start went:
//
//	shardrive-ready 1 <pid> <mount dir>\n
//	shardrive-error 1 <exit code> <one-line message>\n
//
// The parent exits 0 after a ready line, or with the child's exit code
// and message after an error line. Anything else is refused; EOF without
// a line means the child died before it could say.
const (
	handshakeVersion = 1
	readyWord        = "shardrive-ready"
	errorWord        = "shardrive-error"
	// MaxHandshakeLine bounds the line, newline included.
	MaxHandshakeLine = 8 << 10
)

// errHandshake marks a handshake line that cannot be read.
var errHandshake = errors.New("bad start handshake")

// StartReport is what a starting daemon told its parent.
type StartReport struct {
	OK       bool
	PID      int    // with OK
	MountDir string // with OK
	Code     int    // without OK: the exit code
	Message  string // without OK
}

// FormatReady is the line a daemon writes once its mount is live.
func FormatReady(pid int, mountDir string) string {
	return fmt.Sprintf("%s %d %d %s\n", readyWord, handshakeVersion, pid, strings.NewReplacer("\n", "?", "\x00", "?").Replace(mountDir))
}

// FormatStartError is the line a daemon writes when it could not start.
func FormatStartError(code int, msg string) string {
	return fmt.Sprintf("%s %d %d %s\n", errorWord, handshakeVersion, code, oneLine(msg))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxHandshakeLine-64 {
		s = s[:MaxHandshakeLine-64]
	}
	return s
}

// ParseStartLine reads one handshake line (with or without its newline).
func ParseStartLine(line string) (StartReport, error) {
	var r StartReport
	if len(line) > MaxHandshakeLine {
		return r, fmt.Errorf("%w: line of %d bytes", errHandshake, len(line))
	}
	line = strings.TrimSuffix(line, "\n")
	parts := strings.SplitN(line, " ", 4)
	if len(parts) != 4 {
		return r, fmt.Errorf("%w: %d fields", errHandshake, len(parts))
	}
	word, ver, num, rest := parts[0], parts[1], parts[2], parts[3]
	if word != readyWord && word != errorWord {
		return r, fmt.Errorf("%w: starts with %q", errHandshake, word)
	}
	v, err := strconv.Atoi(ver)
	if err != nil || strconv.Itoa(v) != ver {
		return r, fmt.Errorf("%w: version %q", errHandshake, ver)
	}
	if v != handshakeVersion {
		return r, fmt.Errorf("%w: version want %d, have %d", errHandshake, handshakeVersion, v)
	}
	n, err := strconv.Atoi(num)
	if err != nil || strconv.Itoa(n) != num || n < 0 {
		return r, fmt.Errorf("%w: number %q", errHandshake, num)
	}
	if strings.ContainsAny(rest, "\n\x00") {
		return r, fmt.Errorf("%w: control characters", errHandshake)
	}
	if word == readyWord {
		if n == 0 || !filepath.IsAbs(rest) {
			return r, fmt.Errorf("%w: ready with pid %d, mount dir %q", errHandshake, n, rest)
		}
		return StartReport{OK: true, PID: n, MountDir: rest}, nil
	}
	if n == 0 || n > 255 {
		return r, fmt.Errorf("%w: exit code %d", errHandshake, n)
	}
	return StartReport{Code: n, Message: rest}, nil
}

// Package conffile reads and edits the configuration files of the
// Shardrive binaries: one commented, versioned file of `key = value`
// lines per binary (docs/format/control.md, "Configuration files").
//
// The format is deliberately small, so that a person can edit it with any
// editor and every mistake is refused with its line number instead of being
// half understood:
//
//	# a comment: a line whose first non-blank character is #
//	version = 1
//	key = value
//
// The first setting must be `version = 1`; any other version is refused.
// A key is lower-case letters, digits and dashes, starting with a letter,
// and may appear once. The value is the rest of the line after `=`, with
// the blanks around it removed: no quotes, no escapes, no comments after a
// value (a # inside a value is part of it), so paths need no quoting. An
// empty value means "not set": the default applies.
//
// Which keys exist is the caller's business (a known function); unknown keys
// are refused, so a typo never passes silently.
package conffile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Version is the only format version this package reads and writes.
const Version = 1

// MaxSize bounds a configuration file: it holds a handful of settings.
const MaxSize = 64 << 10

// ErrInvalid marks a file that is not a valid configuration file; the
// error is an *Error naming the line.
var ErrInvalid = errors.New("invalid configuration file")

// Error is a mistake in a configuration file, at a line (0: the whole file).
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Entry is one setting with the line it is on.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// File is a parsed configuration file.
type File struct {
	Path    string
	Entries []Entry // in file order; the version line is not one of them
}

// Lookup returns the setting of key, if the file sets it to a non-empty
// value.
func (f *File) Lookup(key string) (Entry, bool) {
	if f == nil {
		return Entry{}, false
	}
	for _, e := range f.Entries {
		if e.Key == key {
			return e, e.Value != ""
		}
	}
	return Entry{}, false
}

// Parse reads data, the content of the file at path (named in errors).
// known reports the keys that exist.
func Parse(path string, data []byte, known func(key string) bool) (*File, error) {
	fail := func(line int, format string, args ...any) error {
		return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxSize {
		return nil, fail(0, "%d bytes: a configuration file holds at most %d", len(data), MaxSize)
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return nil, fail(0, "not UTF-8 text")
	}
	f := &File{Path: path}
	seen := map[string]int{}
	versionLine := 0
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(trimmed, "=")
		if !ok {
			return nil, fail(n, "want key = value, have %q", trimmed)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if strings.ContainsAny(value, "\r\x00") {
			// What Set refuses too: a file must round-trip through Set.
			return nil, fail(n, "a carriage return or NUL inside the value of %q", key)
		}
		if !validKey(key) {
			return nil, fail(n, "bad key %q: lower-case letters, digits and dashes", key)
		}
		if versionLine == 0 {
			if key != "version" {
				return nil, fail(n, "the first setting must be \"version = %d\", have %q", Version, key)
			}
			v, err := strconv.Atoi(value)
			if err != nil || strconv.Itoa(v) != value {
				return nil, fail(n, "version %q is not a number", value)
			}
			if v != Version {
				return nil, fail(n, "version want %d, have %d", Version, v)
			}
			versionLine = n
			continue
		}
		if key == "version" {
			return nil, fail(n, "version set twice (first on line %d)", versionLine)
		}
		if !known(key) {
			return nil, fail(n, "unknown key %q", key)
		}
		if prev, dup := seen[key]; dup {
			return nil, fail(n, "%s set twice (first on line %d)", key, prev)
		}
		seen[key] = n
		f.Entries = append(f.Entries, Entry{Key: key, Value: value, Line: n})
	}
	if versionLine == 0 {
		return nil, fail(0, "no \"version = %d\" line", Version)
	}
	return f, nil
}

func validKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Read parses the file at path. A missing file is an error that matches
// fs.ErrNotExist. A file that others may write is refused: it says where
// the drive or the farmer keeps its data.
func Read(path string, known func(key string) bool) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Path: path, Msg: "not a regular file"}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("mode %v lets other users change it (chmod go-w %s)", fi.Mode().Perm(), path)}
	}
	if fi.Size() > MaxSize {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("%d bytes: a configuration file holds at most %d", fi.Size(), MaxSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, known)
}

// IsNotExist reports whether err is Read's error for a missing file.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Set returns data with key set to value: the line that sets key is
// replaced (its comments stay), else the first commented-out setting of
// key ("#key = ..." as templates write defaults), else a line is added at
// the end. data must parse; value must be one line without surrounding
// blanks.
func Set(data []byte, key, value string) ([]byte, error) {
	if !validKey(key) || key == "version" {
		return nil, fmt.Errorf("%w: cannot set key %q", ErrInvalid, key)
	}
	if value != strings.TrimSpace(value) || strings.ContainsAny(value, "\n\r\x00") {
		return nil, fmt.Errorf("%w: value %q for %s: one line, no blanks around it", ErrInvalid, value, key)
	}
	if _, err := Parse("", data, func(string) bool { return true }); err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	setting := key + " = " + value
	commented := -1
	for i, line := range lines {
		line = strings.TrimSpace(line)
		rest, comment := strings.CutPrefix(line, "#")
		k, _, ok := strings.Cut(rest, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		if !comment {
			lines[i] = setting
			return []byte(strings.Join(lines, "\n")), nil
		}
		// "#key = ..." with no blank after the #: a setting commented
		// out, not prose.
		if commented < 0 && strings.HasPrefix(rest, key) {
			commented = i
		}
	}
	if commented >= 0 {
		lines[commented] = setting
		return []byte(strings.Join(lines, "\n")), nil
	}
	out := string(data)
	if out != "" && !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return []byte(out + setting + "\n"), nil
}

package conffile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func known(k string) bool { return k == "home" || k == "cache-max-size" || k == "mount" }

func TestParse(t *testing.T) {
	good := "# Shardrive\n\n  # indented comment\nversion = 1\r\nhome = /srv/my home # not a comment\nmount=/mnt/x\ncache-max-size =\n"
	f, err := Parse("cfg", []byte(good), known)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{"home", "/srv/my home # not a comment", 5}, {"mount", "/mnt/x", 6}, {"cache-max-size", "", 7}}
	if len(f.Entries) != len(want) {
		t.Fatalf("entries %+v", f.Entries)
	}
	for i := range want {
		if f.Entries[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, f.Entries[i], want[i])
		}
	}
	if e, ok := f.Lookup("mount"); !ok || e.Value != "/mnt/x" {
		t.Errorf("lookup mount: %+v %v", e, ok)
	}
	if _, ok := f.Lookup("cache-max-size"); ok {
		t.Error("an empty value counts as set")
	}

	for _, tc := range []struct {
		name, data string
		line       int
		msg        string
	}{
		{"empty", "", 0, "no \"version = 1\""},
		{"comments only", "# x\n", 0, "no \"version = 1\""},
		{"version not first", "home = /x\nversion = 1\n", 1, "first setting must be"},
		{"version 2", "version = 2\n", 1, "version want 1, have 2"},
		{"version text", "version = one\n", 1, "not a number"},
		{"version padded", "version = 01\n", 1, "not a number"},
		{"version twice", "version = 1\nversion = 1\n", 2, "version set twice (first on line 1)"},
		{"no equals", "version = 1\nhome /x\n", 2, "want key = value"},
		{"unknown key", "version = 1\n\nhoem = /x\n", 3, "unknown key \"hoem\""},
		{"upper case", "version = 1\nHome = /x\n", 2, "bad key"},
		{"empty key", "version = 1\n= /x\n", 2, "bad key"},
		{"duplicate", "version = 1\nhome = /a\nmount = /m\nhome = /b\n", 4, "home set twice (first on line 2)"},
		{"NUL", "version = 1\nhome = /a\x00\n", 0, "not UTF-8"},
		{"latin-1", "version = 1\nhome = /\xe9\n", 0, "not UTF-8"},
		{"huge", "version = 1\n" + strings.Repeat("#", MaxSize), 0, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg", []byte(tc.data), known)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want an *Error", err)
			}
			if e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) || e.Path != "cfg" {
				t.Fatalf("err %q (line %d), want line %d with %q", err, e.Line, tc.line, tc.msg)
			}
			if tc.line > 0 && !strings.HasPrefix(err.Error(), "cfg:"+strconv.Itoa(tc.line)+": ") {
				t.Fatalf("message %q does not start with file:line", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config")
	if _, err := Read(p, known); !IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(p, []byte("version = 1\nhome = /h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Read(p, known)
	if err != nil || f.Path != p || len(f.Entries) != 1 {
		t.Fatalf("read %+v, %v", f, err)
	}
	os.Chmod(p, 0o666)
	if _, err := Read(p, known); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("world-writable file: %v", err)
	}
	if _, err := Read(dir, known); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a directory: %v", err)
	}
}

func TestSet(t *testing.T) {
	data := []byte("# head\nversion = 1\n# where\nhome = /old\n")
	out, err := Set(data, "home", "/new path")
	if err != nil || string(out) != "# head\nversion = 1\n# where\nhome = /new path\n" {
		t.Fatalf("replace: %q, %v", out, err)
	}
	out, err = Set(out, "mount", "/m")
	if err != nil || string(out) != "# head\nversion = 1\n# where\nhome = /new path\nmount = /m\n" {
		t.Fatalf("append: %q, %v", out, err)
	}
	if _, err := Parse("x", out, known); err != nil {
		t.Fatal(err)
	}
	// A template's commented-out default is set in place; prose that
	// happens to start with the key is not.
	tmpl := []byte("version = 1\n# mount = where the drive goes\n#mount =\n#cache-max-size = 0\n")
	out, err = Set(tmpl, "mount", "/m")
	if err != nil || string(out) != "version = 1\n# mount = where the drive goes\nmount = /m\n#cache-max-size = 0\n" {
		t.Fatalf("set over a commented default: %q, %v", out, err)
	}
	for _, bad := range []struct{ key, value string }{{"version", "2"}, {"Home", "/x"}, {"home", " /x"}, {"home", "a\nb"}} {
		if _, err := Set(data, bad.key, bad.value); !errors.Is(err, ErrInvalid) {
			t.Errorf("Set(%q, %q): %v", bad.key, bad.value, err)
		}
	}
	if _, err := Set([]byte("home = /x\n"), "home", "/y"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set on a file without version: %v", err)
	}
}

// FuzzParse: no input panics, and whatever parses survives Set of each of
// its settings unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version = 1\nhome = /x\n"))
	f.Add([]byte("# c\nversion=1\r\nmount = a=b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f", data, known)
		if err != nil {
			return
		}
		for _, e := range file.Entries {
			if e.Value == "" {
				continue
			}
			out, err := Set(data, e.Key, e.Value)
			if err != nil {
				t.Fatalf("Set(%q, %q) on a parsed file: %v", e.Key, e.Value, err)
			}
			again, err := Parse("f", out, known)
			if err != nil {
				t.Fatalf("after Set: %v", err)
			}
			if got, _ := again.Lookup(e.Key); got.Value != e.Value {
				t.Fatalf("after Set %s = %q, read %q", e.Key, e.Value, got.Value)
			}
		}
	})
}

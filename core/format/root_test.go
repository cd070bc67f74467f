package format

import (
	"errors"
	"strconv"
	"testing"
)

func TestFormatParseRootVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"1", 1},
		{"42", 42},
		{"9223372036854775807", MaxRootVersion},
	} {
		got, err := ParseRootVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRootVersion(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if FormatRootVersion(got) != tc.in {
			t.Errorf("FormatRootVersion(%d) = %q, want %q", got, FormatRootVersion(got), tc.in)
		}
	}
	for _, in := range []string{
		"", "0", "01", "+1", "-1", " 1", "1 ", "1.0", "0x10", "1e3", "١",
		"9223372036854775808",  // MaxRootVersion + 1
		"18446744073709551615", // max uint64
		"99999999999999999999999",
	} {
		if v, err := ParseRootVersion(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRootVersion(%q) = %d, %v; want ErrMalformed", in, v, err)
		}
	}
}

func FuzzParseRootVersion(f *testing.F) {
	for _, s := range []string{"1", "0", "007", "9223372036854775807", "9223372036854775808", "-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseRootVersion(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// One spelling per version, within range.
		if v < 1 || v > MaxRootVersion || FormatRootVersion(v) != s || strconv.FormatUint(v, 10) != s {
			t.Fatalf("ParseRootVersion(%q) = %d", s, v)
		}
	})
}

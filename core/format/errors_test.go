package format

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestFormatErrorTableRoundTrip(t *testing.T) {
	codes := map[string]bool{}
	for _, e := range errorTable {
		t.Run(e.code, func(t *testing.T) {
			if codes[e.code] {
				t.Fatalf("code %q used twice", e.code)
			}
			codes[e.code] = true
			err := fmt.Errorf("put shard: %w", e.err)
			status, body := EncodeError(err)
			if status != e.status || StatusOf(err) != e.status || CodeOf(err) != e.code {
				t.Fatalf("status %d code %q, want %d %q", status, CodeOf(err), e.status, e.code)
			}
			back := ErrorFromResponse(status, body)
			if !errors.Is(back, e.err) {
				t.Fatalf("ErrorFromResponse(%d, %s) = %v, not %v", status, body, back, e.err)
			}
			var we *Error
			if !errors.As(back, &we) || we.Code != e.code || we.Status != status {
				t.Fatalf("ErrorFromResponse = %#v", back)
			}
		})
	}
}

func TestFormatErrorUnknown(t *testing.T) {
	secret := errors.New("open /var/lib/farmer/shards/x: permission denied")
	status, body := EncodeError(secret)
	if status != http.StatusInternalServerError || strings.Contains(string(body), "/var/lib") {
		t.Fatalf("EncodeError(unknown) = %d %s", status, body)
	}
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		sentinel error
	}{
		{"unknown code 4xx", 418, `{"code":"teapot","message":"short and stout"}`, nil},
		{"unknown code 5xx", 502, `{"code":"gateway","message":"x"}`, ErrInternal},
		{"html 5xx", 503, `<html>busy</html>`, ErrInternal},
		{"html 4xx", 404, `<html>nope</html>`, nil},
		{"empty", 400, ``, nil},
		{"known code wrong status", 500, `{"code":"not_found"}`, ErrNotFound},
		{"oversized", 500, `{"code":"not_found","message":"` + strings.Repeat("x", MaxErrorBody) + `"}`, ErrInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ErrorFromResponse(tc.status, []byte(tc.body))
			if err == nil {
				t.Fatal("nil error")
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Fatalf("%v is not %v", err, tc.sentinel)
			}
			for _, e := range errorTable {
				if e.err != tc.sentinel && errors.Is(err, e.err) {
					t.Fatalf("%v unexpectedly is %v", err, e.err)
				}
			}
		})
	}
}

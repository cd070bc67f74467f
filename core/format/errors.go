package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/shardrive/shardrive/core/merkle"
)

// Sentinel errors shared by farmer and client (and merkle.ErrRange, for a
// byte range outside the shard). The farmer answers each with
// the HTTP status and code in errorTable; the client turns the answer back
// into the same sentinel, so errors.Is works across the wire.
var (
	ErrBadRequest       = errors.New("bad request")
	ErrUnsigned         = errors.New("request is not signed")
	ErrBadSignature     = errors.New("bad request signature")
	ErrExpired          = errors.New("request timestamp outside the accepted window")
	ErrReplay           = errors.New("request nonce already used")
	ErrWrongFarmer      = errors.New("wrong farmer")
	ErrForbidden        = errors.New("forbidden")
	ErrQuotaExceeded    = errors.New("account quota exceeded")
	ErrNotFound         = errors.New("not found")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrTooLarge         = errors.New("request body too large")
	ErrHashMismatch     = errors.New("content does not match its hash")
	ErrCorrupt          = errors.New("stored shard is corrupt")
	ErrFarmerFull       = errors.New("farmer is full")
	ErrUnavailable      = errors.New("farmer is shutting down")
	ErrInternal         = errors.New("farmer internal error")

	// ErrConflict refuses a root record whose version is not above the
	// one stored; the answer names the stored version in
	// HeaderRootVersion.
	ErrConflict = errors.New("root record version conflict")
)

// errorTable is the single mapping between sentinel errors, wire codes and
// HTTP statuses. Order matters where an error wraps several sentinels: the
// first match wins. Codes are API: never change or reuse one.
var errorTable = []struct {
	err    error
	code   string
	status int
}{
	{ErrBadRequest, "bad_request", http.StatusBadRequest},
	{ErrUnsigned, "unsigned", http.StatusUnauthorized},
	{ErrBadSignature, "bad_signature", http.StatusUnauthorized},
	{ErrExpired, "expired", http.StatusUnauthorized},
	{ErrReplay, "replay", http.StatusUnauthorized},
	{ErrWrongFarmer, "wrong_farmer", http.StatusMisdirectedRequest},
	{ErrForbidden, "forbidden", http.StatusForbidden},
	{ErrQuotaExceeded, "quota_exceeded", http.StatusForbidden},
	{ErrNotFound, "not_found", http.StatusNotFound},
	{ErrMethodNotAllowed, "method_not_allowed", http.StatusMethodNotAllowed},
	{ErrConflict, "conflict", http.StatusConflict},
	{ErrTooLarge, "too_large", http.StatusRequestEntityTooLarge},
	{merkle.ErrRange, "bad_range", http.StatusRequestedRangeNotSatisfiable},
	{ErrHashMismatch, "hash_mismatch", http.StatusUnprocessableEntity},
	{ErrCorrupt, "corrupt", http.StatusInternalServerError},
	{ErrFarmerFull, "farmer_full", http.StatusInsufficientStorage},
	{ErrUnavailable, "unavailable", http.StatusServiceUnavailable},
	{ErrInternal, "internal", http.StatusInternalServerError},
}

// maxMessage bounds the message of a wire error, both ways.
const maxMessage = 1 << 10

// MaxErrorBody is the most bytes of an error response a client needs to
// read; ErrorFromResponse ignores anything longer.
const MaxErrorBody = 4 << 10

// Error is an error answer received from a farmer. It unwraps to the
// sentinel its code names, or to ErrInternal for an unknown code on a 5xx
// status, or to nothing.
type Error struct {
	Status  int    // HTTP status
	Code    string // wire code, "" if the body had none
	Message string // the farmer's explanation, for logs only
	err     error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code == "" {
		return fmt.Sprintf("farmer: %d: %s", e.Status, msg)
	}
	return fmt.Sprintf("farmer: %s (%d): %s", e.Code, e.Status, msg)
}

// Unwrap returns the sentinel error the code names.
func (e *Error) Unwrap() error { return e.err }

// wireError is the JSON body of every non-2xx farmer response.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusOf returns the HTTP status for err: that of the first sentinel in
// the table err wraps, or 500 for anything else.
func StatusOf(err error) int {
	status, _ := lookup(err)
	return status
}

// CodeOf returns the wire code for err, "internal" for unknown errors.
func CodeOf(err error) string {
	_, code := lookup(err)
	return code
}

func lookup(err error) (int, string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

// EncodeError returns the status and JSON body a farmer answers err with.
// Errors wrapping a sentinel carry their message (which handlers write for
// the client); anything else is reported as "internal error" so that file
// paths and other internals never leave the farmer.
func EncodeError(err error) (status int, body []byte) {
	status, code := lookup(err)
	msg := "internal error"
	if code != "internal" {
		msg = truncateUTF8(err.Error(), maxMessage)
	}
	body, jerr := json.Marshal(wireError{Code: code, Message: msg})
	if jerr != nil {
		// Marshal of two strings cannot fail.
		panic(fmt.Sprintf("format: marshal wire error: %v", jerr))
	}
	return status, append(body, '\n')
}

// ErrorFromResponse turns a non-2xx farmer response into an *Error that
// unwraps to the sentinel its code names. A body that is not a wire error
// (a proxy's page, garbage, nothing) still yields an *Error carrying the
// status; a 5xx without a known code unwraps to ErrInternal.
func ErrorFromResponse(status int, body []byte) error {
	e := &Error{Status: status}
	var w wireError
	if len(body) <= MaxErrorBody && json.Unmarshal(body, &w) == nil {
		e.Code = truncateUTF8(w.Code, 64)
		e.Message = truncateUTF8(w.Message, maxMessage)
		for _, t := range errorTable {
			if t.code == w.Code {
				e.err = t.err
				break
			}
		}
	}
	if e.err == nil && status >= 500 {
		e.err = ErrInternal
	}
	return e
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune, and
// replaces invalid UTF-8.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

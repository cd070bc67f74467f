package farmer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Fuzz modes: bits of the mode argument.
const (
	fuzzSign     = 1 << iota // sign the request with the test account
	fuzzRootPath             // prefix path with /v1/shards/<root of body>
)

// FuzzHandler feeds arbitrary method, path, query, header and body to the
// farmer's handler, signed or not: it must never panic, answer 2xx or 4xx
// (nothing here is the farmer's fault), and leave index, files and space
// accounting consistent.
func FuzzHandler(f *testing.F) {
	cfg := testConfig(f)
	cfg.Capacity = 1 << 20
	cfg.AccountQuota = 512 << 10
	farm, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { farm.Shutdown(context.Background()) })
	h := &handler{f: farm}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	shard := testData(50, merkle.LeafSize+5)
	for _, s := range []struct {
		method, path, query string
		body                []byte
		mode                uint8
	}{
		{"PUT", "", "", shard, fuzzSign | fuzzRootPath},
		{"GET", "", "offset=3&length=100", shard, fuzzSign | fuzzRootPath},
		{"GET", "/stat", "", nil, fuzzSign | fuzzRootPath},
		{"DELETE", "", "", shard, fuzzSign | fuzzRootPath},
		{"GET", "/v1/info", "", nil, fuzzSign},
		{"PUT", "/v1/shards/00", "", []byte("x"), fuzzSign},
		{"GET", "/v1/info", "", nil, 0},
		{"PATCH", "/v1/shards/" + merkle.RootOf(nil).String(), "a=%zz", []byte("x"), fuzzSign},
		{"PUT", "/v1/root", "version=2", []byte("sealed root record"), fuzzSign},
		{"PUT", "/v1/root", "version=1", []byte("older"), fuzzSign},
		{"PUT", "/v1/root", "version=3", shard, fuzzSign},
		{"GET", "/v1/root", "", nil, fuzzSign},
		{"PUT", "/v1/root", "version=01&version=4", []byte("x"), fuzzSign},
		{"PUT", "/v1/root", "version=4", nil, fuzzSign},
		{"DELETE", "/v1/root", "", nil, fuzzSign},
	} {
		f.Add(s.method, s.path, s.query, s.body, s.mode, "X-Any", "v")
	}
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, mode uint8, hk, hv string) {
		if mode&fuzzRootPath != 0 {
			path = "/v1/shards/" + merkle.RootOf(body).String() + path
		}
		if !isToken(method) {
			return // net/http refuses these before any handler runs
		}
		req := &http.Request{
			Method:        method,
			URL:           &url.URL{Path: path, RawQuery: query},
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Host:          "farmer.test",
			Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		}
		req = req.WithContext(context.Background())
		if isToken(hk) && !strings.ContainsAny(hv, "\r\n\x00") {
			req.Header.Set(hk, hv)
		}
		if mode&fuzzSign != 0 {
			at := time.Now()
			if nb := farm.verifier.NotBefore().Add(time.Millisecond); nb.After(at) {
				at = nb
			}
			_ = format.Sign(req, signedBodyHash(req, body), key, farm.id, at) // unsignable requests go unsigned
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || rec.Code < 200 || (rec.Code >= 300 && rec.Code < 400) {
			t.Fatalf("%s %s?%s: status %d: %s", method, path, query, rec.Code, rec.Body.Bytes())
		}
		checkConsistent(t, farm)
	})
}

// checkConsistent asserts that index rows (shards and root records), shard
// files and the in-memory space accounting agree, and no upload is left
// half done.
func checkConsistent(tb testing.TB, f *Farmer) {
	tb.Helper()
	ctx := context.Background()
	rows, err := f.index.db.QueryContext(ctx, `SELECT a.key, s.root, s.size FROM shards s JOIN accounts a ON a.id = s.account`)
	if err != nil {
		tb.Fatal(err)
	}
	var total int64
	perAcct := map[format.AccountID]int64{}
	n := 0
	for rows.Next() {
		var key, root []byte
		var size int64
		if err := rows.Scan(&key, &root, &size); err != nil {
			tb.Fatal(err)
		}
		var acct format.AccountID
		var r merkle.Root
		copy(acct[:], key)
		copy(r[:], root)
		sf, err := f.store.open(acct, r, size)
		if err != nil {
			tb.Fatalf("indexed shard %s: %v", r, err)
		}
		sf.Close()
		total += size
		perAcct[acct] += size
		n++
	}
	rows.Close()
	roots, err := f.index.db.QueryContext(ctx, `SELECT a.key, r.version, length(r.record) FROM roots r JOIN accounts a ON a.id = r.account`)
	if err != nil {
		tb.Fatal(err)
	}
	for roots.Next() {
		var key []byte
		var version, size int64
		if err := roots.Scan(&key, &version, &size); err != nil {
			tb.Fatal(err)
		}
		if version < 1 || size < 1 || size > format.MaxRootRecord {
			tb.Fatalf("root record row: version %d, %d bytes", version, size)
		}
		var acct format.AccountID
		copy(acct[:], key)
		total += size
		perAcct[acct] += size
	}
	roots.Close()
	files, _ := filepathGlob(f, "*/*/*")
	if len(files) != n {
		tb.Fatalf("%d files in the store, %d rows in the index: %v", len(files), n, files)
	}
	f.space.mu.Lock()
	used, reserved := f.space.used, f.space.reserved
	f.space.mu.Unlock()
	if used != total || reserved != 0 {
		tb.Fatalf("space: used %d reserved %d, index holds %d", used, reserved, total)
	}
	for acct, want := range perAcct {
		u, err := f.index.usage(ctx, acct, time.Now())
		if err != nil || u.stored != want {
			tb.Fatalf("usage of %s: %+v %v, want %d stored", acct, u, err, want)
		}
	}
}

// isToken reports whether s is an HTTP token (RFC 9110 tchar), what
// net/http requires of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

package farmer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shardrive/shardrive/core/format"
)

// rootAnswer is a farmer's answer on the root record slot.
type rootAnswer struct {
	status  int
	version string // the Shardrive-Root-Version header
	body    []byte
	err     error // decoded wire error of a non-2xx answer
}

// rootSend sends req and returns the answer with its version header.
func (c *rawClient) rootSend(req *http.Request) rootAnswer {
	c.tb.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("read body: %v", err)
	}
	a := rootAnswer{status: resp.StatusCode, version: resp.Header.Get(format.HeaderRootVersion), body: b}
	if resp.StatusCode >= 300 {
		a.err = format.ErrorFromResponse(resp.StatusCode, b)
	}
	return a
}

func (c *rawClient) putRoot(query string, record []byte) rootAnswer {
	c.tb.Helper()
	return c.rootSend(c.build(http.MethodPut, format.RootPath, query, record))
}

func (c *rawClient) getRoot() rootAnswer {
	c.tb.Helper()
	return c.rootSend(c.build(http.MethodGet, format.RootPath, "", nil))
}

// wantRoot checks that c reads record at version.
func (c *rawClient) wantRoot(version string, record []byte) {
	c.tb.Helper()
	a := c.getRoot()
	if a.err != nil || a.status != http.StatusOK || a.version != version || !bytes.Equal(a.body, record) {
		c.tb.Fatalf("GET root = %d %v, version %q, %d bytes; want 200, version %s, %d bytes",
			a.status, a.err, a.version, len(a.body), version, len(record))
	}
}

func TestFarmerRoot(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)

	if a := c.getRoot(); !errors.Is(a.err, format.ErrNotFound) {
		t.Fatalf("GET before any PUT: %d %v, want not_found", a.status, a.err)
	}
	r1 := testData(1, 1000)
	if a := c.putRoot("version=1", r1); a.err != nil || a.status != http.StatusNoContent || a.version != "1" {
		t.Fatalf("PUT v1 = %d %v, version %q; want 204, version 1", a.status, a.err, a.version)
	}
	c.wantRoot("1", r1)
	r5 := testData(5, 3000)
	if a := c.putRoot("version=5", r5); a.err != nil || a.version != "5" {
		t.Fatalf("PUT v5 = %d %v, version %q", a.status, a.err, a.version)
	}
	c.wantRoot("5", r5)
	if u := c.info().Account; u.Used != int64(len(r5)) || u.Shards != 0 {
		t.Fatalf("usage with a root record = %+v, want %d bytes used, no shards", u, len(r5))
	}

	// Never backwards, not even sideways: the answer names the stored version.
	for _, q := range []string{"version=5", "version=4", "version=1"} {
		a := c.putRoot(q, testData(9, 10))
		if !errors.Is(a.err, format.ErrConflict) || a.status != http.StatusConflict || a.version != "5" {
			t.Errorf("PUT ?%s = %d %v, version %q; want 409 conflict, version 5", q, a.status, a.err, a.version)
		}
		var fe *format.Error
		if !errors.As(a.err, &fe) || !strings.Contains(fe.Message, "stored version 5") {
			t.Errorf("PUT ?%s: message %v does not name the stored version", q, a.err)
		}
	}
	c.wantRoot("5", r5)

	// Refusals leave the record alone.
	for _, tc := range []struct {
		name, query string
		body        []byte
		want        error
	}{
		{"empty", "version=6", nil, format.ErrBadRequest},
		{"too large", "version=6", make([]byte, format.MaxRootRecord+1), format.ErrTooLarge},
		{"no version", "", r1, format.ErrBadRequest},
		{"version zero", "version=0", r1, format.ErrBadRequest},
		{"negative", "version=-6", r1, format.ErrBadRequest},
		{"leading zero", "version=06", r1, format.ErrBadRequest},
		{"not a number", "version=six", r1, format.ErrBadRequest},
		{"over the maximum", "version=9223372036854775808", r1, format.ErrBadRequest},
		{"twice", "version=6&version=7", r1, format.ErrBadRequest},
		{"other parameter", "version=6&x=1", r1, format.ErrBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := c.putRoot(tc.query, tc.body); !errors.Is(a.err, tc.want) {
				t.Errorf("PUT ?%s with %d bytes = %d %v, want %v", tc.query, len(tc.body), a.status, a.err, tc.want)
			}
		})
	}
	if a := c.rootSend(c.build(http.MethodGet, format.RootPath, "version=5", nil)); !errors.Is(a.err, format.ErrBadRequest) {
		t.Errorf("GET with a query = %d %v, want bad_request", a.status, a.err)
	}
	if a := c.rootSend(c.build(http.MethodDelete, format.RootPath, "", nil)); !errors.Is(a.err, format.ErrMethodNotAllowed) {
		t.Errorf("DELETE = %d %v, want method_not_allowed", a.status, a.err)
	}
	// A body that is not the one signed.
	req := c.build(http.MethodPut, format.RootPath, "version=6", r1)
	forged := bytes.Clone(r1)
	forged[0] ^= 1
	req.Body = io.NopCloser(bytes.NewReader(forged))
	if a := c.rootSend(req); !errors.Is(a.err, format.ErrBadSignature) {
		t.Errorf("PUT with a body other than the signed one = %d %v, want bad_signature", a.status, a.err)
	}
	c.wantRoot("5", r5)
	// The largest record fits.
	big := testData(7, format.MaxRootRecord)
	if a := c.putRoot("version=9223372036854775807", big); a.err != nil {
		t.Fatalf("PUT of the largest record at the highest version: %v", a.err)
	}
	c.wantRoot("9223372036854775807", big)
	if u := c.info().Account; u.Used != int64(len(big)) {
		t.Fatalf("usage after replacing the record = %+v, want %d bytes", u, len(big))
	}
}

func TestFarmerRootAccountsAreIsolated(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	keyA, _ := newAccount(t)
	keyB, _ := newAccount(t)
	a, b := newRawClient(t, f, addr, keyA), newRawClient(t, f, addr, keyB)
	ra := testData(1, 100)
	if ans := a.putRoot("version=7", ra); ans.err != nil {
		t.Fatal(ans.err)
	}
	if ans := b.getRoot(); !errors.Is(ans.err, format.ErrNotFound) || ans.version != "" || len(ans.body) > format.MaxErrorBody {
		t.Fatalf("other account's GET = %d %v, version %q; want not_found and nothing else", ans.status, ans.err, ans.version)
	}
	// B's versions are its own: a lower one than A's is fine.
	rb := testData(2, 50)
	if ans := b.putRoot("version=1", rb); ans.err != nil {
		t.Fatalf("other account's PUT v1: %v", ans.err)
	}
	a.wantRoot("7", ra)
	b.wantRoot("1", rb)
}

func TestFarmerRootQuota(t *testing.T) {
	cfg := testConfig(t)
	cfg.AccountQuota = 1000
	f, addr := StartTest(t, cfg)
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	if a := c.putRoot("version=1", testData(1, 800)); a.err != nil {
		t.Fatal(a.err)
	}
	if a := c.putRoot("version=2", testData(2, 1001)); !errors.Is(a.err, format.ErrQuotaExceeded) {
		t.Fatalf("record over the quota: %d %v, want quota_exceeded", a.status, a.err)
	}
	// Only the growth counts against the quota, and a smaller record frees.
	r := testData(3, 1000)
	if a := c.putRoot("version=3", r); a.err != nil {
		t.Fatalf("record replacing one within the quota: %v", a.err)
	}
	if a := c.putRoot("version=4", testData(4, 10)); a.err != nil {
		t.Fatal(a.err)
	}
	if u := c.info().Account; u.Used != 10 {
		t.Fatalf("usage = %+v, want 10 bytes", u)
	}
	checkConsistent(t, f)
}

func TestFarmerRootSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	f1, addr1 := StartTest(t, cfg)
	key, _ := newAccount(t)
	c1 := newRawClient(t, f1, addr1, key)
	shard := testData(1, 5000)
	if _, err := c1.put(shard); err != nil {
		t.Fatal(err)
	}
	r := testData(2, 700)
	if a := c1.putRoot("version=3", r); a.err != nil {
		t.Fatal(a.err)
	}
	if err := f1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2, addr2 := StartTest(t, cfg)
	c2 := newRawClient(t, f2, addr2, key)
	c2.wantRoot("3", r)
	if a := c2.putRoot("version=2", testData(3, 10)); !errors.Is(a.err, format.ErrConflict) || a.version != "3" {
		t.Fatalf("PUT of an older version after restart = %d %v, version %q; want conflict, 3", a.status, a.err, a.version)
	}
	// Reconciliation counts the record with the shards.
	if u := c2.info().Account; u.Used != int64(len(shard)+len(r)) || u.Shards != 1 {
		t.Fatalf("usage after restart = %+v, want %d bytes", u, len(shard)+len(r))
	}
	checkConsistent(t, f2)
}

// An index written before the root slot (schema version 1) is upgraded in
// place on start, keeping its shards.
func TestFarmerRootMigratesVersion1Index(t *testing.T) {
	cfg := testConfig(t)
	f1, addr1 := StartTest(t, cfg)
	key, _ := newAccount(t)
	shard := testData(1, 3000)
	root, err := newRawClient(t, f1, addr1, key).put(shard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f1.index.db.Exec(`DROP TABLE roots; PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	if err := f1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2, addr2 := StartTest(t, cfg)
	c := newRawClient(t, f2, addr2, key)
	var v int
	if err := f2.index.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version after start = %d, %v; want %d", v, err, len(migrations))
	}
	if got, err := c.get(root, 0, -1); err != nil || !bytes.Equal(got, shard) {
		t.Fatalf("shard after the upgrade: %v", err)
	}
	r := testData(2, 10)
	if a := c.putRoot("version=1", r); a.err != nil {
		t.Fatal(a.err)
	}
	c.wantRoot("1", r)
}

// Concurrent writers of one account: each version is stored or refused,
// the highest always wins, and the accounting stays exact.
func TestFarmerRootConcurrentPuts(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	const writers = 8
	reqs := make([]*http.Request, writers)
	for i := range reqs {
		// Versions in an order that makes some of them stale.
		v := (i*5)%writers + 1
		reqs[i] = c.build(http.MethodPut, format.RootPath, "version="+itoa(int64(v)), testData(byte(v), 100*v))
	}
	statuses := make([]int, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			resp, err := c.hc.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i := range reqs {
		if errs[i] != nil || (statuses[i] != http.StatusNoContent && statuses[i] != http.StatusConflict) {
			t.Errorf("writer %d: %d %v, want 204 or 409", i, statuses[i], errs[i])
		}
	}
	c.wantRoot(itoa(writers), testData(writers, 100*writers))
	checkConsistent(t, f)
}

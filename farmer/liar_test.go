package farmer

import (
	"errors"
	"net/http"
	"testing"

	"github.com/shardrive/shardrive/core/format"
)

func TestLiarFreezeRoot(t *testing.T) {
	l, addr := StartLiar(t, testConfig(t), nil)
	key, _ := newAccount(t)
	c := newRawClient(t, l.Farmer, addr, key)
	r2 := testData(2, 100)
	if a := c.putRoot("version=2", r2); a.err != nil {
		t.Fatal(a.err)
	}
	l.FreezeRoot()
	// Newer versions are acknowledged, even one the honest farmer would
	// refuse, but never served.
	for _, q := range []string{"version=3", "version=1"} {
		if a := c.putRoot(q, testData(3, 200)); a.err != nil || a.status != http.StatusNoContent {
			t.Fatalf("frozen PUT ?%s = %d %v, want 204", q, a.status, a.err)
		}
	}
	c.wantRoot("2", r2)
	// An account without a record keeps having none.
	key2, _ := newAccount(t)
	c2 := newRawClient(t, l.Farmer, addr, key2)
	if a := c2.putRoot("version=1", testData(4, 10)); a.err != nil {
		t.Fatal(a.err)
	}
	if a := c2.getRoot(); !errors.Is(a.err, format.ErrNotFound) {
		t.Fatalf("GET after a frozen first PUT = %d %v, want not_found", a.status, a.err)
	}
	// It still checks signatures.
	req := c.build(http.MethodPut, format.RootPath, "version=9", []byte("x"))
	req.Header.Del(format.HeaderSignature)
	if a := c.rootSend(req); !errors.Is(a.err, format.ErrUnsigned) {
		t.Fatalf("unsigned frozen PUT = %d %v, want unsigned", a.status, a.err)
	}
}

func TestLiarServeRoot(t *testing.T) {
	l, addr := StartLiar(t, testConfig(t), nil)
	keyA, _ := newAccount(t)
	keyB, _ := newAccount(t)
	a, b := newRawClient(t, l.Farmer, addr, keyA), newRawClient(t, l.Farmer, addr, keyB)
	if ans := a.putRoot("version=1", testData(1, 100)); ans.err != nil {
		t.Fatal(ans.err)
	}
	forged := testData(9, 64)
	l.ServeRoot(99, forged)
	// Every account gets the forged record, with or without one of its own.
	a.wantRoot("99", forged)
	b.wantRoot("99", forged)
	// Writes still go through honestly.
	if ans := a.putRoot("version=1", testData(2, 10)); !errors.Is(ans.err, format.ErrConflict) || ans.version != "1" {
		t.Fatalf("PUT of the stored version = %d %v, version %q; want conflict, 1", ans.status, ans.err, ans.version)
	}
	req := a.build(http.MethodGet, format.RootPath, "", nil)
	req.Header.Set(format.HeaderAccount, l.ID().String()) // a valid key, not the signer's
	if ans := a.rootSend(req); !errors.Is(ans.err, format.ErrBadSignature) {
		t.Fatalf("GET with a bad signature = %d %v, want bad_signature", ans.status, ans.err)
	}
}

func TestLiarDropRoot(t *testing.T) {
	l, addr := StartLiar(t, testConfig(t), nil)
	key, _ := newAccount(t)
	c := newRawClient(t, l.Farmer, addr, key)
	r := testData(1, 100)
	if a := c.putRoot("version=4", r); a.err != nil {
		t.Fatal(a.err)
	}
	l.DropRoot()
	if a := c.getRoot(); !errors.Is(a.err, format.ErrNotFound) || a.version != "" {
		t.Fatalf("GET of a dropped root = %d %v, version %q; want not_found", a.status, a.err, a.version)
	}
	// The honest farmer underneath still holds it: the lie is the answer only.
	if a := c.putRoot("version=4", r); !errors.Is(a.err, format.ErrConflict) {
		t.Fatalf("PUT of the stored version = %d %v, want conflict", a.status, a.err)
	}
	l.ServeRoot(4, r)
	c.wantRoot("4", r)
}

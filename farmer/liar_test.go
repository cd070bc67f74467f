package farmer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
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

func TestLiarDodgePartialReads(t *testing.T) {
	for _, tc := range []struct {
		act  DodgeAction
		want error         // of a dodged read
		wait time.Duration // for a dodged read
	}{
		{DodgeInternal, format.ErrInternal, answerWait},
		{DodgeHang, context.DeadlineExceeded, 200 * time.Millisecond},
	} {
		t.Run(fmt.Sprint(tc.act), func(t *testing.T) {
			l, addr := StartLiar(t, testConfig(t), nil)
			key, _ := newAccount(t)
			c := newRawClient(t, l.Farmer, addr, key)
			data := testData(1, 3*merkle.LeafSize+100)
			root, err := c.put(data)
			if err != nil {
				t.Fatal(err)
			}
			l.SetDodge(DodgePartialReads(tc.act))
			// Audits (one-leaf reads) and any other partial read are dodged.
			for _, q := range []string{"offset=16384&length=16384", "offset=0&length=10", "offset=100"} {
				if err := dodgedGet(t, c, root, q, tc.wait); !errors.Is(err, tc.want) {
					t.Errorf("GET ?%s = %v, want %v", q, err, tc.want)
				}
			}
			if n := l.Dodged(); n != 3 {
				t.Errorf("Dodged() = %d, want 3", n)
			}
			// Whole-shard reads, stats, uploads and deletes stay honest.
			for _, q := range []string{"", "offset=0&length=-1", "length=-1"} {
				if err := dodgedGet(t, c, root, q, answerWait); err != nil {
					t.Errorf("whole-shard GET ?%s: %v", q, err)
				}
			}
			if got, err := c.get(root, 0, -1); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("whole read = %v", err)
			}
			if _, _, err := c.do(http.MethodGet, shardURL(root)+"/stat", "", nil); err != nil {
				t.Fatal(err)
			}
			other, err := c.put(testData(2, 100))
			if err != nil {
				t.Fatal(err)
			}
			// Reads the farmer would refuse are refused as usual.
			if err := dodgedGet(t, c, root, "offset=-1", answerWait); !errors.Is(err, format.ErrBadRequest) {
				t.Errorf("bad range = %v, want bad_request", err)
			}
			if _, _, err := c.do(http.MethodDelete, shardURL(other), "", nil); err != nil {
				t.Fatal(err)
			}
			if err := dodgedGet(t, c, other, "offset=1", answerWait); !errors.Is(err, format.ErrNotFound) {
				t.Errorf("partial read of a deleted shard = %v, want not_found", err)
			}
			if n := l.Dodged(); n != 3 {
				t.Errorf("Dodged() = %d after honest answers, want 3", n)
			}
			l.SetDodge(nil)
			if got, err := c.get(root, merkle.LeafSize, 5); err != nil || !bytes.Equal(got, data[merkle.LeafSize:merkle.LeafSize+5]) {
				t.Fatalf("partial read after SetDodge(nil) = %v", err)
			}
		})
	}
}

// dodgedGet sends GET root?query, giving up after wait (a hanging farmer
// never answers), and returns the decoded error.
func dodgedGet(t *testing.T, c *rawClient, root merkle.Root, query string, wait time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := c.hc.Do(c.build(http.MethodGet, shardURL(root), query, nil).WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return format.ErrorFromResponse(resp.StatusCode, b)
	}
	rng, err := format.DecodeRange(b)
	if err != nil {
		return err
	}
	return merkle.Verify(root, rng.ShardSize, rng.FirstLeaf, rng.Data, rng.Proof)
}

// answerWait bounds the wait for an answer that must come.
const answerWait = 30 * time.Second

func TestLiarDropShards(t *testing.T) {
	l, addr := StartLiar(t, testConfig(t), nil)
	key, _ := newAccount(t)
	c := newRawClient(t, l.Farmer, addr, key)
	kept, err := c.put(testData(1, 40000))
	if err != nil {
		t.Fatal(err)
	}
	lost, err := c.put(testData(2, 40000))
	if err != nil {
		t.Fatal(err)
	}
	l.DropShards(func(r merkle.Root) bool { return r == lost })
	for _, q := range []string{"", "offset=16384&length=16384"} {
		if err := dodgedGet(t, c, lost, q, answerWait); !errors.Is(err, format.ErrNotFound) {
			t.Errorf("GET ?%s of a dropped shard = %v, want not_found", q, err)
		}
		if err := dodgedGet(t, c, kept, q, answerWait); err != nil {
			t.Errorf("GET ?%s of a kept shard = %v", q, err)
		}
	}
	// The farmer still claims it: only reads tell.
	if _, _, err := c.do(http.MethodGet, shardURL(lost)+"/stat", "", nil); err != nil {
		t.Errorf("stat of a dropped shard = %v", err)
	}
	if info := c.info(); info.Account.Shards != 2 {
		t.Errorf("info counts %d shards, want 2", info.Account.Shards)
	}
}

func TestShardFraction(t *testing.T) {
	var roots []merkle.Root
	for i := range 2000 {
		roots = append(roots, merkle.RootOf([]byte(fmt.Sprint(i))))
	}
	count := func(pick func(merkle.Root) bool) int {
		n := 0
		for _, r := range roots {
			if pick(r) {
				n++
			}
		}
		return n
	}
	if n := count(ShardFraction(0)); n != 0 {
		t.Errorf("fraction 0 picked %d", n)
	}
	if n := count(ShardFraction(1)); n != len(roots) {
		t.Errorf("fraction 1 picked %d of %d", n, len(roots))
	}
	// The hashes are fixed, so the count is too; it is near a quarter.
	quarter, again := ShardFraction(0.25), ShardFraction(0.25)
	if n := count(quarter); n < 400 || n > 600 {
		t.Errorf("fraction 0.25 picked %d of %d", n, len(roots))
	}
	half := ShardFraction(0.5)
	for _, r := range roots {
		if quarter(r) != again(r) || quarter(r) && !half(r) {
			t.Fatalf("ShardFraction is not stable and nested at %s", r)
		}
	}
}

func TestLiarHangEndsAtShutdown(t *testing.T) {
	l, addr := StartLiar(t, testConfig(t), nil)
	key, _ := newAccount(t)
	c := newRawClient(t, l.Farmer, addr, key)
	root, err := c.put(testData(1, 2*merkle.LeafSize))
	if err != nil {
		t.Fatal(err)
	}
	l.SetDodge(DodgePartialReads(DodgeHang))
	got := make(chan error, 1)
	go func() {
		// No deadline: only the shutdown can end this read.
		resp, err := c.hc.Do(c.build(http.MethodGet, shardURL(root), "offset=16384&length=1", nil))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = format.ErrorFromResponse(resp.StatusCode, b)
		}
		got <- err
	}()
	for l.Dodged() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown with a hanging read: %v", err)
	}
	if err := <-got; !errors.Is(err, format.ErrUnavailable) {
		t.Fatalf("hanging read at shutdown = %v, want unavailable", err)
	}
}

package farmer

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Every way a request can fail authentication, against a real farmer over
// TLS. Nothing refused may change what the farmer stores.
func TestFarmerAuthRefusals(t *testing.T) {
	fa, addrA := StartTest(t, testConfig(t))
	fb, addrB := StartTest(t, testConfig(t))
	key, _ := newAccount(t)
	a := newRawClient(t, fa, addrA, key)
	b := newRawClient(t, fb, addrB, key)
	data := testData(3, merkle.LeafSize+9)
	root := merkle.RootOf(data)

	t.Run("unsigned", func(t *testing.T) {
		req := a.build(http.MethodPut, shardURL(root), "", data)
		for _, h := range []string{format.HeaderAccount, format.HeaderFarmer, format.HeaderTimestamp,
			format.HeaderNonce, format.HeaderBodyHash, format.HeaderSignature} {
			req.Header.Del(h)
		}
		if status, _, err := a.send(req); status != http.StatusUnauthorized || !errors.Is(err, format.ErrUnsigned) {
			t.Fatalf("%d %v, want 401 unsigned", status, err)
		}
	})
	t.Run("replay", func(t *testing.T) {
		req := a.build(http.MethodGet, "/v1/info", "", nil)
		again := req.Clone(req.Context())
		if _, _, err := a.send(req); err != nil {
			t.Fatalf("first delivery: %v", err)
		}
		if status, _, err := a.send(again); status != http.StatusUnauthorized || !errors.Is(err, format.ErrReplay) {
			t.Fatalf("second delivery: %d %v, want 401 replay", status, err)
		}
	})
	t.Run("signed for another farmer", func(t *testing.T) {
		req := a.build(http.MethodPut, shardURL(root), "", data)
		req.URL.Host = addrB.Host // delivered to B over a connection pinned to B
		if status, _, err := b.send(req); status != http.StatusMisdirectedRequest || !errors.Is(err, format.ErrWrongFarmer) {
			t.Fatalf("%d %v, want 421 wrong farmer", status, err)
		}
	})
	t.Run("body altered after signing", func(t *testing.T) {
		req := a.build(http.MethodPut, shardURL(root), "", data)
		other := bytes.Clone(data)
		other[0] ^= 1
		req.Body = io.NopCloser(bytes.NewReader(other))
		// An upload's signed body hash is its root (format.ShardBodyHash),
		// so any other body fails the farmer's root check.
		if status, _, err := a.send(req); status != http.StatusUnprocessableEntity || !errors.Is(err, format.ErrHashMismatch) {
			t.Fatalf("%d %v, want 422 hash mismatch", status, err)
		}
		if _, err := a.get(root, 0, -1); !errors.Is(err, format.ErrNotFound) {
			t.Fatalf("the altered upload was stored: %v", err)
		}
	})
	t.Run("body added after signing", func(t *testing.T) {
		req := a.build(http.MethodDelete, shardURL(root), "", nil)
		req.Body = io.NopCloser(bytes.NewReader([]byte("surprise")))
		req.ContentLength = 8
		if status, _, err := a.send(req); status/100 != 4 || err == nil {
			t.Fatalf("%d %v, want a 4xx refusal", status, err)
		}
	})
	t.Run("query altered after signing", func(t *testing.T) {
		req := a.build(http.MethodGet, shardURL(root), "offset=0&length=1", nil)
		req.URL.RawQuery = "offset=0&length=2"
		if _, _, err := a.send(req); !errors.Is(err, format.ErrBadSignature) {
			t.Fatalf("%v, want bad signature", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		req := a.build(http.MethodGet, "/v1/info", "", nil)
		if err := format.Sign(req, format.EmptyBodyHash(), key, addrA.ID, time.Now().Add(-6*time.Minute)); err != nil {
			t.Fatal(err)
		}
		resp, err := a.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if err := format.ErrorFromResponse(resp.StatusCode, body); !errors.Is(err, format.ErrExpired) {
			t.Fatalf("%v, want expired", err)
		}
		if resp.Header.Get(format.HeaderTime) == "" || resp.Header.Get(format.HeaderNotBefore) == "" {
			t.Fatalf("expired answer lacks the farmer's clock headers: %v", resp.Header)
		}
	})
	// None of it stored anything.
	if info := a.info(); info.Account.Shards != 0 || info.Used != 0 {
		t.Fatalf("refused requests changed farmer A: %+v", info)
	}
	if info := b.info(); info.Account.Shards != 0 || info.Used != 0 {
		t.Fatalf("refused requests changed farmer B: %+v", info)
	}
}

// Shards are namespaced per account: another account can neither see,
// read, delete nor replace the owner's copy.
func TestFarmerAccountsAreIsolated(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	ownerKey, _ := newAccount(t)
	otherKey, _ := newAccount(t)
	owner := newRawClient(t, f, addr, ownerKey)
	other := newRawClient(t, f, addr, otherKey)
	data := testData(4, 2*merkle.LeafSize)
	root, err := owner.put(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.get(root, 0, -1); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("other account read: %v, want not found", err)
	}
	if _, _, err := other.do(http.MethodGet, shardURL(root)+"/stat", "", nil); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("other account stat: %v, want not found", err)
	}
	if _, _, err := other.do(http.MethodDelete, shardURL(root), "", nil); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("other account delete: %v, want not found", err)
	}
	// Overwriting with other bytes is impossible: they do not hash to root.
	bad := bytes.Clone(data)
	bad[5] ^= 0xff
	if _, _, err := other.do(http.MethodPut, shardURL(root), "", bad); !errors.Is(err, format.ErrHashMismatch) {
		t.Fatalf("other account put of wrong bytes: %v, want hash mismatch", err)
	}
	// The same bytes make the other account's own copy; deleting it leaves
	// the owner's alone.
	if _, err := other.put(data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.do(http.MethodDelete, shardURL(root), "", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := owner.get(root, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("owner read after the other account's delete: %v", err)
	}
	if info := owner.info(); info.Account.Shards != 1 || info.Used != int64(len(data)) {
		t.Fatalf("owner usage = %+v", info)
	}
}

func TestFarmerUploadChecks(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxShardSize = 4 * merkle.LeafSize
	f, addr := StartTest(t, cfg)
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	data := testData(5, merkle.LeafSize)

	t.Run("wrong root", func(t *testing.T) {
		wrong := merkle.RootOf(testData(6, merkle.LeafSize))
		if status, _, err := c.do(http.MethodPut, shardURL(wrong), "", data); status != http.StatusUnprocessableEntity || !errors.Is(err, format.ErrHashMismatch) {
			t.Fatalf("%d %v, want 422 hash mismatch", status, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := testData(7, 4*merkle.LeafSize+1)
		if status, _, err := c.do(http.MethodPut, shardURL(merkle.RootOf(big)), "", big); status != http.StatusRequestEntityTooLarge || !errors.Is(err, format.ErrTooLarge) {
			t.Fatalf("%d %v, want 413", status, err)
		}
	})
	t.Run("no content length", func(t *testing.T) {
		req := c.build(http.MethodPut, shardURL(merkle.RootOf(data)), "", data)
		req.Body = io.NopCloser(bytes.NewReader(data)) // unknown length: chunked
		req.ContentLength = -1
		if _, _, err := c.send(req); !errors.Is(err, format.ErrBadRequest) {
			t.Fatalf("%v, want bad request", err)
		}
	})
	if info := c.info(); info.Used != 0 || info.Account.Shards != 0 {
		t.Fatalf("refused uploads were stored: %+v", info)
	}
	if ents, _ := filepathGlob(f, "*/*/*"); len(ents) != 0 {
		t.Fatalf("refused uploads left files: %v", ents)
	}
}

func TestFarmerQuotaAndCapacity(t *testing.T) {
	cfg := testConfig(t)
	cfg.Capacity = 5 * merkle.LeafSize
	cfg.AccountQuota = 3 * merkle.LeafSize
	f, addr := StartTest(t, cfg)
	var c [3]*rawClient
	for i := range c {
		k, _ := newAccount(t)
		c[i] = newRawClient(t, f, addr, k)
	}
	first := testData(10, 2*merkle.LeafSize)
	if _, err := c[0].put(first); err != nil {
		t.Fatal(err)
	}
	_, err := c[0].put(testData(11, 2*merkle.LeafSize))
	if !errors.Is(err, format.ErrQuotaExceeded) || format.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("over quota: %v, want quota exceeded (403)", err)
	}
	if _, err := c[1].put(testData(12, 2*merkle.LeafSize)); err != nil {
		t.Fatal(err)
	}
	_, err = c[2].put(testData(13, 2*merkle.LeafSize))
	if !errors.Is(err, format.ErrFarmerFull) || format.StatusOf(err) != http.StatusInsufficientStorage {
		t.Fatalf("over capacity: %v, want farmer full (507)", err)
	}
	if info := c[0].info(); info.Free != merkle.LeafSize || info.Account.Quota != 3*merkle.LeafSize || info.Account.Used != 2*merkle.LeafSize {
		t.Fatalf("info = %+v", info)
	}
	// Deleting frees the space.
	if _, _, err := c[0].do(http.MethodDelete, shardURL(merkle.RootOf(first)), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c[2].put(testData(13, 2*merkle.LeafSize)); err != nil {
		t.Fatalf("after delete: %v", err)
	}
}

// Concurrent uploads cannot together overshoot the quota they each fit
// under.
func TestFarmerConcurrentQuota(t *testing.T) {
	cfg := testConfig(t)
	cfg.AccountQuota = 5 * merkle.LeafSize
	f, addr := StartTest(t, cfg)
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	const n = 12
	errs := make(chan error, n)
	reqs := make([]*http.Request, n)
	for i := range reqs {
		data := testData(byte(20+i), merkle.LeafSize)
		reqs[i] = c.build(http.MethodPut, shardURL(merkle.RootOf(data)), "", data)
	}
	for _, req := range reqs {
		go func() {
			_, _, err := c.send(req)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, format.ErrQuotaExceeded):
			t.Errorf("upload: %v", err)
		}
	}
	if ok != 5 {
		t.Fatalf("%d uploads succeeded, want exactly 5 (the quota)", ok)
	}
	if info := c.info(); info.Account.Used != 5*merkle.LeafSize || info.Account.Shards != 5 {
		t.Fatalf("usage = %+v", info.Account)
	}
}

package farmer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// rawClient sends hand-made signed requests to a farmer, so tests can break
// them in every way the real client never would.
type rawClient struct {
	tb   testing.TB
	f    *Farmer
	addr format.Address
	key  ed25519.PrivateKey
	hc   *http.Client
}

func newRawClient(tb testing.TB, f *Farmer, addr format.Address, key ed25519.PrivateKey) *rawClient {
	tb.Helper()
	tr := &http.Transport{TLSClientConfig: format.ClientTLSConfig(addr.ID)}
	tb.Cleanup(tr.CloseIdleConnections)
	return &rawClient{tb: tb, f: f, addr: addr, key: key, hc: &http.Client{Transport: tr}}
}

// now returns a signing time the farmer accepts: after its restart floor,
// which the real client learns from the Shardrive-Not-Before header.
func (c *rawClient) now() time.Time {
	nb := c.f.verifier.NotBefore().Add(time.Millisecond)
	if now := time.Now(); now.After(nb) {
		return now
	}
	return nb
}

func newAccount(tb testing.TB) (ed25519.PrivateKey, format.AccountID) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := format.AccountIDFromKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return priv, id
}

// build returns a request signed now for c's farmer.
func (c *rawClient) build(method, path, query string, body []byte) *http.Request {
	c.tb.Helper()
	u := url.URL{Scheme: "https", Host: c.addr.Host, Path: path, RawQuery: query}
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
	if err != nil {
		c.tb.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	if err := format.Sign(req, signedBodyHash(req, body), c.key, c.addr.ID, c.now()); err != nil {
		c.tb.Fatal(err)
	}
	return req
}

// send sends req and returns the status, the body and the decoded error.
func (c *rawClient) send(req *http.Request) (int, []byte, error) {
	c.tb.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("read body: %v", err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, b, format.ErrorFromResponse(resp.StatusCode, b)
	}
	return resp.StatusCode, b, nil
}

func (c *rawClient) do(method, path, query string, body []byte) (int, []byte, error) {
	c.tb.Helper()
	return c.send(c.build(method, path, query, body))
}

func shardURL(root merkle.Root) string { return "/v1/shards/" + root.String() }

func (c *rawClient) put(data []byte) (merkle.Root, error) {
	c.tb.Helper()
	root := merkle.RootOf(data)
	_, _, err := c.do(http.MethodPut, shardURL(root), "", data)
	return root, err
}

// get fetches and verifies bytes [off, off+n) of root.
func (c *rawClient) get(root merkle.Root, off, n int64) ([]byte, error) {
	c.tb.Helper()
	q := url.Values{"offset": {itoa(off)}, "length": {itoa(n)}}.Encode()
	_, b, err := c.do(http.MethodGet, shardURL(root), q, nil)
	if err != nil {
		return nil, err
	}
	rng, err := format.DecodeRange(b)
	if err != nil {
		c.tb.Fatalf("decode range: %v", err)
	}
	if err := merkle.Verify(root, rng.ShardSize, rng.FirstLeaf, rng.Data, rng.Proof); err != nil {
		c.tb.Fatalf("farmer served bytes that do not verify: %v", err)
	}
	if n < 0 {
		n = rng.ShardSize - off
	}
	start := off - int64(rng.FirstLeaf)*merkle.LeafSize
	return rng.Data[start : start+n], nil
}

func (c *rawClient) info() format.Info {
	c.tb.Helper()
	_, b, err := c.do(http.MethodGet, "/v1/info", "", nil)
	if err != nil {
		c.tb.Fatalf("info: %v", err)
	}
	var info format.Info
	if err := json.Unmarshal(b, &info); err != nil {
		c.tb.Fatal(err)
	}
	return info
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// testData returns n bytes of pseudo-random data, distinct per seed.
func testData(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func testConfig(tb testing.TB) Config {
	cfg := NewConfig()
	cfg.Dir = filepath.Join(tb.TempDir(), "farm")
	cfg.Capacity = 1 << 30
	return cfg
}

// filepathGlob lists the files under the farmer's shard store matching
// pattern (relative to shards/).
func filepathGlob(f *Farmer, pattern string) ([]string, error) {
	return filepath.Glob(filepath.Join(f.store.dir, pattern))
}

// signedBodyHash is the body hash a client signs for req: the shard root for
// an upload (format.ShardBodyHash), BLAKE3 of the body otherwise.
func signedBodyHash(req *http.Request, body []byte) [32]byte {
	if rest, ok := strings.CutPrefix(req.URL.Path, format.PathPrefix+"/shards/"); ok && req.Method == http.MethodPut {
		if root, err := merkle.ParseRoot(rest); err == nil {
			return format.ShardBodyHash(root)
		}
	}
	return format.BodyHash(body)
}

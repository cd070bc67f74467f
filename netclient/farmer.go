package netclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// FarmerConfig configures a FarmerClient. Zero fields take the defaults of
// NewFarmerConfig.
type FarmerConfig struct {
	// Timeout bounds one call, retry and body included. The caller's
	// context can only shorten it.
	Timeout time.Duration
	// DialTimeout bounds the TCP connect and the TLS handshake.
	DialTimeout time.Duration
	// MaxConnsPerHost bounds the connections to the farmer (in use and
	// idle); calls beyond it wait for a connection.
	MaxConnsPerHost int
	// IdleConnTimeout closes keep-alive connections idle this long.
	IdleConnTimeout time.Duration
	// ExpectContinueTimeout is how long an upload waits for the farmer's
	// "100 Continue" before sending the body anyway. The farmer refuses
	// an unwanted upload (quota, full, already stored, bad signature)
	// before the body crosses the wire.
	ExpectContinueTimeout time.Duration
}

// NewFarmerConfig returns the defaults: five minutes a call (a 64 MiB
// shard over a 2 Mbit/s link), ten seconds to connect, eight connections.
func NewFarmerConfig() FarmerConfig {
	return FarmerConfig{
		Timeout:               5 * time.Minute,
		DialTimeout:           10 * time.Second,
		MaxConnsPerHost:       8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Validate reports negative settings.
func (c FarmerConfig) Validate() error {
	if c.Timeout < 0 || c.DialTimeout < 0 || c.MaxConnsPerHost < 0 || c.IdleConnTimeout < 0 || c.ExpectContinueTimeout < 0 {
		return fmt.Errorf("farmer client config: negative setting in %+v", c)
	}
	return nil
}

// withDefaults fills zero (and negative) fields from NewFarmerConfig.
func (c FarmerConfig) withDefaults() FarmerConfig {
	d := NewFarmerConfig()
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.MaxConnsPerHost <= 0 {
		c.MaxConnsPerHost = d.MaxConnsPerHost
	}
	if c.IdleConnTimeout <= 0 {
		c.IdleConnTimeout = d.IdleConnTimeout
	}
	if c.ExpectContinueTimeout <= 0 {
		c.ExpectContinueTimeout = d.ExpectContinueTimeout
	}
	return c
}

// maxJSONBody bounds the JSON answers (info, stat) a client reads.
const maxJSONBody = 64 << 10

// FarmerClient talks to one farmer over HTTPS, pinned to its node ID, and
// signs every request with the account key. It is safe for concurrent
// use. Errors wrap the format sentinels (errors.Is works on farmer
// answers); transport errors come back as they are. It retries only a
// request refused as expired, once, on the farmer's clock; every other
// retry is the caller's decision.
type FarmerClient struct {
	addr format.Address
	key  ed25519.PrivateKey
	cfg  FarmerConfig
	tr   *http.Transport
	hc   *http.Client
	base url.URL

	mu        sync.Mutex    // guards offset, notBefore
	offset    time.Duration // farmer clock minus ours, learned from an expired answer
	notBefore int64         // Unix ms the farmer refuses timestamps at or before
}

// NewFarmerClient returns a client for the farmer at addr acting as the
// account whose key is account (the key derived for this farmer). It does
// not connect until the first call.
func NewFarmerClient(addr format.Address, account ed25519.PrivateKey, cfg FarmerConfig) *FarmerClient {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       format.ClientTLSConfig(addr.ID),
		TLSHandshakeTimeout:   cfg.DialTimeout,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
		IdleConnTimeout:       cfg.IdleConnTimeout,
		ExpectContinueTimeout: cfg.ExpectContinueTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		DisableCompression:    true, // shards are ciphertext
		ForceAttemptHTTP2:     false,
	}
	return &FarmerClient{
		addr: addr,
		key:  account,
		cfg:  cfg,
		tr:   tr,
		hc: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a farmer never redirects
			},
		},
		base: url.URL{Scheme: "https", Host: addr.Host},
	}
}

// Address returns the farmer's address.
func (c *FarmerClient) Address() format.Address { return c.addr }

// Close closes idle connections; calls in flight finish.
func (c *FarmerClient) Close() { c.tr.CloseIdleConnections() }

// Info returns the farmer's identity, space and this account's usage.
func (c *FarmerClient) Info(ctx context.Context) (format.Info, error) {
	var info format.Info
	if err := c.getJSON(ctx, format.PathPrefix+"/info", &info); err != nil {
		return format.Info{}, fmt.Errorf("info from %s: %w", c.addr.Host, err)
	}
	if info.NodeID != c.addr.ID {
		return format.Info{}, fmt.Errorf("info from %s: %w: claims to be %s", c.addr.Host, format.ErrWrongFarmer, info.NodeID)
	}
	return info, nil
}

// PutShard stores data as the shard root. Storing a shard the account
// already holds succeeds without effect. A body that does not hash to root
// is refused with format.ErrHashMismatch.
func (c *FarmerClient) PutShard(ctx context.Context, root merkle.Root, data []byte) error {
	if int64(len(data)) > format.MaxShardSize {
		return fmt.Errorf("put shard %s on %s: %w: %d bytes, at most %d", root, c.addr.Host, format.ErrTooLarge, len(data), format.MaxShardSize)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPut, shardPath(root), nil, data, format.ShardBodyHash(root))
	if err != nil {
		return fmt.Errorf("put shard %s on %s: %w", root, c.addr.Host, err)
	}
	discard(resp)
	return nil
}

// GetShard returns bytes [off, off+n) of the shard root, n < 0 meaning to
// the end. The farmer sends whole leaves and their proof; GetShard checks
// them against root before returning exactly the bytes asked for. A
// farmer whose bytes or proof do not match gets an error wrapping both
// format.ErrHashMismatch and the cause (merkle.ErrProof or
// format.ErrMalformed), so callers fetch elsewhere. A range outside the
// shard wraps merkle.ErrRange. n == 0 returns an empty slice at once.
func (c *FarmerClient) GetShard(ctx context.Context, root merkle.Root, off, n int64) ([]byte, error) {
	data, _, err := c.getShardBody(ctx, root, off, n)
	return data, err
}

// getShardBody is GetShard that also returns the size of the answer's
// body (data, proof and framing) when a 2xx body was read whole, else 0:
// what an audit cost on the wire.
func (c *FarmerClient) getShardBody(ctx context.Context, root merkle.Root, off, n int64) ([]byte, int64, error) {
	if off < 0 || off > format.MaxShardSize || n > format.MaxShardSize {
		return nil, 0, fmt.Errorf("get shard %s from %s: %w: offset %d, length %d", root, c.addr.Host, merkle.ErrRange, off, n)
	}
	if n == 0 {
		return []byte{}, 0, nil
	}
	if n < 0 {
		n = -1
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	q := url.Values{}
	q.Set("offset", strconv.FormatInt(off, 10))
	q.Set("length", strconv.FormatInt(n, 10))
	resp, err := c.do(ctx, http.MethodGet, shardPath(root), q, nil, format.EmptyBodyHash())
	if err != nil {
		return nil, 0, fmt.Errorf("get shard %s from %s: %w", root, c.addr.Host, err)
	}
	body, err := readBody(resp, format.MaxRangeBody)
	if err != nil {
		return nil, int64(len(body)), fmt.Errorf("get shard %s from %s: %w", root, c.addr.Host, err)
	}
	out, err := verifyRange(root, off, n, body)
	if err != nil {
		return nil, int64(len(body)), fmt.Errorf("get shard %s from %s: %w", root, c.addr.Host, err)
	}
	return out, int64(len(body)), nil
}

// verifyRange decodes a range body, verifies it against root and cuts
// bytes [off, off+n) out of it.
func verifyRange(root merkle.Root, off, n int64, body []byte) ([]byte, error) {
	rng, err := format.DecodeRange(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", format.ErrHashMismatch, err)
	}
	// The root binds the size, so once the proof verifies the size is
	// the shard's true size.
	if err := merkle.Verify(root, rng.ShardSize, rng.FirstLeaf, rng.Data, rng.Proof); err != nil {
		return nil, fmt.Errorf("%w: %w", format.ErrHashMismatch, err)
	}
	first, end, err := merkle.LeafRange(rng.ShardSize, off, n)
	if err != nil {
		return nil, err
	}
	if rng.FirstLeaf != first || rng.LeafCount != end-first {
		return nil, fmt.Errorf("%w: farmer sent leaves [%d, %d), asked for [%d, %d)",
			format.ErrHashMismatch, rng.FirstLeaf, rng.FirstLeaf+rng.LeafCount, first, end)
	}
	if n < 0 {
		n = rng.ShardSize - off
	}
	start := off - int64(first)*merkle.LeafSize
	stop := start + n
	return rng.Data[start:stop:stop], nil
}

// DeleteShard deletes the account's copy of root. Deleting a shard the
// account does not hold fails with format.ErrNotFound.
func (c *FarmerClient) DeleteShard(ctx context.Context, root merkle.Root) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodDelete, shardPath(root), nil, nil, format.EmptyBodyHash())
	if err != nil {
		return fmt.Errorf("delete shard %s on %s: %w", root, c.addr.Host, err)
	}
	discard(resp)
	return nil
}

// StatShard reports what the farmer holds of root for this account.
func (c *FarmerClient) StatShard(ctx context.Context, root merkle.Root) (format.ShardStat, error) {
	var st format.ShardStat
	if err := c.getJSON(ctx, shardPath(root)+"/stat", &st); err != nil {
		return format.ShardStat{}, fmt.Errorf("stat shard %s on %s: %w", root, c.addr.Host, err)
	}
	return st, nil
}

func shardPath(root merkle.Root) string { return format.PathPrefix + "/shards/" + root.String() }

func (c *FarmerClient) getJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil, format.EmptyBodyHash())
	if err != nil {
		return err
	}
	body, err := readBody(resp, maxJSONBody)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: response: %v", format.ErrMalformed, err)
	}
	return nil
}

// do sends a signed request and returns a 2xx response, whose body the
// caller must read or discard. A request refused as expired is signed
// again on the farmer's clock and sent once more; any other non-2xx answer
// becomes the error it encodes, returned with the response (its body
// already closed) so the caller can read the answer's headers.
func (c *FarmerClient) do(ctx context.Context, method, path string, query url.Values, body []byte, bodyHash [32]byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		u := c.base
		u.Path = path
		u.RawQuery = query.Encode()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, err
		}
		if method == http.MethodPut {
			req.ContentLength = int64(len(body))
			if len(body) == 0 {
				req.Body = http.NoBody
			}
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Expect", "100-continue")
		}
		if err := format.Sign(req, bodyHash, c.key, c.addr.ID, c.stamp()); err != nil {
			return nil, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, err
		}
		c.learnFloor(resp)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, format.MaxErrorBody+1))
		discard(resp)
		werr := format.ErrorFromResponse(resp.StatusCode, b)
		if attempt == 0 && errors.Is(werr, format.ErrExpired) && c.learnClock(resp) {
			continue
		}
		return resp, werr
	}
}

// stamp returns the time to sign a request with: our clock corrected by
// what the farmer told us, and after the farmer's floor.
func (c *FarmerClient) stamp() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := max(time.Now().Add(c.offset).UnixMilli(), c.notBefore+1)
	return time.UnixMilli(ms)
}

// learnFloor records the farmer's Shardrive-Not-Before.
func (c *FarmerClient) learnFloor(resp *http.Response) {
	nb, ok := headerMillis(resp, format.HeaderNotBefore)
	if !ok {
		return
	}
	c.mu.Lock()
	c.notBefore = max(c.notBefore, nb)
	c.mu.Unlock()
}

// learnClock adopts the farmer's clock and floor from an expired answer,
// replacing what was learned before (the farmer's clock may have gone
// back), and reports whether a retry can be signed differently.
func (c *FarmerClient) learnClock(resp *http.Response) bool {
	ft, ok := headerMillis(resp, format.HeaderTime)
	if !ok {
		return false
	}
	nb, ok := headerMillis(resp, format.HeaderNotBefore)
	if !ok {
		nb = 0
	}
	c.mu.Lock()
	c.offset = time.Duration(ft-time.Now().UnixMilli()) * time.Millisecond
	c.notBefore = nb
	c.mu.Unlock()
	return true
}

func headerMillis(resp *http.Response, name string) (int64, bool) {
	v := resp.Header.Get(name)
	if v == "" || len(v) > 15 {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return ms, true
}

// readBody reads a whole 2xx body of at most limit bytes and closes it.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: response of %d bytes, at most %d", format.ErrMalformed, resp.ContentLength, limit)
	}
	if resp.ContentLength >= 0 {
		b := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: response over %d bytes", format.ErrMalformed, limit)
	}
	return b, nil
}

// discard drains a little of an unread body, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

package netclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
)

func farmerTestKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return priv
}

func farmerTestData(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 7
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func newTestFarmerClient(tb testing.TB, addr format.Address, key ed25519.PrivateKey) *FarmerClient {
	tb.Helper()
	c := NewFarmerClient(addr, key, NewFarmerConfig())
	tb.Cleanup(c.Close)
	return c
}

func TestFarmerClientRoundTrip(t *testing.T) {
	_, addr := farmer.StartTest(t, farmer.Config{})
	c := newTestFarmerClient(t, addr, farmerTestKey(t))
	ctx := t.Context()
	data := farmerTestData(1, 5*merkle.LeafSize+77)
	root := merkle.RootOf(data)
	if err := c.PutShard(ctx, root, data); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := c.PutShard(ctx, root, data); err != nil {
		t.Fatalf("idempotent re-put: %v", err)
	}
	size := int64(len(data))
	for _, tc := range []struct {
		name   string
		off, n int64
	}{
		{"whole", 0, -1},
		{"whole by length", 0, size},
		{"one byte", 100, 1},
		{"leaf edge", merkle.LeafSize - 1, 2},
		{"exact leaf", 2 * merkle.LeafSize, merkle.LeafSize},
		{"tail", size - 77, -1},
		{"last byte", size - 1, 1},
		{"zero length", 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.GetShard(ctx, root, tc.off, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.n
			if n < 0 {
				n = size - tc.off
			}
			if !bytes.Equal(got, data[tc.off:tc.off+n]) {
				t.Fatalf("got %d bytes that differ from the shard's [%d, +%d)", len(got), tc.off, n)
			}
		})
	}
	for _, bad := range [][2]int64{{size, 1}, {size + 1, -1}, {0, size + 1}, {-1, 1}} {
		if _, err := c.GetShard(ctx, root, bad[0], bad[1]); !errors.Is(err, merkle.ErrRange) {
			t.Errorf("GetShard(%d, %d) = %v, want merkle.ErrRange", bad[0], bad[1], err)
		}
	}
	st, err := c.StatShard(ctx, root)
	if err != nil || st.Size != size || st.Created.IsZero() || st.Corrupt {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.NodeID != addr.ID || info.Account.Used != size || info.Account.Shards != 1 || info.Protocol != format.ProtocolVersion {
		t.Fatalf("info = %+v, %v", info, err)
	}
	if err := c.DeleteShard(ctx, root); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetShard(ctx, root, 0, -1); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := c.StatShard(ctx, root); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("stat after delete: %v", err)
	}
	if err := c.DeleteShard(ctx, root); !errors.Is(err, format.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	empty := merkle.RootOf(nil)
	if err := c.PutShard(ctx, empty, nil); err != nil {
		t.Fatalf("put empty shard: %v", err)
	}
	if got, err := c.GetShard(ctx, empty, 0, -1); err != nil || len(got) != 0 {
		t.Fatalf("get empty shard: %q, %v", got, err)
	}
}

// A client pinned to another identity refuses to talk, and nothing is
// stored.
func TestFarmerClientPinning(t *testing.T) {
	f, addr := farmer.StartTest(t, farmer.Config{})
	_, other := farmer.StartTest(t, farmer.Config{})
	key := farmerTestKey(t)
	wrong := format.Address{ID: other.ID, Host: addr.Host}
	c := newTestFarmerClient(t, wrong, key)
	data := farmerTestData(2, 100)
	err := c.PutShard(t.Context(), merkle.RootOf(data), data)
	if !errors.Is(err, format.ErrWrongFarmer) {
		t.Fatalf("put through a wrong pin: %v, want ErrWrongFarmer", err)
	}
	if _, err := c.Info(t.Context()); !errors.Is(err, format.ErrWrongFarmer) {
		t.Fatalf("info through a wrong pin: %v", err)
	}
	right := newTestFarmerClient(t, addr, key)
	if info, err := right.Info(t.Context()); err != nil || info.Used != 0 || info.NodeID != f.ID() {
		t.Fatalf("farmer after refused put: %+v %v", info, err)
	}
}

func TestFarmerClientAccounts(t *testing.T) {
	_, addr := farmer.StartTest(t, farmer.Config{})
	owner := newTestFarmerClient(t, addr, farmerTestKey(t))
	other := newTestFarmerClient(t, addr, farmerTestKey(t))
	ctx := t.Context()
	data := farmerTestData(3, 3*merkle.LeafSize)
	root := merkle.RootOf(data)
	if err := owner.PutShard(ctx, root, data); err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetShard(ctx, root, 0, -1); !errors.Is(err, format.ErrNotFound) {
		t.Errorf("other account read: %v, want not found", err)
	}
	if _, err := other.StatShard(ctx, root); !errors.Is(err, format.ErrNotFound) {
		t.Errorf("other account stat: %v, want not found", err)
	}
	if err := other.DeleteShard(ctx, root); !errors.Is(err, format.ErrNotFound) {
		t.Errorf("other account delete: %v, want not found", err)
	}
	forged := bytes.Clone(data)
	forged[len(forged)-1] ^= 1
	if err := other.PutShard(ctx, root, forged); !errors.Is(err, format.ErrHashMismatch) {
		t.Errorf("other account overwrite: %v, want hash mismatch", err)
	}
	if got, err := owner.GetShard(ctx, root, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("owner's shard after the other account's attempts: %v", err)
	}
}

func TestFarmerClientRefusals(t *testing.T) {
	cfg := farmer.NewConfig()
	cfg.Capacity = 6 * merkle.LeafSize
	cfg.AccountQuota = 4 * merkle.LeafSize
	cfg.MaxShardSize = 3 * merkle.LeafSize
	_, addr := farmer.StartTest(t, cfg)
	a := newTestFarmerClient(t, addr, farmerTestKey(t))
	b := newTestFarmerClient(t, addr, farmerTestKey(t))
	ctx := t.Context()
	put := func(c *FarmerClient, seed byte, n int) error {
		d := farmerTestData(seed, n)
		return c.PutShard(ctx, merkle.RootOf(d), d)
	}
	d := farmerTestData(10, merkle.LeafSize)
	if err := a.PutShard(ctx, merkle.RootOf(farmerTestData(11, merkle.LeafSize)), d); !errors.Is(err, format.ErrHashMismatch) {
		t.Errorf("wrong root: %v, want hash mismatch", err)
	}
	if err := put(a, 12, 3*merkle.LeafSize+1); !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("oversized shard: %v, want too large", err)
	}
	if err := put(a, 13, 3*merkle.LeafSize); err != nil {
		t.Fatal(err)
	}
	if err := put(a, 14, 2*merkle.LeafSize); !errors.Is(err, format.ErrQuotaExceeded) {
		t.Errorf("over quota: %v, want quota exceeded", err)
	}
	if err := put(b, 15, 3*merkle.LeafSize); err != nil {
		t.Fatal(err)
	}
	if err := put(b, 16, 1); !errors.Is(err, format.ErrFarmerFull) {
		t.Errorf("over capacity: %v, want farmer full", err)
	}
	big := make([]byte, format.MaxShardSize+1)
	if err := a.PutShard(ctx, merkle.Root{}, big); !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("shard over the protocol limit: %v", err)
	}
}

// After a restart the farmer refuses timestamps up to its floor; the
// client learns it from the first refusal and retries once.
func TestFarmerClientRestart(t *testing.T) {
	cfg := farmer.NewConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "farm")
	f1, addr := farmer.StartTest(t, cfg)
	key := farmerTestKey(t)
	ctx := t.Context()
	data := farmerTestData(20, 2*merkle.LeafSize+5)
	root := merkle.RootOf(data)
	if err := newTestFarmerClient(t, addr, key).PutShard(ctx, root, data); err != nil {
		t.Fatal(err)
	}
	if err := f1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f2, addr2 := farmer.StartTest(t, cfg)
	if f2.ID() != addr.ID {
		t.Fatalf("identity changed: %s -> %s", addr.ID, f2.ID())
	}
	c := newTestFarmerClient(t, addr2, key)
	got, err := c.GetShard(ctx, root, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get after restart: %v", err)
	}
}

// A client whose clock is far off is refused once, adopts the farmer's
// clock and succeeds.
func TestFarmerClientClockSkew(t *testing.T) {
	_, addr := farmer.StartTest(t, farmer.Config{})
	for _, skew := range []time.Duration{-time.Hour, time.Hour} {
		c := newTestFarmerClient(t, addr, farmerTestKey(t))
		c.offset = skew
		if skew > 0 {
			// As after a farmer whose clock went back: a floor far ahead.
			c.notBefore = time.Now().Add(skew).UnixMilli()
		}
		if _, err := c.Info(t.Context()); err != nil {
			t.Fatalf("skew %v: %v", skew, err)
		}
		if _, err := c.Info(t.Context()); err != nil {
			t.Fatalf("skew %v, second call: %v", skew, err)
		}
	}
}

// A shard that rots on the farmer's disk is refused by the farmer, never
// served.
func TestFarmerClientCorruptOnDisk(t *testing.T) {
	f, addr := farmer.StartTest(t, farmer.Config{})
	key := farmerTestKey(t)
	c := newTestFarmerClient(t, addr, key)
	ctx := t.Context()
	data := farmerTestData(30, 4*merkle.LeafSize)
	root := merkle.RootOf(data)
	if err := c.PutShard(ctx, root, data); err != nil {
		t.Fatal(err)
	}
	acct, err := format.AccountIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	path := f.ShardPath(acct, root)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-merkle.LeafSize-10] ^= 0xff // inside leaf 2
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetShard(ctx, root, 2*merkle.LeafSize, 100); !errors.Is(err, format.ErrCorrupt) {
		t.Fatalf("read of rotten leaf: %v, want ErrCorrupt", err)
	}
	st, err := c.StatShard(ctx, root)
	if err != nil || !st.Corrupt {
		t.Fatalf("stat = %+v, %v; want corrupt", st, err)
	}
	if err := c.PutShard(ctx, root, data); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if got, err := c.GetShard(ctx, root, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after repair: %v", err)
	}
}

// lyingFarmer serves GETs from a handler that can tamper with the range
// body, over real TLS with a real identity: what a malicious farmer can do.
func lyingFarmer(t *testing.T, serve func(off, n int64) []byte) format.Address {
	t.Helper()
	return tlsFarmer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		n, _ := strconv.ParseInt(r.URL.Query().Get("length"), 10, 64)
		w.Header().Set("Content-Type", format.RangeContentType)
		w.Write(serve(off, n))
	}))
}

// tlsFarmer serves h over real TLS with a fresh identity, as a farmer that
// answers whatever it likes would.
func tlsFarmer(t *testing.T, h http.Handler) format.Address {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := format.NodeIDFromKey(pub)
	cert, err := format.ServerCertificate(priv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", format.ServerTLSConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return format.Address{ID: id, Host: ln.Addr().String()}
}

// honestRange is what a correct farmer sends for [off, off+n) of data.
func honestRange(t *testing.T, data []byte, off, n int64) format.Range {
	t.Helper()
	size := int64(len(data))
	first, end, err := merkle.LeafRange(size, off, n)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := merkle.Build(data).Prove(first, end)
	if err != nil {
		t.Fatal(err)
	}
	lo, ln, err := merkle.LeafSpan(size, first, end)
	if err != nil {
		t.Fatal(err)
	}
	return format.Range{ShardSize: size, FirstLeaf: first, LeafCount: end - first, Proof: proof, Data: bytes.Clone(data[lo : lo+ln])}
}

func TestFarmerClientVerifiesRanges(t *testing.T) {
	data := farmerTestData(40, 4*merkle.LeafSize+100)
	root := merkle.RootOf(data)
	encode := func(r format.Range) []byte {
		b, err := format.EncodeRange(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		serve func(t *testing.T, off, n int64) []byte
		also  error
	}{
		{"honest", func(t *testing.T, off, n int64) []byte { return encode(honestRange(t, data, off, n)) }, nil},
		{"flipped data byte", func(t *testing.T, off, n int64) []byte {
			r := honestRange(t, data, off, n)
			r.Data[7] ^= 1
			return encode(r)
		}, merkle.ErrProof},
		{"flipped proof hash", func(t *testing.T, off, n int64) []byte {
			r := honestRange(t, data, off, n)
			r.Proof[0][0] ^= 1
			return encode(r)
		}, merkle.ErrProof},
		{"other leaves, valid proof", func(t *testing.T, off, n int64) []byte {
			return encode(honestRange(t, data, 0, 1))
		}, nil},
		{"lies about size", func(t *testing.T, off, n int64) []byte {
			return encode(honestRange(t, data[:len(data)-1], off, n))
		}, merkle.ErrProof},
		{"other shard", func(t *testing.T, off, n int64) []byte {
			return encode(honestRange(t, farmerTestData(41, len(data)), off, n))
		}, merkle.ErrProof},
		{"garbage", func(t *testing.T, off, n int64) []byte { return []byte("SDRG garbage") }, format.ErrMalformed},
		{"truncated", func(t *testing.T, off, n int64) []byte {
			b := encode(honestRange(t, data, off, n))
			return b[:len(b)-1]
		}, format.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := lyingFarmer(t, func(off, n int64) []byte { return tc.serve(t, off, n) })
			c := newTestFarmerClient(t, addr, farmerTestKey(t))
			const off, n = 2*merkle.LeafSize + 50, 300
			got, err := c.GetShard(t.Context(), root, off, n)
			if tc.name == "honest" {
				if err != nil || !bytes.Equal(got, data[off:off+n]) {
					t.Fatalf("honest farmer: %v", err)
				}
				return
			}
			if !errors.Is(err, format.ErrHashMismatch) {
				t.Fatalf("GetShard = %d bytes, %v; want ErrHashMismatch", len(got), err)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("error %v does not wrap %v", err, tc.also)
			}
		})
	}
}

// The signed request carries the farmer's clock headers back; a context
// deadline cuts a call short.
func TestFarmerClientContext(t *testing.T) {
	_, addr := farmer.StartTest(t, farmer.Config{})
	c := newTestFarmerClient(t, addr, farmerTestKey(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Info(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Info on a canceled context: %v", err)
	}
}

// BenchmarkFarmerClient measures shard upload and whole-shard read over
// loopback TLS against a real farmer (fsync included), 4 MiB shards.
func BenchmarkFarmerClient(b *testing.B) {
	_, addr := farmer.StartTest(b, farmer.Config{})
	c := newTestFarmerClient(b, addr, farmerTestKey(b))
	ctx := context.Background()
	const size = 4 << 20
	b.Run("put", func(b *testing.B) {
		b.SetBytes(size)
		data := farmerTestData(100, size)
		for i := range b.N {
			data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
			if err := c.PutShard(ctx, merkle.RootOf(data), data); err != nil {
				b.Fatal(err)
			}
		}
	})
	data := farmerTestData(200, size)
	root := merkle.RootOf(data)
	if err := c.PutShard(ctx, root, data); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			if _, err := c.GetShard(ctx, root, 0, -1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-64KiB", func(b *testing.B) {
		b.SetBytes(64 << 10)
		for i := range b.N {
			off := int64(i*(64<<10)) % (size - 64<<10)
			if _, err := c.GetShard(ctx, root, off, 64<<10); err != nil {
				b.Fatal(err)
			}
		}
	})
}

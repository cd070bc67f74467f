package drive

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
)

// TestLyingFarmers runs one test per attack class of a malicious farmer over
// the stored bytes: with m liars the file reads back bit-identical (the
// liars are caught and routed around), with m+1 the read fails loudly. It
// never returns wrong bytes.
func TestLyingFarmers(t *testing.T) {
	var liars []*farmer.Liar
	var addrs []format.Address
	for range 6 {
		l, a := farmer.StartLiar(t, farmer.Config{}, nil)
		liars = append(liars, l)
		addrs = append(addrs, a)
	}
	d := newTestDrive(t, 4, 2, addrs)
	bs := d.Settings().BlockSize
	a1 := d.put(t, "/a", randomBytes(3*bs))
	old := blocksOf(t, d, a1.Ino)
	want := randomBytes(3*bs - 1000)
	d.put(t, "/a", want)
	b := d.put(t, "/b", randomBytes(3*bs))
	if err := d.CollectGarbage(ctx); err != nil { // the liars keep what they delete
		t.Fatal(err)
	}
	cur := blocksOf(t, d, a1.Ino)
	other := blocksOf(t, d, b.Ino)

	// where[root] is the place of a current shard of /a: block and shard index.
	type place struct{ block, shard int }
	where := map[merkle.Root]place{}
	for i, blk := range cur {
		for _, s := range blk.Shards {
			where[s.Root] = place{i, s.Index}
		}
	}
	rootOf := func(bl []cache.Block, p place) merkle.Root {
		for _, s := range bl[p.block].Shards {
			if s.Index == p.shard {
				return s.Root
			}
		}
		t.Fatalf("no shard %d in block %d", p.shard, p.block)
		return merkle.Root{}
	}
	// The liars collude: each can serve any shard that any of them holds.
	pooled := func(root merkle.Root) []byte {
		for _, l := range liars {
			if b := l.Held(root); b != nil {
				return b
			}
		}
		return nil
	}
	// substitute serves, for each shard of /a, the shard pick names.
	substitute := func(pick func(p place) merkle.Root) farmer.Lie {
		return func(root merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			shard := pooled
			p, ok := where[root]
			if !ok {
				return nil, false
			}
			sub := shard(pick(p))
			if sub == nil {
				t.Errorf("liar lacks the substitute shard for %v", p)
				return nil, false
			}
			return sub, true
		}
	}
	rewrite := func(fn func(b []byte) []byte) farmer.Lie {
		return func(root merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			if _, ok := where[root]; !ok || stored == nil {
				return nil, false
			}
			return fn(bytes.Clone(stored)), true
		}
	}

	for _, tc := range []struct {
		name string
		lie  farmer.Lie
	}{
		{"flipped bit", rewrite(func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })},
		{"truncated shard", rewrite(func(b []byte) []byte { return b[:len(b)-merkle.LeafSize-3] })},
		{"extended shard", rewrite(func(b []byte) []byte { return append(b, 0) })},
		{"injected bytes", rewrite(func(b []byte) []byte {
			return append(b[:100:100], append([]byte("injected"), b[100:]...)...)
		})},
		{"leaves reordered", rewrite(func(b []byte) []byte {
			l0 := bytes.Clone(b[:merkle.LeafSize])
			copy(b, b[merkle.LeafSize:2*merkle.LeafSize])
			copy(b[merkle.LeafSize:], l0)
			return b
		})},
		{"random bytes under the address", rewrite(func(b []byte) []byte { rand.Read(b); return b })},
		{"dropped shard", func(root merkle.Root, _ []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			_, ok := where[root]
			return nil, ok
		}},
		{"block swapped within the file", substitute(func(p place) merkle.Root {
			return rootOf(cur, place{(p.block + 1) % len(cur), p.shard})
		})},
		{"block swapped from another file", substitute(func(p place) merkle.Root { return rootOf(other, p) })},
		{"old version replayed", substitute(func(p place) merkle.Root { return rootOf(old, p) })},
		{"shards spliced from two blocks", func(root merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			p, ok := where[root]
			if !ok {
				return nil, false
			}
			sub := pooled(rootOf(cur, place{(p.block + 1) % len(cur), p.shard}))
			half := len(stored) / 2
			return append(bytes.Clone(stored[:half]), sub[half:]...), true
		}},
		{"shard under another shard's address", substitute(func(p place) merkle.Root {
			return rootOf(cur, place{p.block, (p.shard + 1) % 6})
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				for _, l := range liars {
					l.SetLie(nil)
				}
			}()
			liars[1].SetLie(tc.lie)
			liars[4].SetLie(tc.lie)
			got, err := d.get(t, "/a")
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("with 2 lying farmers of 6 (m=2): %v, bytes equal %v", err, bytes.Equal(got, want))
			}
			liars[2].SetLie(tc.lie)
			if _, err := d.get(t, "/a"); err == nil {
				t.Fatal("with 3 lying farmers of 6 (m=2) the read succeeded")
			} else if errors.Is(err, cache.ErrNotFound) {
				t.Fatalf("the failure is misreported as a missing file: %v", err)
			}
		})
	}
}

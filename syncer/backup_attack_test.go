package syncer_test

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/core/meta"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// Farmers are the adversary of the metadata backup. Each case below has
// every farmer (or more than m of them) serve metadata that an attacker
// could produce, and checks that recovery refuses it loudly and that a
// running client keeps its own state. Names, sizes, times and types cannot
// be moved or changed without the keys: every one of these attacks ends at
// the root's signature, a Merkle root named by it, or a GCM tag.

// metaShards returns the shard roots of every metadata object part.
func metaShards(t *testing.T, db *cache.DB) map[merkle.Root]bool {
	t.Helper()
	out := map[merkle.Root]bool{}
	must(t, db.View(ctx, func(tx *cache.Tx) error {
		objs, err := tx.BackupObjects()
		for _, o := range objs {
			for _, p := range o.Parts {
				for _, s := range p.Shards {
					out[s.Root] = true
				}
			}
		}
		return err
	}))
	return out
}

// serveInstead makes every liar answer reads of the current metadata
// shards with the bytes substitute gives (nil: honest).
func serveInstead(liars []*farmer.Liar, targets map[merkle.Root]bool, substitute func(merkle.Root, []byte) []byte) {
	var mu sync.Mutex
	for _, l := range liars {
		l.SetLie(func(root merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
			if !targets[root] || stored == nil {
				return nil, false
			}
			mu.Lock()
			defer mu.Unlock()
			lies.Add(1)
			return substitute(root, stored), true
		})
	}
}

// lies counts the answers serveInstead changed: an attack that never ran
// proves nothing.
var lies atomic.Int64

func TestRestoreRefusesTamperedMetadata(t *testing.T) {
	for _, tc := range []struct {
		name   string
		attack func(t *testing.T, liars []*farmer.Liar, s *stack, old map[merkle.Root][]byte)
	}{
		{"flipped bits in the metadata shards", func(t *testing.T, liars []*farmer.Liar, s *stack, _ map[merkle.Root][]byte) {
			serveInstead(liars, metaShards(t, s.db), func(_ merkle.Root, b []byte) []byte {
				b = bytes.Clone(b)
				b[len(b)/2] ^= 1
				return b
			})
		}},
		{"an older object replayed (names moved, sizes, times and types changed since)", func(t *testing.T, liars []*farmer.Liar, s *stack, old map[merkle.Root][]byte) {
			var olds [][]byte
			for _, b := range old {
				olds = append(olds, b)
			}
			if len(olds) == 0 {
				t.Fatal("no old shards kept to replay")
			}
			i := 0
			serveInstead(liars, metaShards(t, s.db), func(_ merkle.Root, _ []byte) []byte {
				i++
				return olds[i%len(olds)]
			})
		}},
		{"an object forged under other keys with an injected entry", func(t *testing.T, liars []*farmer.Liar, s *stack, _ map[merkle.Root][]byte) {
			forged := forgedShards(t)
			serveInstead(liars, metaShards(t, s.db), func(_ merkle.Root, b []byte) []byte {
				return forged[len(b)%len(forged)]
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			liars, addrs := startFarmers(t, 3)
			keys := crypto.NewTestKeys(t, "drive")
			s := newDrive(t, keys, addrs)
			addFiles(t, s.db, "a", 30)
			must(t, s.backup.Round(ctx))
			// Keep the bytes of the first objects' shards: what a farmer
			// could replay later.
			old := objectShards(t, s)
			must(t, s.db.Update(ctx, func(tx *cache.Tx) error {
				_, _, err := tx.Rename(cache.RootIno, "a", cache.RootIno, "renamed", cache.RenameReplace, nil)
				return err
			}))
			addFiles(t, s.db, "b", 5)
			// A checkpoint from scratch: the current objects share no part
			// with the old ones.
			must(t, s.db.Update(ctx, func(tx *cache.Tx) error {
				objs, err := tx.BackupObjects()
				if err != nil {
					return err
				}
				return tx.DropBackupObjects(objs)
			}))
			must(t, s.backup.Round(ctx))
			tc.attack(t, liars, s, old)
			lies.Store(0)

			_, _, err := recoverInto(t, keys, addrs[0])
			if err == nil {
				t.Fatal("recovery accepted tampered metadata")
			}
			if !errors.Is(err, syncer.ErrUnavailable) && !errors.Is(err, syncer.ErrDamaged) {
				t.Fatalf("recovery failed with %v, want a refusal naming unavailable or damaged metadata", err)
			}
			if lies.Load() == 0 {
				t.Fatal("no farmer lied: the attack did not run")
			}
			// The running client keeps its own state: nothing it holds
			// came from the farmers, and its next round still works.
			before := dump(t, s.db)
			for _, l := range liars {
				l.SetLie(nil)
			}
			must(t, s.backup.Round(ctx))
			if got := dump(t, s.db); !reflect.DeepEqual(got, before) {
				t.Fatal("the running client's metadata changed")
			}
		})
	}
}

// forgedShards builds the shards of a metadata object an attacker made
// under its own keys, with an entry injected into the root folder.
func forgedShards(t *testing.T) [][]byte {
	t.Helper()
	_, addrs := startFarmers(t, 3)
	attacker := crypto.NewTestKeys(t, "attacker")
	s := newDrive(t, attacker, addrs)
	addFiles(t, s.db, "injected", 1)
	must(t, s.backup.Round(ctx))
	var out [][]byte
	for _, b := range objectShards(t, s) {
		out = append(out, b)
	}
	return out
}

// objectShards fetches the shards of the metadata objects s's root names.
func objectShards(t *testing.T, s *stack) map[merkle.Root][]byte {
	t.Helper()
	out := map[merkle.Root][]byte{}
	must(t, s.db.View(ctx, func(tx *cache.Tx) error {
		farmers, err := tx.Farmers()
		if err != nil {
			return err
		}
		node := map[int64]string{}
		for _, f := range farmers {
			node[f.ID] = f.NodeID
		}
		objs, err := tx.BackupObjects()
		if err != nil {
			return err
		}
		for _, o := range objs {
			for _, p := range o.Parts {
				var locs []netclient.ShardLoc
				for _, sh := range p.Shards {
					id, err := format.ParseNodeID(node[int64(sh.Farmer)])
					if err != nil {
						return err
					}
					locs = append(locs, netclient.ShardLoc{Shard: sh.Index, Root: sh.Root, Farmer: id})
				}
				pieces, err := s.net.Fetch(ctx, locs, len(locs), 0, -1)
				if err != nil {
					return err
				}
				for _, l := range locs {
					if pieces[l.Shard] != nil {
						out[l.Root] = pieces[l.Shard]
					}
				}
			}
		}
		return nil
	}))
	if len(out) == 0 {
		t.Fatal("no metadata shards fetched")
	}
	return out
}

func TestRunningClientIgnoresForgedAndOlderRoots(t *testing.T) {
	liars, addrs := startFarmers(t, 3)
	keys := crypto.NewTestKeys(t, "drive")
	s := newDrive(t, keys, addrs)
	addFiles(t, s.db, "a", 3)
	must(t, s.backup.Round(ctx))
	for _, l := range liars {
		l.FreezeRoot() // from now on, a rollback to this root
	}
	addFiles(t, s.db, "b", 3)
	must(t, s.backup.Round(ctx))
	// Every farmer rolls back: the running client does not take it for
	// another device's root, and keeps its version.
	if err := s.backup.CheckLease(ctx); err != nil {
		t.Fatalf("check lease against rolled-back roots: %v", err)
	}
	// Every farmer serves a higher root under other keys (key overwrite).
	other := crypto.NewTestKeys(t, "attacker")
	forged, err := meta.SealRoot(&meta.Root{Version: 1000, DataShards: 2, ParityShards: 1, BlockSize: 256 << 10, Device: [16]byte{6}},
		other.RootSealKey(), other.RootSigningKey())
	must(t, err)
	for _, l := range liars {
		l.ServeRoot(1000, forged)
	}
	if err := s.backup.CheckLease(ctx); err != nil {
		t.Fatalf("check lease against forged roots: %v", err)
	}
	st, err := s.backup.Status(ctx)
	must(t, err)
	if st.LostTo != "" || st.Version != 2 {
		t.Fatalf("status after forged and older roots: %+v", st)
	}
	if _, err := syncer.FindRoot(ctx, addrs[0], keys, netConfig(), slog.New(slog.DiscardHandler)); !errors.Is(err, syncer.ErrNoBackup) {
		t.Fatalf("recovery from forged roots only: %v, want ErrNoBackup", err)
	}
}

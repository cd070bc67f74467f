package syncer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/farmer"
	"github.com/shardrive/shardrive/syncer"
)

// keeperDrive is a 4+2 drive over eight real farmers with nblocks stored
// blocks of 256 KiB (64 KiB shards: four Merkle leaves each).
type keeperDrive struct {
	*stack
	liars  []*farmer.Liar
	file   syncer.File
	blocks []cache.Block
	plain  [][]byte
}

func newKeeperDrive(t *testing.T, nblocks int) *keeperDrive {
	t.Helper()
	liars, addrs := startFarmers(t, 8)
	keys := crypto.NewTestKeys(t, "keeper")
	d := &keeperDrive{stack: newDriveKM(t, keys, addrs, 4, 2), liars: liars}
	must(t, d.db.Update(ctx, func(tx *cache.Tx) (err error) {
		now := time.Now()
		d.file.Ino, err = tx.CreateInode(cache.Inode{Kind: cache.KindFile, Mode: 0o644, Atime: now, Mtime: now, Ctime: now,
			FileID: make([]byte, 16), FileKey: make([]byte, 40)})
		if err != nil {
			return err
		}
		return tx.Link(cache.RootIno, "f", d.file.Ino)
	}))
	d.file.ID, d.file.Sealer = [16]byte{7}, crypto.NewSealer(&crypto.Key{7})
	for i := range nblocks {
		plain := make([]byte, 256<<10)
		rand.Read(plain)
		st, err := d.stack.blocks.Store(ctx, d.file, int64(i), plain)
		must(t, err)
		must(t, d.db.Update(ctx, func(tx *cache.Tx) error {
			if err := tx.PutBlock(st.Block); err != nil {
				return err
			}
			return tx.DropPending(st.Pending...)
		}))
		d.plain = append(d.plain, plain)
	}
	return d
}

func (d *keeperDrive) keeper(t *testing.T, cfg syncer.KeeperConfig) *syncer.Keeper {
	t.Helper()
	k, err := syncer.NewKeeper(d.db, d.stack.blocks, d.net, cfg)
	must(t, err)
	must(t, k.ApplyStates(ctx))
	return k
}

// state returns the state of the farmer at liars[i].
func (d *keeperDrive) state(t *testing.T, i int) cache.Health {
	t.Helper()
	var hs []cache.Health
	must(t, d.db.View(ctx, func(tx *cache.Tx) (err error) { hs, err = tx.Healths(); return err }))
	id := d.liars[i].ID().String()
	for _, h := range hs {
		if h.NodeID == id {
			return h
		}
	}
	t.Fatalf("farmer %d not in the drive", i)
	return cache.Health{}
}

// lowest returns the fewest healthy shards of any block.
func (d *keeperDrive) lowest(t *testing.T) int {
	t.Helper()
	var below []cache.BlockRef
	must(t, d.db.View(ctx, func(tx *cache.Tx) (err error) { below, err = tx.BlocksBelow(7, 1); return err }))
	if len(below) == 0 {
		return 6
	}
	return below[0].Healthy
}

// readAll loads every block from the farmers and compares it.
func (d *keeperDrive) readAll(t *testing.T) {
	t.Helper()
	var blks []cache.Block
	must(t, d.db.View(ctx, func(tx *cache.Tx) (err error) { blks, err = tx.Blocks(d.file.Ino); return err }))
	for i, b := range blks {
		got, err := d.stack.blocks.Load(ctx, d.file, b, nil)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if !bytes.Equal(got, d.plain[i]) {
			t.Fatalf("block %d reads back different bytes", i)
		}
	}
}

func testKeeperConfig() syncer.KeeperConfig {
	c := syncer.NewKeeperConfig()
	c.AuditsPerFarmer = 6
	c.AuditInterval = time.Hour // rounds are run by hand
	return c
}

// A farmer that silently deletes every shard and one that dropped the
// second half of each shard are caught by audits, disqualified, and their
// blocks repaired before any block falls below k; the drive then reads
// back bit-identical without them. (Two cheaters of eight: a 4+2 block
// needs six honest farmers to be whole again.)
func TestKeeperCatchesCheatersAndRepairs(t *testing.T) {
	d := newKeeperDrive(t, 24)
	d.liars[1].DropShards(farmer.ShardFraction(1))
	d.liars[6].SetLie(func(_ merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
		return stored[:len(stored)/2], true // the second half was dropped
	})
	k := d.keeper(t, testKeeperConfig())
	cheaters := []int{1, 6}
	for round := 0; round < 10; round++ {
		rep, err := k.AuditRound(ctx)
		must(t, err)
		for _, f := range rep.Farmers {
			t.Logf("round %d: %s passed %d failed %d unanswered %d state %s", round, f.Address, f.Passed, f.Failed, f.Unanswered, f.State)
		}
		if low := d.lowest(t); low < 4 {
			t.Fatalf("round %d: a block fell to %d healthy shards before repair", round, low)
		}
		_, err = k.Repair(ctx)
		must(t, err)
		done := true
		for _, i := range cheaters {
			if d.state(t, i).State != cache.StateDisqualified {
				done = false
			}
		}
		if done {
			break
		}
	}
	for _, i := range cheaters {
		if h := d.state(t, i); h.State != cache.StateDisqualified {
			t.Fatalf("cheater %d is %s after 10 rounds (audits %d passed, %d failed)", i, h.State, h.AuditsPassed, h.AuditsFailed)
		}
	}
	for i := range d.liars {
		if h := d.state(t, i); h.State != cache.StateDisqualified && h.AuditsFailed > 0 {
			t.Fatalf("honest farmer %d failed %d audits", i, h.AuditsFailed)
		}
	}
	rep, err := k.Repair(ctx)
	must(t, err)
	if rep.Remaining != 0 || d.lowest(t) != 6 {
		t.Fatalf("after repair: %d blocks below the threshold, lowest %d healthy", rep.Remaining, d.lowest(t))
	}
	for _, i := range cheaters {
		if h := d.state(t, i); h.HeldShards != 0 {
			t.Fatalf("disqualified farmer %d still holds %d shards in the metadata", i, h.HeldShards)
		}
	}
	d.readAll(t)
}

// A farmer that kept only each shard's Merkle tree (the leaf hashes) and
// serves zeros in place of the bytes fails every audit: an audit wants a
// leaf's bytes, which the hashes cannot give back.
func TestKeeperFailsHashOnlyFarmer(t *testing.T) {
	d := newKeeperDrive(t, 8)
	d.liars[3].SetLie(func(_ merkle.Root, stored []byte, _ func(merkle.Root) []byte) ([]byte, bool) {
		return make([]byte, len(stored)), true
	})
	k := d.keeper(t, testKeeperConfig())
	rep, err := k.AuditRound(ctx)
	must(t, err)
	for i, f := range rep.Farmers {
		cheat := f.NodeID == d.liars[3].ID().String()
		switch {
		case cheat && (f.Passed != 0 || f.Failed == 0 || f.Lost == 0 || f.Lost > f.Failed):
			t.Fatalf("hash-only farmer: %+v", f)
		case !cheat && f.Failed != 0:
			t.Fatalf("honest farmer %d failed: %+v", i, f)
		}
	}
	st, _ := k.Stats()
	t.Logf("audits: %d, %d bytes, %v: %.0f bytes and %v per audit", st.Audits, st.AuditBytes, st.AuditTime,
		float64(st.AuditBytes)/float64(st.Audits), st.AuditTime/time.Duration(st.Audits))
}

// A farmer that answers everything but audits is held to the same
// challenge round after round and fails it after MaxAuditTries, instead of
// being excused as offline.
func TestKeeperHoldsAuditDodger(t *testing.T) {
	d := newKeeperDrive(t, 4)
	d.liars[2].SetDodge(farmer.DodgePartialReads(farmer.DodgeInternal))
	cfg := testKeeperConfig()
	cfg.AuditsPerFarmer = 1
	k := d.keeper(t, cfg)
	h := d.state(t, 2)
	var first cache.Challenge
	for try := 1; try < cfg.MaxAuditTries; try++ {
		_, err := k.AuditRound(ctx)
		must(t, err)
		var c cache.Challenge
		must(t, d.db.View(ctx, func(tx *cache.Tx) (err error) { c, err = tx.Challenge(h.ID); return err }))
		if try == 1 {
			first = c
		} else if c.Root != first.Root || c.Leaf != first.Leaf {
			t.Fatalf("round %d: the dodger got a new challenge instead of being held to the first", try)
		}
		if c.Tries != try {
			t.Fatalf("round %d: %d tries recorded", try, c.Tries)
		}
		if st := d.state(t, 2); st.AuditsFailed != 0 || !st.DownSince.IsZero() {
			t.Fatalf("round %d: dodger judged early (failed %d) or taken for down", try, st.AuditsFailed)
		}
	}
	_, err := k.AuditRound(ctx)
	must(t, err)
	if st := d.state(t, 2); st.AuditsFailed != 1 {
		t.Fatalf("after %d unanswered tries: %d audits failed, want 1", cfg.MaxAuditTries, st.AuditsFailed)
	}
	// Whole reads still work: the dodger's blocks read back, and the
	// shard it would not prove counts as lost until repaired.
	d.readAll(t)
	if d.lowest(t) != 5 {
		t.Fatalf("the unproven shard should count as lost: lowest %d healthy", d.lowest(t))
	}
}

// Two farmers that go away for good are disqualified once unreachable for
// DisqualifyOffline, their shards rebuilt on the other six, and every
// block reads back bit-identical without them.
func TestKeeperRepairsAroundLostFarmers(t *testing.T) {
	d := newKeeperDrive(t, 16)
	cfg := testKeeperConfig()
	cfg.SuspendOffline, cfg.DisqualifyOffline = time.Millisecond, 2*time.Millisecond
	k := d.keeper(t, cfg)
	for _, i := range []int{0, 3} {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		must(t, d.liars[i].Shutdown(sctx))
		cancel()
	}
	for round := 0; round < 3; round++ {
		_, err := k.AuditRound(ctx)
		must(t, err)
		time.Sleep(5 * time.Millisecond) // past DisqualifyOffline
	}
	for _, i := range []int{0, 3} {
		if h := d.state(t, i); h.State != cache.StateDisqualified {
			t.Fatalf("farmer %d gone for good is %s", i, h.State)
		}
	}
	rep, err := k.Repair(ctx)
	must(t, err)
	if rep.Remaining != 0 || rep.Shards == 0 {
		t.Fatalf("repair: %+v", rep)
	}
	t.Logf("repaired %d blocks, %d shards, %d bytes", rep.Blocks, rep.Shards, rep.Bytes)
	d.readAll(t)
	est, err := k.Estimate(ctx)
	must(t, err)
	if est.BlockLossPerYear <= 0 || est.BlockLossPerYear >= 1 || est.Availability <= 0 {
		t.Fatalf("estimate: %+v", est)
	}
	t.Logf("durability: %+v", est)
}

// A farmer the user removes gets no new shards, is drained by repair and
// then marked removed; no block loses a shard on the way.
func TestKeeperDrainsRemovedFarmer(t *testing.T) {
	d := newKeeperDrive(t, 8)
	k := d.keeper(t, testKeeperConfig())
	h := d.state(t, 5)
	if h.HeldShards == 0 {
		t.Fatal("farmer 5 holds nothing to drain")
	}
	must(t, d.db.Update(ctx, func(tx *cache.Tx) error { return tx.SetFarmerState(h.ID, cache.StateRemoving, "test") }))
	must(t, k.ApplyStates(ctx))
	rep, err := k.Repair(ctx)
	must(t, err)
	if rep.Shards != int(h.HeldShards) {
		t.Fatalf("drained %d shards, farmer held %d", rep.Shards, h.HeldShards)
	}
	if st := d.state(t, 5); st.State != cache.StateRemoved || st.HeldShards != 0 {
		t.Fatalf("after drain: %s holding %d", st.State, st.HeldShards)
	}
	d.readAll(t)
}

package cache

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Farmer states. Only active farmers receive new shards; suspended ones are
// still read and audited and their shards still count as healthy;
// disqualified and removing farmers' shards are repaired elsewhere, after
// which a removing farmer becomes removed. The state is part of the
// backed-up metadata, so a recovered drive does not trust a farmer it had
// given up on.
const (
	StateActive       = "active"
	StateSuspended    = "suspended"
	StateDisqualified = "disqualified"
	StateRemoving     = "removing"
	StateRemoved      = "removed"
)

// Holds reports whether a farmer in state s still counts as holding its
// shards: it is read from and its shards need no repair.
func Holds(state string) bool { return state == StateActive || state == StateSuspended }

// Health is what the client knows of a farmer's honesty and availability,
// and what it believes it owes the farmer. The reputation arithmetic lives in
// the syncer; the cache only keeps the figures.
type Health struct {
	Farmer
	AuditsPassed int64
	AuditsFailed int64
	// AuditAlpha and AuditBeta are the decayed counts of passed and failed
	// audits (a beta-distribution reputation); UpAlpha and UpBeta the same
	// for availability checks.
	AuditAlpha, AuditBeta float64
	UpAlpha, UpBeta       float64
	Checks                int64
	DownSince             time.Time // zero while the farmer answers
	StateSince            time.Time
	StateReason           string
	Region                string
	LostShards            int64 // shards found missing or wrong on this farmer, ever

	// Held is what the metadata places on the farmer now: committed shards
	// of file blocks and of metadata backup objects.
	HeldShards int64
	HeldBytes  int64

	Ledger Ledger
}

// Ledger is what the client believes it owes a farmer, to be settled against
// the farmer's own accounting (format.AccountUsage).
type Ledger struct {
	ByteHours float64 // committed shard bytes times hours held, accrued to Accrued
	Ingress   int64   // shard bytes uploaded and kept
	Egress    int64   // shard bytes downloaded
	Accrued   time.Time
}

// Healths returns every farmer with its figures and the shards it holds.
func (t *Tx) Healths() ([]Health, error) {
	fs, err := t.Farmers()
	if err != nil {
		return nil, err
	}
	held, err := t.heldByFarmer()
	if err != nil {
		return nil, err
	}
	out := make([]Health, 0, len(fs))
	for _, f := range fs {
		h := Health{Farmer: f}
		var down, since, accrued int64
		err := t.queryRow(`SELECT audits_passed, audits_failed, audit_alpha, audit_beta, up_alpha, up_beta, checks,
			down_since, state_since, state_reason, region, lost_shards, owed_byte_hours, owed_ingress, owed_egress, accrued
			FROM farmers WHERE id = ?`, f.ID).Scan(&h.AuditsPassed, &h.AuditsFailed, &h.AuditAlpha, &h.AuditBeta,
			&h.UpAlpha, &h.UpBeta, &h.Checks, &down, &since, &h.StateReason, &h.Region, &h.LostShards,
			&h.Ledger.ByteHours, &h.Ledger.Ingress, &h.Ledger.Egress, &accrued)
		if err != nil {
			return nil, fmt.Errorf("farmer %s: %w", f.Address, err)
		}
		h.DownSince, h.StateSince, h.Ledger.Accrued = unixTime(down), unixTime(since), unixTime(accrued)
		h.HeldShards, h.HeldBytes = held[f.ID][0], held[f.ID][1]
		out = append(out, h)
	}
	return out, nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// heldByFarmer returns farmer id -> {shards, bytes} over file blocks and
// backup objects.
func (t *Tx) heldByFarmer() (map[int64][2]int64, error) {
	out := make(map[int64][2]int64)
	rows, err := t.query(`SELECT s.farmer, count(*), sum(b.shard_len) FROM shards s
		JOIN blocks b ON b.ino = s.ino AND b.idx = s.idx GROUP BY s.farmer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, n, bytes int64
		if err := rows.Scan(&id, &n, &bytes); err != nil {
			return nil, err
		}
		out[id] = [2]int64{n, bytes}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	objs, err := t.BackupObjects()
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		for _, p := range o.Parts {
			for _, s := range p.Shards {
				v := out[int64(s.Farmer)]
				out[int64(s.Farmer)] = [2]int64{v[0] + 1, v[1] + int64(p.ShardLen)}
			}
		}
	}
	return out, nil
}

// SaveHealth stores the reputation and availability figures of h (not its
// state: SetFarmerState changes that).
func (t *Tx) SaveHealth(h Health) error {
	_, err := t.exec(`UPDATE farmers SET audits_passed = ?, audits_failed = ?, audit_alpha = ?, audit_beta = ?,
		up_alpha = ?, up_beta = ?, checks = ?, down_since = ?, region = ? WHERE id = ?`,
		h.AuditsPassed, h.AuditsFailed, h.AuditAlpha, h.AuditBeta, h.UpAlpha, h.UpBeta, h.Checks,
		unixNano(h.DownSince), h.Region, h.ID)
	return err
}

// SetFarmerState moves farmer id to state, saying why.
func (t *Tx) SetFarmerState(id int64, state, reason string) error {
	switch state {
	case StateActive, StateSuspended, StateDisqualified, StateRemoving, StateRemoved:
	default:
		return fmt.Errorf("farmer state %q unknown", state)
	}
	res, err := t.exec("UPDATE farmers SET state = ?, state_since = ?, state_reason = ? WHERE id = ?",
		state, time.Now().UnixNano(), reason, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("farmer %d: %w", id, ErrNotFound)
	}
	return nil
}

// Challenge is the audit a farmer is held to: one leaf of one shard. It
// stays until the farmer answers it, so a farmer cannot dodge an audit by
// timing out until a different one comes along.
type Challenge struct {
	Farmer   int64
	Root     [32]byte
	ShardLen int64
	Leaf     int
	Issued   time.Time
	Tries    int
}

// Challenge returns the audit farmer is held to, or ErrNotFound.
func (t *Tx) Challenge(farmer int64) (Challenge, error) {
	c := Challenge{Farmer: farmer}
	var root []byte
	var issued int64
	err := t.queryRow("SELECT root, shard_len, leaf, issued, tries FROM audits WHERE farmer = ?", farmer).
		Scan(&root, &c.ShardLen, &c.Leaf, &issued, &c.Tries)
	if err != nil {
		return c, notFound(err, fmt.Sprintf("audit of farmer %d", farmer))
	}
	if len(root) != len(c.Root) {
		return c, fmt.Errorf("audit of farmer %d: root is %d bytes", farmer, len(root))
	}
	copy(c.Root[:], root)
	c.Issued = time.Unix(0, issued)
	return c, nil
}

// PutChallenge records c as the audit its farmer is held to (replacing any).
func (t *Tx) PutChallenge(c Challenge) error {
	_, err := t.exec(`INSERT INTO audits(farmer, root, shard_len, leaf, issued, tries) VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(farmer) DO UPDATE SET root = excluded.root, shard_len = excluded.shard_len, leaf = excluded.leaf,
		issued = excluded.issued, tries = excluded.tries`, c.Farmer, c.Root[:], c.ShardLen, c.Leaf, unixNano(c.Issued), c.Tries)
	return err
}

// DropChallenge settles farmer's audit.
func (t *Tx) DropChallenge(farmer int64) error {
	_, err := t.exec("DELETE FROM audits WHERE farmer = ?", farmer)
	return err
}

// HeldShard is one committed shard on a farmer.
type HeldShard struct {
	Ino, Index int64 // the block; Ino 0 for a metadata backup object
	Shard      int
	Root       [32]byte
	ShardLen   int64
}

// RandomShards returns up to n shards of file blocks committed on farmer,
// chosen at random: the audit sample.
func (t *Tx) RandomShards(farmer int64, n int) ([]HeldShard, error) {
	return t.heldShards(`SELECT s.ino, s.idx, s.shard, s.root, b.shard_len FROM shards s
		JOIN blocks b ON b.ino = s.ino AND b.idx = s.idx WHERE s.farmer = ? ORDER BY random() LIMIT ?`, farmer, n)
}

// ShardsOn returns farmer's committed shards of file blocks after the
// block (ino, idx), in block order, at most limit: verify --full pages
// through them.
func (t *Tx) ShardsOn(farmer, afterIno, afterIdx int64, limit int) ([]HeldShard, error) {
	return t.heldShards(`SELECT s.ino, s.idx, s.shard, s.root, b.shard_len FROM shards s
		JOIN blocks b ON b.ino = s.ino AND b.idx = s.idx WHERE s.farmer = ? AND (s.ino, s.idx) > (?, ?)
		ORDER BY s.ino, s.idx LIMIT ?`, farmer, afterIno, afterIdx, limit)
}

func (t *Tx) heldShards(q string, args ...any) ([]HeldShard, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HeldShard
	for rows.Next() {
		var h HeldShard
		var root []byte
		if err := rows.Scan(&h.Ino, &h.Index, &h.Shard, &root, &h.ShardLen); err != nil {
			return nil, err
		}
		if len(root) != len(h.Root) {
			return nil, fmt.Errorf("inode %d block %d shard %d: root is %d bytes", h.Ino, h.Index, h.Shard, len(root))
		}
		copy(h.Root[:], root)
		out = append(out, h)
	}
	return out, rows.Err()
}

// MarkLost records that farmer no longer holds root (an audit or a read
// found it missing or wrong); the blocks that use it become candidates for
// repair. It reports whether the loss is new.
func (t *Tx) MarkLost(farmer int64, root [32]byte) (bool, error) {
	res, err := t.exec("INSERT INTO lost(farmer, root, found) VALUES(?, ?, ?) ON CONFLICT DO NOTHING",
		farmer, root[:], time.Now().UnixNano())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		if _, err := t.exec("UPDATE farmers SET lost_shards = lost_shards + 1 WHERE id = ?", farmer); err != nil {
			return false, err
		}
	}
	return n > 0, nil
}

// IsLost reports whether farmer is known to have lost root.
func (t *Tx) IsLost(farmer int64, root [32]byte) (bool, error) {
	var one int
	err := t.queryRow("SELECT 1 FROM lost WHERE farmer = ? AND root = ?", farmer, root[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// healthySQL counts, per block, the shards on farmers that hold them and
// that are not known lost.
const healthySQL = `SELECT s.ino, s.idx, count(*) AS n FROM shards s JOIN farmers f ON f.id = s.farmer
	WHERE f.state IN ('active', 'suspended')
	AND NOT EXISTS (SELECT 1 FROM lost l WHERE l.farmer = s.farmer AND l.root = s.root)
	GROUP BY s.ino, s.idx`

// BlockRef names a block.
type BlockRef struct {
	Ino, Index int64
	Healthy    int // healthy shards when listed
}

// BlocksBelow returns up to limit blocks with fewer than threshold healthy
// shards, fewest first: the repair queue.
func (t *Tx) BlocksBelow(threshold, limit int) ([]BlockRef, error) {
	rows, err := t.query(`SELECT b.ino, b.idx, coalesce(h.n, 0) FROM blocks b
		LEFT JOIN (`+healthySQL+`) h ON h.ino = b.ino AND h.idx = b.idx
		WHERE coalesce(h.n, 0) < ? ORDER BY coalesce(h.n, 0), b.ino, b.idx LIMIT ?`, threshold, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BlockRef
	for rows.Next() {
		var r BlockRef
		if err := rows.Scan(&r.Ino, &r.Index, &r.Healthy); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// HealthCounts returns how many blocks have each number of healthy shards.
func (t *Tx) HealthCounts() (map[int]int64, error) {
	rows, err := t.query(`SELECT coalesce(h.n, 0), count(*) FROM blocks b
		LEFT JOIN (` + healthySQL + `) h ON h.ino = b.ino AND h.idx = b.idx GROUP BY coalesce(h.n, 0)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int]int64)
	for rows.Next() {
		var n int
		var c int64
		if err := rows.Scan(&n, &c); err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, rows.Err()
}

// Healthy reports whether shard s of a block counts as held: its farmer
// holds shards and it is not known lost.
func (t *Tx) Healthy(s Shard) (bool, error) {
	var state string
	if err := t.queryRow("SELECT state FROM farmers WHERE id = ?", s.Farmer).Scan(&state); err != nil {
		return false, notFound(err, fmt.Sprintf("farmer %d", s.Farmer))
	}
	if !Holds(state) {
		return false, nil
	}
	lost, err := t.IsLost(s.Farmer, s.Root)
	return !lost, err
}

// ErrBlockChanged means a block was rewritten (or removed) while a repair
// rebuilt its old version; the repair's shards are garbage.
var ErrBlockChanged = errors.New("block changed during repair")

// MoveShard records that shard idx of block (ino, blockIdx) at version now
// lives on farmer: the repair's commit. The copy it replaces, if any,
// becomes garbage (its farmer may still hold it) and stops being lost.
func (t *Tx) MoveShard(ino, blockIdx int64, version uint64, shard int, root [32]byte, farmer int64) error {
	var have uint64
	var k, m int
	err := t.queryRow("SELECT version, data_shards, parity_shards FROM blocks WHERE ino = ? AND idx = ?", ino, blockIdx).
		Scan(&have, &k, &m)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && have != version) {
		return fmt.Errorf("inode %d block %d: %w", ino, blockIdx, ErrBlockChanged)
	}
	if err != nil {
		return err
	}
	var oldFarmer int64
	var oldRoot []byte
	err = t.queryRow("SELECT farmer, root FROM shards WHERE ino = ? AND idx = ? AND shard = ?", ino, blockIdx, shard).
		Scan(&oldFarmer, &oldRoot)
	switch {
	case err == nil:
		if _, err := t.exec("INSERT INTO garbage(farmer, root, added) VALUES(?, ?, ?)", oldFarmer, oldRoot, time.Now().UnixNano()); err != nil {
			return err
		}
		if _, err := t.exec("DELETE FROM lost WHERE farmer = ? AND root = ?", oldFarmer, oldRoot); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE shards SET farmer = ?, root = ? WHERE ino = ? AND idx = ? AND shard = ?",
			farmer, root[:], ino, blockIdx, shard); err != nil {
			return err
		}
	case errors.Is(err, sql.ErrNoRows):
		if _, err := t.exec("INSERT INTO shards(ino, idx, shard, root, farmer) VALUES(?, ?, ?, ?, ?)",
			ino, blockIdx, shard, root[:], farmer); err != nil {
			return err
		}
	default:
		return err
	}
	var n int
	if err := t.queryRow("SELECT count(*) FROM shards WHERE ino = ? AND idx = ?", ino, blockIdx).Scan(&n); err != nil {
		return err
	}
	_, err = t.exec("UPDATE blocks SET needs_repair = ? WHERE ino = ? AND idx = ?", n < k+m, ino, blockIdx)
	return err
}

// AccrueLedger adds to every farmer's owed byte-hours the bytes it holds
// times the hours since the last accrual.
func (t *Tx) AccrueLedger(now time.Time) error {
	held, err := t.heldByFarmer()
	if err != nil {
		return err
	}
	hs, err := t.Farmers()
	if err != nil {
		return err
	}
	for _, f := range hs {
		var accrued int64
		if err := t.queryRow("SELECT accrued FROM farmers WHERE id = ?", f.ID).Scan(&accrued); err != nil {
			return err
		}
		var add float64
		if accrued != 0 && now.UnixNano() > accrued {
			add = float64(held[f.ID][1]) * time.Duration(now.UnixNano()-accrued).Hours()
		}
		if _, err := t.exec("UPDATE farmers SET owed_byte_hours = owed_byte_hours + ?, accrued = ? WHERE id = ?",
			add, now.UnixNano(), f.ID); err != nil {
			return err
		}
	}
	return nil
}

// AddTraffic adds shard bytes moved to and from the farmer with node ID
// nodeID to its ledger.
func (t *Tx) AddTraffic(nodeID string, ingress, egress int64) error {
	_, err := t.exec("UPDATE farmers SET owed_ingress = owed_ingress + ?, owed_egress = owed_egress + ? WHERE node_id = ?",
		ingress, egress, nodeID)
	return err
}

// RepairThreshold returns the drive's repair threshold t: a block with fewer
// than t healthy shards is repaired. Without a setting it is k+m.
func (t *Tx) RepairThreshold() (int, error) {
	c, err := t.Drive()
	if err != nil {
		return 0, err
	}
	v, err := t.setting("repair_threshold")
	if errors.Is(err, sql.ErrNoRows) {
		return c.DataShards + c.ParityShards, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("setting repair_threshold: %d bytes, want 8", len(v))
	}
	th := int(binary.BigEndian.Uint64(v))
	if th <= c.DataShards || th > c.DataShards+c.ParityShards {
		return 0, fmt.Errorf("setting repair_threshold %d outside (k, k+m] = (%d, %d]", th, c.DataShards, c.DataShards+c.ParityShards)
	}
	return th, nil
}

// SetRepairThreshold sets the repair threshold; it must be above k and at
// most k+m (a drive with m = 0 has nothing to repair with).
func (t *Tx) SetRepairThreshold(th int) error {
	c, err := t.Drive()
	if err != nil {
		return err
	}
	if th <= c.DataShards || th > c.DataShards+c.ParityShards {
		return fmt.Errorf("repair threshold %d: must be above k = %d and at most k+m = %d", th, c.DataShards, c.DataShards+c.ParityShards)
	}
	return t.setSetting("repair_threshold", u64(uint64(th)))
}

// DropDeadGarbage forgets garbage on disqualified and removed farmers that
// failed tries deletions: such a farmer is not paid for what it keeps, and
// may never answer again. It returns how many rows went.
func (t *Tx) DropDeadGarbage(tries int) (int64, error) {
	res, err := t.exec(`DELETE FROM garbage WHERE tries >= ? AND farmer IN
		(SELECT id FROM farmers WHERE state IN ('disqualified', 'removed'))`, tries)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// BackupDegraded reports whether some metadata backup object has a shard
// that is not healthy: the next backup round then writes a new checkpoint
// (on healthy farmers) instead of repairing the old objects shard by
// shard, since a checkpoint replaces them all.
func (t *Tx) BackupDegraded() (bool, error) {
	objs, err := t.BackupObjects()
	if err != nil {
		return false, err
	}
	states := make(map[int64]string)
	fs, err := t.Farmers()
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		states[f.ID] = f.State
	}
	for _, o := range objs {
		for _, p := range o.Parts {
			for _, s := range p.Shards {
				if !Holds(states[int64(s.Farmer)]) {
					return true, nil
				}
				if lost, err := t.IsLost(int64(s.Farmer), s.Root); err != nil || lost {
					return lost, err
				}
			}
		}
	}
	return false, nil
}

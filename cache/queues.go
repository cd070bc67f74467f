package cache

import (
	"fmt"
	"math"
	"time"
)

// ShardRef names a stored shard that no block refers to (yet, or any more).
type ShardRef struct {
	ID     int64 // row in its queue
	Farmer int64
	NodeID string
	Root   [32]byte
}

// AddPending records a shard placed for a write that has not committed. The
// row must be dropped (DropPending) in the transaction that commits the block.
func (t *Tx) AddPending(farmer int64, root [32]byte) (int64, error) {
	res, err := t.exec("INSERT INTO pending(farmer, root, added) VALUES(?, ?, ?)", farmer, root[:], time.Now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("record pending shard: %w", err)
	}
	return res.LastInsertId()
}

// DropPending forgets pending rows whose shards are now committed.
func (t *Tx) DropPending(ids ...int64) error {
	for _, id := range ids {
		if _, err := t.exec("DELETE FROM pending WHERE id = ?", id); err != nil {
			return err
		}
	}
	return nil
}

// AddIntent records that a shard with this root is about to be uploaded,
// to farmers not yet known. Resolve it with DropIntents once every upload
// attempt is accounted for, or IntentsToGarbage when some may not be.
func (t *Tx) AddIntent(root [32]byte) (int64, error) {
	res, err := t.exec("INSERT INTO intents(root, added) VALUES(?, ?)", root[:], time.Now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("record upload intent: %w", err)
	}
	return res.LastInsertId()
}

// DropIntents forgets intents whose uploads are all accounted for.
func (t *Tx) DropIntents(ids ...int64) error {
	for _, id := range ids {
		if _, err := t.exec("DELETE FROM intents WHERE id = ?", id); err != nil {
			return err
		}
	}
	return nil
}

// PendingToGarbage turns the given pending shards into garbage: their
// write failed and will not commit.
func (t *Tx) PendingToGarbage(ids ...int64) error {
	for _, id := range ids {
		if _, err := t.exec("INSERT INTO garbage(farmer, root, added) SELECT farmer, root, added FROM pending WHERE id = ?", id); err != nil {
			return err
		}
		if _, err := t.exec("DELETE FROM pending WHERE id = ?", id); err != nil {
			return err
		}
	}
	return nil
}

// IntentsToGarbage resolves intents whose uploads may have landed anywhere:
// each root becomes garbage on every farmer but the one keep names for it
// (farmers.id; the placement the caller journals as pending).
func (t *Tx) IntentsToGarbage(ids []int64, keep map[[32]byte]int64) error {
	now := time.Now().UnixNano()
	for _, id := range ids {
		var root []byte
		if err := t.queryRow("SELECT root FROM intents WHERE id = ?", id).Scan(&root); err != nil {
			return notFound(err, fmt.Sprintf("intent %d", id))
		}
		var r [32]byte
		copy(r[:], root)
		kept, ok := keep[r]
		if !ok {
			kept = -1
		}
		if _, err := t.exec("INSERT INTO garbage(farmer, root, added) SELECT id, ?, ? FROM farmers WHERE id != ?",
			root, now, kept); err != nil {
			return err
		}
		if _, err := t.exec("DELETE FROM intents WHERE id = ?", id); err != nil {
			return err
		}
	}
	return nil
}

// AbandonPending turns every pending shard, and every shard an unresolved
// intent may have put on any farmer, into garbage. Call it when no write can
// be in flight: at startup, with the home locked. It returns how many
// garbage entries it made.
func (t *Tx) AbandonPending() (int, error) {
	res, err := t.exec("INSERT INTO garbage(farmer, root, added) SELECT farmer, root, added FROM pending")
	if err != nil {
		return 0, fmt.Errorf("abandon pending shards: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := t.exec("DELETE FROM pending"); err != nil {
		return 0, err
	}
	res, err = t.exec("INSERT INTO garbage(farmer, root, added) SELECT f.id, i.root, i.added FROM intents i CROSS JOIN farmers f")
	if err != nil {
		return 0, fmt.Errorf("abandon upload intents: %w", err)
	}
	m, _ := res.RowsAffected()
	if _, err := t.exec("DELETE FROM intents"); err != nil {
		return 0, err
	}
	return int(n + m), nil
}

// Garbage lists up to limit shards to delete, least-tried first. Once the
// drive's metadata is backed up, only shards queued before the change the
// newest stored root covers are listed: until then a recovery from that
// root may still need them (DESIGN.md, Metadata).
func (t *Tx) Garbage(limit int) ([]ShardRef, error) {
	bs, err := t.BackupState()
	if err != nil {
		return nil, err
	}
	upTo := int64(math.MaxInt64)
	if bs.Enabled {
		upTo = bs.Covered
	}
	rows, err := t.query(`SELECT g.id, g.farmer, f.node_id, g.root FROM garbage g JOIN farmers f ON f.id = g.farmer
		WHERE g.seq <= ? ORDER BY g.tries, g.id LIMIT ?`, upTo, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ShardRef
	for rows.Next() {
		var r ShardRef
		var root []byte
		if err := rows.Scan(&r.ID, &r.Farmer, &r.NodeID, &root); err != nil {
			return nil, err
		}
		if len(root) != len(r.Root) {
			return nil, fmt.Errorf("garbage %d: root is %d bytes, want %d", r.ID, len(root), len(r.Root))
		}
		copy(r.Root[:], root)
		out = append(out, r)
	}
	return out, rows.Err()
}

// GarbageDone removes a deleted shard from the queue.
func (t *Tx) GarbageDone(id int64) error {
	_, err := t.exec("DELETE FROM garbage WHERE id = ?", id)
	return err
}

// GarbageFailed counts a failed delete so others are tried first next time.
func (t *Tx) GarbageFailed(id int64) error {
	_, err := t.exec("UPDATE garbage SET tries = tries + 1 WHERE id = ?", id)
	return err
}

// GarbageCount is the number of shards waiting to be deleted.
func (t *Tx) GarbageCount() (int, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM garbage").Scan(&n)
	return n, err
}

package cache

import (
	"database/sql"
	"errors"
	"time"
)

// CachedBlock is a block the local cache holds.
type CachedBlock struct {
	Index int64
	Dirty bool
}

// CachedBlocks lists the blocks of ino the local cache holds.
func (t *Tx) CachedBlocks(ino int64) ([]CachedBlock, error) {
	rows, err := t.query("SELECT idx, dirty FROM cached WHERE ino = ? ORDER BY idx", ino)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CachedBlock
	for rows.Next() {
		var c CachedBlock
		if err := rows.Scan(&c.Index, &c.Dirty); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetCached records that the local cache holds block idx of ino, dirty
// (newer than what is stored) or clean.
func (t *Tx) SetCached(ino, idx int64, dirty bool) error {
	_, err := t.exec(`INSERT INTO cached(ino, idx, dirty, used) VALUES(?, ?, ?, ?)
		ON CONFLICT(ino, idx) DO UPDATE SET dirty = excluded.dirty, used = excluded.used`,
		ino, idx, dirty, time.Now().UnixNano())
	return err
}

// DropCached forgets the cached blocks of ino from index from on.
func (t *Tx) DropCached(ino, from int64) error {
	_, err := t.exec("DELETE FROM cached WHERE ino = ? AND idx >= ?", ino, from)
	return err
}

// DirtyCount is how many dirty blocks wait for upload, drive-wide.
func (t *Tx) DirtyCount() (int, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM cached WHERE dirty = 1").Scan(&n)
	return n, err
}

// CachedCount is how many blocks the local cache holds, and how many are dirty.
func (t *Tx) CachedCount() (total, dirty int, err error) {
	err = t.queryRow("SELECT count(*), coalesce(sum(dirty), 0) FROM cached").Scan(&total, &dirty)
	return total, dirty, err
}

// EvictableBlocks lists up to limit clean cached blocks, least recently used
// first, after skipping the first `skip` of them.
func (t *Tx) EvictableBlocks(skip, limit int) ([]CachedRef, error) {
	rows, err := t.query("SELECT ino, idx FROM cached WHERE dirty = 0 ORDER BY used LIMIT ? OFFSET ?", limit, skip)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CachedRef
	for rows.Next() {
		var r CachedRef
		if err := rows.Scan(&r.Ino, &r.Index); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CachedRef names one cached block.
type CachedRef struct{ Ino, Index int64 }

// MarkChanged queues ino for upload, restarting its quiet period.
func (t *Tx) MarkChanged(ino int64) error {
	_, err := t.exec(`INSERT INTO uploads(ino, changed) VALUES(?, ?)
		ON CONFLICT(ino) DO UPDATE SET changed = excluded.changed`, ino, time.Now().UnixNano())
	return err
}

// Changed lists files whose last change is older than quiet, oldest first.
func (t *Tx) Changed(quiet time.Duration, limit int) ([]int64, error) {
	return t.int64s("SELECT ino FROM uploads WHERE changed <= ? ORDER BY changed LIMIT ?",
		time.Now().Add(-quiet).UnixNano(), limit)
}

// ChangedSince reports when ino was last queued for upload, or ok=false.
func (t *Tx) ChangedSince(ino int64) (time.Time, bool, error) {
	var ns int64
	err := t.queryRow("SELECT changed FROM uploads WHERE ino = ?", ino).Scan(&ns)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	return time.Unix(0, ns), err == nil, err
}

// Uploaded takes ino off the upload queue if it has not changed since
// `since` (the change time the uploader started from).
func (t *Tx) Uploaded(ino int64, since time.Time) error {
	_, err := t.exec("DELETE FROM uploads WHERE ino = ? AND changed <= ?", ino, since.UnixNano())
	return err
}

// PendingUploads is how many files wait for upload.
func (t *Tx) PendingUploads() (int, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM uploads").Scan(&n)
	return n, err
}

// CachedInodes lists the inodes the local cache holds blocks of.
func (t *Tx) CachedInodes() ([]int64, error) {
	return t.int64s("SELECT DISTINCT ino FROM cached ORDER BY ino")
}

// DropCachedBlock forgets one clean cached block; a dirty one stays.
func (t *Tx) DropCachedBlock(ino, idx int64) error {
	_, err := t.exec("DELETE FROM cached WHERE ino = ? AND idx = ? AND dirty = 0", ino, idx)
	return err
}

// Pin keeps the subtree at ino in the local cache.
func (t *Tx) Pin(ino int64) error {
	_, err := t.exec("INSERT OR IGNORE INTO pins(ino) VALUES(?)", ino)
	return err
}

// Unpin lets the subtree at ino be evicted again.
func (t *Tx) Unpin(ino int64) error {
	_, err := t.exec("DELETE FROM pins WHERE ino = ?", ino)
	return err
}

// Pinned reports whether ino or any directory above it is pinned.
func (t *Tx) Pinned(ino int64) (bool, error) {
	var n int
	err := t.queryRow(`WITH RECURSIVE up(ino) AS (
			SELECT ? UNION SELECT d.parent FROM dentries d JOIN up ON d.ino = up.ino)
		SELECT count(*) FROM pins WHERE ino IN (SELECT ino FROM up)`, ino).Scan(&n)
	return n > 0, err
}

// CachedBlockCount is how many blocks of ino, from index from on, the local
// cache holds: what DropCached(ino, from) or dropping the inode forgets.
func (t *Tx) CachedBlockCount(ino, from int64) (int64, error) {
	var n int64
	err := t.queryRow("SELECT count(*) FROM cached WHERE ino = ? AND idx >= ?", ino, from).Scan(&n)
	return n, err
}

// TouchCached records that block idx of ino was read at `at`, so that
// eviction takes the least recently used blocks first. A block the cache no
// longer holds is left alone.
func (t *Tx) TouchCached(ino, idx int64, at time.Time) error {
	_, err := t.exec("UPDATE cached SET used = max(used, ?) WHERE ino = ? AND idx = ?", at.UnixNano(), ino, idx)
	return err
}

// FileInos lists every regular file's inode number.
func (t *Tx) FileInos() ([]int64, error) {
	return t.int64s("SELECT ino FROM inodes WHERE kind = ?", KindFile)
}

package farmer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// The index, <data dir>/farmer.db, is a SQLite database in WAL mode. The
// shard files are the source of truth; the index is a cache of them that
// the start-up reconciliation rebuilds, plus the accounting the files
// cannot hold (egress, byte-hours) and each account's root record.
// synchronous=NORMAL is therefore enough: a power cut can lose the last
// commits, and reconciliation restores the shard rows from the files; only
// recent egress counts and the latest root record could be lost. A lost
// root record is a rollback to the previous version, which the client
// already survives (it takes the highest version any farmer holds, and
// writes every version to every farmer).
//
// Its schema version is PRAGMA user_version; migrations[i] upgrades
// version i to i+1, in one transaction that also sets the version.
var migrations = []string{
	// 0 -> 1
	`CREATE TABLE accounts (
		id           INTEGER PRIMARY KEY,
		key          BLOB NOT NULL UNIQUE CHECK (length(key) = 32),
		created_unix INTEGER NOT NULL
	);
	CREATE TABLE shards (
		account    INTEGER NOT NULL REFERENCES accounts(id),
		root       BLOB NOT NULL CHECK (length(root) = 32),
		size       INTEGER NOT NULL CHECK (size >= 0),
		created_ms INTEGER NOT NULL,
		corrupt    INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (account, root)
	) WITHOUT ROWID;
	-- Per-account accounting. stored_bytes and shard_count mirror the shards
	-- table (reconciliation recomputes them); the rest only grow.
	CREATE TABLE usage (
		account       INTEGER PRIMARY KEY REFERENCES accounts(id),
		stored_bytes  INTEGER NOT NULL DEFAULT 0,
		shard_count   INTEGER NOT NULL DEFAULT 0,
		ingress_bytes INTEGER NOT NULL DEFAULT 0,
		egress_bytes  INTEGER NOT NULL DEFAULT 0,
		byte_hours    REAL    NOT NULL DEFAULT 0,
		accrued_unix  INTEGER NOT NULL
	);`,
	// 1 -> 2: the root record slot (format.RootPath). Unlike shards, the
	// row is the only copy: reconciliation has no file to restore it from.
	`CREATE TABLE roots (
		account    INTEGER PRIMARY KEY REFERENCES accounts(id),
		version    INTEGER NOT NULL CHECK (version >= 1),
		record     BLOB NOT NULL CHECK (length(record) >= 1),
		updated_ms INTEGER NOT NULL
	);`,
}

// ErrSchemaTooNew reports an index written by a newer farmer.
var ErrSchemaTooNew = fmt.Errorf("%w: index schema is newer than this program", ErrDataDir)

// index wraps the SQLite database. Methods are safe for concurrent use.
type index struct {
	db   *sql.DB
	path string
}

func openIndex(ctx context.Context, path string) (*index, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+url.PathEscape(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	db.SetMaxOpenConns(8)
	ix := &index{db: db, path: path}
	if err := ix.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return ix, nil
}

func (ix *index) Close() error { return ix.db.Close() }

func (ix *index) migrate(ctx context.Context) error {
	var have int
	if err := ix.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&have); err != nil {
		return fmt.Errorf("index schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("%w: want at most %d, have %d", ErrSchemaTooNew, len(migrations), have)
	}
	for v := have; v < len(migrations); v++ {
		err := ix.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate index to version %d: %w", v+1, err)
		}
	}
	return nil
}

// tx runs f in a transaction, committing if it returns nil.
func (ix *index) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := ix.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// shardRow is one indexed shard.
type shardRow struct {
	size    int64
	created time.Time
	corrupt bool
}

// shard returns the row of (acct, root); sql.ErrNoRows if there is none.
func (ix *index) shard(ctx context.Context, acct format.AccountID, root merkle.Root) (shardRow, error) {
	var r shardRow
	var ms int64
	err := ix.db.QueryRowContext(ctx, `SELECT s.size, s.created_ms, s.corrupt FROM shards s
		JOIN accounts a ON a.id = s.account WHERE a.key = ? AND s.root = ?`, acct[:], root[:]).Scan(&r.size, &ms, &r.corrupt)
	r.created = time.UnixMilli(ms).UTC()
	return r, err
}

// ensureAccount returns the id of acct's row, creating it and its usage
// row if needed.
func ensureAccount(ctx context.Context, tx *sql.Tx, acct format.AccountID, now time.Time) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE key = ?`, acct[:]).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO accounts (key, created_unix) VALUES (?, ?)`, acct[:], now.Unix())
	if err != nil {
		return 0, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO usage (account, accrued_unix) VALUES (?, ?)`, id, now.Unix())
	return id, err
}

// accrueSQL adds the byte-hours stored since accrued_unix; callers bind the
// current Unix time as :now.
const accrueSQL = `byte_hours = byte_hours + stored_bytes * max(0, :now - accrued_unix) / 3600.0, accrued_unix = :now`

// addShard records a new shard, or clears the corrupt mark of a re-upload.
func (ix *index) addShard(ctx context.Context, acct format.AccountID, root merkle.Root, size int64, now time.Time) error {
	return ix.tx(ctx, func(tx *sql.Tx) error {
		id, err := ensureAccount(ctx, tx, acct, now)
		if err != nil {
			return err
		}
		var exists int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM shards WHERE account = ? AND root = ?`, id, root[:]).Scan(&exists)
		switch {
		case err == nil:
			_, err = tx.ExecContext(ctx, `UPDATE shards SET corrupt = 0 WHERE account = ? AND root = ?`, id, root[:])
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shards (account, root, size, created_ms) VALUES (?, ?, ?, ?)`,
			id, root[:], size, now.UnixMilli()); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE usage SET `+accrueSQL+`, stored_bytes = stored_bytes + :size,
			shard_count = shard_count + 1, ingress_bytes = ingress_bytes + :size WHERE account = :id`,
			sql.Named("id", id), sql.Named("now", now.Unix()), sql.Named("size", size))
		return err
	})
}

// removeShard deletes a shard's row and returns whether there was one.
func (ix *index) removeShard(ctx context.Context, acct format.AccountID, root merkle.Root, now time.Time) (bool, error) {
	var removed bool
	err := ix.tx(ctx, func(tx *sql.Tx) error {
		var id, size int64
		err := tx.QueryRowContext(ctx, `SELECT s.account, s.size FROM shards s JOIN accounts a ON a.id = s.account
			WHERE a.key = ? AND s.root = ?`, acct[:], root[:]).Scan(&id, &size)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM shards WHERE account = ? AND root = ?`, id, root[:]); err != nil {
			return err
		}
		removed = true
		_, err = tx.ExecContext(ctx, `UPDATE usage SET `+accrueSQL+`, stored_bytes = stored_bytes - :size,
			shard_count = shard_count - 1 WHERE account = :id`,
			sql.Named("id", id), sql.Named("now", now.Unix()), sql.Named("size", size))
		return err
	})
	return removed, err
}

// markCorrupt flags a shard whose stored bytes failed their check.
func (ix *index) markCorrupt(ctx context.Context, acct format.AccountID, root merkle.Root) error {
	_, err := ix.db.ExecContext(ctx, `UPDATE shards SET corrupt = 1
		WHERE root = ? AND account = (SELECT id FROM accounts WHERE key = ?)`, root[:], acct[:])
	return err
}

// accountUsage is one account's row of the usage table, with byte-hours
// accrued up to a given time.
type accountUsage struct {
	stored, shards, ingress, egress int64
	byteHours                       float64
	since                           time.Time // accounts.created_unix; zero for an unknown account
}

// accruedSQL is byte_hours accrued up to :now without writing it, for
// answers that must be current between flushes.
const accruedSQL = `u.byte_hours + u.stored_bytes * max(0, :now - u.accrued_unix) / 3600.0`

// usage returns acct's accounting, byte-hours accrued up to now (egress
// counted in memory and not yet flushed is the caller's to add); zero for
// an unknown account.
func (ix *index) usage(ctx context.Context, acct format.AccountID, now time.Time) (accountUsage, error) {
	var u accountUsage
	var since int64
	err := ix.db.QueryRowContext(ctx, `SELECT u.stored_bytes, u.shard_count, u.ingress_bytes, u.egress_bytes,
		`+accruedSQL+`, a.created_unix FROM usage u JOIN accounts a ON a.id = u.account WHERE a.key = :key`,
		sql.Named("now", now.Unix()), sql.Named("key", acct[:])).
		Scan(&u.stored, &u.shards, &u.ingress, &u.egress, &u.byteHours, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return accountUsage{}, nil
	}
	u.since = time.Unix(since, 0).UTC()
	return u, err
}

// storedByAccount returns every account's stored bytes.
func (ix *index) storedByAccount(ctx context.Context) (map[format.AccountID]int64, error) {
	rows, err := ix.db.QueryContext(ctx, `SELECT a.key, u.stored_bytes FROM usage u JOIN accounts a ON a.id = u.account`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[format.AccountID]int64)
	for rows.Next() {
		var key []byte
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		var a format.AccountID
		if len(key) != len(a) {
			return nil, fmt.Errorf("account key of %d bytes in index", len(key))
		}
		copy(a[:], key)
		out[a] = n
	}
	return out, rows.Err()
}

// flush adds egress counts and accrues every account's byte-hours up to now.
func (ix *index) flush(ctx context.Context, egress map[format.AccountID]int64, now time.Time) error {
	return ix.tx(ctx, func(tx *sql.Tx) error {
		for acct, n := range egress {
			if _, err := tx.ExecContext(ctx, `UPDATE usage SET egress_bytes = egress_bytes + ?
				WHERE account = (SELECT id FROM accounts WHERE key = ?)`, n, acct[:]); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE usage SET `+accrueSQL, sql.Named("now", now.Unix()))
		return err
	})
}

// rootInfo is what the index holds of an account's root record, without
// the record itself.
type rootInfo struct {
	version uint64 // 0: none
	size    int64
}

// rootInfo returns acct's root version and record size; zero if it has
// none.
func (ix *index) rootInfo(ctx context.Context, acct format.AccountID) (rootInfo, error) {
	var v, n int64
	err := ix.db.QueryRowContext(ctx, `SELECT r.version, length(r.record) FROM roots r
		JOIN accounts a ON a.id = r.account WHERE a.key = ?`, acct[:]).Scan(&v, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return rootInfo{}, nil
	}
	if err != nil {
		return rootInfo{}, err
	}
	return rootInfo{version: uint64(v), size: n}, nil
}

// root returns acct's root record and its version; sql.ErrNoRows if it
// has none.
func (ix *index) root(ctx context.Context, acct format.AccountID) (uint64, []byte, error) {
	var v int64
	var record []byte
	err := ix.db.QueryRowContext(ctx, `SELECT r.version, r.record FROM roots r
		JOIN accounts a ON a.id = r.account WHERE a.key = ?`, acct[:]).Scan(&v, &record)
	return uint64(v), record, err
}

// putRoot stores record as acct's root record, in one transaction, if
// version is above the stored version. It returns what was stored before;
// stored is false (and nothing changed) when that version was not below
// version. The record's bytes count in the account's stored_bytes.
func (ix *index) putRoot(ctx context.Context, acct format.AccountID, version uint64, record []byte, now time.Time) (prev rootInfo, stored bool, err error) {
	if version < 1 || version > format.MaxRootVersion {
		return rootInfo{}, false, fmt.Errorf("root version %d out of range", version)
	}
	err = ix.tx(ctx, func(tx *sql.Tx) error {
		id, err := ensureAccount(ctx, tx, acct, now)
		if err != nil {
			return err
		}
		var v, n int64
		err = tx.QueryRowContext(ctx, `SELECT version, length(record) FROM roots WHERE account = ?`, id).Scan(&v, &n)
		switch {
		case err == nil:
			prev = rootInfo{version: uint64(v), size: n}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if prev.version >= version {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roots (account, version, record, updated_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (account) DO UPDATE SET version = excluded.version, record = excluded.record,
			updated_ms = excluded.updated_ms`, id, int64(version), record, now.UnixMilli()); err != nil {
			return err
		}
		stored = true
		_, err = tx.ExecContext(ctx, `UPDATE usage SET `+accrueSQL+`, stored_bytes = stored_bytes + :grow
			WHERE account = :id`, sql.Named("id", id), sql.Named("now", now.Unix()),
			sql.Named("grow", int64(len(record))-prev.size))
		return err
	})
	if err != nil {
		return rootInfo{}, false, err
	}
	if stored {
		// The index commits without fsync (shards are files fsynced on
		// their own, and reconciliation rebuilds their rows), but a root
		// row is the only copy and the client counts this answer towards
		// its majority: make it durable before saying yes.
		if err := ix.syncWAL(); err != nil {
			return rootInfo{}, false, err
		}
	}
	return prev, stored, nil
}

// syncWAL fsyncs the index's write-ahead log, making every transaction
// committed so far durable.
func (ix *index) syncWAL() error {
	f, err := os.Open(ix.path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return nil // checkpointed into the database file, which SQLite synced
	}
	if err != nil {
		return fmt.Errorf("sync index log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync index log: %w", err)
	}
	return nil
}

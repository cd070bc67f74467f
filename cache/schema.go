package cache

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] upgrades the schema from user_version i to i+1. Append only:
// a released migration is never edited, so every database reaches the same
// shape whatever version it started from.
var migrations = []string{
	// v1: the first schema.
	`
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE farmers (
	id         INTEGER PRIMARY KEY,
	node_id    TEXT NOT NULL UNIQUE,   -- base32 ed25519 public key
	address    TEXT NOT NULL,          -- nodeid@host:port as given by the user
	latency_ns INTEGER NOT NULL DEFAULT 0,
	throughput REAL NOT NULL DEFAULT 0, -- bytes per second, EWMA
	successes  INTEGER NOT NULL DEFAULT 0,
	failures   INTEGER NOT NULL DEFAULT 0,
	bad_data   INTEGER NOT NULL DEFAULT 0,
	last_seen  INTEGER NOT NULL DEFAULT 0, -- unix ns
	state      TEXT NOT NULL DEFAULT 'active',
	added      INTEGER NOT NULL
);

CREATE TABLE inodes (
	ino      INTEGER PRIMARY KEY,
	kind     INTEGER NOT NULL,          -- see Kind
	mode     INTEGER NOT NULL,          -- permission bits (and setuid/gid/sticky)
	uid      INTEGER NOT NULL,
	gid      INTEGER NOT NULL,
	size     INTEGER NOT NULL DEFAULT 0,
	nlink    INTEGER NOT NULL DEFAULT 1,
	atime    INTEGER NOT NULL,          -- unix ns
	mtime    INTEGER NOT NULL,
	ctime    INTEGER NOT NULL,
	file_id  BLOB,                      -- 16 random bytes, bound into block AD
	file_key BLOB,                      -- per-file key wrapped under the file-wrap key
	target   TEXT                       -- symlink target
);

CREATE TABLE dentries (
	parent INTEGER NOT NULL REFERENCES inodes(ino),
	name   TEXT NOT NULL,
	ino    INTEGER NOT NULL REFERENCES inodes(ino),
	PRIMARY KEY (parent, name)
) WITHOUT ROWID;
CREATE INDEX dentries_ino ON dentries(ino);

CREATE TABLE blocks (
	ino        INTEGER NOT NULL REFERENCES inodes(ino) ON DELETE CASCADE,
	idx        INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	plain_len  INTEGER NOT NULL,
	sealed_len INTEGER NOT NULL,
	shard_len  INTEGER NOT NULL,
	data_shards   INTEGER NOT NULL,
	parity_shards INTEGER NOT NULL,
	needs_repair  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (ino, idx)
) WITHOUT ROWID;

CREATE TABLE shards (
	ino    INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	shard  INTEGER NOT NULL,
	root   BLOB NOT NULL,               -- Merkle root: the shard's address
	farmer INTEGER NOT NULL REFERENCES farmers(id),
	PRIMARY KEY (ino, idx, shard),
	FOREIGN KEY (ino, idx) REFERENCES blocks(ino, idx) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX shards_farmer ON shards(farmer);

CREATE TABLE pending (
	id     INTEGER PRIMARY KEY,
	farmer INTEGER NOT NULL REFERENCES farmers(id),
	root   BLOB NOT NULL,
	added  INTEGER NOT NULL
);

CREATE TABLE garbage (
	id     INTEGER PRIMARY KEY,
	farmer INTEGER NOT NULL REFERENCES farmers(id),
	root   BLOB NOT NULL,
	added  INTEGER NOT NULL,
	tries  INTEGER NOT NULL DEFAULT 0
);
`,
	// v2: upload intents. A shard is journalled before its upload starts,
	// because an upload the client gave up on may still land on a farmer.
	`
CREATE TABLE intents (
	id    INTEGER PRIMARY KEY,
	root  BLOB NOT NULL,
	added INTEGER NOT NULL
);
`,
	// v3: the local side of the mount. Small files inline in the metadata,
	// user xattrs, which blocks the local cache holds (clean or dirty), which
	// files wait for upload, and files unlinked while still open.
	`
ALTER TABLE inodes ADD COLUMN inline BLOB;

CREATE TABLE xattrs (
	ino   INTEGER NOT NULL REFERENCES inodes(ino) ON DELETE CASCADE,
	name  TEXT NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (ino, name)
) WITHOUT ROWID;

CREATE TABLE cached (
	ino   INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	dirty INTEGER NOT NULL,             -- 1: newer than any stored version; never evicted
	used  INTEGER NOT NULL,             -- unix ns of last use, for LRU eviction
	PRIMARY KEY (ino, idx)
) WITHOUT ROWID;

CREATE TABLE uploads (
	ino     INTEGER PRIMARY KEY,        -- a file with local changes to store
	changed INTEGER NOT NULL            -- unix ns of the last change: uploads wait for quiet
);

CREATE TABLE orphans (
	ino INTEGER PRIMARY KEY             -- unlinked while open; dropped on last close or next start
);
`,
	// v4: pinned subtrees ("available offline").
	`
CREATE TABLE pins (
	ino INTEGER PRIMARY KEY REFERENCES inodes(ino) ON DELETE CASCADE
);
`,
	// v5: metadata backup. Triggers note every change to a backed-up row
	// in meta_changes under a growing change number, so a backup round
	// uploads only what changed; garbage rows get the change number of
	// the moment they were queued, and are deleted from the farmers only
	// once a root covering it is stored (docs/format/cache.md).
	schemaV5,
	// v6: keeping the network honest (docs/format/cache.md). Per-farmer
	// reputation, availability and the ledger of what the client believes
	// it owes; the audit challenge each farmer is held to; shards found
	// lost, which make their blocks candidates for repair.
	`
ALTER TABLE farmers ADD COLUMN audits_passed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN audits_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN audit_alpha REAL NOT NULL DEFAULT 5;   -- decayed passes (prior 5)
ALTER TABLE farmers ADD COLUMN audit_beta REAL NOT NULL DEFAULT 0;    -- decayed failures
ALTER TABLE farmers ADD COLUMN up_alpha REAL NOT NULL DEFAULT 5;      -- decayed availability checks answered
ALTER TABLE farmers ADD COLUMN up_beta REAL NOT NULL DEFAULT 0;       -- decayed checks not answered
ALTER TABLE farmers ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN down_since INTEGER NOT NULL DEFAULT 0; -- unix ns; 0 = answering
ALTER TABLE farmers ADD COLUMN state_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE farmers ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE farmers ADD COLUMN lost_shards INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN owed_byte_hours REAL NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN owed_ingress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN owed_egress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE farmers ADD COLUMN accrued INTEGER NOT NULL DEFAULT 0;    -- unix ns the byte-hours run to

CREATE TABLE audits (
	farmer    INTEGER PRIMARY KEY REFERENCES farmers(id),
	root      BLOB NOT NULL,
	shard_len INTEGER NOT NULL,
	leaf      INTEGER NOT NULL,
	issued    INTEGER NOT NULL,
	tries     INTEGER NOT NULL DEFAULT 0  -- unanswered attempts while the farmer answered other calls
);

CREATE TABLE lost (
	farmer INTEGER NOT NULL REFERENCES farmers(id),
	root   BLOB NOT NULL,
	found  INTEGER NOT NULL,
	PRIMARY KEY (farmer, root)
) WITHOUT ROWID;
`,
}

// SchemaVersion is the user_version this binary writes.
var SchemaVersion = len(migrations)

func migrate(ctx context.Context, db *sql.DB) error {
	var have int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > SchemaVersion {
		return fmt.Errorf("%w: database schema v%d, this binary knows up to v%d", ErrSchemaTooNew, have, SchemaVersion)
	}
	for v := have; v < SchemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate schema v%d to v%d: %w", v, v+1, err)
		}
		// PRAGMA does not take parameters; v+1 is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate schema v%d to v%d: %w", v, v+1, err)
		}
	}
	return nil
}

package farmer

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// ErrNotDataDir reports a directory that is not a farmer's data directory:
// missing, not a directory, or without the identity or index a farmer
// creates on its first start.
var ErrNotDataDir = fmt.Errorf("%w: not a farmer data directory", ErrDataDir)

// Stats is the accounting of a farmer's data directory, per account: what
// `shardfarmer stats` prints, and what the farmer would bill.
type Stats struct {
	NodeID format.NodeID
	// At is when the index was read.
	At time.Time
	// Running reports whether a farmer process held the directory then.
	// Only a running farmer accrues byte-hours (time it is down is not
	// billed): while it runs they are accrued up to At, otherwise they
	// stand where it stopped.
	Running bool
	// Accounts, sorted by account ID (its text form).
	Accounts []AccountStats
}

// AccountStats is one account's accounting on a farmer.
type AccountStats struct {
	Account format.AccountID
	Shards  int64
	// Stored counts shard bytes and root record bytes held now.
	Stored    int64
	ByteHours float64
	// Ingress counts shard bytes received and kept, each shard once.
	Ingress int64
	// Egress counts shard bytes served. A running farmer counts the last
	// minute's (Config.FlushInterval) in memory only: they reach the
	// index, and Stats, at its next flush. Info includes them.
	Egress int64
	// FirstSeen is when the farmer first stored something for the
	// account, to the second.
	FirstSeen time.Time
}

// Total sums the accounts (Account is zero, FirstSeen the earliest).
func (s Stats) Total() AccountStats {
	var t AccountStats
	for _, a := range s.Accounts {
		t.Shards += a.Shards
		t.Stored += a.Stored
		t.ByteHours += a.ByteHours
		t.Ingress += a.Ingress
		t.Egress += a.Egress
		if t.FirstSeen.IsZero() || a.FirstSeen.Before(t.FirstSeen) {
			t.FirstSeen = a.FirstSeen
		}
	}
	return t
}

// ReadStats reads the accounting of the data directory dir as of now,
// whether or not a farmer runs on it, and writes nothing: it opens the
// index read-only (SQLite WAL readers never block the farmer, nor it
// them) and does not take the directory lock. To know whether a farmer
// runs, and so whether byte-hours accrue up to now, it probes the lock
// with a shared lock held for microseconds; a farmer starting at that
// moment retries (lockTries) rather than fail.
//
// Errors wrap ErrNotDataDir for a directory no farmer ever ran in, and
// ErrDataDir (ErrSchemaTooNew, ErrBadIdentity, ...) for one it cannot read.
func ReadStats(ctx context.Context, dir string, now time.Time) (Stats, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir() {
		return Stats{}, fmt.Errorf("%w: %s is not a directory", ErrNotDataDir, dir)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	id, err := ReadIdentity(dir)
	if errors.Is(err, ErrNoIdentity) {
		return Stats{}, fmt.Errorf("%w: %s has no identity file", ErrNotDataDir, dir)
	}
	if err != nil {
		return Stats{}, err
	}
	dbPath := filepath.Join(dir, indexFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return Stats{}, fmt.Errorf("%w: %s has no index (%s)", ErrNotDataDir, dir, indexFile)
	}
	running, err := lockHeld(filepath.Join(dir, lockFile))
	if err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	out := Stats{NodeID: id, At: now, Running: running}
	if out.Accounts, err = readAccountStats(ctx, dbPath, now, running); err != nil {
		return Stats{}, fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	return out, nil
}

func readAccountStats(ctx context.Context, path string, now time.Time, accrue bool) ([]AccountStats, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "10000")
	db, err := sql.Open("sqlite3", "file:"+url.PathEscape(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return nil, fmt.Errorf("index schema version: %w", err)
	}
	switch {
	case version > len(migrations):
		return nil, fmt.Errorf("%w: want at most %d, have %d", ErrSchemaTooNew, len(migrations), version)
	case version < 1:
		// The usage table came with version 1; a farmer that never
		// finished its first start leaves none.
		return nil, fmt.Errorf("%w: index has no tables", ErrNotDataDir)
	}
	// A stopped farmer accrues nothing: binding 0 as :now makes the
	// accrual term max(0, 0 - accrued_unix) = 0.
	at := int64(0)
	if accrue {
		at = now.Unix()
	}
	rows, err := db.QueryContext(ctx, `SELECT a.key, a.created_unix, u.shard_count, u.stored_bytes,
		`+accruedSQL+`, u.ingress_bytes, u.egress_bytes FROM usage u JOIN accounts a ON a.id = u.account`,
		sql.Named("now", at))
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	defer rows.Close()
	var out []AccountStats
	for rows.Next() {
		var a AccountStats
		var key []byte
		var created int64
		if err := rows.Scan(&key, &created, &a.Shards, &a.Stored, &a.ByteHours, &a.Ingress, &a.Egress); err != nil {
			return nil, fmt.Errorf("read usage: %w", err)
		}
		if len(key) != len(a.Account) {
			return nil, fmt.Errorf("read usage: account key of %d bytes", len(key))
		}
		copy(a.Account[:], key)
		a.FirstSeen = time.Unix(created, 0).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	slices.SortFunc(out, func(a, b AccountStats) int { return cmp.Compare(a.Account.String(), b.Account.String()) })
	return out, nil
}

package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"

	_ "github.com/mattn/go-sqlite3" // the design card's SQLite driver, behind database/sql
)

var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrNotDir         = errors.New("not a directory")
	ErrIsDir          = errors.New("is a directory")
	ErrNotEmpty       = errors.New("directory not empty")
	ErrInvalidName    = errors.New("invalid name")
	ErrNotInitialized = errors.New("drive not initialized")
	ErrSchemaTooNew   = errors.New("metadata database is newer than this program")
)

// DB is the drive's metadata database. It is safe for concurrent use; writes
// are serialised by SQLite (BEGIN IMMEDIATE), reads run beside them (WAL).
type DB struct {
	db *sql.DB // writers: BEGIN IMMEDIATE
	ro *sql.DB // readers: plain BEGIN, so they never hold the write lock

	// stmts caches prepared statements by pool and text: SQLite spends
	// as long parsing a small statement as running it, and database/sql
	// keeps each prepared once per connection (Tx.StmtContext reuses it).
	stmts sync.Map // stmtKey -> *sql.Stmt
}

type stmtKey struct {
	pool  *sql.DB
	query string
}

// stmt returns query prepared on pool, preparing it on first use.
func (d *DB) stmt(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{pool, query}
	if st, ok := d.stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL") // a committed put survives power loss, not just a crash
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate") // writers take the lock up front: no upgrade deadlocks
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	q.Set("_txlock", "deferred")
	q.Set("mode", "ro")
	ro, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err == nil {
		err = ro.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open metadata %s for reading: %w", path, err)
	}
	return &DB{db: db, ro: ro}, nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.stmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		d.stmts.Delete(k)
		return true
	})
	return errors.Join(d.ro.Close(), d.db.Close())
}

// Update runs fn in a write transaction, committed if fn returns nil.
func (d *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return d.run(ctx, d.db, nil, fn)
}

// View runs fn in a read-only transaction: a consistent snapshot that does
// not hold up writers (WAL).
func (d *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return d.run(ctx, d.ro, &sql.TxOptions{ReadOnly: true}, fn)
}

func (d *DB) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin metadata transaction: %w", err)
	}
	if err := fn(&Tx{ctx: ctx, tx: tx, db: d, pool: db}); err != nil {
		tx.Rollback()
		if cerr := ctx.Err(); cerr != nil {
			return cerr // database/sql rolled back under us: say why
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("commit metadata: %w", err)
	}
	return nil
}

// Tx is one metadata transaction. Its methods are the only way the rest of
// the program reads or changes the schema.
type Tx struct {
	ctx  context.Context
	tx   *sql.Tx
	db   *DB
	pool *sql.DB // the pool tx came from
}

// prepared returns query as a statement of this transaction, parsed once
// per connection (DB.stmt). Only statements that return no rows use it.
func (t *Tx) prepared(query string) (*sql.Stmt, error) {
	st, err := t.db.stmt(t.ctx, t.pool, query)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(t.ctx, st), nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.prepared(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// Queries are not cached: two open result sets of one statement on one
// connection (a loop over rows that runs the same query inside) would share
// one SQLite statement and reset each other.
func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, query, args...)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// int64s runs a query whose rows are one integer each.
func (t *Tx) int64s(query string, args ...any) ([]int64, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

package farmer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// lostFoundDir receives files found under shards/ that are not valid shard
// files. They are moved, never deleted: an operator may want them.
const lostFoundDir = "lost+found"

type shardKey struct {
	acct format.AccountID
	root merkle.Root
}

type foundShard struct {
	size    int64
	modTime time.Time
}

// reconcileStats says what reconciliation changed.
type reconcileStats struct {
	files, tempRemoved, quarantined, rowsAdded, rowsDropped int
}

// reconcile makes the index agree with the shard files, which are the
// source of truth: temporary files from interrupted uploads are removed;
// files that are not valid shards are moved to lost+found; rows whose file
// is gone are dropped (the data is lost, and logged); files without a row
// (a crash between rename and commit) get one; and every account's stored
// bytes (its shards and its root record) and shard count are recomputed.
// Byte-hours restart accruing now: downtime is not billed. It checks each
// file's header, name and length; leaf checksums are checked on every read.
func (f *Farmer) reconcile(ctx context.Context, now time.Time) (reconcileStats, error) {
	var st reconcileStats
	found, err := f.scanShards(&st)
	if err != nil {
		return st, fmt.Errorf("scan shards: %w", err)
	}
	st.files = len(found)
	err = f.index.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT a.key, s.root, s.size FROM shards s JOIN accounts a ON a.id = s.account`)
		if err != nil {
			return err
		}
		indexed := make(map[shardKey]int64)
		for rows.Next() {
			var key, root []byte
			var size int64
			if err := rows.Scan(&key, &root, &size); err != nil {
				rows.Close()
				return err
			}
			var k shardKey
			if len(key) != len(k.acct) || len(root) != len(k.root) {
				rows.Close()
				return fmt.Errorf("index row with a %d-byte key and a %d-byte root", len(key), len(root))
			}
			copy(k.acct[:], key)
			copy(k.root[:], root)
			indexed[k] = size
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for k, size := range indexed {
			if got, ok := found[k]; ok && got.size == size {
				continue
			}
			f.log.Warn("shard in index has no valid file; dropping it from the index",
				"account", k.acct.String(), "root", k.root.String(), "size", size)
			if _, err := tx.ExecContext(ctx, `DELETE FROM shards WHERE root = ?
				AND account = (SELECT id FROM accounts WHERE key = ?)`, k.root[:], k.acct[:]); err != nil {
				return err
			}
			delete(indexed, k)
			st.rowsDropped++
		}
		for k, got := range found {
			if _, ok := indexed[k]; ok {
				continue
			}
			id, err := ensureAccount(ctx, tx, k.acct, now)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO shards (account, root, size, created_ms) VALUES (?, ?, ?, ?)`,
				id, k.root[:], got.size, got.modTime.UnixMilli()); err != nil {
				return err
			}
			st.rowsAdded++
		}
		_, err = tx.ExecContext(ctx, `UPDATE usage SET
			stored_bytes = (SELECT coalesce(sum(size), 0) FROM shards WHERE account = usage.account)
				+ (SELECT coalesce(sum(length(record)), 0) FROM roots WHERE account = usage.account),
			shard_count = (SELECT count(*) FROM shards WHERE account = usage.account),
			accrued_unix = :now`, sql.Named("now", now.Unix()))
		return err
	})
	if err != nil {
		return st, fmt.Errorf("reconcile index: %w", err)
	}
	return st, nil
}

// scanShards walks shards/<account>/<xx>/<root>, removing temporary files
// and moving anything that is not a valid shard file to lost+found.
func (f *Farmer) scanShards(st *reconcileStats) (map[shardKey]foundShard, error) {
	found := make(map[shardKey]foundShard)
	accts, err := os.ReadDir(f.store.dir)
	if err != nil {
		return nil, err
	}
	for _, ae := range accts {
		acctPath := filepath.Join(f.store.dir, ae.Name())
		acct, err := format.ParseAccountID(ae.Name())
		if err != nil || !ae.IsDir() {
			if err := f.quarantine(acctPath, st); err != nil {
				return nil, err
			}
			continue
		}
		fans, err := os.ReadDir(acctPath)
		if err != nil {
			return nil, err
		}
		for _, fe := range fans {
			fanPath := filepath.Join(acctPath, fe.Name())
			if !fe.IsDir() || !isFanName(fe.Name()) {
				if err := f.quarantine(fanPath, st); err != nil {
					return nil, err
				}
				continue
			}
			files, err := os.ReadDir(fanPath)
			if err != nil {
				return nil, err
			}
			for _, e := range files {
				p := filepath.Join(fanPath, e.Name())
				if strings.HasPrefix(e.Name(), tempPrefix) {
					if err := os.RemoveAll(p); err != nil {
						return nil, err
					}
					st.tempRemoved++
					continue
				}
				root, err := merkle.ParseRoot(e.Name())
				if err != nil || !e.Type().IsRegular() || root.String()[:2] != fe.Name() {
					if err := f.quarantine(p, st); err != nil {
						return nil, err
					}
					continue
				}
				size, mod, err := checkShardFile(p, root)
				if errors.Is(err, errCorruptFile) {
					f.log.Warn("shard file is corrupt", "path", p, "err", err)
					if err := f.quarantine(p, st); err != nil {
						return nil, err
					}
					continue
				}
				if err != nil {
					return nil, err
				}
				found[shardKey{acct, root}] = foundShard{size: size, modTime: mod}
			}
		}
	}
	return found, nil
}

func isFanName(s string) bool {
	return len(s) == 2 && strings.Trim(s, "0123456789abcdef") == ""
}

// checkShardFile checks a shard file's header, name and length.
func checkShardFile(path string, root merkle.Root) (int64, time.Time, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer fh.Close()
	b := make([]byte, shardHeaderSize)
	if _, err := io.ReadFull(fh, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, time.Time{}, fmt.Errorf("%w: truncated header", errCorruptFile)
		}
		return 0, time.Time{}, err
	}
	hdr, err := parseShardHeader(b)
	if err != nil {
		return 0, time.Time{}, err
	}
	if hdr.root != root {
		return 0, time.Time{}, fmt.Errorf("%w: header names root %s", errCorruptFile, hdr.root)
	}
	info, err := fh.Stat()
	if err != nil {
		return 0, time.Time{}, err
	}
	if info.Size() != hdr.fileSize() {
		return 0, time.Time{}, fmt.Errorf("%w: file of %d bytes, header says %d", errCorruptFile, info.Size(), hdr.fileSize())
	}
	return hdr.size, info.ModTime(), nil
}

// quarantine moves path into lost+found under a unique name.
func (f *Farmer) quarantine(path string, st *reconcileStats) error {
	dst := filepath.Join(f.cfg.Dir, lostFoundDir)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	rel, err := filepath.Rel(f.store.dir, path)
	if err != nil {
		rel = filepath.Base(path)
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + strings.ReplaceAll(rel, string(filepath.Separator), "_")
	if err := os.Rename(path, filepath.Join(dst, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f.log.Warn("moved unexpected file out of the shard store", "from", path, "to", filepath.Join(dst, name))
	st.quarantined++
	return nil
}

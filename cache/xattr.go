package cache

import (
	"database/sql"
	"errors"
	"fmt"
)

// ErrNoXattr is an extended attribute that is not set.
var ErrNoXattr = errors.New("no such extended attribute")

// Xattr returns the value of extended attribute name of ino.
func (t *Tx) Xattr(ino int64, name string) ([]byte, error) {
	var v []byte
	err := t.queryRow("SELECT value FROM xattrs WHERE ino = ? AND name = ?", ino, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoXattr)
	}
	if v == nil {
		v = []byte{}
	}
	return v, err
}

// Xattrs lists the extended attribute names of ino, sorted.
func (t *Tx) Xattrs(ino int64) ([]string, error) {
	rows, err := t.query("SELECT name FROM xattrs WHERE ino = ? ORDER BY name", ino)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetXattr sets an extended attribute. create fails with ErrExists if it is
// set, replace with ErrNoXattr if it is not.
func (t *Tx) SetXattr(ino int64, name string, value []byte, create, replace bool) error {
	_, err := t.Xattr(ino, name)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNoXattr):
		return err
	case create && exists:
		return fmt.Errorf("%s: %w", name, ErrExists)
	case replace && !exists:
		return fmt.Errorf("%s: %w", name, ErrNoXattr)
	}
	if value == nil {
		value = []byte{}
	}
	_, err = t.exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?) ON CONFLICT(ino, name) DO UPDATE SET value = excluded.value",
		ino, name, value)
	return err
}

// RemoveXattr deletes an extended attribute; ErrNoXattr if it is not set.
func (t *Tx) RemoveXattr(ino int64, name string) error {
	res, err := t.exec("DELETE FROM xattrs WHERE ino = ? AND name = ?", ino, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", name, ErrNoXattr)
	}
	return nil
}

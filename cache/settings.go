package cache

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// DriveConfig is what `init` decides once for the life of a drive.
type DriveConfig struct {
	ID           [16]byte
	DataShards   int // k
	ParityShards int // m
	BlockSize    int
	KeyCheck     [32]byte // tells a wrong mnemonic from the right one
	Created      time.Time
}

// Validate checks the settings a drive cannot change later.
func (c DriveConfig) Validate() error {
	switch {
	case c.DataShards < 1 || c.ParityShards < 0 || c.DataShards+c.ParityShards > 256:
		return fmt.Errorf("data shards %d and parity shards %d: need k >= 1, m >= 0, k+m <= 256", c.DataShards, c.ParityShards)
	case c.BlockSize < 64<<10 || c.BlockSize > 64<<20:
		return fmt.Errorf("block size %d: must be between 64 KiB and 64 MiB", c.BlockSize)
	}
	return nil
}

func (t *Tx) setting(key string) ([]byte, error) {
	var v []byte
	err := t.queryRow("SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	return v, err
}

func (t *Tx) setSetting(key string, v []byte) error {
	_, err := t.exec("INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, v)
	return err
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// InitDrive records the drive's settings and creates its root directory.
// It fails with ErrExists on an initialized database.
func (t *Tx) InitDrive(c DriveConfig, uid, gid uint32) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if _, err := t.setting("drive_id"); err == nil {
		return fmt.Errorf("drive: %w", ErrExists)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for k, v := range map[string][]byte{
		"drive_id":      c.ID[:],
		"data_shards":   u64(uint64(c.DataShards)),
		"parity_shards": u64(uint64(c.ParityShards)),
		"block_size":    u64(uint64(c.BlockSize)),
		"key_check":     c.KeyCheck[:],
		"created":       u64(uint64(c.Created.UnixNano())),
		"next_version":  u64(1),
	} {
		if err := t.setSetting(k, v); err != nil {
			return fmt.Errorf("init drive: %w", err)
		}
	}
	now := c.Created.UnixNano()
	_, err := t.exec(`INSERT INTO inodes(ino, kind, mode, uid, gid, nlink, atime, mtime, ctime)
		VALUES(?, ?, ?, ?, ?, 2, ?, ?, ?)`, RootIno, KindDir, 0o755, uid, gid, now, now, now)
	if err != nil {
		return fmt.Errorf("init drive: create root: %w", err)
	}
	return nil
}

// Drive returns the drive's settings, or ErrNotInitialized.
func (t *Tx) Drive() (DriveConfig, error) {
	var c DriveConfig
	get := func(key string, size int) ([]byte, error) {
		v, err := t.setting(key)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotInitialized
		}
		if err != nil {
			return nil, err
		}
		if len(v) != size {
			return nil, fmt.Errorf("setting %s: %d bytes, want %d", key, len(v), size)
		}
		return v, nil
	}
	num := func(key string) (int, error) {
		v, err := get(key, 8)
		if err != nil {
			return 0, err
		}
		return int(binary.BigEndian.Uint64(v)), nil
	}
	var err error
	var v []byte
	if v, err = get("drive_id", 16); err != nil {
		return c, err
	}
	copy(c.ID[:], v)
	if v, err = get("key_check", 32); err != nil {
		return c, err
	}
	copy(c.KeyCheck[:], v)
	if c.DataShards, err = num("data_shards"); err != nil {
		return c, err
	}
	if c.ParityShards, err = num("parity_shards"); err != nil {
		return c, err
	}
	if c.BlockSize, err = num("block_size"); err != nil {
		return c, err
	}
	created, err := num("created")
	if err != nil {
		return c, err
	}
	c.Created = time.Unix(0, int64(created))
	return c, c.Validate()
}

// NextVersion hands out the next block version. Versions only grow, across
// every file of the drive, so (file, block, version) never repeats.
func (t *Tx) NextVersion() (uint64, error) {
	v, err := t.setting("next_version")
	if err != nil {
		return 0, notFound(err, "next version")
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("setting next_version: %d bytes, want 8", len(v))
	}
	n := binary.BigEndian.Uint64(v)
	if err := t.setSetting("next_version", u64(n+1)); err != nil {
		return 0, err
	}
	return n, nil
}

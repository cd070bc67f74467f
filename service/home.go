package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Home is where a drive keeps its local state.
type Home struct {
	// State holds drive.db, keys, the lock, the control socket, the daemon
	// log and the cache-dir record.
	State string
	// Cache is the default root of the local block cache, used until a
	// cache directory is recorded (see CacheDirPath).
	Cache string
}

func (h Home) DBPath() string     { return filepath.Join(h.State, "drive.db") }
func (h Home) KeysPath() string   { return filepath.Join(h.State, "keys") }
func (h Home) LockPath() string   { return filepath.Join(h.State, "lock") }
func (h Home) SocketPath() string { return filepath.Join(h.State, "control.sock") }

// LogPath is where a detached daemon's output goes.
func (h Home) LogPath() string { return filepath.Join(h.State, "daemon.log") }

// CacheDirPath is the file recording which directory the local block cache
// lives in.
func (h Home) CacheDirPath() string { return filepath.Join(h.State, "cache-dir") }

// The cache-dir record (docs/format/control.md): two lines,
//
//	shardrive-cache-dir 1
//	/absolute/path
//
// each ending in "\n". Any other version is refused.
const (
	cacheDirMagic   = "shardrive-cache-dir"
	cacheDirVersion = 1
	maxPathLen      = 4096
)

// errCacheDirRecord marks a cache-dir record that cannot be read.
var errCacheDirRecord = errors.New("bad cache-dir record")

func marshalCacheDir(dir string) ([]byte, error) {
	if err := checkCacheDir(dir); err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s %d\n%s\n", cacheDirMagic, cacheDirVersion, dir), nil
}

func parseCacheDir(b []byte) (string, error) {
	if len(b) > len(cacheDirMagic)+24+maxPathLen {
		return "", fmt.Errorf("%w: %d bytes", errCacheDirRecord, len(b))
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) != 3 || len(lines[2]) != 0 {
		return "", fmt.Errorf("%w: want 2 lines ending in a newline", errCacheDirRecord)
	}
	magic, ver, ok := strings.Cut(string(lines[0]), " ")
	if !ok || magic != cacheDirMagic {
		return "", fmt.Errorf("%w: header %q", errCacheDirRecord, lines[0])
	}
	v, err := strconv.Atoi(ver)
	if err != nil || strconv.Itoa(v) != ver {
		return "", fmt.Errorf("%w: version %q", errCacheDirRecord, ver)
	}
	if v != cacheDirVersion {
		return "", fmt.Errorf("%w: version want %d, have %d", errCacheDirRecord, cacheDirVersion, v)
	}
	dir := string(lines[1])
	if err := checkCacheDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func checkCacheDir(dir string) error {
	switch {
	case dir == "" || len(dir) > maxPathLen:
		return fmt.Errorf("%w: path of %d bytes", errCacheDirRecord, len(dir))
	case !filepath.IsAbs(dir) || filepath.Clean(dir) != dir:
		return fmt.Errorf("%w: %q is not a clean absolute path", errCacheDirRecord, dir)
	case strings.ContainsAny(dir, "\x00\n"):
		return fmt.Errorf("%w: path has a NUL or newline", errCacheDirRecord)
	}
	return nil
}

// recordedCacheDir returns the recorded cache directory, or "" if none is.
func (h Home) recordedCacheDir() (string, error) {
	b, err := os.ReadFile(h.CacheDirPath())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	dir, err := parseCacheDir(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", h.CacheDirPath(), err)
	}
	return dir, nil
}

// recordCacheDir writes the record atomically.
func (h Home) recordCacheDir(dir string) error {
	b, err := marshalCacheDir(dir)
	if err != nil {
		return err
	}
	return WriteFileAtomic(h.CacheDirPath(), b, 0o600)
}

// WriteFileAtomic writes data to path via a synced temporary file, a rename
// and a sync of the directory, so a crash leaves the old file or the new
// one, never half of one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	// Runtime is the user's runtime directory ($XDG_RUNTIME_DIR): where
	// the control socket lives when set (see SocketPath).
	Runtime string
}

func (h Home) DBPath() string   { return filepath.Join(h.State, "drive.db") }
func (h Home) KeysPath() string { return filepath.Join(h.State, "keys") }
func (h Home) LockPath() string { return filepath.Join(h.State, "lock") }

// The control socket lives in the user's runtime directory, which is
// private to the user, cleared at logout or reboot and never on a network
// file system:
//
//	$XDG_RUNTIME_DIR/shardrive/<16 hex digits of SHA-256 of the state dir>.sock
//
// one per home (the state directory made absolute, symlinks resolved).
// Without a runtime directory (XDG_RUNTIME_DIR unset: a system service,
// a bare su) it is <state dir>/control.sock.

// SocketPath is where the CLI finds the daemon of home h: the runtime
// socket, else a socket in the state directory (a daemon started without a
// runtime directory, such as a system service), else the runtime socket,
// the one a daemon started now would listen on.
func (h Home) SocketPath() string {
	own := h.listenSocketPath()
	if own == h.stateSocketPath() {
		return own
	}
	if _, err := os.Lstat(own); err == nil {
		return own
	}
	if fi, err := os.Lstat(h.stateSocketPath()); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return h.stateSocketPath()
	}
	return own
}

// listenSocketPath is where a daemon of home h started now listens.
func (h Home) listenSocketPath() string {
	if h.Runtime == "" {
		return h.stateSocketPath()
	}
	return filepath.Join(h.Runtime, "shardrive", h.socketName())
}

func (h Home) stateSocketPath() string { return filepath.Join(h.State, "control.sock") }

// socketName names the home's socket in the runtime directory.
func (h Home) socketName() string {
	dir, err := filepath.Abs(h.State)
	if err != nil {
		dir = filepath.Clean(h.State)
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		dir = r
	}
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8]) + ".sock"
}

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

package farmer

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/shardrive/shardrive/core/format"
)

// Identity file, version 1 (docs/format/farmer.md): the farmer's ed25519
// seed, written once and kept forever, mode 0600.
//
//	offset  size  field
//	0       4     magic "SDID"
//	4       1     version = 1
//	5       32    ed25519 seed
const (
	identityFile    = "identity"
	identityMagic   = "SDID"
	identityVersion = 1
	identitySize    = 4 + 1 + ed25519.SeedSize
)

var (
	// ErrDataDir reports a data directory the farmer cannot use. The
	// more specific errors below wrap it, as does any I/O failure New
	// meets while opening the directory.
	ErrDataDir = errors.New("farmer: data directory unusable")
	// ErrNoIdentity reports a data directory without an identity file.
	ErrNoIdentity = fmt.Errorf("%w: no identity", ErrDataDir)
	// ErrBadIdentity reports an identity file that is malformed, of an
	// unknown version, or readable by other users.
	ErrBadIdentity = fmt.Errorf("%w: bad identity file", ErrDataDir)
	// ErrInvalidConfig reports a Config that Validate refuses.
	ErrInvalidConfig = errors.New("farmer: invalid configuration")
)

// ReadIdentity returns the node ID of the farmer whose data directory is
// dir, without creating anything. Errors wrap ErrNoIdentity or
// ErrBadIdentity.
func ReadIdentity(dir string) (format.NodeID, error) {
	key, err := loadIdentity(dir)
	if err != nil {
		return format.NodeID{}, err
	}
	return format.NodeIDFromKey(key.Public().(ed25519.PublicKey))
}

func loadIdentity(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, identityFile)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoIdentity, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: identity: %w", ErrDataDir, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o, readable by others; chmod 600 it", ErrBadIdentity, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: identity: %w", ErrDataDir, err)
	}
	return parseIdentity(b)
}

func parseIdentity(b []byte) (ed25519.PrivateKey, error) {
	switch {
	case len(b) < 5 || string(b[:4]) != identityMagic:
		return nil, fmt.Errorf("%w: not an identity file", ErrBadIdentity)
	case b[4] != identityVersion:
		return nil, fmt.Errorf("%w: version: want %d, have %d", ErrBadIdentity, identityVersion, b[4])
	case len(b) != identitySize:
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadIdentity, len(b), identitySize)
	}
	return ed25519.NewKeyFromSeed(b[5:]), nil
}

// loadOrCreateIdentity returns the identity in dir, creating it atomically
// on first start. It never replaces an existing file.
func loadOrCreateIdentity(dir string) (ed25519.PrivateKey, bool, error) {
	key, err := loadIdentity(dir)
	if !errors.Is(err, ErrNoIdentity) {
		return key, false, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		panic(fmt.Sprintf("farmer: read random seed: %v", err))
	}
	b := make([]byte, 0, identitySize)
	b = append(b, identityMagic...)
	b = append(b, identityVersion)
	b = append(b, seed...)
	tmp, err := os.CreateTemp(dir, ".tmp-identity-")
	if err != nil {
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once linked
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	// Link, not rename: it fails if another process created the identity
	// meanwhile, and the first one created wins.
	if err := os.Link(tmp.Name(), filepath.Join(dir, identityFile)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := loadIdentity(dir)
			return key, false, err
		}
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, false, fmt.Errorf("create identity: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), true, nil
}

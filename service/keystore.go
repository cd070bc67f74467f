package service

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/shardrive/shardrive/core/crypto"
)

// Where a home's derived keys live (docs/format/control.md, "Keys file").
// <state dir>/keys, mode 0600, holds one of two things:
//
//   - the keys themselves: the crypto keys file (docs/format/crypto.md §3,
//     magic "SHDRKEYS", 201 bytes). Where no OS keyring answers, or with
//     KeyStore.FileOnly, and in every home made before the keyring was
//     used: such homes keep working as they are, nothing is migrated.
//   - a keyring record naming the OS keyring entry that holds them.
//
// The record is three lines, each ending in "\n":
//
//	shardrive-keyring 1
//	service shardrive
//	entry home-<32 lower-case hex digits>
//
// The entry name is random, made when the keys are saved: it does not
// change when the home is moved or renamed, and two homes of one drive (a
// recovered copy) never share or delete each other's entry. The entry's
// secret is the keys file in standard base64.
//
// A record is no secret, but it tells Load where to look: a keyring that
// is locked, unreachable or lacks the entry is an error naming the fix,
// never a silent fallback.
const (
	keysRecordMagic   = "shardrive-keyring"
	keysRecordVersion = 1
	keyringService    = "shardrive"
	keysFileMax       = 4 << 10 // either form is far smaller
	keyringSecretMax  = 1 << 10
	keyringNameMax    = 64
)

var (
	// ErrBadKeys: the keys file, its keyring record or the keyring's secret
	// does not parse.
	ErrBadKeys = errors.New("drive keys damaged")
	// ErrKeysExposed: the keys file may be read by other users.
	ErrKeysExposed = errors.New("drive keys readable by other users")
	// ErrKeyringUnavailable: the keys are in the OS keyring, which could
	// not be reached or unlocked.
	ErrKeyringUnavailable = errors.New("OS keyring unavailable")
	// ErrKeysMissing: the keyring answered but has no entry for the home.
	ErrKeysMissing = errors.New("drive keys missing from the OS keyring")
)

// KeyStore keeps a home's derived keys (never the mnemonic): in the OS
// keyring where one answers, else in the 0600 keys file.
type KeyStore struct {
	// FileOnly makes Save keep the keys in the file even where a keyring
	// answers (a headless machine, a daemon that starts before login).
	// Load and Delete follow what the keys file says whatever it is.
	FileOnly bool
	// Timeout bounds each keyring call: one may wait for the user to
	// answer an unlock prompt. A call that does not return in time is
	// abandoned (its goroutine ends whenever the keyring answers).
	Timeout time.Duration
}

// NewKeyStore returns the defaults: the keyring where one answers.
func NewKeyStore() KeyStore { return KeyStore{Timeout: time.Minute} }

// Validate reports settings that cannot work.
func (s KeyStore) Validate() error {
	if s.Timeout <= 0 {
		return errors.New("key store: timeout must be positive")
	}
	return nil
}

// KeysPlace says where Save put the keys.
type KeysPlace struct {
	// Entry names the keyring entry holding the keys; "" when they are in
	// File.
	Entry string
	// File is the keys file: the keys, or the record naming Entry.
	File string
	// NoKeyring says why the keyring was not used (nil with FileOnly or
	// when it was). It never holds a secret.
	NoKeyring error
}

// String is for a one-line message to the user.
func (p KeysPlace) String() string {
	switch {
	case p.Entry != "":
		return fmt.Sprintf("in the OS keyring (%s, entry %s/%s)", keyringKind, keyringService, p.Entry)
	case p.NoKeyring != nil:
		return fmt.Sprintf("in %s (mode 0600; no usable OS keyring)", p.File)
	default:
		return fmt.Sprintf("in %s (mode 0600)", p.File)
	}
}

// Save stores k for home h, whose state directory must exist: in the OS
// keyring, its record in the keys file, unless FileOnly is set or the
// keyring does not answer (then in the keys file, and the place says why).
// The keys an earlier Save left for h are deleted first.
func (s KeyStore) Save(h Home, k *crypto.Keys) (KeysPlace, error) {
	if err := s.Validate(); err != nil {
		return KeysPlace{}, err
	}
	kb, err := k.MarshalBinary()
	if err != nil {
		return KeysPlace{}, err
	}
	place := KeysPlace{File: h.KeysPath()}
	// Best effort: an entry a keyring that does not answer now still holds
	// is left behind rather than blocking a new drive.
	s.Delete(h)
	if !s.FileOnly {
		entry, err := s.saveKeyring(kb)
		if err == nil {
			if err := WriteFileAtomic(place.File, marshalKeysRecord(keyringService, entry), 0o600); err != nil {
				s.keyringDelete(keyringService, entry)
				return place, fmt.Errorf("write drive keys record: %w", err)
			}
			place.Entry = entry
			return place, nil
		}
		place.NoKeyring = err
	}
	if err := WriteFileAtomic(place.File, kb, 0o600); err != nil {
		return place, fmt.Errorf("write drive keys: %w", err)
	}
	return place, nil
}

// saveKeyring stores kb under a new entry and reads it back, so that a
// keyring that accepts but mangles the secret is not trusted with it.
func (s KeyStore) saveKeyring(kb []byte) (string, error) {
	if err := keyringReachable(); err != nil {
		return "", err
	}
	var r [16]byte
	rand.Read(r[:])
	entry := "home-" + hex.EncodeToString(r[:])
	secret := base64.StdEncoding.EncodeToString(kb)
	if err := s.call(func() error { return keyring.Set(keyringService, entry, secret) }); err != nil {
		return "", err
	}
	var got string
	err := s.call(func() (err error) {
		got, err = keyring.Get(keyringService, entry)
		return err
	})
	if err == nil && got != secret {
		err = errors.New("the keyring returned another secret than the one stored")
	}
	if err != nil {
		s.keyringDelete(keyringService, entry)
		return "", err
	}
	return entry, nil
}

// Load reads the keys of home h from wherever its keys file says they are.
func (s KeyStore) Load(h Home) (*crypto.Keys, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	path := h.KeysPath()
	b, fi, err := readKeysFile(path)
	if err != nil {
		return nil, fmt.Errorf("read drive keys: %w", err)
	}
	if !isKeysRecord(b) {
		// The keys themselves: only their owner may read them.
		if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%w: %s has mode %04o (run chmod 600 %s)", ErrKeysExposed, path, fi.Mode().Perm(), path)
		}
		k, err := crypto.UnmarshalKeys(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadKeys, path, err)
		}
		return k, nil
	}
	svc, entry, err := parseKeysRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var secret string
	err = keyringReachable()
	if err == nil {
		err = s.call(func() (err error) {
			secret, err = keyring.Get(svc, entry)
			return err
		})
	}
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return nil, fmt.Errorf("%w: %s names entry %s/%s, which the keyring (%s) does not hold: it was deleted, "+
			"or the home was copied from another user or machine. Rebuild the home from the 24 words: "+
			"move %s aside and run shardrive init --recover", ErrKeysMissing, path, svc, entry, keyringKind, h.State)
	case err != nil:
		return nil, fmt.Errorf("%w: the drive keys are in the OS keyring (%s, entry %s/%s, named by %s), "+
			"which did not give them: %v. %s, then start again", ErrKeyringUnavailable, keyringKind, svc, entry, path, err, keyringFix)
	}
	k, err := parseKeyringSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: keyring entry %s/%s: %w", ErrBadKeys, svc, entry, err)
	}
	return k, nil
}

// Delete removes the keys of home h: the keyring entry its record names
// (one already gone is no error), then the keys file. A keyring that does
// not answer is an error and the file stays, so that a retry finds the
// entry. No keys file is no error.
func (s KeyStore) Delete(h Home) error {
	if err := s.Validate(); err != nil {
		return err
	}
	path := h.KeysPath()
	b, _, err := readKeysFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read drive keys: %w", err)
	}
	if isKeysRecord(b) {
		svc, entry, err := parseKeysRecord(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := s.keyringDelete(svc, entry); err != nil {
			return fmt.Errorf("%w: delete entry %s/%s: %v. %s, then try again", ErrKeyringUnavailable, svc, entry, err, keyringFix)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// keyringDelete deletes one entry; one already gone is no error.
func (s KeyStore) keyringDelete(svc, entry string) error {
	err := keyringReachable()
	if err == nil {
		err = s.call(func() error { return keyring.Delete(svc, entry) })
	}
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// call runs one keyring call, bounded by s.Timeout. The keyring API takes
// no context; a call that hangs is left to finish on its own.
func (s KeyStore) call(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(s.Timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("no answer within %v (waiting for an unlock prompt?)", s.Timeout)
	}
}

// readKeysFile reads at most keysFileMax bytes of the keys file.
func readKeysFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, keysFileMax+1))
	if err != nil {
		return nil, nil, err
	}
	if len(b) > keysFileMax {
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadKeys, path, keysFileMax)
	}
	return b, fi, nil
}

// isKeysRecord tells a keyring record from the keys themselves.
func isKeysRecord(b []byte) bool { return bytes.HasPrefix(b, []byte(keysRecordMagic+" ")) }

func marshalKeysRecord(svc, entry string) []byte {
	return fmt.Appendf(nil, "%s %d\nservice %s\nentry %s\n", keysRecordMagic, keysRecordVersion, svc, entry)
}

// parseKeysRecord parses a keyring record: the three lines exactly, a
// version other than keysRecordVersion refused with want/have, names
// checked by validKeyringName.
func parseKeysRecord(b []byte) (svc, entry string, err error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return "", "", fmt.Errorf("%w: keyring record: want 3 lines ending in a newline", ErrBadKeys)
	}
	magic, ver, ok := strings.Cut(lines[0], " ")
	if !ok || magic != keysRecordMagic {
		return "", "", fmt.Errorf("%w: keyring record: header %q", ErrBadKeys, lines[0])
	}
	v, err := strconv.Atoi(ver)
	if err != nil || strconv.Itoa(v) != ver {
		return "", "", fmt.Errorf("%w: keyring record: version %q", ErrBadKeys, ver)
	}
	if v != keysRecordVersion {
		return "", "", fmt.Errorf("%w: keyring record: want version %d, have %d", ErrBadKeys, keysRecordVersion, v)
	}
	svc, ok = strings.CutPrefix(lines[1], "service ")
	if !ok || !validKeyringName(svc) {
		return "", "", fmt.Errorf("%w: keyring record: service line %q", ErrBadKeys, lines[1])
	}
	entry, ok = strings.CutPrefix(lines[2], "entry ")
	if !ok || !validKeyringName(entry) {
		return "", "", fmt.Errorf("%w: keyring record: entry line %q", ErrBadKeys, lines[2])
	}
	return svc, entry, nil
}

// validKeyringName admits 1 to 64 of a-z, 0-9, '.', '_' and '-', so that a
// name passes through every keyring backend unquoted.
func validKeyringName(s string) bool {
	if s == "" || len(s) > keyringNameMax {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseKeyringSecret decodes the keys file the keyring holds in base64.
func parseKeyringSecret(s string) (*crypto.Keys, error) {
	if len(s) > keyringSecretMax {
		return nil, fmt.Errorf("secret of %d bytes", len(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("secret is not base64: %w", err)
	}
	return crypto.UnmarshalKeys(b)
}

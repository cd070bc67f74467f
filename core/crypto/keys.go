package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"fmt"
)

// Key is a 256-bit symmetric key. Its String and GoString methods print a
// placeholder so a key that slips into a log line or an error stays secret;
// use k[:] when the bytes are really needed.
type Key [32]byte

// String hides the key.
func (Key) String() string { return "crypto.Key(redacted)" }

// GoString hides the key from %#v too.
func (Key) GoString() string { return "crypto.Key(redacted)" }

// Derivation labels. Changing any of them changes every key of every drive:
// they are part of the format (docs/format/crypto.md).
const (
	hkdfSalt       = "shardrive v1 root"
	labelFileWrap  = "shardrive v1 file-key-wrap"
	labelMetadata  = "shardrive v1 metadata"
	labelNames     = "shardrive v1 names"
	labelAccount   = "shardrive v1 account"
	labelKeyCheck  = "shardrive v1 key-check"
	labelPerFarmer = "shardrive v1 account-farmer "
)

// MinSeedSize is the shortest seed DeriveKeys accepts. A drive always uses
// the 64-byte BIP39 seed from MnemonicSeed.
const MinSeedSize = 32

// Keys are the drive-wide keys derived from the mnemonic. The seed and the
// mnemonic are not kept. A *Keys is immutable and safe for concurrent use;
// the *Key values its methods return must not be modified.
type Keys struct {
	fileWrap Key
	metadata Key
	names    Key
	account  Key
	check    [32]byte
}

// DeriveKeys derives the drive keys from a BIP39 seed: one HKDF-SHA256
// extract over the seed (salt "shardrive v1 root"), then one expand per
// purpose with its own info label, so no key can be computed from another.
func DeriveKeys(seed []byte) (*Keys, error) {
	if len(seed) < MinSeedSize {
		return nil, fmt.Errorf("%w: want at least %d bytes, have %d", ErrInvalidSeed, MinSeedSize, len(seed))
	}
	prk, err := hkdf.Extract(sha256.New, seed, []byte(hkdfSalt))
	if err != nil {
		return nil, fmt.Errorf("crypto: derive keys: %w", err)
	}
	defer clear(prk)
	k := new(Keys)
	for _, d := range []struct {
		label string
		out   []byte
	}{
		{labelFileWrap, k.fileWrap[:]},
		{labelMetadata, k.metadata[:]},
		{labelNames, k.names[:]},
		{labelAccount, k.account[:]},
		{labelKeyCheck, k.check[:]},
	} {
		b, err := hkdf.Expand(sha256.New, prk, d.label, len(d.out))
		if err != nil {
			return nil, fmt.Errorf("crypto: derive %q: %w", d.label, err)
		}
		copy(d.out, b)
		clear(b)
	}
	return k, nil
}

// FileWrapKey wraps (encrypts) the random per-file keys stored in the
// metadata.
func (k *Keys) FileWrapKey() *Key { return &k.fileWrap }

// MetadataKey seals the metadata backups and root records.
func (k *Keys) MetadataKey() *Key { return &k.metadata }

// NamesKey protects file and directory names and paths.
func (k *Keys) NamesKey() *Key { return &k.names }

// AccountKey returns the ed25519 identity this drive uses towards the farmer
// whose node ID (its ed25519 public key) is farmerID. It is
// HKDF-SHA256(secret = account key, no salt, info = "shardrive v1
// account-farmer " || farmerID) expanded to an ed25519 seed, so every farmer
// sees a different public key and two farmers cannot link their accounts to
// one user. It is deterministic: the mnemonic alone recovers every account.
// Callers pass a validated 32-byte node ID; any other length still derives a
// distinct key and never panics.
func (k *Keys) AccountKey(farmerID ed25519.PublicKey) ed25519.PrivateKey {
	info := labelPerFarmer + string(farmerID)
	seed, err := hkdf.Key(sha256.New, k.account[:], nil, info, ed25519.SeedSize)
	if err != nil {
		// Only possible for an output longer than 255 hash blocks.
		panic("crypto: hkdf account key: " + err.Error())
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return priv
}

// Check is a non-secret value that identifies the key set: the drive records
// it at init, and a later mnemonic whose Check differs is the wrong one
// (VerifyCheck). It is an HKDF output under its own label and reveals
// nothing about the other keys. It is, however, a stable per-drive
// identifier: keep it local or encrypted, never in the clear on farmers,
// where it would link a user's accounts.
func (k *Keys) Check() [32]byte { return k.check }

// VerifyCheck compares, in constant time, the drive's recorded check value
// with this key set's; a mismatch returns ErrWrongKey.
func (k *Keys) VerifyCheck(recorded [32]byte) error {
	if subtle.ConstantTimeCompare(k.check[:], recorded[:]) != 1 {
		return ErrWrongKey
	}
	return nil
}

// String hides the keys.
func (*Keys) String() string { return "crypto.Keys(redacted)" }

// GoString hides the keys from %#v too.
func (*Keys) GoString() string { return "crypto.Keys(redacted)" }

// Keys file format, version 1 (201 bytes; docs/format/crypto.md):
//
//	offset size field
//	     0    8 magic "SHDRKEYS"
//	     8    1 version = 1
//	     9   32 file-key-wrap key
//	    41   32 metadata key
//	    73   32 names key
//	   105   32 account key
//	   137   32 key-check value
//	   169   32 SHA-256 of bytes [0, 169)
//
// The checksum catches a damaged file; it is no defence against someone who
// can write the file (they could read the keys anyway).
const (
	keysMagic      = "SHDRKEYS"
	KeysVersion    = 1
	keysHeaderSize = len(keysMagic) + 1
	keysBodySize   = 5 * 32
	KeysFileSize   = keysHeaderSize + keysBodySize + sha256.Size
)

var (
	_ encoding.BinaryMarshaler   = (*Keys)(nil)
	_ encoding.BinaryUnmarshaler = (*Keys)(nil)
)

// MarshalBinary encodes the derived keys as a keys file (see KeysFileSize).
// It holds secrets: store it 0600 or in the OS keyring.
func (k *Keys) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, KeysFileSize)
	b = append(b, keysMagic...)
	b = append(b, KeysVersion)
	b = append(b, k.fileWrap[:]...)
	b = append(b, k.metadata[:]...)
	b = append(b, k.names[:]...)
	b = append(b, k.account[:]...)
	b = append(b, k.check[:]...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalKeys parses a keys file written by MarshalBinary. It rejects a
// wrong magic, a version other than KeysVersion (ErrUnknownVersion, naming
// want and have), a wrong length and a checksum mismatch (ErrMalformed).
func UnmarshalKeys(b []byte) (*Keys, error) {
	k := new(Keys)
	if err := k.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return k, nil
}

// UnmarshalBinary is UnmarshalKeys into k; k is unchanged on error.
func (k *Keys) UnmarshalBinary(b []byte) error {
	if len(b) < keysHeaderSize {
		return fmt.Errorf("%w: keys file: %d bytes is shorter than its %d-byte header", ErrMalformed, len(b), keysHeaderSize)
	}
	if !bytes.Equal(b[:len(keysMagic)], []byte(keysMagic)) {
		return fmt.Errorf("%w: keys file: bad magic", ErrMalformed)
	}
	if v := b[len(keysMagic)]; v != KeysVersion {
		return fmt.Errorf("%w: keys file: want version %d, have %d", ErrUnknownVersion, KeysVersion, v)
	}
	if len(b) != KeysFileSize {
		return fmt.Errorf("%w: keys file: want %d bytes, have %d", ErrMalformed, KeysFileSize, len(b))
	}
	body, sum := b[:KeysFileSize-sha256.Size], b[KeysFileSize-sha256.Size:]
	want := sha256.Sum256(body)
	if !bytes.Equal(want[:], sum) {
		return fmt.Errorf("%w: keys file: checksum mismatch (file damaged)", ErrMalformed)
	}
	var n Keys
	p := body[keysHeaderSize:]
	for _, dst := range [][]byte{n.fileWrap[:], n.metadata[:], n.names[:], n.account[:], n.check[:]} {
		p = p[copy(dst, p):]
	}
	*k = n
	return nil
}

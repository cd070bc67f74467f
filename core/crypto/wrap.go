package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// NonceSize is the AES-GCM nonce size used everywhere in this package.
const NonceSize = 12

// TagSize is the AES-GCM authentication tag size.
const TagSize = 16

// NewFileKey returns a fresh random per-file key. It panics only if the
// system random source fails.
func NewFileKey() Key {
	var k Key
	mustRead(k[:])
	return k
}

// NewFileID returns a fresh random 128-bit file ID. File IDs are bound into
// every sealed segment of the file, so blocks cannot be moved between files.
func NewFileID() [16]byte {
	var id [16]byte
	mustRead(id[:])
	return id
}

// mustRead fills b from crypto/rand, panicking on RNG failure (which
// crypto/rand itself already treats as fatal).
func mustRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("crypto: random source failed: " + err.Error())
	}
}

// newAEAD returns AES-256-GCM with 12-byte nonces and 16-byte tags under key.
// Neither constructor can fail for a 32-byte key.
func newAEAD(key *Key) cipher.AEAD {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic("crypto: aes: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("crypto: gcm: " + err.Error())
	}
	return aead
}

// Wrapped key format, version 1 (61 bytes; docs/format/crypto.md):
//
//	offset size field
//	     0    1 version = 1
//	     1   12 nonce (random)
//	    13   32 AES-256-GCM ciphertext of the key
//	    45   16 GCM tag
//
// GCM associated data: "shardrive/wrapped-key" || version || caller's ad.
const (
	WrapVersion     = 1
	WrappedKeySize  = 1 + NonceSize + len(Key{}) + TagSize
	wrapLabel       = "shardrive/wrapped-key"
	wrapLabelAndVer = len(wrapLabel) + 1
)

// wrapAD is the GCM associated data of a wrapped key.
func wrapAD(version byte, ad []byte) []byte {
	b := make([]byte, 0, wrapLabelAndVer+len(ad))
	b = append(b, wrapLabel...)
	b = append(b, version)
	return append(b, ad...)
}

// WrapKey encrypts k under the key-encryption key kek with AES-256-GCM and a
// fresh random nonce, binding ad (for example the file ID) so the wrapped key
// only unwraps for the same ad. The result is WrappedKeySize bytes.
func WrapKey(kek *Key, k Key, ad []byte) []byte {
	out := make([]byte, 1+NonceSize, WrappedKeySize)
	out[0] = WrapVersion
	mustRead(out[1 : 1+NonceSize])
	return newAEAD(kek).Seal(out, out[1:1+NonceSize], k[:], wrapAD(WrapVersion, ad))
}

// UnwrapKey reverses WrapKey. A wrapped key that was altered, is of the wrong
// length, or is opened with another kek or ad fails with ErrUnauthenticated;
// an unknown version fails with ErrUnknownVersion.
func UnwrapKey(kek *Key, wrapped, ad []byte) (Key, error) {
	if len(wrapped) == 0 {
		return Key{}, fmt.Errorf("unwrap key: empty: %w", ErrUnauthenticated)
	}
	if v := wrapped[0]; v != WrapVersion {
		return Key{}, fmt.Errorf("unwrap key: %w: want version %d, have %d", ErrUnknownVersion, WrapVersion, v)
	}
	if len(wrapped) != WrappedKeySize {
		return Key{}, fmt.Errorf("unwrap key: want %d bytes, have %d: %w", WrappedKeySize, len(wrapped), ErrUnauthenticated)
	}
	var k Key
	_, err := newAEAD(kek).Open(k[:0], wrapped[1:1+NonceSize], wrapped[1+NonceSize:], wrapAD(WrapVersion, ad))
	if err != nil {
		return Key{}, fmt.Errorf("unwrap key: %w", ErrUnauthenticated)
	}
	return k, nil
}

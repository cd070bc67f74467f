package crypto

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
)

// Subkeys of the metadata key, for the metadata backup (docs/format/crypto.md,
// docs/format/meta.md). Each is HKDF-SHA256(secret = metadata key, no salt,
// info = label), so none can be computed from another and the keys file
// needs no new field: they follow from the metadata key it already holds.
const (
	labelMetaObjects = "shardrive v1 metadata-objects"
	labelRootSeal    = "shardrive v1 root-seal"
	labelRootSign    = "shardrive v1 root-sign"
)

func (k *Keys) metaSubkey(label string, n int) []byte {
	b, err := hkdf.Key(sha256.New, k.metadata[:], nil, label, n)
	if err != nil {
		// Only possible for an output longer than 255 hash blocks.
		panic("crypto: hkdf " + label + ": " + err.Error())
	}
	return b
}

// MetadataObjectKey seals the metadata backup objects (checkpoints and log
// segments) stored on the farmers, like a file key seals a file's blocks.
func (k *Keys) MetadataObjectKey() *Key {
	var key Key
	b := k.metaSubkey(labelMetaObjects, len(key))
	copy(key[:], b)
	clear(b)
	return &key
}

// RootSealKey encrypts the root records stored on the farmers.
func (k *Keys) RootSealKey() *Key {
	var key Key
	b := k.metaSubkey(labelRootSeal, len(key))
	copy(key[:], b)
	clear(b)
	return &key
}

// RootSigningKey signs root records. Its public half is never stored
// anywhere: a recovering client derives it from the mnemonic, so a farmer
// can neither forge a root nor tell which public key would check one.
func (k *Keys) RootSigningKey() ed25519.PrivateKey {
	seed := k.metaSubkey(labelRootSign, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return priv
}

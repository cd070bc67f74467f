package crypto

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; every error this
// package returns wraps one of them, with the details (segment index, word
// position, want/have version) in the message. No message ever contains
// key material, plaintext or a mnemonic word.
var (
	// ErrInvalidMnemonic: a mnemonic that is not 24 words of the BIP39
	// English list with a valid checksum.
	ErrInvalidMnemonic = errors.New("crypto: invalid mnemonic")

	// ErrUnauthenticated: sealed or wrapped bytes that do not open under the
	// given key and associated data: tampered, truncated, extended,
	// reordered, replayed from another file/block/version, or simply the
	// wrong key. Their plaintext is never returned.
	ErrUnauthenticated = errors.New("crypto: message authentication failed")

	// ErrWrongKey: the keys do not belong to this drive (their check value
	// differs from the one recorded when the drive was created).
	ErrWrongKey = errors.New("crypto: wrong key for this drive")

	// ErrInvalidSeed: a seed too short to derive keys from.
	ErrInvalidSeed = errors.New("crypto: invalid seed")

	// ErrMalformed: bytes that do not parse as the format they claim to be
	// (bad magic, wrong length, checksum mismatch).
	ErrMalformed = errors.New("crypto: malformed data")

	// ErrUnknownVersion: a versioned format this build does not know. The
	// message names the version wanted and the one found.
	ErrUnknownVersion = errors.New("crypto: unknown format version")
)

// Package crypto holds Shardrive's key hierarchy and block encryption: pure
// functions over bytes, with no knowledge of files, farmers or SQLite. The
// byte layouts are specified in docs/format/crypto.md and repeated beside
// the code that writes them.
//
// # Terms
//
//   - Mnemonic: the drive's root secret, 24 BIP39 English words (256 bits of
//     entropy), shown once at init and never stored. Only 24-word phrases
//     are accepted; a shorter (valid BIP39) phrase is rejected, because a
//     drive never has one and it can only be a mistake.
//   - Seed: the standard 64-byte BIP39 seed of the mnemonic (PBKDF2, empty
//     passphrase). It is an intermediate value; it is not stored either.
//   - Keys: the drive keys, derived from the seed by HKDF-SHA256 with one
//     info label per purpose: the file-key wrapping key, the metadata key,
//     the names key, the account key and the check value. Because each is
//     an independent HKDF output, none of them reveals another, and the
//     mnemonic alone re-derives all of them on a new machine. The daemon
//     keeps them in a keys file (MarshalBinary), never the mnemonic.
//   - Account key: per farmer, HKDF(account key, farmer node ID) is the
//     seed of the ed25519 identity that signs requests to that farmer.
//     Farmers therefore see unrelated public keys and cannot link one
//     user's accounts, while the client recovers every account from the
//     mnemonic.
//   - Check value: a non-secret HKDF output recorded when the drive is
//     created; a later mnemonic with another check value is the wrong one
//     (ErrWrongKey) and is refused before it can write anything. It is a
//     stable per-drive identifier, so it must not be shown to farmers in
//     the clear.
//   - File key and file ID: every file gets a random 256-bit key and a
//     random 128-bit ID. The file key is stored only wrapped (WrapKey:
//     AES-256-GCM under the file-wrap key, bound to associated data such as
//     the file ID), so one drive key protects all files while each file's
//     data is under its own key.
//   - Block: a fixed-size piece of a file, the unit of encryption and
//     upload. BlockAD names its place: file ID, block index, block version.
//   - Segment: a block is sealed as a run of SegmentSize (64 KiB) plaintext
//     segments, each its own AES-256-GCM message: nonce(12) || ciphertext ||
//     tag(16). A range read fetches and authenticates only the segments it
//     touches (SegmentSpan, SealedOffset, OpenSegment).
//   - Sealer: the AES key schedule and GCM tables of one key, built once and
//     reused for every block of a file; safe for concurrent use.
//
// # Why the block format is what it is
//
// Fresh random nonces. Every segment of every seal draws a new random 96-bit
// nonce (all nonces of a block come from one crypto/rand read). The block
// version lives only in the associated data, never in the nonce: a counter
// or a version-derived nonce would repeat after a crash, a restore of older
// metadata or a second device writing with the same file key, and a
// repeated (key, nonce) pair breaks GCM completely. With random nonces the
// risk is the birthday bound: below 2^-32 for up to 2^32 segments (256 TiB
// of writes) under one file key.
//
// Associated data. Each segment's GCM associated data binds a format label
// and version, the file ID, the block index, the block version, the segment
// index and the total segment count. Hence, without the client noticing,
// nobody (a farmer included) can: flip a bit; reorder segments within a
// block; move a segment or a block to another block index or another file;
// serve an older version of a block (rollback, replay); drop trailing
// segments (truncation) or append segments (extension). All of these fail
// with ErrUnauthenticated, naming the first failing segment, and no
// plaintext of a failing block is returned. Rollback protection relies on
// the metadata: it must record the current version of each block and bump
// it on every rewrite.
//
// Padding. Plaintext is zero-padded to whole segments, so a sealed block
// (and every shard cut from it) reveals the block length only to 64 KiB; a
// one-byte file looks like any other file below 64 KiB. The true length
// is kept in the encrypted metadata, and OpenBlock returns the padded
// plaintext for the caller to trim.
//
// No version byte on the wire for segments: the format version is bound
// into the associated data, so a segment of another format version cannot
// be mistaken for this one (it fails authentication), and sealed blocks
// stay exactly SealedSize bytes, which keeps the erasure coding arithmetic
// simple. The keys file and wrapped keys, which are parsed before any
// authentication, carry an explicit version byte and reject unknown
// versions with want/have (ErrUnknownVersion).
//
// # Errors and secrets
//
// Errors wrap the sentinels in errors.go: ErrInvalidMnemonic,
// ErrUnauthenticated, ErrWrongKey, ErrInvalidSeed, ErrMalformed,
// ErrUnknownVersion. Messages never contain key material, plaintext or
// mnemonic words (a bad word is reported by position). Key and Keys print
// as "redacted" with fmt. Nothing here logs. Panics happen only when the
// system random source fails or on impossible internal errors.
//
// What this package does not decide: the metadata and name formats that
// use MetadataKey and NamesKey, and where the check value and wrapped keys
// are stored; those belong to the packages that own those formats.
package crypto

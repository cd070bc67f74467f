// Package format holds what a farmer and a client must agree on byte for
// byte: identities and addresses, the TLS pinning rule, request signing,
// the error table, and the bodies of the farmer HTTP API. It does no I/O
// beyond building TLS configurations; the farmer and netclient packages
// import it, and it imports nothing of ours but core/merkle.
//
// # Terms
//
//   - Node ID: a farmer's ed25519 public key. Written as 52 lowercase base32
//     characters; there is exactly one spelling per key.
//   - Address: "nodeid@host:port", who a farmer is and where it listens.
//   - Account ID: the ed25519 public key a client signs its requests to one
//     farmer with. Clients derive a different key per farmer so farmers
//     cannot link a user's shards by account.
//   - Pinning: the client accepts a TLS 1.3 connection only if the server's
//     certificate carries the node ID's key (ClientTLSConfig). There is no
//     CA; the address is the trust anchor. Loopback is pinned like the rest.
//   - Signed request: every request carries the account, the target farmer,
//     a timestamp, a nonce and the body's BLAKE3 hash, signed with the
//     account key over a versioned canonical string (Sign). The farmer's
//     Verifier refuses bad signatures, requests for other farmers, stale or
//     future timestamps and replayed nonces, with bounded memory and
//     without reopening replays across a restart.
//   - Range response: leaf-aligned shard bytes plus their Merkle proof
//     (EncodeRange, DecodeRange); the client verifies before use.
//   - Root record: one opaque, versioned record per account (root.go), the
//     client's sealed pointer to its metadata backup. The farmer keeps the
//     highest version it was given and refuses to go back (ErrConflict);
//     it cannot read or verify the record.
//   - Wire error: {"code": ..., "message": ...} with an HTTP status, one row
//     per sentinel error in one table (errors.go), so errors.Is works on
//     both sides of the wire.
//
// # Why these choices
//
// TLS authenticates the farmer to the client; request signatures
// authenticate the account to the farmer. Signatures rather than TLS client
// certificates because they survive proxies, bind each request to its body
// and its farmer, and let the farmer refuse replays per request. The body
// hash is BLAKE3 because the farmer hashes each upload with BLAKE3 anyway
// for the Merkle root. Timestamps are milliseconds so that the restart
// floor (see Verifier) costs clients at most one retry.
//
// Every wire layout is specified in docs/format/wire.md and repeated beside
// its code. Parsers check every length, refuse unknown versions with the
// wanted and found values, and never panic on hostile input (see the fuzz
// tests).
package format

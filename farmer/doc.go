// Package farmer is the Shardrive storage node: it keeps encrypted,
// erasure-coded shards for client accounts in a data directory and serves
// the HTTP API of docs/format/wire.md over TLS 1.3, identified by an
// ed25519 key the clients pin. It shares only core/format (and
// core/merkle) with the client.
//
// # Terms
//
//   - Data directory: identity, index, shard files; layout and file
//     formats in docs/format/farmer.md. One process per directory (lock).
//   - Identity: the ed25519 seed in D/identity, created on first start and
//     kept forever; its public key is the node ID.
//   - Account: whoever signs requests with one ed25519 key. Accounts need
//     no registration; an account's shards are its own namespace, so
//     another account asking for the same root gets not_found.
//   - Shard file: header, the shard's Merkle tree (leaf hashes) and the
//     shard bytes, written atomically (temp file, fsync, rename, fsync of
//     the directory).
//   - Index: SQLite (farmer.db) listing shards per account and their
//     accounting (stored bytes, shard count, ingress, egress, byte-hours,
//     first seen), served to each account in Info and to the operator by
//     ReadStats. The files are the truth; start-up reconciliation makes
//     the index agree with them.
//   - Region: a free-text location label the operator may declare
//     (Config.Region), served in Info for placement.
//   - Root record: one opaque record per account, with a version that
//     only grows (PUT and GET /v1/root). It lives in the index only; the
//     farmer cannot read or check it, only refuse an older version.
//   - Corrupt: a shard whose stored bytes or tree no longer match. Found on
//     a read, it is marked, logged and never served, until the owner
//     uploads it again or deletes it.
//
// # Why this shape
//
// The farmer keeps the Merkle tree next to each shard so that a range read
// costs the leaves it returns plus the tree (not a rehash of the shard),
// and it checks those leaves against the tree before sending them: a
// farmer with a rotting disk says "corrupt" instead of sending bytes the
// client would reject. The client verifies everything anyway; the farmer's
// own check only makes it honest about its own disk.
//
// Uploads are read whole before anything is written (at most 64 MiB, and a
// byte-weighted semaphore, Config.MaxMemory, bounds all requests together)
// because the root must be known correct before the shard gets its name.
// Quota and capacity are reserved before the body is read, so concurrent
// uploads cannot together overshoot, and an upload the farmer would refuse
// never crosses the wire when the client sends "Expect: 100-continue".
//
// Every request is authenticated before it is routed (format.Verifier):
// unsigned callers learn nothing, not even which paths exist. Handlers
// recover from panics into a 500, and the HTTP server bounds header size
// and read and write times, so malformed or hostile input gets a 4xx and
// leaves the store as it was (FuzzHandler checks that).
//
// # Use
//
//	f, err := farmer.New(cfg, logger)  // opens D, reconciles
//	go f.Serve(listener)              // TLS is added by Serve
//	...
//	f.Shutdown(ctx)                   // finishes uploads, flushes, closes
//
//	st, err := farmer.ReadStats(ctx, dir, time.Now()) // accounting, beside a running farmer or not
//
// Tests start in-process farmers with StartTest; ShardPath lets a test
// harness damage a stored shard on disk the way a failing or malicious
// farmer would, and StartLiar runs one that lies on the wire: serves
// forged bytes (SetLie), loses shards (DropShards), dodges audits by
// hanging or failing partial reads only (SetDodge, DodgePartialReads),
// or rolls back its root record.
package farmer

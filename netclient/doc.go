// Package netclient is how a Shardrive client talks to farmers: one
// FarmerClient per farmer for the HTTP calls, and a Network over all of
// them that places, fetches, audits and deletes the shards of a block (see
// network.go for its terms: slots, byte budget, ranking, exclusion,
// regions, hedged reads).
//
// # FarmerClient
//
// A FarmerClient speaks the farmer API of docs/format/wire.md to one
// farmer, as one account:
//
//   - Identity: every connection is TLS 1.3 and accepted only if the
//     server's key is the node ID in the farmer's address
//     (format.ClientTLSConfig). A mismatch fails with format.ErrWrongFarmer
//     before any request is sent; loopback is no exception.
//   - Account: the caller passes the ed25519 key it derived for this farmer;
//     every request, reads included, is signed with it (format.Sign) over
//     method, path, query, body hash, the farmer's ID, a timestamp and a
//     nonce. A request is never resent as is: a retry is signed afresh.
//   - Verification: GetShard receives whole leaves and their Merkle proof,
//     verifies them against the shard's root and only then returns exactly
//     the bytes asked for. Wrong bytes, a wrong proof, other leaves or a
//     malformed body all fail with format.ErrHashMismatch (wrapping
//     merkle.ErrProof or format.ErrMalformed too), so the caller can fetch
//     the range from another farmer and mark this one.
//   - Root record: PutRoot and GetRoot move the account's one opaque,
//     versioned root record (format.RootPath). A version the farmer already
//     holds or has passed fails with *RootConflict, carrying the farmer's
//     version; GetRoot's answer is unverified, and checking it is the
//     caller's job.
//   - Errors: farmer answers come back as *format.Error, which unwraps to
//     the format sentinel its code names (errors.Is(err,
//     format.ErrNotFound)); transport failures come back as they are.
//   - Clock: the only retry a FarmerClient makes is for a request refused as
//     expired. The farmer sends its clock (Shardrive-Time) and its replay
//     floor (Shardrive-Not-Before) on every answer; the client signs the
//     retry, and later requests, on the farmer's clock and after the floor.
//     That covers a client whose clock is off and a farmer that just
//     restarted. Every other retry, and all timeouts beyond
//     FarmerConfig.Timeout, are the Network's business.
//   - Connections: HTTP/1.1 keep-alive, at most FarmerConfig.MaxConnsPerHost
//     to the farmer. Uploads send "Expect: 100-continue" so a farmer that
//     refuses an upload (quota, full, already stored, bad signature) does
//     so before the shard crosses the wire.
//
// # Network
//
// The Network reads nearest first: the farmers with the lowest expected
// time for the call carry the reads, and slower ones are asked only when a
// nearer one fails, is down, or holds none of the shards needed (shown on
// loopback behind delaying proxies in TestNetworkNearestFirstBehindProxies).
// It places each shard of a block on a different farmer, never on one the
// caller excluded (suspended, disqualified, being removed) or asked it to
// avoid (a repair's block's other holders), spreading the shards over the
// regions farmers declare while that is possible. Farmers can be added
// while it runs; they leave by exclusion and repair, never from under an
// operation.
//
// # Audits
//
// An audit proves that a farmer still holds a shard's bytes, not merely
// something derived from them. The client keeps each shard's Merkle root
// (core/merkle: a BLAKE3 tree over 16 KiB leaves, the root binding the
// size) in its metadata; the farmer keeps the shard. To audit, the client
// picks a leaf at random and asks for it through the ordinary range read
// (GET /v1/shards/{root}?offset&length, no new endpoint): the farmer
// answers with the leaf and its Merkle proof, and the client verifies them
// against the root it kept.
//
//   - Sound: passing needs the leaf's bytes. The proof's hashes are not
//     enough: the leaf hash is BLAKE3 of the bytes, so a farmer that kept
//     only the tree (every hash) cannot produce a leaf that verifies, and a
//     farmer that dropped part of a shard fails every audit that lands in
//     the dropped part. A farmer missing a fraction f of a shard's leaves
//     passes a audits of it with probability (1-f)^a.
//   - Cheap: one leaf and log2(leaves) hashes of proof. Measured on
//     loopback (BenchmarkAudit, 4 MiB shard, 2-core VM): 16,674 bytes and
//     0.76 ms per audit; a 64 MiB shard adds four hashes (128 bytes). The
//     farmer reads one leaf and a few tree nodes from disk.
//   - Unlimited and unpredictable: any leaf of any shard, chosen by the
//     client when it audits, with a fresh signed request each time; there
//     are no precomputed challenges to run out of and nothing for the
//     farmer to prepare. An audit looks like a small read; a farmer that
//     guesses which requests are audits and stalls only those gets
//     AuditNoAnswer, which the caller holds it to until it answers.
//
// Network.Audit is the mechanism: it makes the call (with its own
// AuditTimeout, through the same slots and ranking as any call) and
// returns a verdict, AuditPassed, AuditFailed (answered without the leaf:
// wrong bytes, not found, corrupt, any refusal) or AuditNoAnswer, with the
// bytes and time it cost. Choosing what to audit, and turning verdicts
// into reputation, suspension and repair, is the caller's policy.
// Network.FarmerInfo returns the farmer's own accounting of the account
// (format.AccountUsage) to compare with the client's ledger.
//
// HTTP/2 is not used: a 64 MiB upload would share one TCP connection (its
// congestion window, its head-of-line blocking) with the small reads the
// Network races against each other; separate HTTP/1.1 connections keep
// them independent, and the Network's slots keep their number small.
package netclient

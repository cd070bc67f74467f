// Package netclient is how a Shardrive client talks to farmers: one
// FarmerClient per farmer for the HTTP calls, and a Network over all of
// them that places, fetches and deletes the shards of a block (see
// network.go for its terms: slots, byte budget, ranking, hedged reads).
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
// HTTP/2 is not used: a 64 MiB upload would share one TCP connection (its
// congestion window, its head-of-line blocking) with the small reads the
// Network races against each other; separate HTTP/1.1 connections keep
// them independent, and the Network's slots keep their number small.
package netclient

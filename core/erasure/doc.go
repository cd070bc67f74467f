// Package erasure splits a sealed block into k data shards and m parity
// shards with a Reed-Solomon code, so that any k of the k+m shards rebuild
// the block, and rebuilds whole blocks or byte ranges of them.
//
// # Terms
//
//   - Block: the sealed (encrypted) bytes to protect, blockLen bytes long.
//     This package never sees plaintext and never checks authenticity.
//   - k, m: data and parity shard counts, drive settings; 1 <= k, 0 <= m,
//     k+m <= 256. Each shard goes to a different farmer; the block survives
//     the loss of any m of them.
//   - Shard size S: ceil(blockLen/k), at least 1. Every shard of a block,
//     data or parity, is exactly S bytes.
//   - Data shard i (i < k): block bytes [i*S, (i+1)*S), zero-padded past the
//     end of the block. The code is systematic: data shards are the block
//     itself, so a read that reaches the farmers holding them needs no
//     decoding at all.
//   - Parity shard j (k <= j < k+m): a GF(2^8) linear combination of the data
//     shards, computed byte column by byte column.
//   - Column: byte position c in [0, S) across all shards. Reed-Solomon codes
//     each column on its own, so columns [c, c+n) of any k shards rebuild
//     columns [c, c+n) of every data shard. A range read therefore fetches
//     just the columns it needs from k farmers (Pieces, ColumnSpan,
//     ReconstructColumns, DecodeRange); the offset arithmetic lives in
//     offsets.go.
//
// # Integrity is the caller's job
//
// Reed-Solomon decoding assumes every shard it is given is correct: a single
// wrong byte in one input silently corrupts the output. Callers must check
// each shard, or each shard byte range, against its Merkle root (package
// core/merkle) before passing it to Decode, ReconstructColumns or
// DecodeRange, and treat a shard that fails as missing. The AES-GCM seal of
// the block then catches anything that slips through, but only as a failed
// read, not as a repairable one.
//
// # Why this code
//
// klauspost/reedsolomon with its default matrix: the Vandermonde matrix made
// systematic (the Backblaze construction) over GF(2^8) with polynomial 0x11D,
// with SIMD kernels that encode at several GB/s per core. The exact matrix is
// part of the network format (parity bytes are stored on farmers and must
// decode years later), so it is written down in docs/format/erasure.md and a
// golden test pins the parity of a fixed input; options that change the
// matrix (Cauchy, Leopard, custom matrices, fast one-parity XOR) are not
// used. Shards past 256 would need GF(2^16) and a different format; k+m is
// capped at 256 instead.
//
// A Coder is immutable and safe for concurrent use.
package erasure

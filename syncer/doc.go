// Package syncer moves blocks between the local metadata and the farmers:
// it seals, erasure-codes and places a block's shards (Store), fetches any k
// of them back, verifies, decodes and opens them (Load), and deletes shards
// that nothing refers to any more (CollectGarbage). In the background it
// uploads what the local cache changed (Uploader) and keeps the metadata
// backed up on the farmers (Backup; recovery with FindRoot and Restore):
// see backup.go and docs/format/meta.md.
//
// The road of a block on the way out, all in memory and bounded by the
// caller's concurrency:
//
//	plaintext --crypto.Sealer--> sealed block (64 KiB GCM segments, fresh nonces)
//	          --erasure.Coder--> k data + m parity shards
//	          --merkle.Build---> one Merkle root per shard: its address
//	          --Place---------> one shard per distinct farmer
//
// A block counts as stored once at least k+1 shards are placed (one loss
// away from k still reconstructs it); fewer than k+m marks it for repair.
// Every placed shard is journalled as pending in the metadata before Store
// returns, so a crash before the caller commits the block leaves a record the
// next start turns into garbage instead of an orphan on a farmer.
//
// On the way back, the network verifies each shard's bytes against its root
// before they reach the decoder (Reed-Solomon does not check integrity), and
// the GCM associated data (file ID, block index, version, segment index and
// count) catches a farmer, or metadata, that hands back the right bytes of
// the wrong block.
package syncer

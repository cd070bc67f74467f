// Package merkle computes a shard's address: the root of a BLAKE3 Merkle tree
// over the shard's fixed-size leaves, and the range proofs that let a client
// check any byte range a farmer returns without holding the rest of the shard.
//
// # Terms
//
//   - Shard: the bytes one farmer stores (one erasure-coded piece of a sealed
//     block). Its length is its size; it is bound into the root.
//   - Leaf: LeafSize (16 KiB) consecutive bytes of a shard. Leaf i holds bytes
//     [i*LeafSize, (i+1)*LeafSize); the last leaf may be shorter. An empty
//     shard has exactly one, empty, leaf, so every shard has a tree.
//   - Tree: the binary tree over the leaf hashes with the RFC 6962 shape: a
//     node over n > 1 leaves splits at the largest power of two smaller than
//     n. Every leaf count has exactly one shape, no node is ever duplicated to
//     fill a level (the Bitcoin ambiguity), and each left subtree is perfect.
//   - Root: the shard address, BLAKE3(0x02 || "shardrive-merkle-v1" ||
//     uint64be(size) || tree root). Binding the size means a truncated or
//     extended shard has a different address, even when the leaf hashes it
//     shares with the original agree.
//   - Range proof: for contiguous leaves [first, end), the hashes of every
//     maximal subtree wholly outside the range, in left-to-right order. The
//     verifier hashes the supplied leaves, consumes the proof in the same
//     order and compares the result with the root. Proof-of-storage audits
//     are range proofs of one challenged leaf, so audits need no second
//     format and no second commitment.
//
// The exact byte-level construction is in docs/format/merkle.md; it is part
// of the network format: changing anything here changes every address.
//
// # Why BLAKE3
//
// The encode pipeline hashes every shard, 1.5x the plaintext for a 4+2 code,
// and a farmer hashes what it receives. SHA-256 with SHA-NI runs at about
// 1.5-2 GB/s per core; BLAKE3 with AVX2 runs at several GB/s per core and,
// unlike SHA-256, hashes the 1 KiB chunks inside one leaf in parallel SIMD
// lanes. Domain separation (0x00 leaf, 0x01 inner node, 0x02 root) stops a
// leaf from being passed off as an inner node and vice versa.
//
// # Why 16 KiB leaves
//
// The leaf size trades three costs against each other:
//
//   - Proof size: a range proof holds at most two hashes per tree level, so a
//     1 MiB shard (64 leaves, depth 6) needs at most 12 hashes (384 bytes);
//     smaller leaves deepen the tree.
//   - Audit cost: a farmer answers a challenge with one whole leaf plus its
//     proof; 16 KiB keeps an audit cheap enough to run often, where 256 KiB
//     leaves would cost sixteen times the egress per challenge.
//   - Range granularity and hashing speed: a range read fetches whole leaves,
//     so a 64 KiB sealed segment touches 4-5 leaves of over-read at most; and
//     16 KiB is 16 BLAKE3 chunks, enough to fill the 8- and 16-lane SIMD
//     kernels, whereas 1 KiB leaves would hash one chunk at a time and make
//     the leaf-hash sidecar a farmer keeps 16 times larger (2% instead of
//     0.2% of the shard).
//
// # Use
//
// Build (or RootOf) hashes a whole shard, in parallel for large inputs. A Tree
// is immutable and safe for concurrent use; it serves Prove for range reads
// and audits. A farmer keeps Tree.MarshalBinary beside each shard so it never
// rehashes a shard to answer a read; UnmarshalTree restores it and checks it
// against the root it stores. A client calls LeafRange to map the byte range
// it wants to leaves, and Verify on what the farmer sends back; LeafSpan maps
// the leaves back to the bytes they hold.
package merkle

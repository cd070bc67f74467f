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
//
// # Keeping the network honest (Keeper)
//
// Farmers are strangers. The Keeper proves they still hold what the drive
// placed on them, keeps a reputation per farmer, and rebuilds what the bad
// ones lose, in the background of the daemon (and on demand: verify,
// repair).
//
// Proof of storage. An audit asks a farmer for one leaf (16 KiB) of one of
// its shards, both picked with crypto/rand, through the ordinary range read
// with its Merkle proof, and checks the answer against the shard's root in
// the client's metadata. The farmer cannot answer without the leaf's
// bytes: the root binds every byte and the size, so a farmer that kept
// only the leaf hashes, or dropped part of a shard, fails as soon as a
// missing leaf is asked for; with L leaves of which a fraction f is
// missing, each audit catches it with probability f. Audits cost one leaf
// plus a proof of at most two hashes per tree level (about 14.5 KB and one
// round trip on loopback; see TestKeeperFailsHashOnlyFarmer's log), need no
// precomputed challenges (so they are unlimited), and look like any range
// read. No second commitment or format exists: the shard address is the
// audit's commitment (core/merkle).
//
// Held challenges. A challenge is stored (cache table audits) before it is
// sent and stays until the farmer answers it. A round first checks the
// farmer's availability (an Info call); a farmer that answers that but not
// the audit (a timeout, a 5xx) gets the same challenge next round, and
// after MaxAuditTries the audit counts as failed and the shard as lost. A
// farmer that answers nothing is offline, which costs availability, not
// audits; it cannot escape a challenge by timing out until another comes.
//
// Reputation. Audit outcomes and availability checks each feed a decayed
// beta reputation (Storj's model): with decay λ, a pass sets α ← λα+1,
// β ← λβ and a failure α ← λα, β ← λβ+1; the score is α/(α+β). New farmers
// start at α = 5, β = 0: a little trust, lost after a few failures. The
// states follow from the scores and the time a farmer has been unreachable:
//
//   - active: gets new shards;
//   - suspended (audit score below SuspendBelow, or unreachable for
//     SuspendOffline): gets no new shards, is still read and audited, its
//     shards still count; back to active when it answers and its score
//     recovers;
//   - disqualified (audit score below DisqualifyBelow, or unreachable for
//     DisqualifyOffline): final; its shards count as lost and are
//     repaired elsewhere;
//   - removing, removed: the user's `farmers remove`: drained by repair,
//     then removed.
//
// Latency and throughput are measured by the netclient ranking, which
// orders reads nearest first and placement fastest first; the displayed
// reputation multiplies the two scores by a speed factor (service).
//
// Repair. A shard is healthy when its farmer is active or suspended and it
// is not known lost (cache table lost: a failed audit or check). A block
// with fewer healthy shards than the repair threshold t (a drive setting,
// k < t <= k+m, default k+m) is repaired, fewest healthy first: fetch any
// k shards (verified), decode the sealed block and code it again (both
// deterministic, so the rebuilt shards equal the originals and their roots
// are checked against the metadata), place the missing ones on farmers
// that hold no shard of the block (netclient.PlaceAvoiding), and move the
// shard rows in one transaction. Repair needs no key and rewrites nothing;
// the old copies become garbage, deleted once a root without them is
// stored, like any other.
//
// # Durability
//
// verify ends with an estimate of the chance of losing a block per year.
// The model:
//
//   - Shards are lost independently at rate λ per shard-year, measured as
//     (shards found lost + 0.2) / (shard-years held + 1): the measured rate
//     blended with a prior of one loss in five shard-years, which dominates
//     until a year or so of observation.
//   - A loss is repaired within a window W: the time to notice it plus a
//     round; a farmer that leaves is noticed at disqualification, so
//     W = DisqualifyOffline + 2 × AuditInterval (a week and 20 minutes by
//     default). Audits find silent losses sooner; W is the pessimistic
//     bound.
//   - A block waits for repair with as few as t-1 healthy shards and is lost
//     when t-k of those are also lost within W: with q = 1 - e^(-λW),
//     P = P[Binomial(t-1, q) >= t-k]. Such windows open (k+m)·λ times a
//     year per block, so P(block lost in a year) = 1 - e^(-(k+m)·λ·P), and
//     for the drive 1 - (1 - that)^blocks.
//   - Separately, the chance that a block cannot be read at a given moment
//     is P[Binomial(k+m, 1-a) > m], a the farmers' measured availability.
//
// It ignores correlated failures (one operator running several farmers,
// one region going down), which is why placement spreads a block over
// declared regions when it can.
package syncer

// Package cache owns the drive's local metadata: one SQLite database (WAL,
// synchronous=FULL) holding the namespace, the blocks of every file and the
// shards that hold them, the farmers and what we measured of them, and the
// queues of work that must survive a crash (interrupted uploads, shards to
// delete).
//
// Terms:
//
//   - inode: a file, directory or symlink with its attributes. Names live in
//     dentries (parent, name) -> inode, so hard links and cheap renames are
//     natural and inode numbers are stable for the life of the drive.
//   - block: the i-th BlockSize piece of a file, sealed and erasure-coded as a
//     unit; version grows on every rewrite (drive-wide sequence) and is bound
//     into the block's GCM associated data, so a replayed old block fails.
//   - shard: one of the k+m Reed-Solomon pieces of a sealed block, addressed
//     by its Merkle root and placed on one farmer.
//   - pending: shards placed for a write that has not committed yet. A crash
//     leaves them behind; the next Open moves them to garbage.
//   - garbage: shards no committed metadata refers to, to delete from their
//     farmers.
//
// The schema is versioned with PRAGMA user_version and upgraded by the
// ordered migrations in schema.go; a database newer than this binary is
// refused rather than guessed at. The database is as readable as the local
// disk, like every sync client's; the README recommends disk encryption.
package cache

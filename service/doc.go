// Package service runs a drive home as a long-lived daemon and lets the CLI
// talk to it.
//
// Terms:
//
//   - home: where one drive keeps its local state (metadata database, derived
//     keys, lock file, control socket, daemon log) and, by default, its local
//     block cache. See Home.
//   - session: one open drive: metadata, keys, network client, block store,
//     local cache files and the drive API over them (Open). The one-shot CLI
//     commands and the daemon open it the same way.
//   - daemon: the process that owns a home while it runs (Daemon): it holds
//     the home's exclusive lock, mounts the drive, uploads in the background
//     and answers the control socket.
//   - control socket: a Unix socket in the user's runtime directory
//     ($XDG_RUNTIME_DIR/shardrive/<hash of the home>.sock, else
//     <state dir>/control.sock; Home.SocketPath) that speaks versioned
//     HTTP/JSON (/v1/...), documented in docs/format/control.md. Only the
//     daemon's own user (and root) may talk to it: the directory is the
//     user's and 0700, the socket 0600, and every connection's peer
//     credentials (SO_PEERCRED) are checked.
//   - keys: the drive's derived keys, never the mnemonic (KeyStore,
//     keystore.go): in the OS keyring where one answers when the drive is
//     made, the home's keys file then only a record naming the entry
//     (service "shardrive", a random per-home entry name, so moving the
//     home keeps it); else, on request (FileOnly) and in homes made before
//     the keyring was used, in the 0600 keys file itself. Load follows the
//     file and never falls back: a locked or unreachable keyring, or a
//     missing entry, is an error naming the fix.
//   - pause: the daemon's network traffic stopped until resume (pause.go):
//     a gate between the session and the farmers, shut, and the uploader
//     and backup goroutines stopped.
//
// Why the lock and the socket: SQLite and the local cache files are safe
// for one writer only, and the FUSE mount keeps files open for as long as it
// runs, so exactly one process may own a home at a time. The kernel drops
// the flock when the process dies, so a crash or kill -9 never leaves the
// home locked. Commands that would need the home while a daemon owns it ask
// the daemon instead, and work on the home directly when none runs.
//
// Stopping: the mount goes first (retried while it is busy, naming the
// processes that hold it), then open files are flushed and one last upload
// round runs for a bounded time. What it does not finish stays queued in the
// metadata and uploads at the next start: nothing an application wrote and
// fsync'd or closed is ever only in memory, which is also why kill -9 of the
// daemon loses nothing (the next start abandons the interrupted uploads'
// shards and drops files unlinked while open).
//
// The local cache directory is recorded in the home (docs/format/control.md,
// "cache-dir"): the metadata lists which blocks the cache files hold, so
// reading those files from another directory would serve zeros. Moving the
// cache (mount --cache-dir) is allowed only when no dirty block lives in the
// old one; the clean ones are forgotten.
package service

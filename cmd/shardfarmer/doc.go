// Command shardfarmer runs a Shardrive storage node ("farmer").
//
//	shardfarmer run --dir D --listen 127.0.0.1:7001 --capacity 20GiB \
//	    [--advertise HOST:PORT] [--account-quota SIZE] [--max-shard-size SIZE] \
//	    [--region LABEL] [--metrics 127.0.0.1:PORT]
//	shardfarmer id --dir D [--advertise HOST:PORT]
//	shardfarmer stats --dir D [--json]
//	shardfarmer service install --dir /var/lib/shardfarmer --listen :7001 \
//	    --advertise HOST:7001 --capacity 2TiB [--run-as USER]
//	shardfarmer service uninstall|start|stop|status|unit
//
// --metrics serves GET /metrics (Prometheus text format) on a loopback
// address only: stored bytes, shards, requests by method and status
// class, server errors, and accounting totals over all accounts (never
// per account).
//
// run opens the data directory D (created 0700; on first start it creates
// D/identity, the node's ed25519 seed, mode 0600, kept forever), listens,
// and prints exactly one line to stdout:
//
//	farmer ready: NODEID@HOST:PORT
//
// HOST:PORT is --advertise if given, else the address actually bound (so
// --listen 127.0.0.1:0 reports the port chosen). A wildcard --listen such
// as :7001 without --advertise prints an unroutable address, and a warning
// says so on stderr. Everything else goes to stderr as slog records
// (--log-level, --log-format); logs never carry keys or request bodies.
// SIGINT or SIGTERM shuts down gracefully (requests in flight finish, for
// at most 30 s; the index is closed) and exits 0; a second signal kills the
// process at once.
//
// Sizes take humanize forms: 500MiB, 20GiB, 1.5TB, or bytes.
//
// Settings not given as flags come from D/config, the farmer's
// configuration file (docs/format/control.md): commented "key = value"
// lines whose keys are run's flag names (listen, advertise, region,
// capacity, account-quota, max-shard-size, log-level, log-format). run
// --check reads and checks the settings and exits without serving.
//
// --region declares where the farmer is, as free text such as "eu-west"
// (at most 64 bytes, printable, no space at either end); Info serves it so
// that clients can keep a block's shards out of one region.
//
// service install makes run a systemd system service started at boot: it
// writes the run flags given to it into D/config (creating it from a
// commented template), checks it as run will read it, writes the unit
// (sandboxed; D under /var/lib is its StateDirectory, owned by a
// DynamicUser unless --run-as names an account), enables and starts it.
// service unit prints that unit.
//
// id prints the node ID (with --advertise, the full address) from D's
// identity without opening anything else; it works while run is running.
//
// stats prints every account's accounting (shards, stored bytes,
// byte-hours, ingress and egress bytes, first seen) and the totals, as a
// table or, with --json, in the versioned form of docs/format/farmer.md.
// It reads D's index read-only and works whether or not run is running.
//
// # Exit codes
//
// Exit codes are API; scripts and service managers may branch on them.
//
//	code  meaning
//	0     success; run stopped by SIGINT/SIGTERM and shut down cleanly
//	1     any other failure: the server failed, shutdown was unclean
//	2     usage: unknown command or flag, bad size, invalid configuration
//	3     data directory unusable: in use by another farmer, identity
//	      missing (id) or malformed or readable by others, index written
//	      by a newer farmer, I/O error opening it; stats: not a farmer
//	      data directory
//	4     cannot listen on --listen (address in use, permission)
//	5     service: no service manager runs on this machine (a container):
//	      run "shardfarmer run" in the foreground instead
//
// The wire protocol is in docs/format/wire.md, the data directory's files
// in docs/format/farmer.md.
package main

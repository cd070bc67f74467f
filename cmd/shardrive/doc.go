// Command shardrive is the user's client: it creates a drive, stores and
// retrieves files, lists and removes them, and mounts the drive as a folder.
//
// `mount` and `daemon` run the daemon that owns the home while the drive
// is mounted (package service); `service install` makes the system's
// service manager run `daemon` at every login. `status`, `sync`, `pin`,
// `unpin`, `cache clear`, `pause`, `resume` and `unmount` talk to it over
// the home's control socket (in $XDG_RUNTIME_DIR/shardrive/, else in the
// home), and work on the home directly when no daemon runs (pause and
// resume need one).
//
// Settings come from flags, then the configuration file
// ($XDG_CONFIG_HOME/shardrive/config or --config; `config show` prints
// what is in effect), then the defaults; SHARDRIVE_HOME comes between
// --home and the file's home.
//
// Exit codes are an interface for scripts; they never change meaning:
//
//	0  success
//	1  any other error
//	2  usage: unknown command or flag, wrong number of arguments, or an
//	   invalid configuration file (the message names its line)
//	3  wrong key: the mnemonic or key file does not belong to this drive, or
//	   the mnemonic is not a valid 24-word BIP39 phrase, or init --recover
//	   found no drive for these words
//	4  farmers unavailable: too few farmers answered to store or read a block
//	5  damage found: data failed authentication or could not be rebuilt
//	6  not found: no such file or directory in the drive
//	7  no drive: the home holds no drive yet (run init), or init found one
//	8  busy: another shardrive process is using this home (or, for
//	   unmount, the mount point is in use: the message names the processes)
//	9  timeout: sync --wait --timeout ran out before everything was stored;
//	   what is not stored stays queued
//	10 another device: the drive's writer lease is held by another device
//	   (init --recover without --take-over), or another device took this
//	   drive over (this one no longer writes)
//	11 no service manager: `service` found none on this machine (a
//	   container); run `shardrive daemon` in the foreground instead
//	12 keys unavailable: the drive's keys are in the OS keyring, which is
//	   locked or unreachable (unlock it, or log in), or their entry is gone
//	   (rebuild the home with init --recover)
//
// Every command works without a terminal; errors are one line on stderr.
package main

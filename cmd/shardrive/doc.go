// Command shardrive is the user's client: it creates a drive, stores and
// retrieves files, lists and removes them, and mounts the drive as a folder.
//
// `mount` runs the daemon that owns the home while the drive is mounted
// (package service); `status`, `sync`, `pin`, `unpin`, `cache clear` and
// `unmount` talk to it over the home's control socket, and work on the home
// directly when no daemon runs.
//
// Exit codes are an interface for scripts; they never change meaning:
//
//	0  success
//	1  any other error
//	2  usage: unknown command or flag, wrong number of arguments
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
//
// Every command works without a terminal; errors are one line on stderr.
package main

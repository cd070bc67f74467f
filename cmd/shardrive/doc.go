// Command shardrive is the user's client: it creates a drive, stores and
// retrieves files, and lists and removes them.
//
// Exit codes are an interface for scripts; they never change meaning:
//
//	0  success
//	1  any other error
//	2  usage: unknown command or flag, wrong number of arguments
//	3  wrong key: the mnemonic or key file does not belong to this drive, or
//	   the mnemonic is not a valid 24-word BIP39 phrase
//	4  farmers unavailable: too few farmers answered to store or read a block
//	5  damage found: data failed authentication or could not be rebuilt
//	6  not found: no such file or directory in the drive
//	7  no drive: the home holds no drive yet (run init), or init found one
//	8  busy: another shardrive process is using this home
//
// Every command works without a terminal; errors are one line on stderr.
package main

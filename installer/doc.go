// Package installer builds the Debian packages of Shardrive (`make
// package`, scripts/package.sh): shardrive with the drive's per-user
// service, shardfarmer with the farmer's system service, a default
// configuration and maintainer scripts.
//
// The units are rendered by service/system, the same code that writes them
// for `service install`, so a packaged service and an installed one cannot
// drift apart. The maintainer scripts talk to systemd only when it runs
// (/run/systemd/system exists): `dpkg -i` must work in a container too.
//
// Nothing but dpkg-deb is needed: the control file, the libc dependency
// (read from the binary's ELF version needs) and the installed size are
// computed here.
package installer

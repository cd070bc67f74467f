#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine: a C
# compiler for SQLite (cgo), and fuse3 (fusermount3) for the mount tests
# where the machine has FUSE (/dev/fuse). Quiet when everything is there.
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { echo "Go is not installed (expected /usr/local/go)" >&2; exit 1; }
if [ -e /dev/fuse ] && ! command -v fusermount3 >/dev/null 2>&1; then
	need+=(fuse3)
fi
# Ordinary programs the mount tests run on the drive.
for tool in git:git sqlite3:sqlite3 rsync:rsync getfattr:attr python3:python3; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}"; } </dev/null >"$log" 2>&1; then
		cat "$log" >&2; rm -f "$log"; exit 1
	fi
	rm -f "$log"
	echo "installed: ${need[*]}"
fi

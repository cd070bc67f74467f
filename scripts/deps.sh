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
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq </dev/null
	$SUDO apt-get install -y -qq "${need[@]}" </dev/null
fi

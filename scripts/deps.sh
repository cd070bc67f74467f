#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine: a C
# compiler for SQLite (cgo), and fuse3 (fusermount3) for the mount tests
# where the machine has FUSE (/dev/fuse). Quiet when everything is there.
#
# --long (or SHARDRIVE_LONG=1) also installs what only the long rounds need:
# LibreOffice for the mount's office test (about 86 MB to fetch, 260 MB
# installed, some 20 s here), too big for every `make test`.
set -euo pipefail
long=${SHARDRIVE_LONG:-}
for arg in "$@"; do
	case $arg in
	--long) long=1 ;;
	*) echo "usage: $0 [--long]" >&2; exit 2 ;;
	esac
done
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { echo "Go is not installed (expected /usr/local/go)" >&2; exit 1; }
if [ -e /dev/fuse ] && ! command -v fusermount3 >/dev/null 2>&1; then
	need+=(fuse3)
fi
# Ordinary programs the mount tests run on the drive, setpriv to run them
# as other users, and systemd-analyze to verify the service units (systemd,
# about 10 MB; nothing starts it here).
for tool in git:git sqlite3:sqlite3 rsync:rsync getfattr:attr python3:python3 vim:vim setpriv:util-linux systemd-analyze:systemd; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# Without recommends: the writer and its headless core are enough to convert.
lean=()
if [ -n "$long" ] && ! command -v soffice >/dev/null 2>&1; then
	lean+=(libreoffice-writer-nogui)
fi
if [ $((${#need[@]} + ${#lean[@]})) -gt 0 ]; then
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	if ! { $SUDO apt-get update -qq &&
		{ [ ${#need[@]} -eq 0 ] || $SUDO apt-get install -y -qq "${need[@]}"; } &&
		{ [ ${#lean[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${lean[@]}"; }; } </dev/null >"$log" 2>&1; then
		cat "$log" >&2; rm -f "$log"; exit 1
	fi
	rm -f "$log"
	echo "installed: ${need[*]} ${lean[*]}"
fi

#!/usr/bin/env bash
# Builds the release files (`make package`): for each architecture the
# shardrive and shardfarmer .deb files (installer/, built with dpkg-deb) and
# a tar.gz of both binaries with the README; then SHA256SUMS over them.
#
#   scripts/package.sh [--version V] [--commit C] [--out DIR] [--arch "amd64 arm64"] [--debs-only] [--no-trimpath]
#
# --no-trimpath reuses what `make build` compiled (tests: SQLite takes
# minutes to compile again with -trimpath).
#
# SQLite needs cgo, so the architecture that is not this machine's is
# cross-compiled with Debian's gcc for it (gcc-aarch64-linux-gnu on amd64),
# installed here when missing. VERSION and COMMIT (from the environment, as
# the Makefile passes them, or the flags) are stamped into the binaries;
# by default the newest v* tag (else 0.0.0-dev) and the checkout's commit.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

usage() {
	echo "usage: $0 [--version V] [--commit C] [--out DIR] [--arch \"amd64 arm64\"] [--debs-only] [--no-trimpath]" >&2
	exit 2
}
version=${VERSION:-}
commit=${COMMIT:-}
out=dist
arches="amd64 arm64"
archives=1
trimpath=-trimpath
while [ $# -gt 0 ]; do
	case $1 in
	--version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
	--commit) [ $# -ge 2 ] || usage; commit=$2; shift 2 ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--arch) [ $# -ge 2 ] || usage; arches=$2; shift 2 ;;
	--debs-only) archives=; shift ;;
	--no-trimpath) trimpath=; shift ;;
	*) usage ;;
	esac
done
if [ -z "$version" ]; then
	version=$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//') || true
	version=${version:-0.0.0-dev}
fi
if [ -z "$commit" ]; then
	commit=$(git rev-parse --short=12 HEAD 2>/dev/null) || true
	if [ -n "$commit" ] && [ -n "$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		commit=$commit-dirty
	fi
fi
case $version in
[0-9]*) ;;
*) echo "version $version: a Debian version must start with a digit" >&2; exit 2 ;;
esac

# gnu names the GNU triplet of a Go architecture.
gnu() {
	case $1 in
	amd64) echo x86_64-linux-gnu ;;
	arm64) echo aarch64-linux-gnu ;;
	*) echo "unsupported architecture $1 (amd64, arm64)" >&2; return 1 ;;
	esac
}

# Cross compilers for the architectures that are not this machine's.
host=$(go env GOHOSTARCH)
need=()
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
for arch in $arches; do
	triplet=$(gnu "$arch")
	if [ "$arch" != "$host" ] && ! command -v "$triplet-gcc" >/dev/null 2>&1; then
		need+=("gcc-${triplet//_/-}")
	fi
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
	log=$(mktemp)
	if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } </dev/null >"$log" 2>&1; then
		cat "$log" >&2; rm -f "$log"; exit 1
	fi
	rm -f "$log"
	echo "installed: ${need[*]}"
fi

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
GOOS= GOARCH= CGO_ENABLED=0 go build -o "$work/mkdeb" ./installer/mkdeb

pkg=github.com/shardrive/shardrive/installer/buildinfo
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit"
docs=(README.md)
for f in LICENSE LICENSE.md COPYING NOTICE; do
	[ -f "$f" ] && docs+=("$f")
done
# This machine's architecture first: its shardrive writes the example
# configuration that every architecture's package ships.
order=
for arch in $arches; do
	if [ "$arch" = "$host" ]; then order="$arch $order"; else order="$order $arch"; fi
done
example=()
made=()
for arch in $order; do
	bin=$work/$arch
	mkdir -p "$bin"
	cross=()
	[ "$arch" = "$host" ] || cross=(CC="$(gnu "$arch")-gcc")
	echo "build linux/$arch"
	env "${cross[@]}" CGO_ENABLED=1 GOOS=linux GOARCH="$arch" \
		go build $trimpath -ldflags "$ldflags" -o "$bin/" ./cmd/shardrive ./cmd/shardfarmer
	if [ "$arch" = "$host" ]; then
		env -i PATH="$PATH" HOME="$work/home" "$bin/shardrive" --config "$work/config.example" config init >/dev/null
		example=(-drive-config "$work/config.example")
	fi
	debs=$("$work/mkdeb" "${example[@]}" -version "$version" -arch "$arch" -shardrive "$bin/shardrive" \
		-shardfarmer "$bin/shardfarmer" -readme README.md -out "$out")
	for deb in $debs; do
		made+=("$(basename "$deb")")
	done
	if [ -n "$archives" ]; then
		name=shardrive_${version}_linux_$arch
		mkdir -p "$work/tar/$name"
		cp "$bin/shardrive" "$bin/shardfarmer" "${docs[@]}" "$work/tar/$name/"
		tar -C "$work/tar" --sort=name --owner=0 --group=0 --numeric-owner \
			--mtime="@${SOURCE_DATE_EPOCH:-$(date +%s)}" -cf - "$name" | gzip -9n >"$out/$name.tar.gz"
		made+=("$name.tar.gz")
	fi
done
(cd "$out" && sha256sum -- "${made[@]}" >SHA256SUMS)
for f in "${made[@]}" SHA256SUMS; do
	echo "$out/$f"
done

#!/usr/bin/env bash
# Put/get throughput of one file over six shardfarmer processes on loopback
# (k=4, m=2, 4 MiB blocks), with the client's peak RSS. Prints the median of
# ROUNDS runs in MB/s of plaintext.
#   SIZE_MIB=256 ROUNDS=3 scripts/bench-e2e.sh
set -euo pipefail
size_mib=${SIZE_MIB:-256}
rounds=${ROUNDS:-3}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin
work=$(mktemp -d)
pids=()
cleanup() {
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

addrs=()
for i in 1 2 3 4 5 6; do
	"$bin/shardfarmer" run --dir "$work/farm$i" --listen 127.0.0.1:0 --capacity 64GiB \
		>"$work/farm$i.out" 2>"$work/farm$i.log" &
	pids+=($!)
done
for i in 1 2 3 4 5 6; do
	for _ in $(seq 100); do grep -q '^farmer ready: ' "$work/farm$i.out" && break; sleep 0.1; done
	addrs+=("$(sed -n 's/^farmer ready: //p' "$work/farm$i.out")")
done
home=$work/home
"$bin/shardrive" --home "$home" init --farmers "$(IFS=,; echo "${addrs[*]}")" >/dev/null 2>&1
head -c $((size_mib << 20)) /dev/urandom >"$work/src"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # label, then the command; prints "seconds maxrss_kib"
	/usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	cat "$work/time"
}
: >"$work/put"; : >"$work/get"
for r in $(seq "$rounds"); do
	measure "$bin/shardrive" --home "$home" put "$work/src" "/bench$r" >>"$work/put"
	sync
	measure "$bin/shardrive" --home "$home" get "/bench$r" "$work/dst" >>"$work/get"
	cmp -s "$work/src" "$work/dst" || { echo "round $r: file read back differs" >&2; exit 1; }
	rm -f "$work/dst"
done
report() {
	local what=$1 f=$2
	local secs rss
	secs=$(awk '{print $1}' "$f" | median)
	rss=$(awk '{print $2}' "$f" | sort -n | tail -1)
	awk -v w="$what" -v s="$secs" -v n="$size_mib" -v r="$rss" -v k="$rounds" \
		'BEGIN {printf "%s %d MiB over 6 loopback farmers (k=4 m=2): %.0f MB/s (median of %d; %.2fs), client peak RSS %.0f MiB\n", w, n, n*1048576/s/1e6, k, s, r/1024}'
}
report put "$work/put"
report get "$work/get"

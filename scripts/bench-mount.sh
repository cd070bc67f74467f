#!/usr/bin/env bash
# Side-by-side: the same workloads on the local disk, on gocryptfs over the
# local disk (an encrypted FUSE file system with no network), and on the
# Shardrive mount over six loopback farmers. Medians of ROUNDS interleaved
# runs, printed as a table with ratios against gocryptfs.
#   SIZE_MIB=2048 FILES=10000 ROUNDS=3 scripts/bench-mount.sh
# The page cache is dropped with `echo 3 > /proc/sys/vm/drop_caches` (root).
set -euo pipefail
size_mib=${SIZE_MIB:-2048}
files=${FILES:-10000}
rounds=${ROUNDS:-3}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin
command -v gocryptfs >/dev/null || apt-get install -y -qq gocryptfs </dev/null >/dev/null
work=$(mktemp -d /var/tmp/shardrive-bench.XXXXXX)
pids=()
cleanup() {
	"$bin/shardrive" --home "$work/home" unmount "$work/sd" >/dev/null 2>&1 || true
	fusermount3 -u "$work/gc" 2>/dev/null || true
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for i in 1 2 3 4 5 6; do
	"$bin/shardfarmer" run --dir "$work/farm$i" --listen 127.0.0.1:0 --capacity 64GiB >"$work/farm$i.out" 2>"$work/farm$i.log" &
	pids+=($!)
done
addrs=()
for i in 1 2 3 4 5 6; do
	for _ in $(seq 100); do grep -q '^farmer ready: ' "$work/farm$i.out" && break; sleep 0.1; done
	addrs+=("$(sed -n 's/^farmer ready: //p' "$work/farm$i.out")")
done
"$bin/shardrive" --home "$work/home" init --farmers "$(IFS=,; echo "${addrs[*]}")" >/dev/null 2>&1
mkdir -p "$work/local" "$work/gc.cipher" "$work/gc" "$work/sd"
echo pw >"$work/pw"
gocryptfs -q -init -passfile "$work/pw" "$work/gc.cipher" >/dev/null
gocryptfs -q -nosyslog -passfile "$work/pw" "$work/gc.cipher" "$work/gc"
"$bin/shardrive" --home "$work/home" mount --daemon "$work/sd" >/dev/null
daemon=$(pgrep -f "shardrive --home $work/home" | head -1)
tar -C /usr/local/go -cf "$work/gosrc.tar" src

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
declare -A res
record() { res["$1|$2"]+="$3 "; }

for r in $(seq "$rounds"); do
	for t in local gc sd; do
		d=$work/$t/r$r
		mkdir -p "$d"
		record write "$t" "$(secs dd if=/dev/zero of="$d/big" bs=1M count="$size_mib" conv=fsync)"
		record reread "$t" "$(secs cat "$d/big")"
		drop
		record cold "$t" "$(secs cat "$d/big")"
		if [ "$t" = sd ]; then
			"$bin/shardrive" --home "$work/home" sync --wait --timeout 30m >/dev/null
			"$bin/shardrive" --home "$work/home" cache clear >/dev/null
			drop
			record farmers "$t" "$(secs cat "$d/big")"
		fi
		mkdir -p "$d/many"
		record create "$t" "$(secs bash -c "for i in \$(seq $files); do head -c 4096 /dev/zero >$d/many/f\$i; done")"
		drop
		record lsl "$t" "$(secs ls -l "$d/many")"
		mkdir -p "$d/go"
		record untar "$t" "$(secs tar -C "$d/go" -xf "$work/gosrc.tar")"
		record rmrf "$t" "$(secs rm -rf "$d/go" "$d/many" "$d/big")"
	done
done
rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$daemon/status" 2>/dev/null || echo "?")

median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-34s %10s %10s %10s %10s\n' "workload (median of $rounds, seconds)" local gocryptfs shardrive "sd/gc"
for w in write reread cold farmers create lsl untar rmrf; do
	l=$(echo "${res[$w|local]:-}" | median); g=$(echo "${res[$w|gc]:-}" | median); s=$(echo "${res[$w|sd]:-}" | median)
	case $w in
	write) name="sequential write ${size_mib} MiB + fsync";;
	reread) name="re-read (warm)";;
	cold) name="read after drop_caches";;
	farmers) name="read after cache clear (farmers)";;
	create) name="create $files x 4 KiB";;
	lsl) name="ls -l of $files entries (cold)";;
	untar) name="untar Go source tree";;
	rmrf) name="rm -rf all of it";;
	esac
	ratio=""
	[ -n "$g" ] && [ -n "$s" ] && ratio=$(echo "scale=2; $s / $g" | bc)
	printf '%-34s %10s %10s %10s %10s\n' "$name" "${l:--}" "${g:--}" "${s:--}" "${ratio:--}"
done
echo "shardrive daemon peak RSS: ${rss} MiB"

#!/usr/bin/env bash
# make run: six shardfarmer processes on 127.0.0.1:7001-7006 with their data
# under RUN_DIR/farmN, a drive in RUN_DIR/home created on the first run and
# reused after, mounted on RUN_DIR/mnt; then in the foreground until Ctrl-C,
# which unmounts the drive and stops the farmers.
set -euo pipefail
run_dir=${1:?usage: run.sh RUN_DIR}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin
base_port=${SHARDRIVE_RUN_PORT:-7001}
mkdir -p "$run_dir"
home=$run_dir/home
pids=()
mnt=$run_dir/mnt
stop() {
	trap - INT TERM EXIT
	if [ -n "${mounted:-}" ]; then
		"$bin/shardrive" --home "$home" unmount "$mnt" && echo "drive unmounted"
	fi
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	echo "farmers stopped"
}
trap stop INT TERM EXIT

addrs=()
for i in 1 2 3 4 5 6; do
	port=$((base_port + i - 1))
	out=$run_dir/farm$i.out
	: >"$out"
	"$bin/shardfarmer" run --dir "$run_dir/farm$i" --listen "127.0.0.1:$port" --capacity 20GiB \
		>"$out" 2>>"$run_dir/farm$i.log" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q '^farmer ready: ' "$out" && break
		kill -0 "${pids[-1]}" 2>/dev/null || { echo "farmer $i failed to start; see $run_dir/farm$i.log" >&2; tail -5 "$run_dir/farm$i.log" >&2; exit 1; }
		sleep 0.1
	done
	addr=$(sed -n 's/^farmer ready: //p' "$out" | head -1)
	[ -n "$addr" ] || { echo "farmer $i did not report ready" >&2; exit 1; }
	addrs+=("$addr")
done
list=$(IFS=,; echo "${addrs[*]}")

echo "farmers:"
printf '  %s\n' "${addrs[@]}"
if [ ! -e "$home/drive.db" ]; then
	echo "creating the drive in $home (k=4, m=2)"
	"$bin/shardrive" --home "$home" init --farmers "$list" | tee "$run_dir/mnemonic.txt"
	echo "(the mnemonic is also in $run_dir/mnemonic.txt: this is a demo drive)"
else
	echo "reusing the drive in $home"
fi
mkdir -p "$mnt"
if [ -e /dev/fuse ]; then
	"$bin/shardrive" --home "$home" mount --daemon "$mnt"
	mounted=1
else
	echo "no /dev/fuse here: the drive is not mounted (the CLI below still works)"
fi
if [ -n "${mounted:-}" ]; then
	cat <<TXT

drive home: $home
drive mounted at: $mnt  (use it like any folder)
try:
  cp -r README.md docs $mnt/ && ls -l $mnt
  $bin/shardrive --home $home status
  $bin/shardrive --home $home sync --wait        # returns once everything is on the farmers
  $bin/shardrive --home $home cache clear        # the next reads come from the farmers
  getfattr -n user.shardrive.status $mnt/README.md
farmer logs: $run_dir/farm*.log, daemon log: $home/daemon.log
(while the drive is mounted the daemon owns the home; put/get/ls/rm work on it when it is not)

Ctrl-C unmounts the drive and stops the farmers.
TXT
else
	cat <<TXT

drive home: $home
try:
  $bin/shardrive --home $home put README.md /docs/readme.md
  $bin/shardrive --home $home ls -l /docs
  $bin/shardrive --home $home get /docs/readme.md /tmp/readme.copy
  $bin/shardrive --home $home rm /docs/readme.md
farmer logs: $run_dir/farm*.log

Ctrl-C stops the farmers.
TXT
fi
wait

#!/usr/bin/env bash
# Runs every Fuzz target in the module for $1 (default 5s) each.
set -euo pipefail
t=${1:-5s}
cd "$(dirname "$0")/.."
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "fuzz $pkg $fn ($t)"
		if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" -fuzzminimizetime 1s "$pkg" >/tmp/fuzz.$$.log 2>&1; then
			# Go's fuzzer sometimes reports its own time limit as a failure
			# ("context deadline exceeded", no failing input): not a finding.
			if grep -q 'context deadline exceeded' /tmp/fuzz.$$.log && ! grep -q 'Failing input written' /tmp/fuzz.$$.log; then
				echo "  (the fuzzer hit its own deadline; no failing input)"
				continue
			fi
			cat /tmp/fuzz.$$.log
			exit 1
		fi
	done
done
rm -f /tmp/fuzz.$$.log

#!/bin/sh
# make bench: speed figures for pcvm. Prints, never fails for being slow.
# Each benchmark below prints its own lines; later issues add theirs.
BUILD=${1:-build}
echo "pcvm benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
for b in tests/bench/bench-*.sh; do
	[ -x "$b" ] || continue
	"$b" "$BUILD" || echo "  ($b failed)"
done

#!/bin/sh
# make bench: disk image throughput through the block interface (raw,
# qcow2, vhd) against the plain file. Prints figures, never fails a build.
BUILD=${1:-build}
make -s "$BUILD/bench-disk" >/dev/null || exit 1
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pcvm-bench-disk.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM
"$BUILD/bench-disk" "$dir" "${BENCH_DISK_MIB:-256}"

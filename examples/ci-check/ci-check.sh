#!/bin/sh
# A headless CI check: boot the guest (here pcvm's built-in demo), wait for
# its banner on COM1, compare the screen with a reference picture.
#
#   examples/ci-check/ci-check.sh [OUTDIR]     (default: ./ci-check.out)
#
# pcvm's exit status is the verdict: 0 passed; 6 a check failed (the screen
# and the differences in red are then in OUTDIR as banner-actual.png and
# banner-diff.png); 3 timed out (the last screen is in OUTDIR/last.png and
# last.txt); 7 the guest powered off first; 2 a mistake in check.script,
# found before the guest starts. --deterministic makes the run the same on
# every machine, so the reference picture never depends on timing.
# PCVM names the pcvm binary (default: pcvm on the PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-ci-check.out}
pcvm=${PCVM:-pcvm}
case $pcvm in */*) pcvm=$(cd "$(dirname "$pcvm")" && pwd)/$(basename "$pcvm") ;; esac
mkdir -p "$out"
cd "$out"
exec "$pcvm" --display none --serial file:com1.log --deterministic --timeout 60 \
	--script "$here/check.script" --screenshot last.png --report report.json

#!/bin/sh
# Runs the qcow2 and VHD fuzz targets for SECONDS each on the committed
# seed corpus (new inputs go to a scratch corpus under build/fuzz, never
# into the repository) and prints one summary line. Exit status 1 if any
# target crashed; the crashing input is kept under build/fuzz/.
#   tests/fuzz/run.sh SECONDS [FUZZ_DIR]
set -u
secs=${1:-12}
dir=${2:-build/fuzz}
summary=""
fail=0
for f in qcow2 vhd; do
	corpus="$dir/corpus-$f"
	mkdir -p "$corpus" "$dir/crashes"
	log="$dir/fuzz-$f.log"
	"$dir/fuzz-$f" -max_total_time="$secs" -close_fd_mask=3 -rss_limit_mb=2048 \
		-timeout=20 -artifact_prefix="$dir/crashes/$f-" \
		"$corpus" "tests/fuzz/corpus/$f" >"$log" 2>&1
	st=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	if [ "$st" != 0 ]; then
		fail=1
		echo "fuzz: $f target failed (status $st); see $log and $dir/crashes/"
		grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -n 5
	fi
	summary="$summary $f ${runs:-?} runs,"
done
if [ "$fail" = 0 ]; then
	echo "fuzz:${summary} ${secs}s each, no crash"
fi
exit $fail

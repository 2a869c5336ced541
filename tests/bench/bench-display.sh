#!/bin/sh
# Display costs: what an idle guest costs per refresh (the change check), and
# what a redraw or screenshot costs per mode. Figures only.
BUILD=${1:-build}
make -s "$BUILD/unit-tests" >/dev/null 2>&1 || { echo "  display: cannot build $BUILD/unit-tests"; exit 1; }
echo "display (per call):"
"$BUILD/unit-tests" --gtest_also_run_disabled_tests --gtest_filter='VgaTest.DISABLED_Bench' \
	| grep '^  '

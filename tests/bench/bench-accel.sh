#!/bin/sh
# make bench: the execution backends on this host. Prints, never fails.
#   - what the host offers (pcvm --accel-info) and what --accel auto takes
#   - time from starting pcvm until the guest's first instruction has run:
#     a firmware whose first instructions write a newline to the debug
#     console, timed until that newline arrives; and the whole run, which
#     also ends the guest and tears the machine down
#   - guest instructions per second in a real-mode and a 32-bit loop
#     (two loop lengths; the difference cancels start-up and tear-down)
#   - SeaBIOS from reset to a boot sector that ends the run
# for kvm and for emu. Times are the best of a few runs.
BUILD=${1:-build}
PCVM=$BUILD/pcvm
SRC=tests/guests/accel_bench.asm
tmp=$(mktemp -d) || exit 0
trap 'rm -rf "$tmp"' EXIT

echo "accel: backends on this host"
"$PCVM" --accel-info 2>&1 | sed -n 's/^\(Virtualization\|--accel auto\): */  \1: /p'

build() { # mode loops name
	nasm -f bin -Itests/guests/ -DMODE="$1" -DLOOPS="$2" -o "$tmp/$3" "$SRC"
}

now_ns() { date +%s%N; }

# best_ns RUNS ARGS...: the shortest wall time of RUNS runs of pcvm ARGS that
# end with status 0, or "fail:STATUS".
best_ns() {
	runs=$1
	shift
	best=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now_ns)
		"$PCVM" "$@" --debug-exit --display none --serial none >/dev/null 2>"$tmp/err"
		st=$?
		t1=$(now_ns)
		if [ $st != 0 ]; then
			echo "fail:$st"
			return
		fi
		d=$((t1 - t0))
		if [ -z "$best" ] || [ $d -lt "$best" ]; then best=$d; fi
		i=$((i + 1))
	done
	echo "$best"
}

ms() { awk -v ns="$1" 'BEGIN { printf "%.1f ms", ns / 1e6 }'; }

kvm_ok=yes
"$PCVM" --accel-info 2>/dev/null | grep -q '^KVM device: .* works (' || kvm_ok=no

# first_ns ACCEL: the shortest time of 5 from starting pcvm to the first
# byte the guest writes on the debug console
first_ns() {
	best=
	for i in 1 2 3 4 5; do
		t0=$(now_ns)
		t1=$("$PCVM" --accel "$1" --bios "$tmp/first.bin" --debugcon stdio --debug-exit \
			--display none --serial none 2>/dev/null | { head -c1 >/dev/null; now_ns; })
		d=$((t1 - t0))
		if [ -z "$best" ] || [ $d -lt "$best" ]; then best=$d; fi
	done
	echo "$best"
}

build 0 0 first.bin || exit 0
for accel in kvm emu; do
	if [ $accel = kvm ] && [ $kvm_ok = no ]; then
		echo "  kvm: not usable here (see pcvm --accel-info)"
		continue
	fi
	t=$(best_ns 5 --accel $accel --bios "$tmp/first.bin")
	case $t in
	fail:*) echo "  $accel: start to first instruction: pcvm failed (status ${t#fail:}): $(head -c 200 "$tmp/err")"; continue ;;
	esac
	echo "  $accel: start to first guest instruction: $(ms "$(first_ns $accel)"); whole run with exit: $(ms "$t")"
done

# loops: kvm on a software KVM runs these at about a microsecond per
# instruction, the software CPU far faster, so each gets its own length
for accel in kvm emu; do
	[ $accel = kvm ] && [ $kvm_ok = no ] && continue
	if [ $accel = kvm ]; then short=1000 long=200000; else short=1000 long=20000000; fi
	for mode in 1 2; do
		name=$([ $mode = 1 ] && echo "real-mode" || echo "32-bit")
		build $mode $short short.bin && build $mode $long long.bin || continue
		a=$(best_ns 3 --accel $accel --bios "$tmp/short.bin")
		b=$(best_ns 3 --accel $accel --bios "$tmp/long.bin")
		case "$a$b" in
		*fail*) echo "  $accel: $name loop: pcvm failed ($a $b): $(head -c 200 "$tmp/err")"; continue ;;
		esac
		awk -v a="$a" -v b="$b" -v n=$(( (long - short) * 4 )) -v acc=$accel -v what="$name" 'BEGIN {
			d = (b - a) / 1e9
			if (d <= 0) { printf "  %s: %s loop: too fast to measure\n", acc, what; exit }
			printf "  %s: %s loop: %.1f M instructions/s (%.3f us each)\n", acc, what, n / d / 1e6, d * 1e6 / n
		}'
	done
done

# SeaBIOS to the boot sector: needs the whole PC (chipset, IDE); until it
# is there pcvm says why it stopped
bios=/usr/share/seabios/bios-256k.bin
if [ -r "$bios" ]; then
	build 3 0 boot.bin
	dd if=/dev/zero of="$tmp/disk.img" bs=1M count=1 2>/dev/null
	dd if="$tmp/boot.bin" of="$tmp/disk.img" conv=notrunc 2>/dev/null
	for accel in kvm emu; do
		[ $accel = kvm ] && [ $kvm_ok = no ] && continue
		t=$(best_ns 1 --accel $accel --timeout 30 --hda "$tmp/disk.img")
		case $t in
		fail:*) echo "  $accel: SeaBIOS reset to boot sector: did not get there (status ${t#fail:}): $(head -c 200 "$tmp/err" | tr '\n' ' ')" ;;
		*) echo "  $accel: SeaBIOS reset to boot sector: $(ms "$t")" ;;
		esac
	done
fi
exit 0

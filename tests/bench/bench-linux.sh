#!/bin/bash
# make bench: real guests (issue 9) on pcvm's software CPU, side by side
# with QEMU TCG on the same files and memory size when qemu-system-i386 is
# installed. Prints figures; never fails for being slow. See
# tests/bench/README.
#
#   tests/bench/bench-linux.sh [BUILD]   BENCH_RUNS=n (default 3) runs each;
#                                        BENCH_QEMU=path or empty (no QEMU);
#                                        LINUX_GUESTS=dir (default build/linux)
#
# The guests are those of the system tests (tests/linux/, fetched by
# `make linux-guests`): Debian's 686 kernel with the test initramfs, booted
# directly and from the isolinux CD, and memtest86+ booted directly. For each
# run: the time from start to the boot marker on the serial line and to the
# guest's ACPI power-off (the process's exit), wall and CPU (user+system);
# the median of the runs; the pcvm/QEMU ratio of the medians.

BUILD=${1:-build}
LX=${LINUX_GUESTS:-build/linux}
PCVM=$BUILD/pcvm
TIMERUN=$BUILD/bench/timerun
RUNS=${BENCH_RUNS:-3}
MEM=256
TIMEOUT=300

for f in "$PCVM" "$TIMERUN"; do
	[ -x "$f" ] || { echo "  bench-linux: $f is missing; run make bench"; exit 1; }
done
for f in vmlinuz initrd.gz linux.iso memtest86+ia32.bin; do
	[ -f "$LX/$f" ] || { echo "  bench-linux: $LX/$f is missing; run make linux-guests"; exit 1; }
done

TMP=$(mktemp -d /tmp/pcvm-bench-linux.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

QEMU=${BENCH_QEMU-$(command -v qemu-system-i386)}
QEMU_VERSION=
[ -n "$QEMU" ] && QEMU_VERSION=$("$QEMU" --version | head -1 | sed 's/^QEMU emulator version //')

LINUX_MARK="PCVM-LINUX: init started"
MEMTEST_MARK="[Address test, walking ones"

# The command line of guest G under EMU, in the array CMD; MARK is the
# serial line that counts as booted; KEEP=-k when the guest then powers off
# by itself (memtest86+ runs until stopped: its run ends at the marker).
setup() {
	local emu=$1 g=$2
	local serial="$TMP/serial"
	local common_pcvm=(--accel emu --display none --serial "file:$serial" -m ${MEM}M)
	local common_qemu=(-accel tcg -display none -serial "file:$serial" -monitor none
		-nic none -m $MEM)
	MARK=$LINUX_MARK
	KEEP=-k
	case $emu:$g in
	pcvm:linux-direct) CMD=("$PCVM" "${common_pcvm[@]}" --kernel "$LX/vmlinuz"
		--initrd "$LX/initrd.gz" --append console=ttyS0) ;;
	qemu:linux-direct) CMD=("$QEMU" "${common_qemu[@]}" -kernel "$LX/vmlinuz"
		-initrd "$LX/initrd.gz" -append console=ttyS0) ;;
	pcvm:linux-cd) CMD=("$PCVM" "${common_pcvm[@]}" --cdrom "$LX/linux.iso" --boot d) ;;
	qemu:linux-cd) CMD=("$QEMU" "${common_qemu[@]}" -cdrom "$LX/linux.iso" -boot d) ;;
	pcvm:memtest-direct) CMD=("$PCVM" "${common_pcvm[@]}" --kernel "$LX/memtest86+ia32.bin"
		--append console=ttyS0)
		MARK=$MEMTEST_MARK KEEP= ;;
	qemu:memtest-direct) CMD=("$QEMU" "${common_qemu[@]}" -kernel "$LX/memtest86+ia32.bin"
		-append console=ttyS0)
		MARK=$MEMTEST_MARK KEEP= ;;
	esac
	SERIAL=$serial
}

describe() {
	case $1 in
	linux-direct) echo "Linux 686 + busybox initramfs, --kernel/--initrd, console=ttyS0: to /init's marker, to power-off" ;;
	linux-cd) echo "the same from the isolinux CD through SeaBIOS: to /init's marker, to power-off" ;;
	memtest-direct) echo "memtest86+ 6.10, --kernel, console=ttyS0: to its first test (no power-off)" ;;
	esac
}

field() { # field NAME "k=v k=v ..."
	local kv
	for kv in $2; do
		[ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }
	done
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }

declare -A R
EMUS=pcvm
[ -n "$QEMU" ] && EMUS="pcvm qemu"
GUESTS="linux-direct linux-cd memtest-direct"

echo
echo "Real guests (issue 9): -m ${MEM}M, median of $RUNS runs; pcvm --accel emu${QEMU:+ vs QEMU $QEMU_VERSION TCG}"
echo "  kernel: $(grep '^linux-image' "$LX/versions.txt" 2>/dev/null | cut -d' ' -f1,2)"
printf "  %-15s %-5s %9s %9s %9s %9s  %s\n" guest emu "mark wall" "mark cpu" "end wall" "end cpu" check
for g in $GUESTS; do
	for emu in $EMUS; do
		mw=() mc=() ew=() ec=()
		check=ok
		for ((i = 0; i < RUNS; i++)); do
			setup $emu $g
			rm -f "$SERIAL"
			res=$("$TIMERUN" -t $TIMEOUT -o "$TMP/out" -w "$SERIAL" -p "$MARK" $KEEP -- "${CMD[@]}")
			st=$(field status "$res")
			if [ "$(field matched "$res")" != 1 ]; then
				check="NO MARKER (status $st): $(tail -c 200 "$SERIAL" "$TMP/out" 2>/dev/null | tr -c '[:print:]' ' ')"
				break
			fi
			if [ -n "$KEEP" ]; then
				if [ "$st" != 0 ]; then
					check="exit status $st, expected 0 (power-off)"
					break
				fi
				mw+=("$(field mark "$res")")
				mc+=("$(field markcpu "$res")")
				ew+=("$(field wall "$res")")
				ec+=("$(awk -v u="$(field user "$res")" -v s="$(field sys "$res")" 'BEGIN { print u + s }')")
			else
				mw+=("$(field wall "$res")")
				mc+=("$(awk -v u="$(field user "$res")" -v s="$(field sys "$res")" 'BEGIN { print u + s }')")
			fi
		done
		R[$g:$emu:mw]=$(printf '%s\n' "${mw[@]}" | median)
		R[$g:$emu:mc]=$(printf '%s\n' "${mc[@]}" | median)
		R[$g:$emu:ew]=$(printf '%s\n' "${ew[@]}" | median)
		R[$g:$emu:ec]=$(printf '%s\n' "${ec[@]}" | median)
		[ $check = ok ] || R[$g:$emu:mw]= R[$g:$emu:mc]= R[$g:$emu:ew]= R[$g:$emu:ec]=
		printf "  %-15s %-5s %9s %9s %9s %9s  %s\n" $g $emu "${R[$g:$emu:mw]:--}" \
			"${R[$g:$emu:mc]:--}" "${R[$g:$emu:ew]:--}" "${R[$g:$emu:ec]:--}" "$check"
	done
done

if [ -n "$QEMU" ]; then
	echo
	echo "  pcvm/QEMU (below 1.0: pcvm is faster; CPU time is the one to trust on a shared host)"
	printf "  %-15s %9s %9s %9s %9s\n" guest "mark wall" "mark cpu" "end wall" "end cpu"
	for g in $GUESTS; do
		printf "  %-15s %9s %9s %9s %9s\n" $g \
			"$(ratio "${R[$g:pcvm:mw]}" "${R[$g:qemu:mw]}")" \
			"$(ratio "${R[$g:pcvm:mc]}" "${R[$g:qemu:mc]}")" \
			"$(ratio "${R[$g:pcvm:ew]}" "${R[$g:qemu:ew]}")" \
			"$(ratio "${R[$g:pcvm:ec]}" "${R[$g:qemu:ec]}")"
	done
fi
echo
for g in $GUESTS; do
	echo "  $g: $(describe $g)"
done
echo "  Goal (issue 9): pcvm/QEMU at or below 1.0 to the Linux marker, on the way to 0.5."

#!/bin/bash
# make bench: the software CPU's speed (issue 3), side by side with QEMU TCG
# when qemu-system-i386 is installed. See tests/bench/README for how to read
# the output. Prints figures; never fails for being slow. A wrong checksum or
# a guest exception is printed as WRONG / EXCEPTION.
#
#   tests/bench/bench-cpu.sh [BUILD]     BENCH_RUNS=n (default 3) runs each;
#                                        BENCH_QEMU=path or empty (no QEMU)
#
# Each guest (tests/bench/guests/) runs as firmware, enters 32-bit protected
# mode, runs one kernel and prints its checksum and instruction counts on the
# debug console (see stub.asm). Times are of the whole process, from start to
# exit, the median of BENCH_RUNS runs; rates subtract the baseline guest's
# (which exits at once), so they measure the kernel alone.

BUILD=${1:-build}
B=$BUILD/bench
G=tests/bench/guests
PCVM=$BUILD/pcvm
RUNS=${BENCH_RUNS:-3}
TIMERUN=$B/timerun
EXPECT=$B/bench-expect
SEABIOS=/usr/share/seabios/bios-256k.bin
# A kernel run ends by this many seconds of wall time (the host is shared).
KERNEL_TIMEOUT=300
SEABIOS_TIMEOUT=15

for f in "$PCVM" "$TIMERUN" "$EXPECT"; do
	[ -x "$f" ] || { echo "  bench-cpu: $f is missing; run make bench"; exit 1; }
done

TMP=$(mktemp -d /tmp/pcvm-bench.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

QEMU=${BENCH_QEMU-$(command -v qemu-system-i386)}
QEMU_VERSION=
[ -n "$QEMU" ] && QEMU_VERSION=$("$QEMU" --version | head -1 | sed 's/^QEMU emulator version //')

ASM_KERNELS="null loop alu copy rep fib"
C_KERNELS="c-crc32 c-sort c-mix"
KERNELS="$ASM_KERNELS $C_KERNELS c-mix-shared"

describe() {
	case $1 in
	null) echo "baseline: the guest exits at once (start-up and shut-down cost)" ;;
	loop) echo "counted loop: add, dec, jnz" ;;
	alu) echo "counted loop of 9 ALU instructions (add xor rol sub lea shr adc dec jnz)" ;;
	copy) echo "memory copy in plain instructions, 4 MiB buffers (load add store)" ;;
	rep) echo "REP STOSD + REP MOVSD over 4 MiB (rate: bytes stored per second)" ;;
	fib) echo "recursive fib(24): call/ret, push/pop" ;;
	c-crc32) echo "C: table-driven CRC-32 over 256 KiB" ;;
	c-sort) echo "C: heapsort of 256K 32-bit keys" ;;
	c-mix) echo "C: records, strings, switch, function pointers, division" ;;
	c-mix-shared) echo "C: the same mix with its data in the code's 4 KiB page" ;;
	esac
}

# Runs IMAGE under EMU (pcvm or qemu, icount for QEMU counting instructions);
# leaves the guest's output in $TMP/out and prints timerun's line.
run_guest() {
	local emu=$1 img=$2
	case $emu in
	pcvm) "$TIMERUN" -t $KERNEL_TIMEOUT -o "$TMP/out" -- "$PCVM" --accel emu --bios "$img" \
		--debug-exit --display none --debugcon stdio ;;
	qemu) "$TIMERUN" -t $KERNEL_TIMEOUT -o "$TMP/out" -- "$QEMU" -accel tcg -bios "$img" \
		-display none -device isa-debug-exit,iobase=0xf4,iosize=4 -debugcon stdio \
		-m 128 -nodefaults ;;
	icount) "$TIMERUN" -t $KERNEL_TIMEOUT -o "$TMP/out" -- "$QEMU" -accel tcg -icount shift=0 \
		-bios "$img" -display none -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-debugcon stdio -m 128 -nodefaults ;;
	esac
}

field() { # field NAME "k=v k=v ..."
	local kv
	for kv in $2; do
		[ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }
	done
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# The guest's report line, or what went wrong. Sets CHECK (ok or a message),
# SUM, TSC, HAND, BYTES.
judge() {
	local emu=$1 k=$2 res=$3 want_status=$4 line st
	st=$(field status "$res")
	line=$(grep -a '^BENCH checksum=' "$TMP/out" | head -1)
	SUM= TSC= HAND= BYTES=
	if [ -n "$line" ]; then
		SUM=$(field checksum "$line")
		TSC=$((16#$(field tsc "$line")))
		HAND=$((16#$(field hand "$line")))
		BYTES=$((16#$(field bytes "$line")))
	fi
	if [ "$st" = timeout ]; then
		CHECK="TIMEOUT after ${KERNEL_TIMEOUT}s"
	elif grep -aq '^BENCH exception' "$TMP/out"; then
		CHECK="EXCEPTION: $(grep -a '^BENCH exception' "$TMP/out" | head -1 | sed 's/^BENCH exception/vector/')"
	elif [ -z "$line" ]; then
		CHECK="NO RESULT (exit status $st): $(tail -c 300 "$TMP/out" | tr '\n' ' ')"
	elif [ "$SUM" != "${EXPECTED[$k]}" ]; then
		CHECK="WRONG checksum $SUM, expected ${EXPECTED[$k]}"
	elif [ "$st" != "$want_status" ]; then
		CHECK="exit status $st, expected $want_status"
	else
		CHECK=ok
	fi
}

declare -A EXPECTED WALL CPU RESULT HANDN BYTESN INSNS
for k in $KERNELS; do
	if [ -f "$G/k-$k.asm" ]; then
		EXPECTED[$k]=$("$EXPECT" "$k" "$G/k-$k.asm")
	else
		EXPECTED[$k]=$("$EXPECT" "$k")
	fi
done

EMUS=pcvm
[ -n "$QEMU" ] && EMUS="pcvm qemu"

# ---- timed runs ----
for k in $KERNELS; do
	img=$B/$k.img
	for emu in $EMUS; do
		want=0
		[ $emu = qemu ] && want=1 # QEMU's isa-debug-exit exits with (value << 1) | 1
		walls= cpus= check=ok
		for ((r = 0; r < RUNS; r++)); do
			res=$(run_guest $emu "$img")
			judge $emu $k "$res" $want
			if [ "$CHECK" != ok ]; then
				check=$CHECK
				break
			fi
			walls+="$(field wall "$res") "
			cpus+="$(awk -v u="$(field user "$res")" -v s="$(field sys "$res")" 'BEGIN { printf "%.4f", u + s }') "
		done
		RESULT[$emu,$k]=$check
		if [ "$check" = ok ]; then
			WALL[$emu,$k]=$(echo $walls | tr ' ' '\n' | median)
			CPU[$emu,$k]=$(echo $cpus | tr ' ' '\n' | median)
			HANDN[$k]=$HAND
			BYTESN[$k]=$BYTES
		fi
	done
done

# ---- instruction counts ----
# Assembly kernels are counted by hand (the formula is in each k-*.asm). The
# compiled ones are counted by QEMU: with -icount shift=0 its TSC advances by
# one per instruction executed, so the guest's TSC difference around the
# kernel is its count plus the stub's few instructions around the call,
# calibrated with the baseline kernel (hand count 2). Counts are cached per
# image (sha256) in $B/icount.cache. REP counts as one instruction by hand but
# once per iteration in QEMU, so the rep kernel is not compared.
CACHE=$B/icount.cache
icount_of() { # icount_of KERNEL -> TSC difference under -icount, or nothing
	local k=$1 sha line res
	sha=$(sha256sum "$B/$k.img" | cut -d' ' -f1)
	line=$(grep -s "^$sha $k " "$CACHE" | tail -1)
	if [ -n "$line" ]; then
		echo "${line##* }"
		return
	fi
	[ -n "$QEMU" ] || return
	res=$(run_guest icount "$B/$k.img")
	judge icount $k "$res" 1
	if [ "$CHECK" = ok ]; then
		echo "$sha $k $TSC" >>"$CACHE"
		echo "$TSC"
	fi
}

COUNT_NOTE=
base_tsc=$(icount_of null)
if [ -n "$base_tsc" ]; then
	stub=$((base_tsc - 2))
	agree= differ=
	for k in $KERNELS; do
		[ $k = null ] || [ $k = rep ] && continue
		t=$(icount_of $k)
		[ -n "$t" ] || continue
		n=$((t - stub))
		if [ -z "${HANDN[$k]}" ] || [ "${HANDN[$k]}" = 0 ]; then
			INSNS[$k]=$n
		elif [ "$n" = "${HANDN[$k]}" ]; then
			agree+="$k "
		else
			differ+="$k (hand ${HANDN[$k]}, QEMU $n) "
		fi
	done
	agree=${agree% }
	COUNT_NOTE="hand counts agree with QEMU -icount for: ${agree:-none}"
	[ -n "$differ" ] && COUNT_NOTE+="; DIFFER for: $differ"
fi
for k in $KERNELS; do
	if [ -n "${HANDN[$k]}" ] && [ "${HANDN[$k]}" != 0 ]; then
		INSNS[$k]=${HANDN[$k]}
	fi
done

# ---- report ----
fmt_count() { awk -v n="$1" 'BEGIN { if (n == "") print "?"; else if (n >= 1e6) printf "%.1fM", n / 1e6; else print n }'; }
# rate EMU KERNEL -> "N MIPS" or "N MiB/s" from CPU time less the baseline's
rate() {
	local emu=$1 k=$2
	[ "${RESULT[$emu,$k]}" = ok ] && [ -n "${CPU[$emu,null]}" ] || { echo "-"; return; }
	awk -v c="${CPU[$emu,$k]}" -v b="${CPU[$emu,null]}" -v n="${INSNS[$k]}" -v by="${BYTESN[$k]}" -v k=$k '
	BEGIN {
		t = c - b
		if (t < 0.005 || k == "null") { print "-"; exit }
		if (k == "rep") printf "%.0f MiB/s", by / t / 1048576
		else if (n == "") print "?"
		else printf "%.0f MIPS", n / t / 1e6
	}'
}
ratio() { # ratio A B -> A/B with two decimals
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "-"; else printf "%.2f", a / b }'
}
# kernel time = process time less the baseline's
ktime() {
	awk -v c="$1" -v b="$2" 'BEGIN { if (c == "" || b == "") print ""; else { t = c - b; if (t < 0.001) t = 0.001; printf "%.4f", t } }'
}

echo
echo "== software CPU (--accel emu) benchmarks${QEMU:+, side by side with QEMU $QEMU_VERSION TCG}"
echo "   median of $RUNS runs; wall = process start to exit, cpu = user+sys (trust cpu: the host is shared)"
echo "   rate = kernel instructions (or bytes) / (cpu - baseline cpu); ratio = pcvm/QEMU kernel cpu time"
echo
printf "  %-13s %9s | %-28s | %-28s | %9s |\n" "" "" "----------- pcvm -----------" "----------- QEMU -----------" ""
printf "  %-13s %9s | %7s %7s %12s | %7s %7s %12s | %9s | %s\n" \
	kernel insns "wall s" "cpu s" rate "wall s" "cpu s" rate pcvm/QEMU check
for k in $KERNELS; do
	n=$(fmt_count "${INSNS[$k]}")
	[ $k = null ] && n=-
	check=${RESULT[pcvm,$k]}
	[ "$check" = ok ] || check="pcvm: $check"
	if [ -n "$QEMU" ] && [ "${RESULT[qemu,$k]}" != ok ]; then
		check="$check; QEMU: ${RESULT[qemu,$k]}"
	fi
	r=-
	if [ $k != null ] && [ -n "$QEMU" ]; then
		r=$(ratio "$(ktime "${CPU[pcvm,$k]}" "${CPU[pcvm,null]}")" "$(ktime "${CPU[qemu,$k]}" "${CPU[qemu,null]}")")
	fi
	printf "  %-13s %9s | %7s %7s %12s | %7s %7s %12s | %9s | %s\n" "$k" "$n" \
		"${WALL[pcvm,$k]:--}" "${CPU[pcvm,$k]:--}" "$(rate pcvm $k)" \
		"${WALL[qemu,$k]:--}" "${CPU[qemu,$k]:--}" "$(rate qemu $k)" "$r" "$check"
done
bad=
for k in $KERNELS; do
	[ "${RESULT[pcvm,$k]}" = ok ] || bad+="$k "
done
if [ -n "$bad" ]; then
	echo
	echo "  *** WRONG: pcvm did not compute the right result for: ${bad% } (see the check column) ***"
fi
echo
for k in $KERNELS; do
	printf "  %-13s %s\n" "$k" "$(describe $k)"
done
if [ -n "${BYTESN[copy]}" ] && [ "${RESULT[pcvm,copy]}" = ok ]; then
	copy_rate() {
		awk -v c="${CPU[$1,copy]}" -v b="${CPU[$1,null]}" -v by="${BYTESN[copy]}" \
			'BEGIN { t = c - b; if (t > 0.005) printf "%.0f MiB/s", by / t / 1048576; else print "-" }'
	}
	echo "  copy moves $(copy_rate pcvm) under pcvm${QEMU:+, $(copy_rate qemu) under QEMU} (fill and sum included)"
fi
echo "  instruction counts: assembly kernels by hand (formula in each k-*.asm), C kernels by QEMU -icount"
[ -n "$COUNT_NOTE" ] && echo "  $COUNT_NOTE"
[ -z "$QEMU" ] && echo "  (no QEMU: qemu-system-i386 is not installed or BENCH_QEMU is empty; C kernel counts only from the cache)"

# ---- SeaBIOS: reset to boot device ----
# Time from process start until SeaBIOS's debug log (port 0x402) says it is
# booting or found nothing to boot; the process is killed then.
seabios_run() { # seabios_run EMU LOG
	case $1 in
	pcvm) "$TIMERUN" -t $SEABIOS_TIMEOUT -o "$TMP/sb.out" -w "$2" -p "Booting from" \
		-p "No bootable device" -- "$PCVM" --accel emu --bios "$SEABIOS" --debugcon "file:$2" \
		--display none ;;
	qemu) "$TIMERUN" -t $SEABIOS_TIMEOUT -o "$TMP/sb.out" -w "$2" -p "Booting from" \
		-p "No bootable device" -- "$QEMU" -accel tcg -nodefaults -display none \
		-debugcon "file:$2" -global isa-debugcon.iobase=0x402 -m 128 ;;
	esac
}
echo
echo "== SeaBIOS ($SEABIOS): reset to \"Booting from\" / \"No bootable device\" in its log"
declare -A SB_WALL SB_CPU
for emu in $EMUS; do
	walls= cpus= msg=
	for ((r = 0; r < RUNS; r++)); do
		res=$(seabios_run $emu "$TMP/sb-$emu.log")
		if [ "$(field matched "$res")" != 1 ]; then
			resets=$(grep -ac '^SeaBIOS (version' "$TMP/sb-$emu.log" 2>/dev/null)
			last=$(grep -av '^[[:space:]]*$' "$TMP/sb-$emu.log" 2>/dev/null | tail -1 | cut -c1-70)
			msg="SeaBIOS does not reach a boot device yet (within ${SEABIOS_TIMEOUT}s; it started ${resets:-0} times; last log line: \"$last\")"
			break
		fi
		walls+="$(field wall "$res") "
		cpus+="$(awk -v u="$(field user "$res")" -v s="$(field sys "$res")" 'BEGIN { printf "%.4f", u + s }') "
	done
	if [ -n "$msg" ]; then
		printf "  %-5s %s\n" $emu "$msg"
	else
		SB_WALL[$emu]=$(echo $walls | tr ' ' '\n' | median)
		SB_CPU[$emu]=$(echo $cpus | tr ' ' '\n' | median)
		printf "  %-5s wall %7s s   cpu %7s s   (\"%s\")\n" $emu "${SB_WALL[$emu]}" "${SB_CPU[$emu]}" \
			"$(grep -aom1 'Booting from[^.]*\|No bootable device' "$TMP/sb-$emu.log")"
	fi
done

# ---- goals (issue 3) ----
met() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
	if (v == "" || v == "-") { print "not measured"; exit }
	ok = (op == ">=") ? v >= g : v <= g
	print ok ? "met" : "NOT met" }'; }
mips_of() { rate pcvm $1 | awk '{ print ($2 == "MIPS") ? $1 : "-" }'; }
echo
echo "== goals of issue 3 (pcvm --accel emu, one host thread)"
lo=
for k in loop alu; do
	m=$(mips_of $k)
	if [ "$m" = - ]; then lo=-; break; fi
	if [ -z "$lo" ] || [ "$m" -lt "$lo" ]; then lo=$m; fi
done
printf "  %-52s %s\n" ">= 300 M guest instructions/s on the integer loops:" \
	"loop $(mips_of loop), alu $(mips_of alu) MIPS -> $(met "$lo" ">=" 300)"
if [ -n "${SB_CPU[pcvm]}" ]; then
	printf "  %-52s %s\n" "SeaBIOS POST under 0.5 s of host time:" \
		"${SB_WALL[pcvm]} s wall, ${SB_CPU[pcvm]} s cpu -> $(met "${SB_CPU[pcvm]}" "<=" 0.5)"
else
	printf "  %-52s %s\n" "SeaBIOS POST under 0.5 s of host time:" "not measured (SeaBIOS does not reach a boot device yet)"
fi
if [ -n "$QEMU" ]; then
	tp=0 tq=0 all=1
	for k in $C_KERNELS; do
		if [ "${RESULT[pcvm,$k]}" != ok ] || [ "${RESULT[qemu,$k]}" != ok ]; then all=0; break; fi
		tp=$(awk -v a=$tp -v t="$(ktime "${CPU[pcvm,$k]}" "${CPU[pcvm,null]}")" 'BEGIN { print a + t }')
		tq=$(awk -v a=$tq -v t="$(ktime "${CPU[qemu,$k]}" "${CPU[qemu,null]}")" 'BEGIN { print a + t }')
	done
	if [ $all = 1 ]; then
		cr=$(ratio $tp $tq)
		printf "  %-52s %s\n" "pcvm/QEMU-TCG time ratio <= 1.0 on the C program:" \
			"$cr (crc32+sort+mix kernel cpu time $tp s vs $tq s) -> $(met "$cr" "<=" 1.0)"
	else
		printf "  %-52s %s\n" "pcvm/QEMU-TCG time ratio <= 1.0 on the C program:" "not measured (a C kernel failed)"
	fi
else
	printf "  %-52s %s\n" "pcvm/QEMU-TCG time ratio <= 1.0 on the C program:" "not measured (no qemu-system-i386)"
fi
exit 0

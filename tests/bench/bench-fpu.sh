#!/bin/sh
# make bench: x87 FPU cost per emulated instruction (see bench-fpu.c).
BUILD=${1:-build}
OBJ=$BUILD/obj/src/vcpu/emu
[ -f "$OBJ/fpu.o" ] && [ -f "$OBJ/fpu_x87.o" ] || { echo "  bench-fpu: build $OBJ/fpu*.o first"; exit 1; }
gcc -std=gnu11 -O2 -Isrc -o "$BUILD/bench-fpu" tests/bench/bench-fpu.c "$OBJ/fpu.o" "$OBJ/fpu_x87.o" || exit 1
"$BUILD/bench-fpu"

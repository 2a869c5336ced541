; Baseline: a kernel that returns at once. Its run time is pcvm's (or
; QEMU's) start-up and shut-down cost, subtracted from the other kernels';
; its TSC difference under `qemu -icount shift=0` calibrates the stub's own
; instructions around the call.
%include "bench.inc"
; xor, ret
BENCH_HEADER 2, 0
kernel:
	xor eax, eax
	ret

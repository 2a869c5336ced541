; Counted integer loop, dec/jnz style with one ALU operation: the tightest
; loop an interpreter dispatches. Checksum: the sum of ITER..1 mod 2^32.
%include "bench.inc"
%define ITER 250000000
; mov, xor, ITER * (add, dec, jnz), ret
BENCH_HEADER 3 + 3 * ITER, 0
kernel:
	mov ecx, ITER
	xor eax, eax
.loop:	add eax, ecx
	dec ecx
	jnz .loop
	ret

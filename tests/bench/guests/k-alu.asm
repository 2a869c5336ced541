; Counted integer loop with a mix of ALU operations (add, xor, rotate, sub,
; lea with a scaled index, shift into CF, adc): flags produced and consumed
; as compiled code does. Checksum: all five state registers xor-ed.
%include "bench.inc"
%define ITER 30000000
; 6 setup, ITER * 9, 4 xor + ret
BENCH_HEADER 6 + 9 * ITER + 5, 0
kernel:
	mov ecx, ITER
	xor eax, eax
	mov ebx, 0x12345678
	mov edx, 0x9abcdef0
	mov esi, 1
	mov edi, 0x55aa55aa
.loop:	add eax, ecx
	xor ebx, eax
	rol ebx, 3
	sub edx, ebx
	lea esi, [esi + edx * 2 + 7]
	shr edi, 1
	adc edi, esi
	dec ecx
	jnz .loop
	xor eax, ebx
	xor eax, edx
	xor eax, esi
	xor eax, edi
	ret

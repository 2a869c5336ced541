; Memory copy in plain instructions: a 4 MiB buffer is filled with a
; pseudo-random sequence, then copied back and forth between two 4 MiB
; buffers PASSES times, one dword per load/store pair, each pass adding the
; pass number so that every pass's stores are visible in the result (an
; emulator that lost or misplaced a store changes the checksum). Finally the
; buffer last written is summed.
%include "bench.inc"
%define BUF_A 0x400000
%define BUF_B 0x800000
%define DWORDS 0x100000         ; 4 MiB
%define PASSES 24
; Hand count:
;   fill:  4 setup + DWORDS * 6
;   passes: 3 setup + PASSES * (3 + DWORDS * 7 + 3)
;   sum:   3 setup + DWORDS * 5, then ret
BENCH_HEADER 4 + DWORDS * 6 + 3 + PASSES * (3 + DWORDS * 7 + 3) + 3 + DWORDS * 5 + 1, PASSES * DWORDS * 4
kernel:
	mov edi, BUF_A
	mov ecx, DWORDS
	mov eax, 1
	mov edx, 0x6c078965
.fill:	mov [edi], eax
	imul eax, edx
	add eax, 12345
	add edi, 4
	dec ecx
	jnz .fill
	mov ebp, PASSES
	mov ebx, BUF_A          ; source of the next pass
	mov edx, BUF_B          ; its destination
.pass:	mov esi, ebx
	mov edi, edx
	mov ecx, DWORDS
.copy:	mov eax, [esi]
	add eax, ebp
	mov [edi], eax
	add esi, 4
	add edi, 4
	dec ecx
	jnz .copy
	xchg ebx, edx
	dec ebp
	jnz .pass
	; after the last swap ebx is the last pass's destination
	mov esi, ebx
	mov ecx, DWORDS
	xor eax, eax
.sum:	rol eax, 5
	add eax, [esi]
	add esi, 4
	dec ecx
	jnz .sum
	ret

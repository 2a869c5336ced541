; Call/return-heavy: recursive Fibonacci, fib(N) computed REPEAT times,
; with near CALL/RET, PUSH/POP and a frame register as compiled code has.
; Checksum: REPEAT * fib(N) mod 2^32.
%include "bench.inc"
%define N 24
%define REPEAT 200
; fib(n) for n >= 2 runs 13 instructions besides its two calls; for n < 2 it
; runs 3. A call to fib(n) makes F(n+1) leaf calls and F(n+1) - 1 inner
; ones, so its instructions total 3 F(n+1) + 13 (F(n+1) - 1) = 16 F(n+1) - 13.
%assign fa 0
%assign fb 1
%rep N
%assign fc fa + fb
%assign fa fb
%assign fb fc
%endrep
; now fb = F(N+1)
; Hand count: 2 setup + REPEAT * (5 + 16 F(N+1) - 13) + 2
BENCH_HEADER 2 + REPEAT * (5 + 16 * fb - 13) + 2, 0
kernel:
	mov esi, REPEAT
	xor edi, edi
.again:	mov eax, N
	call fib
	add edi, eax
	dec esi
	jnz .again
	mov eax, edi
	ret

; eax = n -> eax = fib(n); clobbers edx
fib:	cmp eax, 2
	jb .leaf
	push ebx
	lea ebx, [eax - 2]
	dec eax
	call fib
	push eax
	mov eax, ebx
	call fib
	pop edx
	pop ebx
	add eax, edx
.leaf:	ret

; REP STOSD / REP MOVSD over 4 MiB buffers: each pass fills buffer A with a
; value derived from the pass number, stores the pass number at a
; pass-dependent place in it, copies A to B shifted by a pass-dependent
; number of dwords, and adds one pass-dependent dword of B to the checksum.
; This measures the string fast paths (bytes moved per second); a REP
; instruction counts as one instruction however many times it repeats.
%include "bench.inc"
%define BUF_A 0x400000
%define BUF_B 0x800000
%define DWORDS 0x100000         ; 4 MiB
%define PASSES 24
; Hand count: 2 setup + PASSES * 22 + 2
BENCH_HEADER 2 + PASSES * 22 + 2, PASSES * (DWORDS + DWORDS - 64) * 4
kernel:
	mov ebp, PASSES
	xor ebx, ebx
.pass:	imul eax, ebp, 0x9e3779b9       ; fill value
	mov edi, BUF_A
	mov ecx, DWORDS
	rep stosd
	mov edx, ebp                    ; mark: A[(pass * 4099) mod DWORDS] = pass
	imul edx, edx, 4099
	and edx, DWORDS - 1
	mov [BUF_A + edx * 4], ebp
	mov edx, ebp                    ; shift: pass mod 64 dwords
	and edx, 63
	lea esi, [BUF_A + edx * 4]
	mov edi, BUF_B
	mov ecx, DWORDS - 64
	rep movsd
	mov edx, ebp                    ; sample B[(pass * 7919) mod (DWORDS / 2)]
	imul edx, edx, 7919
	and edx, DWORDS / 2 - 1
	add ebx, [BUF_B + edx * 4]
	rol ebx, 1
	add ebx, [BUF_B + (DWORDS - 65) * 4]
	dec ebp
	jnz .pass
	mov eax, ebx
	ret

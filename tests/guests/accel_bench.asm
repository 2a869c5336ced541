; The guest tests/bench/bench-accel.sh times, assembled there with
; -DMODE=n -DLOOPS=n (make guests builds the defaults, a short real-mode
; loop):
;   MODE 0  firmware whose first instructions write a newline to the debug
;           console and end the run (start-up time)
;   MODE 1  firmware: LOOPS rounds of a 4-instruction loop in real mode
;   MODE 2  firmware: the same loop in flat 32-bit protected mode
;   MODE 3  a boot sector that ends the run (firmware reset-to-boot time)
; Every mode ends through the debug-exit port with status 0.
%include "accel_common.inc"

%ifndef MODE
%define MODE 1
%endif
%ifndef LOOPS
%define LOOPS 1000
%endif

%if MODE == 3

bits 16
org 0x7c00
	xor al, al
	out DEBUG_EXIT, al
	cli
	hlt
	times 510 - ($ - $$) db 0
	dw 0xaa55

%elif MODE == 0

bits 16
org 0
	times 0xfff0 db 0xff
	mov al, 10              ; the first instruction after reset
	out DEBUGCON, al
	xor al, al
	out DEBUG_EXIT, al
	cli
	hlt
	times 0x10000 - ($ - $$) db 0xff

%else

bits 16
org 0
start16:
	cli
%if MODE == 2
	mov ax, cs
	mov ds, ax
	o32 lgdt [gdt_desc]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword 0x08:(ROM_LOW + start32)
bits 32
start32:
%endif
	mov ecx, LOOPS
	mov eax, 1
	mov ebx, 3
.loop:	add eax, ebx
	xor ebx, eax
	dec ecx
	jnz .loop
	EXIT 0

%if MODE == 2
align 8
gdt:	dq 0
	dq 0x00cf9b000000ffff
	dq 0x00cf93000000ffff
gdt_desc:
	dw gdt_desc - gdt - 1
	dd ROM_LOW + gdt
%endif

RESET_VECTOR start16

%endif

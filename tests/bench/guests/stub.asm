; Firmware entry for the CPU benchmark guests (tests/bench/bench-cpu.sh).
; The image is loaded with --bios: it ends at 4 GiB and its last 64 KiB also
; end at 1 MiB, and the CPU starts at F000:FFF0 with CS based at FFFF0000
; (Intel SDM vol. 3, 9.1.4 "First Instruction Executed"). This stub enables
; A20 through port 92h, loads a flat GDT and an IDT, enters 32-bit protected
; mode (SDM vol. 3, 9.9.1 "Switching to Protected Mode"), copies the payload
; (built separately, linked at 0x100000) into RAM and calls it. A payload
; starts with a header: the magic "BNCH", the kernel's architectural
; instruction count as counted by hand (64 bits, 0 when unknown), its entry
; address and the number of bytes it copies or fills (0 when not relevant). The kernel returns a checksum of its result in EAX. The stub
; reads the TSC around the call (under `qemu -icount shift=0` the difference
; is the number of instructions executed), prints one line on the debug
; console (port E9h):
;   BENCH checksum=XXXXXXXX tsc=XXXXXXXXXXXXXXXX hand=XXXXXXXXXXXXXXXX bytes=XXXXXXXX
; and writes 0 to the debug-exit port (F4h). A CPU exception prints
;   BENCH exception VV error=XXXXXXXX eip=XXXXXXXX bytes=XX XX ...
; (the bytes at the faulting EIP) and exits with status 0x42.
;
; nasm -f bin -DPAYLOAD='"file"' [-DIMAGE_SIZE=n] stub.asm

%ifndef IMAGE_SIZE
%define IMAGE_SIZE 0x10000
%endif
%define ROM (0x100000000 - IMAGE_SIZE)  ; linear address of image offset 0
%define LOAD 0x100000                   ; where the payload runs
%define STACK_TOP 0x9f000               ; below the legacy video hole
%define MAGIC 0x48434e42                ; "BNCH"

%define IDT_RAM 0x9f000                 ; the IDT sits right above the stack

	org 0
	; The payload comes first, so that it may grow beyond 64 KiB with
	; IMAGE_SIZE; the 16-bit code must sit in the last 64 KiB, which CS
	; covers at reset (base ROM + OFF16).
payload:
	incbin PAYLOAD
payload_end:
%define OFF16 (IMAGE_SIZE - 0x10000)
	times (OFF16 - ($ - $$)) * (OFF16 > ($ - $$)) db 0

	bits 16
entry16:
	cli
	cld
	in al, 0x92
	or al, 2
	and al, 0xfe            ; bit 0 would reset the CPU
	out 0x92, al
	o32 lgdt [cs:gdtr - OFF16]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword 0x08:(ROM + pm32)

	align 8
gdt:	dq 0
	dq 0x00cf9b000000ffff   ; 08: code, base 0, limit 4 GiB, 32-bit
	dq 0x00cf93000000ffff   ; 10: data, base 0, limit 4 GiB
gdt_end:
gdtr:	dw gdt_end - gdt - 1
	dd ROM + gdt

	bits 32
pm32:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov fs, ax
	mov gs, ax
	mov esp, STACK_TOP
	; IDT: 32 interrupt gates, each to its own 16-byte entry point below.
	mov edi, IDT_RAM
	mov ebx, ROM + vectors
	xor ecx, ecx
.idt:	mov eax, ecx
	shl eax, 4
	add eax, ebx
	mov [edi], ax
	mov word [edi + 2], 0x08
	mov word [edi + 4], 0x8e00
	shr eax, 16
	mov [edi + 6], ax
	add edi, 8
	inc ecx
	cmp ecx, 32
	jb .idt
	lidt [ROM + idtr]
	; Copy the payload into RAM.
	mov esi, ROM + payload
	mov edi, LOAD
	mov ecx, (payload_end - payload + 3) / 4
	rep movsd
	cmp dword [LOAD], MAGIC
	jne bad_payload
	rdtsc
	push edx
	push eax
	call [LOAD + 12]
	mov ebp, eax
	rdtsc
	pop ebx
	pop ecx
	sub eax, ebx
	sbb edx, ecx
	mov esi, eax
	mov edi, edx
	mov ebx, ROM + s_checksum
	call puts
	mov eax, ebp
	call puthex32
	mov ebx, ROM + s_tsc
	call puts
	mov eax, edi
	call puthex32
	mov eax, esi
	call puthex32
	mov ebx, ROM + s_hand
	call puts
	mov eax, [LOAD + 8]
	call puthex32
	mov eax, [LOAD + 4]
	call puthex32
	mov ebx, ROM + s_bytes_moved
	call puts
	mov eax, [LOAD + 16]
	call puthex32
	mov al, 10
	out 0xe9, al
	xor eax, eax
	out 0xf4, al
.halt:	hlt
	jmp .halt

bad_payload:
	mov ebx, ROM + s_badpayload
	call puts
	mov al, 0x42
	out 0xf4, al
	jmp pm32.halt

; ebx: NUL-terminated string
puts:	mov al, [ebx]
	test al, al
	jz .done
	out 0xe9, al
	inc ebx
	jmp puts
.done:	ret

; eax: value printed as 8 hex digits (clobbers eax, ecx, edx)
puthex32:
	mov edx, eax
	mov ecx, 8
.digit:	rol edx, 4
	mov al, dl
	and al, 15
	add al, '0'
	cmp al, '9'
	jbe .out
	add al, 'a' - '9' - 1
.out:	out 0xe9, al
	dec ecx
	jnz .digit
	ret

; Exception entry points: each pushes its vector (and a dummy error code
; where the CPU pushes none) and joins the report.
	align 16
vectors:
%assign v 0
%rep 32
	align 16
%if v == 8 || (v >= 10 && v <= 14) || v == 17
	push byte v
	jmp near exception
%else
	push byte 0
	push byte v
	jmp near exception
%endif
%assign v v + 1
%endrep

exception:
	mov ebx, ROM + s_exception
	call puts
	mov eax, [esp]
	call puthex8
	mov ebx, ROM + s_error
	call puts
	mov eax, [esp + 4]
	call puthex32
	mov ebx, ROM + s_eip
	call puts
	mov eax, [esp + 8]
	mov esi, eax
	call puthex32
	mov ebx, ROM + s_bytes
	call puts
	mov edi, 8
.byte:	mov al, ' '
	out 0xe9, al
	movzx eax, byte [esi]
	call puthex8
	inc esi
	dec edi
	jnz .byte
	mov al, 10
	out 0xe9, al
	mov al, 0x42
	out 0xf4, al
	jmp pm32.halt

; eax: low byte printed as 2 hex digits
puthex8:
	shl eax, 24
	mov edx, eax
	mov ecx, 2
	jmp puthex32.digit

s_checksum:	db "BENCH checksum=", 0
s_tsc:		db " tsc=", 0
s_hand:		db " hand=", 0
s_bytes_moved:	db " bytes=", 0
s_exception:	db "BENCH exception ", 0
s_error:	db " error=", 0
s_eip:		db " eip=", 0
s_bytes:	db " bytes=", 0
s_badpayload:	db "BENCH bad payload header", 10, 0

idtr:	dw 32 * 8 - 1
	dd IDT_RAM

	times IMAGE_SIZE - 16 - ($ - $$) db 0
	; Reset vector (F000:FFF0).
	bits 16
	jmp entry16
	times IMAGE_SIZE - ($ - $$) db 0

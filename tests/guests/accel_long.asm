; 64-bit guest for the backend tests: from real mode through protected mode
; into long mode with 4-level paging (2 MiB pages identity-mapping the
; first 4 MiB and the firmware's top 2 MiB below 4 GiB), then reports a
; 64-bit arithmetic loop and a read of the reset vector through paging.
; Ends with exit status 60.
%include "accel_common.inc"

%define PML4 0x10000
%define PDPT 0x11000
%define PD0 0x12000
%define PD3 0x13000

bits 16
org 0

start16:
	cli
	mov ax, cs
	mov ds, ax
	o32 lgdt [gdt_desc]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword 0x08:(ROM_LOW + start32)

bits 32
start32:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, 0x7000
	cld

	; page tables
	mov edi, PML4
	xor eax, eax
	mov ecx, 4 * 4096 / 4
	rep stosd
	mov dword [PML4], PDPT | 3
	mov dword [PDPT], PD0 | 3
	mov dword [PDPT + 3 * 8], PD3 | 3
	mov dword [PD0], 0x000000 | 0x83
	mov dword [PD0 + 8], 0x200000 | 0x83
	mov dword [PD3 + 511 * 8], 0xffe00000 | 0x83

	mov eax, cr4
	or eax, 1 << 5                  ; PAE
	mov cr4, eax
	mov eax, PML4
	mov cr3, eax
	mov ecx, 0xc0000080             ; EFER
	rdmsr
	or eax, 1 << 8                  ; LME
	wrmsr
	mov eax, cr0
	or eax, 1 << 31                 ; PG
	mov cr0, eax
	jmp 0x18:(ROM_LOW + start64)

bits 64
start64:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov rsp, 0x7000

	mov rsi, ROM_LOW + msg_hello
	call print

	mov rax, 1
	xor rbx, rbx
	mov rdi, 6364136223846793005
	mov rdx, 1442695040888963407
	mov ecx, 1000
.lcg:	imul rax, rdi
	add rax, rdx
	add rbx, rax
	rol rbx, 1
	dec ecx
	jnz .lcg
	mov rsi, ROM_LOW + msg_lcg
	call print
	mov rax, rbx
	call hex64
	call newline

	mov rsi, ROM_LOW + msg_rom
	call print
	mov rax, 0xfffffff0
	mov rax, [rax]
	call hex64
	call newline

	mov rsi, ROM_LOW + msg_bye
	call print
	EXIT 60

print:	push rax
.l:	lodsb
	test al, al
	jz .d
	out DEBUGCON, al
	jmp .l
.d:	pop rax
	ret

newline:
	push rax
	mov al, 10
	out DEBUGCON, al
	pop rax
	ret

hex64:	push rcx
	push rdx
	push rax
	mov ecx, 16
.l:	rol rax, 4
	mov dl, al
	and dl, 0xf
	add dl, '0'
	cmp dl, '9'
	jbe .o
	add dl, 'a' - '9' - 1
.o:	push rax
	mov al, dl
	out DEBUGCON, al
	pop rax
	dec ecx
	jnz .l
	pop rax
	pop rdx
	pop rcx
	ret

align 8
gdt:	dq 0
	dq 0x00cf9b000000ffff   ; 0x08: code, 32-bit
	dq 0x00cf93000000ffff   ; 0x10: data
	dq 0x00af9b000000ffff   ; 0x18: code, 64-bit
gdt_desc:
	dw gdt_desc - gdt - 1
	dd ROM_LOW + gdt

msg_hello:	db "long: hello", 10, 0
msg_lcg:	db "long: lcg ", 0
msg_rom:	db "long: reset vector ", 0
msg_bye:	db "long: bye", 10, 0

RESET_VECTOR start16

; 32-bit paging guest for the backend tests: flat protected mode, then
; 32-bit paging with 4 MiB pages (identity for the first 4 MiB and the top
; 4 MiB below 4 GiB) and one 4 KiB page table mapping linear 0x400000 to
; physical 0x200000; reports a read through that mapping. Ends with exit
; status 52. (kvm_pvm refuses 32-bit paging: tests/system/test_kvm.cc
; expects pcvm's one-line explanation there.)
%include "accel_common.inc"

%define PD 0x10000
%define PT 0x11000

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
	mov edi, PD
	xor eax, eax
	mov ecx, 2048
	rep stosd
	mov dword [PD], 0x00000083              ; 0-4 MiB, 4 MiB page
	mov dword [PD + 1 * 4], PT | 3          ; 4-8 MiB through a page table
	mov dword [PD + 1023 * 4], 0xffc00083   ; the firmware at the top
	mov dword [PT], 0x200000 | 3            ; 0x400000 -> 0x200000
	mov dword [0x200000], 0x600df00d

	mov eax, cr4
	or eax, 1 << 4                          ; PSE
	mov cr4, eax
	mov eax, PD
	mov cr3, eax
	mov eax, cr0
	or eax, 1 << 31                         ; PG
	mov cr0, eax

	mov esi, ROM_LOW + msg_on
	call print
	mov eax, [0x400000]
	call hex32
	mov al, 10
	out DEBUGCON, al
	EXIT 52

print:	push eax
.l:	lodsb
	test al, al
	jz .d
	out DEBUGCON, al
	jmp .l
.d:	pop eax
	ret

hex32:	push ecx
	push edx
	mov ecx, 8
.l:	rol eax, 4
	mov dl, al
	and dl, 0xf
	add dl, '0'
	cmp dl, '9'
	jbe .o
	add dl, 'a' - '9' - 1
.o:	push eax
	mov al, dl
	out DEBUGCON, al
	pop eax
	loop .l
	pop edx
	pop ecx
	ret

align 8
gdt:	dq 0
	dq 0x00cf9b000000ffff
	dq 0x00cf93000000ffff
gdt_desc:
	dw gdt_desc - gdt - 1
	dd ROM_LOW + gdt

msg_on:	db "pg32: paging on, 0x400000 holds ", 0

RESET_VECTOR start16

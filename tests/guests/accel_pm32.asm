; 32-bit protected-mode guest for the backend tests: enters flat protected
; mode without paging, then reports an arithmetic loop, RAM above 1 MiB,
; the firmware's two addresses (below 1 MiB and below 4 GiB) holding the
; same bytes, ROM ignoring writes, and unmapped memory reading as all ones
; and ignoring writes (MMIO exits under KVM, also through a string move).
; Ends with exit status 51.
%include "accel_common.inc"

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
	mov fs, ax
	mov gs, ax
	mov esp, 0x7000
	cld

	mov esi, ROM_LOW + msg_hello
	call print

	mov eax, 1
	xor ebx, ebx
	mov ecx, 1000
.lcg:	imul eax, eax, LCG_MUL
	add eax, LCG_ADD
	add ebx, eax
	rol ebx, 1
	loop .lcg
	mov esi, ROM_LOW + msg_lcg
	call print
	mov eax, ebx
	call hex32
	call newline

	; RAM above 1 MiB
	mov dword [0x200000], 0xcafe0000
	or word [0x200000], 0xf00d
	mov esi, ROM_LOW + msg_ram
	call print
	mov eax, [0x200000]
	call hex32
	call newline

	; the reset vector's 16 bytes, seen at both addresses
	mov esi, 0xfffffff0
	mov edi, ROM_LOW + 0xfff0
	mov ecx, 4
	repe cmpsd
	mov esi, ROM_LOW + msg_alias
	call print
	mov eax, ecx
	call hex32
	call newline

	; ROM ignores writes, at both addresses
	mov dword [0xfffffff0], 0x11223344
	mov byte [ROM_LOW + rom_byte], 0x55
	mov esi, ROM_LOW + msg_rom
	call print
	mov eax, [0xfffffff0]
	cmp eax, [ROM_LOW + 0xfff0]
	sete al
	movzx eax, al
	call hex8
	mov al, ' '
	out DEBUGCON, al
	movzx eax, byte [ROM_LOW + rom_byte]
	call hex8
	call newline

	; nothing at 3 GiB (with less RAM than that): ones, writes lost
	mov dword [0xc0000000], 0
	mov esi, ROM_LOW + msg_hole
	call print
	mov eax, [0xc0000000]
	call hex32
	mov al, ' '
	out DEBUGCON, al
	mov esi, 0xc0000010
	mov edi, 0x300000
	mov ecx, 2
	rep movsd
	mov eax, [0x300000]
	and eax, [0x300004]
	call hex32
	call newline

	mov esi, ROM_LOW + msg_bye
	call print
	EXIT 51

print:	push eax
.l:	lodsb
	test al, al
	jz .d
	out DEBUGCON, al
	jmp .l
.d:	pop eax
	ret

newline:
	push eax
	mov al, 10
	out DEBUGCON, al
	pop eax
	ret

hex32:	push ecx
	mov ecx, 8
	jmp hexn
hex8:	push ecx
	rol eax, 24
	mov ecx, 2
hexn:	push eax
	push edx
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
	pop eax
	pop ecx
	ret

align 8
gdt:	dq 0
	dq 0x00cf9b000000ffff   ; 0x08: code, base 0, 4 GiB, 32-bit
	dq 0x00cf93000000ffff   ; 0x10: data, base 0, 4 GiB
gdt_desc:
	dw gdt_desc - gdt - 1
	dd ROM_LOW + gdt

msg_hello:	db "pm32: hello", 10, 0
msg_lcg:	db "pm32: lcg ", 0
msg_ram:	db "pm32: ram ", 0
msg_alias:	db "pm32: alias mismatches ", 0
msg_rom:	db "pm32: rom ", 0
msg_hole:	db "pm32: hole ", 0
msg_bye:	db "pm32: bye", 10, 0
rom_byte:	db 0xaa

RESET_VECTOR start16

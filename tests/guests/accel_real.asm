; Real-mode guest for the backend tests (tests/system/test_kvm.cc): string
; and single port I/O on the debug console, an arithmetic loop, a software
; interrupt through the IVT, RAM reads and writes, and writes to ROM, which
; must be ignored. Ends with exit status 42.
%include "accel_common.inc"

bits 16
org 0

start:
	cli
	xor ax, ax
	mov ss, ax
	mov sp, 0x7000
	mov ax, cs
	mov ds, ax
	cld

	; string I/O: one OUTSB repeated over the whole message
	mov si, msg_hello
	mov cx, msg_hello_end - msg_hello
	mov dx, DEBUGCON
	rep outsb

	; the LCG, 1000 rounds
	mov eax, 1
	xor ebx, ebx
	mov cx, 1000
.lcg:	imul eax, eax, LCG_MUL
	add eax, LCG_ADD
	add ebx, eax
	rol ebx, 1
	loop .lcg
	mov si, msg_lcg
	call print
	mov eax, ebx
	call hex32
	call newline

	; port input: the debug console reads back 0xE9, one IN and a string
	; of four INSB into RAM at 0000:0600
	in al, DEBUGCON
	mov ah, al
	xor di, di
	mov es, di
	mov di, 0x600
	mov cx, 4
	mov dx, DEBUGCON
	rep insb
	mov si, msg_in
	call print
	movzx eax, ah
	call hex8
	mov al, ' '
	out DEBUGCON, al
	mov eax, [es:0x600]
	call hex32
	call newline

	; RAM: what is written reads back
	mov dword [es:0x500], 0x12345678
	add dword [es:0x500], 0x11111111
	mov si, msg_ram
	call print
	mov eax, [es:0x500]
	call hex32
	call newline

	; ROM ignores writes (a read-only slot under KVM)
	mov byte [rom_byte], 0x55
	mov word [rom_word], 0x1234
	mov si, msg_rom
	call print
	movzx eax, byte [rom_byte]
	call hex8
	mov al, ' '
	out DEBUGCON, al
	movzx eax, word [rom_word]
	call hex16
	call newline

	; a software interrupt through the real-mode IVT
	mov word [es:0x30 * 4], int30
	mov [es:0x30 * 4 + 2], cs
	mov eax, 0x1000
	int 0x30
	mov si, msg_int
	call print
	call hex32
	call newline

	mov si, msg_bye
	call print
	EXIT 42

int30:	add eax, 0x234
	iret

; ds:si -> the debug console, up to a zero byte
print:	push ax
.l:	lodsb
	test al, al
	jz .d
	out DEBUGCON, al
	jmp .l
.d:	pop ax
	ret

newline:
	push ax
	mov al, 10
	out DEBUGCON, al
	pop ax
	ret

; eax (8, 4 or 2 low digits) in hex
hex32:	push cx
	mov cx, 8
	jmp hexn
hex16:	push cx
	rol eax, 16
	mov cx, 4
	jmp hexn
hex8:	push cx
	rol eax, 24
	mov cx, 2
hexn:	push eax
	push dx
.l:	rol eax, 4
	mov dl, al
	and dl, 0xf
	add dl, '0'
	cmp dl, '9'
	jbe .o
	add dl, 'a' - '9' - 1
.o:	push ax
	mov al, dl
	out DEBUGCON, al
	pop ax
	loop .l
	pop dx
	pop eax
	pop cx
	ret

msg_hello:	db "real: hello", 10
msg_hello_end:
msg_lcg:	db "real: lcg ", 0
msg_in:		db "real: in ", 0
msg_ram:	db "real: ram ", 0
msg_rom:	db "real: rom ", 0
msg_int:	db "real: int ", 0
msg_bye:	db "real: bye", 10, 0
rom_byte:	db 0xaa
rom_word:	dw 0xbeef

RESET_VECTOR start

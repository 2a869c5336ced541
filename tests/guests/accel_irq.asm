; Hardware interrupts for the backend tests: programs the 8259 PICs (IRQ0
; at vector 8, everything else masked) and PIT channel 0 at about 1 kHz,
; then sleeps in HLT until ten timer interrupts have been counted by the
; IRQ0 handler, which acknowledges each with an EOI. Also checks that no
; interrupt arrives while IF is clear. Ends with exit status 43.
%include "accel_common.inc"

%define COUNT 0x500

bits 16
org 0

start:
	cli
	xor ax, ax
	mov ss, ax
	mov es, ax
	mov sp, 0x7000
	mov ax, cs
	mov ds, ax
	mov word [es:COUNT], 0
	mov word [es:8 * 4], irq0
	mov [es:8 * 4 + 2], cs

	; master: edge, cascade, vector base 8, 8086 mode; slave: base 0x70
	mov al, 0x11
	out 0x20, al
	out 0xa0, al
	mov al, 0x08
	out 0x21, al
	mov al, 0x70
	out 0xa1, al
	mov al, 0x04
	out 0x21, al
	mov al, 0x02
	out 0xa1, al
	mov al, 0x01
	out 0x21, al
	out 0xa1, al
	mov al, 0xfe            ; IRQ0 only
	out 0x21, al
	mov al, 0xff
	out 0xa1, al

	; PIT channel 0, rate generator, 1193 ticks: about 1 kHz
	mov al, 0x34
	out 0x43, al
	mov ax, 1193
	out 0x40, al
	mov al, ah
	out 0x40, al

	; with IF clear, a busy wait of a few milliseconds takes no interrupt
	mov ecx, 3000
.busy:	in al, 0x61             ; a port read: a few microseconds each
	loop .busy, ecx
	mov si, msg_masked
	call print
	mov ax, [es:COUNT]
	call hex16
	call newline

	sti
.wait:	hlt
	cmp word [es:COUNT], 10
	jb .wait
	cli
	mov si, msg_ticks
	call print
	mov ax, 10
	call hex16
	call newline
	EXIT 43

irq0:	push ax
	inc word [es:COUNT]
	mov al, 0x20            ; non-specific EOI
	out 0x20, al
	pop ax
	iret

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

hex16:	push cx
	push dx
	push ax
	mov cx, 4
.l:	rol ax, 4
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
	pop ax
	pop dx
	pop cx
	ret

msg_masked:	db "irq: ticks with IF clear ", 0
msg_ticks:	db "irq: ticks counted ", 0

RESET_VECTOR start

; A hard-disk boot sector that talks on COM1 with interrupts: it sets the
; port to 115200 8N1, says "ready", then takes IRQ4 for every byte that
; arrives (sleeping in HLT between them) and sends it back in upper case.
; A '.' ends it through the debug-exit port with 0x20.
	bits 16
	org 0x7c00
COM1	equ 0x3f8
	cli
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x7c00
	mov word [0x0c*4], isr	; IRQ4 is vector 0x0C after the BIOS
	mov word [0x0c*4+2], 0
	mov dx, COM1+3
	mov al, 0x80		; DLAB
	out dx, al
	mov dx, COM1
	mov al, 1		; divisor 1: 115200 baud
	out dx, al
	inc dx
	xor al, al
	out dx, al
	mov dx, COM1+3
	mov al, 0x03		; 8N1
	out dx, al
	mov si, ready
.say:	lodsb
	test al, al
	jz .said
	call send
	jmp .say
.said:	mov dx, COM1+1
	mov al, 0x01		; received-data interrupt
	out dx, al
	mov dx, COM1+4
	mov al, 0x0b		; DTR, RTS, OUT2 (gates the IRQ)
	out dx, al
	in al, 0x21
	and al, ~0x10		; unmask IRQ4
	out 0x21, al
main:	sti
	hlt
	cli
.next:	mov bx, [tail]
	cmp bx, [head]
	je main
	mov al, [buf+bx]
	inc bx
	and bx, 63
	mov [tail], bx
	cmp al, 'a'
	jb .send
	cmp al, 'z'
	ja .send
	sub al, 0x20
.send:	call send
	cmp al, '.'
	jne .next
	mov al, 0x20
	out 0xf4, al
	hlt

send:	push ax
	mov dx, COM1+5
.wait:	in al, dx
	test al, 0x20		; THR empty
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	ret

isr:	push ax
	push bx
	push dx
.rx:	mov dx, COM1+5
	in al, dx
	test al, 1
	jz .done
	mov dx, COM1
	in al, dx
	mov bx, [head]
	mov [buf+bx], al
	inc bx
	and bx, 63
	mov [head], bx
	jmp .rx
.done:	mov al, 0x20		; EOI
	out 0x20, al
	pop dx
	pop bx
	pop ax
	iret

ready:	db "ready", 13, 10, 0
head:	dw 0
tail:	dw 0
	times 510-($-$$) db 0
	dw 0xaa55
buf	equ 0x600

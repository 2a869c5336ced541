; A boot disk for the backend tests: SeaBIOS loads this sector at 0:7C00;
; it reads the next sector through INT 13h, and writes what it found and
; the boot drive number to COM1 (polling the 16550's LSR), then ends
; through the debug-exit port with status 33. The test pads the image to
; a disk size.
bits 16
org 0x7c00

%define COM1 0x3f8

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	sti
	mov [drive], dl

	mov si, msg_boot
	call print
	mov al, [drive]
	call hex8
	mov al, 10
	call putc

	mov ax, 0x0201          ; read one sector
	mov cx, 0x0002          ; cylinder 0, sector 2
	xor dh, dh              ; head 0
	mov dl, [drive]
	mov bx, 0x8000
	int 0x13
	jc .fail
	mov si, 0x8000
	call print
	jmp .done
.fail:	mov si, msg_fail
	call print
.done:	mov al, 33
	out 0xf4, al
	cli
	hlt

putc:	push dx
	push ax
	mov dx, COM1 + 5
.wait:	in al, dx
	test al, 0x20           ; transmitter holding register empty
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	ret

print:	lodsb
	test al, al
	jz .d
	call putc
	jmp print
.d:	ret

hex8:	push cx
	mov cx, 2
.l:	rol al, 4
	push ax
	and al, 0xf
	add al, '0'
	cmp al, '9'
	jbe .o
	add al, 'a' - '9' - 1
.o:	call putc
	pop ax
	loop .l
	pop cx
	ret

drive:		db 0
msg_boot:	db "boot: from drive ", 0
msg_fail:	db "boot: INT 13h read failed", 10, 0

	times 510 - ($ - $$) db 0
	dw 0xaa55

; sector 2
	db "boot: sector 2 read through INT 13h", 10, 0
	times 1024 - ($ - $$) db 0

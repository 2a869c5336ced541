; A hard-disk boot sector that resets the machine the way the byte at
; offset 0x1F0 says (1: 8042 command 0xFE, 2: port 0x92 fast reset,
; 3: triple fault, 4: port 0xCF9). A marker in CMOS RAM, which survives the
; reset, tells the second boot apart: it exits through the debug-exit port
; with 0x33. Under --no-reboot there is no second boot.
	bits 16
	org 0x7c00
	cli
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x7c00
	mov al, 0x50 | 0x80	; CMOS byte 0x50, NMIs masked
	out 0x70, al
	in al, 0x71
	cmp al, 0x5a
	je second
	mov al, 0x50 | 0x80
	out 0x70, al
	mov al, 0x5a
	out 0x71, al
	mov al, [method]
	cmp al, 1
	je kbc
	cmp al, 2
	je port92
	cmp al, 3
	je triple
	cmp al, 4
	je cf9
	jmp stuck
kbc:	in al, 0x64		; wait until the controller takes a command
	test al, 2
	jnz kbc
	mov al, 0xfe
	out 0x64, al
	jmp stuck
port92:	in al, 0x92
	or al, 1
	out 0x92, al
	jmp stuck
triple:	lidt [noidt]
	int 3
	jmp stuck
cf9:	mov dx, 0xcf9
	mov al, 0x06
	out dx, al
stuck:	mov al, 0xee		; the reset did not happen
	out 0xf4, al
	hlt
second:	mov al, 0x33
	out 0xf4, al
	hlt
noidt:	dw 0
	dd 0
	times 0x1f0-($-$$) db 0
method:	db 0
	times 510-($-$$) db 0
	dw 0xaa55

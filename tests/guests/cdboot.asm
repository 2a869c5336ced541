; El Torito no-emulation boot image for the CD-ROM boot tests: SeaBIOS
; loads its four 512-byte sectors at 0000:7C00. It says so on port 0xE9 and
; exits through the debug-exit port with 0x2A, so a test knows the CD
; booted (the disk boot sector hdboot.asm exits with 0x2B).
	bits 16
	org 0x7c00
	cli
	xor ax, ax
	mov ds, ax
	mov si, msg
.next:	lodsb
	test al, al
	jz .done
	out 0xe9, al
	jmp .next
.done:	mov al, 0x2a
	out 0xf4, al
	hlt
msg:	db "booted from CD", 10, 0
	times 2048-($-$$) db 0

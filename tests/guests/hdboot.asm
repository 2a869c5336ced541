; A hard-disk boot sector for the boot-order tests: says so on port 0xE9
; and exits through the debug-exit port with 0x2B (cdboot.asm: 0x2A).
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
.done:	mov al, 0x2b
	out 0xf4, al
	hlt
msg:	db "booted from disk", 10, 0
	times 510-($-$$) db 0
	dw 0xaa55

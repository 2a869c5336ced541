; pcvm's built-in demo guest (being written): a boot sector that reports on
; COM1 and powers off through the debug-exit port for now.
bits 16
org 0x7c00
start:
	cli
	xor ax, ax
	mov ds, ax
	mov si, banner
.next:	lodsb
	test al, al
	jz .done
	mov dx, 0x3f8
	out dx, al
	jmp .next
.done:	mov al, 0
	out 0xf4, al
	hlt
banner: db "pcvm demo", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55

; VBE through the real SeaVGABIOS: a boot sector that asks INT 10h for the
; 640x480x32 mode (0x142 in SeaVGABIOS's list) with its linear framebuffer,
; fills the framebuffer through INT 15h AH=87h block moves with the pattern
; red = x & 255, green = y & 255, blue = 0x80, and leaves through the
; debug-exit port: 0 on success, 1 if a VBE call failed. The test compares
; the end-of-run screenshot with the same pattern.
;
; Run as: pcvm --display none --debug-exit --screenshot X.png vga_vbe.bin

bits 16
cpu 386
org 0x7c00

MODE equ 0x142
INFO equ 0x0600         ; ModeInfoBlock
ROW equ 0x1000          ; one row of pixels, 2560 bytes

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x6000
	sti
	cld
	mov si, msg_start
	call say

	mov ax, 0x4f01          ; mode information
	mov cx, MODE
	mov di, INFO
	int 0x10
	cmp ax, 0x004f
	jne fail
	cmp word [INFO + 0x12], 640
	jne fail
	cmp byte [INFO + 0x19], 32
	jne fail
	mov eax, [INFO + 0x28]  ; PhysBasePtr
	mov [fb], eax
	movzx eax, word [INFO + 0x10] ; BytesPerScanLine
	mov [pitch], eax

	mov ax, 0x4f02          ; set the mode, linear framebuffer
	mov bx, MODE | 0x4000
	int 0x10
	cmp ax, 0x004f
	jne fail

	xor dx, dx              ; y
.row:	mov di, ROW
	xor cx, cx              ; x
.px:	mov al, 0x80            ; B, G, R, X in memory
	stosb
	mov al, dl
	stosb
	mov al, cl
	stosb
	xor al, al
	stosb
	inc cx
	cmp cx, 640
	jb .px
	; copy the row to fb + y * pitch
	movzx eax, dx
	imul eax, [pitch]
	add eax, [fb]
	mov [gdt_dst + 2], ax
	shr eax, 16
	mov [gdt_dst + 4], al
	mov [gdt_dst + 7], ah
	push dx
	mov ah, 0x87
	mov cx, 640 * 4 / 2
	mov si, gdt
	int 0x15
	pop dx
	jc fail
	inc dx
	cmp dx, 480
	jb .row

	mov si, msg_done
	call say
	xor al, al
	out 0xf4, al
	jmp $

fail:	mov si, msg_fail
	call say
	mov al, 1
	out 0xf4, al
	jmp $

say:	lodsb
	test al, al
	jz .done
	out 0xe9, al
	jmp say
.done:	ret

msg_start: db "vga_vbe: start", 10, 0
msg_done: db "vga_vbe: framebuffer filled", 10, 0
msg_fail: db "vga_vbe: a VBE call failed", 10, 0

fb: dd 0
pitch: dd 0

gdt:	dq 0, 0
	dw 0xffff, ROW          ; source: the row buffer
	db 0, 0x93, 0, 0
gdt_dst:
	dw 0xffff, 0
	db 0, 0x93, 0, 0
	dq 0, 0

	times 510 - ($ - $$) db 0
	dw 0xaa55
	times 32768 - ($ - $$) db 0

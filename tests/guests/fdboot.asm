; A floppy boot sector for the floppy tests: through the BIOS (and so the
; 82077AA and 8237 DMA) it reads sectors 2-3 and the disk's last sector,
; checks the marks the test put there, writes sector 2 back to C1 H0 S1,
; and exits through the debug-exit port with the sectors per track the
; BIOS reports (0xEE on any failure). Progress goes to port 0xE9.
	bits 16
	org 0x7c00
	jmp short start
	nop
start:	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	sti
	mov [drive], dl
	mov si, m_boot
	call print
	mov ah, 0x08		; drive parameters
	mov dl, [drive]
	int 0x13
	jc fail
	and cl, 0x3f
	mov [spt], cl
	xor ax, ax		; AH=08 left ES:DI at the parameter table
	mov es, ax
	mov ax, 0x0202		; read C0 H0 S2-S3 to 0x8000
	mov cx, 0x0002
	xor dh, dh
	mov dl, [drive]
	mov bx, 0x8000
	int 0x13
	jc fail
	mov si, 0x8000
	mov di, mark2
	call same
	jne fail
	mov si, 0x8200
	mov di, mark3
	call same
	jne fail
	mov ax, 0x0201		; read C79 H1 S(spt): the last sector
	mov ch, 79
	mov cl, [spt]
	mov dh, 1
	mov dl, [drive]
	mov bx, 0x9000
	int 0x13
	jc fail
	mov si, 0x9000
	mov di, marklast
	call same
	jne fail
	mov ax, 0x0301		; write sector 2, as read, to C1 H0 S1
	mov cx, 0x0101
	xor dh, dh
	mov dl, [drive]
	mov bx, 0x8000
	int 0x13
	jc fail
	mov si, m_ok
	call print
	mov al, [spt]
	out 0xf4, al
	hlt
fail:	mov si, m_fail
	call print
	mov al, 0xee
	out 0xf4, al
	hlt

; Compares the 8 bytes at si and di; ZF set if equal.
same:	mov cx, 8
	repe cmpsb
	ret

print:	lodsb
	test al, al
	jz .done
	out 0xe9, al
	jmp print
.done:	ret

drive:	db 0
spt:	db 0
mark2:	db "SECTOR#2"
mark3:	db "SECTOR#3"
marklast: db "LASTSECT"
m_boot:	db "booted from floppy", 10, 0
m_ok:	db "floppy ok", 10, 0
m_fail:	db "floppy failed", 10, 0
	times 510-($-$$) db 0
	dw 0xaa55

; A hard-disk boot sector that writes through the BIOS and reads back
; (tests/system/test_disk_boot.cc). It reads LBA 1, which the test filled
; with "PCVM-LBA1", writes 4 sectors at LBA 126-129 (across a 64 KiB qcow2
; cluster boundary) with a pattern, reads them back into another buffer and
; compares. Reports on port 0xE9; exits through the debug-exit port with
; 0x2C when everything matched, 0x2D on any error.
	bits 16
	org 0x7c00
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	mov [drive], dl
	; 1. read LBA 1 to 0x1000 and look for the marker
	mov word [dap.count], 1
	mov word [dap.buf], 0x1000
	mov dword [dap.lba], 1
	mov ah, 0x42
	call disk
	mov si, 0x1000
	mov di, marker
	mov cx, 9
	repe cmpsb
	jne fail
	mov si, msg_read
	call puts
	; 2. fill 0x2000-0x27ff with the pattern: byte i = (i * 7 + i / 512) & 0xff
	mov di, 0x2000
	xor bx, bx
.fill:	mov ax, bx
	mov cl, 7
	mul cl
	mov dx, bx
	shr dx, 9
	add al, dl
	mov [di], al
	inc di
	inc bx
	cmp bx, 2048
	jb .fill
	mov word [dap.count], 4
	mov word [dap.buf], 0x2000
	mov dword [dap.lba], 126
	mov ax, 0x4300
	call disk
	; 3. read them back to 0x3000 and compare
	mov word [dap.count], 4
	mov word [dap.buf], 0x3000
	mov ah, 0x42
	call disk
	mov si, 0x2000
	mov di, 0x3000
	mov cx, 2048
	repe cmpsb
	jne fail
	mov si, msg_write
	call puts
	mov al, 0x2c
	out 0xf4, al
	hlt

disk:	mov si, dap
	mov dl, [drive]
	int 0x13
	jc fail
	ret

fail:	mov si, msg_fail
	call puts
	mov al, 0x2d
	out 0xf4, al
	hlt

puts:	lodsb
	test al, al
	jz .done
	out 0xe9, al
	jmp puts
.done:	ret

drive:	db 0
marker:	db "PCVM-LBA1"
msg_read:	db "read ok", 10, 0
msg_write:	db "write ok", 10, 0
msg_fail:	db "disk error", 10, 0
	align 4
dap:	db 16, 0
.count:	dw 0
.buf:	dw 0, 0
.lba:	dq 0
	times 510-($-$$) db 0
	dw 0xaa55

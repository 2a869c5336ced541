; A toy OS installer for the install-timing example: the El Torito
; "no emulation" boot image of install.iso. SeaBIOS loads all of it (this
; code and the system image after it) at 0000:7C00 and jumps there with DL
; holding the CD's drive number. It then does what an installer does, with
; BIOS services only:
;   1. says so on COM1 (polled 16550 at 0x3F8) and on the screen;
;   2. checks for the first hard disk and its INT 13h extensions;
;   3. writes the system image (pcvm's demo guest, a bootable disk image) to
;      the disk from LBA 0 with INT 13h AH=43h (extended write);
;   4. reads it back with AH=42h and compares;
;   5. resets the machine through the keyboard controller (command 0xFE),
;      so the firmware boots again, this time from the disk.
; Messages start with "installer:" so a pcvm script can wait for them.
;
; Build: nasm -f bin -i DIR/ -o installer.bin installer.asm, with the system
; image (the assembled examples/demo/demo.asm) as DIR/system.img.
; References: Phoenix BIOS Enhanced Disk Drive Specification 3.0 (INT 13h
; extensions 41h-43h); El Torito Bootable CD-ROM Format Specification 1.0.

bits 16
cpu 386
org 0x7c00

COM1 equ 0x3f8
HDD equ 0x80
CHUNK equ 16                    ; sectors per INT 13h call
SCRATCH_SEG equ 0x2000          ; read-back buffer, 2000:0000 (above us)

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	sti
	cld
	call serial_init
	mov si, s_hello
	call say

	mov ah, 0x41            ; extensions present on the hard disk?
	mov bx, 0x55aa
	mov dl, HDD
	int 0x13
	jc no_disk
	cmp bx, 0xaa55
	jne no_disk
	test cx, 1              ; fixed disk access subset (42h-44h)
	jz no_disk

	mov si, s_copy
	call say
	mov byte [dap_cmd], 0x43
	call transfer           ; write the image
	jc write_failed

	mov si, s_verify
	call say
	mov byte [dap_cmd], 0x42
	mov word [buf_seg], SCRATCH_SEG
	call transfer           ; read it back
	jc read_failed
	call compare
	jc verify_failed

	mov si, s_done
	call say
	mov al, 0xfe            ; pulse the CPU's reset line
	out 0x64, al
	mov si, s_no_reset
	jmp fail

no_disk:
	mov si, s_no_disk
	jmp fail
write_failed:
	mov si, s_write_failed
	jmp fail
read_failed:
	mov si, s_read_failed
	jmp fail
verify_failed:
	mov si, s_verify_failed
fail:	call say
.halt:	cli
	hlt
	jmp .halt

; Moves the system image between memory and the disk, CHUNK sectors per
; call: INT 13h function [dap_cmd], memory from [buf_seg]:0000 on (the image
; itself when writing, the scratch buffer when reading). CF set on error.
transfer:
	xor eax, eax
	mov [dap_lba], eax
	mov [dap_lba + 4], eax
	mov ax, [buf_seg]
	mov [dap_seg], ax
	mov word [dap_off], 0
	mov cx, SYSTEM_SECTORS
.next:	mov ax, CHUNK
	cmp cx, ax
	jae .count
	mov ax, cx
.count:	mov [dap_count], ax
	push cx
	mov ah, [dap_cmd]
	mov al, 0               ; write without verify
	mov dl, HDD
	mov si, dap
	int 0x13
	pop cx
	jc .done
	mov ax, [dap_count]
	sub cx, ax
	add [dap_lba], ax
	shl ax, 5               ; sectors -> paragraphs
	add [dap_seg], ax
	test cx, cx
	jnz .next
	clc
.done:	ret

; CF set when the scratch copy differs from the image.
compare:
	push ds
	push es
	mov ax, SYSTEM_SEG
	mov ds, ax
	mov ax, SCRATCH_SEG
	mov es, ax
	xor si, si
	xor di, di
	mov cx, SYSTEM_SECTORS * 256
	repe cmpsw
	pop es
	pop ds
	je .same
	stc
	ret
.same:	clc
	ret

; Prints the NUL-terminated string at DS:SI on COM1 and on the screen.
say:
	push si
.serial:
	lodsb
	test al, al
	jz .screen
	call serial_putc
	jmp .serial
.screen:
	pop si
.next:	lodsb
	test al, al
	jz .done
	cmp al, 10              ; the screen wants CR LF, COM1 gets LF alone
	jne .put
	mov ax, 0x0e0d
	xor bx, bx
	int 0x10
	mov al, 10
.put:	mov ah, 0x0e
	xor bx, bx
	int 0x10
	jmp .next
.done:	ret

serial_init:
	mov dx, COM1 + 1
	xor al, al
	out dx, al              ; no interrupts
	mov dx, COM1 + 3
	mov al, 0x80
	out dx, al              ; divisor latch
	mov dx, COM1
	mov al, 1
	out dx, al              ; 115200 baud
	inc dx
	xor al, al
	out dx, al
	mov dx, COM1 + 3
	mov al, 0x03
	out dx, al              ; 8N1
	mov dx, COM1 + 2
	mov al, 0x07
	out dx, al              ; FIFOs on and cleared
	ret

serial_putc:
	push ax
	mov dx, COM1 + 5
.wait:	in al, dx
	test al, 0x20           ; transmitter holding register empty
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	ret

s_hello:  db "installer: pcvm example installer, booted from the CD", 10, 0
s_copy:   db "installer: copying the system to the hard disk", 10, 0
s_verify: db "installer: verifying", 10, 0
s_done:   db "installer: done, rebooting into the installed system", 10, 0
s_no_disk: db "installer: no hard disk with INT 13h extensions; give pcvm --hda", 10, 0
s_write_failed: db "installer: writing to the hard disk failed", 10, 0
s_read_failed: db "installer: reading the hard disk back failed", 10, 0
s_verify_failed: db "installer: the disk does not hold what was written", 10, 0
s_no_reset: db "installer: the reset did not happen", 10, 0

align 4
dap:      db 16, 0              ; disk address packet (EDD 3.0)
dap_count: dw 0
dap_off:  dw 0
dap_seg:  dw 0
dap_lba:  dq 0
dap_cmd:  db 0
buf_seg:  dw SYSTEM_SEG

	times 1024 - ($ - $$) db 0      ; the installer's two sectors

; ------------------------------------------------------------ system image
system:
	incbin "system.img"
system_end:
	times (2048 - ($ - $$) % 2048) % 2048 db 0   ; whole CD sectors

SYSTEM_SEG equ (0x7c00 + system - $$) >> 4
SYSTEM_SECTORS equ (system_end - system + 511) / 512

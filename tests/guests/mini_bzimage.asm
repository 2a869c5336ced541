; A minimal kernel in bzImage form for the direct-boot tests: its 32-bit
; entry checks the state the boot protocol promises (CS 0x10, DS 0x18,
; ESI at boot_params with the "HdrS" header copy), then prints the command
; line, the first four bytes of the initrd (or "none") and the number of
; e820 entries to port 0xE9, and exits through the debug-exit port with
; 0x31 (0x13 if the entry state is wrong).
%include "bzimage.inc"

	bits 32                 ; loaded at 0x100000
	mov edx, 0xe9
	mov ax, cs
	cmp ax, 0x10
	jne fail
	mov ax, ds
	cmp ax, 0x18
	jne fail
	mov ax, ss
	cmp ax, 0x18
	jne fail
	cmp dword [esi + 0x202], 'HdrS'
	jne fail
	mov ebx, [esi + 0x228]  ; cmd_line_ptr
.cmd:	mov al, [ebx]
	test al, al
	jz .cmd_end
	out dx, al
	inc ebx
	jmp .cmd
.cmd_end:
	mov al, '|'
	out dx, al
	mov ebx, [esi + 0x218]  ; ramdisk_image
	test ebx, ebx
	jnz .rd
	mov ebx, 0x100000 + none - (setup_sects + 1) * 512
.rd:	mov ecx, 4
.rd1:	mov al, [ebx]
	out dx, al
	inc ebx
	loop .rd1
	mov al, '|'
	out dx, al
	mov al, [esi + 0x1e8]   ; e820_entries
	add al, '0'
	out dx, al
	mov al, 10
	out dx, al
	mov al, 0x31
	out 0xf4, al
	hlt
fail:	mov al, 0x13
	out 0xf4, al
	hlt
none:	db "none"

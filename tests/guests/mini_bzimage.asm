; A minimal kernel in bzImage form for the direct-boot tests: its 32-bit
; entry checks the state the boot protocol promises (CS 0x10, DS 0x18,
; ESI at boot_params with the "HdrS" header copy), then prints the command
; line, the first four bytes of the initrd (or "none") and the number of
; e820 entries to port 0xE9, and exits through the debug-exit port with
; 0x31 (0x13 if the entry state is wrong).
	bits 16
	org 0
setup_sects equ 1
	times 0x1f1-($-$$) db 0
	db setup_sects
	dw 0                    ; root_flags
	dd 0                    ; syssize
	dw 0, 0, 0              ; ram_size, vid_mode, root_dev
	dw 0xaa55               ; boot_flag
	db 0xeb, hdr_end - $ - 1
	db "HdrS"
	dw 0x020f               ; protocol 2.15
	dd 0                    ; realmode_swtch
	dw 0, 0                 ; start_sys_seg, kernel_version
	db 0, 1                 ; type_of_loader, loadflags: LOADED_HIGH
	dw 0                    ; setup_move_size
	dd 0x100000             ; code32_start
	dd 0, 0, 0              ; ramdisk_image, ramdisk_size, bootsect_kludge
	dw 0                    ; heap_end_ptr
	db 0, 0                 ; ext_loader_ver, ext_loader_type
	dd 0                    ; cmd_line_ptr
	dd 0x7fffffff           ; initrd_addr_max
	dd 0x200000             ; kernel_alignment
	db 0, 0                 ; relocatable_kernel, min_alignment
	dw 0                    ; xloadflags
	dd 255                  ; cmdline_size
	dd 0, 0, 0              ; hardware_subarch, hardware_subarch_data
	dd 0, 0                 ; payload_offset, payload_length
	dd 0, 0                 ; setup_data
	dd 0x100000, 0          ; pref_address
	dd 0x100000             ; init_size
	dd 0                    ; handover_offset
	dd 0                    ; kernel_info_offset
hdr_end:
	times (setup_sects + 1) * 512 - ($-$$) db 0

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

; A kernel in bzImage form that powers off through the ACPI tables the
; direct-boot loader provides, the way Linux does: boot_params'
; acpi_rsdp_addr, RSDT, FADT (PM1a_CNT_BLK, SMI_CMD 0 meaning ACPI mode is
; already on), DSDT's \_S5 sleep type, then SLP_TYP | SLP_EN. Progress on
; port 0xE9 (R, F, S, E, O as in acpi_off.asm); if the machine is still
; running afterwards it exits through the debug-exit port with 0x11.
%include "bzimage.inc"

	bits 32                 ; loaded at 0x100000
	mov esi, [esi + 0x70]   ; acpi_rsdp_addr
	cmp dword [esi], 'RSD '
	jne fail
	cmp dword [esi + 4], 'PTR '
	jne fail
	mov al, 'R'
	out 0xe9, al
	mov ebx, [esi + 16]     ; RSDT
	mov edx, [ebx + 36]     ; its first table
	cmp dword [edx], 'FACP'
	jne fail
	mov al, 'F'
	out 0xe9, al
	mov edi, [edx + 64]     ; PM1a_CNT_BLK
	cmp dword [edx + 48], 0 ; SMI_CMD
	jne fail
	mov esi, [edx + 40]     ; DSDT
	mov ecx, [esi + 4]
.scan:	cmp dword [esi + 1], '_S5_'
	jne .next
	cmp byte [esi], 0x08
	je .found
.next:	inc esi
	loop .scan
	jmp fail
.found:	mov al, 'S'
	out 0xe9, al
	movzx ebx, byte [esi + 6]
	shr ebx, 6
	movzx eax, byte [esi + 8 + ebx]
	mov edx, edi
	mov ecx, eax
	in ax, dx
	test al, 1              ; SCI_EN
	jz fail
	mov al, 'E'
	out 0xe9, al
	mov al, 'O'
	out 0xe9, al
	mov eax, ecx
	shl eax, 10
	or eax, 0x2000
	out dx, ax
fail:	mov al, 0x11
	out 0xf4, al
	hlt

; A boot sector that powers the machine off the way an ACPI OS does, using
; only what the firmware's tables say: find the RSDP in 0xE0000-0xFFFFF,
; walk the RSDT to the FADT (PM1a_CNT_BLK, SMI_CMD, ACPI_ENABLE) and to the
; DSDT and SSDTs for the \_S5 package's SLP_TYP, switch ACPI mode on
; through SMI_CMD, then write SLP_TYP | SLP_EN to PM1a_CNT. Progress goes
; to port 0xE9 (R: RSDP, F: FADT, S: _S5, E: ACPI mode, O: off written);
; reaching the end means the machine did not power off: exit status 0x11.
	bits 16
	org 0x7c00
	cli
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, 0x7c00
	; "unreal" mode: DS keeps a 4 GiB limit back in real mode
	lgdt [gdtr]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	mov bx, 8
	mov ds, bx
	and al, 0xfe
	mov cr0, eax
	xor ax, ax
	mov ds, ax

	mov esi, 0xe0000
.rsdp:	cmp dword [esi], 'RSD '
	jne .rnext
	cmp dword [esi + 4], 'PTR '
	je .rfound
.rnext:	add esi, 16
	cmp esi, 0x100000
	jb .rsdp
	jmp fail
.rfound:
	mov al, 'R'
	out 0xe9, al
	mov ebx, [esi + 16]         ; RSDT
	mov ecx, [ebx + 4]
	sub ecx, 36
	shr ecx, 2
	lea edi, [ebx + 36]
.table:	mov edx, [edi]
	cmp dword [edx], 'FACP'
	jne .notfadt
	mov al, 'F'
	out 0xe9, al
	mov eax, [edx + 64]
	mov [pm1a], ax
	mov eax, [edx + 48]
	mov [smicmd], ax
	mov al, [edx + 52]
	mov [acpien], al
	mov eax, [edx + 40]         ; DSDT
	call find_s5
	jmp .tnext
.notfadt:
	cmp dword [edx], 'SSDT'
	jne .tnext
	mov eax, edx
	call find_s5
.tnext:	add edi, 4
	loop .table, ecx

	cmp word [pm1a], 0
	je fail
	cmp byte [s5found], 0
	je fail
	mov dx, [pm1a]
	in ax, dx
	test al, 1
	jnz .acpi_on
	mov dx, [smicmd]
	test dx, dx
	jz fail
	mov al, [acpien]
	out dx, al
	mov ecx, 100000
	mov dx, [pm1a]
.poll:	in ax, dx
	test al, 1
	jnz .acpi_on
	loop .poll, ecx
	jmp fail
.acpi_on:
	mov al, 'E'
	out 0xe9, al
	mov al, 'O'
	out 0xe9, al
	movzx ax, byte [slptyp]
	shl ax, 10
	or ax, 0x2000
	mov dx, [pm1a]
	out dx, ax
fail:	mov al, 0x11
	out 0xf4, al
	hlt

; Looks for NameOp "_S5_" PackageOp in the table at EAX; takes the first
; element (ZeroOp, OneOp or BytePrefix n) as PM1a's SLP_TYP.
find_s5:
	pushad
	mov esi, eax
	mov ecx, [esi + 4]
	sub ecx, 8
	jbe .done
.scan:	cmp dword [esi + 1], '_S5_'
	jne .next
	cmp byte [esi], 0x08
	jne .next
	cmp byte [esi + 5], 0x12
	jne .next
	movzx ebx, byte [esi + 6]   ; PkgLength lead byte
	shr ebx, 6
	lea esi, [esi + 8 + ebx]    ; past length bytes and NumElements
	mov al, [esi]
	cmp al, 0x0a
	jne .small
	mov al, [esi + 1]
.small:	mov [slptyp], al
	mov byte [s5found], 1
	mov al, 'S'
	out 0xe9, al
	jmp .done
.next:	inc esi
	loop .scan, ecx
.done:	popad
	ret

	align 8
gdt:	dq 0
	dq 0x00cf92000000ffff       ; flat 4 GiB data
gdtr:	dw gdtr - gdt - 1
	dd gdt
pm1a:	dw 0
smicmd:	dw 0
acpien:	db 0
slptyp:	db 0
s5found: db 0
	times 510-($-$$) db 0
	dw 0xaa55

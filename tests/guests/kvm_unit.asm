; Code snippets for the KVM backend's unit tests (tests/unit/test_kvm.cc),
; not a firmware image: the test copies this file to guest RAM at 0x1000
; and starts the CPU in real mode (CS 0) at one of the entry points the
; table at the start lists (little-endian words, in the order of enum
; Snippet in the test). Ports: 0xE9 console (the test reacts to some
; characters), 0x9A/0x9B record values, 0xF4 ends the snippet.

bits 16
org 0x1000

table:
	dw halt_then_intr, intr_handler, cli_hlt, nmi_handler
	dw intr_window, spin, kick_in_io, triple_fault
	dw cpuid_leaves, slots_switch, mmio_fn, exec_unmapped
	dw round_trip, round_trip_pm32, sti_spin, exit_handler

; sti; hlt: the test raises INTR while the CPU sleeps
halt_then_intr:
	sti
	hlt
	mov al, 'B'
	out 0xe9, al
	mov al, 0
	out 0xf4, al

intr_handler:
	push ax
	mov al, 'I'
	out 0xe9, al
	pop ax
	iret

; interrupts off: INTR must not wake it, NMI must
cli_hlt:
	cli
	hlt
	jmp cli_hlt

nmi_handler:
	mov al, 'N'
	out 0xe9, al
	mov al, 7
	out 0xf4, al

; INTR rises at 'a' with IF clear; it is taken only after STI and the one
; instruction STI shields: "abIc"
intr_window:
	cli
	mov al, 'a'
	out 0xe9, al
	mov al, 'b'
	out 0xe9, al
	sti
	mov al, 'c'
	out 0xe9, al
	mov al, 0
	out 0xf4, al

spin:
	jmp spin

; the test kicks the CPU from the 'k' OUT and from the IN
kick_in_io:
	mov al, 'k'
	out 0xe9, al
	in al, 0x99
	mov bl, al
	mov al, 0
	out 0xf4, al

; an interrupt with an empty real-mode IDT: double fault, then shutdown
triple_fault:
	lidt [cs:zero_idt]
	int 3
zero_idt:
	dw 0
	dd 0

; CPUID.1 ECX, EDX and EBX, then leaf 0x40000000 EBX (KVM's signature if
; shown)
cpuid_leaves:
	mov eax, 1
	cpuid
	push ebx
	mov eax, ecx
	out 0x9a, eax
	mov eax, edx
	out 0x9a, eax
	pop eax
	out 0x9a, eax
	mov eax, 0x40000000
	cpuid
	mov eax, ebx
	out 0x9a, eax
	mov al, 0
	out 0xf4, al

; a 4 KiB region at 0x20000 that the test switches between ROM, RAM and
; "read ROM, write RAM" from the 'm' and 'w' OUTs
slots_switch:
	push word 0x2000
	pop ds
	mov al, [0]
	out 0x9b, al
	mov byte [0], 0x22
	mov al, [0]
	out 0x9b, al
	mov al, 'm'
	out 0xe9, al
	mov byte [0], 0x33
	mov al, [0]
	out 0x9b, al
	mov al, 'w'
	out 0xe9, al
	mov byte [1], 0x44
	mov al, [1]
	out 0x9b, al
	mov al, 0
	out 0xf4, al

; a device region at 0x30000: reads, a write, an unaligned read
mmio_fn:
	push word 0x3000
	pop ds
	mov eax, [0x10]
	out 0x9a, eax
	mov dword [0x20], 0xdeadbeef
	xor eax, eax
	mov ax, [0x31]
	out 0x9a, eax
	mov al, 0
	out 0xf4, al

; code fetched from where there is no memory
exec_unmapped:
	jmp 0xd000:0

; work on both sides of a 'k' OUT, where the test moves the CPU
round_trip:
	mov eax, 1
	xor ebx, ebx
	mov cx, 300
.a:	imul eax, eax, 1103515245
	add eax, 12345
	add ebx, eax
	rol ebx, 1
	loop .a
	mov [0x600], ebx
	push eax
	mov al, 'k'
	out 0xe9, al
	pop eax
	mov cx, 300
.b:	imul eax, eax, 1103515245
	add eax, 12345
	add ebx, eax
	rol ebx, 1
	loop .b
	mov eax, ebx
	out 0x9a, eax
	mov eax, [0x600]
	out 0x9a, eax
	mov al, 0
	out 0xf4, al

; the same in flat 32-bit protected mode
round_trip_pm32:
	cli
	o32 lgdt [cs:pm_gdt_desc]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword 0x08:.pm
bits 32
.pm:	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, 0x8000
	mov eax, 1
	xor ebx, ebx
	mov ecx, 300
.a:	imul eax, eax, 1103515245
	add eax, 12345
	add ebx, eax
	rol ebx, 1
	loop .a
	mov [0x600], ebx
	push eax
	mov al, 'k'
	out 0xe9, al
	pop eax
	mov ecx, 300
.b:	imul eax, eax, 1103515245
	add eax, 12345
	add ebx, eax
	rol ebx, 1
	loop .b
	mov eax, ebx
	out 0x9a, eax
	mov eax, [0x600]
	out 0x9a, eax
	mov al, 0
	out 0xf4, al
bits 16
align 8
pm_gdt:
	dq 0
	dq 0x00cf9b000000ffff   ; 0x08: code, base 0, 4 GiB, 32-bit
	dq 0x00cf93000000ffff   ; 0x10: data
pm_gdt_desc:
	dw pm_gdt_desc - pm_gdt - 1
	dd pm_gdt

; interrupts on, then spin: only an interrupt gets it out
sti_spin:
	sti
.l:	jmp .l

exit_handler:
	mov al, 'X'
	out 0xe9, al
	mov al, 9
	out 0xf4, al

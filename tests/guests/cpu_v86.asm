; Virtual-8086 mode: entered by IRET with VM=1 from a ring-0 32-bit task
; with a TSS; real-mode-style segment arithmetic inside; INT n with IOPL < 3
; goes to the monitor as #GP(0) whose ring-0 handler sees the whole V86
; frame (EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS) with DS/ES/FS/GS null;
; with IOPL = 3, INT n goes through the IDT to a protected-mode handler and
; IRET returns to V86 with the segments from the frame; INT3/INTO are not
; IOPL-sensitive; IN/OUT obey the TSS I/O bitmap whatever IOPL is;
; CLI/STI/PUSHF/POPF/IRET with IOPL < 3 #GP; PUSHF never shows VM;
; privileged and protected-mode-only instructions fault. Intel SDM vol. 3
; chapter 20 (20.2 V86 mode, 20.3 interrupt and exception handling) and
; vol. 2 INT n pseudo-code.
%include "lib.inc"

VM		equ 0x20000
IOPL3		equ 0x3000
V86_SS		equ 0x6000	; V86 stack 6000:FFF0 (linear 6FFF0h)
V86_SP		equ 0xFFF0

v_hsegs		equ 0x600	; DS, ES, FS, GS seen by a ring-0 handler (words)
v_hesp		equ 0x608
v_hfl		equ 0x60C
v_hframe	equ 0x610	; 9 dwords
v_r		equ 0x640	; values the V86 code stores (via segment 0)
v_isegs		equ 0x660	; the IRQ handler's observations
v_iframe	equ 0x668	; 9 dwords
v_iflag		equ 0x690

; TO_V86 ip, eflags(without VM), ds: enter V86 at F000:ip, ES=DS=ds,
; FS=3456h, GS=4567h, SS:SP = V86_SS:V86_SP
%macro TO_V86 3
	push dword 0x4567
	push dword 0x3456
	push dword %3
	push dword %3
	push dword V86_SS
	push dword V86_SP
	push dword VM | 2 | (%2)
	push dword 0xF000
	push dword R(%1)
	iretd
%endmacro

; a V86 snippet that must #GP: V86_GP {instruction}, iopl-eflags, "text"
%macro V86_GP 3
	TRY %%done
	TO_V86 %%v, %2, 0
	bits 16
%%v:	%1
	int 0x7F		; (with IOPL 3 gate 7Fh is reachable; else #GP too)
	bits 32
%%done:	CHECK_EXC 13, 0, %3
	CHECK_EQ dword [exc_eip], R(%%v), "... at the instruction (a fault)"
%endmacro

main32:
	PRINT "# cpu_v86: virtual-8086 mode, the monitor's #GP, IOPL, I/O bitmap"
	GATE 13, h_gp_segs, GATE_INT
	GATE 0x31, h_int31, GATE_INT3
	GATE 3, stub_3, GATE_INT3	; INT3 from V86 through a DPL 3 gate
	GATE 4, stub_4, GATE_INT3

	; ---- into V86, segment arithmetic, INT n with IOPL 0 ----
	mov dword [0x12350], 0
	TRY .a
	TO_V86 v86_a, 0, 0x1234
.a:	CHECK_EXC 13, 0, "INT 30h in V86 with IOPL 0: #GP(0) to the monitor"
	CHECK_EQ dword [exc_eip], R(v86_a.int), "... EIP of the INT (a fault)"
	CHECK_EQ dword [exc_frame + 4], 0xF000, "V86 frame: CS"
	mov eax, [exc_frame + 8]
	and eax, VM | IOPL3
	CHECK_EQ eax, VM, "V86 frame: EFLAGS with VM=1, IOPL 0"
	CHECK_EQ dword [exc_frame + 12], V86_SP - 2, "V86 frame: SP"
	CHECK_EQ dword [exc_frame + 16], V86_SS, "V86 frame: SS"
	CHECK_EQ dword [exc_frame + 20], 0x2345, "V86 frame: ES"
	CHECK_EQ dword [exc_frame + 24], 0x0000, "V86 frame: DS"
	CHECK_EQ dword [exc_frame + 28], 0x3456, "V86 frame: FS"
	CHECK_EQ dword [exc_frame + 32], 0x4567, "V86 frame: GS"
	CHECK_EQ dword [exc_entry_esp], STACK0_INT - 40, "the monitor's stack: TSS.ESP0 - 9 dwords - error code"
	CHECK_EQ dword [v_hsegs], 0, "in the handler DS and ES are null"
	CHECK_EQ dword [v_hsegs + 4], 0, "in the handler FS and GS are null"
	mov eax, [v_hfl]
	and eax, VM
	CHECK_EQ eax, 0, "in the handler VM=0"
	CHECK_EQ dword [v_r], 0x1234, "V86: DS was loaded from the IRET frame"
	CHECK_EQ dword [v_r + 4], 0xF000, "V86: CS is F000"
	CHECK_EQ dword [v_r + 8], V86_SS, "V86: SS from the frame"
	CHECK_EQ dword [0x12350], 0xCAFE, "V86: DS=1234h, offset 10h is linear 12350h"
	movzx eax, word [0x32330]
	CHECK_EQ eax, 0xBEEF, "V86: ES=2234h, offset FFF0h is linear 32330h"

	; ---- INT n with IOPL 3: through the IDT to ring 0 and back ----
	TRY .b
	TO_V86 v86_b, IOPL3, 0x1234
.b:	CHECK_EXC 0x7F, -1, "IOPL 3: INT 31h goes through the IDT; IRET returns to V86"
	CHECK_EQ dword [v_hesp], STACK0_INT - 36, "INT from V86: 9 dwords on the ring-0 stack"
	CHECK_EQ dword [v_hsegs], 0, "ring-0 handler from V86: DS and ES are null"
	CHECK_EQ dword [v_hsegs + 4], 0, "... FS and GS are null"
	CHECK_EQ dword [v_hframe], R(v86_b.after), "frame: EIP after the INT"
	CHECK_EQ dword [v_hframe + 4], 0xF000, "frame: CS"
	mov eax, [v_hframe + 8]
	and eax, VM | IOPL3
	CHECK_EQ eax, VM | IOPL3, "frame: EFLAGS with VM and IOPL 3"
	CHECK_EQ dword [v_hframe + 24], 0x1234, "frame: DS"
	CHECK_EQ dword [v_r], 0x5555, "IRET to V86 loads DS from the frame (the handler changed it)"
	CHECK_EQ dword [v_r + 4], 0x1234, "... and ES as the frame held it"
	mov eax, [v_hfl]
	and eax, 0x200
	CHECK_EQ eax, 0, "interrupt gate from V86: IF=0 in the handler"

	; ---- INT3 and INTO are not IOPL-sensitive ----
	TRY .c
	TO_V86 v86_c, 0, 0
.c:	CHECK_EXC 3, -1, "INT3 (CC) in V86 with IOPL 0 goes through the IDT (DPL 3 gate): #BP"
	CHECK_EQ dword [exc_frame + 4], 0xF000, "... from V86 (CS F000 in the frame)"
	TRY .c2
	TO_V86 v86_c2, 0, 0
.c2:	CHECK_EXC 4, -1, "INTO (CE) with OF=1 in V86 with IOPL 0: #OF through the IDT"
	GATE 3, stub_3, GATE_INT
	TRY .c3
	TO_V86 v86_c, 0, 0
.c3:	CHECK_EXC 13, 3 * 8 + 2, "INT3 in V86 through a DPL 0 gate: #GP(3*8+2)"
	TRY .c4
	TO_V86 v86_c4, 0, 0
.c4:	CHECK_EXC 13, 0, "INT 3 written CD 03 is INT n: #GP(0) with IOPL 0"
	TRY .c5
	TO_V86 v86_c5, 0, 0
.c5:	CHECK_EXC 0, -1, "DIV by 0 in V86: #DE through the IDT (a DPL 0 gate is fine)"
	CHECK_EQ dword [exc_frame + 4], 0xF000, "... from V86"
	GATE 3, stub_3, GATE_INT3

	; ---- IOPL-sensitive instructions ----
	V86_GP cli, 0, "CLI in V86 with IOPL 0: #GP(0)"
	V86_GP sti, 0, "STI in V86 with IOPL 0: #GP(0)"
	V86_GP pushf, 0, "PUSHF in V86 with IOPL 0: #GP(0)"
	V86_GP popf, 0, "POPF in V86 with IOPL 0: #GP(0)"
	V86_GP iret, 0, "IRET in V86 with IOPL 0: #GP(0)"
	V86_GP {int 0x21}, 0x2000, "INT n in V86 with IOPL 2: #GP(0)"
	V86_GP hlt, IOPL3, "HLT in V86 (CPL 3): #GP(0)"
	V86_GP {mov eax, cr0}, IOPL3, "MOV from CR0 in V86: #GP(0)"
	V86_GP {lgdt [0]}, IOPL3, "LGDT in V86: #GP(0)"
	V86_GP {mov ax, [0xFFFF]}, IOPL3, "a word at offset FFFFh in V86: #GP(0)"
	TRY .d
	TO_V86 v86_d, IOPL3, 0
.d:	CHECK_EXC 0x7F, -1, "CLI, STI, PUSHFD, POPFD in V86 with IOPL 3"
	CHECK_EQ dword [v_r], 0, "IOPL 3: CLI clears IF"
	CHECK_EQ dword [v_r + 4], 0x200, "IOPL 3: STI sets IF"
	mov eax, [v_r + 8]
	and eax, VM | IOPL3
	CHECK_EQ eax, IOPL3, "PUSHFD in V86 shows IOPL 3 but not VM"
	mov eax, [v_r + 12]
	and eax, VM | IOPL3
	CHECK_EQ eax, IOPL3, "POPFD in V86 cannot change IOPL (or VM)"
	; protected-mode-only instructions
	TRY .e
	TO_V86 v86_e, IOPL3, 0
.e:	CHECK_EXC 6, -1, "ARPL in V86: #UD"
	TRY .e2
	TO_V86 v86_e2, IOPL3, 0
.e2:	CHECK_EXC 6, -1, "LAR in V86: #UD"
	TRY .e3
	TO_V86 v86_e3, IOPL3, 0
.e3:	CHECK_EXC 0x7F, -1, "SMSW in V86 is allowed"
	CHECK_EQ dword [v_r], 0x0011, "... and reads PE=1, ET=1"

	; ---- I/O in V86: the bitmap decides, whatever IOPL ----
	or byte [TSS0_IOMAP + 0x10], 0x04	; deny port 82h
	TRY .f
	TO_V86 v86_f, 0, 0
.f:	CHECK_EXC 13, 0, "IN from an allowed port with IOPL 0 works, then INT #GPs"
	CHECK_EQ dword [exc_eip], R(v86_f.int), "... the #GP is at the INT, after the IN"
	TRY .f2
	TO_V86 v86_f2, IOPL3, 0
.f2:	CHECK_EXC 13, 0, "IN from a denied port with IOPL 3: #GP(0)"
	CHECK_EQ dword [exc_eip], R(v86_f2), "... at the IN"
	TRY .f3
	TO_V86 v86_f3, IOPL3, 0
.f3:	CHECK_EXC 13, 0, "OUTSB to a denied port with IOPL 3: #GP(0)"
	and byte [TSS0_IOMAP + 0x10], ~0x04
	TRY .f4
	TO_V86 v86_f2, IOPL3, 0
.f4:	CHECK_EXC 0x7F, -1, "the same IN once the port is allowed"
	; ---- an external interrupt while in V86 ----
	call v86_irq_test
	FINISH

; IRQ0 (PIT) at vector 20h while V86 code spins with IF=1 (IOPL 0): the
; interrupt is not IOPL-sensitive, goes through a DPL 0 gate to ring 0
; with the V86 frame, and IRET returns to the spinning code.
h_irq_v86:
	mov [ss:v_isegs], ds
	mov [ss:v_isegs + 2], es
	mov [ss:v_isegs + 4], fs
	mov [ss:v_isegs + 6], gs
	push eax
	push ecx
	xor ecx, ecx
.cp:	mov eax, [ss:esp + 8 + ecx * 4]
	mov [ss:v_iframe + ecx * 4], eax
	inc ecx
	cmp ecx, 9
	jb .cp
	mov dword [ss:v_iflag], 1
	mov al, 0xFF			; one interrupt is enough
	out 0x21, al
	mov al, 0x20
	out 0x20, al
	pop ecx
	pop eax
	iretd

v86_irq_test:
	GATE 0x20, h_irq_v86, GATE_INT
	mov al, 0x11
	out 0x20, al
	mov al, 0x20
	out 0x21, al
	mov al, 0x04
	out 0x21, al
	mov al, 0x01
	out 0x21, al
	mov al, 0xFE
	out 0x21, al
	mov al, 0x34
	out 0x43, al
	mov al, 0x00
	out 0x40, al
	mov al, 0x05
	out 0x40, al
	mov dword [v_iflag], 0
	TRY .done
	TO_V86 v86_spin, 0x200, 0x1234
.done:	mov al, 0xFF
	out 0x21, al
	mov al, 0x30
	out 0x43, al
	CHECK_EXC 13, 0, "V86 code with IF=1 got an IRQ, then ended at INT n (#GP)"
	CHECK_EQ dword [v_iflag], 1, "an external interrupt in V86 reached its ring-0 handler"
	CHECK_EQ dword [v_isegs], 0, "... DS and ES null in the handler"
	CHECK_EQ dword [v_isegs + 4], 0, "... FS and GS null in the handler"
	CHECK_EQ dword [v_iframe + 4], 0xF000, "... frame: V86 CS"
	mov eax, [v_iframe + 8]
	and eax, VM | 0x200
	CHECK_EQ eax, VM | 0x200, "... frame: EFLAGS with VM and IF"
	CHECK_EQ dword [v_iframe + 24], 0x1234, "... frame: V86 DS"
	CHECK_EQ dword [v_iframe + 32], 0x4567, "... frame: V86 GS"
	ret

; ---- ring-0 handlers ----

; #GP: records the segment registers at entry, then the recorder
h_gp_segs:
	mov [ss:v_hsegs], ds
	mov [ss:v_hsegs + 2], es
	mov [ss:v_hsegs + 4], fs
	mov [ss:v_hsegs + 6], gs
	push eax
	pushfd
	pop eax
	mov [ss:v_hfl], eax
	pop eax
	jmp stub_13

; INT 31h from V86 (DPL 3 gate): records, changes DS in the frame, IRET
h_int31:
	mov [ss:v_hsegs], ds
	mov [ss:v_hsegs + 2], es
	mov [ss:v_hsegs + 4], fs
	mov [ss:v_hsegs + 6], gs
	mov [ss:v_hesp], esp
	push eax
	push ecx
	pushfd
	pop eax
	mov [ss:v_hfl], eax
	xor ecx, ecx
.cp:	mov eax, [ss:esp + 8 + ecx * 4]
	mov [ss:v_hframe + ecx * 4], eax
	inc ecx
	cmp ecx, 9
	jb .cp
	mov dword [ss:esp + 8 + 24], 0x5555	; DS for the return
	pop ecx
	pop eax
	iretd

; ---- V86 code (16-bit, CS = F000) ----
	bits 16
v86_a:
	mov word [0x10], 0xCAFE		; DS = 1234h
	mov ax, 0x2234
	mov es, ax
	mov word [es:0xFFF0], 0xBEEF
	mov bx, ds
	xor ax, ax
	mov ds, ax
	mov [v_r], bx
	mov word [v_r + 2], 0
	mov [v_r + 4], cs
	mov word [v_r + 6], 0
	mov [v_r + 8], ss
	mov word [v_r + 10], 0
	push word 0x7777		; SP - 2 shows in the frame
	mov ax, 0x2345
	mov es, ax
.int:	int 0x30

v86_b:
	int 0x31
.after:
	mov bx, ds
	mov cx, es
	xor ax, ax
	mov ds, ax
	mov [v_r], bx
	mov word [v_r + 2], 0
	mov [v_r + 4], cx
	mov word [v_r + 6], 0
	int 0x7F

v86_c:	int3
	int 0x7F
v86_c2:	mov al, 0x7F
	add al, 1
	into
	int 0x7F
v86_c4:	db 0xCD, 0x03
	int 0x7F
v86_c5:	xor cx, cx
	div cx
	int 0x7F

v86_d:	sti
	cli
	pushf
	pop ax
	and ax, 0x200
	mov [v_r], ax
	mov word [v_r + 2], 0
	sti
	pushf
	pop ax
	and ax, 0x200
	mov [v_r + 4], ax
	mov word [v_r + 6], 0
	cli
	pushfd
	pop eax
	mov [v_r + 8], eax
	push dword 0x00000002		; IOPL 0, VM 0
	popfd
	pushfd
	pop eax
	mov [v_r + 12], eax
	int 0x7F

v86_e:	arpl ax, bx
	int 0x7F
v86_e2:	lar ax, bx
	int 0x7F
v86_e3:	smsw ax
	and ax, 0x11
	mov [v_r], ax
	mov word [v_r + 2], 0
	int 0x7F

v86_spin:
	xor ax, ax
	mov ds, ax
	mov ecx, 50000000
.w:	cmp dword [v_iflag], 0
	jne .out
	dec ecx
	jnz .w
.out:	int 0x7F			; IOPL 0: #GP, the way out

v86_f:	in al, 0x80
.int:	int 0x21			; IOPL 0: #GP, proving the IN went through
v86_f2:	in al, 0x82
	int 0x7F
v86_f3:	mov dx, 0x82
	outsb
	int 0x7F
	bits 32

	GUEST_END

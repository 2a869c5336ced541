; Privilege levels: ring 3 entered by IRET with a TSS, an interrupt gate
; back to ring 0 with the stack switch (the SS:ESP/EFLAGS/CS:EIP frame) and
; IRET out again (data segments the outer level may not use become null),
; 32- and 16-bit call gates with parameter copying, RETF to an outer level,
; conforming code, the gate DPL check of INT n/INT3, privileged
; instructions at CPL 3, IOPL and the TSS I/O permission bitmap, POPF at
; CPL 3, CR4.TSD, and SYSENTER/SYSEXIT with their MSRs. Intel SDM vol. 3
; chapter 5 (5.8 call gates, 5.9 privileged instructions), 6.12.1, vol. 1
; 18.5 (I/O protection), vol. 2 SYSENTER/SYSEXIT.
%include "lib.inc"

S_CODE16_U	equ 0x40	; 16-bit code, base F0000h, DPL 3
S_CGATE32	equ 0x48	; 32-bit call gate, DPL 3, 2 dword parameters
S_CGATE16	equ 0x50	; 16-bit call gate, DPL 3, 2 word parameters
S_CGATE_D0	equ 0x58	; 32-bit call gate, DPL 0
S_SYS		equ 0x60	; SYSENTER_CS: 60h code, 68h stack, 73h/7Bh ring 3
S_CONF0		equ 0x80	; conforming readable code, DPL 0, flat
S_CGATE_CF	equ 0x88	; call gate DPL 3 to conforming code
S_CODE1		equ 0x90	; ring-1 code, flat
S_DATA1		equ 0x98	; ring-1 stack, flat
S_CGATE1	equ 0xA0	; call gate DPL 3 to ring-1 code
STACK1		equ 0x6C000

v_r3_esp0	equ 0x600	; ring-3 observations
v_r3_esp1	equ 0x604
v_r3_cs		equ 0x608
v_r3_ss		equ 0x60C
v_r3_ds		equ 0x610
v_r3_es		equ 0x614
v_r3_fs		equ 0x618
v_r3_gs		equ 0x61C
v_r3_fl		equ 0x620
v_h_esp		equ 0x630	; ring-0 handler observations
v_h_ss		equ 0x634
v_h_cs		equ 0x638
v_h_fl		equ 0x63C
v_h_frame	equ 0x640	; 6 dwords
v_sgdt		equ 0x660
STACK3_LOW	equ 0xFF00	; a ring-3 stack below 64 KiB for 16-bit code

; ring-3 code that must #GP: PRIV_GP {instruction}, "text"
%macro PRIV_GP 2
	TRY %%done
	TO_RING3 %%r3, 0x2
%%r3:	%1
	RING0_RETURN
%%done:	CHECK_EXC 13, 0, %2
%endmacro

; ring-3 code that must run: PRIV_OK {instruction}, eflags, "text"
%macro PRIV_OK 3
	TRY %%done
	TO_RING3 %%r3, %2
%%r3:	%1
	RING0_RETURN
%%done:	CHECK_EXC 0x7F, -1, %3
%endmacro

; ring-1 code that must #GP: CHECK_EXC_AT_R1 instruction, "text"
%macro CHECK_EXC_AT_R1 2
	TRY %%done
	push dword S_DATA1 | 1
	push dword STACK1
	push dword 0x2
	push dword S_CODE1 | 1
	push dword %%r1
	iretd
%%r1:	%1
	RING0_RETURN
%%done:	CHECK_EXC 13, 0, %2
%endmacro

%macro CALLGATE 5	; selector, target selector, offset, attr byte, params
	mov dword [GDT_BASE + %1], ((%2) << 16) | ((%3) & 0xFFFF)
	mov dword [GDT_BASE + %1 + 4], ((%3) & 0xFFFF0000) | ((%4) << 8) | (%5)
%endmacro

main32:
	PRINT "# cpu_privilege: rings, stack switches, call gates, IOPL, I/O bitmap, SYSENTER"
	DESC S_CODE16_U, 0xF0000, 0xFFFF, 0x0FA
	CALLGATE S_CGATE32, SEL_CODE32, LIN(cg32), 0xEC, 2
	CALLGATE S_CGATE16, SEL_CODE16, R(cg16), 0xE4, 2
	CALLGATE S_CGATE_D0, SEL_CODE32, LIN(cg32), 0x8C, 0
	DESC S_SYS, 0, 0xFFFFF, 0xC9A
	DESC S_SYS + 8, 0, 0xFFFFF, 0xC92
	DESC S_SYS + 16, 0, 0xFFFFF, 0xCFA
	DESC S_SYS + 24, 0, 0xFFFFF, 0xCF2
	DESC S_CONF0, 0, 0xFFFFF, 0xC9E
	CALLGATE S_CGATE_CF, S_CONF0, LIN(conf_target), 0xEC, 0
	DESC S_CODE1, 0, 0xFFFFF, 0xCBA
	DESC S_DATA1, 0, 0xFFFFF, 0xCB2
	CALLGATE S_CGATE1, S_CODE1 | 1, LIN(ring1_target), 0xEC, 1
	mov dword [TSS0 + 0x0C], STACK1		; ESP1
	mov dword [TSS0 + 0x10], S_DATA1 | 1	; SS1

	; ---- into ring 3 with IRET, back with INT 7Fh ----
	TRY .a
	TO_RING3 .a_r3, 0x202
.a_r3:	mov [v_r3_cs], cs
	mov [v_r3_ss], ss
	mov [v_r3_esp0], esp
	pushfd
	pop dword [v_r3_fl]
.a_int:	RING0_RETURN
.a:	CHECK_EXC 0x7F, -1, "IRET to ring 3, INT 7Fh back to ring 0"
	movzx eax, word [v_r3_cs]
	CHECK_EQ eax, SEL_CODE32_U, "ring 3: CS is the DPL 3 code selector, RPL 3"
	movzx eax, word [v_r3_ss]
	CHECK_EQ eax, SEL_DATA32_U, "ring 3: SS from the IRET frame"
	CHECK_EQ dword [v_r3_esp0], STACK3, "ring 3: ESP from the IRET frame"
	CHECK_EQ dword [v_r3_fl], 0x202, "ring 3: EFLAGS from the IRET frame"
	CHECK_EQ dword [exc_entry_esp], STACK0_INT - 20, "INT from ring 3: stack switched to TSS.ESP0, 5 dwords"
	CHECK_EQ dword [exc_frame], .a_int + 2, "... frame: EIP after the INT"
	CHECK_EQ dword [exc_frame + 4], SEL_CODE32_U, "... CS of ring 3"
	CHECK_EQ dword [exc_frame + 8], 0x202, "... EFLAGS"
	CHECK_EQ dword [exc_frame + 12], STACK3, "... ring-3 ESP"
	CHECK_EQ dword [exc_frame + 16], SEL_DATA32_U, "... ring-3 SS"

	; ---- an interrupt gate from ring 3 and IRET back to ring 3 ----
	GATE 0x60, h_priv, GATE_INT3
	TRY .b
	TO_RING3 .b_r3, 0x202
.b_r3:	push dword 0x5555
	mov [v_r3_esp0], esp
.b_int:	int 0x60
	mov [ss:v_r3_esp1], esp
	mov [ss:v_r3_cs], cs
	mov [ss:v_r3_ds], ds
	mov [ss:v_r3_es], es
	pushfd
	pop dword [ss:v_r3_fl]
	RING0_RETURN
.b:	CHECK_EXC 0x7F, -1, "ring 3 -> interrupt gate -> IRET -> ring 3 -> back"
	CHECK_EQ dword [v_h_esp], STACK0_INT - 20, "the gate switched to SS0:ESP0 and pushed 5 dwords"
	movzx eax, word [v_h_ss]
	CHECK_EQ eax, SEL_DATA32, "the handler's SS is TSS.SS0"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, SEL_CODE32, "the handler's CS is the gate's selector, CPL 0"
	mov eax, [v_h_fl]
	and eax, 0x200
	CHECK_EQ eax, 0, "interrupt gate: IF=0 in the handler"
	CHECK_EQ dword [v_h_frame], .b_int + 2, "frame: EIP after INT 60h"
	CHECK_EQ dword [v_h_frame + 4], SEL_CODE32_U, "frame: ring-3 CS"
	CHECK_EQ dword [v_h_frame + 8], 0x202, "frame: ring-3 EFLAGS"
	mov eax, [v_r3_esp0]
	CHECK_EQ dword [v_h_frame + 12], eax, "frame: ring-3 ESP"
	CHECK_EQ dword [v_h_frame + 16], SEL_DATA32_U, "frame: ring-3 SS"
	CHECK_EQ dword [v_r3_esp1], eax, "IRET to ring 3 restores ESP"
	movzx eax, word [v_r3_cs]
	CHECK_EQ eax, SEL_CODE32_U, "IRET to ring 3 restores CS"
	movzx eax, word [v_r3_ds]
	CHECK_EQ eax, 0, "IRET to ring 3: DS holding a DPL 0 selector becomes null"
	movzx eax, word [v_r3_es]
	CHECK_EQ eax, SEL_DATA32_U, "IRET to ring 3: ES holding a DPL 3 selector is kept"
	CHECK_EQ dword [v_r3_fl], 0x202, "IRET to ring 3 restores EFLAGS"

	; ---- a 32-bit call gate with two dword parameters ----
	TRY .c
	TO_RING3 .c_r3, 0x202
.c_r3:	push dword 0x1111
	push dword 0x2222
	mov [v_r3_esp0], esp
	call (S_CGATE32 | 3):0
.c_ret:	mov [ss:v_r3_esp1], esp
	mov [ss:v_r3_ds], ds
	mov [ss:v_r3_es], es
	mov [ss:v_r3_fs], fs
	mov [ss:v_r3_gs], gs
	mov [ss:v_r3_cs], cs
	RING0_RETURN
.c:	CHECK_EXC 0x7F, -1, "ring 3 -> 32-bit call gate -> RETF 8 -> ring 3"
	CHECK_EQ dword [v_h_esp], STACK0_INT - 24, "call gate: inner stack from the TSS, 6 dwords"
	CHECK_EQ dword [v_h_frame], .c_ret, "call gate frame: return EIP"
	CHECK_EQ dword [v_h_frame + 4], SEL_CODE32_U, "call gate frame: caller CS"
	CHECK_EQ dword [v_h_frame + 8], 0x2222, "call gate frame: parameter at the caller's ESP"
	CHECK_EQ dword [v_h_frame + 12], 0x1111, "call gate frame: the next parameter"
	mov eax, [v_r3_esp0]
	CHECK_EQ dword [v_h_frame + 16], eax, "call gate frame: caller ESP"
	CHECK_EQ dword [v_h_frame + 20], SEL_DATA32_U, "call gate frame: caller SS"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, SEL_CODE32, "call gate: CS of the target, CPL 0"
	mov eax, [v_r3_esp0]
	add eax, 8
	CHECK_EQ dword [v_r3_esp1], eax, "RETF 8 to ring 3 also releases the caller's parameters"
	movzx eax, word [v_r3_cs]
	CHECK_EQ eax, SEL_CODE32_U, "RETF to ring 3: CS"
	movzx eax, word [v_r3_ds]
	CHECK_EQ eax, 0, "RETF to ring 3: DS with DPL 0 data becomes null"
	movzx eax, word [v_r3_es]
	CHECK_EQ eax, 0, "RETF to ring 3: ES with DPL 0 code becomes null"
	movzx eax, word [v_r3_fs]
	CHECK_EQ eax, SEL_DATA32_U, "RETF to ring 3: FS with DPL 3 data is kept"
	movzx eax, word [v_r3_gs]
	CHECK_EQ eax, S_CONF0, "RETF to ring 3: GS with conforming code is kept"

	; ---- a 16-bit call gate from 16-bit ring-3 code ----
	TRY .d
	TO_RING3_EX S_CODE16_U | 3, R(c16_r3), STACK3_LOW, 0x202
.d:	CHECK_EXC 0x7F, -1, "16-bit ring 3 -> 16-bit call gate -> RETF 4 -> ring 3"
	CHECK_EQ dword [v_h_esp], STACK0_INT - 12, "16-bit call gate: 6 words on the inner stack"
	movzx eax, word [v_h_frame]
	CHECK_EQ eax, R(c16_ret), "16-bit frame: IP"
	movzx eax, word [v_h_frame + 2]
	CHECK_EQ eax, S_CODE16_U | 3, "16-bit frame: CS"
	movzx eax, word [v_h_frame + 4]
	CHECK_EQ eax, 0x4444, "16-bit frame: the parameter at SP"
	movzx eax, word [v_h_frame + 6]
	CHECK_EQ eax, 0x3333, "16-bit frame: the next parameter"
	movzx eax, word [v_h_frame + 8]
	mov ebx, [v_r3_esp0]
	and ebx, 0xFFFF
	CHECK_EQ eax, ebx, "16-bit frame: SP"
	movzx eax, word [v_h_frame + 10]
	CHECK_EQ eax, SEL_DATA32_U, "16-bit frame: SS"
	mov eax, [v_r3_esp0]
	add eax, 4
	CHECK_EQ dword [v_r3_esp1], eax, "RETF 4 (16-bit) releases the two word parameters"

	; ---- conforming code keeps CPL 3 ----
	TRY .e
	TO_RING3 .e_r3, 0x202
.e_r3:	call (S_CGATE_CF | 3):0
	mov [v_r3_esp1], esp
	RING0_RETURN
.e:	CHECK_EXC 0x7F, -1, "a call gate to conforming code from ring 3"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, S_CONF0 | 3, "conforming code runs at CPL 3 (CS.RPL = 3)"
	CHECK_EQ dword [v_h_esp], STACK3 - 8, "no stack switch into conforming code"
	TRY .e2
	TO_RING3 .e2_r3, 0x202
.e2_r3:	call S_CONF0:conf_target
	RING0_RETURN
.e2:	CHECK_EXC 0x7F, -1, "a far call from ring 3 straight to DPL 0 conforming code"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, S_CONF0 | 3, "... runs at CPL 3"

	; ---- ring 1: the TSS's ESP1/SS1 ----
	TRY .r1
	TO_RING3 .r1_r3, 0x202
.r1_r3:	push dword 0xABCD
	mov [v_r3_esp0], esp
	call (S_CGATE1 | 3):0
	mov [ss:v_r3_esp1], esp
	RING0_RETURN
.r1:	CHECK_EXC 0x7F, -1, "ring 3 -> call gate -> ring 1 -> RETF 4 -> ring 3"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, S_CODE1 | 1, "ring 1: CS with RPL 1"
	movzx eax, word [v_h_ss]
	CHECK_EQ eax, S_DATA1 | 1, "ring 1: SS from TSS.SS1"
	CHECK_EQ dword [v_h_esp], STACK1 - 20, "ring 1: ESP from TSS.ESP1, minus 5 dwords (one parameter)"
	CHECK_EQ dword [v_h_frame + 8], 0xABCD, "ring 1: the parameter was copied"
	mov eax, [v_r3_esp0]
	add eax, 4
	CHECK_EQ dword [v_r3_esp1], eax, "back in ring 3 with the parameter released"
	CHECK_EXC_AT_R1 hlt, "HLT at CPL 1: #GP(0)"
	TRY .r2
	push dword S_DATA1 | 1
	push dword STACK1
	push dword 0x1002		; IOPL 1
	push dword S_CODE1 | 1
	push dword .r2_r1
	iretd
.r2_r1:	cli				; CPL 1 <= IOPL 1: allowed
	RING0_RETURN
.r2:	CHECK_EXC 0x7F, -1, "IRET from ring 0 to ring 1; CLI at CPL 1 with IOPL 1 is allowed"
	CHECK_EQ dword [exc_frame + 4], S_CODE1 | 1, "... the INT 7Fh came from ring 1"

	; ---- what ring 3 may not do ----
	TRY .f1
	TO_RING3 .f1_r3, 0x2
.f1_r3:	call (S_CGATE_D0 | 3):0
	RING0_RETURN
.f1:	CHECK_EXC 13, S_CGATE_D0, "call gate with DPL 0 from ring 3: #GP(gate)"
	TRY .f1b
	TO_RING3 .f1b_r3, 0x2
.f1b_r3: jmp (S_CGATE32 | 3):0
	RING0_RETURN
.f1b:	CHECK_EXC 13, SEL_CODE32, "JMP through a call gate to more privileged code: #GP(code selector)"
	TRY .f2
	TO_RING3 .f2_r3, 0x2
.f2_r3:	jmp SEL_CODE32:.f2
.f2:	CHECK_EXC 13, SEL_CODE32, "JMP far from ring 3 to DPL 0 code: #GP(selector)"
	TRY .f3
	TO_RING3 .f3_r3, 0x2
.f3_r3:	mov ax, SEL_DATA32
	mov ds, ax
	RING0_RETURN
.f3:	CHECK_EXC 13, SEL_DATA32, "loading DPL 0 data into DS at CPL 3: #GP(selector)"
	TRY .f4
	TO_RING3 .f4_r3, 0x2
.f4_r3:	mov ax, SEL_DATA32_U & ~3
	mov ds, ax			; RPL 0 < CPL 3 is fine for data (max of both)
	mov ax, SEL_DATA32
	mov ss, ax
	RING0_RETURN
.f4:	CHECK_EXC 13, SEL_DATA32, "loading a DPL 0 stack into SS at CPL 3: #GP(selector)"
	TRY .f5
	TO_RING3 .f5_r3, 0x2
.f5_r3:	push dword 0x202
	push dword SEL_CODE32
	push dword .f5
	iretd
.f5:	CHECK_EXC 13, SEL_CODE32, "IRET from ring 3 to ring 0: #GP(selector)"
	TRY .f6
	TO_RING3 .f6_r3, 0x2
.f6_r3:	int 0x40			; a DPL 0 gate
	RING0_RETURN
.f6:	CHECK_EXC 13, 0x40 * 8 + 2, "INT 40h through a DPL 0 gate from ring 3: #GP(40h*8+2)"
	TRY .f7
	TO_RING3 .f7_r3, 0x2
.f7_r3:	int3
	RING0_RETURN
.f7:	CHECK_EXC 13, 3 * 8 + 2, "INT3 through a DPL 0 gate from ring 3: #GP(3*8+2)"
	TRY .f8
	TO_RING3 .f8_r3, 0x2
.f8_r3:	ud2
	RING0_RETURN
.f8:	CHECK_EXC 6, -1, "#UD from ring 3 is delivered through a DPL 0 gate"
	CHECK_EQ dword [exc_cs], SEL_CODE32_U, "... with the ring-3 CS in the frame"

	PRIV_GP hlt, "HLT at CPL 3: #GP(0)"
	PRIV_GP cli, "CLI at CPL 3 with IOPL 0: #GP(0)"
	PRIV_GP sti, "STI at CPL 3 with IOPL 0: #GP(0)"
	PRIV_GP {mov eax, cr0}, "MOV from CR0 at CPL 3: #GP(0)"
	PRIV_GP {mov cr3, eax}, "MOV to CR3 at CPL 3: #GP(0)"
	PRIV_GP {mov eax, dr7}, "MOV from DR7 at CPL 3: #GP(0)"
	PRIV_GP {lgdt [gdt_pseudo]}, "LGDT at CPL 3: #GP(0)"
	PRIV_GP {lidt [idt_pseudo]}, "LIDT at CPL 3: #GP(0)"
	PRIV_GP {lldt ax}, "LLDT at CPL 3: #GP(0)"
	PRIV_GP {ltr ax}, "LTR at CPL 3: #GP(0)"
	PRIV_GP {lmsw ax}, "LMSW at CPL 3: #GP(0)"
	PRIV_GP clts, "CLTS at CPL 3: #GP(0)"
	PRIV_GP {invlpg [0]}, "INVLPG at CPL 3: #GP(0)"
	PRIV_GP wbinvd, "WBINVD at CPL 3: #GP(0)"
	PRIV_GP invd, "INVD at CPL 3: #GP(0)"
	PRIV_GP {rdmsr}, "RDMSR at CPL 3: #GP(0)"
	PRIV_GP {wrmsr}, "WRMSR at CPL 3: #GP(0)"
	PRIV_OK {smsw eax}, 0x2, "SMSW at CPL 3 is allowed"
	PRIV_OK {sgdt [v_sgdt]}, 0x2, "SGDT at CPL 3 is allowed"
	PRIV_OK {str ax}, 0x2, "STR at CPL 3 is allowed"
	PRIV_OK rdtsc, 0x2, "RDTSC at CPL 3 with CR4.TSD=0"
	PRIV_OK {cli}, 0x3002, "CLI at CPL 3 with IOPL 3"
	PRIV_OK {sti}, 0x3002, "STI at CPL 3 with IOPL 3"
	mov eax, cr4
	or eax, 4			; TSD
	mov cr4, eax
	PRIV_GP rdtsc, "RDTSC at CPL 3 with CR4.TSD=1: #GP(0)"
	mov eax, cr4
	and eax, ~4
	mov cr4, eax
	; POPF at CPL 3, IOPL 0: IF and IOPL stay, no fault
	TRY .p
	TO_RING3 .p_r3, 0x2
.p_r3:	push dword 0x3202 | 0x0CD5	; IF, IOPL 3 and arithmetic flags
	popfd
	pushfd
	pop dword [v_r3_fl]
	RING0_RETURN
.p:	CHECK_EXC 0x7F, -1, "POPF at CPL 3 with IOPL 0 does not fault"
	CHECK_EQ dword [v_r3_fl], 0x0CD7, "... it changes the arithmetic flags but not IF or IOPL"
	TRY .p2
	TO_RING3 .p2_r3, 0x1002		; IOPL 1 < CPL 3
.p2_r3:	push dword 0x0202
	popfd
	pushfd
	pop dword [v_r3_fl]
	RING0_RETURN
.p2:	CHECK_EQ dword [v_r3_fl], 0x1002, "POPF at CPL 3 with IOPL 1 leaves IF clear"
	TRY .p3
	TO_RING3 .p3_r3, 0x3002
.p3_r3:	push dword 0x0202
	popfd
	pushfd
	pop dword [v_r3_fl]
	RING0_RETURN
.p3:	CHECK_EQ dword [v_r3_fl], 0x3202, "POPF at CPL 3 with IOPL 3 sets IF, keeps IOPL"

	; ---- I/O: IOPL and the TSS permission bitmap ----
	; deny 82h and 84h; allow 80h, 81h, 83h
	or byte [TSS0_IOMAP + 0x10], 0x14
	PRIV_OK {in al, 0x80}, 0x2, "IN from a port the bitmap allows at CPL 3, IOPL 0"
	PRIV_OK {out 0x81, al}, 0x2, "OUT to a port the bitmap allows"
	PRIV_GP {in al, 0x82}, "IN from a port the bitmap denies: #GP(0)"
	PRIV_GP {out 0x84, al}, "OUT to a port the bitmap denies: #GP(0)"
	PRIV_GP {in ax, 0x81}, "IN of a word whose second byte is denied: #GP(0)"
	PRIV_OK {in al, 0x83}, 0x2, "a byte between two denied ports is allowed"
	TRY .io1
	TO_RING3 .io1_r3, 0x2
.io1_r3: mov dx, 0x82
	insb
	RING0_RETURN
.io1:	CHECK_EXC 13, 0, "INSB from a denied port: #GP(0)"
	PRIV_OK {in al, 0x82}, 0x3002, "IOPL 3: the bitmap is not consulted"
	mov word [TSS0 + 0x66], 0x3000	; the bitmap starts beyond the TSS limit
	PRIV_GP {in al, 0x80}, "a bitmap beyond the TSS limit denies every port"
	mov word [TSS0 + 0x66], 0x68
	and byte [TSS0_IOMAP + 0x10], ~0x14
	PRIV_OK {in al, 0x82}, 0x2, "the port allowed again after clearing its bit"

	; ---- SYSENTER / SYSEXIT ----
	xor edx, edx
	mov ecx, 0x174
	mov eax, S_SYS
	wrmsr
	mov ecx, 0x175
	mov eax, 0x8E000
	wrmsr
	mov ecx, 0x176
	mov eax, sysenter_target
	wrmsr
	mov ecx, 0x175
	rdmsr
	CHECK_EQ eax, 0x8E000, "RDMSR SYSENTER_ESP reads back"
	mov ecx, 0x176
	rdmsr
	CHECK_EQ eax, sysenter_target, "RDMSR SYSENTER_EIP reads back"
	mov ecx, 0x174
	rdmsr
	CHECK_EQ eax, S_SYS, "RDMSR SYSENTER_CS reads back"
	TRY .se
	TO_RING3 .se_r3, 0x202
.se_r3:	mov [v_r3_esp0], esp
	sysenter
.se:	CHECK_EXC 0x7F, -1, "SYSENTER from ring 3 ... SYSEXIT back ... INT 7Fh"
	movzx eax, word [v_h_cs]
	CHECK_EQ eax, S_SYS, "SYSENTER: CS = SYSENTER_CS"
	movzx eax, word [v_h_ss]
	CHECK_EQ eax, S_SYS + 8, "SYSENTER: SS = SYSENTER_CS + 8"
	CHECK_EQ dword [v_h_esp], 0x8E000, "SYSENTER: ESP = SYSENTER_ESP"
	mov eax, [v_h_fl]
	and eax, 0x200
	CHECK_EQ eax, 0, "SYSENTER clears IF"
	movzx eax, word [v_r3_cs]
	CHECK_EQ eax, S_SYS + 16 + 3, "SYSEXIT: CS = SYSENTER_CS + 16, RPL 3"
	movzx eax, word [v_r3_ss]
	CHECK_EQ eax, S_SYS + 24 + 3, "SYSEXIT: SS = SYSENTER_CS + 24, RPL 3"
	CHECK_EQ dword [v_r3_esp1], STACK3 - 0x40, "SYSEXIT: ESP = ECX"
	CHECK_EQ dword [exc_frame + 4], S_SYS + 16 + 3, "after SYSEXIT the CPU is at CPL 3 (INT 7Fh frame)"
	PRIV_GP sysexit, "SYSEXIT at CPL 3: #GP(0)"
	xor edx, edx
	xor eax, eax
	mov ecx, 0x174
	wrmsr
	PRIV_GP sysenter, "SYSENTER with SYSENTER_CS = 0: #GP(0)"
	FINISH

; ---- ring-0 and ring-3 helpers ----

h_priv:
	mov [ss:v_h_esp], esp
	mov [ss:v_h_ss], ss
	mov [ss:v_h_cs], cs
	push eax
	pushfd
	pop eax
	mov [ss:v_h_fl], eax
	mov eax, [esp + 4]
	mov [ss:v_h_frame], eax
	mov eax, [esp + 8]
	mov [ss:v_h_frame + 4], eax
	mov eax, [esp + 12]
	mov [ss:v_h_frame + 8], eax
	mov eax, [esp + 16]
	mov [ss:v_h_frame + 12], eax
	mov eax, [esp + 20]
	mov [ss:v_h_frame + 16], eax
	mov ax, SEL_DATA32		; IRET to ring 3 must null this
	mov ds, ax
	pop eax
	iretd

ring1_target:
	mov [v_h_esp], esp
	mov [v_h_cs], cs
	mov [v_h_ss], ss
	mov eax, [esp + 8]
	mov [v_h_frame + 8], eax
	retf 4

cg32:
	mov [ss:v_h_esp], esp
	mov [ss:v_h_cs], cs
	push eax
	push ecx
	xor ecx, ecx
.cp:	mov eax, [esp + 8 + ecx * 4]
	mov [ss:v_h_frame + ecx * 4], eax
	inc ecx
	cmp ecx, 6
	jb .cp
	pop ecx
	pop eax
	mov ax, SEL_DATA32
	mov ds, ax
	mov ax, SEL_CODE32
	mov es, ax
	mov ax, SEL_DATA32_U
	mov fs, ax
	mov ax, S_CONF0
	mov gs, ax
	retf 8

conf_target:
	mov [v_h_esp], esp
	mov [v_h_cs], cs
	retf

sysenter_target:
	mov [v_h_esp], esp
	mov [v_h_cs], cs
	mov [v_h_ss], ss
	pushfd
	pop dword [v_h_fl]
	mov ecx, STACK3 - 0x40
	mov edx, .r3
	sysexit
.r3:	mov [v_r3_cs], cs
	mov [v_r3_ss], ss
	mov [v_r3_esp1], esp
	RING0_RETURN

	bits 16
c16_r3:
	push word 0x3333
	push word 0x4444
	mov [dword v_r3_esp0], esp
	call (S_CGATE16 | 3):0
c16_ret:
	mov [dword v_r3_esp1], esp
	int 0x7F

cg16:
	mov [ss:dword v_h_esp], esp
	mov [ss:dword v_h_cs], cs
	push eax
	push ecx
	xor ecx, ecx
.cp:	mov ax, [esp + 8 + ecx * 2]
	mov [ss:dword v_h_frame + ecx * 2], ax
	inc ecx
	cmp ecx, 6
	jb .cp
	pop ecx
	pop eax
	retf 4
	bits 32

	GUEST_END

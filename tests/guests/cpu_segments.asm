; Protected-mode segmentation from the inside: leaving and re-entering
; real mode, far jumps, calls and returns (also into 16-bit code), the
; checks on every segment register load (null, beyond the table, system
; descriptors, type, privilege, presence: #GP/#SS/#NP with the selector as
; error code), limit checks of normal and expand-down segments with the B
; bit, 16- and 32-bit stacks, accessed bits, the LDT, LAR/LSL/VERR/VERW,
; ARPL, SGDT/SLDT/STR and the TSS busy bit. Intel SDM vol. 3 chapters 3
; and 5, vol. 2 for the instructions.
%include "lib.inc"

S_DATA		equ 0x40	; RW data, base 1 MiB, limit FFFh, B=1
S_RO		equ 0x48	; read-only data, same place
S_NP		equ 0x50	; RW data, not present
S_DATA3		equ 0x58	; RW data, DPL 3
S_XO		equ 0x60	; execute-only code, flat, 32-bit
S_CODER		equ 0x68	; readable code, base 1 MiB, limit FFFh
S_ED16		equ 0x70	; expand-down data, limit FFFh, B=0, base 2 MiB
S_ED32		equ 0x78	; expand-down data, limit FFFh, B=1, base 3 MiB
S_LDTD		equ 0x80	; the LDT (base 6000h, 4 entries)
S_STK16		equ 0x88	; 16-bit stack, base 4 MiB, limit FFFFh
S_STK32		equ 0x90	; 32-bit stack, base 4 MiB, limit 1FFFh
S_STKED		equ 0x98	; expand-down 32-bit stack, base 5 MiB, limit FFFh
S_CONF3		equ 0xA0	; conforming readable code, DPL 3, flat
S_CGATE		equ 0xA8	; 32-bit call gate DPL 0 to cg_target
S_CONF0		equ 0xB8	; conforming readable code, DPL 0, flat
S_TSSX		equ 0xC0	; an available 32-bit TSS (never run)
S_GRAN		equ 0xC8	; data, G=1, limit field Fh
S_IGATE		equ 0xD0	; an interrupt gate put in the GDT
S_NPCODE	equ 0xD8	; code, not present
S_FRESH		equ 0xE0	; data, accessed bit clear
S_FRESHC	equ 0xE8	; code, accessed bit clear
S_LIMCODE	equ 0xF0	; 32-bit code, base F0000h, limit FFFFh
S_FRESHS	equ 0xF8	; stack data, accessed bit clear
S_SMALLCODE	equ 0x100	; 32-bit code in RAM at 30000h, limit 4
SMALLCODE	equ 0x30000
LDT		equ 0x6000

v_a		equ 0x600
v_b		equ 0x604
v_c		equ 0x608
v_pm_esp	equ 0x60C
v_marker	equ 0x12340

main32:
	PRINT "# cpu_segments: protected-mode segments, far transfers, descriptor checks"
	DESC S_DATA, 0x100000, 0xFFF, 0x492
	DESC S_RO, 0x100000, 0xFFF, 0x490
	DESC S_NP, 0x100000, 0xFFF, 0x412
	DESC S_DATA3, 0x100000, 0xFFF, 0x4F2
	DESC S_XO, 0, 0xFFFFF, 0xC98
	DESC S_CODER, 0x100000, 0xFFF, 0x49A
	DESC S_ED16, 0x200000, 0xFFF, 0x096
	DESC S_ED32, 0x300000, 0xFFF, 0x496
	DESC S_LDTD, LDT, 0x1F, 0x082
	DESC S_STK16, 0x400000, 0xFFFF, 0x092
	DESC S_STK32, 0x400000, 0x1FFF, 0x492
	DESC S_STKED, 0x500000, 0xFFF, 0x496
	DESC S_CONF3, 0, 0xFFFFF, 0xCFE
	mov dword [GDT_BASE + S_CGATE], (SEL_CODE32 << 16) | (LIN(cg_target) & 0xFFFF)
	mov dword [GDT_BASE + S_CGATE + 4], (LIN(cg_target) & 0xFFFF0000) | 0x8C00
	DESC S_CONF0, 0, 0xFFFFF, 0xC9E
	DESC S_TSSX, 0x5000, 0x67, 0x089
	DESC S_GRAN, 0, 0xF, 0x892
	mov dword [GDT_BASE + S_IGATE], (SEL_CODE32 << 16)
	mov dword [GDT_BASE + S_IGATE + 4], 0x8E00
	DESC S_NPCODE, 0, 0xFFFFF, 0xC1A
	DESC S_FRESH, 0, 0xFFFFF, 0xC92
	DESC S_FRESHC, 0, 0xFFFFF, 0xC9A
	DESC S_LIMCODE, 0xF0000, 0xFFFF, 0x49A
	DESC S_FRESHS, 0, 0xFFFFF, 0xC92
	DESC_AT LDT + 0, 0x100000, 0xFFF, 0x492	; selector 04h
	DESC_AT LDT + 8, 0x100000, 0xFFF, 0x4F2	; selector 0Ch (DPL 3)
	mov dword [LDT + 16], 0
	mov dword [LDT + 20], 0
	mov dword [LDT + 24], 0
	mov dword [LDT + 28], 0

	; ---- the state protected mode started in ----
	mov eax, cr0
	and eax, 1
	CHECK_EQ eax, 1, "CR0.PE is set"
	xor eax, eax
	mov ax, cs
	CHECK_EQ eax, SEL_CODE32, "CS holds the selector of the far jump (CPL 0)"
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	CHECK_EQ eax, 0x8B, "LTR marked the TSS descriptor busy"
	sgdt [v_a]
	movzx eax, word [v_a]
	CHECK_EQ eax, GDT_LIMIT, "SGDT stores the GDT limit"
	CHECK_EQ dword [v_a + 2], GDT_BASE, "SGDT stores the GDT base"
	sidt [v_a]
	movzx eax, word [v_a]
	CHECK_EQ eax, IDT_LIMIT, "SIDT stores the IDT limit"
	xor eax, eax
	str ax
	CHECK_EQ eax, SEL_TSS0, "STR reads the task register"
	mov eax, 0xFFFFFFFF
	sldt ax
	CHECK_EQ eax, 0xFFFF0000, "SLDT ax: 0 (no LDT yet), upper half kept"

	call real_round_trip

	; ---- far transfers ----
	mov dword [v_a], 0
	call SEL_CODE32:far_callee
.after_far:
	CHECK_EQ dword [v_a], .after_far, "CALL far pushes EIP"
	CHECK_EQ dword [v_b], SEL_CODE32, "CALL far pushes CS as a dword slot"
	push dword 0x11
	push dword 0x22
	mov ebx, esp
	call SEL_CODE32:far_callee_ret8
	mov eax, esp
	sub eax, ebx
	CHECK_EQ eax, 8, "RETF 8 removes the two parameters"
	add esp, 8
	; into a 16-bit code segment and back
	mov ebx, esp
	call SEL_CODE16:R(func16)
	mov eax, [v_a]
	sub eax, [v_b]
	CHECK_EQ eax, 2, "16-bit code segment: PUSH moves ESP by 2 (D=0)"
	mov ecx, esp
	CHECK_EQ ecx, ebx, "O32 RETF from 16-bit code returns to 32-bit code"
	mov eax, ebx
	sub eax, 8
	CHECK_EQ [v_c], eax, "the 16-bit callee saw the 8-byte far-call frame"
	; JMP far through memory, m16:32
	mov dword [v_a], .jm_back
	mov word [v_a + 4], S_CONF0
	jmp far [v_a]
.jm_back:
	xor eax, eax
	mov ax, cs
	CHECK_EQ eax, S_CONF0, "JMP far m16:32 to a conforming segment loads CS"
	jmp SEL_CODE32:.jm2
.jm2:
	; a call gate at the same privilege
	mov dword [v_a], 0
	call S_CGATE:0x12345678		; the offset is ignored
.after_gate:
	CHECK_EQ dword [v_a], .after_gate, "CALL through a call gate pushes the return EIP"
	CHECK_EQ dword [v_b], SEL_CODE32, "... and CS; the gate's target ran"
	; faults of far transfers
	TRY .f1
	jmp S_DATA:0
	ENDTRY
.f1:	CHECK_EXC 13, S_DATA, "JMP far to a data segment: #GP(selector)"
	TRY .f2
	call S_NPCODE:0
	ENDTRY
.f2:	CHECK_EXC 11, S_NPCODE, "CALL far to a not-present code segment: #NP(selector)"
	TRY .f3
.f3_insn:
	jmp S_LIMCODE:0x10000
	ENDTRY
.f3:	CHECK_EXC 13, 0, "JMP far beyond the code segment limit: #GP(0)"
	CHECK_EQ dword [exc_eip], .f3_insn, "... reported at the JMP"
	TRY .f4
	jmp 0:0
	ENDTRY
.f4:	CHECK_EXC 13, 0, "JMP far to the null selector: #GP(0)"
	TRY .f5
	jmp 0x800:0
	ENDTRY
.f5:	CHECK_EXC 13, 0x800, "JMP far beyond the GDT limit: #GP(selector)"
	TRY .f6
	jmp (S_CODER | 3):0		; RPL 3 > CPL to a non-conforming DPL 0 segment
	ENDTRY
.f6:	CHECK_EXC 13, S_CODER, "JMP far with RPL > CPL to non-conforming code: #GP"
	TRY .f7
	jmp S_CONF3:.f7_in		; conforming DPL 3 > CPL 0
	ENDTRY
.f7_in:	jmp SEL_CODE32:.f7
.f7:	CHECK_EXC 13, S_CONF3, "JMP far to conforming code with DPL > CPL: #GP"
	; an instruction that crosses the CS limit
	DESC S_SMALLCODE, SMALLCODE, 4, 0x49A
	mov dword [SMALLCODE], 0x78B89090	; nop; nop; mov eax, 12345678h
	mov dword [SMALLCODE + 4], 0xC3123456	; ...; ret
	TRY .lim
	call S_SMALLCODE:0
	ENDTRY
.lim:	CHECK_EXC 13, 0, "an instruction crossing the CS limit: #GP(0)"
	CHECK_EQ dword [exc_eip], 2, "... at that instruction (offset 2)"
	CHECK_EQ dword [exc_cs], S_SMALLCODE, "... in that code segment"
	; execute-only code cannot be read
	jmp S_XO:.xo
.xo:	TRY .xo2
	mov eax, [cs:main32]
	ENDTRY
.xo2:	CHECK_EXC 13, 0, "reading through an execute-only CS: #GP(0)"
	jmp SEL_CODE32:.xo3
.xo3:	TRY .xo4
	mov ax, S_XO
	mov es, ax
	ENDTRY
.xo4:	CHECK_EXC 13, S_XO, "loading execute-only code into ES: #GP(selector)"
	mov ax, S_CODER
	mov es, ax
	mov dword [0x100000], 0x0BADC0DE
	CHECK_EQ dword [es:0], 0x0BADC0DE, "readable code loads into ES and reads"
	TRY .cw
	mov dword [es:0], 1
	ENDTRY
.cw:	CHECK_EXC 13, 0, "writing through a code segment in ES: #GP(0)"
	TRY .mcs
	db 0x8E, 0xC8			; mov cs, ax
	ENDTRY
.mcs:	CHECK_EXC 6, -1, "MOV CS, r16 is #UD"

	; ---- segment register loads ----
	mov ax, SEL_DATA32
	TRY .l1
	xor ax, ax
	mov es, ax
	ENDTRY
.l1:	CHECK_NOEXC "a null selector loads into ES"
	TRY .l2
	mov eax, [es:0]
	ENDTRY
.l2:	CHECK_EXC 13, 0, "an access through a null ES: #GP(0)"
	mov ax, 3
	mov fs, ax
	xor eax, eax
	mov ax, fs
	CHECK_EQ eax, 3, "the null selector 0003 loads into FS and reads back"
	TRY .l3
	xor eax, eax
	mov ss, ax
	ENDTRY
.l3:	CHECK_EXC 13, 0, "a null selector into SS: #GP(0)"
	TRY .l4
	mov ax, 0x800
	mov ds, ax
	ENDTRY
.l4:	CHECK_EXC 13, 0x800, "a selector beyond the GDT limit into DS: #GP(selector)"
	TRY .l5
	mov ax, S_NP
	mov ds, ax
	ENDTRY
.l5:	CHECK_EXC 11, S_NP, "a not-present data segment into DS: #NP(selector)"
	TRY .l6
	mov ax, S_NP
	mov ss, ax
	ENDTRY
.l6:	CHECK_EXC 12, S_NP, "a not-present data segment into SS: #SS(selector)"
	TRY .l7
	mov ax, S_LDTD
	mov es, ax
	ENDTRY
.l7:	CHECK_EXC 13, S_LDTD, "a system descriptor (LDT) into ES: #GP(selector)"
	TRY .l8
	mov ax, S_RO
	mov ss, ax
	ENDTRY
.l8:	CHECK_EXC 13, S_RO, "a read-only data segment into SS: #GP(selector)"
	TRY .l9
	mov ax, S_CODER
	mov ss, ax
	ENDTRY
.l9:	CHECK_EXC 13, S_CODER, "a code segment into SS: #GP(selector)"
	TRY .l10
	mov ax, S_DATA3 | 3
	mov ss, ax
	ENDTRY
.l10:	CHECK_EXC 13, S_DATA3, "a DPL 3 stack into SS at CPL 0: #GP(selector)"
	TRY .l11
	mov ax, S_DATA | 3
	mov ss, ax
	ENDTRY
.l11:	CHECK_EXC 13, S_DATA, "SS selector with RPL 3 at CPL 0: #GP(selector)"
	TRY .l12
	mov ax, S_DATA | 3
	mov gs, ax
	ENDTRY
.l12:	CHECK_EXC 13, S_DATA, "DPL 0 data with RPL 3 into GS: #GP(selector)"
	TRY .l13
	mov ax, S_DATA3 | 3
	mov gs, ax
	ENDTRY
.l13:	CHECK_NOEXC "DPL 3 data loads into GS at CPL 0"
	xor eax, eax
	mov ax, gs
	CHECK_EQ eax, S_DATA3 | 3, "GS reads back with its RPL"
	TRY .l14
	mov ax, S_CONF0 | 3
	mov gs, ax
	ENDTRY
.l14:	CHECK_NOEXC "conforming readable code with RPL 3 loads into GS"
	TRY .l15
	mov ax, 0x04			; LDT selector while LDTR is null
	mov es, ax
	ENDTRY
.l15:	CHECK_EXC 13, 0x04, "an LDT selector with a null LDTR: #GP(selector)"
	; POP DS with a bad selector leaves ESP alone
	push dword S_NP
	mov [v_a], esp
	TRY .l16
.l16_insn:
	pop ds
	ENDTRY
.l16:	CHECK_EXC 11, S_NP, "POP DS of a not-present segment: #NP(selector)"
	mov eax, [exc_entry_esp]
	add eax, 16
	CHECK_EQ eax, [v_a], "... with ESP as before the POP (frame of 4 dwords below it)"
	CHECK_EQ dword [exc_eip], .l16_insn, "... and EIP at the POP"
	add esp, 4
	; LSS with a null selector
	mov dword [v_a], 0x1000
	mov word [v_a + 4], 0
	TRY .l17
	lss esp, [v_a]
	ENDTRY
.l17:	CHECK_EXC 13, 0, "LSS with a null selector: #GP(0)"
	mov word [v_a + 4], 0
	TRY .l18
	lds eax, [v_a]
	ENDTRY
.l18:	CHECK_NOEXC "LDS with a null selector is fine"
	mov ax, SEL_DATA32
	mov ds, ax

	; ---- the LDT ----
	mov ax, S_LDTD
	lldt ax
	xor eax, eax
	sldt ax
	CHECK_EQ eax, S_LDTD, "LLDT/SLDT"
	mov dword [0x100010], 0x1D71D7
	TRY .t1
	mov ax, 0x04
	mov es, ax
	mov eax, [es:0x10]
	ENDTRY
.t1:	CHECK_EQ eax, 0x1D71D7, "an LDT data segment loads and reads"
	TRY .t2
	mov ax, 0x24			; entry 4, beyond the LDT's limit 1Fh
	mov es, ax
	ENDTRY
.t2:	CHECK_EXC 13, 0x24, "a selector beyond the LDT limit: #GP(selector)"
	TRY .t3
	mov ax, S_TSSX
	lldt ax
	ENDTRY
.t3:	CHECK_EXC 13, S_TSSX, "LLDT of a TSS descriptor: #GP(selector)"
	xor eax, eax
	lldt ax

	; ---- accessed bits ----
	and byte [GDT_BASE + S_FRESH + 5], 0xFE
	mov ax, S_FRESH
	mov es, ax
	movzx eax, byte [GDT_BASE + S_FRESH + 5]
	CHECK_EQ eax, 0x93, "loading ES sets the accessed bit in the GDT"
	and byte [GDT_BASE + S_FRESHS + 5], 0xFE
	mov ax, ss
	mov bx, S_FRESHS
	mov ss, bx
	mov ss, ax
	movzx eax, byte [GDT_BASE + S_FRESHS + 5]
	CHECK_EQ eax, 0x93, "loading SS sets the accessed bit"
	and byte [GDT_BASE + S_FRESHC + 5], 0xFE
	jmp S_FRESHC:.acc
.acc:	jmp SEL_CODE32:.acc2
.acc2:	movzx eax, byte [GDT_BASE + S_FRESHC + 5]
	CHECK_EQ eax, 0x9B, "a far jump sets the accessed bit of the code segment"
	and byte [LDT + 5], 0xFE
	mov ax, S_LDTD
	lldt ax
	mov ax, 0x04
	mov es, ax
	movzx eax, byte [LDT + 5]
	CHECK_EQ eax, 0x93, "loading an LDT selector sets the accessed bit in the LDT"
	xor eax, eax
	lldt ax
	mov ax, SEL_DATA32
	mov es, ax

	; ---- limits ----
	mov ax, S_DATA
	mov es, ax
	mov dword [0x100FFC], 0xFEEDFACE
	TRY .m1
	mov eax, [es:0xFFC]
	ENDTRY
.m1:	CHECK_EQ eax, 0xFEEDFACE, "dword at the last 4 bytes below the limit reads"
	TRY .m2
	mov eax, [es:0xFFD]
	ENDTRY
.m2:	CHECK_EXC 13, 0, "dword crossing the limit: #GP(0)"
	TRY .m3
	mov al, [es:0x1000]
	ENDTRY
.m3:	CHECK_EXC 13, 0, "byte at limit+1: #GP(0)"
	TRY .m4
	mov ax, S_RO
	mov es, ax
	mov eax, [es:0]
	ENDTRY
.m4:	CHECK_NOEXC "reading a read-only data segment"
	TRY .m5
	mov byte [es:0], 1
	ENDTRY
.m5:	CHECK_EXC 13, 0, "writing a read-only data segment: #GP(0)"
	mov ax, S_GRAN
	mov es, ax
	TRY .m6
	mov al, [es:0xFFFF]
	ENDTRY
.m6:	CHECK_NOEXC "G=1, limit field Fh: offset FFFFh is inside"
	TRY .m7
	mov al, [es:0x10000]
	ENDTRY
.m7:	CHECK_EXC 13, 0, "G=1, limit field Fh: offset 10000h faults"
	; expand-down, B=0: valid offsets 1000h-FFFFh
	mov ax, S_ED16
	mov es, ax
	mov dword [0x201000], 0x0ED16
	TRY .e1
	mov eax, [es:0x1000]
	ENDTRY
.e1:	CHECK_EQ eax, 0x0ED16, "expand-down B=0: offset limit+1 reads"
	TRY .e2
	mov ax, [es:0xFFFE]
	ENDTRY
.e2:	CHECK_NOEXC "expand-down B=0: word at FFFEh"
	TRY .e3
	mov ax, [es:0xFFFF]
	ENDTRY
.e3:	CHECK_EXC 13, 0, "expand-down B=0: word at FFFFh crosses the 64 KiB top: #GP"
	TRY .e4
	mov al, [es:0xFFF]
	ENDTRY
.e4:	CHECK_EXC 13, 0, "expand-down B=0: offset at the limit: #GP"
	TRY .e5
	mov al, [es:0]
	ENDTRY
.e5:	CHECK_EXC 13, 0, "expand-down B=0: offset 0: #GP"
	TRY .e6
	mov al, [es:0x10000]
	ENDTRY
.e6:	CHECK_EXC 13, 0, "expand-down B=0: offset 10000h: #GP"
	; expand-down, B=1: valid offsets 1000h-FFFFFFFFh
	mov ax, S_ED32
	mov es, ax
	TRY .e7
	mov al, [es:0x10000]
	ENDTRY
.e7:	CHECK_NOEXC "expand-down B=1: offset 10000h is inside"
	mov dword [0x2FFFFC], 0xE0E0E0E0	; base 3 MiB + FFFFFFFCh wraps to 3 MiB - 4
	TRY .e8
	mov eax, [es:0xFFFFFFFC]
	ENDTRY
.e8:	CHECK_EQ eax, 0xE0E0E0E0, "expand-down B=1: dword at FFFFFFFCh reads (base wraps)"
	TRY .e9
	mov eax, [es:0xFFE]
	ENDTRY
.e9:	CHECK_EXC 13, 0, "expand-down B=1: dword straddling limit/limit+1: #GP"

	; ---- stacks ----
	mov [v_pm_esp], esp
	mov ax, S_STK16
	mov ss, ax
	mov esp, 0xABCD0010
	push word 0x1234
	push dword 0x55667788
	mov [ss:0x100], esp		; (SS base 4 MiB)
	pop eax
	pop ax
	mov ebx, esp
	mov ax, SEL_DATA32
	mov ss, ax
	mov esp, [v_pm_esp]
	CHECK_EQ dword [0x400100], 0xABCD000A, "16-bit stack (B=0): pushes move SP only, ESP[31:16] kept"
	CHECK_EQ ebx, 0xABCD0010, "16-bit stack: pops move SP back"
	CHECK_EQ dword [0x40000A], 0x55667788, "16-bit stack: data at SS.base + SP"
	mov ax, S_STK16
	mov ss, ax
	mov esp, 0x00000000
	push word 0x4321
	mov ebx, esp
	mov ax, SEL_DATA32
	mov ss, ax
	mov esp, [v_pm_esp]
	CHECK_EQ ebx, 0x0000FFFE, "16-bit stack: SP 0 wraps to FFFEh on PUSH"
	movzx eax, word [0x40FFFE]
	CHECK_EQ eax, 0x4321, "... and the word lands at FFFEh"
	; 32-bit stack with a limit
	mov ax, S_STK32
	TRY .s1
	mov ss, ax
	mov esp, 0x1000
	push dword 0x77
	mov ebx, esp
	mov eax, [ss:0x2000]		; beyond 1FFFh
	ENDTRY
.s1:	CHECK_EXC 12, 0, "SS access beyond its limit: #SS(0)"
	CHECK_EQ ebx, 0xFFC, "32-bit stack (B=1): PUSH moves ESP by 4"
	CHECK_EQ dword [0x400FFC], 0x77, "32-bit stack: data at SS.base + ESP"
	mov ax, S_STKED
	TRY .s2
	mov ss, ax
	mov esp, 0x3000
	push dword 0x99
	mov eax, [ss:0x800]		; below the expand-down limit
	ENDTRY
.s2:	CHECK_EXC 12, 0, "expand-down stack: access at or below the limit: #SS(0)"
	CHECK_EQ dword [0x502FFC], 0x99, "expand-down stack: PUSH above the limit works"

	; ---- LAR, LSL, VERR, VERW ----
	mov eax, 0xDEAD
	mov bx, S_DATA
	lar eax, bx
	CHECK e, "LAR of a data segment: ZF=1"
	CHECK_EQ eax, 0x00409300, "LAR: access rights masked with 00F0FF00h (accessed set)"
	mov bx, S_DATA
	lsl eax, bx
	CHECK_EQ eax, 0xFFF, "LSL: the byte limit"
	mov bx, S_GRAN
	lsl eax, bx
	CHECK_EQ eax, 0xFFFF, "LSL of a G=1 segment: the scaled limit"
	mov eax, 0x5A5A
	xor bx, bx
	lar eax, bx
	CHECK ne, "LAR of the null selector: ZF=0"
	CHECK_EQ eax, 0x5A5A, "... and the destination unchanged"
	mov bx, 0x800
	lar eax, bx
	CHECK ne, "LAR beyond the GDT limit: ZF=0"
	mov bx, S_TSSX
	lar eax, bx
	CHECK e, "LAR of a TSS: ZF=1"
	CHECK_EQ eax, 0x00008900, "LAR of a TSS: type 9"
	mov bx, S_TSSX
	lsl eax, bx
	CHECK_EQ eax, 0x67, "LSL of a TSS"
	mov bx, S_CGATE
	lar eax, bx
	CHECK e, "LAR of a call gate: ZF=1"
	mov bx, S_CGATE
	lsl eax, bx
	CHECK ne, "LSL of a call gate: ZF=0"
	mov bx, S_IGATE
	lar eax, bx
	CHECK ne, "LAR of an interrupt gate: ZF=0"
	mov bx, S_DATA | 3
	lar eax, bx
	CHECK ne, "LAR of DPL 0 data with RPL 3: ZF=0"
	mov bx, S_CONF0 | 3
	lar eax, bx
	CHECK e, "LAR of conforming code with RPL 3: ZF=1"
	mov word [v_a], S_DATA3
	lar eax, [v_a]
	CHECK e, "LAR with a memory operand"
	mov bx, S_XO
	verr bx
	CHECK ne, "VERR of execute-only code: ZF=0"
	mov bx, S_CODER
	verr bx
	CHECK e, "VERR of readable code: ZF=1"
	mov bx, S_RO
	verr bx
	CHECK e, "VERR of read-only data: ZF=1"
	mov bx, S_RO
	verw bx
	CHECK ne, "VERW of read-only data: ZF=0"
	mov bx, S_DATA
	verw bx
	CHECK e, "VERW of RW data: ZF=1"
	mov bx, S_CODER
	verw bx
	CHECK ne, "VERW of code: ZF=0"
	mov bx, S_NP
	lar eax, bx
	CHECK e, "LAR of a not-present segment: ZF=1"
	CHECK_EQ eax, 0x00401200, "... with P (and A) clear in the access rights"
	mov bx, S_TSSX
	verr bx
	CHECK ne, "VERR of a system descriptor: ZF=0"
	mov bx, S_DATA | 3
	verr bx
	CHECK ne, "VERR of DPL 0 data with RPL 3: ZF=0"

	; ---- ARPL ----
	mov dx, 0x0008
	mov cx, 0x0003
	arpl dx, cx
	CHECK e, "ARPL raising RPL: ZF=1"
	movzx eax, dx
	CHECK_EQ eax, 0x000B, "ARPL: destination RPL raised to 3"
	mov dx, 0x000B
	mov cx, 0x0001
	arpl dx, cx
	CHECK ne, "ARPL with RPL already higher: ZF=0"
	movzx eax, dx
	CHECK_EQ eax, 0x000B, "... destination unchanged"
	mov word [v_a], 0x0010
	mov cx, 0x0002
	arpl [v_a], cx
	movzx eax, word [v_a]
	CHECK_EQ eax, 0x0012, "ARPL with a memory destination"

	; ---- LTR of a busy TSS ----
	TRY .b1
	mov ax, SEL_TSS0
	ltr ax
	ENDTRY
.b1:	CHECK_EXC 13, SEL_TSS0, "LTR of a busy TSS: #GP(selector)"
	FINISH

; ---- helpers ----

far_callee:
	mov eax, [esp]
	mov [v_a], eax
	mov eax, [esp + 4]
	mov [v_b], eax
	retf

far_callee_ret8:
	retf 8

cg_target:
	mov eax, [esp]
	mov [v_a], eax
	mov eax, [esp + 4]
	mov [v_b], eax
	retf

	bits 16
func16:
	mov [dword v_c], esp
	mov [dword v_a], esp
	push ax
	mov [dword v_b], esp
	pop ax
	o32 retf
	bits 32

; Leaves protected mode through a 16-bit segment, checks real-mode
; addressing, and comes back (SDM vol. 3, 9.9.2).
real_round_trip:
	mov dword [v_marker], 0x52454D4F	; at linear 12340h
	mov [v_pm_esp], esp
	jmp SEL_CODE16:R(.to16)
	bits 16
.to16:
	mov ax, SEL_DATA16
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov eax, cr0
	and eax, ~1
	mov cr0, eax
	jmp 0xF000:R(.real)
.real:
	mov ax, 0x9000
	mov ss, ax
	mov esp, [v_pm_esp]		; DS still has the base 0 of SEL_DATA16
	sub esp, 0x90000
	xor ax, ax
	mov ds, ax
	mov ax, 0x1234
	mov es, ax
	mov eax, [es:0]
	CHECK_EQ16 eax, 0x52454D4F, "back in real mode: 1234:0000 is linear 12340h"
	smsw ax
	and eax, 1
	CHECK_EQ16 eax, 0, "back in real mode: PE is clear"
	mov ax, cs
	movzx eax, ax
	CHECK_EQ16 eax, 0xF000, "back in real mode: CS is F000"
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword SEL_CODE32:.back32
	bits 32
.back32:
	mov ax, SEL_DATA32
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, [v_pm_esp]
	xor eax, eax
	mov ax, cs
	CHECK_EQ eax, SEL_CODE32, "protected mode again after the round trip"
	ret

	GUEST_END

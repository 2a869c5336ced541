; The x87 through the core and the P6 feature set: FPU detection the way
; BIOSes and Linux do it (FNINIT, FNSTSW, FNSTCW), #NM from CR0.TS/EM/MP,
; #MF at the next waiting instruction with CR0.NE and IRQ13 without it,
; FXSAVE/FXRSTOR (alignment, MXCSR), CPUID bits against what works (FPU,
; DE, PSE, TSC, MSR, CX8, SEP, MTRR, PGE, CMOV, PAT, FXSR, and the absent
; PAE/VME/MMX/SSE), RDTSC, RDMSR/WRMSR (SYSENTER, PAT, MTRR, TSC, unknown
; MSRs), CMPXCHG8B. Intel SDM vol. 1 chapter 8, vol. 2 CPUID/CMPXCHG8B/
; FXSAVE, vol. 3 2.5 (CR0/CR4), 9.2 (FPU init), 11.11-11.12 (MTRR, PAT).
%include "lib.inc"

v_sw		equ 0x600
v_cw		equ 0x604
v_a		equ 0x608
v_b		equ 0x60C
v_cnt		equ 0x610
v_q		equ 0x620	; 8 bytes
v_env		equ 0x640	; 28 bytes
v_f		equ 0x680	; 10-byte reals
FXBUF		equ 0x8000	; 512 bytes, 16-aligned
FXBUF2		equ 0x8400

CPUID_FPU	equ 1 << 0
CPUID_VME	equ 1 << 1
CPUID_DE	equ 1 << 2
CPUID_PSE	equ 1 << 3
CPUID_TSC	equ 1 << 4
CPUID_MSR	equ 1 << 5
CPUID_PAE	equ 1 << 6
CPUID_CX8	equ 1 << 8
CPUID_SEP	equ 1 << 11
CPUID_MTRR	equ 1 << 12
CPUID_PGE	equ 1 << 13
CPUID_CMOV	equ 1 << 15
CPUID_PAT	equ 1 << 16
CPUID_MMX	equ 1 << 23
CPUID_FXSR	equ 1 << 24
CPUID_SSE	equ 1 << 25

; CHECK_BIT reg, mask, "text": passes when all bits of mask are set in reg
%macro CHECK_BIT 3
	push eax
	mov eax, %1
	and eax, %2
	cmp eax, %2
	pop eax
	CHECK e, %3
%endmacro

main32:
	PRINT "# cpu_x87_features: x87 via the core, #NM/#MF, FXSAVE, CPUID, MSRs, TSC, CMPXCHG8B"

	; ---- FPU detection as BIOSes and Linux do it ----
	mov eax, cr0
	and eax, 0x10
	CHECK_EQ eax, 0x10, "CR0.ET reads 1 (a 387-class FPU)"
	mov eax, cr0
	and eax, ~0x0C			; EM=0, TS=0
	or eax, 0x22			; MP=1, NE=1
	mov cr0, eax
	fninit
	mov word [v_sw], 0x5A5A
	fnstsw [v_sw]
	movzx eax, word [v_sw]
	CHECK_EQ eax, 0, "FNINIT; FNSTSW m16 stores 0 (an FPU is present)"
	mov ax, 0x5A5A
	fnstsw ax
	movzx eax, ax
	CHECK_EQ eax, 0, "FNSTSW AX after FNINIT: 0"
	fnstcw [v_cw]
	movzx eax, word [v_cw]
	CHECK_EQ eax, 0x037F, "FNSTCW after FNINIT: 037Fh"
	and eax, 0x103F
	CHECK_EQ eax, 0x003F, "Linux's test: (CW & 103Fh) == 3Fh"
	fld1
	fldpi
	faddp
	fistp dword [v_a]
	CHECK_EQ dword [v_a], 4, "FLD1 + FLDPI, FISTP rounds to 4"

	; ---- #NM ----
	mov eax, cr0
	or eax, 8			; TS
	mov cr0, eax
	TRY .nm1
	fld1
	ENDTRY
.nm1:	CHECK_EXC 7, -1, "CR0.TS=1: an x87 instruction raises #NM"
	call frame_size
	CHECK_EQ eax, 12, "#NM pushes no error code"
	TRY .nm2
	fwait
	ENDTRY
.nm2:	CHECK_EXC 7, -1, "CR0.TS=1, MP=1: FWAIT raises #NM"
	mov eax, cr0
	and eax, ~2			; MP=0
	mov cr0, eax
	TRY .nm3
	fwait
	ENDTRY
.nm3:	CHECK_NOEXC "CR0.TS=1, MP=0: FWAIT does not"
	TRY .nm4
	fxsave [FXBUF]
	ENDTRY
.nm4:	CHECK_EXC 7, -1, "CR0.TS=1: FXSAVE raises #NM"
	clts
	TRY .nm5
	fld1
	fstp st0
	ENDTRY
.nm5:	CHECK_NOEXC "after CLTS the FPU is usable"
	mov eax, cr0
	or eax, 4 | 2			; EM, MP
	mov cr0, eax
	TRY .nm6
	fld1
	ENDTRY
.nm6:	CHECK_EXC 7, -1, "CR0.EM=1: an x87 instruction raises #NM"
	TRY .nm7
	fwait
	ENDTRY
.nm7:	CHECK_NOEXC "CR0.EM=1, TS=0: FWAIT does not fault"
	mov eax, cr0
	and eax, ~4
	mov cr0, eax

	; ---- #MF with CR0.NE: raised at the next waiting instruction ----
	fninit
	mov word [v_cw], 0x037B		; unmask zero divide
	fldcw [v_cw]
	fld1
	fldz
.div:	fdivp st1, st0			; records ZE, ES; no exception yet
	fnstsw ax
	movzx eax, ax
	and eax, 0x80 | 0x04
	CHECK_EQ eax, 0x84, "an unmasked divide by zero sets ES and ZE"
	TRY .mf1
	nop
.mf_w:	fwait
	ENDTRY
.mf1:	CHECK_EXC 16, -1, "the next waiting instruction (FWAIT) raises #MF"
	CHECK_EQ dword [exc_eip], .mf_w, "#MF is reported at the FWAIT"
	call frame_size
	CHECK_EQ eax, 12, "#MF pushes no error code"
	TRY .mf2
	fld1
	ENDTRY
.mf2:	CHECK_EXC 16, -1, "while ES is set any waiting x87 instruction raises #MF"
	fnstenv [v_env]			; (also masks everything)
	CHECK_EQ dword [v_env + 12], .div, "FNSTENV: FIP is the FDIVP's address"
	movzx eax, word [v_env + 16]
	CHECK_EQ eax, SEL_CODE32, "FNSTENV: FCS"
	fnclex
	TRY .mf3
	fld1
	fstp st0
	fwait
	ENDTRY
.mf3:	CHECK_NOEXC "after FNCLEX no more #MF"
	fninit

	; ---- IRQ13 when CR0.NE=0 ----
	call irq13_test

	; ---- FXSAVE / FXRSTOR ----
	mov eax, cr4
	or eax, 0x200			; OSFXSR
	mov cr4, eax
	fninit
	mov word [v_cw], 0x027F		; 53-bit precision, all masked
	fldcw [v_cw]
	fld1
	fldpi
	fldl2t
	mov edi, FXBUF
	mov ecx, 128
	mov eax, 0xEEEEEEEE
	rep stosd
	fxsave [FXBUF]
	movzx eax, word [FXBUF]
	CHECK_EQ eax, 0x027F, "FXSAVE: FCW at offset 0"
	movzx eax, word [FXBUF + 2]
	and eax, 0x3800
	CHECK_EQ eax, 5 << 11, "FXSAVE: FSW at offset 2 with TOP=5"
	movzx eax, byte [FXBUF + 4]
	CHECK_EQ eax, 0xE0, "FXSAVE: abridged tag byte, physical registers 5-7 valid"
	; (bytes 24-31, MXCSR and its mask, are reserved on a P6 without SSE)
	CHECK_EQ dword [FXBUF + 64 + 4], 0x80000000, "FXSAVE: ST2 = 1.0 at offset 64 (mantissa)"
	movzx eax, word [FXBUF + 64 + 8]
	CHECK_EQ eax, 0x3FFF, "FXSAVE: ST2's sign and exponent"
	fninit
	fxrstor [FXBUF]
	fnstcw [v_cw]
	movzx eax, word [v_cw]
	CHECK_EQ eax, 0x027F, "FXRSTOR restores FCW"
	fstp st0			; L2T
	fldpi
	fsubp				; pi - pi
	ftst
	fnstsw ax
	and ax, 0x4500
	movzx eax, ax
	CHECK_EQ eax, 0x4000, "FXRSTOR restores the register stack (ST1 = pi)"
	fninit
	TRY .fx1
	fxsave [FXBUF + 8]
	ENDTRY
.fx1:	CHECK_EXC 13, 0, "FXSAVE to a misaligned address: #GP(0)"
	TRY .fx2
	fxrstor [FXBUF + 4]
	ENDTRY
.fx2:	CHECK_EXC 13, 0, "FXRSTOR from a misaligned address: #GP(0)"
	fninit

	; ---- CPUID ----
	xor eax, eax
	cpuid
	mov [v_a], eax
	CHECK_EQ ebx, 'Genu', "CPUID 0: vendor GenuineIntel (EBX)"
	CHECK_EQ edx, 'ineI', "CPUID 0: EDX"
	CHECK_EQ ecx, 'ntel', "CPUID 0: ECX"
	cmp dword [v_a], 1
	CHECK ae, "CPUID 0: the highest basic leaf is at least 1"
	mov eax, 1
	cpuid
	mov [v_b], edx
	shr eax, 8
	and eax, 0xF
	CHECK_EQ eax, 6, "CPUID 1: family 6"
	mov edx, [v_b]
	CHECK_BIT edx, CPUID_FPU, "CPUID 1: FPU"
	CHECK_BIT edx, CPUID_DE, "CPUID 1: DE"
	CHECK_BIT edx, CPUID_PSE, "CPUID 1: PSE"
	CHECK_BIT edx, CPUID_TSC, "CPUID 1: TSC"
	CHECK_BIT edx, CPUID_MSR, "CPUID 1: MSR"
	CHECK_BIT edx, CPUID_CX8, "CPUID 1: CX8"
	CHECK_BIT edx, CPUID_SEP, "CPUID 1: SEP"
	CHECK_BIT edx, CPUID_MTRR, "CPUID 1: MTRR"
	CHECK_BIT edx, CPUID_PGE, "CPUID 1: PGE"
	CHECK_BIT edx, CPUID_CMOV, "CPUID 1: CMOV"
	CHECK_BIT edx, CPUID_PAT, "CPUID 1: PAT"
	CHECK_BIT edx, CPUID_FXSR, "CPUID 1: FXSR"
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000004
	CHECK ae, "CPUID 80000000h: the brand-string leaves exist"
	mov eax, 0x80000002
	cpuid
	test al, al
	CHECK nz, "CPUID 80000002h: a brand string"
	; what is not advertised must not work
	mov edx, [v_b]
	test edx, CPUID_PAE
	jnz .no_pae_test
	mov eax, cr4
	or eax, 0x20
	TRY .pae
	mov cr4, eax
	ENDTRY
.pae:	CHECK_EXC 13, 0, "PAE not advertised: setting CR4.PAE raises #GP(0)"
.no_pae_test:
	test edx, CPUID_VME
	jnz .no_vme_test
	mov eax, cr4
	or eax, 1
	TRY .vme
	mov cr4, eax
	ENDTRY
.vme:	CHECK_EXC 13, 0, "VME not advertised: setting CR4.VME raises #GP(0)"
.no_vme_test:
	test edx, CPUID_MMX
	jnz .no_mmx_test
	TRY .mmx
	emms
	ENDTRY
.mmx:	CHECK_EXC 6, -1, "MMX not advertised: EMMS raises #UD"
.no_mmx_test:
	test edx, CPUID_SSE
	jnz .no_sse_test
	TRY .sse
	xorps xmm0, xmm0
	ENDTRY
.sse:	CHECK_EXC 6, -1, "SSE not advertised: XORPS raises #UD (even with CR4.OSFXSR)"
.no_sse_test:
	; and what is advertised works
	mov eax, 5
	mov ebx, 7
	cmp eax, eax
	cmovz eax, ebx
	CHECK_EQ eax, 7, "CMOV: CMOVZ moves when ZF=1"
	cmp eax, 0
	cmovz eax, ebx
	mov ebx, 9
	cmovnz eax, ebx
	CHECK_EQ eax, 9, "CMOV: CMOVNZ"
	mov eax, cr4
	or eax, 8			; DE
	mov cr4, eax
	TRY .de1
	mov eax, dr4
	ENDTRY
.de1:	CHECK_EXC 6, -1, "CR4.DE=1: MOV from DR4 raises #UD"
	mov eax, cr4
	and eax, ~8
	mov cr4, eax
	mov eax, dr6
	mov ebx, dr4
	CHECK_EQ ebx, eax, "CR4.DE=0: DR4 is an alias of DR6"
	mov eax, cr4
	or eax, 0x80 | 0x10
	mov cr4, eax
	mov ebx, cr4
	and ebx, 0x90
	CHECK_EQ ebx, 0x90, "CR4.PGE and CR4.PSE can be set"
	and eax, ~0x90
	mov cr4, eax

	; ---- control registers ----
	mov eax, cr0
	mov ebx, eax
	and eax, ~1
	or eax, 0x80000000		; PG without PE
	TRY .cr1
	mov cr0, eax
	ENDTRY
.cr1:	CHECK_EXC 13, 0, "MOV CR0 with PG=1, PE=0: #GP(0)"
	mov eax, ebx
	or eax, 0x20000000		; NW without CD
	and eax, ~0x40000000
	TRY .cr2
	mov cr0, eax
	ENDTRY
.cr2:	CHECK_EXC 13, 0, "MOV CR0 with NW=1, CD=0: #GP(0)"
	mov eax, cr4
	or eax, 0x800			; bit 11: reserved
	TRY .cr3
	mov cr4, eax
	ENDTRY
.cr3:	CHECK_EXC 13, 0, "MOV CR4 with a reserved bit: #GP(0)"
	TRY .cr4
	mov eax, cr5
	ENDTRY
.cr4:	CHECK_EXC 6, -1, "MOV from CR5: #UD"
	mov eax, 0x12345678
	mov cr2, eax
	mov ebx, cr2
	CHECK_EQ ebx, 0x12345678, "CR2 is writable"
	mov eax, cr0
	mov [v_a], eax
	mov ax, 0x000E			; LMSW: PE=0 (ignored), MP, EM, TS
	lmsw ax
	mov eax, cr0
	and eax, 0xF
	CHECK_EQ eax, 0xF, "LMSW sets MP/EM/TS and cannot clear PE"
	mov eax, [v_a]
	mov cr0, eax
	clts

	; ---- TSC and MSRs ----
	rdtsc
	mov [v_q], eax
	mov [v_q + 4], edx
	mov ecx, 1000
.spin:	loop .spin
	rdtsc
	sub eax, [v_q]
	sbb edx, [v_q + 4]
	or eax, edx
	CHECK nz, "RDTSC increases"
	mov ecx, 0x10
	xor eax, eax
	mov edx, 0x100
	wrmsr
	rdtsc
	CHECK_EQ edx, 0x100, "WRMSR 10h sets the TSC (high dword read back by RDTSC)"
	mov ecx, 0x10
	rdmsr
	CHECK_EQ edx, 0x100, "RDMSR 10h reads the TSC"
	mov ecx, 0x277
	rdmsr
	CHECK_EQ eax, 0x00070406, "PAT at reset: low dword 00070406h"
	CHECK_EQ edx, 0x00070406, "PAT at reset: high dword 00070406h"
	mov eax, 0x01040506
	mov edx, 0x00000007
	wrmsr
	rdmsr
	CHECK_EQ eax, 0x01040506, "WRMSR/RDMSR PAT"
	mov eax, 0x00000002		; type 2 is reserved
	TRY .pat
	wrmsr
	ENDTRY
.pat:	CHECK_EXC 13, 0, "WRMSR PAT with a reserved memory type: #GP(0)"
	mov ecx, 0xFE
	rdmsr
	and eax, 0xFF
	cmp eax, 1
	CHECK ae, "MTRRcap: at least one variable-range MTRR"
	mov ecx, 0x200
	mov eax, 0x00100006
	xor edx, edx
	wrmsr
	mov ecx, 0x201
	mov eax, 0xFFF00800
	mov edx, 0
	wrmsr
	mov ecx, 0x200
	rdmsr
	CHECK_EQ eax, 0x00100006, "MTRRphysBase0 reads back"
	mov ecx, 0x201
	rdmsr
	CHECK_EQ eax, 0xFFF00800, "MTRRphysMask0 reads back"
	mov ecx, 0x2FF
	mov eax, 0xC06
	xor edx, edx
	wrmsr
	rdmsr
	CHECK_EQ eax, 0xC06, "MTRRdefType reads back"
	mov ecx, 0x250
	mov eax, 0x06060606
	mov edx, 0x06060606
	wrmsr
	rdmsr
	CHECK_EQ edx, 0x06060606, "MTRRfix64K_00000 reads back"
	mov ecx, 0x174
	mov eax, 0x1234
	xor edx, edx
	wrmsr
	rdmsr
	CHECK_EQ eax, 0x1234, "SYSENTER_CS reads back"
	mov ecx, 0x12345678
	TRY .msr1
	rdmsr
	ENDTRY
.msr1:	CHECK_EXC 13, 0, "RDMSR of an unknown MSR: #GP(0)"
	mov ecx, 0xC0000080		; EFER: no long mode on this CPU
	TRY .msr2
	rdmsr
	ENDTRY
.msr2:	CHECK_EXC 13, 0, "RDMSR of EFER on a CPU without NX/long mode: #GP(0)"

	; ---- CMPXCHG8B ----
	mov dword [v_q], 0x11112222
	mov dword [v_q + 4], 0x33334444
	mov eax, 0x11112222
	mov edx, 0x33334444
	mov ebx, 0xAAAABBBB
	mov ecx, 0xCCCCDDDD
	cmpxchg8b [v_q]
	CHECK e, "CMPXCHG8B equal: ZF=1"
	CHECK_EQ dword [v_q], 0xAAAABBBB, "... memory low = EBX"
	CHECK_EQ dword [v_q + 4], 0xCCCCDDDD, "... memory high = ECX"
	mov eax, 0
	mov edx, 0
	lock cmpxchg8b [v_q]
	CHECK ne, "CMPXCHG8B not equal: ZF=0"
	CHECK_EQ eax, 0xAAAABBBB, "... EAX = memory low"
	CHECK_EQ edx, 0xCCCCDDDD, "... EDX = memory high"
	CHECK_EQ dword [v_q], 0xAAAABBBB, "... memory unchanged"
	TRY .cx
	db 0x0F, 0xC7, 0xC8		; CMPXCHG8B with a register operand
	ENDTRY
.cx:	CHECK_EXC 6, -1, "CMPXCHG8B with a register operand: #UD"
	FINISH

frame_size:
	mov eax, [exc_esp]
	sub eax, [exc_entry_esp]
	ret

; With CR0.NE=0 an unmasked x87 exception is reported through FERR#, which
; the PC wires to IRQ13 (slave 8259A, IR5).
h_irq13:
	inc dword [v_cnt]
	push eax
	fnclex
	xor al, al
	out 0xF0, al			; release the FPU's busy/IGNNE latch
	mov al, 0x20
	out 0xA0, al
	out 0x20, al
	pop eax
	iretd

irq13_test:
	mov al, 0x11
	out 0x20, al
	out 0xA0, al
	mov al, 0x20
	out 0x21, al
	mov al, 0x28
	out 0xA1, al
	mov al, 0x04
	out 0x21, al
	mov al, 0x02
	out 0xA1, al
	mov al, 0x01
	out 0x21, al
	out 0xA1, al
	mov al, 0xFB			; master: only the cascade
	out 0x21, al
	mov al, 0xDF			; slave: only IR5 (IRQ13)
	out 0xA1, al
	GATE 0x2D, h_irq13, GATE_INT
	mov eax, cr0
	and eax, ~0x20			; NE=0
	mov cr0, eax
	mov dword [v_cnt], 0
	fninit
	mov word [v_cw], 0x037B
	fldcw [v_cw]
	fld1
	fldz
	fdivp st1, st0
	sti
	fwait
	mov ecx, 1000			; interrupts are asynchronous: give it time
.w:	cmp dword [v_cnt], 0
	jne .got
	loop .w
.got:	cli
	CHECK_EQ dword [v_cnt], 1, "CR0.NE=0: the pending x87 exception raises IRQ13, not #MF"
	mov al, 0xFF
	out 0x21, al
	out 0xA1, al
	mov eax, cr0
	or eax, 0x20
	mov cr0, eax
	fninit
	ret

	GUEST_END

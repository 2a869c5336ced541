; Interrupts and exceptions in protected mode: interrupt vs trap gates and
; IF, 16-bit gates, which vectors push error codes (8, 10-14, 17) and which
; EIP faults and traps leave, #DE/#DB/#BP/#OF/#BR/#UD, not-present gates
; (#NP with the IDT error-code format index*8+2+EXT), an IDT limit that is
; too small, bad gate types and selectors, double faults (#GP or #PF while
; delivering #GP or #PF), a #DF task gate as Linux i386 uses it (back link,
; NT, TR, CR3 of the handler task), an external interrupt at vector 8 (no
; error code), and a triple fault that resets the machine. Intel SDM vol. 3
; chapter 6 (6.3, 6.12-6.15, table 6-5), chapter 7 (task gates).
%include "lib.inc"

S_TSSDF		equ 0x40	; the #DF handler task
S_NPCODE	equ 0x48	; a code segment that is not present
S_DATA		equ 0x50
TSS_DF		equ 0x5000
STACK_DF	equ 0x6F000
PD1		equ 0x10000
PD2		equ 0x11000

v_hfl		equ 0x600	; EFLAGS inside a handler
v_hframe	equ 0x604	; 3 dwords
v_hesp		equ 0x610	; ESP at handler entry
v_cnt		equ 0x614
v_df_tr		equ 0x620	; what the #DF task saw
v_df_fl		equ 0x624
v_df_link	equ 0x628
v_df_cr3	equ 0x62C
v_df_err	equ 0x630
v_df_busy0	equ 0x634
v_df_busy1	equ 0x638
v_df_ran	equ 0x63C
v_esp		equ 0x640
v_marker	equ 0x644

main32:
	PRINT "# cpu_interrupts: gates, error codes, #NP/#GP on delivery, #DF, task gate, triple fault"

	; ---- interrupt gate vs trap gate ----
	GATE 0x40, h_record, GATE_INT
	GATE 0x41, h_record, GATE_TRAP
	sti
	mov [v_esp], esp
	int 0x40
.ret40:
	pushfd
	pop ebx
	cli
	mov eax, [v_hfl]
	and eax, 0x200
	CHECK_EQ eax, 0, "interrupt gate: the handler runs with IF=0"
	CHECK_EQ dword [v_hframe], .ret40, "INT n pushes the EIP after the instruction"
	CHECK_EQ dword [v_hframe + 4], SEL_CODE32, "INT n pushes CS"
	mov eax, [v_hframe + 8]
	and eax, 0x200
	CHECK_EQ eax, 0x200, "INT n pushes EFLAGS with IF=1"
	mov eax, [v_esp]
	sub eax, [v_hesp]
	CHECK_EQ eax, 12, "same privilege: a frame of 3 dwords (no SS:ESP)"
	and ebx, 0x200
	CHECK_EQ ebx, 0x200, "IRET restores IF"
	sti
	int 0x41
	cli
	mov eax, [v_hfl]
	and eax, 0x200
	CHECK_EQ eax, 0x200, "trap gate: the handler runs with IF unchanged (1)"
	; TF and NT are cleared for the handler too
	pushfd
	or dword [esp], 0x4000		; NT (IRET would take the task path:
	popfd				;  clear it before the handler returns)
	GATE 0x42, h_record_clear_nt, GATE_INT
	int 0x42
	mov eax, [v_hfl]
	and eax, 0x4000
	CHECK_EQ eax, 0, "an interrupt gate clears NT for the handler"
	mov eax, [v_hframe + 8]
	and eax, 0x4000
	CHECK_EQ eax, 0x4000, "... and pushes EFLAGS with NT set"

	; ---- a 16-bit interrupt gate ----
	mov eax, 0x43
	mov ebx, R(h16)
	mov ecx, SEL_CODE16
	mov edx, 0x86			; 16-bit interrupt gate, DPL 0
	call set_gate
	mov [v_esp], esp
	int 0x43
.ret43:
	mov esp, [v_esp]		; h16 jumps back here without IRET
	mov eax, [v_esp]
	sub eax, [v_hesp]
	CHECK_EQ eax, 6, "16-bit interrupt gate: a frame of 3 words"
	movzx eax, word [v_hframe]
	CHECK_EQ eax, LIN(.ret43) & 0xFFFF, "16-bit gate: the low 16 bits of EIP pushed"
	movzx eax, word [v_hframe + 2]
	CHECK_EQ eax, SEL_CODE32, "16-bit gate: CS pushed as a word"

	; ---- exceptions: vectors, error codes, EIP of faults and traps ----
	; The frame size tells whether an error code was pushed:
	; exc_esp (ESP at TRY) - exc_entry_esp = 12 or 16.
	xor ecx, ecx
	TRY .de
.de_i:	div ecx
	ENDTRY
.de:	CHECK_EXC 0, -1, "DIV by 0: #DE"
	CHECK_EQ dword [exc_eip], .de_i, "#DE is a fault: EIP of the DIV"
	call frame_size
	CHECK_EQ eax, 12, "#DE pushes no error code"
	mov eax, 0x80000000
	cdq
	mov ecx, -1
	TRY .de2
	idiv ecx
	ENDTRY
.de2:	CHECK_EXC 0, -1, "IDIV 80000000h / -1 overflows: #DE"
	TRY .db
	icebp
.db_n:	ENDTRY
.db:	CHECK_EXC 1, -1, "ICEBP (F1): #DB"
	CHECK_EQ dword [exc_eip], .db_n, "ICEBP: EIP after it (a trap)"
	; single-step: TF set by POPF traps after the following instruction
	TRY .ss
	pushfd
	or dword [esp], 0x100
	popfd
	nop
.ss_n:	nop
	ENDTRY
.ss:	CHECK_EXC 1, -1, "TF=1: single-step #DB"
	CHECK_EQ dword [exc_eip], .ss_n, "single-step #DB after the instruction following POPF"
	mov eax, dr6
	and eax, 0x4000
	CHECK_EQ eax, 0x4000, "DR6.BS set by a single-step trap"
	mov eax, [exc_eflags]
	and eax, 0x100
	CHECK_EQ eax, 0x100, "the #DB frame holds TF=1"
	TRY .bp
	int3
.bp_n:	ENDTRY
.bp:	CHECK_EXC 3, -1, "INT3: #BP"
	CHECK_EQ dword [exc_eip], .bp_n, "INT3 is a trap: EIP after it"
	call frame_size
	CHECK_EQ eax, 12, "#BP pushes no error code"
	TRY .bp2
	db 0xCD, 0x03			; INT 3 in the two-byte form
.bp2_n:	ENDTRY
.bp2:	CHECK_EXC 3, -1, "INT 3 (CD 03): vector 3"
	CHECK_EQ dword [exc_eip], .bp2_n, "CD 03: EIP after both bytes"
	mov al, 0x7F
	add al, 1
	TRY .of
	into
.of_n:	ENDTRY
.of:	CHECK_EXC 4, -1, "INTO with OF=1: #OF"
	CHECK_EQ dword [exc_eip], .of_n, "INTO is a trap: EIP after it"
	mov dword [v_esp], 0
	mov dword [v_esp + 4], 9
	mov eax, 10
	TRY .br
.br_i:	bound eax, [v_esp]
	ENDTRY
.br:	CHECK_EXC 5, -1, "BOUND out of range: #BR"
	CHECK_EQ dword [exc_eip], .br_i, "#BR is a fault"
	mov eax, 9
	TRY .br2
	bound eax, [v_esp]
	ENDTRY
.br2:	CHECK_NOEXC "BOUND at the upper bound: no exception"
	TRY .ud
.ud_i:	ud2
	ENDTRY
.ud:	CHECK_EXC 6, -1, "UD2: #UD"
	CHECK_EQ dword [exc_eip], .ud_i, "#UD is a fault"
	call frame_size
	CHECK_EQ eax, 12, "#UD pushes no error code"
	TRY .ud2
	db 0xF0, 0x90			; LOCK NOP
	ENDTRY
.ud2:	CHECK_EXC 6, -1, "LOCK NOP: #UD"
	TRY .ud3
	db 0x0F, 0x01, 0xD8		; VMRUN: not a P6 instruction
	ENDTRY
.ud3:	CHECK_EXC 6, -1, "an opcode the CPU does not have: #UD"
	; #TS: IRET with NT=1 to a back link beyond the GDT
	mov word [TSS0], 0x800
	TRY .ts
	pushfd
	or dword [esp], 0x4000
	popfd
.ts_i:	iretd
	ENDTRY
.ts:	mov word [TSS0], 0
	CHECK_EXC 10, 0x800, "IRET with NT to a back link beyond the GDT: #TS(link)"
	CHECK_EQ dword [exc_eip], .ts_i, "#TS at the IRET"
	call frame_size
	CHECK_EQ eax, 16, "#TS pushes an error code"
	DESC S_NPCODE, 0, 0xFFFFF, 0xC18
	TRY .np
	mov ax, S_NPCODE
	mov es, ax
	ENDTRY
.np:	CHECK_EXC 13, S_NPCODE, "not-present execute-only code into ES: #GP, the type is checked first"
	DESC S_NPCODE, 0, 0xFFFFF, 0x412
	TRY .np2
	mov ax, S_NPCODE
	mov es, ax
	ENDTRY
.np2:	CHECK_EXC 11, S_NPCODE, "not-present data into ES: #NP(selector)"
	call frame_size
	CHECK_EQ eax, 16, "#NP pushes an error code"
	DESC S_DATA, 0, 0xFFF, 0x492
	TRY .ssf
	mov ax, S_DATA
	mov ss, ax
	mov esp, 0x800
	mov eax, [ss:0x1000]
	ENDTRY
.ssf:	CHECK_EXC 12, 0, "SS access beyond the limit: #SS(0)"
	mov eax, 0x800
	sub eax, [exc_entry_esp]
	CHECK_EQ eax, 16, "#SS pushes an error code"
	TRY .gp
	mov eax, cr1
	ENDTRY
.gp:	CHECK_EXC 6, -1, "MOV from CR1: #UD"
	TRY .gp2
	mov ax, 0x7FF8 | 4
	mov ds, ax
	ENDTRY
.gp2:	CHECK_EXC 13, 0x7FFC, "a selector beyond the (null) LDT: #GP(selector)"
	call frame_size
	CHECK_EQ eax, 16, "#GP pushes an error code"
	mov ecx, 0x12345
	TRY .gp3
	wrmsr				; ECX = 0x7FFC: no such MSR
	ENDTRY
.gp3:	CHECK_EXC 13, 0, "WRMSR to an unknown MSR: #GP(0)"

	; #PF with paging, then #AC from ring 3
	PAGING_ON_PSE PD1
	TRY .pf
.pf_i:	mov eax, [0x1234567]
	ENDTRY
.pf:	CHECK_EXC 14, 0, "read of an unmapped page: #PF(0)"
	CHECK_EQ dword [exc_cr2], 0x1234567, "CR2 holds the faulting address"
	CHECK_EQ dword [exc_eip], .pf_i, "#PF is a fault"
	call frame_size
	CHECK_EQ eax, 16, "#PF pushes an error code"
	PAGING_OFF
	mov eax, cr0
	or eax, 0x40000			; CR0.AM
	mov cr0, eax
	TRY .ac
	TO_RING3 .ac_r3, 0x40002	; EFLAGS.AC
.ac_r3:	mov eax, [STACK3 - 0x103]
	RING0_RETURN
	ENDTRY
.ac:	mov eax, cr0
	and eax, ~0x40000
	mov cr0, eax
	CHECK_EXC 17, 0, "misaligned ring-3 read with CR0.AM and EFLAGS.AC: #AC(0)"
	mov eax, STACK0_INT
	sub eax, [exc_entry_esp]
	CHECK_EQ eax, 24, "#AC from ring 3 pushes an error code (and SS:ESP)"

	TRY .ac2
	TO_RING3 .ac2_r3, 0x00002
.ac2_r3: mov eax, [STACK3 - 0x103]
	RING0_RETURN
	ENDTRY
.ac2:	CHECK_EXC 0x7F, -1, "with CR0.AM clear the same read does not fault"

	; ---- debug registers: breakpoints raise #DB ----
	xor eax, eax
	mov dr6, eax
	mov eax, dr6
	CHECK_EQ eax, 0xFFFF0FF0, "DR6 written with 0 reads FFFF0FF0h (reserved bits 1)"
	xor eax, eax
	mov dr7, eax
	mov eax, dr7
	CHECK_EQ eax, 0x400, "DR7 written with 0 reads 400h"
	mov eax, .bp_x
	mov dr0, eax
	mov eax, 0x00000001		; L0, execute, length 1
	mov dr7, eax
	TRY .hb1
	nop
.bp_x:	nop
	ENDTRY
.hb1:	xor eax, eax
	mov dr7, eax
	CHECK_EXC 1, -1, "an instruction breakpoint (DR0, DR7.L0): #DB"
	CHECK_EQ dword [exc_eip], .bp_x, "... a fault: EIP of the instruction"
	mov eax, dr6
	and eax, 1
	CHECK_EQ eax, 1, "... DR6.B0 set"
	xor eax, eax
	mov dr6, eax
	mov eax, v_marker
	mov dr1, eax
	mov eax, 0x00D00004		; L1, write, 4 bytes
	mov dr7, eax
	TRY .hb2
	mov dword [v_marker], 1
.hb2_n:	nop
	ENDTRY
.hb2:	xor eax, eax
	mov dr7, eax
	CHECK_EXC 1, -1, "a data write breakpoint (DR1, RW=01): #DB"
	CHECK_EQ dword [exc_eip], .hb2_n, "... a trap: EIP after the write"
	mov eax, 0x2400			; GD
	mov dr7, eax
	TRY .hb3
.gd_i:	mov eax, dr0
	ENDTRY
.hb3:	CHECK_EXC 1, -1, "DR7.GD: a MOV from a debug register raises #DB"
	CHECK_EQ dword [exc_eip], .gd_i, "... a fault at the MOV"
	xor eax, eax
	mov dr7, eax			; (GD is cleared on #DB entry when it works)
	mov dr6, eax

	; ---- not-present gates, IDT limit, bad gates ----
	GATE 0x50, h_record, GATE_INT & 0x7F
	TRY .n1
	int 0x50
	ENDTRY
.n1:	CHECK_EXC 11, 0x50 * 8 + 2, "INT 50h with a not-present gate: #NP(50h*8+2)"
	mov eax, 6
	mov ebx, [stub_table + 6 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	TRY .n2
	ud2
	ENDTRY
.n2:	mov eax, 6
	call restore_gate
	CHECK_EXC 11, 6 * 8 + 3, "#UD through a not-present gate: #NP(6*8+2+EXT)"
	lidt [idt_small]
	TRY .n3
	int 0x50
	ENDTRY
.n3:	lidt [idt_pseudo]
	CHECK_EXC 13, 0x50 * 8 + 2, "INT 50h beyond the IDT limit: #GP(50h*8+2)"
	lidt [idt_small]
	TRY .n3b
	db 0x8E, 0xC8			; MOV CS: #UD is vector 6, inside the limit
	ENDTRY
.n3b:	lidt [idt_pseudo]
	CHECK_EXC 6, -1, "an exception inside a small IDT's limit is delivered"
	mov dword [IDT_BASE + 0x51 * 8], 0
	mov dword [IDT_BASE + 0x51 * 8 + 4], 0x00009200	; a data descriptor
	TRY .n4
	int 0x51
	ENDTRY
.n4:	CHECK_EXC 13, 0x51 * 8 + 2, "INT to an IDT entry that is no gate: #GP(51h*8+2)"
	mov eax, 0x52
	mov ebx, h_record
	mov ecx, SEL_DATA32
	mov edx, GATE_INT
	call set_gate
	TRY .n5
	int 0x52
	ENDTRY
.n5:	CHECK_EXC 13, SEL_DATA32, "a gate to a data segment: #GP(selector)"
	mov eax, 0x53
	mov ebx, h_record
	mov ecx, S_NPCODE
	mov edx, GATE_INT
	DESC S_NPCODE, 0, 0xFFFFF, 0xC1A
	call set_gate
	TRY .n6
	int 0x53
	ENDTRY
.n6:	CHECK_EXC 11, S_NPCODE, "a gate to a not-present code segment: #NP(selector)"

	; ---- double faults ----
	mov eax, 13
	mov ebx, [stub_table + 13 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	TRY .d1
	mov ax, 0x800
	mov ds, ax			; #GP, whose gate is not present: #NP -> #DF
	ENDTRY
.d1:	CHECK_EXC 8, 0, "#NP while delivering #GP: #DF with error code 0"
	call frame_size
	CHECK_EQ eax, 16, "#DF pushes an error code"
	mov eax, 13
	mov ebx, [stub_table + 13 * 4]
	mov ecx, 0x800			; beyond the GDT
	mov edx, GATE_INT
	call set_gate
	TRY .d2
	mov ax, 0x800
	mov ds, ax
	ENDTRY
.d2:	mov eax, 13
	call restore_gate
	CHECK_EXC 8, 0, "#GP while delivering #GP: #DF"
	mov eax, 6
	mov ebx, [stub_table + 6 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	TRY .d3
	ud2
	ENDTRY
.d3:	mov eax, 6
	call restore_gate
	CHECK_EXC 11, 6 * 8 + 3, "#NP while delivering #UD (benign): no #DF"
	PAGING_ON_PSE PD1
	mov eax, 14
	mov ebx, [stub_table + 14 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	TRY .d4
	mov eax, [0x2000000]
	ENDTRY
.d4:	mov eax, 14
	call restore_gate
	PAGING_OFF
	CHECK_EXC 8, 0, "#NP while delivering #PF: #DF"
	mov eax, 13
	mov ebx, [stub_table + 13 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	TRY .d5
	int 0x50			; #NP (gate not present) ...
	ENDTRY
.d5:	mov eax, 13
	call restore_gate
	CHECK_EXC 11, 0x50 * 8 + 2, "#NP from INT n with #GP's gate missing: still just #NP"

	; ---- #DF through a task gate ----
	call df_task_test

	; ---- an external interrupt at vector 8 pushes no error code ----
	call irq_vector8_test

	; ---- triple fault: the machine resets and boots again ----
	mov dword [v_marker], 0x7121E
	mov dword [v_reset_resume], after_reset
	PRINT "# now a triple fault; the next line comes after the reset"
	lidt [idt_empty]
	int3
	PRINT "not ok - no reset after a triple fault"
	inc dword [v_nfail]
	FINISH
after_reset:
	CHECK_EQ dword [v_boots], 2, "a triple fault reset the machine: the reset vector ran again"
	CHECK_EQ dword [v_marker], 0x7121E, "RAM survives the reset"
	mov eax, cr0
	CHECK_EQ eax, 0x60000011, "CR0 after the reset and PM entry: reset value + PE"
	FINISH

; ---- helpers ----

; EAX = size of the exception frame: ESP at TRY - ESP at handler entry
frame_size:
	mov eax, [exc_esp]
	sub eax, [exc_entry_esp]
	ret

h_record:
	mov [v_hesp], esp
	push eax
	pushfd
	pop eax
	mov [v_hfl], eax
	mov eax, [esp + 4]
	mov [v_hframe], eax
	mov eax, [esp + 8]
	mov [v_hframe + 4], eax
	mov eax, [esp + 12]
	mov [v_hframe + 8], eax
	pop eax
	iretd

h_record_clear_nt:
	mov [v_hesp], esp
	push eax
	pushfd
	pop eax
	mov [v_hfl], eax
	mov eax, [esp + 12]
	mov [v_hframe + 8], eax
	and dword [esp + 12], ~0x4000
	pop eax
	iretd

	bits 16
h16:	mov [dword v_hesp], esp
	mov ax, [esp]
	mov [dword v_hframe], ax
	mov ax, [esp + 2]
	mov [dword v_hframe + 2], ax
	jmp dword SEL_CODE32:main32.ret43
	bits 32

; The #DF handler as a task: a TSS with its own stack and CR3; the IDT
; entry 8 is a task gate. A #GP whose gate is missing double-faults.
df_task_test:
	PAGING_ON_PSE PD1
	mov esi, PD1			; PD2: the same mappings elsewhere
	mov edi, PD2
	mov ecx, 1024
	rep movsd
	mov edi, TSS_DF
	mov ecx, 0x68 / 4
	xor eax, eax
	rep stosd
	mov dword [TSS_DF + 0x1C], PD2		; CR3
	mov dword [TSS_DF + 0x20], df_task	; EIP
	mov dword [TSS_DF + 0x24], 2		; EFLAGS
	mov dword [TSS_DF + 0x38], STACK_DF	; ESP
	mov dword [TSS_DF + 0x48], SEL_DATA32	; ES
	mov dword [TSS_DF + 0x4C], SEL_CODE32	; CS
	mov dword [TSS_DF + 0x50], SEL_DATA32	; SS
	mov dword [TSS_DF + 0x54], SEL_DATA32	; DS
	mov word [TSS_DF + 0x66], 0x68
	mov dword [TSS0 + 0x1C], PD1		; CR3 of the first task
	DESC S_TSSDF, TSS_DF, 0x67, 0x089
	mov dword [IDT_BASE + 8 * 8], S_TSSDF << 16
	mov dword [IDT_BASE + 8 * 8 + 4], 0x8500
	mov eax, 13
	mov ebx, [stub_table + 13 * 4]
	mov ecx, SEL_CODE32
	mov edx, GATE_INT & 0x7F
	call set_gate
	mov dword [v_df_ran], 0
	mov [v_esp], esp
	mov ebx, 0xB0B0B0B0
	mov ebp, 0xB9B9B9B9
	mov ax, 0x800
	mov ds, ax			; -> #GP -> #NP -> #DF task; it returns
	; to df_back by rewriting the old task's EIP in TSS0
df_back:
	clts				; a task switch sets CR0.TS
	mov ax, SEL_DATA32
	mov ds, ax
	mov es, ax
	mov eax, 13
	call restore_gate
	mov eax, 8
	call restore_gate
	mov esp, [v_esp]
	CHECK_EQ dword [v_df_ran], 1, "#DF through a task gate ran the handler task"
	CHECK_EQ dword [v_df_tr], S_TSSDF, "in the #DF task TR is its TSS"
	mov eax, [v_df_fl]
	and eax, 0x4000
	CHECK_EQ eax, 0x4000, "in the #DF task EFLAGS.NT=1"
	CHECK_EQ dword [v_df_link], SEL_TSS0, "the #DF TSS's back link is the interrupted task"
	CHECK_EQ dword [v_df_cr3], PD2, "CR3 was loaded from the #DF TSS"
	CHECK_EQ dword [v_df_err], 0, "the #DF error code 0 is pushed on the task's stack"
	CHECK_EQ dword [v_df_busy0], 0x8B, "the interrupted task's TSS stays busy"
	CHECK_EQ dword [v_df_busy1], 0x8B, "the #DF task's TSS is busy"
	CHECK_EQ dword [TSS0 + 0x34], 0xB0B0B0B0, "the old task's EBX saved in its TSS"
	CHECK_EQ dword [TSS0 + 0x3C], 0xB9B9B9B9, "the old task's EBP saved in its TSS"
	mov eax, [TSS0 + 0x54]
	and eax, 0xFFFF
	CHECK_EQ eax, SEL_DATA32, "the old task's DS (before the faulting load) saved"
	xor eax, eax
	str ax
	CHECK_EQ eax, SEL_TSS0, "IRET from the #DF task returned to the first task"
	pushfd
	pop eax
	and eax, 0x4000
	CHECK_EQ eax, 0, "... with NT clear"
	mov eax, cr3
	CHECK_EQ eax, PD1, "... and CR3 of the first task"
	movzx eax, byte [GDT_BASE + S_TSSDF + 5]
	CHECK_EQ eax, 0x89, "... and the #DF TSS no longer busy"
	PAGING_OFF
	ret

df_task:
	pop dword [v_df_err]
	xor eax, eax
	str ax
	mov [v_df_tr], eax
	pushfd
	pop dword [v_df_fl]
	movzx eax, word [TSS_DF]
	mov [v_df_link], eax
	mov eax, cr3
	mov [v_df_cr3], eax
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	mov [v_df_busy0], eax
	movzx eax, byte [GDT_BASE + S_TSSDF + 5]
	mov [v_df_busy1], eax
	mov dword [v_df_ran], 1
	mov dword [TSS0 + 0x20], df_back	; the old task resumes there
	iretd

; PIC with IRQ0 at vector 8 (the real-mode BIOS layout): in protected
; mode the CPU must not treat it as #DF and push no error code.
h_irq8:
	mov [v_hesp], esp
	inc dword [v_cnt]
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

irq_vector8_test:
	GATE 8, h_irq8, GATE_INT
	mov al, 0x11
	out 0x20, al
	mov al, 0x08
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
	mov dword [v_cnt], 0
	mov [v_esp], esp
	sti
	hlt
	cli
	mov al, 0xFF
	out 0x21, al
	mov al, 0x30
	out 0x43, al
	mov eax, 8
	call restore_gate
	cmp dword [v_cnt], 1
	CHECK ae, "IRQ0 at vector 8 reached its handler"
	mov eax, [v_esp]
	sub eax, [v_hesp]
	CHECK_EQ eax, 12, "an external interrupt at vector 8 pushes no error code"
	ret

idt_small:
	dw 0x1FF		; vectors 0-3Fh
	dd IDT_BASE
idt_empty:
	dw 0
	dd 0

	GUEST_END

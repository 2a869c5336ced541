; Hardware task switches with 32-bit TSSs: CALL and JMP to a TSS and
; through a task gate (in the GDT and in the IDT), IRET with NT back along
; the back link, busy bits, NT, and the whole state saved into the old TSS
; and loaded from the new one (GPRs, EFLAGS, EIP, segment selectors, LDT,
; CR3, CR0.TS), a suspended task resuming where it left off, and the
; faults of a task switch: busy or non-busy targets, a TSS limit below
; 67h, a TSS not present, a bad CS in the new TSS (raised in the new
; task), and the TSS T (trap) bit. Intel SDM vol. 3 chapter 7 (7.2-7.4,
; table 7-2 and 7-3).
%include "lib.inc"

S_TSSB		equ 0x40
S_TSSC		equ 0x48
S_TGATE		equ 0x50	; task gate to S_TSSB
S_DATA_B	equ 0x58	; flat data (another selector)
S_DATA_B2	equ 0x60	; data, base 1 MiB
S_LDT_B		equ 0x68
S_TSS_SMALL	equ 0x70	; limit 60h
S_TSS_NP	equ 0x78	; not present
S_TSS_BADCS	equ 0x80	; its CS field is a data selector
S_TSS_T		equ 0x88	; its T bit is set
S_TSS16		equ 0x90	; a 16-bit TSS
TSS16		equ 0x5600
r16		equ 0x7E0	; what the 16-bit task records (words)

TSS_B		equ 0x5000
TSS_C		equ 0x5100
TSS_X		equ 0x5200
TSS_T		equ 0x5300
LDT_B		equ 0x5400
STACK_B		equ 0x6E000
STACK_C		equ 0x6D000
PD_A		equ 0x10000
PD_B		equ 0x11000

; what task B records on each entry
rb		equ 0x700
rb_eax		equ rb + 0x00
rb_ecx		equ rb + 0x04
rb_edx		equ rb + 0x08
rb_ebx		equ rb + 0x0C
rb_esp		equ rb + 0x10
rb_ebp		equ rb + 0x14
rb_esi		equ rb + 0x18
rb_edi		equ rb + 0x1C
rb_fl		equ rb + 0x20
rb_cs		equ rb + 0x24
rb_ss		equ rb + 0x28
rb_ds		equ rb + 0x2C
rb_es		equ rb + 0x30
rb_fs		equ rb + 0x34
rb_gs		equ rb + 0x38
rb_tr		equ rb + 0x3C
rb_ldtr		equ rb + 0x40
rb_cr3		equ rb + 0x44
rb_cr0		equ rb + 0x48
rb_link		equ rb + 0x4C
rb_busy_a	equ rb + 0x50
rb_busy_b	equ rb + 0x54
rb_count	equ rb + 0x58
rb_a_eip	equ rb + 0x5C
rb_a_fl		equ rb + 0x60
rb_a_ebx	equ rb + 0x64
rb_ldtval	equ rb + 0x68
rb_mapped	equ rb + 0x6C
rb_a_esp	equ rb + 0x70
rb_a_state	equ rb + 0x80	; TSS0 bytes 20h-63h as B saw them
rb_end		equ rb + 0xD0
rc_busy_a	equ 0x680
rc_fl		equ 0x684
rc_link		equ 0x688
rc_ran		equ 0x68C
v_esp		equ 0x690

; init_tss: EDI base, EAX EIP, EBX ESP; flat ring-0 segments, EFLAGS 2,
; CR3 PD_A, no LDT, no I/O bitmap
init_tss:
	pushad
	push edi
	push eax
	mov ecx, 0x68 / 4
	xor eax, eax
	rep stosd
	pop eax
	pop edi
	mov [edi + 0x20], eax
	mov [edi + 0x38], ebx
	mov dword [edi + 0x1C], PD_A
	mov dword [edi + 0x24], 2
	mov dword [edi + 0x48], SEL_DATA32
	mov dword [edi + 0x4C], SEL_CODE32
	mov dword [edi + 0x50], SEL_DATA32
	mov dword [edi + 0x54], SEL_DATA32
	mov dword [edi + 0x58], SEL_DATA32
	mov dword [edi + 0x5C], SEL_DATA32
	mov word [edi + 0x66], 0x68
	popad
	ret

; after a test that left the CPU in another task: TR back on TSS0
repair_tasks:
	pop eax				; return address (the stack stays ours)
	and byte [GDT_BASE + SEL_TSS0 + 5], ~2
	and byte [GDT_BASE + S_TSSB + 5], ~2
	and byte [GDT_BASE + S_TSSC + 5], ~2
	and byte [GDT_BASE + S_TSS_BADCS + 5], ~2
	and byte [GDT_BASE + S_TSS_T + 5], ~2
	push eax
	mov ax, SEL_TSS0
	ltr ax
	xor eax, eax
	lldt ax
	mov eax, PD_A
	mov cr3, eax
	clts
	ret

main32:
	PRINT "# cpu_tasks: hardware task switches, TSS state, busy bits, NT, task gates"
	PAGING_ON_PSE PD_A
	mov esi, PD_A
	mov edi, PD_B
	mov ecx, 1024
	rep movsd
	mov dword [PD_B + 16], 0x400000 | 0x83	; linear 16 MiB -> 4 MiB, in B only
	mov dword [0x400000], 0xB0DE
	mov dword [TSS0 + 0x1C], PD_A
	DESC S_DATA_B, 0, 0xFFFFF, 0xC92
	DESC S_DATA_B2, 0x100000, 0xFFFFF, 0x492
	DESC S_LDT_B, LDT_B, 0xF, 0x082
	DESC_AT LDT_B, 0x100000, 0xFFF, 0x492	; selector 04h in B's LDT
	mov dword [0x100020], 0x1D7B
	; task B: distinct registers, flags, segments, LDT and CR3
	mov edi, TSS_B
	mov eax, task_b
	mov ebx, STACK_B
	call init_tss
	mov dword [TSS_B + 0x24], 0x8D7	; OF DF SF ZF AF PF CF, bit 1
	mov dword [TSS_B + 0x28], 0x11111111
	mov dword [TSS_B + 0x2C], 0x22222222
	mov dword [TSS_B + 0x30], 0x33333333
	mov dword [TSS_B + 0x34], 0x44444444
	mov dword [TSS_B + 0x3C], 0x66666666
	mov dword [TSS_B + 0x40], 0x77777777
	mov dword [TSS_B + 0x44], 0x88888888
	mov dword [TSS_B + 0x54], S_DATA_B
	mov dword [TSS_B + 0x58], S_DATA_B2
	mov dword [TSS_B + 0x5C], 0
	mov dword [TSS_B + 0x60], S_LDT_B
	mov dword [TSS_B + 0x1C], PD_B
	DESC S_TSSB, TSS_B, 0x67, 0x089
	mov edi, TSS_C
	mov eax, task_c
	mov ebx, STACK_C
	call init_tss
	DESC S_TSSC, TSS_C, 0x67, 0x089
	mov dword [GDT_BASE + S_TGATE], S_TSSB << 16
	mov dword [GDT_BASE + S_TGATE + 4], 0x8500
	mov edi, rb
	mov ecx, (rb_end - rb) / 4
	xor eax, eax
	rep stosd

	; ---- CALL to a TSS ----
	mov eax, 0xA0A0A0A0
	mov ecx, 0xA1A1A1A1
	mov edx, 0xA2A2A2A2
	mov ebx, 0xA3A3A3A3
	mov ebp, 0xA5A5A5A5
	mov esi, 0xA6A6A6A6
	mov edi, 0xA7A7A7A7
	mov [v_esp], esp
	stc
	call S_TSSB:0x12345678		; the offset is ignored
.after_call:
	pushfd
	mov [0x6A0], eax
	mov [0x6A4], ecx
	mov [0x6A8], edx
	mov [0x6AC], ebx
	mov [0x6B4], ebp
	mov [0x6B8], esi
	mov [0x6BC], edi
	pop eax
	mov [0x6C0], eax
	mov ecx, esp
	CHECK_EQ dword [rb_count], 1, "CALL to a TSS ran task B"
	CHECK_EQ dword [rb_eax], 0x11111111, "task B: EAX loaded from its TSS"
	CHECK_EQ dword [rb_ecx], 0x22222222, "task B: ECX"
	CHECK_EQ dword [rb_edx], 0x33333333, "task B: EDX"
	CHECK_EQ dword [rb_ebx], 0x44444444, "task B: EBX"
	CHECK_EQ dword [rb_esp], STACK_B, "task B: ESP"
	CHECK_EQ dword [rb_ebp], 0x66666666, "task B: EBP"
	CHECK_EQ dword [rb_esi], 0x77777777, "task B: ESI"
	CHECK_EQ dword [rb_edi], 0x88888888, "task B: EDI"
	CHECK_EQ dword [rb_fl], 0x48D7, "task B: EFLAGS from its TSS, plus NT (CALL)"
	CHECK_EQ dword [rb_cs], SEL_CODE32, "task B: CS"
	CHECK_EQ dword [rb_ss], SEL_DATA32, "task B: SS"
	CHECK_EQ dword [rb_ds], S_DATA_B, "task B: DS"
	CHECK_EQ dword [rb_fs], S_DATA_B2, "task B: FS"
	CHECK_EQ dword [rb_gs], 0, "task B: GS null"
	CHECK_EQ dword [rb_tr], S_TSSB, "task B: TR"
	CHECK_EQ dword [rb_ldtr], S_LDT_B, "task B: LDTR from its TSS"
	CHECK_EQ dword [rb_ldtval], 0x1D7B, "task B: a selector of its LDT works"
	CHECK_EQ dword [rb_cr3], PD_B, "task B: CR3 from its TSS"
	CHECK_EQ dword [rb_mapped], 0xB0DE, "task B: its page directory maps 16 MiB"
	CHECK_EQ dword [rb_cr0], 8, "a task switch sets CR0.TS"
	CHECK_EQ dword [rb_link], SEL_TSS0, "CALL writes the back link"
	CHECK_EQ dword [rb_busy_a], 0x8B, "CALL: the calling task stays busy"
	CHECK_EQ dword [rb_busy_b], 0x8B, "CALL: the new task is busy"
	CHECK_EQ dword [rb_a_eip], .after_call, "the old TSS holds EIP after the CALL"
	CHECK_EQ dword [rb_a_ebx], 0xA3A3A3A3, "the old TSS holds the caller's EBX"
	mov eax, [v_esp]
	CHECK_EQ dword [rb_a_esp], eax, "the old TSS holds the caller's ESP"
	mov eax, [rb_a_fl]
	and eax, 0x4001
	CHECK_EQ eax, 1, "the old TSS holds the caller's EFLAGS (CF=1, NT=0)"
	CHECK_EQ dword [rb_a_state + 0x08], 0xA0A0A0A0, "the old TSS holds EAX"
	CHECK_EQ dword [rb_a_state + 0x0C], 0xA1A1A1A1, "the old TSS holds ECX"
	CHECK_EQ dword [rb_a_state + 0x10], 0xA2A2A2A2, "the old TSS holds EDX"
	CHECK_EQ dword [rb_a_state + 0x1C], 0xA5A5A5A5, "the old TSS holds EBP"
	CHECK_EQ dword [rb_a_state + 0x20], 0xA6A6A6A6, "the old TSS holds ESI"
	CHECK_EQ dword [rb_a_state + 0x24], 0xA7A7A7A7, "the old TSS holds EDI"
	movzx eax, word [rb_a_state + 0x28]
	CHECK_EQ eax, SEL_DATA32, "the old TSS holds ES"
	movzx eax, word [rb_a_state + 0x2C]
	CHECK_EQ eax, SEL_CODE32, "the old TSS holds CS"
	movzx eax, word [rb_a_state + 0x30]
	CHECK_EQ eax, SEL_DATA32, "the old TSS holds SS"
	movzx eax, word [rb_a_state + 0x34]
	CHECK_EQ eax, SEL_DATA32, "the old TSS holds DS"
	movzx eax, word [rb_a_state + 0x38]
	CHECK_EQ eax, SEL_DATA32, "the old TSS holds FS"
	movzx eax, word [rb_a_state + 0x3C]
	CHECK_EQ eax, SEL_DATA32, "the old TSS holds GS"
	; back in A after B's IRET
	CHECK_EQ dword [0x6A0], 0xA0A0A0A0, "IRET back: EAX restored from the old TSS"
	CHECK_EQ dword [0x6A4], 0xA1A1A1A1, "... ECX"
	CHECK_EQ dword [0x6A8], 0xA2A2A2A2, "... EDX"
	CHECK_EQ dword [0x6AC], 0xA3A3A3A3, "... EBX"
	CHECK_EQ dword [0x6B4], 0xA5A5A5A5, "... EBP"
	CHECK_EQ dword [0x6B8], 0xA6A6A6A6, "... ESI"
	CHECK_EQ dword [0x6BC], 0xA7A7A7A7, "... EDI"
	mov eax, [v_esp]
	CHECK_EQ ecx, eax, "... ESP"
	mov eax, [0x6C0]
	and eax, 0x4001
	CHECK_EQ eax, 1, "... EFLAGS: CF=1 kept, NT=0"
	xor eax, eax
	str ax
	CHECK_EQ eax, SEL_TSS0, "... TR"
	mov eax, cr3
	CHECK_EQ eax, PD_A, "... CR3 from the first TSS"
	xor eax, eax
	sldt ax
	CHECK_EQ eax, 0, "... LDTR from the first TSS (none)"
	movzx eax, byte [GDT_BASE + S_TSSB + 5]
	CHECK_EQ eax, 0x89, "IRET clears the busy bit of the task it leaves"
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	CHECK_EQ eax, 0x8B, "the returned-to task is busy"
	CHECK_EQ dword [TSS_B + 0x28], 0xB0B0, "B's state saved at its IRET: EAX"
	CHECK_EQ dword [TSS_B + 0x20], task_b.resume, "B's saved EIP is after its IRET"
	mov eax, [TSS_B + 0x24]
	and eax, 0x4000
	CHECK_EQ eax, 0, "B's saved EFLAGS has NT cleared (IRET)"
	clts

	; ---- a suspended task resumes: CALL through a task gate ----
	call S_TGATE:0
	CHECK_EQ dword [rb_count], 2, "CALL through a task gate resumes B"
	CHECK_EQ dword [rb_eax], 0xB0B0, "B resumed after its IRET with the EAX it had there"
	CHECK_EQ dword [rb_link], SEL_TSS0, "the back link again"
	clts

	; ---- INT through a task gate in the IDT ----
	mov dword [IDT_BASE + 0x40 * 8], S_TSSB << 16
	mov dword [IDT_BASE + 0x40 * 8 + 4], 0x8500
	mov [v_esp], esp
	int 0x40
	mov eax, esp
	CHECK_EQ dword [rb_count], 3, "INT 40h through a task gate runs B"
	CHECK_EQ eax, [v_esp], "... pushing nothing on the interrupted task's stack"
	mov eax, [rb_fl]
	and eax, 0x4000
	CHECK_EQ eax, 0x4000, "... B runs with NT=1"
	mov eax, 0x40
	call restore_gate
	clts

	; ---- JMP to a TSS and back ----
	mov dword [rc_ran], 0
	jmp S_TSSC:0
.after_jmp:
	CHECK_EQ dword [rc_ran], 1, "JMP to a TSS ran task C"
	CHECK_EQ dword [rc_busy_a], 0x89, "JMP clears the busy bit of the task left"
	mov eax, [rc_fl]
	and eax, 0x4000
	CHECK_EQ eax, 0, "JMP does not set NT"
	CHECK_EQ dword [rc_link], 0, "JMP does not write the back link"
	movzx eax, byte [GDT_BASE + S_TSSC + 5]
	CHECK_EQ eax, 0x89, "C's JMP back cleared C's busy bit"
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	CHECK_EQ eax, 0x8B, "... and set A's"
	CHECK_EQ dword [TSS_C + 0x20], task_c.back, "C's TSS saved its EIP after its JMP"
	clts

	; ---- a 16-bit TSS ----
	mov edi, TSS16
	mov ecx, 0x2C / 4
	xor eax, eax
	rep stosd
	mov word [TSS16 + 0x0E], R(task16)	; IP
	mov word [TSS16 + 0x10], 0x0002 | 0x01	; FLAGS (CF)
	mov word [TSS16 + 0x12], 0x1601		; AX
	mov word [TSS16 + 0x14], 0x1602		; CX
	mov word [TSS16 + 0x16], 0x1603		; DX
	mov word [TSS16 + 0x18], 0x1604		; BX
	mov word [TSS16 + 0x1A], 0xE000		; SP
	mov word [TSS16 + 0x1C], 0x1606		; BP
	mov word [TSS16 + 0x1E], 0x1607		; SI
	mov word [TSS16 + 0x20], 0x1608		; DI
	mov word [TSS16 + 0x22], SEL_DATA16	; ES
	mov word [TSS16 + 0x24], SEL_CODE16	; CS
	mov word [TSS16 + 0x26], SEL_DATA16	; SS
	mov word [TSS16 + 0x28], SEL_DATA16	; DS
	DESC S_TSS16, TSS16, 0x2B, 0x081
	mov edi, r16
	mov ecx, 8
	xor eax, eax
	rep stosd
	mov ebx, 0xA3A3A3A3
	call S_TSS16:0
	mov [0x6C4], ebx
	CHECK_EQ dword [0x6C4], 0xA3A3A3A3, "back from a 16-bit task: EBX of the 32-bit task restored"
	movzx eax, word [r16 + 0]
	CHECK_EQ eax, 0x1601, "16-bit task: AX from its TSS"
	movzx eax, word [r16 + 2]
	CHECK_EQ eax, 0x1604, "16-bit task: BX"
	movzx eax, word [r16 + 4]
	CHECK_EQ eax, 0xE000, "16-bit task: SP"
	movzx eax, word [r16 + 6]
	CHECK_EQ eax, 0x4003, "16-bit task: FLAGS from its TSS plus NT"
	movzx eax, word [r16 + 8]
	CHECK_EQ eax, SEL_CODE16, "16-bit task: CS"
	movzx eax, word [r16 + 10]
	CHECK_EQ eax, S_TSS16, "16-bit task: TR"
	movzx eax, word [r16 + 12]
	CHECK_EQ eax, SEL_TSS0, "16-bit task: the back link in its TSS"
	movzx eax, word [TSS16 + 0x12]
	CHECK_EQ eax, 0x6116, "the 16-bit TSS saved AX at the task's IRET"
	movzx eax, word [TSS16 + 0x28]
	CHECK_EQ eax, SEL_DATA16, "the 16-bit TSS saved DS"
	movzx eax, byte [GDT_BASE + S_TSS16 + 5]
	CHECK_EQ eax, 0x81, "the 16-bit TSS is available again (type 1)"
	xor eax, eax
	str ax
	CHECK_EQ eax, SEL_TSS0, "TR is the 32-bit task's again"
	clts

	; ---- faults of task switches ----
	TRY .x1
	call SEL_TSS0:0
	ENDTRY
.x1:	CHECK_EXC 13, SEL_TSS0, "CALL to a busy TSS (the current one): #GP(selector)"
	TRY .x2
	jmp SEL_TSS0:0
	ENDTRY
.x2:	CHECK_EXC 13, SEL_TSS0, "JMP to a busy TSS: #GP(selector)"
	mov word [TSS0], S_TSSC
	TRY .x3
	pushfd
	or dword [esp], 0x4000
	popfd
	iretd
	ENDTRY
.x3:	mov word [TSS0], 0
	CHECK_EXC 10, S_TSSC, "IRET with NT to a back link that is not busy: #TS(link)"
	DESC S_TSS_SMALL, TSS_C, 0x60, 0x089
	TRY .x4
	call S_TSS_SMALL:0
	ENDTRY
.x4:	CHECK_EXC 10, S_TSS_SMALL, "a TSS limit below 67h: #TS(selector)"
	DESC S_TSS_NP, TSS_C, 0x67, 0x009
	TRY .x5
	jmp S_TSS_NP:0
	ENDTRY
.x5:	CHECK_EXC 11, S_TSS_NP, "a TSS that is not present: #NP(selector)"
	xor eax, eax
	str ax
	CHECK_EQ eax, SEL_TSS0, "... the switch did not happen"
	TRY .x6
	mov ax, S_TSSB
	mov ds, ax
	ENDTRY
.x6:	CHECK_EXC 13, S_TSSB, "a TSS selector into DS: #GP(selector)"
	; a bad CS in the new TSS faults after the switch, in the new task
	mov edi, TSS_X
	mov eax, task_c
	mov ebx, STACK_C
	call init_tss
	mov dword [TSS_X + 0x4C], S_DATA_B
	DESC S_TSS_BADCS, TSS_X, 0x67, 0x089
	TRY .x7
	call S_TSS_BADCS:0
	ENDTRY
.x7:	xor eax, eax
	str ax
	mov [0x6C4], eax
	movzx eax, word [TSS_X]
	mov [0x6C8], eax
	call repair_tasks
	CHECK_EXC 10, S_DATA_B, "a data selector as CS in the new TSS: #TS(selector)"
	CHECK_EQ dword [0x6C4], S_TSS_BADCS, "... raised in the new task (TR is the new TSS)"
	CHECK_EQ dword [0x6C8], SEL_TSS0, "... whose back link was already written"
	CHECK_EQ dword [exc_eip], task_c, "... with the new task's EIP in the frame"
	; the T bit: #DB in the new task before its first instruction
	mov edi, TSS_T
	mov eax, task_c
	mov ebx, STACK_C
	call init_tss
	mov word [TSS_T + 0x64], 1
	DESC S_TSS_T, TSS_T, 0x67, 0x089
	mov dword [rc_ran], 0
	TRY .x8
	call S_TSS_T:0
	ENDTRY
.x8:	xor eax, eax
	str ax
	mov [0x6C4], eax
	call repair_tasks
	CHECK_EXC 1, -1, "the TSS T bit: #DB on the switch"
	CHECK_EQ dword [exc_eip], task_c, "... before the new task's first instruction"
	PAGING_OFF
	FINISH

; ---- task B: records what it sees, IRETs back, resumes after the IRET ----
task_b:
	mov [rb_eax], eax
	mov [rb_ecx], ecx
	mov [rb_edx], edx
	mov [rb_ebx], ebx
	mov [rb_esp], esp
	mov [rb_ebp], ebp
	mov [rb_esi], esi
	mov [rb_edi], edi
	pushfd
	pop dword [rb_fl]
	mov [rb_cs], cs
	mov [rb_ss], ss
	mov [rb_ds], ds
	mov [rb_es], es
	mov [rb_fs], fs
	mov [rb_gs], gs
	str word [rb_tr]
	sldt word [rb_ldtr]
	mov eax, cr3
	mov [rb_cr3], eax
	mov eax, cr0
	and eax, 8
	mov [rb_cr0], eax
	movzx eax, word [TSS_B]
	mov [rb_link], eax
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	mov [rb_busy_a], eax
	movzx eax, byte [GDT_BASE + S_TSSB + 5]
	mov [rb_busy_b], eax
	mov eax, [TSS0 + 0x20]
	mov [rb_a_eip], eax
	mov eax, [TSS0 + 0x24]
	mov [rb_a_fl], eax
	mov eax, [TSS0 + 0x34]
	mov [rb_a_ebx], eax
	mov eax, [TSS0 + 0x38]
	mov [rb_a_esp], eax
	mov esi, TSS0 + 0x20
	mov edi, rb_a_state
	mov ecx, (0x64 - 0x20) / 4
	rep movsd
	mov ax, 0x04
	mov es, ax
	mov eax, [es:0x20]
	mov [rb_ldtval], eax
	mov eax, [0x1000000]
	mov [rb_mapped], eax
	inc dword [rb_count]
	mov eax, 0xB0B0
	iretd
.resume:
	jmp task_b

; ---- the 16-bit task: records, IRETs back (16-bit code, CS base F0000h) ----
	bits 16
task16:
	mov [r16 + 0], ax
	mov [r16 + 2], bx
	mov [r16 + 4], sp
	pushf
	pop word [r16 + 6]
	mov [r16 + 8], cs
	str word [r16 + 10]
	mov ax, [TSS16]
	mov [r16 + 12], ax
	mov ax, 0x6116
	iret
	jmp task16
	bits 32

; ---- task C: JMP back to A ----
task_c:
	mov dword [rc_ran], 1
	movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
	mov [rc_busy_a], eax
	pushfd
	pop dword [rc_fl]
	movzx eax, word [TSS_C]
	mov [rc_link], eax
	jmp SEL_TSS0:0
.back:	jmp task_c

	GUEST_END

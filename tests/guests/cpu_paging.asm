; Paging from the inside: 4 KiB pages and 4 MiB pages (CR4.PSE, and PS
; ignored without it), accessed and dirty bits written back to PDE/PTE,
; page-fault error codes (P, W/R, U/S, RSVD) and CR2 for every kind of
; access, CR0.WP at CPL 0, what INVLPG, CR3 writes and CR4.PGE changes
; must make visible (only guaranteed behaviour: a TLB may cache more, so
; stale entries are never required), and self-modifying code: stores to an
; instruction ahead in the same block, code copied and run, and code
; changed through another linear alias of its physical page. Intel SDM
; vol. 3 chapter 4 (4.3, 4.7, 4.8, 4.10) and 8.1.3.
%include "lib.inc"

PD		equ 0x20000
PT0		equ 0x21000	; identity map of 0-4 MiB, 4 KiB pages
PT1		equ 0x22000	; linear 4-8 MiB: the test mappings
PD_B		equ 0x23000	; a second page directory
PT1_B		equ 0x24000
PHYS1		equ 0x300000
PHYS2		equ 0x301000
PHYS3		equ 0x302000	; code reached through two aliases
SMC_RAM		equ 0x30000	; code copied to RAM
LIN		equ 0x400000	; PT1[n] maps LIN + n * 4 KiB

P		equ 1
W		equ 2
U		equ 4
A		equ 0x20
D		equ 0x40
PS		equ 0x80
G		equ 0x100

v_val		equ 0x600
v_esp		equ 0x604

; MAP n, pte: PT1 entry n, then INVLPG of its linear address
%macro MAP 2
	mov dword [PT1 + (%1) * 4], %2
	invlpg [LIN + (%1) * 0x1000]
%endmacro

; ring-3 access that must fault: UPF {instruction}, error, address, "text"
%macro UPF 4
	TRY %%done
	TO_RING3 %%r3, 0x2
%%r3:	%1
	RING0_RETURN
%%done:	CHECK_EXC 14, %2, %4
	CHECK_EQ dword [exc_cr2], %3, "... CR2"
%endmacro

main32:
	PRINT "# cpu_paging: 4K/4M pages, A/D bits, #PF codes, WP, INVLPG/CR3/PGE, self-modifying code"
	; identity map 0-4 MiB, user and writable; PDE 0 -> PT0, PDE 1 -> PT1,
	; PDE 2: a 4 MiB page at linear 8 MiB -> physical 12 MiB,
	; PDE 3: a 4 MiB identity page at 12 MiB; the rest not present
	mov edi, PD
	xor eax, eax
	mov ecx, 3 * 1024
	rep stosd			; PD, PT0, PT1
	mov edi, PT0
	mov eax, P | W | U
.id:	stosd
	add eax, 0x1000
	cmp edi, PT0 + 4096
	jb .id
	mov dword [PD + 0], PT0 | P | W | U
	mov dword [PD + 4], PT1 | P | W | U
	mov dword [PD + 8], 0xC00000 | PS | P | W | U
	mov dword [PD + 12], 0xC00000 | PS | P | W | U
	mov eax, cr4
	or eax, 0x10			; PSE
	mov cr4, eax
	mov eax, PD
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	mov eax, cr0
	and eax, 0x80000001
	CHECK_EQ eax, 0x80000001, "paging on: CR0.PG and PE set"
	mov eax, cr3
	CHECK_EQ eax, PD, "CR3 reads back"

	; ---- 4 KiB translation, accessed and dirty bits ----
	mov dword [PHYS1], 0x11111111
	mov dword [PHYS2], 0x22222222
	and dword [PD + 4], ~A
	MAP 0, PHYS1 | P | W
	CHECK_EQ dword [LIN], 0x11111111, "a 4 KiB page maps linear 4 MiB to physical 3 MiB"
	mov eax, [PT1]
	and eax, A | D
	CHECK_EQ eax, A, "a read sets A in the PTE, not D"
	mov eax, [PD + 4]
	and eax, A
	CHECK_EQ eax, A, "... and A in the PDE"
	mov dword [LIN + 4], 0x5A5A5A5A
	mov eax, [PT1]
	and eax, A | D
	CHECK_EQ eax, A | D, "a write after a read sets D (the TLB entry was read-only)"
	CHECK_EQ dword [PHYS1 + 4], 0x5A5A5A5A, "the write reached physical memory"
	MAP 1, PHYS2 | P | W
	mov dword [LIN + 0x1000 + 8], 0x77
	mov eax, [PT1 + 4]
	and eax, A | D
	CHECK_EQ eax, A | D, "a first write sets both A and D"
	; 4 MiB pages
	and dword [PD + 8], ~(A | D)
	mov eax, cr3
	mov cr3, eax
	mov dword [0xC00010], 0x4444
	CHECK_EQ dword [0x800010], 0x4444, "a 4 MiB page maps linear 8 MiB to physical 12 MiB"
	mov eax, [PD + 8]
	and eax, A | D
	CHECK_EQ eax, A, "a read through a 4 MiB page sets A in the PDE"
	mov dword [0x9FFFFC], 0x1234
	mov eax, [PD + 8]
	and eax, A | D
	CHECK_EQ eax, A | D, "a write sets D in the 4 MiB PDE"
	CHECK_EQ dword [0xDFFFFC], 0x1234, "... at offset 1FFFFCh of the large page"
	; without CR4.PSE the PS bit is ignored: PDE 2 points to a page table
	mov dword [0xC00000], PHYS2 | P | W	; "page table" at 12 MiB, entry 0
	mov eax, cr4
	and eax, ~0x10
	mov cr4, eax
	mov eax, cr3
	mov cr3, eax
	mov eax, [0x800000]
	mov ebx, cr4
	or ebx, 0x10
	mov cr4, ebx
	mov ebx, cr3
	mov cr3, ebx
	CHECK_EQ eax, 0x22222222, "CR4.PSE=0: a PDE with PS set points to a page table"
	CHECK_EQ dword [0x800000], PHYS2 | P | W | A, "CR4.PSE=1 again: the 4 MiB page is used (the PTE reads as data)"
	; reserved bits of a 4 MiB PDE (21:13 without PSE-36)
	mov dword [PD + 16], 0x1000000 | 0x2000 | PS | P | W
	TRY .rsv
	mov eax, [0x1000000]
	ENDTRY
.rsv:	CHECK_EXC 14, 9, "a 4 MiB PDE with bit 13 set: #PF with RSVD|P (9)"
	mov dword [PD + 16], 0
	mov eax, cr3
	mov cr3, eax

	; ---- page-fault error codes at CPL 0 ----
	MAP 2, 0
	TRY .pf1
	mov eax, [LIN + 0x2123]
	ENDTRY
.pf1:	CHECK_EXC 14, 0, "supervisor read, not present: #PF(0)"
	CHECK_EQ dword [exc_cr2], LIN + 0x2123, "... CR2 is the linear address"
	TRY .pf2
	mov dword [LIN + 0x2FFC], 1
	ENDTRY
.pf2:	CHECK_EXC 14, 2, "supervisor write, not present: #PF(W)"
	TRY .pf3
	mov eax, [0x1400000]		; PDE 5 not present
	ENDTRY
.pf3:	CHECK_EXC 14, 0, "a not-present PDE: #PF(0)"
	CHECK_EQ dword [exc_cr2], 0x1400000, "... CR2"
	MAP 2, PHYS1 | P
	TRY .pf4
	mov dword [LIN + 0x2000], 0x99
	ENDTRY
.pf4:	CHECK_NOEXC "CR0.WP=0: CPL 0 writes a read-only page"
	CHECK_EQ dword [PHYS1], 0x99, "... and the write happened"
	mov eax, cr0
	or eax, 0x10000
	mov cr0, eax
	TRY .pf5
	mov dword [LIN + 0x2000], 0x98
	ENDTRY
.pf5:	CHECK_EXC 14, 3, "CR0.WP=1: CPL 0 write to a read-only page: #PF(P|W)"
	CHECK_EQ dword [PHYS1], 0x99, "... the write did not happen"
	MAP 2, PHYS1 | P | U
	TRY .pf6
	mov dword [LIN + 0x2000], 0x98
	ENDTRY
.pf6:	CHECK_EXC 14, 3, "CR0.WP=1: CPL 0 write to a read-only user page: #PF(P|W)"
	mov eax, cr0
	and eax, ~0x10000
	mov cr0, eax
	; a dword write crossing into a not-present page writes nothing
	MAP 3, PHYS2 | P | W
	MAP 4, 0
	mov dword [PHYS2 + 0xFFC], 0
	TRY .pf7
	mov dword [LIN + 0x3FFE], 0xAABBCCDD
	ENDTRY
.pf7:	CHECK_EXC 14, 2, "a write crossing into a not-present page: #PF(W)"
	CHECK_EQ dword [exc_cr2], LIN + 0x4000, "... CR2 is the first byte of the second page"
	CHECK_EQ dword [PHYS2 + 0xFFC], 0, "... and the first page is unchanged"
	; x87 stores and loads of whole areas across into a not-present page
	MAP 16, PHYS2 | P | W
	MAP 17, 0
	mov edi, PHYS2 + 0xF00
	mov ecx, 0x40
	mov eax, 0x5A5A5A5A
	rep stosd
	fninit
	TRY .fs1
	fnsave [LIN + 0x10000 + 0x1000 - 50]
	ENDTRY
.fs1:	CHECK_EXC 14, 2, "FNSAVE (108 bytes) running into a not-present page: #PF(W)"
	CHECK_EQ dword [exc_cr2], LIN + 0x11000, "... CR2 is the start of that page"
	CHECK_EQ dword [PHYS2 + 0xFD0], 0x5A5A5A5A, "... nothing was written to the first page"
	mov eax, cr4
	or eax, 0x200
	mov cr4, eax
	TRY .fs2
	fxsave [LIN + 0x10000 + 0x1000 - 0x100]
	ENDTRY
.fs2:	CHECK_EXC 14, 2, "FXSAVE (512 bytes) running into a not-present page: #PF(W)"
	CHECK_EQ dword [PHYS2 + 0xF00], 0x5A5A5A5A, "... nothing was written to the first page"
	mov word [v_val], 0x027F
	fldcw [v_val]
	TRY .fs3
	frstor [LIN + 0x10000 + 0x1000 - 50]
	ENDTRY
.fs3:	CHECK_EXC 14, 0, "FRSTOR from an area running into a not-present page: #PF(0)"
	fnstcw [v_val]
	movzx eax, word [v_val]
	CHECK_EQ eax, 0x027F, "... the FPU state is unchanged"
	fninit
	; fetch from a not-present page
	MAP 5, 0
	TRY .pf8
	call LIN + 0x5010
	ENDTRY
.pf8:	CHECK_EXC 14, 0, "instruction fetch from a not-present page: #PF(0)"
	CHECK_EQ dword [exc_eip], LIN + 0x5010, "... EIP is the target"
	CHECK_EQ dword [exc_cr2], LIN + 0x5010, "... CR2 too"

	; ---- page-fault error codes at CPL 3 ----
	MAP 6, PHYS1 | P | W		; supervisor
	MAP 7, PHYS1 | P | U		; user, read-only
	MAP 8, 0
	UPF {mov eax, [LIN + 0x6000]}, 5, LIN + 0x6000, "user read of a supervisor page: #PF(P|U)"
	UPF {mov dword [LIN + 0x6004], 1}, 7, LIN + 0x6004, "user write to a supervisor page: #PF(P|W|U)"
	UPF {mov dword [LIN + 0x7008], 1}, 7, LIN + 0x7008, "user write to a read-only user page: #PF(P|W|U)"
	UPF {mov eax, [LIN + 0x800C]}, 4, LIN + 0x800C, "user read, not present: #PF(U)"
	UPF {mov dword [LIN + 0x8010], 1}, 6, LIN + 0x8010, "user write, not present: #PF(W|U)"
	UPF {call LIN + 0x6020}, 5, LIN + 0x6020, "user fetch from a supervisor page: #PF(P|U)"
	TRY .u1
	TO_RING3 .u1_r3, 0x2
.u1_r3:	mov eax, [LIN + 0x7000]
	RING0_RETURN
.u1:	CHECK_EXC 0x7F, -1, "user read of a read-only user page works"
	; the PDE's U/S and R/W combine with the PTE's
	and dword [PD + 4], ~U
	mov eax, cr3
	mov cr3, eax
	UPF {mov eax, [LIN + 0x7000]}, 5, LIN + 0x7000, "PDE supervisor, PTE user: user read faults"
	or dword [PD + 4], U
	and dword [PD + 4], ~W
	MAP 9, PHYS2 | P | W | U
	mov eax, cr3
	mov cr3, eax
	UPF {mov dword [LIN + 0x9000], 1}, 7, LIN + 0x9000, "PDE read-only, PTE writable: user write faults"
	TRY .u2
	mov dword [LIN + 0x9000], 0x4242
	ENDTRY
.u2:	CHECK_NOEXC "PDE read-only: CPL 0 with WP=0 may still write"
	or dword [PD + 4], W
	mov eax, cr3
	mov cr3, eax

	; ---- INVLPG, CR3 and CR4.PGE: what must become visible ----
	MAP 10, PHYS1 | P | W
	mov dword [PHYS1], 0x1111
	mov dword [PHYS2], 0x2222
	mov eax, [LIN + 0xA000]		; cached now, perhaps
	mov dword [PT1 + 10 * 4], PHYS2 | P | W
	invlpg [LIN + 0xA000]
	CHECK_EQ dword [LIN + 0xA000], 0x2222, "after INVLPG the new PTE is used"
	mov dword [PT1 + 10 * 4], PHYS1 | P | W
	mov eax, cr3
	mov cr3, eax
	CHECK_EQ dword [LIN + 0xA000], 0x1111, "after a CR3 write the new PTE is used"
	mov dword [PT1 + 10 * 4], 0
	invlpg [LIN + 0xA000]
	TRY .t1
	mov eax, [LIN + 0xA000]
	ENDTRY
.t1:	CHECK_EXC 14, 0, "after INVLPG a now not-present page faults"
	mov dword [PT1 + 10 * 4], PHYS1 | P
	invlpg [LIN + 0xA000]
	mov eax, [LIN + 0xA000]
	mov dword [PT1 + 10 * 4], PHYS1 | P | W
	invlpg [LIN + 0xA000]
	TRY .t2
	mov dword [LIN + 0xA000], 0x3333
	ENDTRY
.t2:	CHECK_NOEXC "read-only -> writable PTE, INVLPG: the write works"
	; global pages
	mov eax, cr4
	or eax, 0x80			; PGE
	mov cr4, eax
	MAP 11, PHYS1 | P | W | G
	mov dword [PHYS1], 0x1111
	mov eax, [LIN + 0xB000]
	mov dword [PT1 + 11 * 4], PHYS2 | P | W | G
	invlpg [LIN + 0xB000]
	CHECK_EQ dword [LIN + 0xB000], 0x2222, "INVLPG drops a global page's entry too"
	mov dword [PT1 + 11 * 4], PHYS1 | P | W | G
	mov eax, cr4
	and eax, ~0x80
	mov cr4, eax
	CHECK_EQ dword [LIN + 0xB000], 0x1111, "clearing CR4.PGE flushes global entries"
	mov eax, cr4
	or eax, 0x80
	mov cr4, eax
	MAP 12, PHYS1 | P | W		; not global
	mov eax, [LIN + 0xC000]
	mov dword [PT1 + 12 * 4], PHYS2 | P | W
	mov eax, cr3
	mov cr3, eax
	CHECK_EQ dword [LIN + 0xC000], 0x2222, "with PGE on, a CR3 write still drops non-global entries"
	mov eax, cr4
	and eax, ~0x80
	mov cr4, eax
	; switching CR3 to another directory
	mov esi, PD
	mov edi, PD_B
	mov ecx, 1024
	rep movsd
	mov esi, PT1
	mov edi, PT1_B
	mov ecx, 1024
	rep movsd
	mov dword [PD_B + 4], PT1_B | P | W | U
	mov dword [PT1_B + 13 * 4], PHYS2 | P | W
	MAP 13, PHYS1 | P | W
	CHECK_EQ dword [LIN + 0xD000], 0x1111, "directory A maps page 13 to PHYS1"
	mov eax, PD_B
	mov cr3, eax
	CHECK_EQ dword [LIN + 0xD000], 0x2222, "after CR3 := directory B, page 13 is PHYS2"
	mov eax, PD
	mov cr3, eax
	CHECK_EQ dword [LIN + 0xD000], 0x1111, "and back with CR3 := directory A"
	; turning paging off and on
	PAGING_OFF
	CHECK_EQ dword [LIN + 0xD000], 0, "paging off: linear 4 MiB + D000h is physical again"
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	CHECK_EQ dword [LIN + 0xD000], 0x1111, "paging on again: the mapping is back"

	; ---- self-modifying code ----
	mov esi, smc_block
	mov edi, SMC_RAM
	mov ecx, (smc_block_end - smc_block + 3) / 4
	rep movsd
	xor eax, eax
	call SMC_RAM + (smc1 - smc_block)
	movzx eax, al
	CHECK_EQ eax, 0x22, "a store to the immediate of the next instruction takes effect"
	call SMC_RAM + (smc2 - smc_block)
	CHECK_EQ eax, -1, "a store turning the next INC into DEC takes effect"
	mov ecx, 10
	call SMC_RAM + (smc3 - smc_block)
	CHECK_EQ eax, 55, "a loop storing ahead into itself sees each new value"
	mov ecx, 200
	call SMC_RAM + (smc3 - smc_block)
	CHECK_EQ eax, (200 * 201 / 2) & 0xFF, "... also once the loop is hot"
	call SMC_RAM + (smc4 - smc_block)
	CHECK_EQ eax, 1 + 5 + 5, "a store into an instruction behind, then a jump back to it"
	call SMC_RAM + (smc5 - smc_block)
	CHECK_EQ eax, 0x33, "a store, then a direct jump to the stored-to instruction"
	mov byte [SMC_RAM + (smc5_imm - smc_block)], 0x11
	call SMC_RAM + (smc5 - smc_block)
	CHECK_EQ eax, 0x33, "... again, with the successor already decoded (and chained)"
	; code copied over other code
	mov esi, copy_src1
	mov edi, SMC_RAM + 0x1000
	mov ecx, 2
	rep movsd
	call SMC_RAM + 0x1000
	CHECK_EQ eax, 0xAAAA, "code copied to RAM runs"
	mov esi, copy_src2
	mov edi, SMC_RAM + 0x1000
	mov ecx, 2
	rep movsd
	call SMC_RAM + 0x1000
	CHECK_EQ eax, 0xBBBB, "code copied over it with REP MOVSD: the new code runs"
	mov byte [SMC_RAM + 0x1001], 0xCC
	call SMC_RAM + 0x1000
	CHECK_EQ eax, 0xBBCC, "a byte store into that code: the new immediate"
	; two linear aliases of one physical page
	mov esi, alias_block
	mov edi, PHYS3
	mov ecx, (alias_block_end - alias_block + 3) / 4
	rep movsd
	MAP 14, PHYS3 | P | W		; alias A: code
	MAP 15, PHYS3 | P | W		; alias B: data
	call LIN + 0xE000 + (alias_fn - alias_block)
	CHECK_EQ eax, 1, "code runs through alias A"
	mov dword [LIN + 0xF000 + (alias_imm - alias_block)], 2
	call LIN + 0xE000 + (alias_fn - alias_block)
	CHECK_EQ eax, 2, "a store through alias B changes the code run through alias A"
	mov dword [PHYS3 + (alias_imm - alias_block)], 3
	call LIN + 0xE000 + (alias_fn - alias_block)
	CHECK_EQ eax, 3, "a store through the identity mapping changes it too"
	call LIN + 0xE000 + (alias_fn2 - alias_block)
	CHECK_EQ eax, 0x77, "code storing through alias B into its own next instruction"
	; code on a page that becomes not present
	mov dword [PT1 + 14 * 4], 0
	invlpg [LIN + 0xE000]
	TRY .sm1
	call LIN + 0xE000 + (alias_fn - alias_block)
	ENDTRY
.sm1:	CHECK_EXC 14, 0, "decoded code on a page unmapped with INVLPG faults on fetch"
	PAGING_OFF
	FINISH

; ---- code blocks copied to RAM (position-independent but for the
; absolute addresses computed from SMC_RAM / the aliases) ----

smc_block:
smc1:	mov byte [SMC_RAM + (smc1_imm - smc_block)], 0x22
	db 0xB0				; mov al, imm8
smc1_imm: db 0x11
	ret
smc2:	mov byte [SMC_RAM + (smc2_op - smc_block)], 0x48	; dec eax
	xor eax, eax
smc2_op: inc eax
	ret
smc3:	xor edx, edx
smc3_loop:
	mov [SMC_RAM + (smc3_imm - smc_block)], cl
	db 0xB0
smc3_imm: db 0
	add dl, al
	loop smc3_loop
	movzx eax, dl
	ret
smc4:	mov ecx, 3
	xor edx, edx
smc4_top:
	db 0xB0				; mov al, imm8
smc4_imm: db 1
	add dl, al
	mov byte [SMC_RAM + (smc4_imm - smc_block)], 5
	loop smc4_top
	movzx eax, dl
	mov byte [SMC_RAM + (smc4_imm - smc_block)], 1
	ret
smc5:	mov byte [SMC_RAM + (smc5_imm - smc_block)], 0x33
	jmp smc5_next
smc5_next:
	xor eax, eax
	db 0xB0
smc5_imm: db 0x11
	ret
	align 4
smc_block_end:

copy_src1:
	mov eax, 0xAAAA
	ret
	nop
	nop
copy_src2:
	mov eax, 0xBBBB
	ret
	nop
	nop

alias_block:
alias_fn:
	db 0xB8				; mov eax, imm32
alias_imm: dd 1
	ret
alias_fn2:
	mov dword [LIN + 0xF000 + (alias2_imm - alias_block)], 0x77
	db 0xB8
alias2_imm: dd 0x66
	ret
	align 4
alias_block_end:

	GUEST_END

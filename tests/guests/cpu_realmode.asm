; Real mode from the inside: the reset state, segment arithmetic, 16-bit
; wrap of offsets, SP and IP, limit faults of word accesses at 0xFFFF
; (SDM vol. 3, "Segment Wraparound" in the compatibility chapter), INT/IRET
; through the IVT (and a moved IVT with LIDT), IF and the STI shadow with a
; real timer interrupt (8259A + 8254), A20 at reset, and big real mode
; ("unreal": 4 GiB limits kept after returning from protected mode).
%define GUEST_REAL
%include "lib.inc"

	bits 16
v_edx_reset	equ 0x600
v_cnt		equ 0x604	; interrupt handler counter
v_hflags	equ 0x608	; FLAGS seen inside a handler
v_hframe	equ 0x60C	; IP, CS, FLAGS pushed for the handler
v_hsp		equ 0x614

main16:
	mov [v_edx_reset], edx
	call setup_ivt16
	PRINT16 "# cpu_realmode: real mode, IVT, wrap-around, A20, unreal mode"

	; ---- reset state ----
	mov eax, cr0
	CHECK_EQ16 eax, 0x60000010, "CR0 is 0x60000010 after reset"
	mov eax, 1
	cpuid
	CHECK_EQ16 [v_edx_reset], eax, "EDX at reset holds the CPUID family/model/stepping"
	mov ax, cs
	CHECK_EQ16 eax, 0xF000, "CS is F000 after the reset far jump"
	; the top of the image is also visible at 4 GiB - 16 (the reset vector)
	; -- checked in the unreal part below

	; ---- EFLAGS in real mode ----
	pushfd
	push dword 0xFFFFFEFF		; everything but TF
	popfd
	pushfd
	pop eax
	popfd
	CHECK_EQ16 eax, 0x00247ED7, "POPFD/PUSHFD in real mode: IOPL, NT, AC, ID settable; VM, RF, reserved bits not"
	push word 0
	popf
	pushf
	pop ax
	movzx eax, ax
	CHECK_EQ16 eax, 0x0002, "POPF 0: FLAGS reads 0x0002"

	; ---- segment arithmetic ----
	mov ax, 0x1234
	mov ds, ax
	mov dword [0x5678], 0xCAFEBABE	; linear 0x179B8
	mov ax, 0x179B
	mov es, ax
	mov eax, [es:0x0008]
	xor bx, bx
	mov ds, bx
	CHECK_EQ16 eax, 0xCAFEBABE, "1234:5678 and 179B:0008 are the same byte"
	mov ax, 0x1000
	mov fs, ax
	mov eax, [fs:0x79B8]
	CHECK_EQ16 eax, 0xCAFEBABE, "FS=1000:79B8 reads the same linear address"
	; LDS/LES load segment and offset from memory
	mov word [0x620], 0x5678
	mov word [0x622], 0x1234
	les di, [0x620]
	mov eax, [es:di]
	mov bx, es
	CHECK_EQ16 eax, 0xCAFEBABE, "LES loads offset and segment from a far pointer"
	movzx ebx, bx
	CHECK_EQ16 ebx, 0x1234, "LES: ES holds the segment"

	; ---- 16-bit offset wrap ----
	mov ax, 0x2000
	mov es, ax
	mov byte [es:0x0001], 0
	mov bx, 0xFFFF
	mov si, 2
	mov byte [es:bx+si], 0x5A	; offset (0xFFFF + 2) & 0xFFFF = 1
	movzx eax, byte [es:0x0001]
	CHECK_EQ16 eax, 0x5A, "[bx+si] with bx=FFFF si=2 addresses offset 0001"
	mov bx, 0xFFF8
	mov byte [es:bx+0x10], 0xA5	; offset 0x0008
	movzx eax, byte [es:0x0008]
	CHECK_EQ16 eax, 0xA5, "[bx+10h] with bx=FFF8 addresses offset 0008"
	mov bp, 0xFFF0
	mov byte [es:bp+0x20], 0x3C	; offset 0x0010 (segment override of BP form)
	movzx eax, byte [es:0x0010]
	CHECK_EQ16 eax, 0x3C, "[bp+20h] with bp=FFF0 addresses offset 0010"

	; ---- SP wrap ----
	mov dx, ss
	mov cx, sp
	mov ax, 0x3000
	mov ss, ax
	xor sp, sp
	push word 0x1357		; SP 0 -> FFFE, word at 3000:FFFE
	mov bx, sp
	mov ax, [ss:0xFFFE]
	pop si				; SP back to 0
	mov di, sp
	mov ss, dx
	mov sp, cx
	movzx ebx, bx
	CHECK_EQ16 ebx, 0xFFFE, "PUSH with SP=0 leaves SP=FFFE"
	movzx eax, ax
	CHECK_EQ16 eax, 0x1357, "PUSH with SP=0 writes the word at SS:FFFE"
	movzx edi, di
	CHECK_EQ16 edi, 0, "POP with SP=FFFE wraps SP to 0"

	; ---- IP wrap: a near jump past FFFF lands at a low offset ----
	; At 1000:FFF0 "jmp short +0x1E" (target 0x1000E & 0xFFFF = 000E);
	; at 1000:000E "jmp far F000:ipwrap_back".
	mov ax, 0x1000
	mov es, ax
	mov word [es:0xFFF0], 0x1CEB	; EB 1C: jmp short to FFF2+1C = 1000E
	mov byte [es:0x000E], 0xEA
	mov word [es:0x000F], R(ipwrap_back)
	mov word [es:0x0011], 0xF000
	mov dword [0x630], 0
	jmp 0x1000:0xFFF0
ipwrap_back:
	mov dword [0x630], 1
	CHECK_EQ16 dword [0x630], 1, "JMP short across offset FFFF wraps IP to 000E"

	; an instruction running past offset FFFF: #GP on P6 (SDM vol. 3,
	; "Segment Wraparound")
	mov word [es:0xFFFE], 0x34B8	; mov ax, 1234h: B8 34 | 12
	mov byte [es:0x0000], 0x12
	mov ax, 0x2000
	mov fs, ax
	mov byte [fs:0x0000], 0x56	; linear 20000h, right after 1000:FFFF
	TRY16 .ipgp
	jmp 0x1000:0xFFFE
.ipgp:	CHECK_EQ16 dword [exc_vec], 13, "an instruction crossing CS offset FFFF: #GP (13)"
	CHECK_EQ16 dword [exc_eip], 0xFFFE, "... at the instruction"
	xor ax, ax
	mov fs, ax

	; a 16-bit near CALL pushes a 16-bit return IP
	mov cx, sp
	call .callee
.after_call:
	jmp .call_done
.callee:
	mov bx, sp
	movzx eax, word [ss:bx]
	ret
.call_done:
	CHECK_EQ16 eax, R(.after_call), "CALL near pushes the 16-bit return offset"
	mov bx, sp
	cmp bx, cx
	CHECK16 e, "RET near pops it again"

	; far call / far return
	call 0xF000:R(far_callee)
.after_far:
	movzx eax, word [v_hframe]
	CHECK_EQ16 eax, R(.after_far), "CALL far pushes IP of the next instruction"
	movzx eax, word [v_hframe + 2]
	CHECK_EQ16 eax, 0xF000, "CALL far pushes CS"

	; ---- limit faults at offset FFFF ----
	xor ax, ax
	mov es, ax
	TRY16 .gp1
.gp1_insn:
	mov ax, [es:0xFFFF]
	ENDTRY16
.gp1:	CHECK_EQ16 dword [exc_vec], 13, "word read at offset FFFF raises #GP (13)"
	CHECK_EQ16 dword [exc_eip], R(.gp1_insn), "#GP in real mode: IP of the faulting MOV pushed"
	TRY16 .gp2
	mov word [es:0xFFFF], 0x1234
	ENDTRY16
.gp2:	CHECK_EQ16 dword [exc_vec], 13, "word write at offset FFFF raises #GP (13)"
	TRY16 .gp3
	mov eax, [es:0xFFFD]
	ENDTRY16
.gp3:	CHECK_EQ16 dword [exc_vec], 13, "dword read at offset FFFD raises #GP"
	TRY16 .gp4
	mov al, [es:0xFFFF]
	ENDTRY16
.gp4:	CHECK_EQ16 dword [exc_vec], -1, "byte read at offset FFFF is fine"
	TRY16 .gp5
	mov eax, [es:0xFFFC]
	ENDTRY16
.gp5:	CHECK_EQ16 dword [exc_vec], -1, "dword read at offset FFFC is fine"
	TRY16 .gp6
	mov al, [es:dword 0x10000]
	ENDTRY16
.gp6:	CHECK_EQ16 dword [exc_vec], 13, "32-bit offset 10000h beyond the 64 KiB limit raises #GP"
	mov bp, 0xFFFF
	TRY16 .ss1
	mov ax, [bp]
	ENDTRY16
.ss1:	CHECK_EQ16 dword [exc_vec], 12, "word read at SS:FFFF ([bp]) raises #SS (12)"
	; POP with SP=FFFF would read a word at FFFF (a PUSH with SP=1 cannot
	; be tested: delivering its #SS would push across FFFF as well)
	mov dx, ss
	mov cx, sp
	mov ax, 0x3000
	TRY16 .ss2
	mov ss, ax
	mov sp, 0xFFFF
	pop ax
	ENDTRY16
.ss2:	mov ss, dx
	mov sp, cx
	CHECK_EQ16 dword [exc_vec], 12, "POP with SP=FFFF raises #SS"

	; ---- INT / IRET through the IVT ----
	mov word [0x40 * 4], R(int40_handler)
	mov word [0x40 * 4 + 2], 0xF000
	sti
	mov dword [v_hflags], 0
	mov cx, sp
	int 0x40
.after_int:
	pushf
	pop dx
	cli
	movzx eax, word [v_hframe]
	CHECK_EQ16 eax, R(.after_int), "INT 40h pushes the IP of the next instruction"
	movzx eax, word [v_hframe + 2]
	CHECK_EQ16 eax, 0xF000, "INT 40h pushes CS"
	mov ax, [v_hframe + 4]
	test ax, 0x200
	CHECK16 nz, "INT 40h pushes FLAGS with IF set"
	mov ax, [v_hflags]
	test ax, 0x200
	CHECK16 z, "the handler runs with IF clear"
	movzx eax, word [v_hsp]
	movzx ecx, cx
	sub ecx, 6
	CHECK_EQ16 eax, ecx, "INT pushes three words"
	test dx, 0x200
	CHECK16 nz, "IRET restores IF"

	; TF is cleared in the handler too
	pushf
	pop ax
	or ax, 0x100			; TF
	mov word [1 * 4], R(db_handler)
	mov word [1 * 4 + 2], 0xF000
	mov dword [0x640], 0
	mov dword [v_hflags], 0xFFFF
	push ax
	popf				; single-step trap after the next instruction
	int 0x40			; handler runs with TF=0: no #DB inside
	pushf				; #DB after the INT returns? (after IRET's next insn)
	pop ax
	and ax, ~0x100
	push ax
	popf
	mov ax, [v_hflags]
	test ax, 0x100
	CHECK16 z, "INT clears TF in the handler"
	cmp dword [0x640], 0
	CHECK16 a, "TF set before INT: single-step traps happen outside the handler"
	call setup_ivt16

	; INT3, INTO, #DE: which IP is pushed
	TRY16 .bp
	int3
.bp_next:
	ENDTRY16
.bp:	CHECK_EQ16 dword [exc_vec], 3, "INT3 raises vector 3"
	CHECK_EQ16 dword [exc_eip], R(.bp_next), "INT3 pushes the IP after it"
	mov al, 0x7F
	add al, 1			; OF=1
	TRY16 .of
	into
.of_next:
	ENDTRY16
.of:	CHECK_EQ16 dword [exc_vec], 4, "INTO with OF=1 raises vector 4"
	CHECK_EQ16 dword [exc_eip], R(.of_next), "INTO pushes the IP after it"
	xor al, al			; OF=0
	TRY16 .of2
	into
	ENDTRY16
.of2:	CHECK_EQ16 dword [exc_vec], -1, "INTO with OF=0 does nothing"
	xor cx, cx
	mov ax, 1
	xor dx, dx
	TRY16 .de
.de_insn:
	div cx
	ENDTRY16
.de:	CHECK_EQ16 dword [exc_vec], 0, "DIV by zero raises #DE (0)"
	CHECK_EQ16 dword [exc_eip], R(.de_insn), "#DE pushes the IP of the DIV (a fault)"
	TRY16 .ud
.ud_insn:
	ud2
	ENDTRY16
.ud:	CHECK_EQ16 dword [exc_vec], 6, "UD2 raises #UD (6)"
	CHECK_EQ16 dword [exc_eip], R(.ud_insn), "#UD pushes the IP of the UD2"
	mov word [0x650], 0
	mov word [0x652], 10
	mov ax, 11
	TRY16 .br
	bound ax, [0x650]
	ENDTRY16
.br:	CHECK_EQ16 dword [exc_vec], 5, "BOUND out of range raises #BR (5)"

	; ---- a moved IVT (LIDT in real mode) ----
	mov word [0x8000 + 0x41 * 4], R(int41_alt)
	mov word [0x8000 + 0x41 * 4 + 2], 0xF000
	mov word [0x41 * 4], R(int41_orig)
	mov word [0x41 * 4 + 2], 0xF000
	; copy vectors 0-31 so exceptions still reach the recorder
	push ds
	pop es
	mov si, 0
	mov di, 0x8000
	mov cx, 64
	rep movsw
	mov dword [0x660], 0
	lidt [cs:R(ivt8000)]
	int 0x41
	lidt [cs:R(real_idt_pseudo)]
	CHECK_EQ16 dword [0x660], 2, "LIDT in real mode moves the vector table"
	lidt [cs:R(ivt_small)]		; limit 7Fh: vectors 0-31 only
	TRY16 .lim
	int 0x41
	ENDTRY16
.lim:	lidt [cs:R(real_idt_pseudo)]
	CHECK_EQ16 dword [exc_vec], 13, "INT beyond the IVT limit raises #GP"

	; ---- A20 at reset: FFFF:0010 is 1 MiB, not 0 ----
	mov byte [0x0700], 0x11
	mov ax, 0xFFFF
	mov es, ax
	mov byte [es:0x0710], 0x22
	movzx eax, byte [0x0700]
	CHECK_EQ16 eax, 0x11, "A20 is on at reset: FFFF:0710 does not alias 0:0700"
	movzx eax, byte [es:0x0710]
	CHECK_EQ16 eax, 0x22, "FFFF:0710 reaches RAM at 1 MiB + 700h"

	; ---- external interrupts: IF, the STI shadow, HLT ----
	call irq_tests

	; ---- big real mode ----
	call unreal_tests
	FINISH16

far_callee:
	mov bx, sp
	mov ax, [ss:bx]
	mov [v_hframe], ax
	mov ax, [ss:bx + 2]
	mov [v_hframe + 2], ax
	retf

int40_handler:
	push bp
	mov bp, sp
	push ax
	mov [v_hsp], bp
	add word [v_hsp], 2
	pushf
	pop ax
	mov [v_hflags], ax
	mov ax, [bp + 2]
	mov [v_hframe], ax
	mov ax, [bp + 4]
	mov [v_hframe + 2], ax
	mov ax, [bp + 6]
	mov [v_hframe + 4], ax
	pop ax
	pop bp
	iret

db_handler:
	inc dword [0x640]
	push bp
	mov bp, sp
	and word [bp + 6], ~0x100	; stop stepping
	pop bp
	iret

int41_alt:
	mov dword [0x660], 2
	iret
int41_orig:
	mov dword [0x660], 1
	iret

ivt8000:
	dw 0x3FF
	dd 0x8000
ivt_small:
	dw 0x7F
	dd 0

; IRQ0 from the 8254 through the 8259A at vector 8.
irq0_handler:
	inc dword [v_cnt]
	push ax
	mov al, 0x20
	out 0x20, al
	pop ax
	iret

; Waits (IF=0) until the master PIC's IRR shows IRQ0. CF=1 on timeout.
wait_irr0:
	push ecx
	mov ecx, 20000000
.w:	mov al, 0x0A		; OCW3: read IRR
	out 0x20, al
	in al, 0x20
	test al, 1
	jnz .y
	dec ecx
	jnz .w
	pop ecx
	stc
	ret
.y:	pop ecx
	clc
	ret

irq_tests:
	cli
	mov word [8 * 4], R(irq0_handler)
	mov word [8 * 4 + 2], 0xF000
	mov al, 0x11		; ICW1: edge, cascade, ICW4
	out 0x20, al
	mov al, 0x08		; ICW2: vectors 8-15
	out 0x21, al
	mov al, 0x04		; ICW3
	out 0x21, al
	mov al, 0x01		; ICW4: 8086 mode
	out 0x21, al
	mov al, 0xFE		; only IRQ0
	out 0x21, al
	mov al, 0x34		; PIT channel 0, lo/hi, mode 2
	out 0x43, al
	mov al, 0x00		; 1193 ticks: about 1 ms
	out 0x40, al
	mov al, 0x05
	out 0x40, al
	mov dword [v_cnt], 0
	call wait_irr0
	CHECK16 nc, "IRQ0 becomes pending in the PIC's IRR"
	mov ecx, 100000		; a while with IF=0: nothing delivered
.spin:	dec ecx
	jnz .spin
	CHECK_EQ16 dword [v_cnt], 0, "IF=0: a pending interrupt is not delivered"
	sti
	cli			; STI's shadow covers CLI: still nothing
	CHECK_EQ16 dword [v_cnt], 0, "STI; CLI: no interrupt in the STI shadow"
	sti
	nop			; delivered after this instruction
	cli
	cmp dword [v_cnt], 1
	CHECK16 ae, "STI; NOP; CLI: the pending interrupt is delivered"
	; HLT with IF=1 waits for the next one
	mov dword [v_cnt], 0
	sti
	hlt
	cli
	cmp dword [v_cnt], 1
	CHECK16 ae, "STI; HLT: the next timer interrupt wakes HLT"
	; POPF can set IF too
	call wait_irr0
	mov dword [v_cnt], 0
	pushf
	pop ax
	or ax, 0x200
	push ax
	popf			; no shadow for POPF: delivered right after it
	cli
	cmp dword [v_cnt], 1
	CHECK16 ae, "POPF setting IF delivers the pending interrupt"
	mov al, 0xFF
	out 0x21, al
	mov al, 0x30		; channel 0 mode 0 without a count: quiet
	out 0x43, al
	ret

unreal_tests:
	; enter protected mode, load 4 GiB data segments, go back
	call setup_gdt16
	lgdt [cs:R(gdt_pseudo)]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	mov bx, SEL_DATA32
	mov fs, bx
	mov gs, bx
	and al, 0xFE
	mov cr0, eax
	xor ax, ax
	mov fs, ax		; real-mode loads change the base, not the limit
	mov ax, 0x1000
	mov gs, ax
	mov dword [fs:dword 0x200000], 0x600DF00D
	mov eax, [gs:dword 0x1F0000]
	CHECK_EQ16 eax, 0x600DF00D, "unreal mode: FS/GS keep 4 GiB limits, 32-bit offsets reach 2 MiB"
	TRY16 .u1
	mov eax, [fs:dword 0xFFFFFFF0]
	ENDTRY16
.u1:	CHECK_EQ16 dword [exc_vec], -1, "unreal mode: offset FFFFFFF0 is within the limit"
	CHECK_EQ16 eax, 0xEA | (R(start16) << 8), "the reset vector's far jump is visible at FFFFFFF0"
	xor ax, ax
	mov es, ax
	TRY16 .u2
	mov eax, [es:dword 0x200000]
	ENDTRY16
.u2:	CHECK_EQ16 dword [exc_vec], 13, "ES was not loaded in PM: its 64 KiB limit still faults"
	ret

	GUEST_END

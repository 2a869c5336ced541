/*
 * The x87 floating-point unit of the software CPU (a P6-class FPU: no
 * FISTTP, no SSE state of its own), following the Intel SDM volume 1
 * chapter 8 and the per-instruction pages of volume 2 (details the SDM
 * leaves undefined as the host's x87 does them, see fpu.c); save areas per
 * volume 1 figures 8-9 to 8-12 and FXSAVE's table in volume 2.
 *
 * The core's part: it decodes the ESC instruction (0xD8-0xDF) and its
 * prefixes and addressing, raises #NM first (ESC with CR0.EM or CR0.TS set;
 * WAIT only with CR0.MP and CR0.TS both set), reads the memory operand,
 * calls fpu_exec, then stores what fpu_exec produced. On FPU_MF it raises
 * #MF (vector 16, a fault, no error code) when CR0.NE=1; with CR0.NE=0 it
 * instead lets FERR# (fpu_error_pending) reach IRQ13 through the chipset
 * and retries the instruction after the interrupt, with ignne set once the
 * chipset asserts IGNNE#.
 */
#ifndef PCVM_FPU_H
#define PCVM_FPU_H

#include <stdbool.h>
#include <stdint.h>

struct x86_fpu;

/* One 80-bit register: significand (explicit integer bit 63) and
 * sign+exponent, the memory layout of an m80 real on a little-endian host. */
struct fpu_f80 {
	uint64_t sig;
	uint16_t se;
};

struct fpu {
	uint16_t cw;         /* as FNSTCW reads it */
	uint16_t sw;         /* as FNSTSW reads it, TOP included */
	uint8_t ftw;         /* abridged tags: bit i set = physical R(i) not empty */
	uint16_t fop;        /* last non-control opcode: bits 10-8 = ESC low bits, 7-0 = ModRM */
	uint64_t fip, fdp;   /* offsets of the last non-control instruction and its operand */
	uint16_t fcs, fds;   /* their selectors */
	struct fpu_f80 r[8]; /* physical registers R0-R7; ST(i) is R((TOP+i)&7) */
};

/* fpu_exec results. */
enum fpu_result {
	FPU_OK = 0,
	FPU_UD,         /* invalid opcode: raise #UD, nothing changed */
	FPU_MF,         /* a waiting instruction found an unmasked exception
	                 * pending (FSW.ES): raise #MF (CR0.NE=1) or signal
	                 * FERR#/IRQ13 (CR0.NE=0); the instruction did not run */
	FPU_SET_EFLAGS, /* done, and insn.eflags holds EFLAGS to commit (FCOMI*) */
	FPU_SET_AX,     /* done, and insn.ax holds the value for AX (FNSTSW AX) */
};

/* Power-on/RESET state (SDM vol. 3 table 9-1): FCW 0040h, FSW 0, all
 * registers +0.0 tagged valid (tag word 5555h), pointers 0. INIT# leaves the
 * FPU untouched, so the core calls this only for RESET. */
void fpu_reset(struct fpu *f);
/* FNINIT: FCW 037Fh, FSW 0, all tags empty, FOP/FIP/FDP/FCS/FDS 0; the
 * register contents stay. */
void fpu_init(struct fpu *f);

/* For an ESC instruction (opcode 0xD8-0xDF): how many bytes of memory
 * operand the core must read before fpu_exec (*read_len) and write after it
 * (*write_len). o32 selects the 28/108-byte over the 14/94-byte
 * FSTENV/FLDENV/FSAVE/FRSTOR layouts. Register forms (mod = 3) need no
 * memory: both lengths 0. Returns FPU_OK, or FPU_UD for an encoding that is
 * invalid on this FPU (e.g. D9 /1, DB /4, FISTTP). */
int fpu_mem_operand(uint8_t opcode, uint8_t modrm, bool o32, unsigned *read_len,
		    unsigned *write_len);

/* Whether the instruction reads EFLAGS (FCMOVcc: CF, ZF, PF), so a core with
 * lazy flags materialises them only then. */
static inline bool fpu_reads_eflags(uint8_t opcode, uint8_t modrm)
{
	return (opcode == 0xDA || opcode == 0xDB) && modrm >= 0xC0 && modrm < 0xE0;
}

struct fpu_insn {
	uint8_t opcode, modrm; /* 0xD8-0xDF and the ModRM byte */
	bool o32;              /* operand size 32 (save-area layouts) */
	bool pmode;            /* protected mode, not real or V86 (save-area layouts) */
	/* IGNNE# asserted (CR0.NE=0 only: the chipset asserts it after the
	 * IRQ13 handler writes port F0h): a waiting instruction runs despite a
	 * pending exception instead of returning FPU_MF. */
	bool ignne;
	/* The memory operand (mod != 3): fpu_mem_operand's read_len bytes as
	 * read by the core; fpu_exec writes write_len bytes here for the core
	 * to store. NULL for register forms. */
	uint8_t *mem;
	/* Recorded into FIP/FCS and FDP/FDS by non-control instructions: in
	 * protected mode the offset of the instruction (its first prefix) and
	 * the CS selector, the memory operand's effective address and its
	 * segment's selector; in real and V86 mode fip and fdp are the linear
	 * addresses (segment base + offset), which the real-mode save layouts
	 * store (AMD APM vol. 1 section 6.2.5 says so explicitly). */
	uint64_t fip, fdp;
	uint16_t fcs, fds;
	/* In: the guest's EFLAGS, read by FCMOVcc (see fpu_reads_eflags). Out
	 * with FPU_SET_EFLAGS: FCOMI/FCOMIP/FUCOMI/FUCOMIP set ZF, PF and CF
	 * and clear OF, SF and AF; the other bits are returned as given. */
	uint32_t eflags;
	/* Out with FPU_SET_AX: the status word (FNSTSW AX). */
	uint16_t ax;
	/* Out: whether the core must write the write_len bytes of mem back.
	 * False when an unmasked exception suppressed a store (the x87 then
	 * leaves memory and the stack as they were) or the instruction did
	 * not run. */
	bool store;
};

/* Executes one ESC instruction. Returns an enum fpu_result. State changes
 * only with FPU_OK, FPU_SET_EFLAGS or FPU_SET_AX. The instruction is
 * committed on return: a core that can still fault on the write-back
 * (write_len > 0) must check the destination is writable before calling,
 * or keep a copy of struct fpu to restore. */
int fpu_exec(struct fpu *f, struct fpu_insn *in);

/* WAIT/FWAIT (9B): FPU_MF if an unmasked exception is pending, else FPU_OK
 * (with IGNNE# asserted the core treats FPU_MF as FPU_OK). */
int fpu_wait(const struct fpu *f);

/* FSW.ES: an unmasked exception is pending. A core with CR0.NE=0 drives
 * FERR# (IRQ13 through the chipset) from this. */
bool fpu_error_pending(const struct fpu *f);

/* The x87 part of the FXSAVE area (bytes 0-23 and the ST/MM slots at
 * 32-159, reserved bytes written as zero). Bytes 24-31 (MXCSR, MXCSR_MASK)
 * and 160-511 are the core's. rex_w selects the 64-bit FIP/FDP layout of
 * FXSAVE64 (for long mode later); otherwise FIP/FCS and FDP/FDS are 32+16
 * bits. FXRSTOR of the x87 part has no #GP condition (only MXCSR's reserved
 * bits do, which is the core's check). */
void fpu_fxsave(const struct fpu *f, uint8_t *area, bool rex_w);
void fpu_fxrstor(struct fpu *f, const uint8_t *area, bool rex_w);

/* Conversion to and from the common state (vcpu.h, FXSAVE semantics:
 * st[i] is ST(i), ftw the abridged tags). mxcsr and xmm are left alone. */
void fpu_get_state(const struct fpu *f, struct x86_fpu *st);
void fpu_set_state(struct fpu *f, const struct x86_fpu *st);

/* The full 16-bit tag word as FSTENV stores it, computed from the register
 * contents (valid 00, zero 01, special 10, empty 11). */
uint16_t fpu_tag_word(const struct fpu *f);

#endif

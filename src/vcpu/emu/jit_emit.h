/*
 * A small x86-64 instruction emitter for the software CPU's JIT: just the
 * encodings jit.c uses (Intel SDM vol. 2, chapter 2 for REX/ModRM/SIB and
 * the opcode tables of appendix A). Registers are host register numbers
 * (RAX = 0 ... R15 = 15); memory operands are [base + index*scale + disp].
 */
#ifndef PCVM_EMU_JIT_EMIT_H
#define PCVM_EMU_JIT_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define NOREG (-1)

struct jit_buf {
	uint8_t *p;     /* next byte */
	uint8_t *end;   /* no byte at or past this */
	bool full;      /* ran out of room: the result is unusable */
};

static inline void jb_byte(struct jit_buf *b, uint8_t v)
{
	if (b->p >= b->end) {
		b->full = true;
		return;
	}
	*b->p++ = v;
}

static inline void jb_u32(struct jit_buf *b, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		jb_byte(b, (uint8_t)(v >> (8 * k)));
}

static inline void jb_u64(struct jit_buf *b, uint64_t v)
{
	jb_u32(b, (uint32_t)v);
	jb_u32(b, (uint32_t)(v >> 32));
}

/* A memory operand. */
struct mop {
	int base, index;
	int scale; /* 0..3 */
	int32_t disp;
};

static inline struct mop M(int base, int32_t disp)
{
	return (struct mop){ base, NOREG, 0, disp };
}

static inline struct mop MX(int base, int index, int scale, int32_t disp)
{
	return (struct mop){ base, index, scale, disp };
}

/* Prefixes, REX and opcode bytes for an instruction with a register in
 * ModRM.reg (reg) and a memory or register r/m. w: REX.W; byte_regs: the
 * operand is an 8-bit register (REX makes SPL..DIL reachable; we only use
 * AL..BL for bytes so no REX is needed for them). */
static inline void jb_rex(struct jit_buf *b, bool w, int reg, int index, int base, bool force)
{
	uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) |
				((index >= 0 && (index & 8)) ? 2 : 0) | ((base >= 0 && (base & 8)) ? 1 : 0));
	if (rex != 0x40 || force)
		jb_byte(b, rex);
}

static inline void jb_modrm_mem(struct jit_buf *b, int reg, struct mop m)
{
	int r = reg & 7;
	if (m.base < 0) { /* [index*scale + disp32] or absolute */
		jb_byte(b, (uint8_t)(0x04 | r << 3));
		jb_byte(b, (uint8_t)(m.scale << 6 | ((m.index >= 0 ? m.index : RSP) & 7) << 3 | 5));
		jb_u32(b, (uint32_t)m.disp);
		return;
	}
	int mod = m.disp == 0 && (m.base & 7) != RBP ? 0 : (m.disp >= -128 && m.disp < 128) ? 1 : 2;
	if (m.index >= 0 || (m.base & 7) == RSP) {
		jb_byte(b, (uint8_t)(mod << 6 | r << 3 | 4));
		jb_byte(b, (uint8_t)(m.scale << 6 | ((m.index >= 0 ? m.index : RSP) & 7) << 3 | (m.base & 7)));
	} else {
		jb_byte(b, (uint8_t)(mod << 6 | r << 3 | (m.base & 7)));
	}
	if (mod == 1)
		jb_byte(b, (uint8_t)m.disp);
	else if (mod == 2)
		jb_u32(b, (uint32_t)m.disp);
}

/* op reg, [mem] (or op [mem], reg by opcode), operand size 1/2/4/8 */
static inline void jb_op_mem(struct jit_buf *b, int size, const uint8_t *op, int oplen, int reg,
			     struct mop m)
{
	if (size == 2)
		jb_byte(b, 0x66);
	jb_rex(b, size == 8, reg, m.index, m.base, false);
	for (int k = 0; k < oplen; k++)
		jb_byte(b, op[k]);
	jb_modrm_mem(b, reg, m);
}

/* op reg, rm (both registers); force: a REX prefix even if empty (byte
 * registers 4-7 are then SPL..DIL, not AH..BH) */
static inline void jb_op_rr_rex(struct jit_buf *b, int size, const uint8_t *op, int oplen, int reg,
				int rm, bool force)
{
	if (size == 2)
		jb_byte(b, 0x66);
	jb_rex(b, size == 8, reg, NOREG, rm, force);
	for (int k = 0; k < oplen; k++)
		jb_byte(b, op[k]);
	jb_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

static inline void jb_op_rr(struct jit_buf *b, int size, const uint8_t *op, int oplen, int reg, int rm)
{
	jb_op_rr_rex(b, size, op, oplen, reg, rm, false);
}

/* op reg8, rm8 (RBP, RSI and RDI as BPL, SIL and DIL) */
static inline void jb_op_rr8(struct jit_buf *b, const uint8_t *op, int oplen, int reg, int rm)
{
	jb_op_rr_rex(b, 4, op, oplen, reg, rm, (reg >= 4 && reg < 8) || (rm >= 4 && rm < 8));
}

/* ---- common instructions ---- */

/* mov reg, [m] with size 1 (movzx), 2 (movzx), 4, 8 */
static inline void e_load(struct jit_buf *b, int size, int reg, struct mop m)
{
	static const uint8_t mov[] = { 0x8b }, mzb[] = { 0x0f, 0xb6 }, mzw[] = { 0x0f, 0xb7 };
	if (size == 1)
		jb_op_mem(b, 4, mzb, 2, reg, m);
	else if (size == 2)
		jb_op_mem(b, 4, mzw, 2, reg, m);
	else
		jb_op_mem(b, size, mov, 1, reg, m);
}

/* mov [m], reg with size 1 (reg must be AL..BL), 2, 4, 8 */
static inline void e_store(struct jit_buf *b, int size, struct mop m, int reg)
{
	static const uint8_t mb[] = { 0x88 }, mv[] = { 0x89 };
	jb_op_mem(b, size == 1 ? 4 : size, size == 1 ? mb : mv, 1, reg, m);
}

/* mov dword/qword [m], imm32 (sign-extended for qword) */
static inline void e_store_imm(struct jit_buf *b, int size, struct mop m, uint32_t imm)
{
	static const uint8_t op[] = { 0xc7 }, opb[] = { 0xc6 };
	jb_op_mem(b, size == 1 ? 4 : size, size == 1 ? opb : op, 1, 0, m);
	if (size == 1)
		jb_byte(b, (uint8_t)imm);
	else if (size == 2) {
		jb_byte(b, (uint8_t)imm);
		jb_byte(b, (uint8_t)(imm >> 8));
	} else
		jb_u32(b, imm);
}

/* mov reg32, imm32 (zero-extends) / mov reg64, imm64 */
static inline void e_mov_imm32(struct jit_buf *b, int reg, uint32_t imm)
{
	jb_rex(b, false, 0, NOREG, reg, false);
	jb_byte(b, (uint8_t)(0xb8 + (reg & 7)));
	jb_u32(b, imm);
}

static inline void e_mov_imm64(struct jit_buf *b, int reg, uint64_t imm)
{
	jb_rex(b, true, 0, NOREG, reg, false);
	jb_byte(b, (uint8_t)(0xb8 + (reg & 7)));
	jb_u64(b, imm);
}

static inline void e_mov_rr(struct jit_buf *b, int size, int dst, int src)
{
	static const uint8_t op[] = { 0x89 };
	jb_op_rr(b, size, op, 1, src, dst);
}

/* ALU group: op 0 ADD 1 OR 2 ADC 3 SBB 4 AND 5 SUB 6 XOR 7 CMP; dst reg */
static inline void e_alu_rr(struct jit_buf *b, int size, int op, int dst, int src)
{
	uint8_t opc = (uint8_t)(op << 3 | (size == 1 ? 0 : 1));
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, src, dst);
}

static inline void e_alu_rm(struct jit_buf *b, int size, int op, int dst, struct mop m)
{
	uint8_t opc = (uint8_t)(op << 3 | (size == 1 ? 2 : 3));
	jb_op_mem(b, size == 1 ? 4 : size, &opc, 1, dst, m);
}

static inline void e_alu_ri(struct jit_buf *b, int size, int op, int dst, uint32_t imm)
{
	if (size == 1) {
		uint8_t opc = 0x80;
		jb_op_rr(b, 4, &opc, 1, op, dst);
		jb_byte(b, (uint8_t)imm);
		return;
	}
	int32_t s = (int32_t)imm;
	if (size == 2)
		s = (int16_t)imm;
	if (s >= -128 && s < 128) {
		uint8_t opc = 0x83;
		jb_op_rr(b, size, &opc, 1, op, dst);
		jb_byte(b, (uint8_t)s);
	} else {
		uint8_t opc = 0x81;
		jb_op_rr(b, size, &opc, 1, op, dst);
		if (size == 2) {
			jb_byte(b, (uint8_t)imm);
			jb_byte(b, (uint8_t)(imm >> 8));
		} else {
			jb_u32(b, imm);
		}
	}
}

static inline void e_test_rr(struct jit_buf *b, int size, int a, int c)
{
	uint8_t opc = size == 1 ? 0x84 : 0x85;
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, c, a);
}

static inline void e_test_ri(struct jit_buf *b, int size, int r, uint32_t imm)
{
	uint8_t opc = size == 1 ? 0xf6 : 0xf7;
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, 0, r);
	if (size == 1)
		jb_byte(b, (uint8_t)imm);
	else if (size == 2) {
		jb_byte(b, (uint8_t)imm);
		jb_byte(b, (uint8_t)(imm >> 8));
	} else
		jb_u32(b, imm);
}

/* group FF/FE: 0 inc 1 dec; group F7: 2 not 3 neg 4 mul 5 imul 6 div 7 idiv */
static inline void e_grp_r(struct jit_buf *b, int size, uint8_t opc, int ext, int r)
{
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, ext, r);
}

/* shifts: ext 4 shl 5 shr 7 sar 0 rol 1 ror; by imm8 or by CL */
static inline void e_shift_ri(struct jit_buf *b, int size, int ext, int r, uint8_t n)
{
	uint8_t opc = size == 1 ? 0xc0 : 0xc1;
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, ext, r);
	jb_byte(b, n);
}

static inline void e_shift_rcl(struct jit_buf *b, int size, int ext, int r)
{
	uint8_t opc = size == 1 ? 0xd2 : 0xd3;
	jb_op_rr(b, size == 1 ? 4 : size, &opc, 1, ext, r);
}

static inline void e_lea(struct jit_buf *b, int size, int reg, struct mop m)
{
	static const uint8_t op[] = { 0x8d };
	jb_op_mem(b, size, op, 1, reg, m);
}

static inline void e_imul_rr(struct jit_buf *b, int size, int dst, int src)
{
	static const uint8_t op[] = { 0x0f, 0xaf };
	jb_op_rr(b, size, op, 2, dst, src);
}

/* rorx dst32, src32, n (BMI2; dst and src among RAX..RDI) */
static inline void e_rorx(struct jit_buf *b, int dst, int src, uint8_t n)
{
	jb_byte(b, 0xc4);
	jb_byte(b, 0xe3); /* VEX: no R/X/B extension, map 0F3A */
	jb_byte(b, 0x7b); /* W0, no vvvv, L0, F2 */
	jb_byte(b, 0xf0);
	jb_byte(b, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)));
	jb_byte(b, n);
}

/* movzx/movsx reg32, r8/r16 */
static inline void e_movx_rr(struct jit_buf *b, bool sign, int from, int dst, int src)
{
	uint8_t op[2] = { 0x0f, (uint8_t)((sign ? 0xbe : 0xb6) | (from == 2 ? 1 : 0)) };
	jb_op_rr_rex(b, 4, op, 2, dst, src, from == 1 && src >= 4 && src < 8);
}

static inline void e_setcc(struct jit_buf *b, int cc, int r)
{
	uint8_t op[2] = { 0x0f, (uint8_t)(0x90 | cc) };
	jb_rex(b, false, 0, NOREG, r, r >= 4);
	jb_byte(b, op[0]);
	jb_byte(b, op[1]);
	jb_byte(b, (uint8_t)(0xc0 | (r & 7)));
}

static inline void e_push(struct jit_buf *b, int r)
{
	jb_rex(b, false, 0, NOREG, r, false);
	jb_byte(b, (uint8_t)(0x50 + (r & 7)));
}

static inline void e_pop(struct jit_buf *b, int r)
{
	jb_rex(b, false, 0, NOREG, r, false);
	jb_byte(b, (uint8_t)(0x58 + (r & 7)));
}

static inline void e_call_abs(struct jit_buf *b, const void *fn)
{
	e_mov_imm64(b, RAX, (uint64_t)(uintptr_t)fn);
	jb_byte(b, 0xff);
	jb_byte(b, 0xd0); /* call rax */
}

/* Forward jumps: the returned pointer is where the rel32 goes. */
static inline uint8_t *e_jcc32(struct jit_buf *b, int cc)
{
	jb_byte(b, 0x0f);
	jb_byte(b, (uint8_t)(0x80 | cc));
	uint8_t *at = b->p;
	jb_u32(b, 0);
	return at;
}

static inline uint8_t *e_jmp32(struct jit_buf *b)
{
	jb_byte(b, 0xe9);
	uint8_t *at = b->p;
	jb_u32(b, 0);
	return at;
}

static inline void jb_patch(struct jit_buf *b, uint8_t *at, const uint8_t *target)
{
	if (!at || b->full || at + 4 > b->end)
		return;
	int32_t rel = (int32_t)(target - (at + 4));
	memcpy(at, &rel, 4);
}

/* Host condition codes (same numbering as the guest's). */
enum { CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A, CC_S, CC_NS, CC_P, CC_NP,
       CC_L, CC_GE, CC_LE, CC_G };

#endif

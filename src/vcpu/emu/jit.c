/*
 * The JIT: translates a hot trace of decoded instructions into x86-64 host
 * code. Guest registers live in struct emu_cpu (RBX holds its address in
 * the generated code); the most used ones stay in R12-R15 (and RBP in a
 * trace that loops on itself) for the whole trace. Guest memory is reached
 * through the same software TLB as the interpreter, the one the trace was
 * translated for addressed inside struct emu_cpu, with the compare-and-add
 * fast path inline and the interpreter's slow path called out of line.
 * Arithmetic flags are the interpreter's lazy flags: a translation leaves
 * them pending in R8, R9 and R11 (see struct pend) and stores them only
 * where something may read them: an exit, a call, or a memory access's
 * slow path that may fault. A conditional branch after the instruction
 * that set its flags uses the host's own flags: guest and host are both
 * x86, with the same condition codes. Scratch: RAX, RCX, RDX, RSI, RDI,
 * R10.
 *
 * Exits: a trace ends at an unconditional control transfer; a conditional
 * branch in its middle leaves through a side exit when taken. Exits go
 * straight into the next translated trace when the trace's exit slot (or,
 * for indirect branches and side exits, the CPU's table of targets) names
 * it for this EIP and translation generation, as the interpreter chains.
 *
 * The translation keeps the interpreter's contract, so the two mix freely:
 * instructions without an inline translation call the interpreter's C
 * helper for them (via_helper); a trace is translated up to the first
 * instruction that can be neither, where it hands over to the interpreter
 * (JIT_INTERP); an exception is
 * reported with the faulting instruction's index (JIT_FAULT) and delivered
 * by the interpreter; a store that overwrote code of the running trace
 * hands over to the instruction after it, whose handler the SMC logic has
 * already replaced. Instruction counts are kept by the interpreter from the
 * index, exactly as for its own traces.
 */
#include "jit.h"
#include "emu.h"
#include "insn.h"
#include "jit_emit.h"
#include "trace.h"
#include "../../log.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define JIT_CODE_SIZE (64u << 20)
#define JIT_DEFAULT_THRESHOLD 32
#define JIT_MAX_STUBS 160
/* Room a translation may need; a trace is skipped if less is left. */
#define JIT_MAX_TRACE_CODE 16384

#define OFF(f) ((int32_t)offsetof(struct emu_cpu, f))
#define GREG(n) (OFF(r) + 8 * (int32_t)(n))
#define GREG8(byteoff) (OFF(r) + (int32_t)(byteoff))
#define CPU(f) M(RBX, OFF(f))

/* The host has BMI2 (RORX) */
static bool jit_bmi2;

/* Stack slots of the translated code's frame (see the prologue). */
enum { SLOT0 = 0, SLOT1 = 8, SLOT2 = 16, SLOT_KEEP = 24, FRAME = 88 };
/* What a memory access's slow path keeps for the fast path around its
 * call, in the slots from SLOT_KEEP on: translations may keep values in
 * these registers across an access (RAX, RDX and RDI are its own). */
static const int8_t stub_keeps[] = { RCX, RSI, R8, R9, R10, R11 };
_Static_assert(SLOT_KEEP + 8 * sizeof(stub_keeps) <= FRAME && (FRAME + 56) % 16 == 0,
	       "the frame holds the kept registers and keeps RSP 16-byte aligned");

/* ---------------- helpers the generated code calls ---------------- */

/* Loads size bytes at seg:off; bit 32 of the result set on a fault. */
static uint64_t jit_ld(struct emu_cpu *c, uint32_t off, uint32_t seg_size)
{
	unsigned seg = seg_size & 0xff, size = seg_size >> 8;
	int r;
	uint32_t v = 0;
	if (size == 1) {
		uint8_t b = 0;
		r = rd8(c, (int)seg, off, &b);
		v = b;
	} else if (size == 2) {
		uint16_t w = 0;
		r = rd16(c, (int)seg, off, &w);
		v = w;
	} else {
		r = rd32(c, (int)seg, off, &v);
	}
	return r ? 1ull << 32 : v;
}

/* Stores size bytes at seg:off: 0, 1 on a fault, 2 when the store hit
 * the code of the running trace (which must stop after it). */
static uint32_t jit_st(struct emu_cpu *c, uint32_t off, uint32_t seg_size, uint32_t val)
{
	unsigned seg = seg_size & 0xff, size = seg_size >> 8;
	int r;
	if (size == 1)
		r = wr8(c, (int)seg, off, (uint8_t)val);
	else if (size == 2)
		r = wr16(c, (int)seg, off, (uint16_t)val);
	else
		r = wr32(c, (int)seg, off, val);
	if (r)
		return 1;
	return c->cur_trace->valid ? 0 : 2;
}

/* Runs an instruction the JIT does not translate through the interpreter's
 * helper for it: 0 done, 1 an exception, 2 it overwrote the running trace,
 * 3 it set EIP (leave without chaining). */
static uint32_t jit_helper(struct emu_cpu *c, const struct insn *i)
{
	int r;
	switch (i->hid) {
	case H_MISC:
		r = emu_misc(c, i);
		c->fault_keeps_eip &= r < 0;
		if (r == 1)
			c->eip = c->trace_eip + i->ofs + i->len;
		break;
	case H_STRING:
		r = emu_string(c, i);
		if (r > 0) { /* an interrupted REP resumes at itself */
			c->eip = c->trace_eip + i->ofs;
			r = 1;
		}
		break;
	case H_GRP3: r = emu_grp3(c, i); break;
	case H_IMUL: r = emu_imul(c, i); break;
	case H_BT: r = emu_bt(c, i); break;
	case H_SHIFT: r = emu_shift(c, i); break;
	default: r = emu_bitscan(c, i); break;
	}
	if (r < 0)
		return 1;
	if (r > 0)
		return 3;
	return c->cur_trace->valid ? 0 : 2;
}

/* SHL/SHR/SAR of a 16-bit register by an immediate 1..15: every flag
 * defined, the host's own 16-bit shift gives result and carry. */
static bool shift16_inline(const struct insn *i)
{
	return i->hid == H_SHIFT && !(i->flags & (I_MEM | I_CL | I_O32)) && (i->opcode & 1) &&
	       i->op >= 4 && (i->imm & 31) >= 1 && (i->imm & 31) <= 15;
}

/* Instructions translated as a call of their interpreter helper: data
 * operations that neither leave the trace nor load a segment register the
 * translation may assume flat (POP ES/DS). */
static bool via_helper(const struct insn *i)
{
	switch (i->hid) {
	case H_MISC:
		return i->opcode != 0x07 && i->opcode != 0x1f && !emu_insn_ends_trace(i);
	case H_GRP3: {
		unsigned size = (i->opcode & 1) ? ((i->flags & I_O32) ? 4 : 2) : 1;
		return !(i->op == 2 || i->op == 3 || ((i->op == 4 || i->op == 5) && size == 4));
	}
	case H_IMUL:
		return !(i->flags & I_O32);
	case H_SHIFT:
		return !shift16_inline(i);
	case H_STRING: case H_BT: case H_BITSCAN:
		return true;
	default:
		return false;
	}
}

static uint32_t jit_cf(struct emu_cpu *c)
{
	return emu_cf(c);
}

/* ROL/ROR keep SF, ZF, AF and PF: materialise them and set CF and OF the
 * way the interpreter's rotate_op does. */
static void jit_rot_flags(struct emu_cpu *c, uint32_t res, uint32_t ror)
{
	bool cf, of;
	if (ror) {
		cf = res >> 31;
		of = cf ^ ((res >> 30) & 1);
	} else {
		cf = res & 1;
		of = (res >> 31) ^ cf;
	}
	emu_flags_materialize(c);
	c->eflags = (c->eflags & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
}

static uint32_t jit_cond(struct emu_cpu *c, uint32_t cc)
{
	return emu_cond(c, (int)cc);
}

/* ---------------- instruction properties ---------------- */

enum {
	P_JIT = 1,      /* translated */
	P_RD = 2,       /* reads arithmetic flags */
	P_WR = 4,       /* writes all six arithmetic flags */
	P_FAULT = 8,    /* may raise an exception */
	P_STORE = 16,   /* may store to memory (then hand over on SMC) */
};

enum { F_RR, F_RM, F_MR, F_RI, F_MI };

static bool alu_handler(unsigned hid, int *op, int *form, int *size)
{
	if (hid < H_ADD_RR8 || hid > H_TEST_MI32)
		return false;
	unsigned x = hid - H_ADD_RR8;
	*op = (int)(x / 15);
	*form = (int)((x % 15) / 3);
	*size = 1 << (x % 3);
	return true;
}

static bool mov_handler(unsigned hid, int *form, int *size)
{
	if (hid < H_MOV_RR8 || hid > H_MOV_MI32)
		return false;
	unsigned x = hid - H_MOV_RR8;
	*form = (int)(x / 3);
	*size = 1 << (x % 3);
	return true;
}

static unsigned props(const struct insn *i)
{
	int op, form, size;
	bool mem = i->flags & I_MEM;
	if (via_helper(i)) /* it reads and writes whatever it likes */
		return P_JIT | P_RD | P_FAULT | P_STORE;
	if (shift16_inline(i))
		return P_JIT | P_WR;
	if (alu_handler(i->hid, &op, &form, &size)) {
		unsigned p = P_JIT | P_WR;
		if (op == 2 || op == 3)
			p |= P_RD; /* ADC/SBB read CF */
		if (mem)
			p |= P_FAULT | ((form == F_MR || form == F_MI) && op != 7 && op != 8 ? P_STORE : 0);
		return p;
	}
	if (mov_handler(i->hid, &form, &size))
		return P_JIT | (mem ? P_FAULT : 0) | (form == F_MR || form == F_MI ? P_STORE : 0);
	switch (i->hid) {
	case H_NOP: case H_LEA16: case H_LEA32: case H_MOVZX_R8: case H_MOVSX_R8:
	case H_MOVZX_R16: case H_MOVSX_R16:
		return P_JIT;
	case H_MOVZX_M8: case H_MOVSX_M8: case H_MOVZX_M16: case H_MOVSX_M16:
		return P_JIT | P_FAULT;
	case H_INC_R16: case H_INC_R32: case H_DEC_R16: case H_DEC_R32:
		return P_JIT | P_RD | P_WR; /* CF is kept: read */
	case H_PUSH_R32: case H_PUSH_I32:
		return (i->flags & I_O32) ? P_JIT | P_FAULT | P_STORE : P_FAULT | P_STORE | P_RD;
	case H_POP_R32:
		return P_JIT | P_FAULT;
	case H_JCC: case H_SETCC:
		return P_JIT | P_RD | (i->flags & I_MEM ? P_FAULT : 0) |
		       (i->hid == H_SETCC && (i->flags & I_MEM) ? P_STORE : 0);
	case H_CMOV:
		return (i->flags & I_O32 ? P_JIT : 0) | P_RD | (i->flags & I_MEM ? P_FAULT : 0);
	case H_JMP:
		return P_JIT;
	case H_CALL:
		return (i->flags & I_O32) ? P_JIT | P_FAULT | P_STORE : P_RD | P_FAULT;
	case H_RET:
		return (i->flags & I_O32) ? P_JIT | P_FAULT : P_RD | P_FAULT;
	case H_ROT_R32:
		return P_JIT | P_RD; /* SF/ZF/AF/PF stay: read */
	case H_INCDEC_RM:
		return P_JIT | P_RD | P_WR | (i->flags & I_MEM ? P_FAULT | P_STORE : 0);
	case H_GRP3: {
		unsigned size = (i->opcode & 1) ? ((i->flags & I_O32) ? 4 : 2) : 1;
		unsigned mem = i->flags & I_MEM ? P_FAULT : 0;
		switch (i->op) {
		case 2: return P_JIT | mem | (mem ? P_STORE : 0);              /* NOT */
		case 3: return P_JIT | P_WR | mem | (mem ? P_STORE : 0);       /* NEG */
		case 4: case 5: return size == 4 ? P_JIT | P_WR | mem : P_RD | P_FAULT;
		default: return P_RD | P_FAULT;                                /* DIV */
		}
	}
	case H_JMP_RM: case H_CALL_RM:
		return (i->flags & I_O32) ? P_JIT | P_FAULT | (i->hid == H_CALL_RM ? P_STORE : 0)
					  : P_RD | P_FAULT | P_STORE;
	case H_SHL_R32: case H_SHR_R32: case H_SAR_R32:
		/* a count of zero leaves the flags alone: as good as a read */
		return (i->flags & I_CL) || !(i->imm & 31) ? P_JIT | P_RD : P_JIT | P_WR;
	case H_IMUL:
		return (i->flags & I_O32) ? P_JIT | P_WR | (i->flags & I_MEM ? P_FAULT : 0)
					  : P_RD | P_FAULT;
	case H_CBW:
		return P_JIT;
	case H_CWD:
		return i->flags & I_O32 ? P_JIT : P_RD | P_FAULT;
	default:
		return P_RD | P_FAULT | P_STORE; /* handed to the interpreter */
	}
}

/* ---------------- the compiler ---------------- */

/* Lazy flags a translation computed but has not stored yet ("pending"):
 * the operation and size are known at translation time, each field's
 * value sits in a host register (R8, R9, R11 on the fast path), is an
 * immediate, or (in a slow path) is in a frame slot. They are stored
 * into struct emu_cpu on every way out, before any call that reads them,
 * and in a memory access's slow path as they were at that access. */
enum { PS_REG, PS_IMM, PS_SLOT };
struct pfield {
	int32_t off;        /* OFF(lf_res), OFF(lf_op1), ... */
	uint8_t src;        /* PS_* */
	int8_t reg;
	uint32_t v;         /* the immediate, or the slot */
};
struct pend {
	bool on;
	uint8_t n;
	uint32_t kind, size;
	struct pfield f[4];
};

struct stub {
	uint8_t *from[2];   /* rel32s to patch with the stub's address */
	/* the pending flags at the access (a fault leaves them) and after
	 * the instruction (a store that hit the running trace's code) */
	struct pend fault, after;
	uint8_t *resume;    /* where the fast path continues */
	uint8_t kind;       /* 0 load, 1 store */
	uint8_t size, seg;
	uint8_t sign;       /* load: sign-extend */
	int k;              /* instruction index */
};

struct jc {
	struct emu_cpu *c;
	struct trace *t;
	struct jit_buf b;
	uint8_t *epilogue;
	uint8_t *body;      /* the first instruction's code */
	int k;
	struct stub stubs[JIT_MAX_STUBS];
	int nstubs;
	bool need_flags[TRACE_MAX_INSNS + 1];
	/* Host EFLAGS hold the guest's arithmetic flags (set by the last
	 * emitted instruction); hf_cf: CF among them. */
	bool hf_valid, hf_cf;
	/* The lazy-flag operation the last translated flag writer stored
	 * or left pending (-1: not known here), so readers can rebuild flags
	 * inline. */
	int lf_kind, lf_size;
	struct pend pf;
	/* Segments flat (base 0, 4 GiB limit) when translated, for reads and
	 * for writes: accesses skip the limit check and the base, behind a
	 * check at the trace's start. */
	uint8_t flat_r, flat_w;
	/* tlb_r when translated, as an offset into struct emu_cpu */
	int32_t tlb;
	uint32_t mode_need; /* the mode_bits the translation needs */
	/* Guest registers kept in host registers for the whole trace:
	 * cache[n] is the host register of guest register n, or -1; dirty
	 * says which may have been written (they go back at every exit). */
	int8_t cache[8];
	uint8_t dirty;
	bool regs_loaded;
	uint8_t *loop_head; /* after the register loads: where loops go back */
	bool failed;
};

static void emit_writeback(struct jc *j);

static void exit_nowb(struct jc *j, int kind, int k)
{
	e_mov_imm32(&j->b, RAX, (uint32_t)(kind << 8 | k));
	uint8_t *at = e_jmp32(&j->b);
	jb_patch(&j->b, at, j->epilogue);
}

static void exit_with(struct jc *j, int kind, int k)
{
	emit_writeback(j);
	e_mov_imm32(&j->b, RAX, (uint32_t)(kind << 8 | k));
	uint8_t *at = e_jmp32(&j->b);
	jb_patch(&j->b, at, j->epilogue);
}

/* lf_op and lf_size, in one store */
static void store_kind(struct jit_buf *b, uint32_t kind, uint32_t size)
{
	e_store_imm(b, 4, CPU(lf_op), kind | size << 16);
}

/* Stores pending lazy flags (RDX is scratch for a slot's value). */
static void emit_pend(struct jit_buf *b, const struct pend *p)
{
	if (!p->on)
		return;
	store_kind(b, p->kind, p->size);
	for (int n = 0; n < p->n; n++) {
		const struct pfield *f = &p->f[n];
		if (f->src == PS_REG) {
			e_store(b, 4, M(RBX, f->off), f->reg);
		} else if (f->src == PS_IMM) {
			e_store_imm(b, 4, M(RBX, f->off), f->v);
		} else {
			e_load(b, 4, RDX, M(RSP, (int32_t)f->v));
			e_store(b, 4, M(RBX, f->off), RDX);
		}
	}
}

/* Pending flags go to struct emu_cpu here, on the path being emitted. */
static void flush_flags(struct jc *j)
{
	emit_pend(&j->b, &j->pf);
	j->pf.on = false;
}

/* Starts a pending state of an operation that just set the host flags
 * (they stay: only MOVs follow). */
static void pend_set(struct pend *p, uint32_t kind, int size)
{
	p->on = true;
	p->n = 0;
	p->kind = kind;
	p->size = (uint32_t)size;
}

static void pend_field(struct pend *p, int32_t off, uint8_t src, int reg, uint32_t v)
{
	p->f[p->n++] = (struct pfield){ off, src, (int8_t)reg, v };
}

/* field = host register src, kept pending in register reg */
static void pend_reg(struct jc *j, int32_t off, int reg, int src)
{
	if (reg != src)
		e_mov_rr(&j->b, 4, reg, src);
	pend_field(&j->pf, off, PS_REG, reg, 0);
}

/* Lazy-flag field off among the pending ones, or NULL. */
static const struct pfield *pend_find(const struct jc *j, int32_t off)
{
	if (j->pf.on)
		for (int n = 0; n < j->pf.n; n++)
			if (j->pf.f[n].off == off)
				return &j->pf.f[n];
	return NULL;
}

/* Whether lazy-flag field off is pending as an immediate (in *v). */
static bool lf_imm(const struct jc *j, int32_t off, int32_t *v)
{
	const struct pfield *f = pend_find(j, off);
	if (!f || f->src != PS_IMM)
		return false;
	*v = (int32_t)f->v;
	return true;
}

/* The host register holding lazy-flag field off (pending or loaded into
 * scratch from struct emu_cpu). */
static int lf_reg(struct jc *j, int32_t off, int scratch)
{
	const struct pfield *f = pend_find(j, off);
	if (f && f->src == PS_REG)
		return f->reg;
	if (f) /* PS_IMM: slots are for slow paths only */
		e_mov_imm32(&j->b, scratch, f->v);
	else
		e_load(&j->b, 4, scratch, M(RBX, off));
	return scratch;
}

static struct stub *new_stub(struct jc *j)
{
	if (j->nstubs == JIT_MAX_STUBS) {
		j->failed = true;
		return &j->stubs[0];
	}
	return &j->stubs[j->nstubs++];
}

static void rd_greg(struct jc *j, int size, int r, int host);
static void wr_greg(struct jc *j, int size, int r, int host);
static int cached_reg(const struct jc *j, int size, int r);

/* dst = the offset of insn's memory operand (RSI and RAX are scratch) */
static void emit_ea_to(struct jc *j, const struct insn *i, int dst)
{
	struct jit_buf *b = &j->b;
	bool a32 = i->flags & I_A32;
	if (i->base == REG_NONE && i->index == REG_NONE) {
		e_mov_imm32(b, dst, i->disp & i->amask);
		return;
	}
	/* cached registers take part in the LEA directly */
	int base = NOREG, index = NOREG;
	if (i->base != REG_NONE) {
		base = cached_reg(j, 4, i->base);
		if (base < 0) {
			rd_greg(j, 4, i->base, RSI);
			base = RSI;
		}
	}
	if (i->index != REG_NONE) {
		index = cached_reg(j, 4, i->index);
		if (index < 0) {
			rd_greg(j, 4, i->index, RAX);
			index = RAX;
		}
		e_lea(b, 4, dst, MX(base, index, i->scale, (int32_t)i->disp));
	} else if (i->disp) {
		e_lea(b, 4, dst, M(base, (int32_t)i->disp));
	} else if (base != dst) {
		e_mov_rr(b, 4, dst, base);
	}
	if (!a32)
		e_movx_rr(b, false, 2, dst, dst);
}

/* ESI = the offset of insn's memory operand. */
static void emit_ea(struct jc *j, const struct insn *i)
{
	emit_ea_to(j, i, RSI);
}

/* The common part of a memory access: segment limit, linear address, TLB
 * entry check (in the TLB tlb_r pointed to at translation, addressed
 * inside struct emu_cpu; the trace's start checks it is still the one in
 * use; tlb_w follows it). Leaves RDI = host address base (add) so that the
 * access is [RDI + *lin], *lin being RSI (flat: the offset is the linear
 * address) or RDX. Both misses jump to the returned stub. */
static struct stub *emit_tlb(struct jc *j, const struct insn *i, int size, bool write, int *lin)
{
	struct jit_buf *b = &j->b;
	int seg = i->seg;
	struct stub *s = new_stub(j);
	s->kind = write;
	s->size = (uint8_t)size;
	s->seg = (uint8_t)seg;
	s->sign = 0;
	s->k = j->k;
	s->fault = s->after = j->pf;
	static const uint8_t cmp_q[] = { 0x3b };
	int32_t sbase = OFF(seg) + seg * (int32_t)sizeof(struct emu_seg);
	if ((write ? j->flat_w : j->flat_r) & (1u << seg)) {
		s->from[0] = NULL;
		*lin = RSI;
	} else {
		/* off + size - 1 > limit (signed: -1 means always check slowly) */
		e_lea(b, 8, RAX, M(RSI, size - 1));
		jb_op_mem(b, 8, cmp_q, 1, RAX,
			  M(RBX, sbase + (int32_t)(write ? offsetof(struct emu_seg, wlim)
							 : offsetof(struct emu_seg, rlim))));
		s->from[0] = e_jcc32(b, CC_G);
		e_load(b, 4, RDX, M(RBX, sbase + (int32_t)offsetof(struct emu_seg, base)));
		e_alu_rr(b, 4, 0, RDX, RSI);                  /* add edx, esi */
		*lin = RDX;
	}
	int32_t half = write ? (int32_t)(TLB_SIZE * sizeof(struct tlb_entry)) : 0;
	_Static_assert(sizeof(struct tlb_entry) == 16, "entry offset = page number << 4");
	if (jit_bmi2) {
		e_rorx(b, RAX, *lin, 12 - 4);                  /* the bits that matter */
	} else {
		e_mov_rr(b, 4, RAX, *lin);
		e_shift_ri(b, 4, 5, RAX, 12 - 4);              /* shr eax, 8 */
	}
	e_alu_ri(b, 4, 4, RAX, TLB_MASK << 4);                 /* the entry's offset */
	e_lea(b, 4, RDI, M(*lin, size - 1));                   /* the last byte's page */
	e_alu_ri(b, 4, 4, RDI, 0xfffff000u);
	e_alu_rm(b, 4, 7, RDI, MX(RBX, RAX, 0, j->tlb + half + (int32_t)offsetof(struct tlb_entry, tag)));
	s->from[1] = e_jcc32(b, CC_NE);
	e_load(b, 8, RDI, MX(RBX, RAX, 0, j->tlb + half + (int32_t)offsetof(struct tlb_entry, add)));
	j->hf_valid = false;
	return s;
}

/* EAX = the size-byte value at insn's memory operand (zero- or
 * sign-extended to 32 bits). ESI must hold the offset; it is kept. */
static void emit_load(struct jc *j, const struct insn *i, int size, bool sign)
{
	struct jit_buf *b = &j->b;
	int lin;
	struct stub *s = emit_tlb(j, i, size, false, &lin);
	s->sign = sign;
	struct mop m = MX(RDI, lin, 0, 0);
	if (size == 4) {
		e_load(b, 4, RAX, m);
	} else if (!sign) {
		e_load(b, size, RAX, m);
	} else {
		uint8_t op[2] = { 0x0f, (uint8_t)(size == 1 ? 0xbe : 0xbf) };
		jb_op_mem(b, 4, op, 2, RAX, m);
	}
	s->resume = b->p;
}

/* Stores ECX (CL, CX) to insn's memory operand at offset ESI. Returns
 * the slow path, whose `after` a flag writer sets. */
static struct stub *emit_store(struct jc *j, const struct insn *i, int size)
{
	struct jit_buf *b = &j->b;
	int lin;
	struct stub *s = emit_tlb(j, i, size, true, &lin);
	e_store(b, size, MX(RDI, lin, 0, 0), RCX);
	s->resume = b->p;
	return s;
}

static void emit_stubs(struct jc *j)
{
	struct jit_buf *b = &j->b;
	for (int n = 0; n < j->nstubs; n++) {
		struct stub *s = &j->stubs[n];
		jb_patch(b, s->from[0], b->p);
		jb_patch(b, s->from[1], b->p);
		e_store_imm(b, 4, CPU(icount_offset), (uint32_t)s->k);
		for (size_t n = 0; n < sizeof(stub_keeps); n++)
			e_store(b, 8, M(RSP, SLOT_KEEP + 8 * (int32_t)n), stub_keeps[n]);
		e_mov_rr(b, 8, RDI, RBX);
		e_mov_imm32(b, RDX, (uint32_t)(s->seg | s->size << 8));
		e_call_abs(b, s->kind == 0 ? (const void *)jit_ld : (const void *)jit_st);
		for (size_t n = 0; n < sizeof(stub_keeps); n++)
			e_load(b, 8, stub_keeps[n], M(RSP, SLOT_KEEP + 8 * (int32_t)n));
		if (s->kind == 0) {
			e_store_imm(b, 4, CPU(icount_offset), 0);
			e_mov_rr(b, 8, RDX, RAX);
			e_shift_ri(b, 8, 5, RDX, 32);                /* shr rdx, 32 */
			uint8_t *ok = e_jcc32(b, CC_E);
			j->pf = s->fault;
			exit_with(j, JIT_FAULT, s->k);
			jb_patch(b, ok, b->p);
			if (s->sign && s->size < 4)
				e_movx_rr(b, true, s->size, RAX, RAX);
			uint8_t *back = e_jmp32(b);
			jb_patch(b, back, s->resume);
		} else {
			/* (the value was in ECX: the fourth argument) */
			e_store_imm(b, 4, CPU(icount_offset), 0);
			e_test_rr(b, 4, RAX, RAX);
			uint8_t *ok = e_jcc32(b, CC_E);
			e_alu_ri(b, 4, 7, RAX, 1);
			uint8_t *smc = e_jcc32(b, CC_NE);
			j->pf = s->fault;
			exit_with(j, JIT_FAULT, s->k);
			jb_patch(b, smc, b->p);
			j->pf = s->after;
			exit_with(j, JIT_INTERP, s->k + 1);
			jb_patch(b, ok, b->p);
			uint8_t *back = e_jmp32(b);
			jb_patch(b, back, s->resume);
		}
	}
}

/* ---- flags ---- */

/* Guest register access by size (8-bit: byte offset as decoded). */
static struct mop greg(int size, int r)
{
	return size == 1 ? M(RBX, GREG8(r)) : M(RBX, GREG(r));
}

/* The host register caching guest register r of this size, or -1. */
static int cached_reg(const struct jc *j, int size, int r)
{
	if (size == 1)
		return (r & 1) ? -1 : j->cache[r >> 3]; /* AH..BH are never cached */
	return j->cache[r];
}

/* host (zero-extended to 32 bits) = guest register */
static void rd_greg(struct jc *j, int size, int r, int host)
{
	struct jit_buf *b = &j->b;
	int c = cached_reg(j, size, r);
	if (c < 0)
		e_load(b, size, host, greg(size, r));
	else if (size == 4)
		e_mov_rr(b, 4, host, c);
	else
		e_movx_rr(b, false, size, host, c);
}

/* guest register = host's low size bytes; a 32-bit write clears the
 * upper half of the 64-bit slot, as the interpreter's W32 does (host
 * registers holding 32-bit results have it clear). */
static void wr_greg(struct jc *j, int size, int r, int host)
{
	struct jit_buf *b = &j->b;
	int c = cached_reg(j, size, r);
	if (c < 0) {
		e_store(b, size == 4 ? 8 : size, greg(size, r), host);
		return;
	}
	j->dirty |= (uint8_t)(1u << (size == 1 ? r >> 3 : r));
	if (size == 4) {
		e_mov_rr(b, 4, c, host);
	} else {
		static const uint8_t mb[] = { 0x88 }, mv[] = { 0x89 };
		if (size == 1)
			jb_op_rr8(b, mb, 1, host, c);
		else
			jb_op_rr(b, 2, mv, 1, host, c);
	}
}

/* A 32-bit cached guest register r was written in its host register. */
static void set_dirty(struct jc *j, int r)
{
	j->dirty |= (uint8_t)(1u << r);
}

/* Cached guest registers that may have changed go back to struct
 * emu_cpu (before any exit to the interpreter). */
static void emit_writeback(struct jc *j)
{
	emit_pend(&j->b, &j->pf);
	if (!j->regs_loaded)
		return;
	for (int n = 0; n < 8; n++)
		if (j->cache[n] >= 0 && (j->dirty & (1u << n)))
			e_store(&j->b, 8, M(RBX, GREG(n)), j->cache[n]);
}

static void e_spill(struct jit_buf *b, int slot, int reg) { e_store(b, 4, M(RSP, slot), reg); }
static void e_fill(struct jit_buf *b, int reg, int slot) { e_load(b, 4, reg, M(RSP, slot)); }

/* ---- instruction translations ---- */

static const uint32_t lf_of_alu[9] = { LF_ADD, LF_LOGIC, LF_ADC, LF_SBB, LF_LOGIC, LF_SUB,
				       LF_LOGIC, LF_SUB, LF_LOGIC };

static void emit_carry(struct jc *j, int reg);

static void emit_alu(struct jc *j, const struct insn *i, int op, int form, int size)
{
	struct jit_buf *b = &j->b;
	bool writes = op != 7 && op != 8;
	bool logic = lf_of_alu[op] == LF_LOGIC;
	bool carry_in = op == 2 || op == 3;
	/* TEST computes as AND, CMP as SUB: the result feeds the lazy flags */
	int hostop = op == 8 ? 4 : op == 7 ? 5 : op;
	bool need = j->need_flags[j->k];
	bool mem_dst = form == F_MR || form == F_MI;
	bool imm = form == F_RI || form == F_MI;
	uint32_t m = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;

	/* ADC/SBB: the pending flags stored (movs: the host flags stay),
	 * then the guest's CF into R8 (it may call out; the memory accesses'
	 * slow paths keep R8); their own flags are stored too */
	if (carry_in) {
		flush_flags(j);
		emit_carry(j, R8);
	}
	/* Operands: a (the destination) and b in host registers, 32-bit
	 * cached guest registers as they are, the others in EAX and ECX;
	 * 8/16-bit values arrive zero-extended, as the lazy flags keep them. */
	int ra, rb = -1;
	if (form != F_RR && form != F_RI)
		emit_ea(j, i);
	if (form == F_RM) {
		emit_load(j, i, size, false);
		e_mov_rr(b, 4, RCX, RAX);
		rb = RCX;
	}
	if (mem_dst) {
		emit_load(j, i, size, false);
		ra = RAX;
	} else {
		ra = size == 4 ? cached_reg(j, 4, i->reg) : -1;
		if (ra < 0) {
			rd_greg(j, size, i->reg, RAX);
			ra = RAX;
		}
	}
	if (form == F_RR || form == F_MR) {
		int r = form == F_RR ? i->rm : i->reg;
		rb = size == 4 ? cached_reg(j, 4, r) : -1;
		if (rb < 0) {
			rd_greg(j, size, r, RCX);
			rb = RCX;
		}
	}
	/* the lazy flags' inputs: op1 kept before a changes, op2 = b */
	bool arith = need && !logic;
	int op1 = ra, op2 = rb, res;
	if (arith && (writes || ra == RAX)) { /* a changes below */
		/* R9 itself unless a store may still fault with the old
		 * pending flags (then R10) */
		int keep = mem_dst ? R10 : R9;
		e_mov_rr(b, 4, keep, ra);
		op1 = keep;
		if (rb == ra)
			op2 = keep;
	}
	if (carry_in) /* bt r8d, 0 */
		jb_byte(b, 0x41), jb_byte(b, 0x0f), jb_byte(b, 0xba), jb_byte(b, 0xe0), jb_byte(b, 0x00);
	if (!writes && need && ra != RAX) {
		/* CMP/TEST of a cached register: the result in EAX */
		e_mov_rr(b, 4, RAX, ra);
		ra = RAX;
	}
	if (!writes && ra != RAX) { /* no result wanted: CMP/TEST itself */
		if (op == 7 && imm)
			e_alu_ri(b, size, 7, ra, i->imm);
		else if (op == 7)
			e_alu_rr(b, size, 7, ra, rb);
		else if (imm)
			e_test_ri(b, size, ra, i->imm);
		else
			e_test_rr(b, size, ra, rb);
	} else if (imm) {
		e_alu_ri(b, size, hostop, ra, i->imm);
	} else {
		e_alu_rr(b, size, hostop, ra, rb);
	}
	res = ra;
	bool flags_ok = true;
	if (writes) {
		if (mem_dst) {
			/* the memory access's slow path keeps RCX, RSI, R8-R11:
			 * op1 in R10, the result in ECX, op2 an immediate, a
			 * cached register or (ECX) in a slot */
			if (arith && op2 == RCX) {
				e_spill(b, SLOT2, RCX);
				op2 = -1;
			}
			e_mov_rr(b, 4, RCX, RAX);
			struct stub *st = emit_store(j, i, size);
			res = RCX;
			flags_ok = false;
			if (need) {
				struct pend *a = &st->after;
				pend_set(a, lf_of_alu[op], size);
				pend_field(a, OFF(lf_res), PS_REG, RCX, 0);
				if (carry_in)
					pend_field(a, OFF(lf_cf), PS_REG, R8, 0);
				if (!logic) {
					pend_field(a, OFF(lf_op1), PS_REG, op1, 0);
					if (imm)
						pend_field(a, OFF(lf_op2), PS_IMM, -1, i->imm & m);
					else if (op2 < 0)
						pend_field(a, OFF(lf_op2), PS_SLOT, -1, SLOT2);
					else
						pend_field(a, OFF(lf_op2), PS_REG, op2, 0);
				}
			}
			if (op2 < 0) {
				e_fill(b, R11, SLOT2);
				op2 = R11;
			}
		} else if (ra == RAX) {
			wr_greg(j, size, i->reg, RAX);
		} else {
			set_dirty(j, i->reg);
		}
	}
	/* movs only from here: the host flags survive */
	if (carry_in) { /* after any fault: the old flags may need lf_cf */
		e_store(b, 4, CPU(lf_cf), R8);
		if (need) {
			store_kind(b, lf_of_alu[op], (uint32_t)size);
			e_store(b, 4, CPU(lf_res), res);
			e_store(b, 4, CPU(lf_op1), op1);
			if (imm)
				e_store_imm(b, 4, CPU(lf_op2), i->imm & m);
			else
				e_store(b, 4, CPU(lf_op2), op2);
		}
	} else if (need) {
		/* pending in R8, R9, R11: stored only where they may be read */
		pend_set(&j->pf, lf_of_alu[op], size);
		pend_reg(j, OFF(lf_res), R8, res);
		if (!logic) {
			pend_reg(j, OFF(lf_op1), R9, op1);
			if (imm)
				pend_field(&j->pf, OFF(lf_op2), PS_IMM, -1, i->imm & m);
			else
				pend_reg(j, OFF(lf_op2), R11, op2);
		}
	} else {
		j->pf.on = false; /* overwritten before anything reads them */
	}
	j->hf_valid = flags_ok;
	j->hf_cf = flags_ok;
	j->lf_kind = need ? (int)lf_of_alu[op] : -1;
	j->lf_size = size;
}

/* Conditions the host flags can answer: those that only need flags the
 * last emitted instruction set exactly. */
static bool host_cond_ok(struct jc *j, int cc)
{
	if (!j->hf_valid)
		return false;
	if (!j->hf_cf && ((cc >> 1) == 1 || (cc >> 1) == 3))
		return false;
	return true;
}

/* Leaves the guest condition cc in the host flags as "ZF clear = true"
 * (so JNE/SETNE/CMOVNE test it), or uses the host flags directly. Returns
 * the host condition code to use. */
/* Rebuilds the host flags from the lazy flags the last translated writer
 * stored, when its kind allows: the same operation on the same operands.
 * Sets hf_valid/hf_cf accordingly. */
static void emit_recompute(struct jc *j)
{
	struct jit_buf *b = &j->b;
	int size = j->lf_size;
	switch (j->lf_kind) {
	case LF_SUB: case LF_ADD: {
		int a = lf_reg(j, OFF(lf_op1), RAX);
		if (j->lf_kind == LF_ADD && a != RAX) { /* ADD changes its operand */
			e_mov_rr(b, 4, RAX, a);
			a = RAX;
		}
		int32_t imm;
		if (lf_imm(j, OFF(lf_op2), &imm)) {
			e_alu_ri(b, size, j->lf_kind == LF_SUB ? 7 : 0, a, (uint32_t)imm);
		} else {
			int c = lf_reg(j, OFF(lf_op2), RCX);
			e_alu_rr(b, size, j->lf_kind == LF_SUB ? 7 : 0, a, c);
		}
		j->hf_valid = j->hf_cf = true;
		return;
	}
	case LF_LOGIC: {
		int r = lf_reg(j, OFF(lf_res), RAX);
		e_test_rr(b, size, r, r);
		j->hf_valid = j->hf_cf = true;
		return;
	}
	case LF_INC: case LF_DEC:
		/* the result, stepped back and forth: all but CF */
		e_mov_rr(b, 4, RAX, lf_reg(j, OFF(lf_res), RAX));
		e_grp_r(b, size, size == 1 ? 0xfe : 0xff, j->lf_kind == LF_INC ? 1 : 0, RAX);
		e_grp_r(b, size, size == 1 ? 0xfe : 0xff, j->lf_kind == LF_INC ? 0 : 1, RAX);
		j->hf_valid = true;
		j->hf_cf = false;
		return;
	default:
		return;
	}
}

/* The guest's CF into register reg (0 or 1), as cheaply as the known
 * state allows. Clobbers RAX, RCX, RDX, RSI, RDI and the other
 * caller-saved registers (a helper may be called). */
static void emit_carry(struct jc *j, int reg)
{
	struct jit_buf *b = &j->b;
	if (!(j->hf_valid && j->hf_cf)) {
		switch (j->lf_kind) {
		case LF_SUB: case LF_ADD:
			emit_recompute(j);
			break;
		case LF_LOGIC:
			e_alu_rr(b, 4, 6, reg, reg); /* xor: CF is 0 */
			return;
		case LF_INC: case LF_DEC: case LF_SHL: case LF_SHR: case LF_SAR: case LF_MUL: {
			int r = lf_reg(j, OFF(lf_cf), reg);
			if (r != reg)
				e_mov_rr(b, 4, reg, r);
			return;
		}
		default: {
			flush_flags(j); /* (nothing is pending of an unknown kind) */
			/* unknown at translation (flags from before the trace
			 * or a loop's previous pass): the common kinds inline */
			/* SUB: CF = op1 < op2; ADD: CF = res < op1 */
			static const struct { uint32_t kind; int32_t a, b; } below[2] = {
				{ LF_SUB, OFF(lf_op1), OFF(lf_op2) },
				{ LF_ADD, OFF(lf_res), OFF(lf_op1) },
			};
			uint8_t *done[3], *is_dec, *is_inc;
			e_load(b, 2, RAX, CPU(lf_op));
			for (int n = 0; n < 2; n++) {
				e_alu_ri(b, 4, 7, RAX, below[n].kind);
				uint8_t *other = e_jcc32(b, CC_NE);
				e_load(b, 4, RAX, M(RBX, below[n].a));
				e_alu_rm(b, 4, 7, RAX, M(RBX, below[n].b));
				e_setcc(b, CC_B, RAX);
				e_movx_rr(b, false, 1, reg, RAX);
				done[n] = e_jmp32(b);
				jb_patch(b, other, b->p);
			}
			e_alu_ri(b, 4, 7, RAX, LF_DEC);
			is_dec = e_jcc32(b, CC_E);
			e_alu_ri(b, 4, 7, RAX, LF_INC);
			is_inc = e_jcc32(b, CC_E);
			e_mov_rr(b, 8, RDI, RBX);
			e_call_abs(b, (const void *)jit_cf);
			e_mov_rr(b, 4, reg, RAX);
			done[2] = e_jmp32(b);
			jb_patch(b, is_dec, b->p);
			jb_patch(b, is_inc, b->p);
			e_load(b, 4, reg, CPU(lf_cf));
			for (int n = 0; n < 3; n++)
				jb_patch(b, done[n], b->p);
			j->hf_valid = false;
			return;
		}
		}
	}
	e_setcc(b, CC_B, RDX);
	e_movx_rr(b, false, 1, reg, RDX);
}

/* Whether emit_cond answers cc from the host flags, as they are (unless
 * a memory access comes first: its TLB check clobbers them) or rebuilt
 * inline (clobbering only RAX and RCX), without a call. */
static bool cond_inline(struct jc *j, int cc, bool access_first)
{
	if (!access_first && host_cond_ok(j, cc))
		return true;
	bool uses_cf = (cc >> 1) == 1 || (cc >> 1) == 3;
	switch (j->lf_kind) {
	case LF_SUB: case LF_ADD: case LF_LOGIC:
		return true;
	case LF_INC: case LF_DEC:
		return !uses_cf;
	default:
		return false;
	}
}

static int emit_cond(struct jc *j, int cc)
{
	struct jit_buf *b = &j->b;
	if (host_cond_ok(j, cc))
		return cc;
	emit_recompute(j);
	if (host_cond_ok(j, cc))
		return cc;
	flush_flags(j); /* jit_cond reads them */
	e_mov_rr(b, 8, RDI, RBX);
	e_mov_imm32(b, RSI, (uint32_t)cc);
	e_call_abs(b, (const void *)jit_cond);
	e_test_rr(b, 4, RAX, RAX);
	j->hf_valid = false;
	return CC_NE;
}

/* left += n (a negative n subtracts) */
static void emit_budget_add(struct jit_buf *b, int32_t n)
{
	static const uint8_t grp1_imm8[] = { 0x83 }, grp1_imm32[] = { 0x81 };
	int ext = n < 0 ? 5 : 0; /* sub, add */
	uint32_t v = (uint32_t)(n < 0 ? -n : n);
	if (v < 128) {
		jb_op_mem(b, 8, grp1_imm8, 1, ext, CPU(left));
		jb_byte(b, (uint8_t)v);
	} else {
		jb_op_mem(b, 8, grp1_imm32, 1, ext, CPU(left));
		jb_u32(b, v);
	}
}

/* The checks before more translated code runs: nothing asks the CPU to
 * stop (to *events: nothing counted yet), and n more instructions are
 * within the budget: counted here, so *over must give them back. */
static void emit_go_checks(struct jc *j, uint32_t n, uint8_t **events, uint8_t **over)
{
	struct jit_buf *b = &j->b;
	static const uint8_t cmp_m32[] = { 0x83 };
	/* exit_request, intr_line, nmi_pending: one word */
	jb_op_mem(b, 4, cmp_m32, 1, 7, CPU(exit_request));
	jb_byte(b, 0);
	*events = e_jcc32(b, CC_NE);
	emit_budget_add(b, -(int32_t)n);
	*over = e_jcc32(b, CC_LE);
}

/* Leaves through exit slot (0 branch, 1 end, SLOT_INDIRECT the CPU's table
 * of indirect branch targets) after n_insns instructions, EIP already
 * stored: straight into the next trace's code when the slot remembers one
 * that is translated and the interpreter's own chaining conditions hold
 * (see JUMP_DIRECT and JUMP_INDIRECT in exec.c), else back to it with
 * kind << 8 | k. */
#define SLOT_INDIRECT (-1)
#define SLOT_SIDE (-2) /* SLOT_INDIRECT, for the target at side_eip */
static void emit_chain_exit_at(struct jc *j, int slot, int kind, int k, uint32_t n_insns,
			       uint32_t side_eip)
{
	struct jit_buf *b = &j->b;
	uint8_t *slow[8];
	int ns = 0;
	int32_t xo;
	int xb = RCX; /* the exit slot is at [xb + xo] */
	emit_writeback(j);
	e_mov_rr(b, 4, RSI, RAX); /* the callers leave EIP in EAX */
	if (slot == SLOT_SIDE) {
		/* The target is fixed relative to the trace's EIP: its table
		 * entry is known for the EIP this translation was made at. At
		 * another EIP the entry's own EIP check fails and the slow path
		 * uses the right one. */
		xo = OFF(ibtc) + (int32_t)(IBTC_HASH(side_eip) * sizeof(struct trace_exit));
		xb = RBX;
	} else if (slot == SLOT_INDIRECT) {
		/* RCX = c + IBTC_HASH(eip) * sizeof(struct trace_exit) */
		_Static_assert(sizeof(struct trace_exit) == 16, "ibtc entry size");
		e_mov_rr(b, 4, RCX, RSI);
		e_shift_ri(b, 4, 5, RCX, IBTC_BITS);
		e_alu_rr(b, 4, 6, RCX, RSI);
		e_alu_ri(b, 4, 4, RCX, (1u << IBTC_BITS) - 1);
		e_shift_ri(b, 4, 4, RCX, 4);
		e_alu_rr(b, 8, 0, RCX, RBX);
		xo = OFF(ibtc);
	} else {
		e_load(b, 8, RCX, CPU(cur_trace));
		xo = (int32_t)(offsetof(struct trace, exit) + (size_t)slot * sizeof(struct trace_exit));
	}
	e_load(b, 4, RDX, CPU(map_gen));
	e_alu_rm(b, 4, 7, RDX, M(xb, xo + (int32_t)offsetof(struct trace_exit, gen)));
	slow[ns++] = e_jcc32(b, CC_NE);
	e_alu_rm(b, 4, 7, RSI, M(xb, xo + (int32_t)offsetof(struct trace_exit, eip)));
	slow[ns++] = e_jcc32(b, CC_NE);
	e_load(b, 8, RDX, M(xb, xo + (int32_t)offsetof(struct trace_exit, t)));
	/* translated and valid (invalidation clears native_body) */
	e_load(b, 8, RDI, M(RDX, (int32_t)offsetof(struct trace, native_body)));
	e_test_rr(b, 8, RDI, RDI);
	slow[ns++] = e_jcc32(b, CC_E);
	uint8_t *over;
	emit_go_checks(j, n_insns, &slow[ns++], &over);
	/* The next trace lies within CS's limit: it did when the slot was
	 * filled, and CS cannot change without a new generation. */
	e_store(b, 8, CPU(cur_trace), RDX);
	e_store(b, 4, CPU(trace_eip), RSI);
	jb_byte(b, 0xff);
	jb_byte(b, 0xe7); /* jmp rdi */
	jb_patch(b, over, b->p);
	emit_budget_add(b, n_insns); /* the interpreter counts them */
	for (int n = 0; n < ns; n++)
		jb_patch(b, slow[n], b->p);
	e_store(b, 4, CPU(eip), RSI);
	exit_nowb(j, kind, k);
}

static void emit_chain_exit(struct jc *j, int slot, int kind, int k, uint32_t n_insns)
{
	emit_chain_exit_at(j, slot, kind, k, n_insns, 0);
}

/* A branch back to this trace's own start (a loop): only the events and
 * the budget need checking before running the body again. */
static void emit_self_loop(struct jc *j, int k)
{
	struct jit_buf *b = &j->b;
	uint8_t *slow[2];
	/* nothing is pending at the loop's head (this is a side path: the
	 * state stays for the code after the branch) */
	emit_pend(b, &j->pf);
	struct pend keep = j->pf;
	j->pf.on = false;
	emit_go_checks(j, (uint32_t)k + 1, &slow[0], &slow[1]);
	uint8_t *back = e_jmp32(b);
	jb_patch(b, back, j->loop_head);
	jb_patch(b, slow[1], b->p);
	emit_budget_add(b, (uint32_t)k + 1); /* the interpreter counts them */
	jb_patch(b, slow[0], b->p);
	e_load(b, 4, RAX, CPU(trace_eip)); /* back to the start */
	e_store(b, 4, CPU(eip), RAX);
	exit_with(j, JIT_BRANCH, k);
	j->pf = keep;
}

/* EAX = the EIP add bytes from the trace's start (c->eip is stored only
 * on the way back to the interpreter: translated code runs on trace_eip) */
static void set_eip_rel(struct jc *j, const struct insn *i, uint32_t add, bool o32)
{
	struct jit_buf *b = &j->b;
	e_load(b, 4, RAX, CPU(trace_eip));
	if (add)
		e_alu_ri(b, 4, 0, RAX, add);
	if (!o32)
		e_movx_rr(b, false, 2, RAX, RAX);
	(void)i;
}

/* push EAX (32-bit, on a 32-bit stack) */
static void emit_push_eax(struct jc *j, const struct insn *i)
{
	struct jit_buf *b = &j->b;
	e_mov_rr(b, 4, RCX, RAX);
	int sp = cached_reg(j, 4, 4);
	if (sp >= 0) {
		e_lea(b, 4, RSI, M(sp, -4));
	} else {
		rd_greg(j, 4, 4, RSI);
		e_lea(b, 4, RSI, M(RSI, -4));
	}
	struct insn s = *i;
	s.seg = SEG_SS;
	emit_store(j, &s, 4);
	wr_greg(j, 4, 4, RSI); /* (the slow path keeps ESI) */
}

/* EAX = pop (32-bit stack) */
static void emit_pop_eax(struct jc *j, const struct insn *i)
{
	struct jit_buf *b = &j->b;
	rd_greg(j, 4, 4, RSI);
	struct insn s = *i;
	s.seg = SEG_SS;
	emit_load(j, &s, 4, false);
	e_lea(b, 4, RCX, M(RSI, 4)); /* (the slow path keeps ESI) */
	wr_greg(j, 4, 4, RCX);
}

/* Exit if the stack is not 32-bit (those run in the interpreter): checked
 * once at the trace's start when it was 32-bit at translation. */
static void need_stack32(struct jc *j)
{
	struct jit_buf *b = &j->b;
	if (j->mode_need & MODE_STACK32)
		return;
	static const uint8_t cmpb[] = { 0x80 };
	jb_op_mem(b, 4, cmpb, 1, 7, CPU(stack32));
	jb_byte(b, 0);
	uint8_t *ok = e_jcc32(b, CC_NE);
	exit_with(j, JIT_INTERP, j->k);
	jb_patch(b, ok, b->p);
	j->hf_valid = false;
}

/* Jumps (the returned rel32) when the segments used flat still are and
 * tlb_r is the TLB the trace was translated for; clobbers RAX. */
static uint8_t *emit_mode_check(struct jc *j)
{
	struct jit_buf *b = &j->b;
	e_load(b, 4, RAX, CPU(mode_bits));
	e_grp_r(b, 4, 0xf7, 2, RAX);                   /* not eax */
	e_test_ri(b, 4, RAX, j->mode_need);
	return e_jcc32(b, CC_E);
}

/* An instruction run by its interpreter helper (see via_helper): guest
 * registers go to memory around the call, and the lazy flags in memory are
 * the truth afterwards. */
static void emit_helper(struct jc *j, const struct insn *i)
{
	struct jit_buf *b = &j->b;
	emit_writeback(j); /* with the pending flags */
	j->pf.on = false;
	e_mov_rr(b, 8, RDI, RBX);
	e_mov_imm64(b, RSI, (uint64_t)(uintptr_t)i);
	e_call_abs(b, (const void *)jit_helper);
	for (int r = 0; r < 8; r++)
		if (j->cache[r] >= 0)
			e_load(b, 4, j->cache[r], M(RBX, GREG(r)));
	e_test_rr(b, 4, RAX, RAX);
	uint8_t *ok = e_jcc32(b, CC_E);
	e_alu_ri(b, 4, 7, RAX, 2);
	uint8_t *not_fault = e_jcc32(b, CC_AE);
	exit_nowb(j, JIT_FAULT, j->k);
	jb_patch(b, not_fault, b->p);
	uint8_t *done = e_jcc32(b, CC_NE);
	/* the trace's code was overwritten: what follows is decoded again */
	exit_nowb(j, JIT_INTERP, j->k + 1);
	jb_patch(b, done, b->p);
	exit_nowb(j, JIT_DONE, j->k);
	jb_patch(b, ok, b->p);
	/* the access rules (the TLB in use) the rest was translated for */
	ok = emit_mode_check(j);
	exit_nowb(j, JIT_INTERP, j->k + 1);
	jb_patch(b, ok, b->p);
	j->hf_valid = false;
	j->lf_kind = -1;
}

/* The lazy flags of a shift just done on the host: result in EAX, the
 * operand in R10, the count in CL or cnt, CF in the host's flags. */
static void store_shift_flags(struct jc *j, uint32_t lf, int size, bool by_cl, uint32_t cnt)
{
	struct jit_buf *b = &j->b;
	e_setcc(b, CC_B, RDX); /* the last bit shifted out */
	e_movx_rr(b, false, 1, RDX, RDX);
	e_store(b, 4, CPU(lf_cf), RDX);
	store_kind(b, lf, (uint32_t)size);
	e_store(b, 4, CPU(lf_res), RAX);
	e_store(b, 4, CPU(lf_op1), R10);
	if (by_cl)
		e_store(b, 4, CPU(lf_op2), RCX);
	else
		e_store_imm(b, 4, CPU(lf_op2), cnt);
}

/* The host register holding insn's 32-bit r/m operand: a cached guest
 * register as it is, else scratch (a memory operand is read through EAX). */
static int rm32_operand(struct jc *j, const struct insn *i, int scratch)
{
	if (i->flags & I_MEM) {
		emit_ea(j, i);
		emit_load(j, i, 4, false);
		if (scratch != RAX)
			e_mov_rr(&j->b, 4, scratch, RAX);
		return scratch;
	}
	int r = cached_reg(j, 4, i->rm);
	if (r < 0) {
		rd_greg(j, 4, i->rm, scratch);
		r = scratch;
	}
	return r;
}

/* Translations that handle pending lazy flags themselves (keep them,
 * replace them, or store them where they read flags); the others find
 * them stored. */
static bool keeps_pending(const struct insn *i)
{
	int op, form, size;
	if (alu_handler(i->hid, &op, &form, &size) || mov_handler(i->hid, &form, &size))
		return true;
	switch (i->hid) {
	case H_NOP: case H_LEA16: case H_LEA32: case H_MOVZX_R8: case H_MOVSX_R8:
	case H_MOVZX_R16: case H_MOVSX_R16: case H_MOVZX_M8: case H_MOVSX_M8:
	case H_MOVZX_M16: case H_MOVSX_M16: case H_INC_R16: case H_INC_R32:
	case H_DEC_R16: case H_DEC_R32: case H_PUSH_R32: case H_PUSH_I32: case H_POP_R32:
	case H_JCC: case H_JMP: case H_CALL: case H_RET: case H_SETCC: case H_CMOV:
	case H_JMP_RM: case H_CALL_RM: case H_CBW: case H_CWD:
	case H_SHL_R32: case H_SHR_R32: case H_SAR_R32: /* (by CL: stored first) */
	case H_IMUL:
		return true;
	default:
		return false;
	}
}

static bool emit_insn(struct jc *j, const struct insn *i, bool last)
{
	struct jit_buf *b = &j->b;
	int op, form, size;
	bool o32 = i->flags & I_O32;
	uint32_t amask = o32 ? 0xffffffffu : 0xffffu;
	if (via_helper(i)) { /* (it stores pending flags with the registers) */
		emit_helper(j, i);
		return true;
	}
	if (!keeps_pending(i))
		flush_flags(j);
	if (alu_handler(i->hid, &op, &form, &size)) {
		emit_alu(j, i, op, form, size);
		return true;
	}
	if (mov_handler(i->hid, &form, &size)) {
		switch (form) {
		case F_RR: {
			int d = size == 4 ? cached_reg(j, 4, i->reg) : -1;
			int sr = size == 4 ? cached_reg(j, 4, i->rm) : -1;
			if (d >= 0 && sr >= 0) {
				e_mov_rr(b, 4, d, sr);
				set_dirty(j, i->reg);
			} else if (d >= 0) {
				rd_greg(j, 4, i->rm, d);
				set_dirty(j, i->reg);
			} else {
				rd_greg(j, size, i->rm, RAX);
				wr_greg(j, size, i->reg, RAX);
			}
			break;
		}
		case F_RM:
			emit_ea(j, i);
			emit_load(j, i, size, false);
			wr_greg(j, size, i->reg, RAX);
			break;
		case F_MR:
			emit_ea(j, i);
			rd_greg(j, size, i->reg, RCX);
			emit_store(j, i, size);
			break;
		case F_RI:
			e_mov_imm32(b, RAX, i->imm);
			wr_greg(j, size, i->reg, RAX);
			break;
		default: /* F_MI */
			emit_ea(j, i);
			e_mov_imm32(b, RCX, i->imm);
			emit_store(j, i, size);
			break;
		}
		return true;
	}
	switch (i->hid) {
	case H_NOP:
		return true;
	case H_LEA16: case H_LEA32: {
		int d = i->hid == H_LEA32 ? cached_reg(j, 4, i->reg) : -1;
		if (d >= 0) { /* straight into the cached register */
			emit_ea_to(j, i, d);
			set_dirty(j, i->reg);
			return true;
		}
		emit_ea(j, i);
		wr_greg(j, i->hid == H_LEA32 ? 4 : 2, i->reg, RSI);
		return true;
	}
	case H_MOVZX_R8: case H_MOVSX_R8: case H_MOVZX_R16: case H_MOVSX_R16: {
		bool sign = i->hid == H_MOVSX_R8 || i->hid == H_MOVSX_R16;
		int from = (i->hid == H_MOVZX_R8 || i->hid == H_MOVSX_R8) ? 1 : 2;
		int d = o32 ? cached_reg(j, 4, i->reg) : -1;
		int sr = cached_reg(j, from, i->rm);
		if (d >= 0 && sr >= 0) { /* movzx/movsx d, sr */
			e_movx_rr(b, sign, from, d, sr);
			set_dirty(j, i->reg);
			return true;
		}
		rd_greg(j, from, i->rm, RAX);
		if (sign)
			e_movx_rr(b, true, from, RAX, RAX);
		wr_greg(j, o32 ? 4 : 2, i->reg, RAX);
		return true;
	}
	case H_MOVZX_M8: case H_MOVSX_M8: case H_MOVZX_M16: case H_MOVSX_M16: {
		bool sign = i->hid == H_MOVSX_M8 || i->hid == H_MOVSX_M16;
		int from = (i->hid == H_MOVZX_M8 || i->hid == H_MOVSX_M8) ? 1 : 2;
		emit_ea(j, i);
		emit_load(j, i, from, sign);
		wr_greg(j, o32 ? 4 : 2, i->reg, RAX);
		return true;
	}
	case H_INC_R16: case H_INC_R32: case H_DEC_R16: case H_DEC_R32: {
		bool inc = i->hid == H_INC_R16 || i->hid == H_INC_R32;
		size = (i->hid == H_INC_R32 || i->hid == H_DEC_R32) ? 4 : 2;
		bool need = j->need_flags[j->k];
		bool had_cf = j->hf_valid && j->hf_cf;
		if (need)
			emit_carry(j, RDX); /* INC/DEC keep CF */
		int r = size == 4 ? cached_reg(j, 4, i->reg) : -1;
		if (r >= 0) {
			e_grp_r(b, 4, 0xff, inc ? 0 : 1, r);
			set_dirty(j, i->reg);
		} else {
			rd_greg(j, size, i->reg, RAX);
			e_grp_r(b, size, 0xff, inc ? 0 : 1, RAX);
			wr_greg(j, size, i->reg, RAX);
			r = RAX;
		}
		if (need) { /* pending (movs only: the host flags survive) */
			pend_set(&j->pf, inc ? LF_INC : LF_DEC, size);
			if (size != 4) {
				e_movx_rr(b, false, 2, R8, r);
				r = R8;
			}
			pend_reg(j, OFF(lf_res), R8, r);
			pend_reg(j, OFF(lf_cf), R9, RDX);
		} else {
			j->pf.on = false;
		}
		j->hf_valid = true;
		j->hf_cf = had_cf && j->hf_valid; /* the host's INC/DEC kept it too */
		j->lf_kind = need ? (inc ? LF_INC : LF_DEC) : -1;
		j->lf_size = size;
		return true;
	}
	case H_PUSH_R32: case H_PUSH_I32:
		need_stack32(j);
		if (i->hid == H_PUSH_R32)
			rd_greg(j, 4, i->reg, RAX);
		else
			e_mov_imm32(b, RAX, i->imm);
		emit_push_eax(j, i);
		return true;
	case H_POP_R32:
		need_stack32(j);
		emit_pop_eax(j, i);
		wr_greg(j, 4, i->reg, RAX);
		return true;
	case H_JCC: {
		int hcc = emit_cond(j, i->op);
		uint8_t *no = e_jcc32(b, hcc ^ 1);
		if (((i->ofs + i->len + i->imm) & amask) == 0) {
			emit_self_loop(j, j->k);
			jb_patch(b, no, b->p);
			return true;
		}
		set_eip_rel(j, i, i->ofs + i->len + i->imm, o32);
		if (last)
			emit_chain_exit(j, 0, JIT_BRANCH, j->k, (uint32_t)j->k + 1);
		else /* a side exit of a trace that goes on */
			emit_chain_exit_at(j, SLOT_SIDE, JIT_INDIRECT, j->k, (uint32_t)j->k + 1,
					   (j->c->trace_eip + i->ofs + i->len + i->imm) & amask);
		/* not taken: the host flags are as emit_cond left them */
		jb_patch(b, no, b->p);
		return true;
	}
	case H_JMP:
		set_eip_rel(j, i, i->ofs + i->len + i->imm, o32);
		emit_chain_exit(j, 0, JIT_BRANCH, j->k, (uint32_t)j->k + 1);
		return true;
	case H_CALL:
		need_stack32(j);
		e_load(b, 4, RAX, CPU(trace_eip));
		e_alu_ri(b, 4, 0, RAX, i->ofs + i->len);
		emit_push_eax(j, i);
		set_eip_rel(j, i, i->ofs + i->len + i->imm, true);
		emit_chain_exit(j, 0, JIT_BRANCH, j->k, (uint32_t)j->k + 1);
		return true;
	case H_RET:
		need_stack32(j);
		emit_pop_eax(j, i);
		if (i->imm) {
			rd_greg(j, 4, 4, RCX);
			e_alu_ri(b, 4, 0, RCX, i->imm);
			wr_greg(j, 4, 4, RCX);
		}
		emit_chain_exit(j, SLOT_INDIRECT, JIT_INDIRECT, j->k, (uint32_t)j->k + 1);
		return true;
	case H_SETCC: {
		int hcc = emit_cond(j, i->op);
		e_setcc(b, hcc, RCX);
		if (i->flags & I_MEM) {
			e_movx_rr(b, false, 1, RCX, RCX);
			e_mov_rr(b, 4, R10, RCX);
			emit_ea(j, i);
			e_mov_rr(b, 4, RCX, R10);
			emit_store(j, i, 1);
		} else {
			wr_greg(j, 1, i->rm, RCX);
		}
		j->hf_valid = false;
		return true;
	}
	case H_CMOV: {
		if (!o32)
			return false;
		if (cond_inline(j, i->op, i->flags & I_MEM)) {
			/* the source (read whatever the condition) into EDX, then
			 * the condition in the host flags and a host CMOV */
			int src = rm32_operand(j, i, RDX);
			int hcc = emit_cond(j, i->op);
			int d = cached_reg(j, 4, i->reg);
			uint8_t op[2] = { 0x0f, (uint8_t)(0x40 | hcc) };
			if (d >= 0) {
				jb_op_rr(b, 4, op, 2, d, src);
				set_dirty(j, i->reg);
			} else {
				rd_greg(j, 4, i->reg, RAX);
				jb_op_rr(b, 4, op, 2, RAX, src);
				wr_greg(j, 4, i->reg, RAX);
			}
			return true;
		}
		/* the condition first, while the host flags may still hold it */
		int hcc = emit_cond(j, i->op);
		e_setcc(b, hcc, RCX);
		e_movx_rr(b, false, 1, RCX, RCX);
		e_spill(b, SLOT0, RCX);
		if (i->flags & I_MEM) {
			emit_ea(j, i);
			emit_load(j, i, 4, false); /* read whatever the condition */
		} else {
			rd_greg(j, 4, i->rm, RAX);
		}
		static const uint8_t cmp_m32[] = { 0x83 };
		jb_op_mem(b, 4, cmp_m32, 1, 7, M(RSP, SLOT0));
		jb_byte(b, 0);
		uint8_t *no = e_jcc32(b, CC_E);
		wr_greg(j, 4, i->reg, RAX);
		jb_patch(b, no, b->p);
		j->hf_valid = false;
		return true;
	}
	case H_ROT_R32: {
		uint8_t *skip = NULL;
		if (i->flags & I_CL) {
			rd_greg(j, 1, 8, RCX);
			e_alu_ri(b, 4, 4, RCX, 31);
			skip = e_jcc32(b, CC_E);
		} else if (!(i->imm & 31)) {
			return true;
		}
		rd_greg(j, 4, i->rm, RAX);
		if (i->flags & I_CL)
			e_shift_rcl(b, 4, i->op, RAX);
		else
			e_shift_ri(b, 4, i->op, RAX, (uint8_t)(i->imm & 31));
		wr_greg(j, 4, i->rm, RAX);
		if (j->need_flags[j->k]) {
			e_mov_rr(b, 4, RSI, RAX);
			e_mov_imm32(b, RDX, i->op);
			e_mov_rr(b, 8, RDI, RBX);
			e_call_abs(b, (const void *)jit_rot_flags);
		}
		j->lf_kind = -1;
		if (skip)
			jb_patch(b, skip, b->p);
		j->hf_valid = false;
		return true;
	}
	case H_INCDEC_RM: {
		size = (i->opcode & 1) ? (o32 ? 4 : 2) : 1;
		bool need = j->need_flags[j->k];
		bool mem = i->flags & I_MEM;
		/* the kept CF, before anything clobbers the host flags */
		if (need) {
			emit_carry(j, RDX);
			e_spill(b, SLOT1, RDX);
		}
		if (mem) {
			emit_ea(j, i);
			emit_load(j, i, size, false);
		} else {
			rd_greg(j, size, i->rm, RAX);
		}
		e_grp_r(b, size, size == 1 ? 0xfe : 0xff, i->op ? 1 : 0, RAX);
		if (mem) {
			if (size != 4)
				e_movx_rr(b, false, size, RAX, RAX);
			e_mov_rr(b, 4, RCX, RAX);
			struct stub *st = emit_store(j, i, size);
			e_mov_rr(b, 4, RAX, RCX);
			if (need) {
				pend_set(&st->after, i->op ? LF_DEC : LF_INC, size);
				pend_field(&st->after, OFF(lf_res), PS_REG, RCX, 0);
				pend_field(&st->after, OFF(lf_cf), PS_SLOT, -1, SLOT1);
			}
		} else {
			wr_greg(j, size, i->rm, RAX);
		}
		if (need) {
			e_fill(b, RDX, SLOT1);
			e_store(b, 4, CPU(lf_cf), RDX);
			store_kind(b, i->op ? LF_DEC : LF_INC, (uint32_t)size);
			if (size != 4)
				e_movx_rr(b, false, size, RAX, RAX);
			e_store(b, 4, CPU(lf_res), RAX);
		}
		j->hf_valid = !mem;
		j->hf_cf = false;
		j->lf_kind = need ? (i->op ? LF_DEC : LF_INC) : -1;
		j->lf_size = size;
		return true;
	}
	case H_GRP3: {
		size = (i->opcode & 1) ? (o32 ? 4 : 2) : 1;
		bool mem = i->flags & I_MEM;
		bool need = j->need_flags[j->k];
		if (mem) {
			emit_ea(j, i);
			emit_load(j, i, size, false);
		} else {
			rd_greg(j, size, i->rm, RAX);
		}
		switch (i->op) {
		case 2: case 3: /* NOT, NEG */
			e_spill(b, SLOT1, RAX); /* op1 for NEG's lazy flags */
			e_grp_r(b, size, size == 1 ? 0xf6 : 0xf7, i->op, RAX);
			if (mem) {
				e_mov_rr(b, 4, RCX, RAX);
				struct stub *st = emit_store(j, i, size);
				e_mov_rr(b, 4, RAX, RCX);
				if (i->op == 3 && need) {
					pend_set(&st->after, LF_NEG, size);
					pend_field(&st->after, OFF(lf_res), PS_REG, RCX, 0);
					pend_field(&st->after, OFF(lf_op1), PS_IMM, -1, 0);
					pend_field(&st->after, OFF(lf_op2), PS_SLOT, -1, SLOT1);
				}
			} else {
				wr_greg(j, size, i->rm, RAX);
			}
			if (i->op == 3 && need) {
				store_kind(b, LF_NEG, (uint32_t)size);
				if (size != 4)
					e_movx_rr(b, false, size, RAX, RAX);
				e_store(b, 4, CPU(lf_res), RAX);
				e_store_imm(b, 4, CPU(lf_op1), 0);
				e_fill(b, RCX, SLOT1);
				e_store(b, 4, CPU(lf_op2), RCX);
			}
			j->hf_valid = !mem && i->op == 3;
			j->hf_cf = j->hf_valid;
			if (i->op == 3)
				j->lf_kind = need ? LF_NEG : -1;
			return true;
		default: /* MUL, IMUL: EDX:EAX = EAX * src */
			e_mov_rr(b, 4, RCX, RAX);
			rd_greg(j, 4, 0, RAX);
			e_grp_r(b, 4, 0xf7, i->op, RCX);
			e_mov_rr(b, 4, RSI, RDX); /* the flags below are before any flag change */
			wr_greg(j, 4, 0, RAX);
			wr_greg(j, 4, 2, RSI);
			if (need) {
				e_setcc(b, CC_B, RCX);
				e_movx_rr(b, false, 1, RCX, RCX);
				e_store(b, 4, CPU(lf_cf), RCX);
				store_kind(b, LF_MUL, 4);
				e_store(b, 4, CPU(lf_res), RAX);
			}
			j->hf_valid = false;
			j->lf_kind = need ? LF_MUL : -1;
			j->lf_size = 4;
			return true;
		}
	}
	case H_JMP_RM: case H_CALL_RM:
		if (i->flags & I_MEM) {
			emit_ea(j, i);
			emit_load(j, i, 4, false);
		} else {
			rd_greg(j, 4, i->rm, RAX);
		}
		if (i->hid == H_CALL_RM) {
			e_spill(b, SLOT0, RAX);
			need_stack32(j);
			e_load(b, 4, RAX, CPU(trace_eip));
			e_alu_ri(b, 4, 0, RAX, i->ofs + i->len);
			emit_push_eax(j, i);
			e_fill(b, RAX, SLOT0);
		}
		emit_chain_exit(j, SLOT_INDIRECT, JIT_INDIRECT, j->k, (uint32_t)j->k + 1);
		return true;
	case H_SHL_R32: case H_SHR_R32: case H_SAR_R32: {
		int ext = i->hid == H_SHL_R32 ? 4 : i->hid == H_SHR_R32 ? 5 : 7;
		uint32_t lf = i->hid == H_SHL_R32 ? LF_SHL : i->hid == H_SHR_R32 ? LF_SHR : LF_SAR;
		bool need = j->need_flags[j->k];
		uint8_t *skip = NULL;
		if (!(i->flags & I_CL)) { /* in place; the flags left pending */
			uint8_t cnt = (uint8_t)(i->imm & 31);
			if (!cnt)
				return true;
			int r = cached_reg(j, 4, i->rm);
			if (r < 0) {
				rd_greg(j, 4, i->rm, RAX);
				r = RAX;
			}
			if (need)
				e_mov_rr(b, 4, R9, r);
			e_shift_ri(b, 4, ext, r, cnt);
			if (need) {
				e_setcc(b, CC_B, R11); /* the last bit shifted out */
				e_movx_rr(b, false, 1, R11, R11);
				pend_set(&j->pf, lf, 4);
				pend_reg(j, OFF(lf_res), R8, r);
				pend_field(&j->pf, OFF(lf_op1), PS_REG, R9, 0);
				pend_field(&j->pf, OFF(lf_op2), PS_IMM, -1, cnt);
				pend_field(&j->pf, OFF(lf_cf), PS_REG, R11, 0);
			} else {
				j->pf.on = false;
			}
			if (r == RAX)
				wr_greg(j, 4, i->rm, RAX);
			else
				set_dirty(j, i->rm);
			j->lf_kind = need ? (int)lf : -1;
			j->lf_size = 4;
			j->hf_valid = false;
			return true;
		}
		flush_flags(j); /* a count of 0 in CL leaves them */
		rd_greg(j, 1, 8, RCX);
		e_alu_ri(b, 4, 4, RCX, 31);
		skip = e_jcc32(b, CC_E); /* count 0: nothing at all */
		rd_greg(j, 4, i->rm, RAX);
		e_mov_rr(b, 4, R10, RAX);
		if (i->flags & I_CL)
			e_shift_rcl(b, 4, ext, RAX);
		else
			e_shift_ri(b, 4, ext, RAX, (uint8_t)(i->imm & 31));
		if (need)
			store_shift_flags(j, lf, 4, i->flags & I_CL, i->imm & 31);
		/* a CL count may be zero: then nothing changed */
		j->lf_kind = -1;
		j->lf_size = 4;
		wr_greg(j, 4, i->rm, RAX);
		if (skip)
			jb_patch(b, skip, b->p);
		j->hf_valid = false;
		return true;
	}
	case H_SHIFT: { /* shift16_inline's forms: the others went to the helper */
		int ext = i->op == 5 ? 5 : i->op == 7 ? 7 : 4;
		uint32_t lf = ext == 4 ? LF_SHL : ext == 5 ? LF_SHR : LF_SAR;
		uint8_t cnt = (uint8_t)(i->imm & 31);
		rd_greg(j, 2, i->rm, RAX);
		e_mov_rr(b, 4, R10, RAX);
		e_shift_ri(b, 2, ext, RAX, cnt); /* the upper half stays zero */
		if (j->need_flags[j->k])
			store_shift_flags(j, lf, 2, false, cnt);
		j->lf_kind = j->need_flags[j->k] ? (int)lf : -1;
		j->lf_size = 2;
		wr_greg(j, 2, i->rm, RAX);
		j->hf_valid = false;
		return true;
	}
	case H_IMUL: {
		if (!o32)
			return false;
		bool need = j->need_flags[j->k];
		int src = rm32_operand(j, i, RAX);
		int res, d = cached_reg(j, 4, i->reg);
		if (i->op) { /* imul r, r/m, imm */
			e_mov_imm32(b, RCX, i->imm);
			e_imul_rr(b, 4, RCX, src);
			res = RCX;
		} else if (d >= 0) { /* in place */
			e_imul_rr(b, 4, d, src);
			res = d;
		} else {
			rd_greg(j, 4, i->reg, RCX);
			e_imul_rr(b, 4, RCX, src);
			res = RCX;
		}
		if (need) { /* pending: CF = OF = the product overflowed */
			e_setcc(b, CC_O, R9);
			e_movx_rr(b, false, 1, R9, R9);
			pend_set(&j->pf, LF_MUL, 4);
			pend_reg(j, OFF(lf_res), R8, res);
			pend_field(&j->pf, OFF(lf_cf), PS_REG, R9, 0);
		} else {
			j->pf.on = false;
		}
		if (res == d)
			set_dirty(j, i->reg);
		else
			wr_greg(j, 4, i->reg, res);
		j->hf_valid = false;
		j->lf_kind = need ? LF_MUL : -1;
		j->lf_size = 4;
		return true;
	}
	case H_CBW:
		rd_greg(j, o32 ? 2 : 1, 0, RAX);
		e_movx_rr(b, true, o32 ? 2 : 1, RAX, RAX);
		wr_greg(j, o32 ? 4 : 2, 0, RAX);
		return true;
	case H_CWD:
		if (!o32)
			return false;
		rd_greg(j, 4, 0, RAX);
		e_shift_ri(b, 4, 7, RAX, 31);
		wr_greg(j, 4, 2, RAX);
		j->hf_valid = false;
		return true;
	default:
		(void)amask;
		return false;
	}
}

/* Counts how often each guest register is named in the first n
 * instructions, and keeps the four most used in R12-R15 (registers whose
 * high byte AH..BH is used stay in memory). */
static void note_reg(int *uses, uint8_t *forbid, int r, bool byte)
{
	if (byte) {
		if (r & 1)
			*forbid |= (uint8_t)(1u << (r >> 3));
		else
			uses[r >> 3]++;
	} else if (r >= 0 && r < 8) {
		uses[r]++;
	}
}

static void choose_cached_regs(struct jc *j, int n)
{
	int uses[8] = { 0 };
	uint8_t forbid = 0;
	for (int k = 0; k < n; k++) {
		const struct insn *i = &j->t->insn[k];
		int op, form, size = 4;
		bool alu = alu_handler(i->hid, &op, &form, &size);
		bool mov = !alu && mov_handler(i->hid, &form, &size);
		bool reg_byte = (alu || mov) && size == 1;
		bool rm_byte = reg_byte || i->hid == H_SETCC || i->hid == H_MOVZX_R8 ||
			       i->hid == H_MOVSX_R8 ||
			       ((i->hid == H_INCDEC_RM || i->hid == H_GRP3) && !(i->opcode & 1));
		if (i->flags & I_MEM) {
			note_reg(uses, &forbid, i->base, false);
			note_reg(uses, &forbid, i->index, false);
		} else {
			note_reg(uses, &forbid, i->rm, rm_byte);
		}
		note_reg(uses, &forbid, i->reg, reg_byte);
		switch (i->hid) {
		case H_PUSH_R32: case H_PUSH_I32: case H_POP_R32: case H_CALL: case H_RET:
		case H_CALL_RM:
			uses[4] += 2;
			break;
		case H_GRP3: case H_CBW: case H_CWD:
			uses[0]++;
			uses[2]++;
			break;
		default:
			break;
		}
		if (i->flags & I_CL)
			uses[1]++;
	}
	/* A register pays for its load at entry and its store at the exit
	 * from the third use on; in a trace that loops on itself, at once. */
	int min_uses = 3;
	for (int k = 0; k < n; k++) {
		const struct insn *i = &j->t->insn[k];
		if ((i->hid == H_JCC || i->hid == H_JMP) &&
		    ((i->ofs + i->len + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu)) == 0)
			min_uses = 1;
	}
	static const int hosts[] = { R12, R13, R14, R15, RBP };
	memset(j->cache, -1, sizeof(j->cache));
	j->dirty = 0;
	/* RBP too in a trace that loops on itself: elsewhere a fifth load
	 * at the entry and store at the exit cost more than they save */
	int nhosts = min_uses == 1 ? 5 : 4;
	for (int h = 0; h < nhosts; h++) {
		int best = -1;
		for (int r = 0; r < 8; r++)
			if (!(forbid & (1u << r)) && j->cache[r] < 0 && uses[r] >= min_uses &&
			    (best < 0 || uses[r] > uses[best]))
				best = r;
		if (best < 0)
			break;
		j->cache[best] = (int8_t)hosts[h];
	}
	/* In a trace that loops on itself, an exit may come after a register
	 * was written further down in an earlier pass: every cached register
	 * counts as written. */
	if (min_uses == 1)
		for (int r = 0; r < 8; r++)
			if (j->cache[r] >= 0)
				j->dirty |= (uint8_t)(1u << r);
}

void jit_init(struct emu_cpu *c)
{
	__builtin_cpu_init();
	jit_bmi2 = __builtin_cpu_supports("bmi2");
	const char *env = getenv("PCVM_JIT");
	c->jit_threshold = JIT_DEFAULT_THRESHOLD;
	if (env) {
		if (!strcmp(env, "off"))
			c->jit_threshold = 0;
		else if (!strcmp(env, "always"))
			c->jit_threshold = 1;
		else if (atoi(env) > 0)
			c->jit_threshold = (uint32_t)atoi(env);
	}
	if (!c->jit_threshold)
		return;
	void *p = mmap(NULL, JIT_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("cannot map memory for the JIT (%s); interpreting only",
			 strerror(errno));
		c->jit_threshold = 0;
		return;
	}
	c->jit_code = p;
	c->jit_size = JIT_CODE_SIZE;
	c->jit_used = 0;
	if (getenv("PCVM_JIT_PERFMAP")) {
		char name[64];
		snprintf(name, sizeof(name), "/tmp/perf-%d.map", (int)getpid());
		c->jit_perfmap = fopen(name, "w");
		if (c->jit_perfmap)
			setvbuf((FILE *)c->jit_perfmap, NULL, _IOLBF, 0);
	}
}

void jit_destroy(struct emu_cpu *c)
{
	if (c->jit_code)
		munmap(c->jit_code, c->jit_size);
	c->jit_code = NULL;
	if (c->jit_perfmap)
		fclose((FILE *)c->jit_perfmap);
	c->jit_perfmap = NULL;
}

void jit_reset(struct emu_cpu *c)
{
	c->jit_used = 0;
}

bool jit_compile(struct emu_cpu *c, struct trace *t)
{
	if (!c->jit_code || c->jit_size - c->jit_used < JIT_MAX_TRACE_CODE)
		return false;
	static struct jc jc_storage; /* large; the CPU runs on one thread */
	struct jc *j = &jc_storage;
	memset(j, 0, offsetof(struct jc, stubs));
	j->nstubs = 0;
	j->hf_valid = j->hf_cf = j->failed = false;
	j->lf_kind = -1;
	j->pf.on = false;
	j->regs_loaded = false;
	memset(j->cache, -1, sizeof(j->cache));
	j->dirty = 0;
	j->c = c;
	j->t = t;
	j->b.p = c->jit_code + c->jit_used;
	j->b.end = j->b.p + JIT_MAX_TRACE_CODE;
	uint8_t *start = j->b.p;

	/* which instructions to translate, and flag liveness */
	int n = 0;
	unsigned pr[TRACE_MAX_INSNS];
	while (n < t->ninsn && ((pr[n] = props(&t->insn[n])) & P_JIT))
		n++;
	if (n == 0)
		return false;
	bool live = true; /* whatever comes after the translated part reads them */
	for (int k = n - 1; k >= 0; k--) {
		if (pr[k] & P_STORE)
			live = true; /* a store may hand over right after itself */
		j->need_flags[k] = live;
		if (pr[k] & (P_RD | P_FAULT))
			live = true;
		else if (pr[k] & P_WR)
			live = false;
	}

	struct jit_buf *b = &j->b;
	/* prologue: save callee-saved registers, RBX = the CPU */
	e_push(b, RBX);
	e_push(b, RBP);
	e_push(b, R12);
	e_push(b, R13);
	e_push(b, R14);
	e_push(b, R15);
	e_alu_ri(b, 8, 5, RSP, FRAME); /* spill slots; RSP stays 16-byte aligned */
	e_mov_rr(b, 8, RBX, RDI);
	uint8_t *to_body = e_jmp32(b);
	j->epilogue = b->p;
	e_alu_ri(b, 8, 0, RSP, FRAME);
	e_pop(b, R15);
	e_pop(b, R14);
	e_pop(b, R13);
	e_pop(b, R12);
	e_pop(b, RBP);
	e_pop(b, RBX);
	jb_byte(b, 0xc3);
	jb_patch(b, to_body, b->p);
	uint8_t *body = b->p;
	j->tlb = (int32_t)((uint8_t *)c->tlb_r - (uint8_t *)c);
	j->body = body;
	/* segments used flat, and the check that they still are */
	j->flat_r = j->flat_w = 0;
	bool stack_ops = false;
	for (int k = 0; k < n; k++) {
		const struct insn *i = &t->insn[k];
		int s = -1;
		bool stack = i->hid == H_PUSH_R32 || i->hid == H_PUSH_I32 || i->hid == H_POP_R32 ||
			     i->hid == H_CALL || i->hid == H_RET || i->hid == H_CALL_RM;
		stack_ops |= stack;
		if (i->flags & I_MEM)
			s = i->seg;
		else if (stack)
			s = SEG_SS;
		if (s < 0 || s > SEG_GS)
			continue;
		const struct emu_seg *sg = &c->seg[s];
		if (sg->base == 0 && sg->rlim == 0xffffffffll)
			j->flat_r |= (uint8_t)(1u << s);
		if (sg->base == 0 && sg->wlim == 0xffffffffll)
			j->flat_w |= (uint8_t)(1u << s);
	}
	/* the segments used flat must still be, and the TLB the same: one
	 * test of the CPU's mask */
	j->mode_need = j->flat_r | (uint32_t)j->flat_w << 8 |
		       (c->mode_bits & (7u << MODE_TLB_SHIFT));
	if (stack_ops && c->stack32)
		j->mode_need |= MODE_STACK32;
	if (!(j->mode_need & (7u << MODE_TLB_SHIFT)))
		return false; /* (emu_update_access has not run) */
	{
		uint8_t *ok = emit_mode_check(j);
		exit_with(j, JIT_STALE, 0);
		jb_patch(b, ok, b->p);
	}
	choose_cached_regs(j, n);
	for (int r = 0; r < 8; r++)
		if (j->cache[r] >= 0)
			e_load(b, 4, j->cache[r], M(RBX, GREG(r)));
	j->regs_loaded = true;
	j->loop_head = b->p;

	bool ended = false;
	for (j->k = 0; j->k < n; j->k++) {
		const struct insn *i = &t->insn[j->k];
		if (!emit_insn(j, i, j->k == t->ninsn - 1)) {
			if (j->k == 0)
				return false; /* the interpreter would enter us again */
			exit_with(j, JIT_INTERP, j->k);
			ended = true;
			break;
		}
		if (b->full || j->failed)
			return false;
	}
	if (!ended) {
		if (n < t->ninsn) {
			exit_with(j, JIT_INTERP, n);
		} else {
			/* fell off the end: EIP = the byte after the trace */
			set_eip_rel(j, NULL, t->nbytes, t->insn[0].flags & I_O32 ? true : true);
			/* (the END's EIP keeps 32 bits; JUMP_DIRECT masks nothing
			 * either: traces never cross a 64 KiB wrap, see build_trace) */
			emit_chain_exit(j, 1, JIT_END, t->ninsn, t->ninsn);
		}
	}
	emit_stubs(j);
	if (b->full || j->failed)
		return false;
	c->jit_used += (size_t)(b->p - start);
	c->jit_used = (c->jit_used + 15) & ~(size_t)15;
	t->native = start;
	t->native_body = body;
	c->stat_jit_compiled++;
	if (c->jit_perfmap) /* for `perf report`: name the code by guest EIP */
		fprintf((FILE *)c->jit_perfmap, "%lx %lx guest_%08x_%u\n", (unsigned long)(uintptr_t)start,
			(unsigned long)(b->p - start), c->eip, (unsigned)t->ninsn);
	return true;
}

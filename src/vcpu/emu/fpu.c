/*
 * The x87 FPU of the software CPU, as a P6 (Pentium Pro/II) has it: the
 * register stack with its tags, the control and status words, the
 * instruction/operand pointers and opcode, every ESC instruction's stack
 * effects, condition codes, stack faults and masked/unmasked exception
 * responses, and the FSTENV/FSAVE (16/32-bit, real/protected) and FXSAVE
 * layouts. References: Intel SDM vol. 1 chapter 8 (8.1 state, 8.5 and 4.9
 * exceptions), vol. 2 instruction pages for per-instruction condition codes
 * and stack-fault responses, vol. 3 table 9-1 for the reset state.
 *
 * How values are computed: everything that rounds, converts or does
 * arithmetic on a value (FADD ... FCOS, FLD/FST of non-80-bit formats, FBLD,
 * compares) goes through fpu_x87.c, which runs the instruction on the host's
 * x87 in the guest's control word and reports results and flags. The host
 * is x86-64 with the same 80-bit x87, so this is bit-exact and gets the
 * exception priorities and unmasked responses of real hardware for free.
 * This file decides what happens around that computation: which registers
 * are read (empty ones are a stack fault, handled here because the host
 * only ever sees valid operands), whether the result is delivered (not when
 * an unmasked invalid, denormal or divide-by-zero exception was reported),
 * pushes and pops, tags, ES/B, and the pointers. A port to a non-x86 host
 * replaces fpu_x87.c only.
 *
 * Where the SDM leaves a detail undefined, this follows what the x87 of the
 * development host (AMD EPYC) does, since tests/unit/test_fpu_diff.cc
 * compares against it: FFREE/FFREEP clear C1; stack faults of FPTAN, FSIN,
 * FCOS, FSINCOS, FPREM, FPREM1 clear C2; a compare with an empty operand
 * reports "unordered" even with IE unmasked; 16-bit protected-mode FLDENV
 * clears FOP; the undocumented D9 D8+i alias of FSTP does not check for an
 * empty ST(0). Where the SDM is explicit and that host differs, the SDM
 * wins (FLD m32/m64 of a denormal with DE unmasked does not push, vol. 1
 * 8.5.2); the differential test corrects for it.
 */
#include "fpu.h"
#include "fpu_x87.h"
#include "../vcpu.h"

#include <string.h>

#define FSW_IE 0x0001
#define FSW_DE 0x0002
#define FSW_ZE 0x0004
#define FSW_OE 0x0008
#define FSW_UE 0x0010
#define FSW_PE 0x0020
#define FSW_SF 0x0040
#define FSW_ES 0x0080
#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_TOP 0x3800
#define FSW_C3 0x4000
#define FSW_B 0x8000
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_EXC 0x003f

#define EFL_CF 0x0001
#define EFL_PF 0x0004
#define EFL_AF 0x0010
#define EFL_ZF 0x0040
#define EFL_SF 0x0080
#define EFL_OF 0x0800
#define EFL_ARITH (EFL_CF | EFL_PF | EFL_AF | EFL_ZF | EFL_SF | EFL_OF)

/* FLDCW keeps bits 0-5 and 8-12 (IC is stored though it has no effect on
 * P6); bit 6 reads as 1 and bits 13-15 as 0. */
#define FCW_STORED 0x1f3f
#define FCW_ONES 0x0040

static const struct fpu_f80 fpu_indefinite = { 0xc000000000000000ull, 0xffff };

static unsigned fpu_top(const struct fpu *f) { return (f->sw >> 11) & 7; }

static void set_top(struct fpu *f, unsigned top)
{
	f->sw = (uint16_t)((f->sw & ~FSW_TOP) | ((top & 7) << 11));
}

static unsigned phys(const struct fpu *f, unsigned i) { return (fpu_top(f) + i) & 7; }
static bool empty(const struct fpu *f, unsigned i) { return !(f->ftw & (1u << phys(f, i))); }
static struct fpu_f80 st_get(const struct fpu *f, unsigned i) { return f->r[phys(f, i)]; }

static void st_set(struct fpu *f, unsigned i, struct fpu_f80 v)
{
	unsigned p = phys(f, i);
	f->r[p] = v;
	f->ftw |= (uint8_t)(1u << p);
}

static void push(struct fpu *f, struct fpu_f80 v)
{
	set_top(f, fpu_top(f) - 1);
	st_set(f, 0, v);
}

static void pop(struct fpu *f)
{
	f->ftw &= (uint8_t)~(1u << phys(f, 0));
	set_top(f, fpu_top(f) + 1);
}

static void set_cc(struct fpu *f, uint16_t mask, uint16_t val)
{
	f->sw = (uint16_t)((f->sw & ~mask) | (val & mask));
}

/* ES (and B, its 8087-era copy) summarise "some exception flag is set whose
 * mask bit is clear"; loading FCW or FSW re-derives them. */
static void update_es(struct fpu *f)
{
	if (f->sw & ~f->cw & FSW_EXC)
		f->sw |= FSW_ES | FSW_B;
	else
		f->sw &= (uint16_t)~(FSW_ES | FSW_B);
}

/* Sets exception flags. True when the instruction must not deliver its
 * result: an unmasked invalid-operation, denormal or zero-divide exception
 * is detected before the computation (SDM vol. 1 8.7 and 4.9.2). */
static bool raise(struct fpu *f, unsigned exc)
{
	f->sw |= (uint16_t)(exc & (FSW_EXC | FSW_SF));
	update_es(f);
	return exc & ~f->cw & (FSW_IE | FSW_DE | FSW_ZE);
}

/* Stack faults (SDM vol. 1 8.5.1.1): IE with SF, C1 telling overflow (1)
 * from underflow (0). True when masked: the caller then applies the masked
 * response, usually the QNaN indefinite as the result. */
static bool stack_underflow(struct fpu *f)
{
	f->sw &= (uint16_t)~FSW_C1;
	return !raise(f, FSW_IE | FSW_SF);
}

static bool stack_overflow(struct fpu *f)
{
	f->sw |= FSW_C1;
	return !raise(f, FSW_IE | FSW_SF);
}

/* Runs a kernel operation and takes over its condition codes (the kernel
 * starts from ours, so the ones the instruction leaves alone stay); true
 * when the result is to be delivered. */
static bool compute(struct fpu *f, enum fpu_x87_op op, struct fpu_x87_io *io)
{
	io->cw = f->cw;
	io->sw = f->sw;
	fpu_x87_run(op, io);
	set_cc(f, FSW_CC, io->sw);
	return !raise(f, io->sw & FSW_EXC);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static void put_f80(uint8_t *p, struct fpu_f80 v) { put64(p, v.sig); put16(p + 8, v.se); }
static struct fpu_f80 get_f80(const uint8_t *p) { return (struct fpu_f80){ get64(p), get16(p + 8) }; }

/* ---- arithmetic ---- */

/* The D8/DC/DA/DE memory forms: ST(0) op m32real/m64real/m32int/m16int,
 * including FCOM/FCOMP/FICOM/FICOMP (reg 2 and 3). */
static void arith_mem(struct fpu *f, enum fpu_x87_op group, unsigned reg, const uint8_t *mem,
		      unsigned len)
{
	struct fpu_x87_io io = { .rflags = 0 };
	bool cmp = reg == 2 || reg == 3;

	if (empty(f, 0)) {
		bool masked = stack_underflow(f);
		if (cmp)
			f->sw |= FSW_C0 | FSW_C2 | FSW_C3;
		if (masked) {
			if (!cmp)
				st_set(f, 0, fpu_indefinite);
			if (reg == 3)
				pop(f);
		}
		return;
	}
	io.r[0] = st_get(f, 0);
	memcpy(io.mem, mem, len);
	if (cmp) {
		if (compute(f, group + reg, &io) && reg == 3)
			pop(f);
	} else if (compute(f, group + reg, &io)) {
		st_set(f, 0, io.r[0]);
	}
}

/* The register forms D8 (ST(0) = ST(0) op ST(i)) and DC/DE (ST(i) =
 * ST(i) op ST(0), DE popping), minus the compares. */
static void arith_reg(struct fpu *f, enum fpu_x87_op group, unsigned reg, unsigned i, bool to_sti,
		      bool popit)
{
	struct fpu_x87_io io = { .rflags = 0 };
	unsigned dst = to_sti ? i : 0;

	if (empty(f, 0) || empty(f, i)) {
		if (stack_underflow(f)) {
			st_set(f, dst, fpu_indefinite);
			if (popit)
				pop(f);
		}
		return;
	}
	io.r[0] = st_get(f, 0);
	io.r[1] = st_get(f, i);
	if (compute(f, group + reg, &io)) {
		st_set(f, dst, io.r[to_sti]);
		if (popit)
			pop(f);
	}
}

/* FCOM/FUCOM/FCOMI/FUCOMI/FTST of ST(0) with ST(i), then pops times. The
 * FCOMI forms report in EFLAGS (ZF, PF, CF; OF, SF, AF cleared even when an
 * unmasked exception leaves the rest alone) and leave C0, C2, C3 alone. */
static void compare(struct fpu *f, struct fpu_insn *in, enum fpu_x87_op op, unsigned i,
		    unsigned pops, bool eflags)
{
	struct fpu_x87_io io = { .rflags = 0 };
	bool deliver;

	if (empty(f, 0) || empty(f, i)) {
		deliver = stack_underflow(f);
		if (eflags) {
			in->eflags &= ~(uint32_t)(EFL_OF | EFL_SF | EFL_AF);
			in->eflags |= EFL_ZF | EFL_PF | EFL_CF;
		} else {
			/* "unordered" even when the fault is unmasked */
			f->sw |= FSW_C0 | FSW_C2 | FSW_C3;
		}
	} else {
		io.r[0] = st_get(f, 0);
		io.r[1] = st_get(f, i);
		io.rflags = in->eflags;
		deliver = compute(f, op, &io);
		if (eflags)
			in->eflags = (in->eflags & ~(uint32_t)EFL_ARITH) | (uint32_t)io.rflags;
	}
	if (deliver)
		while (pops--)
			pop(f);
}

/* FXAM's classes (C3, C2, C0), SDM vol. 2 FXAM: the formats with the
 * integer bit clear where it must be set (unnormals, pseudo-NaNs and
 * pseudo-infinities) are "unsupported". */
static void fxam(struct fpu *f)
{
	struct fpu_f80 v = st_get(f, 0);
	unsigned exp = v.se & 0x7fff;
	uint16_t cc;

	if (empty(f, 0))
		cc = FSW_C3 | FSW_C0;
	else if (exp == 0)
		cc = v.sig ? FSW_C3 | FSW_C2 : FSW_C3;
	else if (!(v.sig >> 63))
		cc = 0;
	else if (exp == 0x7fff)
		cc = v.sig << 1 ? FSW_C0 : FSW_C2 | FSW_C0;
	else
		cc = FSW_C2;
	if (v.se & 0x8000)
		cc |= FSW_C1;
	set_cc(f, FSW_CC, cc);
}

/* ---- loads and stores ---- */

/* Pushes a value converted by the kernel (FLD m32/m64, FILD, FBLD, the
 * constants). */
static void load(struct fpu *f, enum fpu_x87_op op, const uint8_t *mem, unsigned len)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (!empty(f, 7)) {
		if (stack_overflow(f))
			push(f, fpu_indefinite);
		return;
	}
	if (len)
		memcpy(io.mem, mem, len);
	if (compute(f, op, &io))
		push(f, io.r[0]);
}

static void load_f80(struct fpu *f, struct fpu_f80 v)
{
	if (!empty(f, 7)) {
		if (stack_overflow(f))
			push(f, fpu_indefinite);
		return;
	}
	f->sw &= (uint16_t)~FSW_C1;
	push(f, v);
}

/* Stores ST(0) converted by the kernel (FST/FSTP m32/m64, FIST/FISTP,
 * FBSTP). An unmasked invalid, overflow or underflow exception leaves the
 * destination and the stack alone (SDM vol. 1 8.5.1.2, 8.5.4, 8.5.5); an
 * unmasked inexact one does not. */
static void store(struct fpu *f, struct fpu_insn *in, enum fpu_x87_op op, unsigned len,
		  const uint8_t *indefinite, bool popit)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (empty(f, 0)) {
		if (stack_underflow(f)) {
			memcpy(in->mem, indefinite, len);
			in->store = true;
			if (popit)
				pop(f);
		}
		return;
	}
	io.r[0] = st_get(f, 0);
	io.cw = f->cw;
	io.sw = f->sw;
	fpu_x87_run(op, &io);
	set_cc(f, FSW_CC, io.sw);
	raise(f, io.sw & FSW_EXC);
	if (io.sw & ~f->cw & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE))
		return;
	memcpy(in->mem, io.mem, len);
	in->store = true;
	if (popit)
		pop(f);
}

static const uint8_t indef_m32[4] = { 0, 0, 0xc0, 0xff };
static const uint8_t indef_m64[8] = { 0, 0, 0, 0, 0, 0, 0xf8, 0xff };
static const uint8_t indef_m80[10] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff };
static const uint8_t indef_i16[2] = { 0, 0x80 };
static const uint8_t indef_i32[4] = { 0, 0, 0, 0x80 };
static const uint8_t indef_i64[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
static const uint8_t indef_bcd[10] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff };

static void store_f80(struct fpu *f, struct fpu_insn *in)
{
	if (empty(f, 0)) {
		if (stack_underflow(f)) {
			memcpy(in->mem, indef_m80, 10);
			in->store = true;
			pop(f);
		}
		return;
	}
	f->sw &= (uint16_t)~FSW_C1;
	put_f80(in->mem, st_get(f, 0));
	in->store = true;
	pop(f);
}

/* FST/FSTP ST(i): a copy, no conversion, so no exception but underflow. */
static void store_reg(struct fpu *f, unsigned i, bool popit)
{
	if (empty(f, 0)) {
		if (!stack_underflow(f))
			return;
		st_set(f, i, fpu_indefinite);
	} else {
		f->sw &= (uint16_t)~FSW_C1;
		st_set(f, i, st_get(f, 0));
	}
	if (popit)
		pop(f);
}

/* FLD ST(i): an empty source is reported before a full destination. */
static void fld_reg(struct fpu *f, unsigned i)
{
	if (empty(f, i)) {
		if (stack_underflow(f))
			push(f, fpu_indefinite);
		return;
	}
	load_f80(f, st_get(f, i));
}

static void fxch(struct fpu *f, unsigned i)
{
	struct fpu_f80 t;

	if (empty(f, 0) || empty(f, i)) {
		if (!stack_underflow(f))
			return;
		if (empty(f, 0))
			st_set(f, 0, fpu_indefinite);
		if (empty(f, i))
			st_set(f, i, fpu_indefinite);
	}
	f->sw &= (uint16_t)~FSW_C1;
	t = st_get(f, 0);
	st_set(f, 0, st_get(f, i));
	st_set(f, i, t);
}

static bool fcmov_cond(uint8_t opcode, unsigned reg, uint32_t eflags)
{
	bool c;

	switch (reg & 3) {
	case 0: c = eflags & EFL_CF; break;
	case 1: c = eflags & EFL_ZF; break;
	case 2: c = eflags & (EFL_CF | EFL_ZF); break;
	default: c = eflags & EFL_PF; break;
	}
	return opcode == 0xda ? c : !c;
}

static void fcmov(struct fpu *f, struct fpu_insn *in, unsigned reg, unsigned i)
{
	if (empty(f, 0) || empty(f, i)) {
		if (stack_underflow(f))
			st_set(f, 0, fpu_indefinite);
		return;
	}
	if (fcmov_cond(in->opcode, reg, in->eflags))
		st_set(f, 0, st_get(f, i));
}

/* ---- D9 E0-FF ---- */

/* F2XM1, FSQRT, FRNDINT, FSIN, FCOS: ST(0) = f(ST(0)). The trigonometric
 * ones leave ST(0) alone and set C2 when it is out of range, and clear C2
 * on a stack fault. */
static void unary(struct fpu *f, enum fpu_x87_op op, bool trig)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (empty(f, 0)) {
		if (trig)
			f->sw &= (uint16_t)~FSW_C2;
		if (stack_underflow(f))
			st_set(f, 0, fpu_indefinite);
		return;
	}
	io.r[0] = st_get(f, 0);
	if (compute(f, op, &io) && !(trig && (io.sw & FSW_C2)))
		st_set(f, 0, io.r[0]);
}

/* FPTAN, FSINCOS, FXTRACT: ST(0) replaced, then a push. Out of range
 * (C2 set by FPTAN/FSINCOS) nothing changes. */
static void unary_push(struct fpu *f, enum fpu_x87_op op, bool trig)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (empty(f, 0) || !empty(f, 7)) {
		bool masked;
		if (trig)
			f->sw &= (uint16_t)~FSW_C2;
		masked = empty(f, 0) ? stack_underflow(f) : stack_overflow(f);
		if (masked) {
			st_set(f, 0, fpu_indefinite);
			push(f, fpu_indefinite);
		}
		return;
	}
	io.r[0] = st_get(f, 0);
	if (compute(f, op, &io) && !(trig && (io.sw & FSW_C2))) {
		st_set(f, 0, io.r[1]);
		push(f, io.r[0]);
	}
}

/* FPREM, FPREM1, FSCALE: ST(0) = f(ST(0), ST(1)). A stack fault reports
 * the partial remainder complete (C2 clear). */
static void binary_st0(struct fpu *f, enum fpu_x87_op op)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (empty(f, 0) || empty(f, 1)) {
		if (op != FPU_X87_FSCALE)
			f->sw &= (uint16_t)~FSW_C2;
		if (stack_underflow(f))
			st_set(f, 0, fpu_indefinite);
		return;
	}
	io.r[0] = st_get(f, 0);
	io.r[1] = st_get(f, 1);
	if (compute(f, op, &io))
		st_set(f, 0, io.r[0]);
}

/* FYL2X, FPATAN, FYL2XP1: ST(1) = f(ST(0), ST(1)), then a pop. */
static void binary_pop(struct fpu *f, enum fpu_x87_op op)
{
	struct fpu_x87_io io = { .rflags = 0 };

	if (empty(f, 0) || empty(f, 1)) {
		if (stack_underflow(f)) {
			st_set(f, 1, fpu_indefinite);
			pop(f);
		}
		return;
	}
	io.r[0] = st_get(f, 0);
	io.r[1] = st_get(f, 1);
	if (compute(f, op, &io)) {
		st_set(f, 1, io.r[0]);
		pop(f);
	}
}

static int d9_reg(struct fpu *f, struct fpu_insn *in, uint8_t modrm)
{
	unsigned i = modrm & 7;
	struct fpu_f80 v;

	switch (modrm) {
	case 0xc0 ... 0xc7: fld_reg(f, i); return FPU_OK;
	case 0xc8 ... 0xcf: fxch(f, i); return FPU_OK;
	case 0xd0: return FPU_OK; /* FNOP */
	case 0xd8 ... 0xdf:
		/* FSTP1, the alias that does not check for an empty ST(0):
		 * with one it only pops. */
		if (empty(f, 0)) {
			f->sw &= (uint16_t)~FSW_C1;
			pop(f);
		} else {
			store_reg(f, i, true);
		}
		return FPU_OK;
	case 0xe0:
	case 0xe1:
		if (empty(f, 0)) {
			if (stack_underflow(f))
				st_set(f, 0, fpu_indefinite);
			return FPU_OK;
		}
		v = st_get(f, 0);
		v.se = modrm == 0xe0 ? v.se ^ 0x8000 : v.se & 0x7fff;
		f->sw &= (uint16_t)~FSW_C1;
		st_set(f, 0, v);
		return FPU_OK;
	case 0xe4: compare(f, in, FPU_X87_FTST, 0, 0, false); return FPU_OK;
	case 0xe5: fxam(f); return FPU_OK;
	case 0xe8 ... 0xee: load(f, FPU_X87_FLD1 + (modrm - 0xe8), NULL, 0); return FPU_OK;
	case 0xf0: unary(f, FPU_X87_F2XM1, false); return FPU_OK;
	case 0xf1: binary_pop(f, FPU_X87_FYL2X); return FPU_OK;
	case 0xf2: unary_push(f, FPU_X87_FPTAN, true); return FPU_OK;
	case 0xf3: binary_pop(f, FPU_X87_FPATAN); return FPU_OK;
	case 0xf4: unary_push(f, FPU_X87_FXTRACT, false); return FPU_OK;
	case 0xf5: binary_st0(f, FPU_X87_FPREM1); return FPU_OK;
	case 0xf6:
		f->sw &= (uint16_t)~FSW_C1;
		set_top(f, fpu_top(f) - 1);
		return FPU_OK;
	case 0xf7:
		f->sw &= (uint16_t)~FSW_C1;
		set_top(f, fpu_top(f) + 1);
		return FPU_OK;
	case 0xf8: binary_st0(f, FPU_X87_FPREM); return FPU_OK;
	case 0xf9: binary_pop(f, FPU_X87_FYL2XP1); return FPU_OK;
	case 0xfa: unary(f, FPU_X87_FSQRT, false); return FPU_OK;
	case 0xfb: unary_push(f, FPU_X87_FSINCOS, true); return FPU_OK;
	case 0xfc: unary(f, FPU_X87_FRNDINT, false); return FPU_OK;
	case 0xfd: binary_st0(f, FPU_X87_FSCALE); return FPU_OK;
	case 0xfe: unary(f, FPU_X87_FSIN, true); return FPU_OK;
	case 0xff: unary(f, FPU_X87_FCOS, true); return FPU_OK;
	default: return FPU_UD;
	}
}

/* ---- environment and state ---- */

uint16_t fpu_tag_word(const struct fpu *f)
{
	uint16_t tw = 0;

	for (unsigned p = 0; p < 8; p++) {
		const struct fpu_f80 *v = &f->r[p];
		unsigned exp = v->se & 0x7fff, tag;

		if (!(f->ftw & (1u << p)))
			tag = 3;
		else if (exp == 0x7fff)
			tag = 2;
		else if (exp == 0)
			tag = v->sig ? 2 : 1;
		else
			tag = v->sig >> 63 ? 0 : 2;
		tw |= (uint16_t)(tag << (2 * p));
	}
	return tw;
}

static void load_tag_word(struct fpu *f, uint16_t tw)
{
	f->ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			f->ftw |= (uint8_t)(1u << p);
}

static void set_cw(struct fpu *f, uint16_t cw)
{
	f->cw = (uint16_t)((cw & FCW_STORED) | FCW_ONES);
}

/* FSTENV/FSAVE layouts, SDM vol. 1 figures 8-9 to 8-12. The reserved
 * halves of the 32-bit formats read back as ones. Real-mode formats hold
 * linear pointers split 16/16 (32-bit) or 16/4 (16-bit) around the opcode;
 * the 16-bit protected-mode format has no room for the opcode. */
static unsigned store_env(const struct fpu *f, uint8_t *p, bool o32, bool pmode)
{
	uint16_t tw = fpu_tag_word(f);

	if (o32) {
		put32(p + 0, 0xffff0000u | f->cw);
		put32(p + 4, 0xffff0000u | f->sw);
		put32(p + 8, 0xffff0000u | tw);
		if (pmode) {
			put32(p + 12, (uint32_t)f->fip);
			put32(p + 16, f->fcs | (uint32_t)(f->fop & 0x7ff) << 16);
			put32(p + 20, (uint32_t)f->fdp);
			put32(p + 24, 0xffff0000u | f->fds);
		} else {
			put32(p + 12, 0xffff0000u | (uint16_t)f->fip);
			put32(p + 16, (uint32_t)((f->fip >> 16) & 0xffff) << 12 | (f->fop & 0x7ff));
			put32(p + 20, 0xffff0000u | (uint16_t)f->fdp);
			put32(p + 24, (uint32_t)((f->fdp >> 16) & 0xffff) << 12);
		}
		return 28;
	}
	put16(p + 0, f->cw);
	put16(p + 2, f->sw);
	put16(p + 4, tw);
	if (pmode) {
		put16(p + 6, (uint16_t)f->fip);
		put16(p + 8, f->fcs);
		put16(p + 10, (uint16_t)f->fdp);
		put16(p + 12, f->fds);
	} else {
		put16(p + 6, (uint16_t)f->fip);
		put16(p + 8, (uint16_t)(((f->fip >> 16) & 0xf) << 12 | (f->fop & 0x7ff)));
		put16(p + 10, (uint16_t)f->fdp);
		put16(p + 12, (uint16_t)(((f->fdp >> 16) & 0xf) << 12));
	}
	return 14;
}

static unsigned load_env(struct fpu *f, const uint8_t *p, bool o32, bool pmode)
{
	unsigned n = o32 ? 4 : 2;

	set_cw(f, get16(p));
	f->sw = get16(p + n);
	load_tag_word(f, get16(p + 2 * n));
	if (o32 && pmode) {
		f->fip = get32(p + 12);
		f->fcs = get16(p + 16);
		f->fop = get16(p + 18) & 0x7ff;
		f->fdp = get32(p + 20);
		f->fds = get16(p + 24);
	} else if (o32) {
		f->fip = get16(p + 12) | (uint64_t)((get32(p + 16) >> 12) & 0xffff) << 16;
		f->fop = get16(p + 16) & 0x7ff;
		f->fdp = get16(p + 20) | (uint64_t)((get32(p + 24) >> 12) & 0xffff) << 16;
		f->fcs = f->fds = 0;
	} else if (pmode) {
		f->fip = get16(p + 6);
		f->fcs = get16(p + 8);
		f->fdp = get16(p + 10);
		f->fds = get16(p + 12);
		f->fop = 0; /* not in this format */
	} else {
		f->fip = get16(p + 6) | (uint64_t)(get16(p + 8) >> 12) << 16;
		f->fop = get16(p + 8) & 0x7ff;
		f->fdp = get16(p + 10) | (uint64_t)(get16(p + 12) >> 12) << 16;
		f->fcs = f->fds = 0;
	}
	update_es(f);
	return o32 ? 28 : 14;
}

void fpu_init(struct fpu *f)
{
	f->cw = 0x037f;
	f->sw = 0;
	f->ftw = 0;
	f->fop = 0;
	f->fip = f->fdp = 0;
	f->fcs = f->fds = 0;
}

void fpu_reset(struct fpu *f)
{
	memset(f, 0, sizeof(*f));
	f->cw = 0x0040;
	f->ftw = 0xff;
}

/* ---- decoding ---- */

/* Register forms (mod = 3) that are not #UD on a P6: the documented ones
 * plus the aliases real parts execute (D9 D8+i FSTP, DC D0+i FCOM,
 * DC D8+i FCOMP, DD C8+i FXCH, DE D0+i FCOMP, DF C0+i FFREEP, DF C8+i FXCH,
 * DF D0+i and D8+i FSTP) and DB E0, E1, E4 (FENI, FDISI, FSETPM of the
 * 8087/287, no-ops since the 387). */
static bool reg_form_valid(unsigned op, uint8_t modrm)
{
	switch (op) {
	case 1:
		return modrm < 0xd1 || (modrm >= 0xd8 && modrm != 0xe2 && modrm != 0xe3 &&
					modrm != 0xe6 && modrm != 0xe7 && modrm != 0xef);
	case 2: return modrm < 0xe0 || modrm == 0xe9;
	case 3: return modrm < 0xe5 || (modrm >= 0xe8 && modrm < 0xf8);
	case 5: return modrm < 0xf0;
	case 6: return modrm < 0xd8 || modrm == 0xd9 || modrm >= 0xe0;
	case 7: return modrm < 0xe1 || (modrm >= 0xe8 && modrm < 0xf8);
	default: return true;
	}
}

int fpu_mem_operand(uint8_t opcode, uint8_t modrm, bool o32, unsigned *read_len,
		    unsigned *write_len)
{
	/* Read and write lengths per /reg; U marks #UD, E and S the
	 * environment (14/28) and state (94/108) sizes. */
	enum { U = 0xff, E = 0xfe, S = 0xfd };
	static const uint8_t rd[8][8] = {
		{ 4, 4, 4, 4, 4, 4, 4, 4 }, /* D8 */
		{ 4, U, 0, 0, E, 2, 0, 0 }, /* D9 */
		{ 4, 4, 4, 4, 4, 4, 4, 4 }, /* DA */
		{ 4, U, 0, 0, U, 10, U, 0 }, /* DB */
		{ 8, 8, 8, 8, 8, 8, 8, 8 }, /* DC */
		{ 8, U, 0, 0, S, U, 0, 0 }, /* DD */
		{ 2, 2, 2, 2, 2, 2, 2, 2 }, /* DE */
		{ 2, U, 0, 0, 10, 8, 0, 0 }, /* DF */
	};
	static const uint8_t wr[8][8] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0, 0, 4, 4, 0, 0, E, 2 },
		{ 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0, 0, 4, 4, 0, 0, 0, 10 },
		{ 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0, 0, 8, 8, 0, 0, S, 2 },
		{ 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0, 0, 2, 2, 0, 0, 10, 8 },
	};
	unsigned op = opcode & 7, reg = (modrm >> 3) & 7, r, w;

	*read_len = *write_len = 0;
	if (opcode < 0xd8 || opcode > 0xdf)
		return FPU_UD;
	if (modrm >= 0xc0)
		return reg_form_valid(op, modrm) ? FPU_OK : FPU_UD;
	r = rd[op][reg];
	w = wr[op][reg];
	if (r == U)
		return FPU_UD;
	*read_len = r == E ? (o32 ? 28 : 14) : r == S ? (o32 ? 108 : 94) : r;
	*write_len = w == E ? (o32 ? 28 : 14) : w == S ? (o32 ? 108 : 94) : w;
	return FPU_OK;
}

/* Control instructions (SDM vol. 1 8.3.12 and table 8-?): they leave FOP,
 * FIP and FDP alone. The no-wait ones among them also run with an unmasked
 * exception pending. */
static bool is_control(unsigned op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7;

	if (modrm < 0xc0)
		return (op == 1 && reg >= 4) || (op == 5 && (reg == 4 || reg == 6 || reg == 7));
	return (op == 3 && modrm >= 0xe0 && modrm <= 0xe4) || (op == 7 && modrm == 0xe0);
}

static bool is_nowait(unsigned op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7;

	if (modrm < 0xc0)
		return (op == 1 || op == 5) && reg >= 6;
	return is_control(op, modrm);
}

static int exec_mem(struct fpu *f, struct fpu_insn *in, unsigned op, unsigned reg)
{
	uint8_t *m = in->mem;
	unsigned n;

	switch (op << 3 | reg) {
	case 0x00 ... 0x07: arith_mem(f, FPU_X87_M32_ADD, reg, m, 4); break;
	case 0x20 ... 0x27: arith_mem(f, FPU_X87_M64_ADD, reg, m, 8); break;
	case 0x10 ... 0x17: arith_mem(f, FPU_X87_I32_ADD, reg, m, 4); break;
	case 0x30 ... 0x37: arith_mem(f, FPU_X87_I16_ADD, reg, m, 2); break;
	case 0x08: load(f, FPU_X87_FLD_M32, m, 4); break;
	case 0x0a: store(f, in, FPU_X87_FST_M32, 4, indef_m32, false); break;
	case 0x0b: store(f, in, FPU_X87_FST_M32, 4, indef_m32, true); break;
	case 0x0c: load_env(f, m, in->o32, in->pmode); break;
	case 0x0d:
		set_cw(f, get16(m));
		update_es(f);
		break;
	case 0x0e:
		store_env(f, m, in->o32, in->pmode);
		in->store = true;
		f->cw |= FSW_EXC; /* FSTENV then masks all exceptions */
		update_es(f);
		break;
	case 0x0f:
		put16(m, f->cw);
		in->store = true;
		break;
	case 0x18: load(f, FPU_X87_FILD_I32, m, 4); break;
	case 0x1a: store(f, in, FPU_X87_FIST_I32, 4, indef_i32, false); break;
	case 0x1b: store(f, in, FPU_X87_FIST_I32, 4, indef_i32, true); break;
	case 0x1d: load_f80(f, get_f80(m)); break;
	case 0x1f: store_f80(f, in); break;
	case 0x28: load(f, FPU_X87_FLD_M64, m, 8); break;
	case 0x2a: store(f, in, FPU_X87_FST_M64, 8, indef_m64, false); break;
	case 0x2b: store(f, in, FPU_X87_FST_M64, 8, indef_m64, true); break;
	case 0x2c:
		n = load_env(f, m, in->o32, in->pmode);
		for (unsigned i = 0; i < 8; i++)
			f->r[phys(f, i)] = get_f80(m + n + 10 * i);
		break;
	case 0x2e:
		n = store_env(f, m, in->o32, in->pmode);
		for (unsigned i = 0; i < 8; i++)
			put_f80(m + n + 10 * i, st_get(f, i));
		in->store = true;
		fpu_init(f);
		break;
	case 0x2f:
		put16(m, f->sw);
		in->store = true;
		break;
	case 0x38: load(f, FPU_X87_FILD_I16, m, 2); break;
	case 0x3a: store(f, in, FPU_X87_FIST_I16, 2, indef_i16, false); break;
	case 0x3b: store(f, in, FPU_X87_FIST_I16, 2, indef_i16, true); break;
	case 0x3c: load(f, FPU_X87_FBLD, m, 10); break;
	case 0x3d: load(f, FPU_X87_FILD_I64, m, 8); break;
	case 0x3e: store(f, in, FPU_X87_FBST, 10, indef_bcd, true); break;
	case 0x3f: store(f, in, FPU_X87_FIST_I64, 8, indef_i64, true); break;
	default: return FPU_UD;
	}
	return FPU_OK;
}

static int exec_reg(struct fpu *f, struct fpu_insn *in, unsigned op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	switch (op) {
	case 0:
		if (reg == 2 || reg == 3)
			compare(f, in, FPU_X87_ST0_COM, i, reg - 2, false);
		else
			arith_reg(f, FPU_X87_ST0_ADD, reg, i, false, false);
		return FPU_OK;
	case 1:
		return d9_reg(f, in, modrm);
	case 2:
		if (modrm == 0xe9)
			compare(f, in, FPU_X87_FUCOM, 1, 2, false);
		else
			fcmov(f, in, reg, i);
		return FPU_OK;
	case 3:
		switch (modrm) {
		case 0xc0 ... 0xdf: fcmov(f, in, reg, i); return FPU_OK;
		case 0xe2:
			f->sw &= 0x7f00; /* FNCLEX: flags, SF, ES, B */
			return FPU_OK;
		case 0xe3: fpu_init(f); return FPU_OK;
		case 0xe8 ... 0xef: compare(f, in, FPU_X87_FUCOMI, i, 0, true); return FPU_SET_EFLAGS;
		case 0xf0 ... 0xf7: compare(f, in, FPU_X87_FCOMI, i, 0, true); return FPU_SET_EFLAGS;
		default: return FPU_OK; /* FENI, FDISI, FSETPM */
		}
	case 4:
		if (reg == 2 || reg == 3)
			compare(f, in, FPU_X87_STI_COM, i, reg - 2, false);
		else
			arith_reg(f, FPU_X87_STI_ADD, reg, i, true, false);
		return FPU_OK;
	case 5:
		switch (reg) {
		case 0: /* FFREE: C0-C3 undefined; C1 comes out clear */
			f->ftw &= (uint8_t)~(1u << phys(f, i));
			f->sw &= (uint16_t)~FSW_C1;
			break;
		case 1: fxch(f, i); break;
		case 2: store_reg(f, i, false); break;
		case 3: store_reg(f, i, true); break;
		case 4: compare(f, in, FPU_X87_FUCOM, i, 0, false); break;
		case 5: compare(f, in, FPU_X87_FUCOM, i, 1, false); break;
		}
		return FPU_OK;
	case 6:
		if (reg == 2 || reg == 3) /* DE D0+i FCOMP alias, DE D9 FCOMPP */
			compare(f, in, FPU_X87_ST0_COM, i, reg == 2 ? 1 : 2, false);
		else
			arith_reg(f, FPU_X87_STI_ADD, reg, i, true, true);
		return FPU_OK;
	default:
		switch (reg) {
		case 0: /* FFREEP */
			f->ftw &= (uint8_t)~(1u << phys(f, i));
			f->sw &= (uint16_t)~FSW_C1;
			pop(f);
			break;
		case 1: fxch(f, i); break;
		case 2:
		case 3: store_reg(f, i, true); break;
		case 4:
			in->ax = f->sw;
			return FPU_SET_AX;
		case 5: compare(f, in, FPU_X87_FUCOMI, i, 1, true); return FPU_SET_EFLAGS;
		case 6: compare(f, in, FPU_X87_FCOMI, i, 1, true); return FPU_SET_EFLAGS;
		}
		return FPU_OK;
	}
}

int fpu_exec(struct fpu *f, struct fpu_insn *in)
{
	unsigned op = in->opcode & 7, r, w;
	bool mem = in->modrm < 0xc0;

	in->store = false;
	if (fpu_mem_operand(in->opcode, in->modrm, in->o32, &r, &w) != FPU_OK)
		return FPU_UD;
	if (!in->ignne && !is_nowait(op, in->modrm) && (f->sw & FSW_ES))
		return FPU_MF;
	if (!is_control(op, in->modrm)) {
		f->fop = (uint16_t)(op << 8 | in->modrm);
		f->fip = in->fip;
		f->fcs = in->fcs;
		if (mem) {
			f->fdp = in->fdp;
			f->fds = in->fds;
		}
	}
	if (mem)
		return exec_mem(f, in, op, (in->modrm >> 3) & 7);
	return exec_reg(f, in, op, in->modrm);
}

int fpu_wait(const struct fpu *f)
{
	return f->sw & FSW_ES ? FPU_MF : FPU_OK;
}

bool fpu_error_pending(const struct fpu *f)
{
	return f->sw & FSW_ES;
}

/* ---- FXSAVE and the common state ---- */

void fpu_fxsave(const struct fpu *f, uint8_t *a, bool rex_w)
{
	put16(a + 0, f->cw);
	put16(a + 2, f->sw);
	a[4] = f->ftw;
	a[5] = 0;
	put16(a + 6, f->fop & 0x7ff);
	if (rex_w) {
		put64(a + 8, f->fip);
		put64(a + 16, f->fdp);
	} else {
		put32(a + 8, (uint32_t)f->fip);
		put16(a + 12, f->fcs);
		put16(a + 14, 0);
		put32(a + 16, (uint32_t)f->fdp);
		put16(a + 20, f->fds);
		put16(a + 22, 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		put_f80(a + 32 + 16 * i, st_get(f, i));
		memset(a + 42 + 16 * i, 0, 6);
	}
}

void fpu_fxrstor(struct fpu *f, const uint8_t *a, bool rex_w)
{
	set_cw(f, get16(a + 0));
	f->sw = get16(a + 2);
	update_es(f);
	f->ftw = a[4];
	f->fop = get16(a + 6) & 0x7ff;
	if (rex_w) {
		f->fip = get64(a + 8);
		f->fdp = get64(a + 16);
	} else {
		f->fip = get32(a + 8);
		f->fcs = get16(a + 12);
		f->fdp = get32(a + 16);
		f->fds = get16(a + 20);
	}
	for (unsigned i = 0; i < 8; i++)
		f->r[phys(f, i)] = get_f80(a + 32 + 16 * i);
}

void fpu_get_state(const struct fpu *f, struct x86_fpu *st)
{
	st->fcw = f->cw;
	st->fsw = f->sw;
	st->ftw = f->ftw;
	st->fop = f->fop;
	st->fip = f->fip;
	st->fdp = f->fdp;
	st->fcs = f->fcs;
	st->fds = f->fds;
	for (unsigned i = 0; i < 8; i++)
		put_f80(st->st[i], st_get(f, i));
}

void fpu_set_state(struct fpu *f, const struct x86_fpu *st)
{
	set_cw(f, st->fcw);
	f->sw = st->fsw;
	update_es(f);
	f->ftw = st->ftw;
	f->fop = st->fop & 0x7ff;
	f->fip = st->fip;
	f->fdp = st->fdp;
	f->fcs = st->fcs;
	f->fds = st->fds;
	for (unsigned i = 0; i < 8; i++)
		f->r[phys(f, i)] = get_f80(st->st[i]);
}

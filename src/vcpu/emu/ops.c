/*
 * The less frequent instructions of the software CPU, run by the MISC
 * handler, plus the group routines the interpreter calls (strings, group 3,
 * IMUL, bit tests and scans, port I/O). Semantics follow the Intel SDM
 * vol. 2 instruction pages; system instructions also vol. 3.
 *
 * Return convention of emu_misc: 0 continue with the next instruction,
 * -1 exception recorded in c->exc_*, 1 end the trace and continue after
 * this instruction, 2 end the trace with c->eip already set.
 */
#include "emu.h"
#include "insn.h"
#include "trace.h"
#include "../../ioport.h"
#include "../../irq.h"
#include "../../log.h"
#include "../../vm.h"

static inline uint32_t ea_of(const struct emu_cpu *c, const struct insn *i)
{
	return (uint32_t)(c->r[i->base] + (c->r[i->index] << i->scale) + i->disp) & i->amask;
}

static inline uint32_t next_eip(const struct emu_cpu *c, const struct insn *i)
{
	return c->trace_eip + i->ofs + i->len;
}

static inline uint32_t size_mask(unsigned size)
{
	return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* Register access by raw number and size (MISC routines). */
static uint32_t greg(struct emu_cpu *c, int n, unsigned size)
{
	if (size == 1)
		return *R8P(c, reg8_offset(n));
	return size == 2 ? R16(c, n) : R32(c, n);
}

static void sreg(struct emu_cpu *c, int n, unsigned size, uint32_t v)
{
	if (size == 1)
		*R8P(c, reg8_offset(n)) = (uint8_t)v;
	else if (size == 2)
		W16(c, n, (uint16_t)v);
	else
		W32(c, n, v);
}

static int mread(struct emu_cpu *c, int s, uint32_t off, unsigned size, uint32_t *v)
{
	if (size == 1) {
		uint8_t b = 0;
		int r = rd8(c, s, off, &b);
		*v = b;
		return r;
	}
	if (size == 2) {
		uint16_t w = 0;
		int r = rd16(c, s, off, &w);
		*v = w;
		return r;
	}
	return rd32(c, s, off, v);
}

static int mwrite(struct emu_cpu *c, int s, uint32_t off, unsigned size, uint32_t v)
{
	if (size == 1)
		return wr8(c, s, off, (uint8_t)v);
	if (size == 2)
		return wr16(c, s, off, (uint16_t)v);
	return wr32(c, s, off, v);
}

/* r/m operand with raw register numbers (MISC) */
static int rm_read(struct emu_cpu *c, const struct insn *i, unsigned size, uint32_t *v)
{
	if (!(i->flags & I_MEM)) {
		*v = greg(c, i->rm, size);
		return 0;
	}
	return mread(c, i->seg, ea_of(c, i), size, v);
}

static int rm_write(struct emu_cpu *c, const struct insn *i, unsigned size, uint32_t v)
{
	if (!(i->flags & I_MEM)) {
		sreg(c, i->rm, size, v);
		return 0;
	}
	return mwrite(c, i->seg, ea_of(c, i), size, v);
}

static unsigned osize(const struct insn *i) { return (i->flags & I_O32) ? 4 : 2; }

static int iopl(const struct emu_cpu *c) { return (int)((c->eflags & F_IOPL) >> 12); }

/* Sets the lazy flags for an arithmetic result (used by XADD, CMPXCHG, NEG,
 * SHLD/SHRD and the BCD adjustments). */
static void set_lazy(struct emu_cpu *c, uint32_t op, unsigned size, uint32_t a, uint32_t b,
		     uint32_t r)
{
	uint32_t m = size_mask(size);
	c->lf_op = op;
	c->lf_size = size;
	c->lf_op1 = a & m;
	c->lf_op2 = b & m;
	c->lf_res = r & m;
}

/* Writes the six arithmetic flags directly. */
static void set_arith(struct emu_cpu *c, uint32_t flags)
{
	emu_flags_materialize(c);
	c->eflags = (c->eflags & ~F_ARITH) | (flags & F_ARITH);
}

static bool parity(uint8_t v) { return !__builtin_parity(v); }

/* ---------------- group 3, IMUL, bits ---------------- */

int emu_grp3(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = (i->opcode & 1) ? osize(i) : 1;
	uint32_t m = size_mask(size);
	uint32_t v;
	/* the decoder gave i->rm as a byte offset for 8-bit registers */
	if (!(i->flags & I_MEM)) {
		v = size == 1 ? *R8P(c, i->rm) : size == 2 ? R16(c, i->rm) : R32(c, i->rm);
	} else if (mread(c, i->seg, ea_of(c, i), size, &v)) {
		return -1;
	}
	switch (i->op) {
	case 2: case 3: { /* NOT, NEG */
		uint32_t r = i->op == 2 ? ~v & m : (0 - v) & m;
		if (!(i->flags & I_MEM)) {
			if (size == 1) *R8P(c, i->rm) = (uint8_t)r;
			else if (size == 2) W16(c, i->rm, (uint16_t)r);
			else W32(c, i->rm, r);
		} else if (mwrite(c, i->seg, ea_of(c, i), size, r)) {
			return -1;
		}
		if (i->op == 3)
			set_lazy(c, LF_NEG, size, 0, v, r);
		return 0;
	}
	case 4: { /* MUL */
		uint64_t r;
		bool hi;
		if (size == 1) {
			r = (uint64_t)(uint8_t)c->r[0] * v;
			W16(c, 0, (uint16_t)r);
			hi = (r >> 8) != 0;
		} else if (size == 2) {
			r = (uint64_t)R16(c, 0) * v;
			W16(c, 0, (uint16_t)r);
			W16(c, 2, (uint16_t)(r >> 16));
			hi = (r >> 16) != 0;
		} else {
			r = (uint64_t)R32(c, 0) * v;
			W32(c, 0, (uint32_t)r);
			W32(c, 2, (uint32_t)(r >> 32));
			hi = (r >> 32) != 0;
		}
		c->lf_op = LF_MUL;
		c->lf_size = size;
		c->lf_res = (uint32_t)r & m;
		c->lf_cf = hi;
		return 0;
	}
	case 5: { /* IMUL one operand */
		int64_t r;
		bool ovf;
		if (size == 1) {
			r = (int64_t)(int8_t)c->r[0] * (int8_t)v;
			W16(c, 0, (uint16_t)r);
			ovf = r != (int8_t)r;
		} else if (size == 2) {
			r = (int64_t)(int16_t)R16(c, 0) * (int16_t)v;
			W16(c, 0, (uint16_t)r);
			W16(c, 2, (uint16_t)(r >> 16));
			ovf = r != (int16_t)r;
		} else {
			r = (int64_t)(int32_t)R32(c, 0) * (int32_t)v;
			W32(c, 0, (uint32_t)r);
			W32(c, 2, (uint32_t)((uint64_t)r >> 32));
			ovf = r != (int32_t)r;
		}
		c->lf_op = LF_MUL;
		c->lf_size = size;
		c->lf_res = (uint32_t)r & m;
		c->lf_cf = ovf;
		return 0;
	}
	case 6: { /* DIV */
		if (v == 0)
			return EXC(c, EXC_DE);
		if (size == 1) {
			uint32_t n = R16(c, 0);
			uint32_t q = n / v;
			if (q > 0xff)
				return EXC(c, EXC_DE);
			*R8P(c, 0) = (uint8_t)q;
			*R8P(c, 1) = (uint8_t)(n % v);
		} else if (size == 2) {
			uint32_t n = (uint32_t)R16(c, 2) << 16 | R16(c, 0);
			uint32_t q = n / v;
			if (q > 0xffff)
				return EXC(c, EXC_DE);
			W16(c, 0, (uint16_t)q);
			W16(c, 2, (uint16_t)(n % v));
		} else {
			uint64_t n = (uint64_t)R32(c, 2) << 32 | R32(c, 0);
			uint64_t q = n / v;
			if (q > 0xffffffffull)
				return EXC(c, EXC_DE);
			W32(c, 0, (uint32_t)q);
			W32(c, 2, (uint32_t)(n % v));
		}
		return 0;
	}
	default: { /* IDIV */
		if (v == 0)
			return EXC(c, EXC_DE);
		if (size == 1) {
			int32_t n = (int16_t)R16(c, 0), d = (int8_t)v;
			int32_t q = n / d;
			if (q > 127 || q < -128)
				return EXC(c, EXC_DE);
			*R8P(c, 0) = (uint8_t)q;
			*R8P(c, 1) = (uint8_t)(n % d);
		} else if (size == 2) {
			int32_t n = (int32_t)((uint32_t)R16(c, 2) << 16 | R16(c, 0)), d = (int16_t)v;
			if (n == INT32_MIN && d == -1)
				return EXC(c, EXC_DE);
			int32_t q = n / d;
			if (q > 32767 || q < -32768)
				return EXC(c, EXC_DE);
			W16(c, 0, (uint16_t)q);
			W16(c, 2, (uint16_t)(n % d));
		} else {
			int64_t n = (int64_t)((uint64_t)R32(c, 2) << 32 | R32(c, 0));
			int64_t d = (int32_t)v;
			if (n == INT64_MIN && d == -1)
				return EXC(c, EXC_DE);
			int64_t q = n / d;
			if (q > INT32_MAX || q < INT32_MIN)
				return EXC(c, EXC_DE);
			W32(c, 0, (uint32_t)q);
			W32(c, 2, (uint32_t)(n % d));
		}
		return 0;
	}
	}
}

int emu_imul(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = osize(i);
	uint32_t src;
	if (rm_read(c, i, size, &src))
		return -1;
	int64_t a = i->op ? (int64_t)(int32_t)i->imm : (int64_t)(int32_t)greg(c, i->reg, size);
	if (size == 2)
		a = i->op ? (int16_t)i->imm : (int16_t)greg(c, i->reg, 2);
	int64_t b = size == 2 ? (int16_t)src : (int32_t)src;
	int64_t r = a * b;
	bool ovf = size == 2 ? r != (int16_t)r : r != (int32_t)r;
	sreg(c, i->reg, size, (uint32_t)r);
	c->lf_op = LF_MUL;
	c->lf_size = size;
	c->lf_res = (uint32_t)r & size_mask(size);
	c->lf_cf = ovf;
	return 0;
}

int emu_bt(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = osize(i);
	uint32_t bits = size * 8;
	int32_t off;
	if (i->flags & I_CL) /* immediate form */
		off = (int32_t)(i->imm & (bits - 1));
	else
		off = size == 2 ? (int16_t)R16(c, i->reg) : (int32_t)R32(c, i->reg);
	uint32_t v, ea = 0;
	int seg = i->seg;
	if (!(i->flags & I_MEM)) {
		v = greg(c, i->rm, size);
		off &= (int32_t)(bits - 1);
	} else {
		ea = ea_of(c, i);
		if (!(i->flags & I_CL)) {
			/* register bit offsets address memory outside the operand */
			int32_t unit = off >> (size == 2 ? 4 : 5);
			ea = (ea + (uint32_t)unit * size) & i->amask;
			off &= (int32_t)(bits - 1);
		}
		if (mread(c, seg, ea, size, &v))
			return -1;
	}
	bool bit = (v >> off) & 1;
	uint32_t nv = v;
	switch (i->op) {
	case 1: nv = v | (1u << off); break;
	case 2: nv = v & ~(1u << off); break;
	case 3: nv = v ^ (1u << off); break;
	}
	if (i->op) {
		if (!(i->flags & I_MEM))
			sreg(c, i->rm, size, nv);
		else if (mwrite(c, seg, ea, size, nv))
			return -1;
	}
	emu_flags_materialize(c);
	c->eflags = (c->eflags & ~F_CF) | (bit ? F_CF : 0);
	return 0;
}

int emu_bitscan(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = osize(i);
	uint32_t v;
	if (rm_read(c, i, size, &v))
		return -1;
	emu_flags_materialize(c);
	if (!v) {
		c->eflags |= F_ZF; /* destination unchanged, as P6 and later do */
		return 0;
	}
	c->eflags &= ~F_ZF;
	uint32_t r = i->op ? 31u - (uint32_t)__builtin_clz(v) : (uint32_t)__builtin_ctz(v);
	sreg(c, i->reg, size, r);
	return 0;
}

/* ---------------- port I/O ---------------- */

int emu_io_allowed(struct emu_cpu *c, uint16_t port, unsigned size)
{
	if (!(c->cr0 & CR0_PE) || (!c->v86 && c->cpl <= iopl(c)))
		return 0;
	/* the TSS I/O permission bitmap (SDM vol. 1, 18.5.2) */
	bool tss32 = (c->tr.attr & 0xf) == 9 || (c->tr.attr & 0xf) == 11;
	if (!c->tr.valid || !tss32 || c->tr.limit < 0x67)
		return EXC_E(c, EXC_GP, 0);
	uint32_t base;
	if (mmu_read_sys(c, c->tr.base + 0x66, 2, &base))
		return -1;
	uint32_t byte = base + port / 8;
	if (byte + 1 > c->tr.limit)
		return EXC_E(c, EXC_GP, 0);
	uint32_t bits;
	if (mmu_read_sys(c, c->tr.base + byte, 2, &bits))
		return -1;
	uint32_t need = ((1u << size) - 1) << (port & 7);
	if (bits & need)
		return EXC_E(c, EXC_GP, 0);
	return 0;
}

static uint32_t port_in(struct emu_cpu *c, const struct insn *i, uint16_t port, unsigned size)
{
	c->icount_offset = i->idx;
	uint32_t v = ioport_read(c->vm->io, port, size);
	c->icount_offset = 0;
	return v;
}

static void port_out(struct emu_cpu *c, const struct insn *i, uint16_t port, unsigned size,
		     uint32_t v)
{
	c->icount_offset = i->idx;
	ioport_write(c->vm->io, port, v, size);
	c->icount_offset = 0;
}

int emu_io_insn(struct emu_cpu *c, const struct insn *i, bool in)
{
	unsigned size = (i->opcode & 1) ? osize(i) : 1;
	uint16_t port = (i->flags & I_CL) ? R16(c, 2) : (uint16_t)i->imm;
	if (emu_io_allowed(c, port, size))
		return -1;
	if (in)
		sreg(c, 0, size, port_in(c, i, port, size));
	else
		port_out(c, i, port, size, greg(c, 0, size));
	return 0;
}

/* ---------------- strings ---------------- */

/* How many iterations a REP may run before looking for interrupts. */
#define REP_SLICE 4096

static inline uint32_t cnt_get(const struct emu_cpu *c, const struct insn *i)
{
	return (i->flags & I_A32) ? R32(c, 1) : R16(c, 1);
}

static inline void cnt_set(struct emu_cpu *c, const struct insn *i, uint32_t v)
{
	if (i->flags & I_A32) W32(c, 1, v); else W16(c, 1, (uint16_t)v);
}

static inline uint32_t idx_get(const struct emu_cpu *c, const struct insn *i, int r)
{
	return (i->flags & I_A32) ? R32(c, r) : R16(c, r);
}

static inline void idx_set(struct emu_cpu *c, const struct insn *i, int r, uint32_t v)
{
	if (i->flags & I_A32) W32(c, r, v); else W16(c, r, (uint16_t)v);
}

/* Host pointer for n bytes at lin inside one page of plain memory, filling
 * the TLB if needed; NULL when the access must take the exact path (a fault,
 * MMIO, ROM, or code in those bytes). */
static uint8_t *host_run(struct emu_cpu *c, uint32_t lin, uint32_t n, bool write)
{
	struct tlb_entry *t = write ? c->tlb_w : c->tlb_r;
	struct tlb_entry *e = &t[(lin >> 12) & TLB_MASK];
	uint32_t lpage = lin & ~0xfffu;
	if (e->tag != lpage && !(write && e->tag == (lpage | TLB_CODE))) {
		uint32_t saved_cr2 = c->cr2;
		if (mmu_fill(c, lin, write)) {
			c->cr2 = saved_cr2; /* the exact path raises it */
			return NULL;
		}
		if (e->tag != lpage && !(write && e->tag == (lpage | TLB_CODE)))
			return NULL;
	}
	if (e->tag & TLB_CODE)
		emu_code_write(c, e->phys | (lin & 0xfff), n); /* those bytes hold no code now */
	return (uint8_t *)(e->add + lin);
}

/* REP MOVS/STOS over plain RAM: whole runs with memcpy/memset. Returns the
 * number of iterations done (0: take the general path). */
static uint32_t fast_rep(struct emu_cpu *c, const struct insn *i, unsigned size, bool movs,
			 uint32_t count)
{
	if (c->eflags & F_DF || !(i->flags & I_A32))
		return 0;
	uint32_t di = R32(c, 7), si = R32(c, 6);
	/* stay inside one page of each operand and inside the limits */
	uint32_t dlin = c->seg[SEG_ES].base + di;
	uint32_t n = (0x1000 - (dlin & 0xfff)) / size;
	uint32_t slin = 0;
	if (movs) {
		slin = c->seg[i->seg].base + si;
		uint32_t ns = (0x1000 - (slin & 0xfff)) / size;
		if (ns < n)
			n = ns;
	}
	if (n > count)
		n = count;
	if (!n)
		return 0;
	uint32_t bytes = n * size;
	if ((int64_t)di + bytes - 1 > c->seg[SEG_ES].wlim)
		return 0;
	if (movs && (int64_t)si + bytes - 1 > c->seg[i->seg].rlim)
		return 0;
	const uint8_t *src = NULL;
	if (movs && !(src = host_run(c, slin, bytes, false)))
		return 0;
	uint8_t *dst = host_run(c, dlin, bytes, true);
	if (!dst)
		return 0;
	if (movs) {
		if (dst > src && dst < src + bytes)
			return 0; /* overlapping forward copy: byte-exact semantics */
		memmove(dst, src, bytes);
		W32(c, 6, si + bytes);
	} else {
		uint32_t v = R32(c, 0);
		if (size == 1) {
			memset(dst, (int)(v & 0xff), bytes);
		} else {
			for (uint32_t k = 0; k < n; k++)
				memcpy(dst + k * size, &v, size);
		}
	}
	W32(c, 7, di + bytes);
	return n;
}

int emu_string(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = (i->opcode & 1) ? osize(i) : 1;
	int step = (c->eflags & F_DF) ? -(int)size : (int)size;
	bool rep = i->flags & (I_REP | I_REPNE);
	uint8_t op = (uint8_t)i->opcode;
	uint32_t count = rep ? cnt_get(c, i) : 1;
	if (rep && !count)
		return 0;
	uint32_t done = 0;
	while (count) {
		if (rep && (op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab)) {
			uint32_t n = fast_rep(c, i, size, op <= 0xa5, count);
			if (n) {
				count -= n;
				cnt_set(c, i, count);
				done += n;
				if (done >= REP_SLICE && count && c->exit_request)
					return 1;
				continue;
			}
		}
		uint32_t si = idx_get(c, i, 6), di = idx_get(c, i, 7);
		uint32_t v, w;
		bool stop = false;
		switch (op) {
		case 0xa4: case 0xa5: /* MOVS */
			if (mread(c, i->seg, si, size, &v) || mwrite(c, SEG_ES, di, size, v))
				return -1;
			idx_set(c, i, 6, si + (uint32_t)step);
			idx_set(c, i, 7, di + (uint32_t)step);
			break;
		case 0xaa: case 0xab: /* STOS */
			if (mwrite(c, SEG_ES, di, size, greg(c, 0, size)))
				return -1;
			idx_set(c, i, 7, di + (uint32_t)step);
			break;
		case 0xac: case 0xad: /* LODS */
			if (mread(c, i->seg, si, size, &v))
				return -1;
			sreg(c, 0, size, v);
			idx_set(c, i, 6, si + (uint32_t)step);
			break;
		case 0xa6: case 0xa7: /* CMPS */
			if (mread(c, i->seg, si, size, &v) || mread(c, SEG_ES, di, size, &w))
				return -1;
			set_lazy(c, LF_SUB, size, v, w, v - w);
			idx_set(c, i, 6, si + (uint32_t)step);
			idx_set(c, i, 7, di + (uint32_t)step);
			stop = true;
			break;
		default: /* SCAS */
			if (mread(c, SEG_ES, di, size, &w))
				return -1;
			v = greg(c, 0, size);
			set_lazy(c, LF_SUB, size, v, w, v - w);
			idx_set(c, i, 7, di + (uint32_t)step);
			stop = true;
			break;
		}
		if (!rep)
			return 0;
		count--;
		cnt_set(c, i, count);
		if (stop) {
			bool zf = emu_zf(c);
			if ((i->flags & I_REP) ? !zf : zf)
				return 0;
		}
		if (++done >= REP_SLICE && count && c->exit_request)
			return 1;
	}
	return 0;
}

static int string_io(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = (i->opcode & 1) ? osize(i) : 1;
	uint16_t port = R16(c, 2);
	if (emu_io_allowed(c, port, size))
		return -1;
	int step = (c->eflags & F_DF) ? -(int)size : (int)size;
	bool rep = i->flags & (I_REP | I_REPNE);
	uint32_t count = rep ? cnt_get(c, i) : 1;
	uint32_t done = 0;
	bool ins = i->opcode <= 0x6d;
	while (count) {
		if (ins) {
			uint32_t di = idx_get(c, i, 7);
			if (emu_probe_write(c, SEG_ES, di, size))
				return -1;
			uint32_t v = port_in(c, i, port, size);
			if (mwrite(c, SEG_ES, di, size, v))
				return -1;
			idx_set(c, i, 7, di + (uint32_t)step);
		} else {
			uint32_t si = idx_get(c, i, 6), v;
			if (mread(c, i->seg, si, size, &v))
				return -1;
			port_out(c, i, port, size, v);
			idx_set(c, i, 6, si + (uint32_t)step);
		}
		if (!rep)
			break;
		count--;
		cnt_set(c, i, count);
		if (++done >= REP_SLICE && count && c->exit_request)
			return 1 | 0x100; /* resume at this instruction */
	}
	return 1;
}

/* ---------------- BCD ---------------- */

static void daa_das(struct emu_cpu *c, bool sub)
{
	uint32_t f = emu_get_eflags(c);
	uint8_t al = *R8P(c, 0), old = al;
	bool cf = f & F_CF, af = false;
	bool ncf = false;
	if ((al & 0xf) > 9 || (f & F_AF)) {
		ncf = cf || (sub ? al < 6 : al > 0xf9);
		al = sub ? (uint8_t)(al - 6) : (uint8_t)(al + 6);
		af = true;
	}
	if (old > 0x99 || cf) {
		al = sub ? (uint8_t)(al - 0x60) : (uint8_t)(al + 0x60);
		ncf = true;
	}
	*R8P(c, 0) = al;
	uint32_t nf = (ncf ? F_CF : 0) | (af ? F_AF : 0) | (al ? 0 : F_ZF) | (al & 0x80 ? F_SF : 0) |
		      (parity(al) ? F_PF : 0);
	/* OF is undefined; P6 leaves what the adjustment's add/sub gives */
	if (!sub && (old & 0x80) == 0 && (al & 0x80))
		nf |= F_OF;
	if (sub && (old & 0x80) && !(al & 0x80))
		nf |= F_OF;
	set_arith(c, nf);
}

static void aaa_aas(struct emu_cpu *c, bool sub)
{
	uint32_t f = emu_get_eflags(c);
	uint16_t ax = R16(c, 0);
	uint32_t nf = f & ~F_ARITH;
	if ((ax & 0xf) > 9 || (f & F_AF)) {
		if (sub) {
			ax = (uint16_t)(ax - 6);
			ax = (uint16_t)((ax & 0xff) | ((uint16_t)((ax >> 8) - 1) << 8));
		} else {
			ax = (uint16_t)(ax + 0x106);
		}
		nf |= F_AF | F_CF;
	}
	ax &= 0xff0f;
	W16(c, 0, ax);
	uint8_t al = (uint8_t)ax;
	nf |= (al ? 0 : F_ZF) | (parity(al) ? F_PF : 0);
	set_arith(c, nf);
}

/* ---------------- CPUID, MSRs, TSC, control registers ---------------- */

#define CPUID_FPU (1u << 0)
#define CPUID_VME (1u << 1)
#define CPUID_DE (1u << 2)
#define CPUID_PSE (1u << 3)
#define CPUID_TSC (1u << 4)
#define CPUID_MSR (1u << 5)
#define CPUID_CX8 (1u << 8)
#define CPUID_SEP (1u << 11)
#define CPUID_MTRR (1u << 12)
#define CPUID_PGE (1u << 13)
#define CPUID_CMOV (1u << 15)
#define CPUID_PAT (1u << 16)

#define CPUID_FXSR (1u << 24)

#define EMU_CPUID_FEATURES (CPUID_FPU | CPUID_FXSR | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8 | \
			    CPUID_SEP | CPUID_MTRR | CPUID_PGE | CPUID_CMOV | CPUID_PAT)
/* Family 6, model 5 (a Pentium II class part), stepping 2. */
#define EMU_CPUID_SIGNATURE 0x00000652u

void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	(void)c;
	(void)sub;
	static const char brand[48] = "pcvm software x86 CPU";
	if (leaf >= 0x80000000u) {
		if (leaf > 0x80000004u) {
			leaf = 2;
		} else if (leaf == 0x80000000u) {
			out[0] = 0x80000004u;
			out[1] = out[2] = out[3] = 0;
			return;
		} else if (leaf == 0x80000001u) {
			out[0] = out[1] = out[2] = out[3] = 0;
			return;
		} else {
			memcpy(out, brand + (leaf - 0x80000002u) * 16, 16);
			return;
		}
	}
	if (leaf > 2)
		leaf = 2; /* P6 answers with the highest basic leaf */
	switch (leaf) {
	case 0:
		out[0] = 2;
		memcpy(&out[1], "Genu", 4);
		memcpy(&out[3], "ineI", 4);
		memcpy(&out[2], "ntel", 4);
		return;
	case 1:
		out[0] = EMU_CPUID_SIGNATURE;
		out[1] = 0;
		out[2] = 0;
		out[3] = EMU_CPUID_FEATURES;
		return;
	default:
		/* cache descriptors: 16 KiB L1 I and D, 512 KiB L2, TLBs */
		out[0] = 0x03020101u;
		out[1] = 0;
		out[2] = 0;
		out[3] = 0x0c040843u;
		return;
	}
}

uint64_t emu_rdtsc(struct emu_cpu *c)
{
	/* a 1 GHz time stamp counter on the virtual clock */
	return clock_now(c->vm->clock) + c->tsc_offset;
}

int emu_rdmsr(struct emu_cpu *c, uint32_t idx, uint64_t *v)
{
	struct x86_msrs *m = &c->msr;
	switch (idx) {
	case 0x10: *v = emu_rdtsc(c); return 0;
	case 0x17: *v = 0; return 0;                 /* platform ID */
	case 0x2a: *v = 0; return 0;                 /* EBL_CR_POWERON */
	case 0x8b: *v = 0; return 0;                 /* microcode signature */
	case 0xfe: *v = 0x508; return 0;             /* MTRRcap: 8 variable, fixed, WC */
	case 0x174: *v = m->sysenter_cs; return 0;
	case 0x175: *v = m->sysenter_esp; return 0;
	case 0x176: *v = m->sysenter_eip; return 0;
	case 0x179: *v = 0; return 0;                /* MCG_CAP: no banks */
	case 0x17a: *v = 0; return 0;                /* MCG_STATUS */
	case 0x277: *v = m->pat; return 0;
	case 0x2ff: *v = m->mtrr_def_type; return 0;
	case 0x250: *v = m->mtrr_fixed[0]; return 0;
	case 0x258: case 0x259: *v = m->mtrr_fixed[idx - 0x258 + 1]; return 0;
	default:
		if (idx >= 0x268 && idx <= 0x26f) {
			*v = m->mtrr_fixed[idx - 0x268 + 3];
			return 0;
		}
		if (idx >= 0x200 && idx <= 0x20f) {
			*v = m->mtrr_var[idx - 0x200];
			return 0;
		}
		log_debug("rdmsr of unknown MSR %#x: #GP", idx);
		return EXC_E(c, EXC_GP, 0);
	}
}

int emu_wrmsr(struct emu_cpu *c, uint32_t idx, uint64_t v)
{
	struct x86_msrs *m = &c->msr;
	switch (idx) {
	case 0x10: c->tsc_offset = v - clock_now(c->vm->clock); return 0;
	case 0x8b: case 0x17a: return 0;
	case 0x79: return 0;                         /* microcode update trigger */
	case 0x174: m->sysenter_cs = v & 0xffff; return 0;
	case 0x175: m->sysenter_esp = (uint32_t)v; return 0;
	case 0x176: m->sysenter_eip = (uint32_t)v; return 0;
	case 0x277:
		for (int k = 0; k < 8; k++) {
			unsigned t = (v >> (8 * k)) & 0xff;
			if (t == 2 || t == 3 || t > 7)
				return EXC_E(c, EXC_GP, 0);
		}
		m->pat = v;
		return 0;
	case 0x2ff: m->mtrr_def_type = v & 0xcff; return 0;
	case 0x250: m->mtrr_fixed[0] = v; return 0;
	case 0x258: case 0x259: m->mtrr_fixed[idx - 0x258 + 1] = v; return 0;
	default:
		if (idx >= 0x268 && idx <= 0x26f) {
			m->mtrr_fixed[idx - 0x268 + 3] = v;
			return 0;
		}
		if (idx >= 0x200 && idx <= 0x20f) {
			m->mtrr_var[idx - 0x200] = v;
			return 0;
		}
		log_debug("wrmsr %#llx to unknown MSR %#x: #GP", (unsigned long long)v, idx);
		return EXC_E(c, EXC_GP, 0);
	}
}

#define CR4_SUPPORTED (CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_PCE | CR4_OSFXSR)

int emu_write_cr(struct emu_cpu *c, int n, uint32_t v)
{
	switch (n) {
	case 0: {
		if ((v & CR0_PG) && !(v & CR0_PE))
			return EXC_E(c, EXC_GP, 0);
		if ((v & CR0_NW) && !(v & CR0_CD))
			return EXC_E(c, EXC_GP, 0);
		uint32_t old = c->cr0;
		c->cr0 = (v & 0xe005003fu) | CR0_ET;
		if ((old ^ c->cr0) & (CR0_PG | CR0_PE | CR0_WP))
			mmu_flush_tlb(c, true);
		emu_update_mode(c);
		return 0;
	}
	case 2:
		c->cr2 = v;
		return 0;
	case 3:
		c->cr3 = v & 0xfffff018u;
		mmu_flush_tlb(c, false);
		return 0;
	case 4:
		if (v & ~CR4_SUPPORTED)
			return EXC_E(c, EXC_GP, 0);
		if ((v ^ c->cr4) & (CR4_PSE | CR4_PGE | CR4_PAE))
			mmu_flush_tlb(c, true);
		c->cr4 = v;
		return 0;
	default:
		return EXC(c, EXC_UD);
	}
}

/* ---------------- descriptor instructions ---------------- */

/* LAR/LSL/VERR/VERW: is the descriptor visible at CPL/RPL for this
 * instruction? Returns 1 (yes, fills lo/hi), 0 (no), -1 (fault). */
static int desc_visible(struct emu_cpu *c, uint16_t sel, int kind, uint32_t *lo, uint32_t *hi)
{
	if ((sel & 0xfffc) == 0)
		return 0;
	int r = emu_read_descriptor(c, sel, lo, hi);
	if (r)
		return r < 0 ? -1 : 0;
	unsigned type = (*hi >> 8) & 0xf;
	bool s = *hi & 0x1000;
	int dpl = (*hi >> 13) & 3;
	bool conforming = s && (type & 0xc) == 0xc;
	if (!s) {
		/* system types LAR accepts: TSS, LDT, call/task gates; LSL
		 * only those with limits */
		static const bool lar_ok[16] = { 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0 };
		static const bool lsl_ok[16] = { 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0 };
		if (kind == 0 ? !lar_ok[type] : kind == 1 ? !lsl_ok[type] : true)
			return 0;
	} else if (kind == 2) { /* VERR */
		if ((type & 8) && !(type & 2))
			return 0;
	} else if (kind == 3) { /* VERW */
		if ((type & 8) || !(type & 2))
			return 0;
	}
	if (!conforming && (dpl < c->cpl || dpl < (sel & 3)))
		return 0;
	return 1;
}

static void set_zf(struct emu_cpu *c, bool z)
{
	emu_flags_materialize(c);
	c->eflags = (c->eflags & ~F_ZF) | (z ? F_ZF : 0);
}

static int grp6(struct emu_cpu *c, const struct insn *i)
{
	if (!c->pmode)
		return EXC(c, EXC_UD);
	switch (i->reg) {
	case 0: case 1: { /* SLDT, STR */
		uint16_t v = i->reg ? c->tr.sel : c->ldtr.sel;
		return rm_write(c, i, (i->flags & I_MEM) ? 2 : osize(i), v);
	}
	case 2: { /* LLDT */
		if (c->cpl)
			return EXC_E(c, EXC_GP, 0);
		uint32_t sel;
		if (rm_read(c, i, 2, &sel))
			return -1;
		if ((sel & 0xfffc) == 0) {
			c->ldtr.sel = (uint16_t)sel;
			c->ldtr.valid = false;
			return 0;
		}
		uint32_t lo, hi;
		if (sel & 4)
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		int r = emu_read_descriptor(c, (uint16_t)sel, &lo, &hi);
		if (r < 0)
			return -1;
		if (r > 0 || (hi & 0x1f00) != 0x0200)
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & 0x8000))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		c->ldtr.sel = (uint16_t)sel;
		c->ldtr.base = desc_base(lo, hi);
		c->ldtr.limit = desc_limit(lo, hi);
		c->ldtr.attr = (uint16_t)((hi >> 8) & 0xf0ff);
		c->ldtr.valid = true;
		return 0;
	}
	case 3: { /* LTR */
		if (c->cpl)
			return EXC_E(c, EXC_GP, 0);
		uint32_t sel;
		if (rm_read(c, i, 2, &sel))
			return -1;
		if ((sel & 0xfffc) == 0 || (sel & 4))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		uint32_t lo, hi;
		int r = emu_read_descriptor(c, (uint16_t)sel, &lo, &hi);
		if (r < 0)
			return -1;
		unsigned type = (hi >> 8) & 0x1f;
		if (r > 0 || (type != 1 && type != 9))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & 0x8000))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		hi |= 0x200; /* busy */
		if (mmu_write_sys(c, c->gdt_base + (sel & ~7u) + 4, 4, hi))
			return -1;
		c->tr.sel = (uint16_t)sel;
		c->tr.base = desc_base(lo, hi);
		c->tr.limit = desc_limit(lo, hi);
		c->tr.attr = (uint16_t)((hi >> 8) & 0xf0ff);
		c->tr.valid = true;
		return 0;
	}
	case 4: case 5: { /* VERR, VERW */
		uint32_t sel, lo, hi;
		if (rm_read(c, i, 2, &sel))
			return -1;
		int r = desc_visible(c, (uint16_t)sel, i->reg == 4 ? 2 : 3, &lo, &hi);
		if (r < 0)
			return -1;
		set_zf(c, r == 1);
		return 0;
	}
	default:
		return EXC(c, EXC_UD);
	}
}

static int grp7(struct emu_cpu *c, const struct insn *i)
{
	if (!(i->flags & I_MEM) && i->reg != 4 && i->reg != 6)
		return EXC(c, EXC_UD);
	switch (i->reg) {
	case 0: case 1: { /* SGDT, SIDT */
		uint32_t ea = ea_of(c, i);
		uint32_t base = i->reg ? c->idt_base : c->gdt_base;
		uint16_t lim = i->reg ? c->idt_limit : c->gdt_limit;
		if (!(i->flags & I_O32))
			base &= 0x00ffffffu; /* 16-bit form: P6 stores a zero top byte */
		if (emu_probe_write(c, i->seg, ea, 6) || wr16(c, i->seg, ea, lim) ||
		    wr32(c, i->seg, (ea + 2) & i->amask, base))
			return -1;
		return 0;
	}
	case 2: case 3: { /* LGDT, LIDT */
		if (c->pmode && c->cpl)
			return EXC_E(c, EXC_GP, 0);
		if (c->v86)
			return EXC_E(c, EXC_GP, 0);
		uint32_t ea = ea_of(c, i), base;
		uint16_t lim;
		if (rd16(c, i->seg, ea, &lim) || rd32(c, i->seg, (ea + 2) & i->amask, &base))
			return -1;
		if (!(i->flags & I_O32))
			base &= 0x00ffffffu;
		if (i->reg == 2) {
			c->gdt_base = base;
			c->gdt_limit = lim;
		} else {
			c->idt_base = base;
			c->idt_limit = lim;
		}
		return 0;
	}
	case 4: /* SMSW */
		return rm_write(c, i, (i->flags & I_MEM) ? 2 : osize(i), c->cr0 & ((i->flags & I_MEM) || !(i->flags & I_O32) ? 0xffff : 0xffffffffu));
	case 6: { /* LMSW: can set PE, not clear it */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		uint32_t v;
		if (rm_read(c, i, 2, &v))
			return -1;
		uint32_t ncr0 = (c->cr0 & ~0xeu) | (v & 0xf) | (c->cr0 & CR0_PE);
		return emu_write_cr(c, 0, ncr0);
	}
	case 7: /* INVLPG */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		mmu_flush_page(c, c->seg[i->seg].base + ea_of(c, i));
		return 0;
	default:
		return EXC(c, EXC_UD);
	}
}

/* ---------------- x87 ---------------- */

/* An unmasked x87 exception is pending at a waiting instruction. With
 * CR0.NE it is #MF; without, the PC's FERR# -> IRQ13 path reports it and
 * the instruction goes on as if IGNNE# were asserted (what the chipset does
 * once the handler writes port F0h). */
static int fpu_error(struct emu_cpu *c)
{
	if (c->cr0 & CR0_NE)
		return EXC(c, EXC_MF);
	irq_set(&c->vm->isa_irq[13], 1);
	irq_set(&c->vm->isa_irq[13], 0);
	return 0;
}

static int emu_esc(struct emu_cpu *c, const struct insn *i)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		return EXC(c, EXC_NM);
	uint8_t op = (uint8_t)i->opcode, modrm = i->modrm;
	bool o32 = i->flags & I_O32;
	unsigned rlen, wlen;
	if (fpu_mem_operand(op, modrm, o32, &rlen, &wlen) != FPU_OK)
		return EXC(c, EXC_UD);
	uint8_t buf[112];
	uint32_t ea = 0;
	struct fpu_insn fi = { .opcode = op, .modrm = modrm, .o32 = o32, .pmode = c->pmode };
	if (i->flags & I_MEM) {
		ea = ea_of(c, i);
		for (unsigned k = 0; k < rlen; k++) {
			uint8_t b;
			if (rd8(c, i->seg, (ea + k) & i->amask, &b))
				return -1;
			buf[k] = b;
		}
		if (wlen && emu_probe_write(c, i->seg, ea, wlen))
			return -1;
		fi.mem = buf;
	}
	uint32_t ip = c->trace_eip + i->ofs;
	if (c->pmode) {
		fi.fip = ip;
		fi.fcs = c->seg[SEG_CS].sel;
		fi.fdp = ea;
		fi.fds = (i->flags & I_MEM) ? c->seg[i->seg].sel : 0;
	} else {
		fi.fip = c->seg[SEG_CS].base + ip;
		fi.fdp = (i->flags & I_MEM) ? c->seg[i->seg].base + ea : 0;
	}
	if (fpu_reads_eflags(op, modrm))
		fi.eflags = emu_get_eflags(c);
	int r = fpu_exec(&c->fpu, &fi);
	if (r == FPU_MF) {
		if (fpu_error(c))
			return -1;
		fi.ignne = true;
		r = fpu_exec(&c->fpu, &fi);
	}
	switch (r) {
	case FPU_UD:
		return EXC(c, EXC_UD);
	case FPU_SET_EFLAGS:
		emu_set_eflags(c, fi.eflags, F_ARITH);
		break;
	case FPU_SET_AX:
		W16(c, 0, fi.ax);
		break;
	default:
		break;
	}
	if ((i->flags & I_MEM) && wlen && fi.store) {
		for (unsigned k = 0; k < wlen; k++)
			if (wr8(c, i->seg, (ea + k) & i->amask, buf[k]))
				return -1;
	}
	return 0;
}

/* FXSAVE/FXRSTOR (0F AE /0, /1): the x87 state, MXCSR, and an XMM area
 * that stays zero until SSE exists. */
static int emu_fxsave_rstor(struct emu_cpu *c, const struct insn *i)
{
	if (!(i->flags & I_MEM) || i->reg > 1)
		return EXC(c, EXC_UD);
	if (c->cr0 & (CR0_EM | CR0_TS))
		return EXC(c, EXC_NM);
	uint32_t ea = ea_of(c, i);
	if ((c->seg[i->seg].base + ea) & 15)
		return EXC_E(c, EXC_GP, 0);
	uint8_t area[512];
	if (i->reg == 0) {
		memset(area, 0, sizeof(area));
		fpu_fxsave(&c->fpu, area, false);
		memcpy(area + 24, &c->mxcsr, 4);
		if (emu_probe_write(c, i->seg, ea, 512))
			return -1;
		for (unsigned k = 0; k < 512; k += 4) {
			uint32_t v;
			memcpy(&v, area + k, 4);
			if (wr32(c, i->seg, (ea + k) & i->amask, v))
				return -1;
		}
		return 0;
	}
	for (unsigned k = 0; k < 512; k += 4) {
		uint32_t v;
		if (rd32(c, i->seg, (ea + k) & i->amask, &v))
			return -1;
		memcpy(area + k, &v, 4);
	}
	uint32_t mx;
	memcpy(&mx, area + 24, 4);
	if (mx & 0xffff0000u)
		return EXC_E(c, EXC_GP, 0);
	fpu_fxrstor(&c->fpu, area, false);
	c->mxcsr = mx;
	return 0;
}

/* ---------------- the MISC dispatcher ---------------- */

static int pop_v(struct emu_cpu *c, bool o32, uint32_t *v)
{
	if (o32)
		return pop32(c, v);
	uint16_t w;
	int r = pop16(c, &w);
	*v = w;
	return r;
}

/* PUSH Sreg with a 32-bit operand size moves 16 bits into the 4-byte slot. */
static int push_sreg(struct emu_cpu *c, int s, bool o32)
{
	if (!o32)
		return push16(c, c->seg[s].sel);
	uint32_t sp = (sp_get(c) - 4) & sp_mask(c);
	if (emu_probe_write(c, SEG_SS, sp, 4) || wr16(c, SEG_SS, sp, c->seg[s].sel))
		return -1;
	sp_set(c, sp);
	return 0;
}

static int pop_sreg(struct emu_cpu *c, int s, bool o32)
{
	uint32_t sp = sp_get(c), v;
	uint16_t w;
	if (rd16(c, SEG_SS, sp, &w))
		return -1;
	v = w;
	if (emu_load_seg(c, s, (uint16_t)v))
		return -1;
	sp_set(c, sp + (o32 ? 4 : 2));
	if (s == SEG_SS) {
		c->intr_shadow = 1;
		return 1;
	}
	return 0;
}

static int load_far_pointer(struct emu_cpu *c, const struct insn *i, int s)
{
	if (!(i->flags & I_MEM))
		return EXC(c, EXC_UD);
	uint32_t ea = ea_of(c, i), off;
	uint16_t sel;
	unsigned n = osize(i);
	if (mread(c, i->seg, ea, n, &off) || rd16(c, i->seg, (ea + n) & i->amask, &sel))
		return -1;
	if (emu_load_seg(c, s, sel))
		return -1;
	sreg(c, i->reg, n, off);
	if (s == SEG_SS) {
		c->intr_shadow = 1;
		return 1;
	}
	return 0;
}

static int do_sysenter(struct emu_cpu *c)
{
	uint32_t cs = (uint32_t)c->msr.sysenter_cs & 0xfffc;
	if (!(c->cr0 & CR0_PE) || cs == 0)
		return EXC_E(c, EXC_GP, 0);
	emu_flags_materialize(c);
	c->eflags &= ~(F_VM | F_IF | F_RF);
	struct emu_seg *s = &c->seg[SEG_CS];
	*s = (struct emu_seg){ .base = 0, .limit = 0xffffffffu, .sel = (uint16_t)cs,
			       .attr = 0xc09b, .valid = true };
	struct emu_seg *ss = &c->seg[SEG_SS];
	*ss = (struct emu_seg){ .base = 0, .limit = 0xffffffffu, .sel = (uint16_t)(cs + 8),
				.attr = 0xc093, .valid = true };
	emu_set_cpl(c, 0);
	emu_update_mode(c);
	W32(c, 4, (uint32_t)c->msr.sysenter_esp);
	c->eip = (uint32_t)c->msr.sysenter_eip;
	return 2;
}

static int do_sysexit(struct emu_cpu *c)
{
	uint32_t cs = (uint32_t)c->msr.sysenter_cs & 0xfffc;
	if (!c->pmode || c->cpl || cs == 0)
		return EXC_E(c, EXC_GP, 0);
	struct emu_seg *s = &c->seg[SEG_CS];
	*s = (struct emu_seg){ .base = 0, .limit = 0xffffffffu, .sel = (uint16_t)((cs + 16) | 3),
			       .attr = 0xc0fb, .valid = true };
	struct emu_seg *ss = &c->seg[SEG_SS];
	*ss = (struct emu_seg){ .base = 0, .limit = 0xffffffffu, .sel = (uint16_t)((cs + 24) | 3),
				.attr = 0xc0f3, .valid = true };
	emu_set_cpl(c, 3);
	emu_update_mode(c);
	W32(c, 4, R32(c, 1));
	c->eip = R32(c, 2);
	return 2;
}

static int soft_int(struct emu_cpu *c, const struct insn *i, int vec, int kind)
{
	if (emu_interrupt(c, vec, kind, 0, false, next_eip(c, i)))
		return -1;
	return 2;
}

int emu_misc(struct emu_cpu *c, const struct insn *i)
{
	bool o32 = i->flags & I_O32;
	unsigned n = osize(i);
	switch (i->opcode) {
	case 0x06: return push_sreg(c, SEG_ES, o32);
	case 0x0e: return push_sreg(c, SEG_CS, o32);
	case 0x16: return push_sreg(c, SEG_SS, o32);
	case 0x1e: return push_sreg(c, SEG_DS, o32);
	case 0x0fa0: return push_sreg(c, SEG_FS, o32);
	case 0x0fa8: return push_sreg(c, SEG_GS, o32);
	case 0x07: return pop_sreg(c, SEG_ES, o32);
	case 0x17: return pop_sreg(c, SEG_SS, o32);
	case 0x1f: return pop_sreg(c, SEG_DS, o32);
	case 0x0fa1: return pop_sreg(c, SEG_FS, o32);
	case 0x0fa9: return pop_sreg(c, SEG_GS, o32);
	case 0x27: daa_das(c, false); return 0;
	case 0x2f: daa_das(c, true); return 0;
	case 0x37: aaa_aas(c, false); return 0;
	case 0x3f: aaa_aas(c, true); return 0;
	case 0x60: { /* PUSHA */
		uint32_t sp = sp_get(c), old_sp = greg(c, 4, n);
		if (emu_probe_write(c, SEG_SS, (sp - 8 * n) & sp_mask(c), 8 * n))
			return -1;
		for (int r = 0; r < 8; r++)
			pushv(c, r == 4 ? old_sp : greg(c, r, n), o32);
		return 0;
	}
	case 0x61: { /* POPA */
		uint32_t sp = sp_get(c), v[8];
		for (int r = 7; r >= 0; r--) {
			if (mread(c, SEG_SS, (sp + (uint32_t)(7 - r) * n) & sp_mask(c), n, &v[r]))
				return -1;
		}
		for (int r = 0; r < 8; r++)
			if (r != 4)
				sreg(c, r, n, v[r]);
		sp_set(c, sp + 8 * n);
		return 0;
	}
	case 0x62: { /* BOUND */
		if (!(i->flags & I_MEM))
			return EXC(c, EXC_UD);
		uint32_t ea = ea_of(c, i), lo, hi;
		if (mread(c, i->seg, ea, n, &lo) || mread(c, i->seg, (ea + n) & i->amask, n, &hi))
			return -1;
		int32_t v = n == 2 ? (int16_t)R16(c, i->reg) : (int32_t)R32(c, i->reg);
		int32_t l = n == 2 ? (int16_t)lo : (int32_t)lo, h = n == 2 ? (int16_t)hi : (int32_t)hi;
		if (v < l || v > h)
			return EXC(c, EXC_BR);
		return 0;
	}
	case 0x63: { /* ARPL */
		if (!c->pmode)
			return EXC(c, EXC_UD);
		uint32_t d;
		if (rm_read(c, i, 2, &d))
			return -1;
		uint16_t s = R16(c, i->reg);
		if ((d & 3) < (s & 3u)) {
			if (rm_write(c, i, 2, (d & ~3u) | (s & 3u)))
				return -1;
			set_zf(c, true);
		} else {
			set_zf(c, false);
		}
		return 0;
	}
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: {
		int r = string_io(c, i);
		if (r == (1 | 0x100)) { /* interrupted REP: resume here */
			c->eip = c->trace_eip + i->ofs;
			return 2;
		}
		return r;
	}
	case 0x8c: { /* MOV Ew, Sreg */
		if (i->reg > 5)
			return EXC(c, EXC_UD);
		uint16_t v = c->seg[i->reg].sel;
		if (i->flags & I_MEM)
			return wr16(c, i->seg, ea_of(c, i), v);
		sreg(c, i->rm, n, v);
		return 0;
	}
	case 0x8e: { /* MOV Sreg, Ew */
		if (i->reg > 5 || i->reg == SEG_CS)
			return EXC(c, EXC_UD);
		uint32_t v;
		if (rm_read(c, i, 2, &v))
			return -1;
		if (emu_load_seg(c, i->reg, (uint16_t)v))
			return -1;
		if (i->reg == SEG_SS) {
			c->intr_shadow = 1;
			return 1;
		}
		return 0;
	}
	case 0x8f: { /* POP Ev: ESP is incremented before the address is formed */
		if (i->reg)
			return EXC(c, EXC_UD);
		uint32_t sp = sp_get(c), v;
		if (mread(c, SEG_SS, sp, n, &v))
			return -1;
		if (!(i->flags & I_MEM)) {
			sp_set(c, sp + n);
			sreg(c, i->rm, n, v);
			return 0;
		}
		sp_set(c, sp + n);
		if (mwrite(c, i->seg, ea_of(c, i), n, v)) {
			sp_set(c, sp);
			return -1;
		}
		return 0;
	}
	case 0x9a:
		if (emu_far_call(c, (uint16_t)i->imm2, i->imm, next_eip(c, i), o32))
			return -1;
		return 2;
	case 0xea:
		if (emu_far_jmp(c, (uint16_t)i->imm2, i->imm, next_eip(c, i), o32))
			return -1;
		return 2;
	case 0x9b: /* FWAIT */
		if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
			return EXC(c, EXC_NM);
		if (fpu_wait(&c->fpu) == FPU_MF)
			return fpu_error(c);
		return 0;
	case 0x9c: { /* PUSHF */
		if (c->v86 && iopl(c) < 3)
			return EXC_E(c, EXC_GP, 0);
		uint32_t f = emu_get_eflags(c) & ~(F_VM | F_RF);
		return pushv(c, f, o32);
	}
	case 0x9d: { /* POPF */
		if (c->v86 && iopl(c) < 3)
			return EXC_E(c, EXC_GP, 0);
		uint32_t v;
		if (pop_v(c, o32, &v))
			return -1;
		uint32_t mask = F_ARITH | F_TF | F_DF | F_NT;
		if (o32)
			mask |= F_AC | F_ID;
		if (!c->pmode && !c->v86) {
			mask |= F_IOPL | F_IF;
		} else if (c->v86) {
			mask |= F_IF;
		} else {
			if (c->cpl == 0)
				mask |= F_IOPL;
			if (c->cpl <= iopl(c))
				mask |= F_IF;
		}
		emu_set_eflags(c, v, mask);
		return 1;
	}
	case 0x9e: { /* SAHF */
		uint8_t ah = *R8P(c, 1);
		emu_set_eflags(c, ah, F_CF | F_PF | F_AF | F_ZF | F_SF);
		return 0;
	}
	case 0x9f: /* LAHF */
		*R8P(c, 1) = (uint8_t)(emu_get_eflags(c) | 2);
		return 0;
	case 0xc4: return load_far_pointer(c, i, SEG_ES);
	case 0xc5: return load_far_pointer(c, i, SEG_DS);
	case 0x0fb2: return load_far_pointer(c, i, SEG_SS);
	case 0x0fb4: return load_far_pointer(c, i, SEG_FS);
	case 0x0fb5: return load_far_pointer(c, i, SEG_GS);
	case 0xc8: { /* ENTER */
		uint32_t level = i->imm2 & 31, alloc = i->imm & 0xffff;
		uint32_t mask = sp_mask(c), sp = sp_get(c);
		uint32_t bp = greg(c, 5, n);
		uint32_t p = (sp - n) & mask;
		if (mwrite(c, SEG_SS, p, n, bp))
			return -1;
		/* the frame pointer keeps ESP's upper half on a 16-bit stack */
		uint32_t frame = (R32(c, 4) & ~mask) | p;
		for (uint32_t k = 1; k < level; k++) {
			uint32_t v;
			bp = (bp - n) & mask;
			if (mread(c, SEG_SS, bp, n, &v))
				return -1;
			p = (p - n) & mask;
			if (mwrite(c, SEG_SS, p, n, v))
				return -1;
		}
		if (level) {
			p = (p - n) & mask;
			if (mwrite(c, SEG_SS, p, n, frame))
				return -1;
		}
		uint32_t nsp = (p - alloc) & mask;
		if (emu_probe_write(c, SEG_SS, nsp, 1))
			return -1;
		if (n == 4) W32(c, 5, frame); else W16(c, 5, (uint16_t)frame);
		sp_set(c, nsp);
		return 0;
	}
	case 0xc9: { /* LEAVE */
		uint32_t bp = c->stack32 ? R32(c, 5) : R16(c, 5), v;
		if (mread(c, SEG_SS, bp, n, &v))
			return -1;
		sp_set(c, bp + n);
		sreg(c, 5, n, v);
		return 0;
	}
	case 0xca: case 0xcb:
		if (emu_far_ret(c, o32, (uint16_t)(i->opcode == 0xca ? i->imm : 0)))
			return -1;
		return 2;
	case 0xcc: return soft_int(c, i, EXC_BP, INT_SOFT_BP);
	case 0xcd: return soft_int(c, i, (int)i->imm, INT_SOFT);
	case 0xce:
		if (!emu_of(c))
			return 0;
		return soft_int(c, i, EXC_OF, INT_SOFT_BP);
	case 0xf1: return soft_int(c, i, EXC_DB, INT_ICEBP);
	case 0xcf:
		if (emu_iret(c, o32, next_eip(c, i)))
			return -1;
		c->nmi_blocked = false;
		return 2;
	case 0xd4: { /* AAM */
		uint8_t base = (uint8_t)i->imm, al = *R8P(c, 0);
		if (!base)
			return EXC(c, EXC_DE);
		*R8P(c, 1) = al / base;
		al = al % base;
		*R8P(c, 0) = al;
		set_lazy(c, LF_LOGIC, 1, 0, 0, al);
		return 0;
	}
	case 0xd5: { /* AAD */
		uint8_t al = (uint8_t)(*R8P(c, 0) + *R8P(c, 1) * (uint8_t)i->imm);
		W16(c, 0, al);
		set_lazy(c, LF_LOGIC, 1, 0, 0, al);
		return 0;
	}
	case 0xd6: /* SALC */
		*R8P(c, 0) = emu_cf(c) ? 0xff : 0;
		return 0;
	case 0xd7: { /* XLAT */
		uint8_t v;
		uint32_t ea = (uint32_t)(((i->flags & I_A32) ? R32(c, 3) : R16(c, 3)) + *R8P(c, 0)) & i->amask;
		if (rd8(c, i->seg, ea, &v))
			return -1;
		*R8P(c, 0) = v;
		return 0;
	}
	case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
		return emu_esc(c, i);
	case 0xf4: /* HLT */
		if (c->pmode && c->cpl)
			return EXC_E(c, EXC_GP, 0);
		if (c->v86)
			return EXC_E(c, EXC_GP, 0);
		c->eip = next_eip(c, i);
		c->halted = true;
		return 2;
	case 0xfa: /* CLI */
		if ((c->pmode && c->cpl > iopl(c)) || (c->v86 && iopl(c) < 3))
			return EXC_E(c, EXC_GP, 0);
		emu_flags_materialize(c);
		c->eflags &= ~F_IF;
		return 0;
	case 0xfb: /* STI */
		if ((c->pmode && c->cpl > iopl(c)) || (c->v86 && iopl(c) < 3))
			return EXC_E(c, EXC_GP, 0);
		if (!(c->eflags & F_IF))
			c->intr_shadow = 1;
		c->eflags |= F_IF;
		return 1;
	case 0xff:
		switch (i->op) {
		case 3: case 5: { /* far CALL/JMP through memory */
			uint32_t ea = ea_of(c, i), off;
			uint16_t sel;
			if (mread(c, i->seg, ea, n, &off) || rd16(c, i->seg, (ea + n) & i->amask, &sel))
				return -1;
			int r = i->op == 3 ? emu_far_call(c, sel, off, next_eip(c, i), o32)
					    : emu_far_jmp(c, sel, off, next_eip(c, i), o32);
			return r ? -1 : 2;
		}
		case 6: { /* PUSH Ev */
			uint32_t v;
			if (rm_read(c, i, n, &v))
				return -1;
			return pushv(c, v, o32);
		}
		default:
			return EXC(c, EXC_UD);
		}
	case 0x0f00: return grp6(c, i);
	case 0x0f01: {
		int r = grp7(c, i);
		/* loads of GDTR/IDTR/MSW and INVLPG change what later code sees */
		return r < 0 ? r : (i->reg >= 2 && i->reg != 4) ? 1 : 0;
	}
	case 0x0f02: case 0x0f03: { /* LAR, LSL */
		if (!c->pmode)
			return EXC(c, EXC_UD);
		uint32_t sel, lo, hi;
		if (rm_read(c, i, 2, &sel))
			return -1;
		int r = desc_visible(c, (uint16_t)sel, i->opcode == 0x0f02 ? 0 : 1, &lo, &hi);
		if (r < 0)
			return -1;
		if (r) {
			uint32_t v = i->opcode == 0x0f02 ? hi & 0x00f0ff00u : desc_limit(lo, hi);
			sreg(c, i->reg, n, v);
		}
		set_zf(c, r == 1);
		return 0;
	}
	case 0x0f06: /* CLTS */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		c->cr0 &= ~CR0_TS;
		return 0;
	case 0x0f08: case 0x0f09: /* INVD, WBINVD */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		return 0;
	case 0x0f20: case 0x0f22: { /* MOV to/from CRn */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		int cr = i->reg;
		if (cr == 1 || cr > 4)
			return EXC(c, EXC_UD);
		if (i->opcode == 0x0f20) {
			uint32_t v = cr == 0 ? c->cr0 : cr == 2 ? c->cr2 : cr == 3 ? c->cr3 : c->cr4;
			W32(c, i->rm, v);
			return 0;
		}
		if (emu_write_cr(c, cr, R32(c, i->rm)))
			return -1;
		return 1;
	}
	case 0x0f21: case 0x0f23: { /* MOV to/from DRn */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		int dr = i->reg;
		if ((dr == 4 || dr == 5) && (c->cr4 & CR4_DE))
			return EXC(c, EXC_UD);
		if (dr == 4 || dr == 5)
			dr += 2;
		if (c->dr[7] & 0x2000) { /* general detect: #DB fault, DR6.BD */
			c->dr[7] &= ~0x2000u;
			c->dr[6] |= 0x2000;
			return EXC(c, EXC_DB);
		}
		if (i->opcode == 0x0f21) {
			W32(c, i->rm, c->dr[dr]);
		} else {
			uint32_t v = R32(c, i->rm);
			if (dr == 6)
				v = (v & 0xf00fu) | 0xffff0ff0u;
			else if (dr == 7)
				v = (v & 0xffff2fffu) | 0x400;
			c->dr[dr] = v;
			emu_update_debug(c);
			return 1; /* breakpoints may have changed how code must run */
		}
		return 0;
	}
	case 0x0f30: case 0x0f32: { /* WRMSR, RDMSR */
		if ((c->pmode && c->cpl) || c->v86)
			return EXC_E(c, EXC_GP, 0);
		if (i->opcode == 0x0f32) {
			uint64_t v;
			if (emu_rdmsr(c, R32(c, 1), &v))
				return -1;
			W32(c, 0, (uint32_t)v);
			W32(c, 2, (uint32_t)(v >> 32));
			return 0;
		}
		if (emu_wrmsr(c, R32(c, 1), (uint64_t)R32(c, 2) << 32 | R32(c, 0)))
			return -1;
		return 1;
	}
	case 0x0f31: { /* RDTSC */
		if ((c->cr4 & CR4_TSD) && (c->cpl || c->v86) && (c->cr0 & CR0_PE))
			return EXC_E(c, EXC_GP, 0);
		c->icount_offset = i->idx;
		uint64_t t = emu_rdtsc(c);
		c->icount_offset = 0;
		W32(c, 0, (uint32_t)t);
		W32(c, 2, (uint32_t)(t >> 32));
		return 0;
	}
	case 0x0f33: /* RDPMC: no counters */
		return EXC_E(c, EXC_GP, 0);
	case 0x0f34: return do_sysenter(c);
	case 0x0f35: return do_sysexit(c);
	case 0x0fa2: {
		uint32_t out[4];
		emu_cpuid(c, R32(c, 0), R32(c, 1), out);
		W32(c, 0, out[0]);
		W32(c, 3, out[1]);
		W32(c, 1, out[2]);
		W32(c, 2, out[3]);
		return 0;
	}
	case 0x0fa4: case 0x0fa5: case 0x0fac: case 0x0fad: { /* SHLD, SHRD */
		unsigned cnt = ((i->opcode & 1) ? *R8P(c, 8) : i->imm) & 31;
		uint32_t d, s = greg(c, i->reg, n);
		if (rm_read(c, i, n, &d))
			return -1;
		if (!cnt)
			return 0;
		unsigned bits = n * 8;
		uint64_t m = size_mask(n);
		uint32_t r;
		bool cf;
		/* D:S:D, so 16-bit counts above 16 bring D's bits in again as
		 * the hardware does */
		unsigned __int128 wide = ((unsigned __int128)d << (2 * bits)) |
					 ((unsigned __int128)s << bits) | d;
		if (i->opcode <= 0x0fa5) {
			r = (uint32_t)((wide << cnt) >> (2 * bits)) & (uint32_t)m;
			cf = (uint32_t)(wide >> (3 * bits - cnt)) & 1;
		} else {
			r = (uint32_t)(wide >> cnt) & (uint32_t)m;
			cf = (uint32_t)(wide >> (cnt - 1)) & 1;
		}
		if (rm_write(c, i, n, r))
			return -1;
		c->lf_op = i->opcode <= 0x0fa5 ? LF_SHLD : LF_SHRD;
		c->lf_size = n;
		c->lf_res = r;
		c->lf_op1 = d;
		c->lf_op2 = cnt;
		c->lf_cf = cf;
		return 0;
	}
	case 0x0fb0: case 0x0fb1: { /* CMPXCHG */
		unsigned size = (i->opcode & 1) ? n : 1;
		uint32_t d, a = greg(c, 0, size);
		if (rm_read(c, i, size, &d))
			return -1;
		if (d == a) {
			if (rm_write(c, i, size, greg(c, i->reg, size)))
				return -1;
		} else {
			/* the destination is written back unchanged (a locked
			 * cycle always writes) */
			if ((i->flags & I_MEM) && rm_write(c, i, size, d))
				return -1;
			sreg(c, 0, size, d);
		}
		set_lazy(c, LF_SUB, size, a, d, a - d);
		return 0;
	}
	case 0x0fc0: case 0x0fc1: { /* XADD */
		unsigned size = (i->opcode & 1) ? n : 1;
		uint32_t d, s = greg(c, i->reg, size);
		if (rm_read(c, i, size, &d))
			return -1;
		uint32_t r = d + s;
		if (i->flags & I_MEM) {
			if (rm_write(c, i, size, r))
				return -1;
			sreg(c, i->reg, size, d);
		} else {
			/* the destination is written last: XADD r, r keeps the sum */
			sreg(c, i->reg, size, d);
			sreg(c, i->rm, size, r);
		}
		set_lazy(c, LF_ADD, size, d, s, r);
		return 0;
	}
	case 0x0fc7: { /* CMPXCHG8B */
		if (i->reg != 1 || !(i->flags & I_MEM))
			return EXC(c, EXC_UD);
		uint32_t ea = ea_of(c, i), lo, hi;
		if (rd32(c, i->seg, ea, &lo) || rd32(c, i->seg, (ea + 4) & i->amask, &hi))
			return -1;
		if (emu_probe_write(c, i->seg, ea, 8))
			return -1;
		bool eq = lo == R32(c, 0) && hi == R32(c, 2);
		if (eq) {
			wr32(c, i->seg, ea, R32(c, 3));
			wr32(c, i->seg, (ea + 4) & i->amask, R32(c, 1));
		} else {
			wr32(c, i->seg, ea, lo);
			wr32(c, i->seg, (ea + 4) & i->amask, hi);
			W32(c, 0, lo);
			W32(c, 2, hi);
		}
		set_zf(c, eq);
		return 0;
	}
	case 0x0fae:
		return emu_fxsave_rstor(c, i);
	default:
		return EXC(c, EXC_UD);
	}
}

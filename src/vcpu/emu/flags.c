/*
 * Lazy arithmetic flags. Instructions record (operation, size, operands,
 * result) instead of computing EFLAGS; the flags are derived here when an
 * instruction reads them. Definitions follow the Intel SDM vol. 1 3.4.3 and
 * each instruction's "Flags Affected" section; where the SDM leaves a flag
 * undefined we produce what P6-family processors are documented or observed
 * to produce (logical ops clear AF; shifts and rotates by more than one set
 * OF as for a count of one).
 */
#include "emu.h"

static inline uint32_t msb(uint32_t v, unsigned size) { return (v >> (size * 8 - 1)) & 1; }

static const uint8_t parity_table[256] = {
#define P2(n) n, n ^ 1, n ^ 1, n
#define P4(n) P2(n), P2(n ^ 1), P2(n ^ 1), P2(n)
#define P6(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
	P6(1), P6(0), P6(0), P6(1)
#undef P2
#undef P4
#undef P6
};

bool emu_cf_slow(const struct emu_cpu *c)
{
	uint32_t r = c->lf_res, a = c->lf_op1, b = c->lf_op2;
	switch (c->lf_op) {
	case LF_NONE: return c->eflags & F_CF;
	case LF_ADD: return r < a;
	case LF_ADC: return r < a || (c->lf_cf && r == a);
	case LF_SUB: return a < b;
	case LF_SBB: return a < b || (c->lf_cf && a == b);
	case LF_LOGIC: return false;
	case LF_INC: case LF_DEC: return c->lf_cf;
	case LF_NEG: return r != 0;
	/* shifts computed their carry when they ran */
	case LF_SHL: case LF_SHR: case LF_SAR: return c->lf_cf;
	case LF_ROL: return r & 1;
	case LF_ROR: return msb(r, c->lf_size);
	case LF_MUL: return c->lf_cf;
	case LF_SHLD: case LF_SHRD: return c->lf_cf;
	}
	return false;
}

bool emu_of(const struct emu_cpu *c)
{
	uint32_t r = c->lf_res, a = c->lf_op1, b = c->lf_op2;
	unsigned size = c->lf_size;
	switch (c->lf_op) {
	case LF_NONE: return c->eflags & F_OF;
	case LF_ADD: case LF_ADC: return msb((a ^ r) & (b ^ r), size);
	case LF_SUB: case LF_SBB: return msb((a ^ b) & (a ^ r), size);
	case LF_LOGIC: return false;
	case LF_INC: return r == (1u << (size * 8 - 1));
	case LF_DEC: return r == (1u << (size * 8 - 1)) - 1;
	case LF_NEG: return r == (1u << (size * 8 - 1));
	case LF_SHL: return msb(r, size) ^ emu_cf(c);
	case LF_SHR: return msb(a, size); /* the sign bit shifted out first */
	case LF_SAR: return false;
	case LF_ROL: return msb(r, size) ^ (r & 1);
	case LF_ROR: return msb(r, size) ^ ((r >> (size * 8 - 2)) & 1);
	case LF_MUL: return c->lf_cf;
	case LF_SHLD: case LF_SHRD: return msb(r ^ a, size);
	}
	return false;
}

bool emu_af(const struct emu_cpu *c)
{
	uint32_t r = c->lf_res, a = c->lf_op1, b = c->lf_op2;
	switch (c->lf_op) {
	case LF_NONE: return c->eflags & F_AF;
	case LF_ADD: case LF_ADC: case LF_SUB: case LF_SBB:
		return ((a ^ b ^ r) >> 4) & 1;
	case LF_INC: return (r & 0xf) == 0;
	case LF_DEC: return (r & 0xf) == 0xf;
	case LF_NEG: return (r & 0xf) != 0;
	default: return false;
	}
}

static bool pf(const struct emu_cpu *c)
{
	if (c->lf_op == LF_NONE)
		return c->eflags & F_PF;
	return parity_table[c->lf_res & 0xff];
}

uint32_t emu_get_eflags(struct emu_cpu *c)
{
	if (c->lf_op == LF_NONE)
		return c->eflags;
	uint32_t r = c->lf_res, a = c->lf_op1, b = c->lf_op2;
	unsigned size = c->lf_size;
	/* ZF, SF and PF come from the result whatever the operation */
	uint32_t f = (c->eflags & ~F_ARITH) | (r ? 0 : F_ZF) | (msb(r, size) ? F_SF : 0) |
		     (parity_table[r & 0xff] ? F_PF : 0);
	switch (c->lf_op) {
	case LF_ADD: case LF_ADC:
		f |= (emu_cf(c) ? F_CF : 0) | ((a ^ b ^ r) & F_AF) |
		     (msb((a ^ r) & (b ^ r), size) ? F_OF : 0);
		break;
	case LF_SUB: case LF_SBB:
		f |= (emu_cf(c) ? F_CF : 0) | ((a ^ b ^ r) & F_AF) |
		     (msb((a ^ b) & (a ^ r), size) ? F_OF : 0);
		break;
	case LF_LOGIC:
		break;
	default:
		f |= (emu_cf(c) ? F_CF : 0) | (emu_af(c) ? F_AF : 0) | (emu_of(c) ? F_OF : 0);
		break;
	}
	return f;
}

/* Replaces the bits of mask with v's; bit 1 always reads 1. */
void emu_set_eflags(struct emu_cpu *c, uint32_t v, uint32_t mask)
{
	uint32_t f = emu_get_eflags(c);
	c->eflags = ((f & ~mask) | (v & mask) | 2u) & ~0xffc08028u;
	c->lf_op = LF_NONE;
	if (mask & F_AC)
		emu_update_access(c);
}

bool emu_cond_slow(const struct emu_cpu *c, int cc)
{
	bool r;
	/* Fast paths for the common compare-and-branch. */
	if (c->lf_op == LF_SUB) {
		uint32_t a = c->lf_op1, b = c->lf_op2;
		unsigned sh = 32 - c->lf_size * 8;
		int32_t sa = (int32_t)(a << sh), sb = (int32_t)(b << sh);
		switch (cc >> 1) {
		case 1: r = a < b; break;                 /* B */
		case 2: r = a == b; break;                /* Z */
		case 3: r = a <= b; break;                /* BE */
		case 6: r = sa < sb; break;               /* L */
		case 7: r = sa <= sb; break;              /* LE */
		default: goto slow;
		}
		return r ^ (cc & 1);
	}
slow:
	switch (cc >> 1) {
	case 0: r = emu_of(c); break;
	case 1: r = emu_cf(c); break;
	case 2: r = emu_zf(c); break;
	case 3: r = emu_cf(c) || emu_zf(c); break;
	case 4: r = emu_sf(c); break;
	case 5: r = pf(c); break;
	case 6: r = emu_sf(c) != emu_of(c); break;
	default: r = emu_zf(c) || (emu_sf(c) != emu_of(c)); break;
	}
	return r ^ (cc & 1);
}

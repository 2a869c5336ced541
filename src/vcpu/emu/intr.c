/*
 * Interrupt and exception delivery and IRET for the software CPU: the real
 * mode vector table, protected-mode interrupt/trap/task gates with stack
 * switches (also out of virtual-8086 mode), error codes, and the double- and
 * triple-fault rules. References: Intel SDM vol. 3, chapter 6 (6.12
 * exception and interrupt handling, 6.15 the class table for double faults)
 * and chapter 20 (virtual-8086 mode), vol. 2 INT n/IRET pseudo-code.
 */
#include "emu.h"
#include "../../log.h"

/* A data segment register left null by a privilege change (its limits are
 * recomputed by the emu_update_mode that follows). */
static void null_data_seg(struct emu_seg *d)
{
	*d = (struct emu_seg){ .sel = 0, .valid = false };
}

static int real_mode_interrupt(struct emu_cpu *c, int vec, uint32_t next_eip)
{
	uint32_t off = (uint32_t)vec * 4;
	if (off + 3 > c->idt_limit)
		return EXC_E(c, EXC_GP, (uint32_t)vec * 8 + 2);
	uint32_t ip, cs;
	if (mmu_read_sys(c, c->idt_base + off, 2, &ip) ||
	    mmu_read_sys(c, c->idt_base + off + 2, 2, &cs))
		return -1;
	uint32_t fl = emu_get_eflags(c);
	uint32_t sp = sp_get(c);
	if (emu_probe_write(c, SEG_SS, (sp - 6) & sp_mask(c), 6))
		return -1;
	push16(c, (uint16_t)fl);
	push16(c, c->seg[SEG_CS].sel);
	push16(c, (uint16_t)next_eip);
	c->eflags = fl & ~(F_IF | F_TF | F_AC | F_RF);
	c->lf_op = LF_NONE;
	emu_seg_set_real(c, SEG_CS, (uint16_t)cs);
	c->eip = ip;
	return 0;
}

/* Pushes to the stack described by (base, mask, *sp) with supervisor
 * access. */
static int spush(struct emu_cpu *c, uint32_t base, uint32_t mask, uint32_t *sp,
		 uint32_t v, bool o32)
{
	*sp = (*sp - (o32 ? 4 : 2)) & mask;
	return mmu_write_sys(c, base + *sp, o32 ? 4 : 2, o32 ? v : v & 0xffff);
}

int emu_interrupt(struct emu_cpu *c, int vec, int kind, uint32_t err, bool has_err,
		  uint32_t next_eip)
{
	if (!(c->cr0 & CR0_PE))
		return real_mode_interrupt(c, vec, next_eip);
	bool soft = kind == INT_SOFT || kind == INT_SOFT_BP;
	uint32_t ext = soft ? 0 : 1;

	/* Virtual-8086 mode software interrupts go to the monitor (#GP)
	 * unless IOPL is 3. */
	if (c->v86 && kind == INT_SOFT && ((c->eflags & F_IOPL) >> 12) < 3)
		return EXC_E(c, EXC_GP, 0);

	uint32_t off = (uint32_t)vec * 8;
	if (off + 7 > c->idt_limit)
		return EXC_E(c, EXC_GP, off + 2 + ext);
	uint32_t lo, hi;
	if (mmu_read_sys(c, c->idt_base + off, 4, &lo) ||
	    mmu_read_sys(c, c->idt_base + off + 4, 4, &hi))
		return -1;
	unsigned type = (hi >> 8) & 0x1f; /* includes S: must be 0 */
	if (type != 5 && type != 6 && type != 7 && type != 14 && type != 15)
		return EXC_E(c, EXC_GP, off + 2 + ext);
	if (soft && desc_dpl(hi) < c->cpl)
		return EXC_E(c, EXC_GP, off + 2);
	if (!(hi & 0x8000))
		return EXC_E(c, EXC_NP, off + 2 + ext);

	if (type == 5) { /* task gate */
		uint16_t tss = (uint16_t)(lo >> 16);
		uint32_t tlo, thi;
		int r = emu_read_descriptor(c, tss, &tlo, &thi);
		if (r < 0)
			return -1;
		if (r > 0 || (tss & 4))
			return EXC_E(c, EXC_TS, (tss & 0xfffc) | ext);
		if (emu_task_switch(c, tss, tlo, thi, TS_INT, next_eip))
			return -1;
		if (has_err) {
			bool o32 = (c->tr.attr & 8) != 0;
			if (pushv(c, err, o32))
				return -1;
		}
		return 0;
	}

	bool gate32 = type >= 14;
	bool trap = type & 1;
	uint16_t sel = (uint16_t)(lo >> 16);
	uint32_t target = (lo & 0xffff) | (gate32 ? (hi & 0xffff0000u) : 0);
	if ((sel & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, ext);
	uint32_t clo, chi;
	int r = emu_read_descriptor(c, sel, &clo, &chi);
	if (r < 0)
		return -1;
	if (r > 0 || !(chi & 0x1000) || !(chi & 0x800) || desc_dpl(chi) > c->cpl)
		return EXC_E(c, EXC_GP, (sel & 0xfffc) | ext);
	if (!(chi & 0x8000))
		return EXC_E(c, EXC_NP, (sel & 0xfffc) | ext);
	int dpl = desc_dpl(chi);
	bool conforming = chi & 0x400;
	uint32_t fl = emu_get_eflags(c);
	uint32_t n = gate32 ? 4 : 2;

	if (!conforming && dpl < c->cpl) {
		/* inner privilege: new stack from the TSS */
		if (c->v86 && dpl != 0)
			return EXC_E(c, EXC_GP, (sel & 0xfffc) | ext);
		bool tss32 = (c->tr.attr & 8) != 0;
		uint32_t so = tss32 ? 4 + (uint32_t)dpl * 8 : 2 + (uint32_t)dpl * 4;
		if (!c->tr.valid || so + (tss32 ? 7u : 3u) > c->tr.limit)
			return EXC_E(c, EXC_TS, (c->tr.sel & 0xfffc) | ext);
		uint32_t nesp, nss;
		if (mmu_read_sys(c, c->tr.base + so, tss32 ? 4 : 2, &nesp) ||
		    mmu_read_sys(c, c->tr.base + so + (tss32 ? 4 : 2), 2, &nss))
			return -1;
		nss &= 0xffff;
		if ((nss & 0xfffc) == 0)
			return EXC_E(c, EXC_TS, ext);
		uint32_t slo, shi;
		r = emu_read_descriptor(c, (uint16_t)nss, &slo, &shi);
		if (r < 0)
			return -1;
		if (r > 0 || (nss & 3) != (uint32_t)dpl || desc_dpl(shi) != dpl ||
		    (shi & 0x1800) != 0x1000 || !(shi & 0x200))
			return EXC_E(c, EXC_TS, (nss & 0xfffc) | ext);
		if (!(shi & 0x8000))
			return EXC_E(c, EXC_SS, (nss & 0xfffc) | ext);
		if (target > desc_limit(clo, chi))
			return EXC_E(c, EXC_GP, ext);
		uint32_t sbase = desc_base(slo, shi);
		uint32_t smask = (shi & 0x400000) ? 0xffffffffu : 0xffffu;
		uint32_t sp = nesp & smask;
		uint32_t old_ss = c->seg[SEG_SS].sel, old_esp = R32(c, 4);
		int e = 0;
		if (c->v86) {
			e |= spush(c, sbase, smask, &sp, c->seg[SEG_GS].sel, gate32);
			e |= spush(c, sbase, smask, &sp, c->seg[SEG_FS].sel, gate32);
			e |= spush(c, sbase, smask, &sp, c->seg[SEG_DS].sel, gate32);
			e |= spush(c, sbase, smask, &sp, c->seg[SEG_ES].sel, gate32);
		}
		e |= spush(c, sbase, smask, &sp, old_ss, gate32);
		e |= spush(c, sbase, smask, &sp, old_esp, gate32);
		e |= spush(c, sbase, smask, &sp, fl, gate32);
		e |= spush(c, sbase, smask, &sp, c->seg[SEG_CS].sel, gate32);
		e |= spush(c, sbase, smask, &sp, next_eip, gate32);
		if (has_err)
			e |= spush(c, sbase, smask, &sp, err, gate32);
		if (e)
			return -1;
		bool from_v86 = c->v86;
		c->eflags = fl & ~(F_TF | F_NT | F_RF | F_VM | (trap ? 0 : F_IF));
		c->lf_op = LF_NONE;
		emu_update_mode(c);
		/* loading the new stack and code segments */
		struct emu_seg *ss = &c->seg[SEG_SS];
		ss->sel = (uint16_t)nss;
		ss->base = sbase;
		ss->limit = desc_limit(slo, shi);
		ss->attr = (uint16_t)((shi >> 8) & 0xf0ff);
		ss->valid = true;
		struct emu_seg *cs = &c->seg[SEG_CS];
		cs->sel = (uint16_t)((sel & 0xfffc) | dpl);
		cs->base = desc_base(clo, chi);
		cs->limit = desc_limit(clo, chi);
		cs->attr = (uint16_t)((chi >> 8) & 0xf0ff);
		cs->valid = true;
		emu_set_cpl(c, dpl);
		if (from_v86) {
			static const int dsegs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
			for (unsigned k = 0; k < 4; k++) {
				null_data_seg(&c->seg[dsegs[k]]);
			}
		}
		emu_update_mode(c);
		if (smask == 0xffffffffu)
			W32(c, 4, sp);
		else
			W16(c, 4, (uint16_t)sp);
		c->eip = gate32 ? target : target & 0xffff;
		return 0;
	}
	if (c->v86)
		return EXC_E(c, EXC_GP, (sel & 0xfffc) | ext);
	/* same privilege */
	uint32_t sp = sp_get(c);
	uint32_t need = n * (has_err ? 4 : 3);
	if (emu_probe_write(c, SEG_SS, (sp - need) & sp_mask(c), need))
		return -1;
	if (target > desc_limit(clo, chi))
		return EXC_E(c, EXC_GP, ext);
	pushv(c, fl, gate32);
	pushv(c, c->seg[SEG_CS].sel, gate32);
	pushv(c, next_eip, gate32);
	if (has_err)
		pushv(c, err, gate32);
	c->eflags = fl & ~(F_TF | F_NT | F_RF | F_VM | (trap ? 0 : F_IF));
	c->lf_op = LF_NONE;
	struct emu_seg *cs = &c->seg[SEG_CS];
	cs->sel = (uint16_t)((sel & 0xfffc) | c->cpl);
	cs->base = desc_base(clo, chi);
	cs->limit = desc_limit(clo, chi);
	cs->attr = (uint16_t)((chi >> 8) & 0xf0ff);
	cs->valid = true;
	emu_update_mode(c);
	c->eip = gate32 ? target : target & 0xffff;
	return 0;
}

/* Exception classes for the double-fault rules (SDM vol. 3, table 6-5). */
static int exc_class(int vec)
{
	switch (vec) {
	case EXC_DE: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP:
		return 1; /* contributory */
	case EXC_PF:
		return 2;
	case EXC_DF:
		return 3;
	default:
		return 0; /* benign */
	}
}

static bool exc_has_error_code(int vec)
{
	return vec == EXC_DF || vec == EXC_TS || vec == EXC_NP || vec == EXC_SS ||
	       vec == EXC_GP || vec == EXC_PF || vec == EXC_AC;
}

void emu_deliver_exception(struct emu_cpu *c)
{
	int vec = c->exc_vec;
	uint32_t err = c->exc_err;
	int first_class = -1;
	for (int tries = 0; tries < 4; tries++) {
		bool has_err = c->exc_has_err || exc_has_error_code(vec);
		if (!(c->cr0 & CR0_PE))
			has_err = false; /* real mode pushes no error codes */
		/* Faults restart the instruction: EIP stays at it. */
		if (!emu_interrupt(c, vec, INT_EXC, err, has_err, c->eip))
			return;
		int cls = exc_class(vec), ncls = exc_class(c->exc_vec);
		if (cls == 3) {
			log_debug("triple fault (exception %d while delivering #DF)", c->exc_vec);
			c->shutdown = true;
			return;
		}
		if ((cls == 1 && ncls == 1) || (cls == 2 && (ncls == 1 || ncls == 2))) {
			vec = EXC_DF;
			err = 0;
			c->exc_has_err = true;
		} else {
			vec = c->exc_vec;
			err = c->exc_err;
		}
		if (first_class < 0)
			first_class = cls;
	}
	c->shutdown = true;
}

/* ---- IRET ---- */

static void iret_set_flags(struct emu_cpu *c, uint32_t nf, bool o32, int cpl_before)
{
	uint32_t mask = F_ARITH | F_TF | F_DF | F_NT;
	if (o32)
		mask |= F_RF | F_AC | F_ID;
	int iopl = (int)((c->eflags & F_IOPL) >> 12);
	if (cpl_before == 0) {
		mask |= F_IOPL;
		if (o32)
			mask |= F_VIF | F_VIP;
	}
	if (cpl_before <= iopl)
		mask |= F_IF;
	emu_set_eflags(c, nf, mask);
}

int emu_iret(struct emu_cpu *c, bool o32, uint32_t next_eip)
{
	uint32_t n = o32 ? 4 : 2, mask = sp_mask(c), sp = sp_get(c);
	if (!(c->cr0 & CR0_PE) || c->v86) {
		if (c->v86 && ((c->eflags & F_IOPL) >> 12) < 3)
			return EXC_E(c, EXC_GP, 0);
		uint32_t eip, cs, fl;
		if (o32) {
			if (rd32(c, SEG_SS, sp, &eip) || rd32(c, SEG_SS, (sp + 4) & mask, &cs) ||
			    rd32(c, SEG_SS, (sp + 8) & mask, &fl))
				return -1;
			if (eip > 0xffff && c->v86)
				return EXC_E(c, EXC_GP, 0);
		} else {
			uint16_t a, b, f;
			if (rd16(c, SEG_SS, sp, &a) || rd16(c, SEG_SS, (sp + 2) & mask, &b) ||
			    rd16(c, SEG_SS, (sp + 4) & mask, &f))
				return -1;
			eip = a;
			cs = b;
			fl = f;
		}
		sp_set(c, sp + 3 * n);
		emu_seg_set_real(c, SEG_CS, (uint16_t)cs);
		c->eip = eip;
		uint32_t m = F_ARITH | F_TF | F_IF | F_DF | F_NT | F_IOPL;
		if (o32)
			m |= F_RF | F_AC | F_ID;
		if (c->v86)
			m &= ~F_IOPL;
		emu_set_eflags(c, fl, m);
		return 0;
	}
	if (c->eflags & F_NT) {
		/* return from a nested task through the back link */
		uint32_t link;
		if (mmu_read_sys(c, c->tr.base, 2, &link))
			return -1;
		uint32_t lo, hi;
		int r = emu_read_descriptor(c, (uint16_t)link, &lo, &hi);
		if (r < 0)
			return -1;
		if (r > 0 || (link & 4))
			return EXC_E(c, EXC_TS, link & 0xfffc);
		return emu_task_switch(c, (uint16_t)link, lo, hi, TS_IRET, next_eip);
	}
	uint32_t eip, cs, fl;
	if (o32) {
		if (rd32(c, SEG_SS, sp, &eip) || rd32(c, SEG_SS, (sp + 4) & mask, &cs) ||
		    rd32(c, SEG_SS, (sp + 8) & mask, &fl))
			return -1;
	} else {
		uint16_t a, b, f;
		if (rd16(c, SEG_SS, sp, &a) || rd16(c, SEG_SS, (sp + 2) & mask, &b) ||
		    rd16(c, SEG_SS, (sp + 4) & mask, &f))
			return -1;
		eip = a;
		cs = b;
		fl = f;
	}
	cs &= 0xffff;
	int cpl = c->cpl;
	if (o32 && (fl & F_VM) && cpl == 0) {
		/* return to virtual-8086 mode */
		uint32_t v[6];
		for (int k = 0; k < 6; k++)
			if (rd32(c, SEG_SS, (sp + 12 + (uint32_t)k * 4) & mask, &v[k]))
				return -1;
		c->eflags = (fl | 2u) & ~0xffc08028u;
		c->lf_op = LF_NONE;
		emu_update_mode(c);
		emu_seg_set_real(c, SEG_CS, (uint16_t)cs);
		emu_seg_set_real(c, SEG_SS, (uint16_t)v[1]);
		emu_seg_set_real(c, SEG_ES, (uint16_t)v[2]);
		emu_seg_set_real(c, SEG_DS, (uint16_t)v[3]);
		emu_seg_set_real(c, SEG_FS, (uint16_t)v[4]);
		emu_seg_set_real(c, SEG_GS, (uint16_t)v[5]);
		W32(c, 4, v[0]);
		c->eip = eip & 0xffff;
		emu_set_cpl(c, 3);
		return 0;
	}
	if ((cs & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t lo, hi;
	int r = emu_read_descriptor(c, (uint16_t)cs, &lo, &hi);
	if (r < 0)
		return -1;
	int rpl = cs & 3;
	if (r > 0 || (hi & 0x1800) != 0x1800 || rpl < cpl ||
	    ((hi & 0x400) ? desc_dpl(hi) > rpl : desc_dpl(hi) != rpl))
		return EXC_E(c, EXC_GP, cs & 0xfffc);
	if (!(hi & 0x8000))
		return EXC_E(c, EXC_NP, cs & 0xfffc);
	if (rpl == cpl) {
		if (eip > desc_limit(lo, hi))
			return EXC_E(c, EXC_GP, 0);
		struct emu_seg *s = &c->seg[SEG_CS];
		s->sel = (uint16_t)cs;
		s->base = desc_base(lo, hi);
		s->limit = desc_limit(lo, hi);
		s->attr = (uint16_t)((hi >> 8) & 0xf0ff);
		s->valid = true;
		emu_update_mode(c);
		sp_set(c, sp + 3 * n);
		c->eip = eip;
		iret_set_flags(c, fl, o32, cpl);
		return 0;
	}
	/* return to outer privilege: pop SS:ESP too */
	uint32_t nesp, nss;
	if (o32) {
		if (rd32(c, SEG_SS, (sp + 12) & mask, &nesp) || rd32(c, SEG_SS, (sp + 16) & mask, &nss))
			return -1;
	} else {
		uint16_t a, b;
		if (rd16(c, SEG_SS, (sp + 6) & mask, &a) || rd16(c, SEG_SS, (sp + 8) & mask, &b))
			return -1;
		nesp = a;
		nss = b;
	}
	nss &= 0xffff;
	if ((nss & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t slo, shi;
	r = emu_read_descriptor(c, (uint16_t)nss, &slo, &shi);
	if (r < 0)
		return -1;
	if (r > 0 || (int)(nss & 3) != rpl || (shi & 0x1800) != 0x1000 || !(shi & 0x200) ||
	    desc_dpl(shi) != rpl)
		return EXC_E(c, EXC_GP, nss & 0xfffc);
	if (!(shi & 0x8000))
		return EXC_E(c, EXC_SS, nss & 0xfffc);
	if (eip > desc_limit(lo, hi))
		return EXC_E(c, EXC_GP, 0);
	iret_set_flags(c, fl, o32, cpl);
	struct emu_seg *s = &c->seg[SEG_CS];
	s->sel = (uint16_t)cs;
	s->base = desc_base(lo, hi);
	s->limit = desc_limit(lo, hi);
	s->attr = (uint16_t)((hi >> 8) & 0xf0ff);
	s->valid = true;
	struct emu_seg *ss = &c->seg[SEG_SS];
	ss->sel = (uint16_t)nss;
	ss->base = desc_base(slo, shi);
	ss->limit = desc_limit(slo, shi);
	ss->attr = (uint16_t)((shi >> 8) & 0xf0ff);
	ss->valid = true;
	emu_set_cpl(c, rpl);
	emu_update_mode(c);
	if (c->stack32)
		W32(c, 4, nesp);
	else
		W16(c, 4, (uint16_t)nesp);
	c->eip = eip;
	static const int dsegs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned k = 0; k < 4; k++) {
		struct emu_seg *d = &c->seg[dsegs[k]];
		if (!d->valid)
			continue;
		bool conf_code = (d->attr & 0x18) == 0x18 && (d->attr & 4);
		if (!conf_code && ((d->attr >> 5) & 3) < c->cpl)
			null_data_seg(d);
	}
	emu_update_mode(c);
	return 0;
}

/*
 * Segmentation and protection for the software CPU: descriptor tables,
 * segment register loads with their privilege and type checks, far jumps,
 * calls and returns (directly and through call gates), and hardware task
 * switches. References: Intel SDM vol. 3, chapters 3 (segments), 5
 * (protection, 5.8 call gates) and 7 (task management), and vol. 2's
 * pseudo-code for JMP, CALL, RET, MOV/POP Sreg, LDS/LES and friends.
 */
#include "emu.h"
#include "../../log.h"

#define DESC_P 0x8000u
#define DESC_S 0x1000u

static unsigned desc_type(uint32_t hi) { return (hi >> 8) & 0xf; }
static bool desc_is_code(uint32_t hi) { return (hi & DESC_S) && (hi & 0x800); }
static bool desc_is_data(uint32_t hi) { return (hi & DESC_S) && !(hi & 0x800); }

void emu_set_cpl(struct emu_cpu *c, int cpl)
{
	if ((cpl == 3) != (c->cpl == 3))
		emu_new_map_gen(c); /* user and supervisor see different pages */
	c->cpl = cpl;
	emu_update_access(c);
}

void emu_update_debug(struct emu_cpu *c)
{
	c->debug_exec = c->debug_data = false;
	for (int n = 0; n < 4; n++) {
		if (!((c->dr[7] >> (2 * n)) & 3))
			continue;
		unsigned rw = (c->dr[7] >> (16 + 4 * n)) & 3;
		if (rw == 0)
			c->debug_exec = true;
		else if (rw != 2) /* I/O breakpoints (CR4.DE) are not modelled */
			c->debug_data = true;
	}
	emu_update_access(c);
}

void emu_update_access(struct emu_cpu *c)
{
	c->ac_check = (c->cr0 & CR0_AM) && (c->eflags & F_AC) && c->cpl == 3;
	bool slow = c->ac_check || c->debug_data;
	c->tlb_r = slow ? c->tlb_dummy : c->tlbs[c->cpl == 3][0];
	c->tlb_w = slow ? c->tlb_dummy + TLB_SIZE : c->tlbs[c->cpl == 3][1];
	c->mode_bits &= ~(7u << MODE_TLB_SHIFT);
	c->mode_bits |= 1u << (MODE_TLB_SHIFT + (slow ? 2 : c->cpl == 3));
}

static void seg_limits(struct emu_cpu *c, int s)
{
	struct emu_seg *sg = &c->seg[s];
	unsigned type = sg->attr & 0xf;
	if (c->pmode && !sg->valid) {
		sg->rlim = sg->wlim = -1;
		return;
	}
	if (!(type & 8) && (type & 4)) { /* expand-down: always the exact check */
		sg->rlim = sg->wlim = -1;
		return;
	}
	if (!c->pmode) { /* real and virtual-8086 mode: limits only */
		sg->rlim = sg->wlim = sg->limit;
		return;
	}
	if (type & 8) {
		sg->rlim = (type & 2) ? (int64_t)sg->limit : -1;
		sg->wlim = -1;
	} else {
		sg->rlim = sg->limit;
		sg->wlim = (type & 2) ? (int64_t)sg->limit : -1;
	}
}

void emu_seg_recompute(struct emu_cpu *c, int s)
{
	const struct emu_seg *sg = &c->seg[s];
	seg_limits(c, s);
	c->mode_bits &= ~(0x101u << s);
	if (sg->base == 0 && sg->rlim == 0xffffffffll)
		c->mode_bits |= 1u << s;
	if (sg->base == 0 && sg->wlim == 0xffffffffll)
		c->mode_bits |= 0x100u << s;
}

static void set_stack32(struct emu_cpu *c, bool on)
{
	c->stack32 = on;
	c->mode_bits = (c->mode_bits & ~MODE_STACK32) | (on ? MODE_STACK32 : 0);
}

void emu_update_mode(struct emu_cpu *c)
{
	emu_new_map_gen(c);
	c->v86 = (c->cr0 & CR0_PE) && (c->eflags & F_VM);
	c->pmode = (c->cr0 & CR0_PE) && !c->v86;
	c->code32 = c->pmode && (c->seg[SEG_CS].attr & X86_SEG_ATTR_DB);
	set_stack32(c, c->pmode && (c->seg[SEG_SS].attr & X86_SEG_ATTR_DB));
	if (c->v86)
		emu_set_cpl(c, 3);
	else if (!(c->cr0 & CR0_PE))
		emu_set_cpl(c, 0);
	else
		emu_set_cpl(c, c->cpl);
	for (int s = 0; s < 6; s++)
		emu_seg_recompute(c, s);
}

void emu_seg_set_real(struct emu_cpu *c, int s, uint16_t sel)
{
	struct emu_seg *sg = &c->seg[s];
	sg->sel = sel;
	sg->base = (uint32_t)sel << 4;
	sg->valid = true;
	if (c->v86) {
		sg->limit = 0xffff;
		sg->attr = 0xf3; /* present, DPL 3, read/write data, accessed */
		if (s == SEG_CS)
			sg->attr = 0xfb;
	}
	emu_seg_recompute(c, s);
	if (s == SEG_SS)
		set_stack32(c, c->pmode && (sg->attr & X86_SEG_ATTR_DB));
	if (s == SEG_CS) {
		c->code32 = c->pmode && (sg->attr & X86_SEG_ATTR_DB);
		emu_new_map_gen(c);
	}
}

static void seg_load_desc(struct emu_cpu *c, int s, uint16_t sel, uint32_t lo, uint32_t hi)
{
	struct emu_seg *sg = &c->seg[s];
	sg->sel = sel;
	sg->base = desc_base(lo, hi);
	sg->limit = desc_limit(lo, hi);
	sg->attr = (uint16_t)((hi >> 8) & 0xf0ff);
	sg->valid = true;
	emu_seg_recompute(c, s);
	if (s == SEG_SS)
		set_stack32(c, (sg->attr & X86_SEG_ATTR_DB) != 0);
	if (s == SEG_CS) {
		c->code32 = (sg->attr & X86_SEG_ATTR_DB) != 0;
		emu_new_map_gen(c);
	}
}

static void seg_load_null(struct emu_cpu *c, int s, uint16_t sel)
{
	struct emu_seg *sg = &c->seg[s];
	sg->sel = sel;
	sg->valid = false;
	sg->base = 0;
	sg->limit = 0;
	sg->attr = 0;
	emu_seg_recompute(c, s);
}

/* Reads the descriptor for sel. Returns 0, or 1 when sel is beyond its
 * table's limit (the caller raises the exception its instruction needs),
 * or -1 when reading faulted (#PF). */
int emu_read_descriptor(struct emu_cpu *c, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
	uint32_t base, limit;
	if (sel & 4) {
		if (!c->ldtr.valid)
			return 1;
		base = c->ldtr.base;
		limit = c->ldtr.limit;
	} else {
		base = c->gdt_base;
		limit = c->gdt_limit;
	}
	uint32_t idx = sel & ~7u;
	if (idx + 7 > limit)
		return 1;
	if (mmu_read_sys(c, base + idx, 4, lo) || mmu_read_sys(c, base + idx + 4, 4, hi))
		return -1;
	return 0;
}

static int write_desc_hi(struct emu_cpu *c, uint16_t sel, uint32_t hi)
{
	uint32_t base = (sel & 4) ? c->ldtr.base : c->gdt_base;
	return mmu_write_sys(c, base + (sel & ~7u) + 4, 4, hi);
}

static int set_accessed(struct emu_cpu *c, uint16_t sel, uint32_t *hi)
{
	if (*hi & 0x100)
		return 0;
	*hi |= 0x100;
	return write_desc_hi(c, sel, *hi);
}

/* Fetches a descriptor or raises #GP(sel) (or vec) when out of the table. */
static int fetch_desc(struct emu_cpu *c, uint16_t sel, uint32_t *lo, uint32_t *hi, int vec)
{
	int r = emu_read_descriptor(c, sel, lo, hi);
	if (r > 0)
		return EXC_E(c, vec, sel & 0xfffc);
	return r;
}

int emu_load_seg(struct emu_cpu *c, int s, uint16_t sel)
{
	if (!c->pmode) {
		emu_seg_set_real(c, s, sel);
		return 0;
	}
	uint32_t lo, hi;
	int rpl = sel & 3;
	if (s == SEG_SS) {
		if ((sel & 0xfffc) == 0)
			return EXC_E(c, EXC_GP, 0);
		if (fetch_desc(c, sel, &lo, &hi, EXC_GP))
			return -1;
		if (rpl != c->cpl || !desc_is_data(hi) || !(hi & 0x200) || desc_dpl(hi) != c->cpl)
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & DESC_P))
			return EXC_E(c, EXC_SS, sel & 0xfffc);
		if (set_accessed(c, sel, &hi))
			return -1;
		seg_load_desc(c, s, sel, lo, hi);
		return 0;
	}
	if ((sel & 0xfffc) == 0) {
		seg_load_null(c, s, sel);
		return 0;
	}
	if (fetch_desc(c, sel, &lo, &hi, EXC_GP))
		return -1;
	if (!(hi & DESC_S) || (desc_is_code(hi) && !(hi & 0x200)))
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	bool conforming_code = desc_is_code(hi) && (hi & 0x400);
	if (!conforming_code && (desc_dpl(hi) < c->cpl || desc_dpl(hi) < rpl))
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	if (!(hi & DESC_P))
		return EXC_E(c, EXC_NP, sel & 0xfffc);
	if (set_accessed(c, sel, &hi))
		return -1;
	seg_load_desc(c, s, sel, lo, hi);
	return 0;
}

/* Loads CS for a transfer to a code segment at privilege cpl. */
static int load_cs(struct emu_cpu *c, uint16_t sel, uint32_t lo, uint32_t hi, int cpl)
{
	if (set_accessed(c, sel, &hi))
		return -1;
	seg_load_desc(c, SEG_CS, (uint16_t)((sel & 0xfffc) | cpl), lo, hi);
	emu_set_cpl(c, cpl);
	return 0;
}

/* Checks of a code-segment descriptor as the target of JMP/CALL/RET. */
static int check_code_target(struct emu_cpu *c, uint16_t sel, uint32_t hi, int rpl_max)
{
	if (!desc_is_code(hi))
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	if (hi & 0x400) { /* conforming */
		if (desc_dpl(hi) > c->cpl)
			return EXC_E(c, EXC_GP, sel & 0xfffc);
	} else if ((sel & 3) > rpl_max || desc_dpl(hi) != c->cpl) {
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	}
	if (!(hi & DESC_P))
		return EXC_E(c, EXC_NP, sel & 0xfffc);
	return 0;
}

static int task_gate_switch(struct emu_cpu *c, uint16_t gate_sel, uint32_t glo,
			    uint32_t ghi, int reason, uint32_t next_eip)
{
	uint16_t tss_sel = (uint16_t)(glo >> 16);
	uint32_t lo, hi;
	if (tss_sel & 4)
		return EXC_E(c, EXC_GP, tss_sel & 0xfffc);
	if (fetch_desc(c, tss_sel, &lo, &hi, EXC_GP))
		return -1;
	(void)gate_sel;
	(void)ghi;
	return emu_task_switch(c, tss_sel, lo, hi, reason, next_eip);
}

int emu_far_jmp(struct emu_cpu *c, uint16_t sel, uint32_t off, uint32_t next_eip, bool o32)
{
	if (!c->pmode) {
		emu_seg_set_real(c, SEG_CS, sel);
		c->eip = o32 ? off : off & 0xffff;
		return 0;
	}
	if ((sel & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t lo, hi;
	if (fetch_desc(c, sel, &lo, &hi, EXC_GP))
		return -1;
	if (hi & DESC_S) {
		if (check_code_target(c, sel, hi, c->cpl))
			return -1;
		if (off > desc_limit(lo, hi))
			return EXC_E(c, EXC_GP, 0);
		if (load_cs(c, sel, lo, hi, c->cpl))
			return -1;
		c->eip = off;
		return 0;
	}
	unsigned type = desc_type(hi);
	int dpl = desc_dpl(hi);
	switch (type) {
	case 4: case 12: { /* call gate */
		if (dpl < c->cpl || dpl < (sel & 3))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & DESC_P))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		uint16_t tsel = (uint16_t)(lo >> 16);
		uint32_t toff = (lo & 0xffff) | (type == 12 ? (hi & 0xffff0000u) : 0);
		if ((tsel & 0xfffc) == 0)
			return EXC_E(c, EXC_GP, 0);
		uint32_t tlo, thi;
		if (fetch_desc(c, tsel, &tlo, &thi, EXC_GP))
			return -1;
		if (!desc_is_code(thi) ||
		    ((thi & 0x400) ? desc_dpl(thi) > c->cpl : desc_dpl(thi) != c->cpl))
			return EXC_E(c, EXC_GP, tsel & 0xfffc);
		if (!(thi & DESC_P))
			return EXC_E(c, EXC_NP, tsel & 0xfffc);
		if (toff > desc_limit(tlo, thi))
			return EXC_E(c, EXC_GP, 0);
		if (load_cs(c, tsel, tlo, thi, c->cpl))
			return -1;
		c->eip = toff;
		return 0;
	}
	case 5: /* task gate */
		if (dpl < c->cpl || dpl < (sel & 3))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & DESC_P))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		return task_gate_switch(c, sel, lo, hi, TS_JMP, next_eip);
	case 1: case 9: /* available TSS */
		if (dpl < c->cpl || dpl < (sel & 3))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & DESC_P))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		return emu_task_switch(c, sel, lo, hi, TS_JMP, next_eip);
	default:
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	}
}

/* Reads SS:ESP for privilege level dpl from the current TSS. */
static int tss_stack(struct emu_cpu *c, int dpl, uint16_t *ss, uint32_t *esp)
{
	if (!c->tr.valid)
		return EXC_E(c, EXC_TS, c->tr.sel & 0xfffc);
	bool tss32 = (c->tr.attr & 0xf) == 9 || (c->tr.attr & 0xf) == 11;
	uint32_t off = tss32 ? 4 + (uint32_t)dpl * 8 : 2 + (uint32_t)dpl * 4;
	uint32_t need = tss32 ? 7 : 3;
	if (off + need > c->tr.limit)
		return EXC_E(c, EXC_TS, c->tr.sel & 0xfffc);
	uint32_t v;
	if (tss32) {
		if (mmu_read_sys(c, c->tr.base + off, 4, esp) ||
		    mmu_read_sys(c, c->tr.base + off + 4, 2, &v))
			return -1;
	} else {
		if (mmu_read_sys(c, c->tr.base + off, 2, esp) ||
		    mmu_read_sys(c, c->tr.base + off + 2, 2, &v))
			return -1;
	}
	*ss = (uint16_t)v;
	return 0;
}

/* Validates a new stack segment for privilege dpl (from a TSS). On error
 * raises #TS with the selector. */
static int check_new_ss(struct emu_cpu *c, uint16_t ss, int dpl, uint32_t *lo, uint32_t *hi)
{
	if ((ss & 0xfffc) == 0)
		return EXC_E(c, EXC_TS, 0);
	int r = emu_read_descriptor(c, ss, lo, hi);
	if (r < 0)
		return -1;
	if (r > 0 || (ss & 3) != dpl || !desc_is_data(*hi) || !(*hi & 0x200) ||
	    desc_dpl(*hi) != dpl)
		return EXC_E(c, EXC_TS, ss & 0xfffc);
	if (!(*hi & DESC_P))
		return EXC_E(c, EXC_SS, ss & 0xfffc);
	return 0;
}

/* Writes one stack slot at ss_base + (sp & mask) through supervisor
 * checks of the new stack (already validated). */
static int stack_write(struct emu_cpu *c, uint32_t base, uint32_t off, uint32_t val, bool o32)
{
	return mmu_write_sys(c, base + off, o32 ? 4 : 2, val);
}

/* The end of a far call that stays at the current privilege level, to
 * sel:off (its descriptor lo/hi already checked): CS:EIP pushed with size
 * n, after every check that may fault. */
static int far_call_same_level(struct emu_cpu *c, uint16_t sel, uint32_t lo, uint32_t hi,
			       uint32_t off, uint32_t next_eip, bool o32)
{
	uint32_t n = o32 ? 4 : 2;
	uint32_t sp = sp_get(c);
	if (emu_probe_write(c, SEG_SS, (sp - 2 * n) & sp_mask(c), 2 * n))
		return -1;
	if (off > desc_limit(lo, hi))
		return EXC_E(c, EXC_GP, 0);
	uint16_t old_cs = c->seg[SEG_CS].sel;
	if (load_cs(c, sel, lo, hi, c->cpl))
		return -1;
	pushv(c, old_cs, o32);
	pushv(c, next_eip, o32);
	c->eip = off;
	return 0;
}

int emu_far_call(struct emu_cpu *c, uint16_t sel, uint32_t off, uint32_t next_eip, bool o32)
{
	if (!c->pmode) {
		uint32_t sp = sp_get(c);
		uint32_t n = o32 ? 4 : 2;
		if (emu_probe_write(c, SEG_SS, (sp - 2 * n) & sp_mask(c), n) ||
		    emu_probe_write(c, SEG_SS, (sp - n) & sp_mask(c), n))
			return -1;
		if (pushv(c, c->seg[SEG_CS].sel, o32) || pushv(c, next_eip, o32))
			return -1;
		emu_seg_set_real(c, SEG_CS, sel);
		c->eip = o32 ? off : off & 0xffff;
		return 0;
	}
	if ((sel & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t lo, hi;
	if (fetch_desc(c, sel, &lo, &hi, EXC_GP))
		return -1;
	if (hi & DESC_S) {
		if (check_code_target(c, sel, hi, c->cpl))
			return -1;
		return far_call_same_level(c, sel, lo, hi, off, next_eip, o32);
	}
	unsigned type = desc_type(hi);
	int dpl = desc_dpl(hi);
	if (type == 5 || type == 1 || type == 9) {
		if (dpl < c->cpl || dpl < (sel & 3))
			return EXC_E(c, EXC_GP, sel & 0xfffc);
		if (!(hi & DESC_P))
			return EXC_E(c, EXC_NP, sel & 0xfffc);
		if (type == 5)
			return task_gate_switch(c, sel, lo, hi, TS_CALL, next_eip);
		return emu_task_switch(c, sel, lo, hi, TS_CALL, next_eip);
	}
	if (type != 4 && type != 12)
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	/* call gate */
	if (dpl < c->cpl || dpl < (sel & 3))
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	if (!(hi & DESC_P))
		return EXC_E(c, EXC_NP, sel & 0xfffc);
	bool gate32 = type == 12;
	uint16_t tsel = (uint16_t)(lo >> 16);
	uint32_t toff = (lo & 0xffff) | (gate32 ? (hi & 0xffff0000u) : 0);
	unsigned params = hi & 0x1f;
	if ((tsel & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t tlo, thi;
	if (fetch_desc(c, tsel, &tlo, &thi, EXC_GP))
		return -1;
	if (!desc_is_code(thi) || desc_dpl(thi) > c->cpl)
		return EXC_E(c, EXC_GP, tsel & 0xfffc);
	if (!(thi & DESC_P))
		return EXC_E(c, EXC_NP, tsel & 0xfffc);
	int tdpl = desc_dpl(thi);
	uint32_t gn = gate32 ? 4 : 2;
	if (!(thi & 0x400) && tdpl < c->cpl) {
		/* more privileged: switch to the inner stack from the TSS */
		uint16_t nss;
		uint32_t nesp, slo, shi;
		if (tss_stack(c, tdpl, &nss, &nesp) || check_new_ss(c, nss, tdpl, &slo, &shi))
			return -1;
		uint32_t sbase = desc_base(slo, shi), slimit = desc_limit(slo, shi);
		bool s32 = shi & 0x400000;
		uint32_t smask = s32 ? 0xffffffffu : 0xffffu;
		uint32_t need = gn * (4 + params);
		uint32_t nsp = (nesp - need) & smask;
		if (nsp + need - 1 > slimit && !(shi & 0x400))
			return EXC_E(c, EXC_SS, nss & 0xfffc);
		if (toff > desc_limit(tlo, thi))
			return EXC_E(c, EXC_GP, 0);
		/* copy the parameters from the old stack first (may fault) */
		uint32_t old_ss = c->seg[SEG_SS].sel, old_sp = sp_get(c);
		uint32_t pv[32];
		for (unsigned k = 0; k < params; k++) {
			uint32_t v;
			if (gate32) {
				if (rd32(c, SEG_SS, (old_sp + k * 4) & sp_mask(c), &v))
					return -1;
			} else {
				uint16_t w;
				if (rd16(c, SEG_SS, (old_sp + k * 2) & sp_mask(c), &w))
					return -1;
				v = w;
			}
			pv[k] = v;
		}
		uint32_t p = (nesp - gn) & smask;
		if (stack_write(c, sbase, p, old_ss, gate32))
			return -1;
		p = (p - gn) & smask;
		if (stack_write(c, sbase, p, old_sp, gate32))
			return -1;
		for (unsigned k = params; k-- > 0;) {
			p = (p - gn) & smask;
			if (stack_write(c, sbase, p, pv[k], gate32))
				return -1;
		}
		p = (p - gn) & smask;
		if (stack_write(c, sbase, p, c->seg[SEG_CS].sel, gate32))
			return -1;
		p = (p - gn) & smask;
		if (stack_write(c, sbase, p, next_eip, gate32))
			return -1;
		if (set_accessed(c, nss, &shi) || load_cs(c, tsel, tlo, thi, tdpl))
			return -1;
		seg_load_desc(c, SEG_SS, nss, slo, shi);
		sp_set(c, p);
		if (!s32)
			W16(c, 4, (uint16_t)p);
		else
			W32(c, 4, p);
		c->eip = toff;
		return 0;
	}
	/* same privilege through the gate */
	return far_call_same_level(c, tsel, tlo, thi, toff, next_eip, gate32);
}

/* After a return to an outer level: data segments the new CPL may not use
 * become null (SDM vol. 2, RET: "FOR each of segment register (ES, FS, GS,
 * and DS)"). */
static void drop_inner_segments(struct emu_cpu *c)
{
	static const int regs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned k = 0; k < 4; k++) {
		struct emu_seg *sg = &c->seg[regs[k]];
		if (!sg->valid)
			continue;
		bool conforming_code = (sg->attr & 0x18) == 0x18 && (sg->attr & 4);
		int dpl = (sg->attr >> 5) & 3;
		if (!conforming_code && dpl < c->cpl)
			seg_load_null(c, regs[k], 0);
	}
}

int emu_far_ret(struct emu_cpu *c, bool o32, uint16_t imm)
{
	uint32_t n = o32 ? 4 : 2, sp = sp_get(c), mask = sp_mask(c);
	uint32_t eip, cs;
	if (o32) {
		if (rd32(c, SEG_SS, sp, &eip) || rd32(c, SEG_SS, (sp + 4) & mask, &cs))
			return -1;
	} else {
		uint16_t a, b;
		if (rd16(c, SEG_SS, sp, &a) || rd16(c, SEG_SS, (sp + 2) & mask, &b))
			return -1;
		eip = a;
		cs = b;
	}
	cs &= 0xffff;
	if (!c->pmode) {
		emu_seg_set_real(c, SEG_CS, (uint16_t)cs);
		c->eip = eip;
		sp_set(c, sp + 2 * n + imm);
		return 0;
	}
	if ((cs & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t lo, hi;
	if (fetch_desc(c, (uint16_t)cs, &lo, &hi, EXC_GP))
		return -1;
	int rpl = cs & 3;
	if (rpl < c->cpl || !desc_is_code(hi))
		return EXC_E(c, EXC_GP, cs & 0xfffc);
	if ((hi & 0x400) ? desc_dpl(hi) > rpl : desc_dpl(hi) != rpl)
		return EXC_E(c, EXC_GP, cs & 0xfffc);
	if (!(hi & DESC_P))
		return EXC_E(c, EXC_NP, cs & 0xfffc);
	if (rpl == c->cpl) {
		if (eip > desc_limit(lo, hi))
			return EXC_E(c, EXC_GP, 0);
		if (load_cs(c, (uint16_t)cs, lo, hi, c->cpl))
			return -1;
		c->eip = eip;
		sp_set(c, sp + 2 * n + imm);
		return 0;
	}
	/* return to an outer privilege level: SS:ESP follow */
	uint32_t esp, ss;
	uint32_t p = (sp + 2 * n + imm) & mask;
	if (o32) {
		if (rd32(c, SEG_SS, p, &esp) || rd32(c, SEG_SS, (p + 4) & mask, &ss))
			return -1;
	} else {
		uint16_t a, b;
		if (rd16(c, SEG_SS, p, &a) || rd16(c, SEG_SS, (p + 2) & mask, &b))
			return -1;
		esp = a;
		ss = b;
	}
	ss &= 0xffff;
	if ((ss & 0xfffc) == 0)
		return EXC_E(c, EXC_GP, 0);
	uint32_t slo, shi;
	if (fetch_desc(c, (uint16_t)ss, &slo, &shi, EXC_GP))
		return -1;
	if ((int)(ss & 3) != rpl || !desc_is_data(shi) || !(shi & 0x200) || desc_dpl(shi) != rpl)
		return EXC_E(c, EXC_GP, ss & 0xfffc);
	if (!(shi & DESC_P))
		return EXC_E(c, EXC_SS, ss & 0xfffc);
	if (eip > desc_limit(lo, hi))
		return EXC_E(c, EXC_GP, 0);
	if (set_accessed(c, (uint16_t)ss, &shi) || load_cs(c, (uint16_t)cs, lo, hi, rpl))
		return -1;
	seg_load_desc(c, SEG_SS, (uint16_t)ss, slo, shi);
	c->eip = eip;
	if (c->stack32)
		W32(c, 4, esp + imm);
	else
		W16(c, 4, (uint16_t)(esp + imm));
	drop_inner_segments(c);
	return 0;
}

/* ---- task switching (SDM vol. 3, 7.3) ---- */

static void set_tss_busy(struct emu_cpu *c, uint16_t sel, bool busy)
{
	uint32_t lo, hi;
	if (emu_read_descriptor(c, sel, &lo, &hi))
		return;
	hi = busy ? hi | 0x200 : hi & ~0x200u;
	mmu_write_sys(c, c->gdt_base + (sel & ~7u) + 4, 4, hi);
}

int emu_task_switch(struct emu_cpu *c, uint16_t sel, uint32_t lo, uint32_t hi,
		    int reason, uint32_t next_eip)
{
	unsigned type = desc_type(hi);
	bool new32 = (type & 8) != 0;
	if (sel & 4)
		return EXC_E(c, EXC_TS, sel & 0xfffc);
	if (reason == TS_IRET) {
		if (!(type == 3 || type == 11))
			return EXC_E(c, EXC_TS, sel & 0xfffc);
	} else if (!(type == 1 || type == 9)) {
		return EXC_E(c, EXC_GP, sel & 0xfffc);
	}
	if (!(hi & DESC_P))
		return EXC_E(c, EXC_NP, sel & 0xfffc);
	uint32_t nbase = desc_base(lo, hi), nlimit = desc_limit(lo, hi);
	if (nlimit < (new32 ? 0x67u : 0x2bu))
		return EXC_E(c, EXC_TS, sel & 0xfffc);
	if (!c->tr.valid)
		return EXC_E(c, EXC_TS, c->tr.sel & 0xfffc);

	/* Read the whole new TSS first: a fault here leaves the old task. */
	uint32_t t[26] = { 0 };
	if (new32) {
		for (unsigned k = 0; k < 26; k++)
			if (mmu_read_sys(c, nbase + k * 4, 4, &t[k]))
				return -1;
	} else {
		for (unsigned k = 0; k < 22; k++)
			if (mmu_read_sys(c, nbase + k * 2, 2, &t[k]))
				return -1;
	}

	/* Save the current state into the old TSS. */
	uint32_t obase = c->tr.base;
	bool old32 = (c->tr.attr & 8) != 0;
	uint32_t fl = emu_get_eflags(c);
	if (reason == TS_JMP || reason == TS_IRET)
		set_tss_busy(c, c->tr.sel, false);
	if (reason == TS_IRET)
		fl &= ~F_NT;
	if (old32) {
		int r = 0;
		r |= mmu_write_sys(c, obase + 0x20, 4, next_eip);
		r |= mmu_write_sys(c, obase + 0x24, 4, fl);
		for (int k = 0; k < 8; k++)
			r |= mmu_write_sys(c, obase + 0x28 + (uint32_t)k * 4, 4, R32(c, k));
		for (int s = 0; s < 6; s++)
			r |= mmu_write_sys(c, obase + 0x48 + (uint32_t)s * 4, 2, c->seg[s].sel);
		if (r)
			return -1;
	} else {
		int r = 0;
		r |= mmu_write_sys(c, obase + 0x0e, 2, next_eip & 0xffff);
		r |= mmu_write_sys(c, obase + 0x10, 2, fl & 0xffff);
		for (int k = 0; k < 8; k++)
			r |= mmu_write_sys(c, obase + 0x12 + (uint32_t)k * 2, 2, R16(c, k));
		for (int s = 0; s < 4; s++)
			r |= mmu_write_sys(c, obase + 0x22 + (uint32_t)s * 2, 2, c->seg[s].sel);
		if (r)
			return -1;
	}
	if (reason == TS_CALL || reason == TS_INT) {
		if (mmu_write_sys(c, nbase, 2, c->tr.sel))
			return -1;
	}
	if (reason != TS_IRET)
		set_tss_busy(c, sel, true);

	/* Load the new task's state. */
	uint32_t neip, nfl, ncr3 = 0;
	uint32_t regs[8];
	uint16_t sels[6] = { 0 }, ldt;
	if (new32) {
		ncr3 = t[7];
		neip = t[8];
		nfl = t[9];
		for (int k = 0; k < 8; k++)
			regs[k] = t[10 + k];
		for (int s = 0; s < 6; s++)
			sels[s] = (uint16_t)t[18 + s];
		ldt = (uint16_t)t[24];
	} else {
		neip = t[7];
		nfl = t[8] | (fl & 0xffff0000u & ~(F_VM | F_RF));
		for (int k = 0; k < 8; k++)
			regs[k] = (R32(c, k) & 0xffff0000u) | t[9 + k];
		for (int s = 0; s < 4; s++)
			sels[s] = (uint16_t)t[17 + s];
		ldt = (uint16_t)t[21];
	}
	if (reason == TS_CALL || reason == TS_INT)
		nfl |= F_NT;
	c->tr.sel = sel;
	c->tr.base = nbase;
	c->tr.limit = nlimit;
	c->tr.attr = (uint16_t)(((hi >> 8) & 0xf0ff) | 0x200);
	c->tr.valid = true;
	if (new32 && (c->cr0 & CR0_PG) && ncr3 != c->cr3) {
		c->cr3 = ncr3;
		mmu_flush_tlb(c, false);
	}
	c->eip = neip;
	c->fault_keeps_eip = true; /* from here on, faults belong to the new task */
	if (new32 && (t[25] & 1))
		c->db_pending |= 0x8000; /* the T bit: #DB (DR6.BT) before its first insn */
	for (int k = 0; k < 8; k++)
		W32(c, k, regs[k]);
	c->lf_op = LF_NONE;
	c->eflags = (nfl | 2u) & ~0xffc08028u;
	c->cr0 |= CR0_TS;
	/* Selectors are loaded raw first; the descriptor checks below may
	 * fault, and that fault belongs to the new task. */
	for (int s = 0; s < 6; s++)
		c->seg[s].sel = sels[s];
	c->ldtr.sel = ldt;
	bool v86 = (nfl & F_VM) != 0;
	emu_update_mode(c);
	if (v86) {
		for (int s = 0; s < 6; s++)
			emu_seg_set_real(c, s, sels[s]);
		emu_set_cpl(c, 3);
		return 0;
	}
	/* LDT */
	if ((ldt & 0xfffc) == 0) {
		c->ldtr.valid = false;
	} else {
		uint32_t llo, lhi;
		if ((ldt & 4) || emu_read_descriptor(c, ldt & ~4, &llo, &lhi) ||
		    (desc_type(lhi) != 2) || (lhi & DESC_S))
			return EXC_E(c, EXC_TS, ldt & 0xfffc);
		if (!(lhi & DESC_P))
			return EXC_E(c, EXC_TS, ldt & 0xfffc);
		c->ldtr.base = desc_base(llo, lhi);
		c->ldtr.limit = desc_limit(llo, lhi);
		c->ldtr.attr = (uint16_t)((lhi >> 8) & 0xf0ff);
		c->ldtr.valid = true;
	}
	/* CS decides the new CPL */
	uint32_t clo, chi;
	uint16_t cs = sels[SEG_CS];
	if ((cs & 0xfffc) == 0 || emu_read_descriptor(c, cs, &clo, &chi) || !desc_is_code(chi))
		return EXC_E(c, EXC_TS, cs & 0xfffc);
	if ((chi & 0x400) ? desc_dpl(chi) > (cs & 3) : desc_dpl(chi) != (cs & 3))
		return EXC_E(c, EXC_TS, cs & 0xfffc);
	if (!(chi & DESC_P))
		return EXC_E(c, EXC_NP, cs & 0xfffc);
	seg_load_desc(c, SEG_CS, cs, clo, chi);
	emu_set_cpl(c, cs & 3);
	/* SS and the data segments */
	uint32_t slo, shi;
	uint16_t ss = sels[SEG_SS];
	if ((ss & 0xfffc) == 0 || emu_read_descriptor(c, ss, &slo, &shi) ||
	    !desc_is_data(shi) || !(shi & 0x200) || desc_dpl(shi) != c->cpl || (ss & 3) != c->cpl)
		return EXC_E(c, EXC_TS, ss & 0xfffc);
	if (!(shi & DESC_P))
		return EXC_E(c, EXC_SS, ss & 0xfffc);
	seg_load_desc(c, SEG_SS, ss, slo, shi);
	static const int dsegs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned k = 0; k < 4; k++) {
		int s = dsegs[k];
		uint16_t v = sels[s];
		if ((v & 0xfffc) == 0) {
			seg_load_null(c, s, v);
			continue;
		}
		uint32_t dlo, dhi;
		if (emu_read_descriptor(c, v, &dlo, &dhi) || !(dhi & DESC_S) ||
		    (desc_is_code(dhi) && !(dhi & 0x200)))
			return EXC_E(c, EXC_TS, v & 0xfffc);
		bool conf = desc_is_code(dhi) && (dhi & 0x400);
		if (!conf && (desc_dpl(dhi) < c->cpl || desc_dpl(dhi) < (v & 3)))
			return EXC_E(c, EXC_TS, v & 0xfffc);
		if (!(dhi & DESC_P))
			return EXC_E(c, EXC_NP, v & 0xfffc);
		seg_load_desc(c, s, v, dlo, dhi);
	}
	if (c->eip > c->seg[SEG_CS].limit)
		return EXC_E(c, EXC_GP, 0);
	return 0;
}

/*
 * Memory management of the software CPU: segment limit and type checks
 * (SDM vol. 3, 5.3-5.4), 32-bit paging with 4 KiB and 4 MiB pages, accessed
 * and dirty bits, CR0.WP and page-fault error codes (SDM vol. 3, 4.3 and
 * 4.7), and the software TLB that caches host pointers for linear pages.
 *
 * A TLB entry gets a read tag when the page may be read at the privilege
 * the TLB serves and the physical page is plain host memory; it gets a
 * write tag only when, in addition, the page may be written, its dirty bit
 * is already set, and it holds no decoded code. Everything else takes the
 * slow path here, which does the full check and the access through mem.c.
 */
#include "emu.h"
#include "../../mem.h"
#include "../../vm.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PTE_PS 0x080u
#define PTE_G 0x100u

#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_RSVD 0x08u

static uint8_t *ram_ptr(struct emu_cpu *c, uint32_t pa, unsigned len)
{
	return mem_ram_ptr(c->vm->mem, pa, len);
}

uint32_t mmu_phys_read32(struct emu_cpu *c, uint32_t pa)
{
	pa &= c->a20_mask;
	uint8_t *p = ram_ptr(c, pa, 4);
	if (p) {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	return (uint32_t)mem_read(c->vm->mem, pa, 4);
}

void mmu_phys_write32(struct emu_cpu *c, uint32_t pa, uint32_t v)
{
	pa &= c->a20_mask;
	uint8_t *p = ram_ptr(c, pa, 4);
	if (p) {
		emu_code_write(c, pa, 4);
		memcpy(p, &v, 4);
		return;
	}
	mem_write(c->vm->mem, pa, v, 4);
}

static int page_fault(struct emu_cpu *c, uint32_t lin, uint32_t err)
{
	c->cr2 = lin;
	return EXC_E(c, EXC_PF, err);
}

/*
 * The page walk. Sets accessed (and, for writes, dirty) bits as the
 * hardware does, only when the access is allowed. *writable tells whether
 * a later write at the same privilege would be allowed without a fault and
 * without setting a dirty bit (so the TLB may take writes directly).
 */
static int walk(struct emu_cpu *c, uint32_t lin, bool write, bool user,
		uint32_t *phys, bool *writable, bool *global)
{
	uint32_t pde_addr = (c->cr3 & 0xfffff000u) + ((lin >> 22) << 2);
	uint32_t pde = mmu_phys_read32(c, pde_addr);
	uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0);
	if (!(pde & PTE_P))
		return page_fault(c, lin, err);
	bool wp = c->cr0 & CR0_WP;
	if ((pde & PTE_PS) && (c->cr4 & CR4_PSE)) {
		/* 4 MiB page; bits 13-21 must be zero without PSE-36 */
		if (pde & 0x003fe000u)
			return page_fault(c, lin, err | PF_P | PF_RSVD);
		bool ok_u = !user || (pde & PTE_U);
		bool ok_w = !write || (pde & PTE_W) || (!user && !wp);
		if (!ok_u || !ok_w)
			return page_fault(c, lin, err | PF_P);
		uint32_t npde = pde | PTE_A | (write ? PTE_D : 0);
		if (npde != pde)
			mmu_phys_write32(c, pde_addr, npde);
		*phys = (pde & 0xffc00000u) | (lin & 0x003fffffu);
		*writable = (npde & PTE_D) && (user ? (pde & PTE_W) && (pde & PTE_U)
						    : (pde & PTE_W) || !wp);
		*global = (pde & PTE_G) && (c->cr4 & CR4_PGE);
		return 0;
	}
	uint32_t pte_addr = (pde & 0xfffff000u) + (((lin >> 12) & 0x3ff) << 2);
	uint32_t pte = mmu_phys_read32(c, pte_addr);
	if (!(pte & PTE_P))
		return page_fault(c, lin, err);
	uint32_t both = pde & pte;
	bool ok_u = !user || (both & PTE_U);
	bool ok_w = !write || (user ? (both & PTE_W) : ((both & PTE_W) || !wp));
	if (!ok_u || !ok_w)
		return page_fault(c, lin, err | PF_P);
	if (!(pde & PTE_A))
		mmu_phys_write32(c, pde_addr, pde | PTE_A);
	uint32_t npte = pte | PTE_A | (write ? PTE_D : 0);
	if (npte != pte)
		mmu_phys_write32(c, pte_addr, npte);
	*phys = (pte & 0xfffff000u) | (lin & 0xfff);
	*writable = (npte & PTE_D) &&
		    (user ? (both & PTE_W) && (both & PTE_U) : (both & PTE_W) || !wp);
	*global = (pte & PTE_G) && (c->cr4 & CR4_PGE);
	return 0;
}

int mmu_translate(struct emu_cpu *c, uint32_t lin, bool write, bool user, bool fetch,
		  uint32_t *phys)
{
	(void)fetch;
	if (!(c->cr0 & CR0_PG)) {
		*phys = lin & c->a20_mask;
		return 0;
	}
	bool w, g;
	if (walk(c, lin, write, user, phys, &w, &g))
		return -1;
	*phys &= c->a20_mask;
	return 0;
}

/* The region holding a physical page, with a one-entry cache (the same
 * RAM region serves nearly every fill). */
static const struct mem_region *page_region(struct emu_cpu *c, uint32_t page)
{
	const struct mem_region *r = c->last_region;
	uint64_t gen = mem_generation(c->vm->mem);
	if (r && c->last_region_gen == gen && r->base <= page && page - r->base < r->size)
		return r;
	r = mem_find(c->vm->mem, page);
	c->last_region = r;
	c->last_region_gen = gen;
	return r;
}

/* Fills the current TLB's read or write entry for lin after a walk for
 * that access. */
static int tlb_fill(struct emu_cpu *c, uint32_t lin, bool write, uint32_t *phys_out)
{
	bool user = is_user_access(c);
	uint32_t phys;
	bool writable = true, global = false;
	if (c->cr0 & CR0_PG) {
		if (walk(c, lin, write, user, &phys, &writable, &global))
			return -1;
	} else {
		phys = lin;
	}
	phys &= c->a20_mask;
	*phys_out = phys;
	uint32_t page = phys & ~0xfffu, lpage = lin & ~0xfffu;
	struct tlb_entry *e = &emu_tlb(c, write)[(lin >> 12) & TLB_MASK];
	e->tag = TLB_INVALID;
	e->phys = page;
	(&c->tlb_global[0][0][0])[e - &c->tlbs[0][0][0]] = global;
	const struct mem_region *r = page_region(c, page);
	if (!r || r->base > page || page - r->base > r->size - 0x1000)
		return 0; /* not a whole page of one region: slow path only */
	if (!write) {
		if (r->rd) {
			e->add = (uintptr_t)(r->rd + (page - r->base)) - lpage;
			e->tag = lpage;
		}
	} else if (r->wr && writable) {
		e->add = (uintptr_t)(r->wr + (page - r->base)) - lpage;
		e->tag = lpage | (emu_page_has_code(c, page) ? TLB_CODE : 0);
	}
	return 0;
}

int mmu_fill(struct emu_cpu *c, uint32_t lin, bool write)
{
	uint32_t phys;
	return tlb_fill(c, lin, write, &phys);
}

void mmu_mark_code_page(struct emu_cpu *c, uint32_t page, bool code)
{
	for (int u = 0; u < 2; u++) {
		struct tlb_entry *t = c->tlbs[u][1];
		for (unsigned k = 0; k < TLB_SIZE; k++) {
			if (t[k].phys != page || (t[k].tag & TLB_INVALID))
				continue;
			t[k].tag = code ? t[k].tag | TLB_CODE : t[k].tag & ~TLB_CODE;
		}
	}
}

void mmu_flush_tlb(struct emu_cpu *c, bool include_global)
{
	emu_new_map_gen(c);
	struct tlb_entry *t = &c->tlbs[0][0][0];
	const bool *global = &c->tlb_global[0][0][0];
	for (unsigned i = 0; i < 4 * TLB_SIZE; i++)
		if (include_global || !global[i])
			t[i].tag = TLB_INVALID;
}

void mmu_flush_page(struct emu_cpu *c, uint32_t lin)
{
	emu_new_map_gen(c);
	unsigned i = (lin >> 12) & TLB_MASK;
	for (int u = 0; u < 2; u++)
		for (int w = 0; w < 2; w++)
			c->tlbs[u][w][i].tag = TLB_INVALID;
}

/* One access within a page, after the fast path missed. */
static int read_in_page(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t *val)
{
	uint32_t phys;
	if (tlb_fill(c, lin, false, &phys))
		return -1;
	const struct tlb_entry *e = &emu_tlb(c, false)[(lin >> 12) & TLB_MASK];
	if (e->tag == (lin & ~0xfffu)) {
		*val = 0;
		memcpy(val, (const void *)(e->add + lin), size);
		return 0;
	}
	*val = (uint32_t)mem_read(c->vm->mem, phys, size);
	return 0;
}

/* Data breakpoints (SDM vol. 3, 17.2.4-17.2.5): DR0-3 whose DR7 R/W field
 * matches the access and whose range overlaps it set their DR6 bit for the
 * #DB trap that follows the instruction. */
static void data_breakpoints(struct emu_cpu *c, uint32_t lin, unsigned size, bool write)
{
	uint32_t dr7 = c->dr[7];
	for (int n = 0; n < 4; n++) {
		if (!((dr7 >> (2 * n)) & 3))
			continue;
		unsigned rw = (dr7 >> (16 + 4 * n)) & 3, len = (dr7 >> (18 + 4 * n)) & 3;
		if (rw == 0 || rw == 2 || (rw == 1 && !write))
			continue;
		uint32_t bl = len == 0 ? 1 : len == 1 ? 2 : len == 3 ? 4 : 8;
		uint32_t ba = c->dr[n] & ~(bl - 1);
		if (lin < ba + bl && ba < lin + size)
			c->db_pending |= 1u << n;
	}
}

/* Checks a data access must pass whatever the TLB says. */
static int access_checks(struct emu_cpu *c, uint32_t lin, unsigned size, bool write)
{
	if (c->ac_check && (lin & (size - 1)))
		return EXC_E(c, EXC_AC, 0);
	if (c->debug_data)
		data_breakpoints(c, lin, size, write);
	return 0;
}

int mmu_read_slow(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t *val)
{
	if (access_checks(c, lin, size, false))
		return -1;
	if ((lin & 0xfff) + size <= 0x1000)
		return read_in_page(c, lin, size, val);
	/* Crosses a page: both pages must be readable before anything. */
	uint32_t v = 0;
	for (unsigned k = 0; k < size; k++) {
		uint32_t b;
		if (read_in_page(c, lin + k, 1, &b))
			return -1;
		v |= (b & 0xff) << (8 * k);
	}
	*val = v;
	return 0;
}

/* A store into a page that holds decoded code: drop the traces made from
 * the bytes it changes (if any), then store. */
static void code_page_store(struct emu_cpu *c, struct tlb_entry *e, uint32_t lin,
			    unsigned size, uint32_t val)
{
	uint32_t phys = e->phys | (lin & 0xfff);
	emu_code_write(c, phys, size);
	memcpy((void *)(e->add + lin), &val, size);
}

static int write_in_page(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t val)
{
	uint32_t lpage = lin & ~0xfffu;
	struct tlb_entry *e = &emu_tlb(c, true)[(lin >> 12) & TLB_MASK];
	if (e->tag == (lpage | TLB_CODE)) {
		code_page_store(c, e, lin, size, val);
		return 0;
	}
	uint32_t phys;
	if (tlb_fill(c, lin, true, &phys))
		return -1;
	if (e->tag == lpage) {
		memcpy((void *)(e->add + lin), &val, size);
		return 0;
	}
	if (e->tag == (lpage | TLB_CODE)) {
		code_page_store(c, e, lin, size, val);
		return 0;
	}
	/* Through mem.c: MMIO, or ROM (dropped). */
	mem_write(c->vm->mem, phys, val, size);
	return 0;
}

int mmu_write_slow(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t val)
{
	if (access_checks(c, lin, size, true))
		return -1;
	if ((lin & 0xfff) + size <= 0x1000)
		return write_in_page(c, lin, size, val);
	/* Crossing a page: check the second page first so a fault there
	 * leaves the first untouched. */
	uint32_t split = 0x1000 - (lin & 0xfff);
	uint32_t phys;
	if (c->cr0 & CR0_PG) {
		if (mmu_translate(c, lin, true, is_user_access(c), false, &phys) ||
		    mmu_translate(c, lin + split, true, is_user_access(c), false, &phys))
			return -1;
	}
	for (unsigned k = 0; k < size; k++)
		if (write_in_page(c, lin + k, 1, (val >> (8 * k)) & 0xff))
			return -1;
	return 0;
}

int mmu_read_sys(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t *val)
{
	uint32_t v = 0;
	for (unsigned k = 0; k < size;) {
		uint32_t phys;
		unsigned n = 0x1000 - ((lin + k) & 0xfff);
		if (n > size - k)
			n = size - k;
		if (mmu_translate(c, lin + k, false, false, false, &phys))
			return -1;
		v |= (uint32_t)(mem_read(c->vm->mem, phys, n) << (8 * k));
		k += n;
	}
	*val = v;
	return 0;
}

int mmu_write_sys(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t val)
{
	for (unsigned k = 0; k < size;) {
		uint32_t phys;
		unsigned n = 0x1000 - ((lin + k) & 0xfff);
		if (n > size - k)
			n = size - k;
		if (mmu_translate(c, lin + k, true, false, false, &phys))
			return -1;
		mem_write(c->vm->mem, phys, (val >> (8 * k)) & (n == 4 ? 0xffffffffu : (1u << (8 * n)) - 1), n);
		k += n;
	}
	return 0;
}

const uint8_t *mmu_code_ptr(struct emu_cpu *c, uint32_t lin, uint32_t *phys, int *err)
{
	*err = 0;
	/* fill the TLB entry as a read would, so the next lookup of this page
	 * is the fast one */
	if (tlb_fill(c, lin, false, phys)) {
		*err = -1;
		return NULL;
	}
	const struct tlb_entry *e = &emu_tlb(c, false)[(lin >> 12) & TLB_MASK];
	if (e->tag != (lin & ~0xfffu))
		return NULL;
	return (const uint8_t *)(e->add + lin);
}

int seg_check_slow(struct emu_cpu *c, int s, uint32_t off, unsigned size, bool write)
{
	const struct emu_seg *sg = &c->seg[s];
	int vec = s == SEG_SS ? EXC_SS : EXC_GP;
	if (c->pmode) {
		if (!sg->valid)
			return EXC_E(c, vec, 0);
		unsigned type = sg->attr & 0xf;
		if (type & 8) { /* code */
			if (write || !(type & 2))
				return EXC_E(c, EXC_GP, 0);
		} else if (write && !(type & 2)) {
			return EXC_E(c, vec, 0);
		}
	}
	uint64_t last = (uint64_t)off + size - 1;
	unsigned type = sg->attr & 0xf;
	if (!(type & 8) && (type & 4)) {
		/* expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff */
		uint64_t upper = (sg->attr & X86_SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
		if ((uint64_t)off <= sg->limit || last > upper)
			return EXC_E(c, vec, 0);
		return 0;
	}
	if (last > sg->limit)
		return EXC_E(c, vec, 0);
	return 0;
}

int emu_probe_write(struct emu_cpu *c, int s, uint32_t off, unsigned size)
{
	if ((int64_t)off + size - 1 > c->seg[s].wlim && seg_check_slow(c, s, off, size, true))
		return -1;
	if (!(c->cr0 & CR0_PG))
		return 0;
	uint32_t lin = c->seg[s].base + off, phys;
	if (mmu_translate(c, lin, true, is_user_access(c), false, &phys))
		return -1;
	if (((lin & 0xfff) + size > 0x1000) &&
	    mmu_translate(c, (lin | 0xfff) + 1, true, is_user_access(c), false, &phys))
		return -1;
	return 0;
}

/*
 * The software CPU as a pcvm backend (vcpu.h): creation, the power-on
 * state (Intel SDM vol. 3, 9.1 "Initialization Overview"), running up to a
 * deadline, interrupts and the state interface; and the decoded-code cache:
 * traces looked up by physical address, built by the decoder, dropped when
 * their bytes are written (self-modifying code, DMA) or the memory map
 * changes.
 */
#include "emu.h"
#include "insn.h"
#include "trace.h"
#include "jit.h"
#include "../../clock.h"
#include "../../log.h"
#include "../../mem.h"
#include "../../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

/* ---------------- code pages ---------------- */

/* A physical page that traces were decoded from. chunks has a bit per
 * 64-byte piece that some trace's bytes cover, so a store next to code (as
 * firmware keeps its variables) costs a bitmap test, not the page's traces. */
struct code_page {
	uint32_t page;
	uint64_t chunks;
	struct trace *traces;
	struct code_page *next;
};

#define CODE_BUCKETS 4096

static unsigned code_bucket(uint32_t page) { return (page >> 12) & (CODE_BUCKETS - 1); }

static struct code_page *code_page_find(struct emu_cpu *c, uint32_t page)
{
	for (struct code_page *p = c->code_pages[code_bucket(page)].next; p; p = p->next)
		if (p->page == page)
			return p;
	return NULL;
}

bool emu_page_has_code(struct emu_cpu *c, uint32_t page)
{
	return code_page_find(c, page) != NULL;
}

/* Bits of the 64-byte chunks that [off, off+len) of a page touches. */
static uint64_t chunk_mask(uint32_t off, uint32_t len)
{
	uint32_t first = off >> 6, last = (off + len - 1) >> 6;
	uint64_t hi = last >= 63 ? ~0ull : (2ull << last) - 1;
	return hi & ~((1ull << first) - 1);
}

static struct code_page *code_page_add(struct emu_cpu *c, uint32_t page)
{
	struct code_page *p = code_page_find(c, page);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->page = page;
	struct code_page *head = &c->code_pages[code_bucket(page)];
	p->next = head->next;
	head->next = p;
	mmu_mark_code_page(c, page, true);
	return p;
}

static void unlink_trace(struct emu_cpu *c, struct trace *t)
{
	struct trace **pp = &c->hash[trace_hash(t->key)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	t->valid = false;
	t->native_body = NULL; /* translated code chains only to valid traces */
}

/* The running trace was just invalidated: send its remaining instructions
 * to the exit that re-decodes. */
static void abort_current_trace(struct emu_cpu *c)
{
	struct trace *t = c->cur_trace;
	if (!t)
		return;
	for (unsigned k = 0; k <= t->ninsn; k++)
		t->insn[k].h = c->smc_exit_handler;
}

static void free_code_page(struct emu_cpu *c, struct code_page *cp)
{
	struct code_page **pp = &c->code_pages[code_bucket(cp->page)].next;
	while (*pp != cp)
		pp = &(*pp)->next;
	*pp = cp->next;
	mmu_mark_code_page(c, cp->page, false);
	free(cp);
}

/* Drops the traces of page cp made from any byte of [off, off+len). */
static void drop_range(struct emu_cpu *c, struct code_page *cp, uint32_t off, uint32_t len)
{
	uint64_t keep = 0;
	struct trace **pp = &cp->traces;
	while (*pp) {
		struct trace *t = *pp;
		uint32_t toff = (uint32_t)(t->key >> 1) & 0xfff;
		if (toff < off + len && off < toff + t->nbytes) {
			if (t == c->cur_trace)
				abort_current_trace(c);
			unlink_trace(c, t);
			*pp = t->pnext;
			c->stat_smc++;
		} else {
			keep |= chunk_mask(toff, t->nbytes);
			pp = &t->pnext;
		}
	}
	cp->chunks = keep;
	if (!cp->traces)
		free_code_page(c, cp);
}

void emu_code_write(struct emu_cpu *c, uint32_t phys, uint32_t len)
{
	while (len) {
		uint32_t off = phys & 0xfff;
		uint32_t n = 0x1000 - off < len ? 0x1000 - off : len;
		struct code_page *cp = code_page_find(c, phys & ~0xfffu);
		if (cp && (cp->chunks & chunk_mask(off, n)))
			drop_range(c, cp, off, n);
		phys += n;
		len -= n;
	}
}

static void dma_write_hook(void *opaque, uint64_t addr, uint64_t len)
{
	struct emu_cpu *c = opaque;
	if (addr >> 32 || !len)
		return;
	if (len > 0x100000000ull - addr)
		len = 0x100000000ull - addr;
	emu_code_write(c, (uint32_t)addr, (uint32_t)len);
}

void emu_flush_traces(struct emu_cpu *c)
{
	if (c->cur_trace)
		abort_current_trace(c);
	memset(c->hash, 0, sizeof(struct trace *) << TRACE_HASH_BITS);
	memset(c->ibtc, 0, sizeof c->ibtc);
	for (unsigned b = 0; b < CODE_BUCKETS; b++) {
		struct code_page *p = c->code_pages[b].next;
		while (p) {
			struct code_page *n = p->next;
			free(p);
			p = n;
		}
		c->code_pages[b].next = NULL;
	}
	c->arena_used = 0;
	jit_reset(c);
	c->cur_trace = NULL;
	c->chain_slot = NULL;
	emu_new_map_gen(c);
	c->stat_flushes++;
	mmu_flush_tlb(c, true);
}

void emu_new_map_gen(struct emu_cpu *c)
{
	if (++c->map_gen == 0) {
		/* wrapped: no remembered exit may match by accident */
		c->map_gen = 1;
		c->flush_pending = true;
		c->exit_request = 1;
	}
}

static void mem_changed(void *opaque)
{
	struct emu_cpu *c = opaque;
	c->flush_pending = true;
	c->exit_request = 1;
}

/* ---------------- building traces ---------------- */

static struct trace *arena_alloc(struct emu_cpu *c, unsigned ninsn)
{
	size_t need = sizeof(struct trace) + (ninsn + 1) * sizeof(struct insn);
	need = (need + 15) & ~(size_t)15;
	if (c->arena_used + need > TRACE_ARENA_SIZE)
		return NULL;
	struct trace *t = (struct trace *)(c->arena + c->arena_used);
	c->arena_used += need;
	return t;
}

static void finish_insn(struct emu_cpu *c, struct insn *in, unsigned idx, unsigned ofs)
{
	in->h = emu_exec_labels()[in->hid];
	in->idx = (uint8_t)idx;
	in->ofs = (uint16_t)ofs;
	(void)c;
}

static void set_end(struct insn *in, unsigned idx, unsigned ofs)
{
	memset(in, 0, sizeof(*in));
	in->hid = H_END;
	in->h = emu_exec_labels()[H_END];
	in->idx = (uint8_t)idx;
	in->ofs = (uint16_t)ofs;
}

/* One instruction, decoded from bytes fetched through the MMU (it may span
 * two pages or sit in memory that is not plain RAM): a trace of its own that
 * is not cached. */
static struct trace *single_insn_trace(struct emu_cpu *c, uint32_t lin)
{
	struct trace *t = (struct trace *)c->step_buf;
	uint8_t buf[16] = { 0 };
	unsigned got = 0;
	int err = 0;
	/* no byte past CS's limit is fetched: an instruction reaching past it
	 * is #GP(0) (SDM vol. 3, 5.3), before any page fault beyond it */
	uint64_t left = (uint64_t)c->seg[SEG_CS].limit - c->eip + 1;
	unsigned maxb = left < 15 ? (unsigned)left : 15;
	while (got < maxb) {
		uint32_t phys;
		uint32_t a = lin + got;
		if (mmu_translate(c, a, false, is_user_access(c), true, &phys)) {
			err = -1;
			break;
		}
		unsigned chunk = 0x1000 - (a & 0xfff);
		if (chunk > maxb - got)
			chunk = maxb - got;
		mem_read_bytes(c->vm->mem, phys, buf + got, chunk);
		got += chunk;
	}
	struct insn *in = &t->insn[0];
	int r = emu_decode(buf, got, c->code32, in);
	if (r == DEC_MORE && err) {
		/* the instruction runs into a page that faults: the fetch
		 * fault is raised now (mmu_translate recorded it) */
		emu_deliver_exception(c);
		return NULL;
	}
	if (r != DEC_OK) {
		emu_exc(c, EXC_GP, 0, true);
		emu_deliver_exception(c);
		return NULL;
	}
	c->exc_vec = 0;
	finish_insn(c, in, 0, 0);
	set_end(&t->insn[1], 1, in->len);
	t->ninsn = 1;
	t->nbytes = in->len;
	t->valid = true;
	t->cached = false;
	memset(t->exit, 0, sizeof(t->exit));
	t->key = 0;
	return t;
}

static struct trace *build_trace(struct emu_cpu *c, uint32_t lin, uint32_t phys,
				 const uint8_t *code, uint64_t key)
{
	struct insn tmp[TRACE_MAX_INSNS];
	unsigned off = 0, n = 0;
	unsigned avail = 0x1000 - (lin & 0xfff);
	/* stay within CS's limit, so no instruction past it is ever run */
	uint64_t lim_left = (uint64_t)c->seg[SEG_CS].limit - c->eip + 1;
	if (avail > lim_left)
		avail = (unsigned)lim_left;
	while (n < TRACE_MAX_INSNS && off < avail) {
		struct insn *in = &tmp[n];
		int r = emu_decode(code + off, avail - off, c->code32, in);
		if (r != DEC_OK)
			break; /* runs past the page or the limit: next trace */
		finish_insn(c, in, n, off);
		off += in->len;
		n++;
		if (emu_insn_ends_trace(in))
			break;
	}
	if (!n)
		return NULL;
	struct trace *t = arena_alloc(c, n);
	if (!t) {
		emu_flush_traces(c);
		t = arena_alloc(c, n);
		if (!t)
			return NULL;
	}
	memcpy(t->insn, tmp, n * sizeof(struct insn));
	set_end(&t->insn[n], n, off);
	memset(t->exit, 0, sizeof(t->exit));
	t->hits = 0;
	t->native = NULL;
	t->native_body = NULL;
	t->first_h = t->insn[0].h;
	if (c->jit_threshold)
		t->insn[0].h = c->jit_count_handler;
	t->key = key;
	t->ninsn = (uint16_t)n;
	t->nbytes = (uint16_t)off;
	t->valid = true;
	t->cached = true;
	struct code_page *p = code_page_add(c, phys & ~0xfffu);
	if (!p)
		return NULL;
	t->pnext = p->traces;
	p->traces = t;
	p->chunks |= chunk_mask(phys & 0xfff, off);
	unsigned h = trace_hash(key);
	t->hnext = c->hash[h];
	c->hash[h] = t;
	c->stat_traces_built++;
	return t;
}

/* ---------------- interrupts between traces ---------------- */

static bool deliver_pending(struct emu_cpu *c)
{
	if (c->intr_shadow)
		return false;
	if (c->nmi_pending && !c->nmi_blocked) {
		c->nmi_pending = false;
		c->nmi_blocked = true;
		c->halted = false;
		if (emu_interrupt(c, EXC_NMI, INT_EXT, 0, false, c->eip))
			emu_deliver_exception(c);
		return true;
	}
	if (c->intr_line && (c->eflags & F_IF)) {
		int vec = vm_intr_ack(c->vm);
		if (vec < 0)
			return false;
		c->halted = false;
		if (emu_interrupt(c, vec & 0xff, INT_EXT, 0, false, c->eip))
			emu_deliver_exception(c);
		return true;
	}
	return false;
}

void emu_trace_after_exception(struct emu_cpu *c)
{
	c->stepping = false;
	c->intr_shadow = 0;
	c->db_pending = 0; /* a faulting instruction completes no trap */
}

/* Instruction breakpoints at lin (SDM vol. 3, 17.2.4): DR6 bits of the
 * enabled DR0-3 with R/W 00 at that address. */
static uint32_t exec_breakpoints(const struct emu_cpu *c, uint32_t lin)
{
	uint32_t hit = 0, dr7 = c->dr[7];
	for (int n = 0; n < 4; n++)
		if (((dr7 >> (2 * n)) & 3) && !((dr7 >> (16 + 4 * n)) & 3) && c->dr[n] == lin)
			hit |= 1u << n;
	return hit;
}

static void debug_trap(struct emu_cpu *c, uint32_t dr6_bits)
{
	c->dr[6] |= dr6_bits;
	if (emu_interrupt(c, EXC_DB, INT_EXC, 0, false, c->eip))
		emu_deliver_exception(c);
}

struct trace *emu_trace_for_eip(struct emu_cpu *c)
{
	if (c->stepping) {
		/* the single-stepped instruction completed */
		c->stepping = false;
		c->intr_shadow = 0;
		c->eflags &= ~F_RF;
		if (c->step_tf)
			c->db_pending |= 0x4000; /* BS */
	}
	if (c->db_pending) {
		uint32_t bits = c->db_pending;
		c->db_pending = 0;
		debug_trap(c, bits);
		return NULL;
	}
	if (c->flush_pending) {
		c->flush_pending = false;
		emu_flush_traces(c);
	}
	if (unlikely(c->intr_line || c->nmi_pending) && deliver_pending(c))
		return NULL;
	if (c->eip > c->seg[SEG_CS].limit) {
		emu_exc(c, EXC_GP, 0, true);
		emu_deliver_exception(c);
		return NULL;
	}
	uint32_t lin = c->seg[SEG_CS].base + c->eip;
	if (unlikely(c->log_traces))
		log_trace("emu: %04x:%08x (linear %08x) icount %llu", c->seg[SEG_CS].sel, c->eip,
			  lin, (unsigned long long)emu_icount_now(c));
	bool step = c->intr_shadow || (c->eflags & F_TF) || c->debug_exec || c->debug_data;
	if (unlikely(step)) {
		if (c->debug_exec && !(c->eflags & F_RF)) {
			uint32_t hit = exec_breakpoints(c, lin);
			if (hit) { /* a fault: EIP stays on the instruction */
				c->dr[6] |= hit;
				emu_exc(c, EXC_DB, 0, false);
				emu_deliver_exception(c);
				return NULL;
			}
		}
		c->step_tf = (c->eflags & F_TF) != 0;
		struct trace *t = single_insn_trace(c, lin);
		if (t)
			c->stepping = true;
		return t;
	}
	uint32_t phys;
	const struct tlb_entry *e = &c->tlb_r[(lin >> 12) & TLB_MASK];
	if (likely(e->tag == (lin & ~0xfffu))) {
		phys = e->phys | (lin & 0xfff);
	} else {
		int err;
		const uint8_t *p = mmu_code_ptr(c, lin, &phys, &err);
		if (err) {
			emu_deliver_exception(c);
			return NULL;
		}
		if (!p) /* code outside plain memory: one instruction at a time */
			return single_insn_trace(c, lin);
	}
	uint64_t key = ((uint64_t)phys << 1) | c->code32;
	for (struct trace *t = c->hash[trace_hash(key)]; t; t = t->hnext) {
		if (t->key == key) {
			if (likely((uint64_t)c->eip + t->nbytes - 1 <= c->seg[SEG_CS].limit))
				return t;
			break;
		}
	}
	int err;
	const uint8_t *p = mmu_code_ptr(c, lin, &phys, &err);
	if (err) {
		emu_deliver_exception(c);
		return NULL;
	}
	if (!p)
		return single_insn_trace(c, lin);
	if (unlikely(c->watch_fn) && phys == c->watch_phys) {
		void (*fn)(void *) = c->watch_fn;
		c->watch_fn = NULL;
		fn(c->watch_opaque);
	}
	struct trace *t = build_trace(c, lin, phys, p, key);
	if (!t) /* first instruction crosses the page (or the limit) */
		return single_insn_trace(c, lin);
	/* a trace cut short by CS's limit stays short; every entry checks that
	 * it fits the CS limit of the moment, and chained exits rely on that */
	return t;
}

/* ---------------- vcpu_ops ---------------- */

static struct emu_cpu *to_emu(struct vcpu *v) { return (struct emu_cpu *)v; }

static void emu_power_on(struct emu_cpu *c)
{
	memset(c->r, 0, sizeof(c->r));
	c->r[2] = 0x00000652u; /* EDX: the CPUID signature */
	c->eip = 0xfff0;
	c->eflags = 2;
	c->lf_op = LF_NONE;
	c->cr0 = 0x60000010u;
	c->cr2 = c->cr3 = c->cr4 = 0;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = 0xffff0ff0u;
	c->dr[7] = 0x400;
	for (int s = 0; s < 6; s++)
		c->seg[s] = (struct emu_seg){ .base = 0, .limit = 0xffff, .sel = 0, .attr = 0x93,
					      .valid = true };
	c->seg[SEG_CS] = (struct emu_seg){ .base = 0xffff0000u, .limit = 0xffff, .sel = 0xf000,
					   .attr = 0x9b, .valid = true };
	c->gdt_base = c->idt_base = 0;
	c->gdt_limit = c->idt_limit = 0xffff;
	c->ldtr = (struct emu_seg){ .limit = 0xffff, .attr = 0x82, .valid = false };
	c->tr = (struct emu_seg){ .limit = 0xffff, .attr = 0x8b, .valid = true };
	c->efer = 0;
	memset(&c->msr, 0, sizeof(c->msr));
	c->msr.pat = 0x0007040600070406ull;
	c->tsc_offset = 0;
	c->intr_shadow = 0;
	c->nmi_pending = c->nmi_blocked = false;
	c->halted = c->shutdown = false;
	c->stepping = false;
	c->db_pending = 0;
	c->debug_exec = c->debug_data = false;
	c->cpl = 0;
	fpu_reset(&c->fpu);
	c->mxcsr = 0x1f80;
	emu_update_mode(c);
	mmu_flush_tlb(c, true);
}

static uint64_t icount_cb(void *opaque)
{
	struct emu_cpu *c = opaque;
	return emu_icount_now(c) + c->icount_offset;
}

static int emu_create(struct vm *vm, struct vcpu **out)
{
	struct emu_cpu *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vcpu.ops = &emu_vcpu_ops;
	c->vcpu.vm = vm;
	c->vm = vm;
	c->hash = calloc((size_t)1 << TRACE_HASH_BITS, sizeof(struct trace *));
	c->code_pages = calloc(CODE_BUCKETS, sizeof(struct code_page));
	c->arena = mmap(NULL, TRACE_ARENA_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	c->step_buf = calloc(1, sizeof(struct trace) + 2 * sizeof(struct insn));
	if (!c->hash || !c->code_pages || c->arena == MAP_FAILED || !c->step_buf) {
		if (c->arena != MAP_FAILED && c->arena)
			munmap(c->arena, TRACE_ARENA_SIZE);
		free(c->hash);
		free(c->code_pages);
		free(c->step_buf);
		free(c);
		return -ENOMEM;
	}
	c->a20_mask = 0xffffffffu;
	c->left = INT64_MAX;
	c->icount_end = INT64_MAX;
	c->map_gen = 1;
	for (unsigned k = 0; k < 2 * TLB_SIZE; k++)
		c->tlb_dummy[k].tag = TLB_INVALID;
	c->log_traces = log_enabled(LOG_TRACE);
	jit_init(c);
	emu_exec_labels();
	mem_add_listener(vm->mem, mem_changed, c);
	mem_set_write_hook(vm->mem, dma_write_hook, c);
	if (clock_get_mode(vm->clock) == CLOCK_MODE_ICOUNT)
		clock_set_icount_source(vm->clock, icount_cb, c, clock_ns_per_insn(vm->clock));
	emu_power_on(c);
	*out = &c->vcpu;
	return 0;
}

static void emu_destroy(struct vcpu *v)
{
	struct emu_cpu *c = to_emu(v);
	emu_flush_traces(c);
	jit_destroy(c);
	/* the machine may live on with another backend */
	mem_remove_listener(c->vm->mem, mem_changed, c);
	if (c->vm->mem)
		mem_set_write_hook(c->vm->mem, NULL, NULL);
	munmap(c->arena, TRACE_ARENA_SIZE);
	free(c->hash);
	free(c->code_pages);
	free(c->step_buf);
	free(c);
}

static void emu_reset(struct vcpu *v)
{
	struct emu_cpu *c = to_emu(v);
	emu_power_on(c);
	c->a20_mask = 0xffffffffu;
	emu_flush_traces(c);
}

static bool interrupt_deliverable(const struct emu_cpu *c)
{
	return (c->nmi_pending && !c->nmi_blocked) || (c->intr_line && (c->eflags & F_IF));
}

static enum vcpu_exit emu_run(struct vcpu *v, uint64_t deadline)
{
	struct emu_cpu *c = to_emu(v);
	struct clock *clk = c->vm->clock;
	if (c->shutdown) {
		c->shutdown = false;
		return VCPU_EXIT_SHUTDOWN;
	}
	uint64_t budget = INT64_MAX; /* instructions to run at most */
	if (clock_get_mode(clk) == CLOCK_MODE_ICOUNT) {
		uint64_t now = clock_now(clk), per = clock_ns_per_insn(clk);
		budget = deadline == CLOCK_NEVER ? budget
			 : (deadline > now ? (deadline - now + per - 1) / per : 1);
	}
	uint64_t done = emu_icount_now(c);
	c->left = budget > INT64_MAX ? INT64_MAX : (int64_t)budget;
	c->icount_end = done + (uint64_t)c->left;
	if (c->halted) {
		if (!interrupt_deliverable(c)) {
			c->exit_request = 0;
			return VCPU_EXIT_HALT;
		}
		c->halted = false;
	}
	emu_exec(c);
	c->exit_request = 0;
	c->cur_trace = NULL;
	if (c->shutdown) {
		c->shutdown = false;
		return VCPU_EXIT_SHUTDOWN;
	}
	if (c->halted && !interrupt_deliverable(c))
		return VCPU_EXIT_HALT;
	return c->vm->stop_requested ? VCPU_EXIT_STOP : VCPU_EXIT_DEADLINE;
}

static void emu_set_intr(struct vcpu *v, bool level)
{
	to_emu(v)->intr_line = level;
}

static void emu_nmi(struct vcpu *v)
{
	to_emu(v)->nmi_pending = true;
	to_emu(v)->exit_request = 1;
}

static void emu_set_a20(struct vcpu *v, bool enabled)
{
	struct emu_cpu *c = to_emu(v);
	c->a20_mask = enabled ? 0xffffffffu : ~(1u << 20);
	mmu_flush_tlb(c, true);
	c->exit_request = 1;
}

static void emu_kick(struct vcpu *v)
{
	to_emu(v)->exit_request = 1;
}

static uint64_t emu_icount(struct vcpu *v)
{
	return emu_icount_now(to_emu(v));
}

static int emu_stats(struct vcpu *v, struct vcpu_stat *out, int max)
{
	struct emu_cpu *c = to_emu(v);
	const struct vcpu_stat all[] = {
		{ "traces_built", c->stat_traces_built },
		{ "trace_cache_flushes", c->stat_flushes },
		{ "self_modifying_code_exits", c->stat_smc },
	};
	int n = 0;
	for (; n < max && n < (int)(sizeof(all) / sizeof(all[0])); n++)
		out[n] = all[n];
	return n;
}

static void emu_watch_exec(struct vcpu *v, uint64_t phys, void (*fn)(void *opaque),
			   void *opaque)
{
	struct emu_cpu *c = to_emu(v);
	c->watch_fn = NULL;
	if (!fn || phys >> 32)
		return;
	c->watch_phys = (uint32_t)phys;
	c->watch_opaque = opaque;
	c->watch_fn = fn;
	/* Code already translated there would run without a lookup. */
	c->flush_pending = true;
}

static void seg_to_state(const struct emu_seg *s, struct x86_seg *o)
{
	o->sel = s->sel;
	o->base = s->base;
	o->limit = s->limit;
	o->attr = s->attr;
	o->unusable = !s->valid;
}

static void seg_from_state(struct emu_seg *s, const struct x86_seg *o)
{
	s->sel = o->sel;
	s->base = (uint32_t)o->base;
	s->limit = o->limit;
	s->attr = o->attr;
	s->valid = !o->unusable;
}

static int emu_get_state(struct vcpu *v, struct x86_state *st)
{
	struct emu_cpu *c = to_emu(v);
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < 16; k++)
		st->gpr[k] = c->r[k];
	st->rip = c->eip;
	st->rflags = emu_get_eflags(c);
	for (int s = 0; s < 6; s++)
		seg_to_state(&c->seg[s], &st->seg[s]);
	seg_to_state(&c->ldtr, &st->ldtr);
	seg_to_state(&c->tr, &st->tr);
	st->gdtr.base = c->gdt_base;
	st->gdtr.limit = c->gdt_limit;
	st->idtr.base = c->idt_base;
	st->idtr.limit = c->idt_limit;
	st->cr0 = c->cr0;
	st->cr2 = c->cr2;
	st->cr3 = c->cr3;
	st->cr4 = c->cr4;
	st->efer = c->efer;
	for (int k = 0; k < 8; k++)
		st->dr[k] = c->dr[k];
	st->msr = c->msr;
	st->msr.tsc = emu_rdtsc(c);
	fpu_get_state(&c->fpu, &st->fpu);
	st->fpu.mxcsr = c->mxcsr;
	st->halted = c->halted;
	st->a20 = c->a20_mask == 0xffffffffu;
	st->intr_shadow = c->intr_shadow;
	st->nmi_pending = c->nmi_pending;
	return 0;
}

static int emu_set_state(struct vcpu *v, const struct x86_state *st)
{
	struct emu_cpu *c = to_emu(v);
	for (int k = 0; k < 16; k++)
		c->r[k] = st->gpr[k];
	c->r[REG_NONE] = 0;
	c->eip = (uint32_t)st->rip;
	c->lf_op = LF_NONE;
	c->eflags = ((uint32_t)st->rflags | 2u) & ~0xffc08028u;
	for (int s = 0; s < 6; s++)
		seg_from_state(&c->seg[s], &st->seg[s]);
	seg_from_state(&c->ldtr, &st->ldtr);
	seg_from_state(&c->tr, &st->tr);
	c->gdt_base = (uint32_t)st->gdtr.base;
	c->gdt_limit = st->gdtr.limit;
	c->idt_base = (uint32_t)st->idtr.base;
	c->idt_limit = st->idtr.limit;
	c->cr0 = (uint32_t)st->cr0 | CR0_ET;
	c->cr2 = (uint32_t)st->cr2;
	c->cr3 = (uint32_t)st->cr3;
	c->cr4 = (uint32_t)st->cr4;
	c->efer = st->efer;
	for (int k = 0; k < 8; k++)
		c->dr[k] = (uint32_t)st->dr[k];
	emu_update_debug(c);
	c->msr = st->msr;
	fpu_set_state(&c->fpu, &st->fpu);
	c->mxcsr = st->fpu.mxcsr;
	c->tsc_offset = st->msr.tsc - clock_now(c->vm->clock);
	c->halted = st->halted;
	c->a20_mask = st->a20 ? 0xffffffffu : ~(1u << 20);
	c->intr_shadow = st->intr_shadow ? 1 : 0;
	c->nmi_pending = st->nmi_pending;
	/* CPL is the DPL of SS in protected mode (CS.RPL for non-conforming) */
	int cpl = 0;
	if ((c->cr0 & CR0_PE) && !(c->eflags & F_VM))
		cpl = (c->seg[SEG_SS].attr >> 5) & 3;
	c->cpl = cpl;
	emu_update_mode(c);
	mmu_flush_tlb(c, true);
	c->flush_pending = true;
	return 0;
}

const struct vcpu_ops emu_vcpu_ops = {
	.name = "emu",
	.create = emu_create,
	.destroy = emu_destroy,
	.reset = emu_reset,
	.run = emu_run,
	.set_intr = emu_set_intr,
	.nmi = emu_nmi,
	.set_a20 = emu_set_a20,
	.kick = emu_kick,
	.get_state = emu_get_state,
	.set_state = emu_set_state,
	.icount = emu_icount,
	.watch_exec = emu_watch_exec,
	.stats = emu_stats,
};

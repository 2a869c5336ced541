/*
 * The software x86 CPU: internal state and the inline fast paths shared by
 * its files. It models an IA-32 processor of the P6 family (Intel SDM vol. 3
 * for the system architecture, vol. 2 for instructions).
 *
 * Shape, for speed (see shared/CPU-NOTES.md):
 * - guest code is decoded once into traces of struct insn, cached by the
 *   physical address of the first byte (plus the code-size bit), and run by a
 *   threaded interpreter (computed goto, exec.c);
 * - arithmetic flags are lazy: the last operation's operands and result are
 *   kept and flags computed only when read (flags.c);
 * - a software TLB maps linear pages to host pointers, separately for reads
 *   and writes, so a guest memory access is one compare and one add;
 * - writes to pages holding decoded code go through the slow path, which
 *   drops those traces (self-modifying code).
 * Registers are 64 bits wide and the decoder carries room for REX and
 * RIP-relative forms, so long mode can be added without changing the shape.
 */
#ifndef PCVM_EMU_H
#define PCVM_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../vcpu.h"
#include "fpu.h"

struct vm;

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* EFLAGS bits */
#define F_CF 0x0001u
#define F_PF 0x0004u
#define F_AF 0x0010u
#define F_ZF 0x0040u
#define F_SF 0x0080u
#define F_TF 0x0100u
#define F_IF 0x0200u
#define F_DF 0x0400u
#define F_OF 0x0800u
#define F_IOPL 0x3000u
#define F_NT 0x4000u
#define F_RF 0x10000u
#define F_VM 0x20000u
#define F_AC 0x40000u
#define F_VIF 0x80000u
#define F_VIP 0x100000u
#define F_ID 0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* CR0/CR4 bits */
#define CR0_PE 0x1u
#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_ET 0x10u
#define CR0_NE 0x20u
#define CR0_WP 0x10000u
#define CR0_AM 0x40000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_VME 0x1u
#define CR4_PVI 0x2u
#define CR4_TSD 0x4u
#define CR4_DE 0x8u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_MCE 0x40u
#define CR4_PGE 0x80u
#define CR4_PCE 0x100u
#define CR4_OSFXSR 0x200u
#define CR4_OSXMMEXCPT 0x400u

/* Exception vectors */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
	EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11,
	EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17,
	EXC_MC = 18, EXC_XM = 19,
};

/* Segment register slots; SEG_NONE in a decoded insn means "no memory". */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NONE = 7 };

struct emu_seg {
	uint32_t base;
	uint32_t limit;  /* expanded byte limit */
	uint16_t sel;
	uint16_t attr;   /* struct x86_seg attr layout */
	bool valid;      /* false: null selector loaded in protected mode */
	/* Fast access checks: an access at offset off of size n passes when
	 * off + n - 1 <= rlim (reads) / wlim (writes). -1 sends every access
	 * to the slow check (expand-down, not readable/writable, null). */
	int64_t rlim, wlim;
};

/* Lazy flag operations. The op and operand size are kept apart; lf_res is
 * the result truncated to the size, lf_op1/lf_op2 the inputs. */
enum lf_op {
	LF_NONE,   /* flags are in cpu->eflags */
	LF_ADD, LF_ADC, LF_SUB, LF_SBB, LF_LOGIC, LF_INC, LF_DEC, LF_NEG,
	LF_SHL, LF_SHR, LF_SAR, LF_ROL, LF_ROR, LF_MUL, LF_SHLD, LF_SHRD,
};

/* TLB: direct-mapped, indexed by linear page number, with separate arrays
 * for reads and writes (so a copy between two buffers whose pages share an
 * index does not thrash) and for user and supervisor accesses. Tags are
 * page addresses; TLB_INVALID never matches because it is not page aligned.
 * A write entry of a page holding decoded code carries TLB_CODE: it fails
 * the inline compare and the slow path checks whether the bytes written
 * hold code before storing. */
#define TLB_BITS 10
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_MASK (TLB_SIZE - 1)
#define TLB_INVALID 1u
#define TLB_CODE 2u

struct tlb_entry {
	uint32_t tag;
	uint32_t phys;     /* physical page of the entry */
	uintptr_t add;     /* host = lin + add */
};
_Static_assert(sizeof(struct tlb_entry) == 16, "the JIT indexes TLB entries by shifting");

#define MODE_TLB_SHIFT 16
#define MODE_STACK32 (1u << 19)

struct insn;
struct trace;

/* Trace-cache limits */
#define TRACE_MAX_INSNS 48
#define TRACE_HASH_BITS 16
#define TRACE_ARENA_SIZE (48u << 20)

/* Where a trace went last time it left through one of its two exits (the
 * branch of its last instruction, or falling off its end): valid while the
 * CPU's translation generation is unchanged and EIP is the same. */
struct trace_exit {
	struct trace *t;
	uint32_t eip;
	uint32_t gen;
};

/* Indirect branches (RET, JMP and CALL through a register or memory) have
 * many targets: they remember them in one table shared by all traces,
 * indexed by a hash of the target EIP. */
#define IBTC_BITS 10
#define IBTC_HASH(eip) (((eip) ^ ((eip) >> IBTC_BITS)) & ((1u << IBTC_BITS) - 1))

struct emu_cpu {
	struct vcpu vcpu;
	struct vm *vm;

	/* r[0..15] GPRs; r[16] always 0, so effective-address formulas need no
	 * "no register" branch. */
	uint64_t r[17];
	uint32_t eip;
	uint32_t eflags;   /* arithmetic bits valid only while lf_op == LF_NONE */
	uint16_t lf_op, lf_size; /* size in bytes: 1, 2, 4 (the JIT stores both at once) */
	uint32_t lf_res, lf_op1, lf_op2;
	uint32_t lf_cf;    /* carry in for ADC/SBB, carry kept by INC/DEC */

	struct emu_seg seg[8];
	struct emu_seg ldtr, tr;
	uint32_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
	uint32_t cr0, cr2, cr3, cr4;
	uint32_t dr[8];
	uint64_t efer;
	int cpl;

	/* Mode bits derived from the above (emu_update_mode). */
	bool pmode;        /* CR0.PE and not virtual-8086 */
	bool v86;
	bool code32;       /* CS.D */
	bool stack32;      /* SS.B */

	struct x86_msrs msr;
	uint64_t tsc_offset;
	struct fpu fpu;
	uint32_t mxcsr;            /* kept for FXSAVE/FXRSTOR (no SSE yet) */

	/* TLBs by [user][write]; tlb_r/tlb_w are those of the current
	 * privilege level. */
	struct tlb_entry *tlb_r, *tlb_w;
	struct tlb_entry tlbs[2][2][TLB_SIZE];
	bool tlb_global[2][2][TLB_SIZE]; /* entry from a global page (CR4.PGE) */
	/* Always-missing entries: while every data access must be checked
	 * (alignment checking, data breakpoints) tlb_r/tlb_w point here and the
	 * slow path works on tlbs[][][] itself. Reads use the first half,
	 * writes the second, so tlb_w is always tlb_r + TLB_SIZE (the JIT
	 * keeps only tlb_r in a register). */
	struct tlb_entry tlb_dummy[2 * TLB_SIZE];
	bool ac_check;             /* CR0.AM && EFLAGS.AC && CPL 3 */
	bool debug_exec;           /* an instruction breakpoint is enabled */
	bool debug_data;           /* a data breakpoint is enabled */
	uint32_t db_pending;       /* DR6 bits of a #DB trap due after this insn */
	bool fault_keeps_eip;      /* a fault after a task switch's commit point */
	const struct mem_region *last_region; /* tlb_fill's lookup cache */
	uint64_t last_region_gen;
	uint32_t a20_mask;
	uint64_t mem_generation;

	/* Interrupts and run control. */
	/* The next four bytes are read as one 32-bit word by translated
	 * code: anything to stop chaining for? */
	volatile uint8_t exit_request; /* kick: return from run soon */
	bool intr_line;
	bool nmi_pending;
	uint8_t events_zero;        /* always 0: the word's fourth byte */
	bool nmi_blocked;          /* NMI handler running until IRET */
	uint8_t intr_shadow;       /* instructions left before IRQs are allowed */
	bool halted;
	bool shutdown;             /* triple fault happened */
	bool reset_pending;
	/* Instructions retired: icount_end - left, where left counts down to
	 * the point where run() stops (the budget: icount mode's deadline,
	 * else practically never), so translated code counts and checks
	 * with one subtraction. */
	int64_t left;
	uint64_t icount_end;
	uint32_t icount_offset;    /* within the current trace, for devices */

	/* Exception being raised by the current instruction. */
	int exc_vec;
	uint32_t exc_err;
	bool exc_has_err;
	int exc_nesting;           /* for double/triple fault detection */

	/* Trace cache (emu.c). */
	struct trace **hash;
	uint8_t *arena;
	size_t arena_used;
	struct trace *cur_trace;
	uint32_t trace_eip;        /* EIP of the first insn of the running trace */
	/* Translation generation: bumped by anything that may change which
	 * physical code a linear EIP reaches (TLB flushes, CS loads, privilege
	 * class changes, A20). Remembered trace exits are valid within one. */
	uint32_t map_gen;
	struct trace_exit *chain_slot; /* where to remember the next trace found */
	struct trace_exit ibtc[1u << IBTC_BITS];
	struct code_page *code_pages;  /* hash of physical pages with code */
	unsigned code_pages_cap, code_pages_used;
	bool flush_pending;
	/* For the JIT's one test at a trace's start. Bit s: segment s has
	 * base 0 and a 4 GiB read limit; bit 8 + s: a 4 GiB write limit too
	 * (kept by emu_seg_recompute); bit MODE_TLB_SHIFT + n: tlb_r is TLB n,
	 * tlbs[0], tlbs[1] or tlb_dummy (kept by emu_update_access);
	 * MODE_STACK32: stack32. */
	uint32_t mode_bits;
	bool stepping;             /* running a one-instruction trace */
	bool step_tf;              /* ... with EFLAGS.TF set: #DB after it */
	void *step_buf;
	const void *smc_exit_handler;  /* label that ends a trace hit by SMC */
	bool log_traces;           /* -vvvv: log every trace entered */
	/* The JIT (jit.c): its code buffer and threshold (0: off). */
	uint8_t *jit_code;
	size_t jit_used, jit_size;
	uint32_t jit_threshold;
	const void *jit_count_handler, *jit_run_handler; /* exec.c labels */
	uint64_t stat_jit_compiled;
	void *jit_perfmap;         /* FILE *: PCVM_JIT_PERFMAP=1 writes /tmp/perf-PID.map */

	/* vcpu_ops.watch_exec: fn runs once when a trace is next built at
	 * watch_phys (arming flushes the cache, so that is the next time
	 * execution gets there). */
	uint32_t watch_phys;
	void (*watch_fn)(void *opaque);
	void *watch_opaque;

	/* Statistics for -v and benchmarks. */
	uint64_t stat_traces_built, stat_flushes, stat_smc;
};
_Static_assert(offsetof(struct emu_cpu, lf_size) == offsetof(struct emu_cpu, lf_op) + 2,
	       "the JIT stores lf_op and lf_size as one 32-bit word");
_Static_assert(offsetof(struct emu_cpu, intr_line) == offsetof(struct emu_cpu, exit_request) + 1 &&
	       offsetof(struct emu_cpu, nmi_pending) == offsetof(struct emu_cpu, exit_request) + 2 &&
	       offsetof(struct emu_cpu, events_zero) == offsetof(struct emu_cpu, exit_request) + 3,
	       "the JIT reads exit_request, intr_line and nmi_pending as one word");

/* ---- registers ---- */

static inline uint32_t R32(const struct emu_cpu *c, int n) { return (uint32_t)c->r[n]; }
static inline uint16_t R16(const struct emu_cpu *c, int n) { return (uint16_t)c->r[n]; }
static inline void W32(struct emu_cpu *c, int n, uint32_t v) { c->r[n] = v; }
static inline void W16(struct emu_cpu *c, int n, uint16_t v) { memcpy(&c->r[n], &v, 2); }
/* 8-bit registers by byte offset into r[] (AL=0, CL=8, ..., AH=1, CH=9...) */
static inline uint8_t *R8P(struct emu_cpu *c, int byteoff) { return (uint8_t *)c->r + byteoff; }
static inline int reg8_offset(int n) { return n < 4 ? n * 8 : (n - 4) * 8 + 1; }

/* Instructions retired so far. */
static inline uint64_t emu_icount_now(const struct emu_cpu *c)
{
	return c->icount_end - (uint64_t)c->left;
}

/* ---- lazy flags (flags.c) ---- */
uint32_t emu_get_eflags(struct emu_cpu *c);
void emu_set_eflags(struct emu_cpu *c, uint32_t v, uint32_t mask);
bool emu_cf_slow(const struct emu_cpu *c);
bool emu_cond_slow(const struct emu_cpu *c, int cc);
bool emu_of(const struct emu_cpu *c);
bool emu_af(const struct emu_cpu *c);

static inline bool emu_zf(const struct emu_cpu *c)
{
	return c->lf_op == LF_NONE ? (c->eflags & F_ZF) != 0 : c->lf_res == 0;
}

static inline bool emu_sf(const struct emu_cpu *c)
{
	return c->lf_op == LF_NONE ? (c->eflags & F_SF) != 0
				   : (c->lf_res >> (c->lf_size * 8 - 1)) & 1;
}

static inline bool emu_cf(const struct emu_cpu *c)
{
	switch (c->lf_op) {
	case LF_INC: case LF_DEC: case LF_SHL: case LF_SHR: case LF_SAR: case LF_MUL:
		return c->lf_cf;
	case LF_SUB: return c->lf_op1 < c->lf_op2;
	case LF_ADD: return c->lf_res < c->lf_op1;
	case LF_LOGIC: return false;
	default: return emu_cf_slow(c);
	}
}

/* Condition code cc (the low nibble of Jcc/SETcc/CMOVcc). */
static inline bool emu_cond(const struct emu_cpu *c, int cc)
{
	if ((cc >> 1) == 2) /* Z/NZ: one test whatever the last operation */
		return emu_zf(c) ^ (cc & 1);
	return emu_cond_slow(c, cc);
}

static inline void emu_flags_materialize(struct emu_cpu *c)
{
	if (c->lf_op != LF_NONE) {
		c->eflags = emu_get_eflags(c);
		c->lf_op = LF_NONE;
	}
}

/* ---- exceptions ---- */

/* Records an exception for the current instruction; returns -1 so callers
 * can `return emu_exc(...)`. */
static inline int emu_exc(struct emu_cpu *c, int vec, uint32_t err, bool has_err)
{
	c->exc_vec = vec;
	c->exc_err = err;
	c->exc_has_err = has_err;
	return -1;
}
#define EXC(c, v) emu_exc((c), (v), 0, false)
#define EXC_E(c, v, e) emu_exc((c), (v), (e), true)

/* ---- memory (mmu.c for slow paths) ---- */

int mmu_read_slow(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t *val);
/* Fills the TLB entry for an access at lin; 0, or -1 with the fault
 * recorded. */
int mmu_fill(struct emu_cpu *c, uint32_t lin, bool write);
/* A write-TLB entry of a code page was marked or unmarked. */
void mmu_mark_code_page(struct emu_cpu *c, uint32_t phys_page, bool code);
int mmu_write_slow(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t val);
int seg_check_slow(struct emu_cpu *c, int s, uint32_t off, unsigned size, bool write);
void mmu_flush_tlb(struct emu_cpu *c, bool include_global);
void mmu_flush_page(struct emu_cpu *c, uint32_t lin);
/* Translates lin for the given access; fills *phys. 0 or -1 (#PF raised). */
int mmu_translate(struct emu_cpu *c, uint32_t lin, bool write, bool user, bool fetch,
		  uint32_t *phys);
/* Reads/writes physical memory (page tables, descriptor tables via linear
 * addresses go through the normal paths). */
uint32_t mmu_phys_read32(struct emu_cpu *c, uint32_t pa);
void mmu_phys_write32(struct emu_cpu *c, uint32_t pa, uint32_t v);
/* Supervisor-privileged linear access (descriptor tables, TSS, IDT). */
int mmu_read_sys(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t *val);
int mmu_write_sys(struct emu_cpu *c, uint32_t lin, unsigned size, uint32_t val);
/* Host pointer for code at lin (fetch), with the physical address; NULL and
 * -1 when the page faults, NULL and 0 when it is not plain memory. */
const uint8_t *mmu_code_ptr(struct emu_cpu *c, uint32_t lin, uint32_t *phys, int *err);

static inline bool is_user_access(const struct emu_cpu *c) { return c->cpl == 3; }

#define DEFINE_MEM(bits, type)                                                   \
static inline int rd##bits(struct emu_cpu *c, int s, uint32_t off, type *v)      \
{                                                                                \
	if (unlikely((int64_t)off + (bits / 8 - 1) > c->seg[s].rlim)) {          \
		if (seg_check_slow(c, s, off, bits / 8, false))                  \
			return -1;                                               \
	}                                                                        \
	uint32_t lin = c->seg[s].base + off;                                     \
	const struct tlb_entry *e = &c->tlb_r[(lin >> 12) & TLB_MASK];          \
	if (likely(e->tag == ((lin + (bits / 8 - 1)) & ~0xfffu))) {             \
		memcpy(v, (const void *)(e->add + lin), bits / 8);               \
		return 0;                                                        \
	}                                                                        \
	uint32_t t = 0;                                                          \
	int r = mmu_read_slow(c, lin, bits / 8, &t);                            \
	*v = (type)t;                                                            \
	return r;                                                                \
}                                                                                \
static inline int wr##bits(struct emu_cpu *c, int s, uint32_t off, type v)       \
{                                                                                \
	if (unlikely((int64_t)off + (bits / 8 - 1) > c->seg[s].wlim)) {          \
		if (seg_check_slow(c, s, off, bits / 8, true))                   \
			return -1;                                               \
	}                                                                        \
	uint32_t lin = c->seg[s].base + off;                                     \
	const struct tlb_entry *e = &c->tlb_w[(lin >> 12) & TLB_MASK];          \
	if (likely(e->tag == ((lin + (bits / 8 - 1)) & ~0xfffu))) {             \
		memcpy((void *)(e->add + lin), &v, bits / 8);                    \
		return 0;                                                        \
	}                                                                        \
	return mmu_write_slow(c, lin, bits / 8, v);                              \
}
DEFINE_MEM(8, uint8_t)
DEFINE_MEM(16, uint16_t)
DEFINE_MEM(32, uint32_t)

/* A write probe: would a write of size bytes at s:off succeed? (For
 * instructions that must not change state before a store that faults.) */
int emu_probe_write(struct emu_cpu *c, int s, uint32_t off, unsigned size);

void emu_new_map_gen(struct emu_cpu *c);

/* ---- stack ---- */
static inline uint32_t sp_get(const struct emu_cpu *c)
{
	return c->stack32 ? R32(c, 4) : R16(c, 4);
}
static inline void sp_set(struct emu_cpu *c, uint32_t v)
{
	if (c->stack32)
		W32(c, 4, v);
	else
		W16(c, 4, (uint16_t)v);
}
static inline uint32_t sp_mask(const struct emu_cpu *c) { return c->stack32 ? 0xffffffffu : 0xffffu; }

static inline int push32(struct emu_cpu *c, uint32_t v)
{
	uint32_t sp = (sp_get(c) - 4) & sp_mask(c);
	if (wr32(c, SEG_SS, sp, v))
		return -1;
	sp_set(c, sp);
	return 0;
}
static inline int push16(struct emu_cpu *c, uint16_t v)
{
	uint32_t sp = (sp_get(c) - 2) & sp_mask(c);
	if (wr16(c, SEG_SS, sp, v))
		return -1;
	sp_set(c, sp);
	return 0;
}
static inline int pushv(struct emu_cpu *c, uint32_t v, bool o32)
{
	return o32 ? push32(c, v) : push16(c, (uint16_t)v);
}
static inline int pop32(struct emu_cpu *c, uint32_t *v)
{
	uint32_t sp = sp_get(c);
	if (rd32(c, SEG_SS, sp, v))
		return -1;
	sp_set(c, sp + 4);
	return 0;
}
static inline int pop16(struct emu_cpu *c, uint16_t *v)
{
	uint32_t sp = sp_get(c);
	if (rd16(c, SEG_SS, sp, v))
		return -1;
	sp_set(c, sp + 2);
	return 0;
}

/* ---- segments, modes, system (seg.c, ops.c) ---- */
void emu_update_mode(struct emu_cpu *c);
/* Re-derives which TLB arrays the inline paths use (after CPL, EFLAGS.AC,
 * CR0.AM or DR7 changes). */
void emu_update_access(struct emu_cpu *c);
/* Re-derives debug_exec/debug_data from DR7 (then emu_update_access). */
void emu_update_debug(struct emu_cpu *c);
/* The TLB arrays of the current privilege level, for the slow paths. */
static inline struct tlb_entry *emu_tlb(struct emu_cpu *c, bool write)
{
	return c->tlbs[c->cpl == 3][write];
}
void emu_seg_set_real(struct emu_cpu *c, int s, uint16_t sel);
void emu_seg_recompute(struct emu_cpu *c, int s);
int emu_load_seg(struct emu_cpu *c, int s, uint16_t sel);
int emu_read_descriptor(struct emu_cpu *c, uint16_t sel, uint32_t *lo, uint32_t *hi);
/* Fields of a segment descriptor given as its low and high dwords. */
static inline uint32_t desc_base(uint32_t lo, uint32_t hi)
{
	return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
}
static inline uint32_t desc_limit(uint32_t lo, uint32_t hi) /* in bytes, G applied */
{
	uint32_t l = (lo & 0xffff) | (hi & 0xf0000);
	return (hi & 0x800000) ? (l << 12) | 0xfff : l;
}
static inline int desc_dpl(uint32_t hi) { return (hi >> 13) & 3; }
void emu_set_cpl(struct emu_cpu *c, int cpl);
int emu_far_jmp(struct emu_cpu *c, uint16_t sel, uint32_t off, uint32_t next_eip, bool o32);
int emu_far_call(struct emu_cpu *c, uint16_t sel, uint32_t off, uint32_t next_eip, bool o32);
int emu_far_ret(struct emu_cpu *c, bool o32, uint16_t imm);
int emu_iret(struct emu_cpu *c, bool o32, uint32_t next_eip);
int emu_task_switch(struct emu_cpu *c, uint16_t sel, uint32_t lo, uint32_t hi,
		    int reason, uint32_t next_eip);
enum { TS_JMP, TS_CALL, TS_IRET, TS_INT };
int emu_write_cr(struct emu_cpu *c, int n, uint32_t v);
int emu_rdmsr(struct emu_cpu *c, uint32_t idx, uint64_t *v);
int emu_wrmsr(struct emu_cpu *c, uint32_t idx, uint64_t v);
void emu_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);
uint64_t emu_rdtsc(struct emu_cpu *c);
int emu_io_allowed(struct emu_cpu *c, uint16_t port, unsigned size);

/* ---- interrupts (intr.c) ---- */
/* Delivers interrupt/exception vec. kind says where it came from (which
 * decides privilege checks and the pushed EIP). Returns 0 when delivered,
 * or -1 when delivery itself faulted (the caller re-raises). */
/* INT_SOFT is INT n (IOPL-sensitive in virtual-8086 mode); INT_SOFT_BP is
 * INT3 and INTO, which go through the IDT's DPL check only. */
enum { INT_EXT, INT_SOFT, INT_SOFT_BP, INT_EXC, INT_ICEBP };
int emu_interrupt(struct emu_cpu *c, int vec, int kind, uint32_t err, bool has_err,
		  uint32_t next_eip);
/* Raises the pending exception c->exc_* for the instruction at eip with
 * double/triple fault rules. */
void emu_deliver_exception(struct emu_cpu *c);

/* ---- traces (emu.c) ---- */
void emu_flush_traces(struct emu_cpu *c);
void emu_code_write(struct emu_cpu *c, uint32_t phys, uint32_t len);
bool emu_page_has_code(struct emu_cpu *c, uint32_t phys_page);

/* ---- the interpreter (exec.c) ---- */
/* Runs until exit_request, the budget, HLT, or shutdown. */
void emu_exec(struct emu_cpu *c);
const void *const *emu_exec_labels(void);

#endif

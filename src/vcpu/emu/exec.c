/*
 * The threaded interpreter. One function holds a label per handler of
 * insn.h; each handler ends by jumping straight to the next decoded
 * instruction's handler (computed goto), so the host's branch predictor
 * learns each dispatch site separately and a trace runs without returning
 * to a loop. Frequent instructions have handlers specialised by operand
 * size and by register or memory form; the rest go through emu_misc().
 *
 * Exceptions: a handler that faults jumps to `fault`, which puts EIP back
 * on the faulting instruction and delivers the exception; handlers change
 * architectural state only after their last possible fault, so a faulting
 * instruction is restartable.
 */
#include "emu.h"
#include "insn.h"
#include "trace.h"
#include "jit.h"

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST };

static inline uint32_t alu_calc(int op, uint32_t a, uint32_t b, uint32_t cin)
{
	switch (op) {
	case ALU_ADD: return a + b;
	case ALU_OR: return a | b;
	case ALU_ADC: return a + b + cin;
	case ALU_SBB: return a - b - cin;
	case ALU_AND: case ALU_TEST: return a & b;
	case ALU_SUB: case ALU_CMP: return a - b;
	default: return a ^ b;
	}
}

static inline void alu_flags(struct emu_cpu *c, int op, unsigned size, uint32_t a,
			     uint32_t b, uint32_t res, uint32_t cin)
{
	uint32_t m = size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
	c->lf_size = size;
	c->lf_res = res & m;
	switch (op) {
	case ALU_ADD: c->lf_op = LF_ADD; break;
	case ALU_ADC: c->lf_op = LF_ADC; c->lf_cf = cin; break;
	case ALU_SBB: c->lf_op = LF_SBB; c->lf_cf = cin; break;
	case ALU_SUB: case ALU_CMP: c->lf_op = LF_SUB; break;
	default: c->lf_op = LF_LOGIC; return;
	}
	c->lf_op1 = a & m;
	c->lf_op2 = b & m;
}

#define ALU_WRITES(op) ((op) != ALU_CMP && (op) != ALU_TEST)
#define ALU_CIN(op) (((op) == ALU_ADC || (op) == ALU_SBB) ? (uint32_t)emu_cf(c) : 0u)

/* Shifts and rotates through carry (group 2 /2-/7). Returns false when the count is zero (no
 * change at all, flags included). */
static bool shift_op(struct emu_cpu *c, int op, unsigned size, uint32_t v, unsigned cnt,
		     uint32_t *out)
{
	unsigned bits = size * 8;
	uint32_t m = size == 4 ? 0xffffffffu : (1u << bits) - 1;
	cnt &= 31;
	if (!cnt)
		return false;
	v &= m;
	uint32_t r;
	switch (op & 7) {
	case 2: { /* RCL: through carry, rotating bits+1 positions */
		unsigned k = cnt % (bits + 1);
		uint32_t cf = emu_cf(c);
		bool of_src;
		if (!k) {
			emu_flags_materialize(c);
			*out = v;
			return true;
		}
		uint64_t wide = ((uint64_t)cf << bits) | v;
		wide = ((wide << k) | (wide >> (bits + 1 - k))) & ((2ull << bits) - 1);
		r = (uint32_t)wide & m;
		uint32_t ncf = (uint32_t)(wide >> bits) & 1;
		of_src = ((r >> (bits - 1)) & 1) ^ ncf;
		emu_flags_materialize(c);
		c->eflags = (c->eflags & ~(F_CF | F_OF)) | (ncf ? F_CF : 0) | (of_src ? F_OF : 0);
		*out = r;
		return true;
	}
	case 3: { /* RCR */
		unsigned k = cnt % (bits + 1);
		uint32_t cf = emu_cf(c);
		if (!k) {
			emu_flags_materialize(c);
			*out = v;
			return true;
		}
		bool of = ((v >> (bits - 1)) & 1) ^ cf;
		uint64_t wide = ((uint64_t)cf << bits) | v;
		wide = ((wide >> k) | (wide << (bits + 1 - k))) & ((2ull << bits) - 1);
		r = (uint32_t)wide & m;
		uint32_t ncf = (uint32_t)(wide >> bits) & 1;
		emu_flags_materialize(c);
		c->eflags = (c->eflags & ~(F_CF | F_OF)) | (ncf ? F_CF : 0) | (of ? F_OF : 0);
		*out = r;
		return true;
	}
	case 4: case 6: /* SHL/SAL */
		r = (v << cnt) & m;
		c->lf_cf = cnt <= bits ? (v >> (bits - cnt)) & 1 : 0;
		c->lf_op = LF_SHL;
		break;
	case 5: /* SHR */
		r = cnt < bits ? v >> cnt : 0;
		c->lf_cf = (v >> (cnt - 1)) & 1;
		c->lf_op = LF_SHR;
		break;
	default: { /* SAR */
		int32_t sv = (int32_t)(v << (32 - bits)) >> (32 - bits);
		r = (uint32_t)(sv >> (cnt < bits ? cnt : bits - 1)) & m;
		c->lf_cf = (uint32_t)(sv >> (cnt < bits ? cnt - 1 : bits - 1)) & 1;
		c->lf_op = LF_SAR;
		break;
	}
	}
	c->lf_size = size;
	c->lf_res = r;
	c->lf_op1 = v;
	c->lf_op2 = cnt;
	*out = r;
	return true;
}

/* Rotates: SF, ZF, AF and PF are unaffected, so flags are computed now. */
static bool rotate_op(struct emu_cpu *c, int op, unsigned size, uint32_t v, unsigned cnt,
		      uint32_t *out)
{
	unsigned bits = size * 8;
	uint32_t m = size == 4 ? 0xffffffffu : (1u << bits) - 1;
	cnt &= 31;
	if (!cnt)
		return false;
	v &= m;
	unsigned k = cnt & (bits - 1);
	uint32_t r;
	bool cf, of;
	if (op == 0) {
		r = k ? ((v << k) | (v >> (bits - k))) & m : v;
		cf = r & 1;
		of = ((r >> (bits - 1)) & 1) ^ cf;
	} else {
		r = k ? ((v >> k) | (v << (bits - k))) & m : v;
		cf = (r >> (bits - 1)) & 1;
		of = cf ^ ((r >> (bits - 2)) & 1);
	}
	emu_flags_materialize(c);
	c->eflags = (c->eflags & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
	*out = r;
	return true;
}

struct lazy_flags {
	uint32_t op, size, res, op1, op2, cf, eflags;
};

static inline void lazy_save(const struct emu_cpu *c, struct lazy_flags *f)
{
	*f = (struct lazy_flags){ c->lf_op, c->lf_size, c->lf_res, c->lf_op1, c->lf_op2,
				  c->lf_cf, c->eflags };
}

static inline void lazy_restore(struct emu_cpu *c, const struct lazy_flags *f)
{
	c->lf_op = f->op; c->lf_size = f->size; c->lf_res = f->res;
	c->lf_op1 = f->op1; c->lf_op2 = f->op2; c->lf_cf = f->cf; c->eflags = f->eflags;
}

int emu_io_insn(struct emu_cpu *c, const struct insn *i, bool in);

/* r/m operand access for the generic handlers (register operands are byte
 * offsets for 8-bit sizes, as the decoder set them). */
static inline int get_rm(struct emu_cpu *c, const struct insn *i, unsigned size, uint32_t *v)
{
	if (!(i->flags & I_MEM)) {
		*v = size == 1 ? *R8P(c, i->rm) : size == 2 ? R16(c, i->rm) : R32(c, i->rm);
		return 0;
	}
	uint32_t ea = (uint32_t)(c->r[i->base] + (c->r[i->index] << i->scale) + i->disp) & i->amask;
	if (size == 1) {
		uint8_t b = 0;
		int r = rd8(c, i->seg, ea, &b);
		*v = b;
		return r;
	}
	if (size == 2) {
		uint16_t w = 0;
		int r = rd16(c, i->seg, ea, &w);
		*v = w;
		return r;
	}
	return rd32(c, i->seg, ea, v);
}

static inline int set_rm(struct emu_cpu *c, const struct insn *i, unsigned size, uint32_t v)
{
	if (!(i->flags & I_MEM)) {
		if (size == 1)
			*R8P(c, i->rm) = (uint8_t)v;
		else if (size == 2)
			W16(c, i->rm, (uint16_t)v);
		else
			W32(c, i->rm, v);
		return 0;
	}
	uint32_t ea = (uint32_t)(c->r[i->base] + (c->r[i->index] << i->scale) + i->disp) & i->amask;
	if (size == 1)
		return wr8(c, i->seg, ea, (uint8_t)v);
	if (size == 2)
		return wr16(c, i->seg, ea, (uint16_t)v);
	return wr32(c, i->seg, ea, v);
}

static inline unsigned opsize(const struct insn *i)
{
	return (i->opcode & 1) ? ((i->flags & I_O32) ? 4 : 2) : 1;
}

/* Shifts and rotates in their general forms (any size, memory, by CL). */
int emu_shift(struct emu_cpu *c, const struct insn *i)
{
	unsigned size = opsize(i);
	uint32_t v, r;
	unsigned cnt = (i->flags & I_CL) ? (uint8_t)R32(c, 1) : i->imm;
	if (unlikely(get_rm(c, i, size, &v)))
		return -1;
	bool changed;
	/* flags are restored if the store faults */
	struct lazy_flags saved;
	lazy_save(c, &saved);
	if (i->op <= 1)
		changed = rotate_op(c, i->op, size, v, cnt, &r);
	else
		changed = shift_op(c, i->op, size, v, cnt, &r);
	if (changed && unlikely(set_rm(c, i, size, r))) {
		lazy_restore(c, &saved);
		return -1;
	}
	return 0;
}

static const void *const *exported_labels;

const void *const *emu_exec_labels(void)
{
	if (!exported_labels)
		emu_exec(NULL);
	return exported_labels;
}

#define EA() ((uint32_t)(c->r[i->base] + (c->r[i->index] << i->scale) + i->disp) & i->amask)
#define NEXT() do { i++; goto *i->h; } while (0)
#define FAULT() goto fault
#define EIP_HERE (c->trace_eip + i->ofs)
#define EIP_NEXT (c->trace_eip + i->ofs + i->len)
/* Leave the trace after this instruction, continuing at eip. */
#define JUMP_TO(target) do { c->eip = (target); c->left -= (int64_t)i->idx + 1; \
	c->chain_slot = NULL; goto next_trace; } while (0)
/* Continue at target, n_insns instructions on, through the remembered exit
 * x: straight to the trace remembered there when it is for this EIP, the
 * translation generation is unchanged, it is still valid and nothing asks
 * the CPU to stop; else look the trace up, remembering it in fill. */
#define CHAIN_VIA(target, n_insns, x, fill) do {                                  \
	uint32_t tgt_ = (target);                                                  \
	struct trace_exit *x_ = (x);                                               \
	c->eip = tgt_;                                                             \
	c->left -= (n_insns);                                                      \
	if (likely(x_->gen == c->map_gen && x_->eip == tgt_) &&                   \
	    likely(x_->t->valid) &&                                                \
	    likely(!(c->exit_request | c->intr_line | c->nmi_pending)) &&          \
	    likely(c->left > 0) &&                                                \
	    likely((uint64_t)tgt_ + x_->t->nbytes - 1 <= c->seg[SEG_CS].limit)) { \
		c->cur_trace = x_->t;                                              \
		c->trace_eip = tgt_;                                               \
		i = x_->t->insn;                                                   \
		goto *i->h;                                                        \
	}                                                                          \
	c->chain_slot = (fill);                                                    \
	goto next_trace;                                                           \
} while (0)
/* Leave the trace through exit slot (0: the last instruction's branch, 1:
 * falling off the end); a temporary trace remembers nothing. */
#define JUMP_DIRECT(target, n_insns, slot) do {                                    \
	struct trace_exit *xd_ = &c->cur_trace->exit[slot];                       \
	CHAIN_VIA(target, n_insns, xd_, c->cur_trace->cached ? xd_ : NULL);        \
} while (0)
/* Leave the trace through an indirect branch (RET, JMP or CALL through a
 * register or memory) or a side exit: the CPU's table of targets, indexed
 * by the target, serves as the exit slot. */
#define JUMP_INDIRECT(target, n_insns) do {                                        \
	uint32_t ti_ = (target);                                                   \
	struct trace_exit *xi_ = &c->ibtc[IBTC_HASH(ti_)];                         \
	CHAIN_VIA(ti_, n_insns, xi_, xi_);                                         \
} while (0)

#define GET8(n) (*R8P(c, (n)))
#define SET8(n, v) (*R8P(c, (n)) = (uint8_t)(v))
#define GET16(n) R16(c, (n))
#define SET16(n, v) W16(c, (n), (uint16_t)(v))
#define GET32(n) R32(c, (n))
#define SET32(n, v) W32(c, (n), (uint32_t)(v))

#define ALU_SIZE(NAME, OP, SZ, T)                                                  \
	h_##NAME##_RR##SZ: {                                                     \
		uint32_t a = GET##SZ(i->reg), b = GET##SZ(i->rm), cin = ALU_CIN(OP);  \
		uint32_t r = alu_calc(OP, a, b, cin);                            \
		alu_flags(c, OP, SZ / 8, a, b, r, cin);                           \
		if (ALU_WRITES(OP))                                              \
			SET##SZ(i->reg, r);                                         \
		NEXT();                                                          \
	}                                                                        \
	h_##NAME##_RM##SZ: {                                                     \
		T v;                                                             \
		if (unlikely(rd##SZ(c, i->seg, EA(), &v)))                        \
			FAULT();                                                 \
		uint32_t a = GET##SZ(i->reg), cin = ALU_CIN(OP);                    \
		uint32_t r = alu_calc(OP, a, v, cin);                            \
		alu_flags(c, OP, SZ / 8, a, v, r, cin);                           \
		if (ALU_WRITES(OP))                                              \
			SET##SZ(i->reg, r);                                         \
		NEXT();                                                          \
	}                                                                        \
	h_##NAME##_MR##SZ: {                                                     \
		uint32_t ea = EA();                                              \
		T v;                                                             \
		if (unlikely(rd##SZ(c, i->seg, ea, &v)))                          \
			FAULT();                                                 \
		uint32_t b = GET##SZ(i->reg), cin = ALU_CIN(OP);                    \
		uint32_t r = alu_calc(OP, v, b, cin);                            \
		if (ALU_WRITES(OP) && unlikely(wr##SZ(c, i->seg, ea, (T)r)))      \
			FAULT();                                                 \
		alu_flags(c, OP, SZ / 8, v, b, r, cin);                           \
		NEXT();                                                          \
	}                                                                        \
	h_##NAME##_RI##SZ: {                                                     \
		uint32_t a = GET##SZ(i->reg), cin = ALU_CIN(OP);                    \
		uint32_t r = alu_calc(OP, a, i->imm, cin);                       \
		alu_flags(c, OP, SZ / 8, a, i->imm, r, cin);                      \
		if (ALU_WRITES(OP))                                              \
			SET##SZ(i->reg, r);                                         \
		NEXT();                                                          \
	}                                                                        \
	h_##NAME##_MI##SZ: {                                                     \
		uint32_t ea = EA();                                              \
		T v;                                                             \
		if (unlikely(rd##SZ(c, i->seg, ea, &v)))                          \
			FAULT();                                                 \
		uint32_t cin = ALU_CIN(OP);                                      \
		uint32_t r = alu_calc(OP, v, i->imm, cin);                       \
		if (ALU_WRITES(OP) && unlikely(wr##SZ(c, i->seg, ea, (T)r)))      \
			FAULT();                                                 \
		alu_flags(c, OP, SZ / 8, v, i->imm, r, cin);                      \
		NEXT();                                                          \
	}

#define ALU_ALL(NAME, OP)                                                         \
	ALU_SIZE(NAME, OP, 8, uint8_t)                                            \
	ALU_SIZE(NAME, OP, 16, uint16_t)                                          \
	ALU_SIZE(NAME, OP, 32, uint32_t)

#define MOV_SIZE(SZ, T)                                                            \
	h_MOV_RR##SZ: SET##SZ(i->reg, GET##SZ(i->rm)); NEXT();                         \
	h_MOV_RM##SZ: {                                                          \
		T v;                                                             \
		if (unlikely(rd##SZ(c, i->seg, EA(), &v)))                        \
			FAULT();                                                 \
		SET##SZ(i->reg, v);                                                 \
		NEXT();                                                          \
	}                                                                        \
	h_MOV_MR##SZ:                                                            \
		if (unlikely(wr##SZ(c, i->seg, EA(), (T)GET##SZ(i->reg))))           \
			FAULT();                                                 \
		NEXT();                                                          \
	h_MOV_RI##SZ: SET##SZ(i->reg, i->imm); NEXT();                              \
	h_MOV_MI##SZ:                                                            \
		if (unlikely(wr##SZ(c, i->seg, EA(), (T)i->imm)))                 \
			FAULT();                                                 \
		NEXT();

void emu_exec(struct emu_cpu *c)
{
	static const void *const labels[H_COUNT] = {
#define EMU_LABEL(n) [H_##n] = &&h_##n,
		EMU_HANDLERS(EMU_LABEL)
#undef EMU_LABEL
	};
	if (!c) {
		exported_labels = labels;
		return;
	}
	c->smc_exit_handler = &&smc_exit;
	c->jit_count_handler = &&h_JCOUNT;
	c->jit_run_handler = &&h_JIT;
	const struct insn *i;
	struct trace *t;

next_trace:
	if (unlikely(c->exit_request || c->halted || c->shutdown))
		return;
	if (unlikely(c->left <= 0))
		return;
	/* The common case inline: nothing pending, code page in the TLB, the
	 * trace in its hash bucket. */
	if (likely(!(c->stepping | c->flush_pending | c->intr_shadow | c->intr_line |
		     c->nmi_pending | c->log_traces | c->debug_exec | c->debug_data) &&
		   !(c->eflags & F_TF) && !c->db_pending)) {
		uint32_t lin = c->seg[SEG_CS].base + c->eip;
		const struct tlb_entry *e = &c->tlb_r[(lin >> 12) & TLB_MASK];
		if (likely(e->tag == (lin & ~0xfffu))) {
			uint64_t key = ((uint64_t)(e->phys | (lin & 0xfff)) << 1) | c->code32;
			t = c->hash[trace_hash(key)];
			while (t && t->key != key)
				t = t->hnext;
			if (likely(t) && likely((uint64_t)c->eip + t->nbytes - 1 <= c->seg[SEG_CS].limit))
				goto have_trace;
		}
	}
	t = emu_trace_for_eip(c);
	if (unlikely(!t)) {
		/* fetch fault, interrupt delivered, or a reason to stop */
		c->chain_slot = NULL;
		if (c->shutdown || c->halted)
			return;
		goto next_trace;
	}
have_trace:
	if (c->chain_slot) {
		if (t->cached) {
			c->chain_slot->t = t;
			c->chain_slot->eip = c->eip;
			c->chain_slot->gen = c->map_gen;
		}
		c->chain_slot = NULL;
	}
	c->cur_trace = t;
	c->trace_eip = c->eip;
	i = t->insn;
	goto *i->h;

fault:
	if (likely(!c->fault_keeps_eip))
		c->eip = EIP_HERE;
	c->fault_keeps_eip = false;
	c->left -= i->idx;
	c->chain_slot = NULL;
	emu_deliver_exception(c);
	emu_trace_after_exception(c);
	goto next_trace;

smc_exit:
	/* The trace's code was overwritten by the instruction before: what
	 * follows must be decoded again. */
	c->eip = EIP_HERE;
	c->left -= i->idx;
	c->chain_slot = NULL;
	goto next_trace;

h_END:
	JUMP_DIRECT(EIP_HERE, i->idx, 1);

h_JCOUNT: {
	/* a trace's first instruction while its entries are counted */
	struct trace *ct = c->cur_trace;
	if (++ct->hits >= c->jit_threshold) {
		ct->insn[0].h = ct->first_h;
		if (jit_compile(c, ct)) {
			ct->insn[0].h = &&h_JIT;
			goto h_JIT;
		}
		if (c->jit_size - c->jit_used < c->jit_size / 16)
			c->flush_pending = true; /* code buffer full: start over */
	}
	goto *ct->first_h;
}

h_JIT: {
	uint32_t r = ((jit_fn)c->cur_trace->native)(c);
	/* translated traces jump to each other: the last one is current */
	struct trace *jt = c->cur_trace;
	i = &jt->insn[r & 0xff];
	switch (r >> 8) {
	case JIT_INTERP:
		/* insn[0]'s own handler is now this one: use the original */
		goto *(i == jt->insn ? jt->first_h : i->h);
	case JIT_FAULT:
		FAULT();
	case JIT_BRANCH:
		JUMP_DIRECT(c->eip, (uint32_t)i->idx + 1, 0);
	case JIT_INDIRECT:
		JUMP_INDIRECT(c->eip, (uint32_t)i->idx + 1);
	case JIT_DONE:
		/* insn[index] ran in a helper and set EIP: no chaining, as
		 * after the interpreter's own JUMP_TO */
		c->left -= (int64_t)i->idx + 1;
		c->chain_slot = NULL;
		goto next_trace;
	case JIT_STALE:
		/* translated under other segment state: count and translate
		 * again; this time the interpreter runs it */
		jt->native = jt->native_body = NULL;
		jt->hits = 0;
		jt->insn[0].h = c->jit_count_handler;
		goto *jt->first_h;
	default: /* JIT_END: i is the END pseudo-instruction */
		JUMP_DIRECT(c->eip, i->idx, 1);
	}
}

h_UD:
	c->exc_vec = EXC_UD;
	c->exc_has_err = false;
	FAULT();

h_NOP:
	NEXT();

h_MISC: {
	int r = emu_misc(c, i);
	c->fault_keeps_eip &= r < 0;
	if (likely(r == 0))
		NEXT();
	if (r < 0)
		FAULT();
	if (r == 1)
		JUMP_TO(EIP_NEXT);
	/* 2: the instruction set EIP itself (control transfer, HLT) */
	c->left -= (int64_t)i->idx + 1;
	goto next_trace;
}

	MOV_SIZE(8, uint8_t)
	MOV_SIZE(16, uint16_t)
	MOV_SIZE(32, uint32_t)

	ALU_ALL(ADD, ALU_ADD)
	ALU_ALL(OR, ALU_OR)
	ALU_ALL(ADC, ALU_ADC)
	ALU_ALL(SBB, ALU_SBB)
	ALU_ALL(AND, ALU_AND)
	ALU_ALL(SUB, ALU_SUB)
	ALU_ALL(XOR, ALU_XOR)
	ALU_ALL(CMP, ALU_CMP)
	ALU_ALL(TEST, ALU_TEST)

h_INC_R16: {
	uint32_t cf = emu_cf(c);
	uint16_t r = (uint16_t)(GET16(i->reg) + 1);
	SET16(i->reg, r);
	c->lf_cf = cf; c->lf_op = LF_INC; c->lf_size = 2; c->lf_res = r;
	NEXT();
}
h_INC_R32: {
	uint32_t cf = emu_cf(c);
	uint32_t r = GET32(i->reg) + 1;
	SET32(i->reg, r);
	c->lf_cf = cf; c->lf_op = LF_INC; c->lf_size = 4; c->lf_res = r;
	NEXT();
}
h_DEC_R16: {
	uint32_t cf = emu_cf(c);
	uint16_t r = (uint16_t)(GET16(i->reg) - 1);
	SET16(i->reg, r);
	c->lf_cf = cf; c->lf_op = LF_DEC; c->lf_size = 2; c->lf_res = r;
	NEXT();
}
h_DEC_R32: {
	uint32_t cf = emu_cf(c);
	uint32_t r = GET32(i->reg) - 1;
	SET32(i->reg, r);
	c->lf_cf = cf; c->lf_op = LF_DEC; c->lf_size = 4; c->lf_res = r;
	NEXT();
}
h_INCDEC_RM: {
	unsigned size = opsize(i);
	uint32_t v;
	if (unlikely(get_rm(c, i, size, &v)))
		FAULT();
	uint32_t m = size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
	uint32_t r = (i->op ? v - 1 : v + 1) & m;
	uint32_t cf = emu_cf(c);
	if (unlikely(set_rm(c, i, size, r)))
		FAULT();
	c->lf_cf = cf; c->lf_op = i->op ? LF_DEC : LF_INC; c->lf_size = size; c->lf_res = r;
	NEXT();
}

h_PUSH_R16:
	if (unlikely(push16(c, GET16(i->reg))))
		FAULT();
	NEXT();
h_PUSH_R32:
	if (unlikely(push32(c, GET32(i->reg))))
		FAULT();
	NEXT();
h_POP_R16: {
	uint16_t v;
	if (unlikely(pop16(c, &v)))
		FAULT();
	SET16(i->reg, v);
	NEXT();
}
h_POP_R32: {
	uint32_t v;
	if (unlikely(pop32(c, &v)))
		FAULT();
	SET32(i->reg, v);
	NEXT();
}
h_PUSH_I16:
	if (unlikely(push16(c, (uint16_t)i->imm)))
		FAULT();
	NEXT();
h_PUSH_I32:
	if (unlikely(push32(c, i->imm)))
		FAULT();
	NEXT();
h_LEA16:
	SET16(i->reg, EA());
	NEXT();
h_LEA32:
	SET32(i->reg, EA());
	NEXT();

h_JCC:
	if (emu_cond(c, i->op)) {
		uint32_t target = (EIP_NEXT + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu);
		if (likely(i[1].h == &&h_END))
			JUMP_DIRECT(target, (uint32_t)i->idx + 1, 0);
		/* a side exit: the trace goes on past a conditional branch */
		JUMP_INDIRECT(target, (uint32_t)i->idx + 1);
	}
	NEXT();
h_JMP:
	JUMP_DIRECT((EIP_NEXT + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu),
		    (uint32_t)i->idx + 1, 0);
h_CALL: {
	uint32_t next = EIP_NEXT;
	if (unlikely(pushv(c, next, i->flags & I_O32)))
		FAULT();
	JUMP_DIRECT((next + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu),
		    (uint32_t)i->idx + 1, 0);
}
h_RET: {
	uint32_t target;
	if (i->flags & I_O32) {
		if (unlikely(pop32(c, &target)))
			FAULT();
	} else {
		uint16_t t16;
		if (unlikely(pop16(c, &t16)))
			FAULT();
		target = t16;
	}
	if (i->imm)
		sp_set(c, sp_get(c) + i->imm);
	JUMP_INDIRECT(target, (uint32_t)i->idx + 1);
}
h_JMP_RM: {
	unsigned size = (i->flags & I_O32) ? 4 : 2;
	uint32_t target;
	if (unlikely(get_rm(c, i, size, &target)))
		FAULT();
	JUMP_INDIRECT(target, (uint32_t)i->idx + 1);
}
h_CALL_RM: {
	unsigned size = (i->flags & I_O32) ? 4 : 2;
	uint32_t target;
	if (unlikely(get_rm(c, i, size, &target)))
		FAULT();
	if (unlikely(pushv(c, EIP_NEXT, size == 4)))
		FAULT();
	JUMP_INDIRECT(target, (uint32_t)i->idx + 1);
}
h_LOOP: {
	uint32_t cnt;
	if (i->flags & I_A32) {
		cnt = GET32(1) - 1;
		SET32(1, cnt);
	} else {
		cnt = (uint16_t)(GET16(1) - 1);
		SET16(1, cnt);
	}
	bool go = cnt != 0;
	if (i->op == 0)
		go = go && !emu_zf(c);
	else if (i->op == 1)
		go = go && emu_zf(c);
	if (go)
		JUMP_DIRECT((EIP_NEXT + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu),
			    (uint32_t)i->idx + 1, 0);
	NEXT();
}
h_JCXZ:
	if (((i->flags & I_A32) ? GET32(1) : GET16(1)) == 0)
		JUMP_DIRECT((EIP_NEXT + i->imm) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu),
			    (uint32_t)i->idx + 1, 0);
	NEXT();

h_MOVZX_R8:
	if (i->flags & I_O32) SET32(i->reg, GET8(i->rm)); else SET16(i->reg, GET8(i->rm));
	NEXT();
h_MOVSX_R8:
	if (i->flags & I_O32) SET32(i->reg, (int32_t)(int8_t)GET8(i->rm));
	else SET16(i->reg, (int16_t)(int8_t)GET8(i->rm));
	NEXT();
h_MOVZX_M8: {
	uint8_t v;
	if (unlikely(rd8(c, i->seg, EA(), &v)))
		FAULT();
	if (i->flags & I_O32) SET32(i->reg, v); else SET16(i->reg, v);
	NEXT();
}
h_MOVSX_M8: {
	uint8_t v;
	if (unlikely(rd8(c, i->seg, EA(), &v)))
		FAULT();
	if (i->flags & I_O32) SET32(i->reg, (int32_t)(int8_t)v); else SET16(i->reg, (int16_t)(int8_t)v);
	NEXT();
}
h_MOVZX_R16:
	if (i->flags & I_O32) SET32(i->reg, GET16(i->rm)); else SET16(i->reg, GET16(i->rm));
	NEXT();
h_MOVSX_R16:
	if (i->flags & I_O32) SET32(i->reg, (int32_t)(int16_t)GET16(i->rm)); else SET16(i->reg, GET16(i->rm));
	NEXT();
h_MOVZX_M16: {
	uint16_t v;
	if (unlikely(rd16(c, i->seg, EA(), &v)))
		FAULT();
	if (i->flags & I_O32) SET32(i->reg, v); else SET16(i->reg, v);
	NEXT();
}
h_MOVSX_M16: {
	uint16_t v;
	if (unlikely(rd16(c, i->seg, EA(), &v)))
		FAULT();
	if (i->flags & I_O32) SET32(i->reg, (int32_t)(int16_t)v); else SET16(i->reg, v);
	NEXT();
}

h_SETCC:
	if (unlikely(set_rm(c, i, 1, emu_cond(c, i->op))))
		FAULT();
	NEXT();
h_CMOV: {
	unsigned size = (i->flags & I_O32) ? 4 : 2;
	uint32_t v;
	if (!(i->flags & I_MEM)) {
		v = size == 4 ? GET32(i->rm) : GET16(i->rm);
	} else {
		/* the source is read (and may fault) whatever the condition */
		if (size == 4) {
			if (unlikely(rd32(c, i->seg, EA(), &v)))
				FAULT();
		} else {
			uint16_t w;
			if (unlikely(rd16(c, i->seg, EA(), &w)))
				FAULT();
			v = w;
		}
	}
	if (emu_cond(c, i->op)) {
		if (size == 4) SET32(i->reg, v); else SET16(i->reg, v);
	}
	NEXT();
}
h_XCHG: {
	unsigned size = opsize(i);
	uint32_t a, b;
	a = size == 1 ? GET8(i->reg) : size == 2 ? GET16(i->reg) : GET32(i->reg);
	if (unlikely(get_rm(c, i, size, &b)))
		FAULT();
	if (unlikely(set_rm(c, i, size, a)))
		FAULT();
	if (size == 1) SET8(i->reg, b); else if (size == 2) SET16(i->reg, b); else SET32(i->reg, b);
	NEXT();
}
h_SHIFT:
	if (unlikely(emu_shift(c, i)))
		FAULT();
	NEXT();
	/* 32-bit register shifts by CL or an immediate, the common forms */
#define SHIFT_R32(NAME, OPK, EXPR, CARRY)                                          \
h_##NAME##_R32: {                                                               \
	unsigned cnt = ((i->flags & I_CL) ? GET8(8) : i->imm) & 31;              \
	if (unlikely(!cnt))                                                       \
		NEXT();                                                           \
	uint32_t v = GET32(i->rm);                                                \
	uint32_t r = (EXPR);                                                      \
	c->lf_cf = (CARRY) & 1;                                                   \
	c->lf_op = OPK;                                                           \
	c->lf_size = 4;                                                           \
	c->lf_res = r;                                                            \
	c->lf_op1 = v;                                                            \
	c->lf_op2 = cnt;                                                          \
	SET32(i->rm, r);                                                          \
	NEXT();                                                                   \
}
	SHIFT_R32(SHL, LF_SHL, v << cnt, v >> (32 - cnt))
	SHIFT_R32(SHR, LF_SHR, v >> cnt, v >> (cnt - 1))
	SHIFT_R32(SAR, LF_SAR, (uint32_t)((int32_t)v >> cnt), (uint32_t)((int32_t)v >> (cnt - 1)))
h_ROT_R32: {
	uint32_t r;
	unsigned cnt = (i->flags & I_CL) ? GET8(8) : i->imm;
	if (rotate_op(c, i->op, 4, GET32(i->rm), cnt, &r))
		SET32(i->rm, r);
	NEXT();
}
h_GRP3: {
	int r = emu_grp3(c, i);
	if (unlikely(r))
		FAULT();
	NEXT();
}
h_IMUL:
	if (unlikely(emu_imul(c, i)))
		FAULT();
	NEXT();
h_STRING: {
	int r = emu_string(c, i);
	if (likely(r == 0))
		NEXT();
	if (r < 0)
		FAULT();
	/* interrupted REP: resume at this instruction */
	JUMP_TO(EIP_HERE);
}
h_CBW:
	if (i->flags & I_O32) SET32(0, (int32_t)(int16_t)GET16(0)); else SET16(0, (int16_t)(int8_t)GET8(0));
	NEXT();
h_CWD:
	if (i->flags & I_O32) SET32(2, (int32_t)GET32(0) < 0 ? 0xffffffffu : 0);
	else SET16(2, (int16_t)GET16(0) < 0 ? 0xffff : 0);
	NEXT();
h_FLAGOP:
	switch (i->op) {
	case 0xf5: emu_flags_materialize(c); c->eflags ^= F_CF; break;
	case 0xf8: emu_flags_materialize(c); c->eflags &= ~F_CF; break;
	case 0xf9: emu_flags_materialize(c); c->eflags |= F_CF; break;
	case 0xfc: c->eflags &= ~F_DF; break;
	default: c->eflags |= F_DF; break;
	}
	NEXT();
h_BT:
	if (unlikely(emu_bt(c, i)))
		FAULT();
	NEXT();
h_BITSCAN:
	if (unlikely(emu_bitscan(c, i)))
		FAULT();
	NEXT();
h_BSWAP:
	if (i->flags & I_O32)
		SET32(i->reg, __builtin_bswap32(GET32(i->reg)));
	else
		SET16(i->reg, 0); /* 16-bit BSWAP is undefined; P6 gives zero */
	NEXT();
h_IN:
	if (unlikely(emu_io_insn(c, i, true)))
		FAULT();
	JUMP_TO(EIP_NEXT);
h_OUT:
	if (unlikely(emu_io_insn(c, i, false)))
		FAULT();
	JUMP_TO(EIP_NEXT);
}

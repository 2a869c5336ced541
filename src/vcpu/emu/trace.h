/*
 * Decoded-code cache of the software CPU: traces of struct insn keyed by the
 * physical address of their first byte and the code-size bit.
 */
#ifndef PCVM_EMU_TRACE_H
#define PCVM_EMU_TRACE_H

#include "emu.h"
#include "insn.h"

struct trace {
	uint64_t key;          /* phys << 1 | code32 */
	struct trace_exit exit[2];
	struct trace *hnext;   /* hash chain */
	struct trace *pnext;   /* traces of the same code page */
	uint16_t nbytes, ninsn;
	bool valid;
	bool cached;           /* false: a one-off single-step trace */
	uint32_t hits;         /* entries so far, for the JIT's threshold */
	const void *first_h;   /* insn[0]'s handler while entries are counted */
	void *native;          /* compiled code (jit.h), or NULL */
	void *native_body;     /* ... past its prologue: where other traces jump */
	struct insn insn[];    /* ninsn instructions, then END */
};

static inline unsigned trace_hash(uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> (64 - TRACE_HASH_BITS));
}

/* The trace to run at c->eip, after delivering any pending interrupt.
 * NULL when the CPU must not run now (halt, shutdown) or after a fetch
 * fault was delivered (the caller simply asks again). */
struct trace *emu_trace_for_eip(struct emu_cpu *c);
/* Bookkeeping after an exception was delivered mid-trace. */
void emu_trace_after_exception(struct emu_cpu *c);

/* The interpreter's C helpers for instructions its threaded handlers hand
 * off (ops.c), also called from translated code: 0 done, below 0 an
 * exception (in c->exc_*); emu_misc: 1 leave the trace after it, 2 it set
 * EIP itself; emu_string: above 0 a REP interrupted, to be resumed. */
int emu_misc(struct emu_cpu *c, const struct insn *i);
int emu_string(struct emu_cpu *c, const struct insn *i);
int emu_grp3(struct emu_cpu *c, const struct insn *i);
int emu_bt(struct emu_cpu *c, const struct insn *i);
int emu_bitscan(struct emu_cpu *c, const struct insn *i);
int emu_imul(struct emu_cpu *c, const struct insn *i);
int emu_shift(struct emu_cpu *c, const struct insn *i);

#endif

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
	struct trace *hnext;   /* hash chain */
	struct trace *pnext;   /* traces of the same code page */
	uint16_t nbytes, ninsn;
	bool valid;
	bool cached;           /* false: a one-off single-step trace */
	struct insn insn[];    /* ninsn instructions, then END */
};

/* The trace to run at c->eip, after delivering any pending interrupt.
 * NULL when the CPU must not run now (halt, shutdown) or after a fetch
 * fault was delivered (the caller simply asks again). */
struct trace *emu_trace_for_eip(struct emu_cpu *c);
/* Bookkeeping after an exception was delivered mid-trace. */
void emu_trace_after_exception(struct emu_cpu *c);

#endif

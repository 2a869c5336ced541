/*
 * The software CPU's JIT: hot traces are translated into x86-64 host code.
 * A compiled trace runs its instructions natively and returns to the
 * interpreter with one of the results below; instructions it does not
 * translate are left to the interpreter, which continues at them.
 */
#ifndef PCVM_EMU_JIT_H
#define PCVM_EMU_JIT_H

#include <stdbool.h>
#include <stdint.h>

struct emu_cpu;
struct trace;

/* Result of a compiled trace: kind << 8 | instruction index. */
enum jit_result {
	JIT_INTERP = 1, /* continue interpreting at insn[index] */
	JIT_FAULT = 2,  /* insn[index] raised the exception in c->exc_* */
	JIT_BRANCH = 3, /* insn[index] transferred control: EIP is set */
	JIT_END = 4,    /* fell off the end (index = ninsn): EIP is set */
	JIT_STALE = 5,  /* a segment is no longer flat as the translation assumed:
			 * drop it (count again) and interpret from insn[0] */
	JIT_INDIRECT = 6, /* insn[index], an indirect branch, set EIP */
	JIT_DONE = 7,     /* insn[index] ran in a helper that set EIP */
};

typedef uint32_t (*jit_fn)(struct emu_cpu *c);

/* Translation threshold: executions of a trace before it is compiled;
 * from PCVM_JIT ("off", "always", or a number) for tests and debugging. */
void jit_init(struct emu_cpu *c);
void jit_destroy(struct emu_cpu *c);
/* Compiles t; false when nothing of it could be translated or the code
 * buffer is full (then the caller flushes everything). */
bool jit_compile(struct emu_cpu *c, struct trace *t);
/* Forgets every compiled trace (with a trace-cache flush). */
void jit_reset(struct emu_cpu *c);

#endif

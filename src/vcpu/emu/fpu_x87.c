/*
 * The FPU's arithmetic kernel on the host x87 (see fpu_x87.h for why). Each
 * operation is one assembly block: save the host control word, FNINIT, load
 * the operands, FLDENV the guest's control word (precision, rounding,
 * exception masks) and condition codes over them (loading resets C1, so the
 * condition codes go in after the loads), set the guest's arithmetic flags,
 * run the instruction, capture EFLAGS and the status word, then clear the
 * flags and store the results with all exceptions masked. Nothing in between
 * is a waiting instruction, so an exception the guest left unmasked only
 * sets the host's ES bit (SDM vol. 1 section 8.6: it would be signalled at
 * the next waiting instruction) and FNCLEX discards it. If the operation left
 * the host stack deeper or shallower than expected (an unmasked exception
 * suppressed a push or pop, or FPTAN found its operand out of range), FNINIT
 * puts back the empty stack the ABI requires.
 */
#include "fpu_x87.h"

#include <stddef.h>

_Static_assert(offsetof(struct fpu_x87_io, r) == 0, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, mem) == 32, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, rflags) == 48, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, cw) == 56, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, sw) == 58, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, host_cw) == 60, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, masked_cw) == 62, "io layout");
_Static_assert(offsetof(struct fpu_x87_io, env) == 64, "io layout");

#define X87_LOAD0 ""
#define X87_LOAD1 "fldt 0(%%rdi)\n\t"
#define X87_LOAD2 "fldt 16(%%rdi)\n\tfldt 0(%%rdi)\n\t"
#define X87_STORE0 ""
#define X87_STORE1 "fstpt 0(%%rdi)\n\t"
#define X87_STORE2 "fstpt 0(%%rdi)\n\tfstpt 16(%%rdi)\n\t"

/* The stack pointer moves below the red zone before pushf/popf, since the
 * compiler may keep data there around this leaf code. */
#define X87_STUB(name, nin, bytes, nout)                                      \
	static void x87_##name(struct fpu_x87_io *io)                         \
	{                                                                     \
		io->masked_cw = 0x037f;                                       \
		__asm__ volatile("fnstcw 60(%%rdi)\n\t"                       \
				 "fninit\n\t"                                 \
				 X87_LOAD##nin                                \
				 "fldenv 64(%%rdi)\n\t"                       \
				 "lea -128(%%rsp), %%rsp\n\t"                 \
				 "pushq 48(%%rdi)\n\t"                        \
				 "popfq\n\t"                                  \
				 ".byte " bytes "\n\t"                        \
				 "pushfq\n\t"                                 \
				 "popq 48(%%rdi)\n\t"                         \
				 "lea 128(%%rsp), %%rsp\n\t"                  \
				 "fnstsw 58(%%rdi)\n\t"                       \
				 "fnclex\n\t"                                 \
				 "fldcw 62(%%rdi)\n\t"                        \
				 X87_STORE##nout                              \
				 "fnstsw %%ax\n\t"                            \
				 "testw $0x3800, %%ax\n\t"                    \
				 "jz 1f\n\t"                                  \
				 "fninit\n\t"                                 \
				 "1:\n\t"                                     \
				 "fnclex\n\t"                                 \
				 "fldcw 60(%%rdi)\n\t"                        \
				 :                                            \
				 : "D"(io)                                    \
				 : "rax", "memory", "cc", "st", "st(1)",      \
				   "st(2)", "st(3)", "st(4)", "st(5)",        \
				   "st(6)", "st(7)");                         \
	}

FPU_X87_OPS(X87_STUB)

static void (*const x87_table[FPU_X87_NOPS])(struct fpu_x87_io *) = {
#define X87_ENTRY(name, nin, bytes, nout) [FPU_X87_##name] = x87_##name,
	FPU_X87_OPS(X87_ENTRY)
#undef X87_ENTRY
};

static const uint8_t x87_nin[FPU_X87_NOPS] = {
#define X87_NIN(name, nin, bytes, nout) [FPU_X87_##name] = nin,
	FPU_X87_OPS(X87_NIN)
#undef X87_NIN
};

void fpu_x87_run(enum fpu_x87_op op, struct fpu_x87_io *io)
{
	/* Only the arithmetic flags reach popf: TF or AC would trap or fault
	 * in the host process. Bit 1 is always 1. */
	io->rflags = (io->rflags & 0x8d5) | 0x2;
	/* FLDENV's 32-bit protected-mode image: the guest's control word and
	 * condition codes, no exception flags, TOP and tags as the loads after
	 * FNINIT left them (physical registers 7, then 6, in use). */
	unsigned nin = x87_nin[op];
	io->env[0] = 0xffff0000u | io->cw;
	io->env[1] = 0xffff0000u | (io->sw & 0x4700u) | ((8u - nin) & 7) << 11;
	io->env[2] = 0xffff0000u | (0xffffu >> (2 * nin));
	io->env[3] = io->env[4] = io->env[5] = io->env[6] = 0;
	x87_table[op](io);
	io->rflags &= 0x8d5;
}

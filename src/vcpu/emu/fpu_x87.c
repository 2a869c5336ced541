/*
 * The FPU's arithmetic kernel on the host x87 (see fpu_x87.h for why). Each
 * operation is one assembly block:
 *
 * 1. Load the operands, then make the host's status and control words the
 *    guest's. Fast path: the host's condition codes already equal the
 *    guest's (the previous operation left them) and its leftover exception
 *    flags are a subset of the guest's (so merging them back changes
 *    nothing, and none is unmasked, or the guest would have ES set and
 *    not be executing); then FLDCW of the guest's control word suffices.
 *    Otherwise FNINIT, load again and FLDENV the guest's control word and
 *    condition codes, no flags, over the loaded registers (loads clear C1,
 *    hence the environment goes in after them).
 * 2. Run the instruction, with the guest's arithmetic flags in EFLAGS for
 *    FCOMI, and save the status word (and EFLAGS).
 * 3. FNCLEX if the instruction left an unmasked exception pending, mask
 *    everything and store the results. Nothing between the instruction and
 *    FNCLEX waits, so an unmasked exception only sets the host's ES bit
 *    (SDM vol. 1 8.6: it would be signalled at the next waiting
 *    instruction) and is discarded.
 * 4. If the stack is not back where it started (an unmasked exception
 *    suppressed a push or pop, or FPTAN found its operand out of range),
 *    FNINIT gives back the empty stack the ABI requires; restore the host's
 *    control word. The host's flags stay set unless the host runs with
 *    exceptions unmasked.
 *
 * Measured on the development host (AMD EPYC): FNINIT ~28 ns, FLDENV ~30,
 * FNCLEX ~15, POPF ~7, FNSTSW ~5; hence the fast path and the conditional
 * forms.
 */
#include "fpu_x87.h"

#include <stddef.h>

#ifndef __x86_64__
#error "fpu_x87.c computes on the host's x87 and needs an x86-64 host; another host needs a software fpu_x87_run"
#endif

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
#define X87_FLAGS_IN0 ""
#define X87_FLAGS_IN1 "lea -128(%%rsp), %%rsp\n\tpushq 48(%%rdi)\n\tpopfq\n\t"
#define X87_FLAGS_OUT0 ""
#define X87_FLAGS_OUT1 "pushfq\n\tpopq 48(%%rdi)\n\tlea 128(%%rsp), %%rsp\n\t"

#define X87_STUB(name, nin, bytes, nout, fl)                                  \
	static void x87_##name(struct fpu_x87_io *io)                         \
	{                                                                     \
		__asm__ volatile("fnstcw 60(%%rdi)\n\t"                       \
				 X87_LOAD##nin                                \
				 "fnstsw %%ax\n\t"                            \
				 "movzwl %%ax, %%eax\n\t"                     \
				 "movzwl 58(%%rdi), %%edx\n\t"                \
				 "movl %%eax, %%ecx\n\t"                      \
				 "xorl %%edx, %%ecx\n\t"                      \
				 "testl $0x4700, %%ecx\n\t"                   \
				 "jnz 1f\n\t"                                 \
				 "notl %%edx\n\t"                             \
				 "andl %%edx, %%eax\n\t"                      \
				 "testl $0x7f, %%eax\n\t"                     \
				 "jnz 1f\n\t"                                 \
				 "fldcw 56(%%rdi)\n\t"                        \
				 "jmp 2f\n\t"                                 \
				 "1:\n\t"                                     \
				 "fninit\n\t"                                 \
				 X87_LOAD##nin                                \
				 "fldenv 64(%%rdi)\n\t"                       \
				 "2:\n\t"                                     \
				 X87_FLAGS_IN##fl                             \
				 ".byte " bytes "\n\t"                        \
				 X87_FLAGS_OUT##fl                            \
				 "fnstsw 58(%%rdi)\n\t"                       \
				 "testb $0x80, 58(%%rdi)\n\t"                 \
				 "jz 3f\n\t"                                  \
				 "fnclex\n\t"                                 \
				 "3:\n\t"                                     \
				 "fldcw 62(%%rdi)\n\t"                        \
				 X87_STORE##nout                              \
				 "fnstsw %%ax\n\t"                            \
				 "testw $0x3800, %%ax\n\t"                    \
				 "jz 4f\n\t"                                  \
				 "fninit\n\t"                                 \
				 "4:\n\t"                                     \
				 "movzwl 60(%%rdi), %%eax\n\t"                \
				 "notl %%eax\n\t"                             \
				 "testl $0x3f, %%eax\n\t"                     \
				 "jz 5f\n\t"                                  \
				 "fnclex\n\t"                                 \
				 "5:\n\t"                                     \
				 "fldcw 60(%%rdi)\n\t"                        \
				 :                                            \
				 : "D"(io)                                    \
				 : "rax", "rcx", "rdx", "memory", "cc", "st",  \
				   "st(1)", "st(2)", "st(3)", "st(4)",        \
				   "st(5)", "st(6)", "st(7)");                \
	}

FPU_X87_OPS(X87_STUB)

static void (*const x87_table[FPU_X87_NOPS])(struct fpu_x87_io *) = {
#define X87_ENTRY(name, nin, bytes, nout, fl) [FPU_X87_##name] = x87_##name,
	FPU_X87_OPS(X87_ENTRY)
#undef X87_ENTRY
};

static const uint8_t x87_nin[FPU_X87_NOPS] = {
#define X87_NIN(name, nin, bytes, nout, fl) [FPU_X87_##name] = nin,
	FPU_X87_OPS(X87_NIN)
#undef X87_NIN
};

void fpu_x87_run(enum fpu_x87_op op, struct fpu_x87_io *io)
{
	unsigned nin = x87_nin[op];

	/* Only the arithmetic flags reach popf: TF or AC would trap or fault
	 * in the host process. Bit 1 is always 1. */
	io->rflags = (io->rflags & 0x8d5) | 0x2;
	io->masked_cw = 0x037f;
	/* The slow path's FLDENV image (32-bit protected-mode layout): the
	 * guest's control word and condition codes, no flags, TOP and tags as
	 * the loads after FNINIT leave them (physical 7, then 6, in use). */
	io->env[0] = 0xffff0000u | io->cw;
	io->env[1] = 0xffff0000u | (io->sw & 0x4700u) | ((8u - nin) & 7) << 11;
	io->env[2] = 0xffff0000u | (0xffffu >> (2 * nin));
	io->env[3] = io->env[4] = io->env[5] = io->env[6] = 0;
	x87_table[op](io);
	io->rflags &= 0x8d5;
}

/*
 * The FPU's arithmetic kernel (internal to fpu.c): each operation runs the
 * one x87 instruction that computes it on the host's own x87, in the guest's
 * control word, on operands loaded into an otherwise empty host stack, and
 * reports the host's results, status word and EFLAGS. The host's x87 is the
 * same 80-bit machine the guest programs (Intel SDM vol. 1 chapter 8), so
 * results, rounding, precision control, exception flags, C0-C3 and the
 * unmasked-exception responses (no store, biased exponents) are those of
 * real hardware. A portable build would reimplement exactly these entry
 * points in software; nothing else in the FPU depends on the host.
 */
#ifndef PCVM_FPU_X87_H
#define PCVM_FPU_X87_H

#include <stdint.h>
#include "fpu.h"

/* Operands in, results out. r[0] is ST(0) and r[1] ST(1) of the host stack
 * (loaded as the operation needs, stored back as it leaves them); mem is a
 * memory operand; rflags is loaded before and read after the operation
 * (only its arithmetic flags are passed). The layout is fixed: the
 * assembly addresses the fields by offset. */
struct fpu_x87_io {
	struct fpu_f80 r[2]; /* 0, 16 */
	uint8_t mem[16];     /* 32 */
	uint64_t rflags;     /* 48 */
	uint16_t cw;         /* 56: in: the guest's control word */
	uint16_t sw;         /* 58: in: the guest's status word (its condition
	                      * codes matter); out: the host's after the operation */
	uint16_t host_cw;    /* 60: scratch */
	uint16_t masked_cw;  /* 62: scratch */
	uint32_t env[7];     /* 64: scratch: FLDENV image */
};

/* Each entry: name, operands loaded (r[1] then r[0]), the instruction's
 * bytes (memory operand [rdi+32]), values stored back (r[0], r[1]), and
 * whether EFLAGS go in and out.
 *
 * Operation groups that take an x87 "reg" field (0-7) are laid out so the
 * field is added to the group's first entry: e.g. FPU_X87_M32 + 4 is
 * FSUB m32. The compare-and-pop encodings run as their non-popping forms
 * (the FPU does the pops itself). */
#define FPU_X87_OPS(X) \
	/* ST(0) op m32real, m64real, m32int, m16int (D8, DC, DA, DE /r) */ \
	X(M32_ADD, 1, "0xd8,0x47,0x20", 1, 0) X(M32_MUL, 1, "0xd8,0x4f,0x20", 1, 0) \
	X(M32_COM, 1, "0xd8,0x57,0x20", 1, 0) X(M32_COMP, 1, "0xd8,0x57,0x20", 1, 0) \
	X(M32_SUB, 1, "0xd8,0x67,0x20", 1, 0) X(M32_SUBR, 1, "0xd8,0x6f,0x20", 1, 0) \
	X(M32_DIV, 1, "0xd8,0x77,0x20", 1, 0) X(M32_DIVR, 1, "0xd8,0x7f,0x20", 1, 0) \
	X(M64_ADD, 1, "0xdc,0x47,0x20", 1, 0) X(M64_MUL, 1, "0xdc,0x4f,0x20", 1, 0) \
	X(M64_COM, 1, "0xdc,0x57,0x20", 1, 0) X(M64_COMP, 1, "0xdc,0x57,0x20", 1, 0) \
	X(M64_SUB, 1, "0xdc,0x67,0x20", 1, 0) X(M64_SUBR, 1, "0xdc,0x6f,0x20", 1, 0) \
	X(M64_DIV, 1, "0xdc,0x77,0x20", 1, 0) X(M64_DIVR, 1, "0xdc,0x7f,0x20", 1, 0) \
	X(I32_ADD, 1, "0xda,0x47,0x20", 1, 0) X(I32_MUL, 1, "0xda,0x4f,0x20", 1, 0) \
	X(I32_COM, 1, "0xda,0x57,0x20", 1, 0) X(I32_COMP, 1, "0xda,0x57,0x20", 1, 0) \
	X(I32_SUB, 1, "0xda,0x67,0x20", 1, 0) X(I32_SUBR, 1, "0xda,0x6f,0x20", 1, 0) \
	X(I32_DIV, 1, "0xda,0x77,0x20", 1, 0) X(I32_DIVR, 1, "0xda,0x7f,0x20", 1, 0) \
	X(I16_ADD, 1, "0xde,0x47,0x20", 1, 0) X(I16_MUL, 1, "0xde,0x4f,0x20", 1, 0) \
	X(I16_COM, 1, "0xde,0x57,0x20", 1, 0) X(I16_COMP, 1, "0xde,0x57,0x20", 1, 0) \
	X(I16_SUB, 1, "0xde,0x67,0x20", 1, 0) X(I16_SUBR, 1, "0xde,0x6f,0x20", 1, 0) \
	X(I16_DIV, 1, "0xde,0x77,0x20", 1, 0) X(I16_DIVR, 1, "0xde,0x7f,0x20", 1, 0) \
	/* ST(0) = ST(0) op ST(1) (D8 /r), result in r[0] */ \
	X(ST0_ADD, 2, "0xd8,0xc1", 2, 0) X(ST0_MUL, 2, "0xd8,0xc9", 2, 0) \
	X(ST0_COM, 2, "0xd8,0xd1", 2, 0) X(ST0_COMP, 2, "0xd8,0xd1", 2, 0) \
	X(ST0_SUB, 2, "0xd8,0xe1", 2, 0) X(ST0_SUBR, 2, "0xd8,0xe9", 2, 0) \
	X(ST0_DIV, 2, "0xd8,0xf1", 2, 0) X(ST0_DIVR, 2, "0xd8,0xf9", 2, 0) \
	/* ST(1) = ST(1) op ST(0) in DC's (reversed) sense, result in r[1]; \
	 * /2 and /3 are the FCOM aliases */ \
	X(STI_ADD, 2, "0xdc,0xc1", 2, 0) X(STI_MUL, 2, "0xdc,0xc9", 2, 0) \
	X(STI_COM, 2, "0xdc,0xd1", 2, 0) X(STI_COMP, 2, "0xdc,0xd1", 2, 0) \
	X(STI_SUBR, 2, "0xdc,0xe1", 2, 0) X(STI_SUB, 2, "0xdc,0xe9", 2, 0) \
	X(STI_DIVR, 2, "0xdc,0xf1", 2, 0) X(STI_DIV, 2, "0xdc,0xf9", 2, 0) \
	/* compares of ST(0) with ST(1) or 0.0 */ \
	X(FUCOM, 2, "0xdd,0xe1", 2, 0) X(FCOMI, 2, "0xdb,0xf1", 2, 1) \
	X(FUCOMI, 2, "0xdb,0xe9", 2, 1) X(FTST, 1, "0xd9,0xe4", 1, 0) \
	/* loads: pushed value in r[0] */ \
	X(FLD_M32, 0, "0xd9,0x47,0x20", 1, 0) X(FLD_M64, 0, "0xdd,0x47,0x20", 1, 0) \
	X(FILD_I16, 0, "0xdf,0x47,0x20", 1, 0) X(FILD_I32, 0, "0xdb,0x47,0x20", 1, 0) \
	X(FILD_I64, 0, "0xdf,0x6f,0x20", 1, 0) X(FBLD, 0, "0xdf,0x67,0x20", 1, 0) \
	/* stores of r[0] into mem */ \
	X(FST_M32, 1, "0xd9,0x5f,0x20", 0, 0) X(FST_M64, 1, "0xdd,0x5f,0x20", 0, 0) \
	X(FIST_I16, 1, "0xdf,0x5f,0x20", 0, 0) X(FIST_I32, 1, "0xdb,0x5f,0x20", 0, 0) \
	X(FIST_I64, 1, "0xdf,0x7f,0x20", 0, 0) X(FBST, 1, "0xdf,0x77,0x20", 0, 0) \
	/* constants D9 E8-EE, pushed value in r[0] */ \
	X(FLD1, 0, "0xd9,0xe8", 1, 0) X(FLDL2T, 0, "0xd9,0xe9", 1, 0) \
	X(FLDL2E, 0, "0xd9,0xea", 1, 0) X(FLDPI, 0, "0xd9,0xeb", 1, 0) \
	X(FLDLG2, 0, "0xd9,0xec", 1, 0) X(FLDLN2, 0, "0xd9,0xed", 1, 0) \
	X(FLDZ, 0, "0xd9,0xee", 1, 0) \
	/* D9 F0-FF: r[0], r[1] are ST(0), ST(1) before and after */ \
	X(F2XM1, 1, "0xd9,0xf0", 1, 0) X(FYL2X, 2, "0xd9,0xf1", 1, 0) \
	X(FPTAN, 1, "0xd9,0xf2", 2, 0) X(FPATAN, 2, "0xd9,0xf3", 1, 0) \
	X(FXTRACT, 1, "0xd9,0xf4", 2, 0) X(FPREM1, 2, "0xd9,0xf5", 2, 0) \
	X(FPREM, 2, "0xd9,0xf8", 2, 0) X(FYL2XP1, 2, "0xd9,0xf9", 1, 0) \
	X(FSQRT, 1, "0xd9,0xfa", 1, 0) X(FSINCOS, 1, "0xd9,0xfb", 2, 0) \
	X(FRNDINT, 1, "0xd9,0xfc", 1, 0) X(FSCALE, 2, "0xd9,0xfd", 2, 0) \
	X(FSIN, 1, "0xd9,0xfe", 1, 0) X(FCOS, 1, "0xd9,0xff", 1, 0)

enum fpu_x87_op {
#define FPU_X87_ENUM(name, nin, bytes, nout, fl) FPU_X87_##name,
	FPU_X87_OPS(FPU_X87_ENUM)
#undef FPU_X87_ENUM
	FPU_X87_NOPS
};

/* Runs one operation; io->cw and io->sw must hold the guest's control and
 * status words: the host starts from the guest's condition codes, so the
 * ones an instruction leaves alone come back unchanged. */
void fpu_x87_run(enum fpu_x87_op op, struct fpu_x87_io *io);

#endif

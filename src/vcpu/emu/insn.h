/*
 * A decoded instruction as the interpreter runs it. The decoder turns each
 * guest instruction into one of these: a handler (a label of the threaded
 * interpreter in exec.c) and its operands in a form that needs no further
 * decoding — register numbers, the effective-address formula
 * r[base] + (r[index] << scale) + disp masked to the address size, and
 * immediates. A trace is an array of them ending with the END handler.
 */
#ifndef PCVM_EMU_INSN_H
#define PCVM_EMU_INSN_H

#include <stdint.h>

/* insn.flags */
#define I_O32 0x01    /* operand size 32 */
#define I_A32 0x02    /* address size 32 */
#define I_REP 0x04    /* F3 */
#define I_REPNE 0x08  /* F2 */
#define I_LOCK 0x10
#define I_MEM 0x20    /* has a memory operand (ModRM mod != 3) */
#define I_CL 0x40     /* shift count from CL */
#define I_SEGOVR 0x80 /* a segment override prefix was present */

struct insn {
	const void *h;     /* handler label in emu_exec */
	uint16_t ofs;      /* byte offset from the trace's first instruction */
	uint8_t len;       /* instruction length */
	uint8_t idx;       /* index in the trace */
	uint8_t reg;       /* ModRM.reg operand: register number, or byte offset
			      into r[] for 8-bit registers */
	uint8_t rm;        /* ModRM.rm register operand when mod == 3 */
	uint8_t seg;       /* segment of the memory operand */
	uint8_t base, index, scale;
	uint8_t flags;
	uint8_t op;        /* sub-operation: ALU op, condition code, group index */
	uint16_t opcode;   /* primary opcode, 0x0Fxx for two-byte ones */
	uint8_t modrm;
	uint8_t hid;       /* handler id (enum emu_handler) */
	uint32_t amask;    /* 0xffff or 0xffffffff */
	uint32_t disp;
	uint32_t imm;
	uint32_t imm2;     /* far pointer selector, ENTER nesting level */
};

/* The handlers of emu_exec. Keep in step with the labels in exec.c: the
 * label table there is built from this list. */
#define EMU_ALU_OPS(X) X(ADD) X(OR) X(ADC) X(SBB) X(AND) X(SUB) X(XOR) X(CMP) X(TEST)

#define EMU_ALU_FORMS(X, op)                                                    \
	X(op##_RR8) X(op##_RR16) X(op##_RR32) X(op##_RM8) X(op##_RM16) X(op##_RM32) \
	X(op##_MR8) X(op##_MR16) X(op##_MR32) X(op##_RI8) X(op##_RI16) X(op##_RI32) \
	X(op##_MI8) X(op##_MI16) X(op##_MI32)

#define EMU_HANDLERS(X)                                                          \
	X(END) X(UD) X(MISC) X(NOP)                                             \
	X(MOV_RR8) X(MOV_RR16) X(MOV_RR32) X(MOV_RM8) X(MOV_RM16) X(MOV_RM32)   \
	X(MOV_MR8) X(MOV_MR16) X(MOV_MR32) X(MOV_RI8) X(MOV_RI16) X(MOV_RI32)   \
	X(MOV_MI8) X(MOV_MI16) X(MOV_MI32)                                      \
	EMU_ALU_FORMS(X, ADD) EMU_ALU_FORMS(X, OR) EMU_ALU_FORMS(X, ADC)        \
	EMU_ALU_FORMS(X, SBB) EMU_ALU_FORMS(X, AND) EMU_ALU_FORMS(X, SUB)       \
	EMU_ALU_FORMS(X, XOR) EMU_ALU_FORMS(X, CMP) EMU_ALU_FORMS(X, TEST)      \
	X(INC_R16) X(INC_R32) X(DEC_R16) X(DEC_R32) X(INCDEC_RM) \
	X(PUSH_R16) X(PUSH_R32) X(POP_R16) X(POP_R32) X(PUSH_I16) X(PUSH_I32)   \
	X(LEA16) X(LEA32)                                                        \
	X(JCC) X(JMP) X(CALL) X(RET) X(JMP_RM) X(CALL_RM) X(LOOP) X(JCXZ)       \
	X(MOVZX_R8) X(MOVZX_M8) X(MOVZX_R16) X(MOVZX_M16)                       \
	X(MOVSX_R8) X(MOVSX_M8) X(MOVSX_R16) X(MOVSX_M16)                       \
	X(SETCC) X(CMOV) X(XCHG) X(SHIFT) X(SHL_R32) X(SHR_R32) X(SAR_R32)       \
	X(ROT_R32) X(GRP3) X(IMUL)                        \
	X(STRING) X(CBW) X(CWD) X(FLAGOP) X(BT) X(BITSCAN) X(BSWAP)              \
	X(IN) X(OUT)

enum emu_handler {
#define EMU_HANDLER_ENUM(n) H_##n,
	EMU_HANDLERS(EMU_HANDLER_ENUM)
#undef EMU_HANDLER_ENUM
	H_COUNT
};

/* The register slot that always reads 0 (no base or index). */
#define REG_NONE 16

struct emu_cpu;

/* Decoding outcome */
enum {
	DEC_OK = 0,
	DEC_MORE = 1,    /* needs bytes past the buffer end */
	DEC_TOOLONG = 2, /* over 15 bytes: #GP(0) */
};

/* Decodes one instruction from buf[0..avail). code32 is CS.D. Always fills
 * *i (an undefined opcode becomes the UD handler). */
int emu_decode(const uint8_t *buf, unsigned avail, bool code32, struct insn *i);

/* Does executing this instruction end the trace? (Control transfers but
 * conditional branches, whose taken side leaves through a side exit, and
 * instructions that change how later code decodes or runs.) */
bool emu_insn_ends_trace(const struct insn *i);

#endif

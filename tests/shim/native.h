// Runs a short x86 instruction sequence on the host CPU and reports the
// state it ends in, for the differential tests of the software CPU
// (tests/cpudiff/). The host is x86-64 Linux: 64-bit code runs in the test
// process as is, 32-bit code through Linux's 32-bit user code segment
// (selector 0x23, Intel SDM vol. 3A 5.2.1 "Code-Segment Descriptor in
// 64-bit Mode": L=0 gives compatibility mode), and 16-bit code through an
// LDT code segment with D=0 made with modify_ldt(2). Faults become signals;
// the handler records the vector (the kernel's trap number) and error code
// and resumes in the trampoline, so a test sees "exception N at EIP".
//
// The same memory layout is what the emulator side (emu_harness.h) builds,
// so a sequence sees the same linear addresses in both.
#ifndef PCVM_TEST_NATIVE_H
#define PCVM_TEST_NATIVE_H

#include <stddef.h>
#include <stdint.h>

// Code and data of a test sequence, at fixed linear addresses below 4 GiB.
// 16-bit code: CS base CPUD_CODE_BASE and DS/ES/SS base CPUD_DATA_BASE, both
// with limit 0xFFFF; 32-bit code: flat segments (base 0, 4 GiB), so a data
// address is CPUD_DATA_BASE + offset.
#define CPUD_CODE_BASE 0x30000000u
#define CPUD_CODE_SIZE 0x10000u
#define CPUD_DATA_BASE 0x30010000u
#define CPUD_DATA_SIZE 0x10000u

// Selectors the sequence sees. Linux's flat user segments for 32-bit code
// (arch/x86/include/asm/segment.h: __USER32_CS, __USER_DS); LDT entries 0
// and 1 (TI=1, RPL=3) for 16-bit code. The emulator uses the same values.
#define CPUD_SEL_CODE32 0x23
#define CPUD_SEL_DATA32 0x2b
#define CPUD_SEL_CODE16 0x07
#define CPUD_SEL_DATA16 0x0f

enum cpud_mode { CPUD_MODE16 = 16, CPUD_MODE32 = 32, CPUD_MODE64 = 64 };

// EFLAGS bits.
#define CPUD_CF 0x0001u
#define CPUD_PF 0x0004u
#define CPUD_AF 0x0010u
#define CPUD_ZF 0x0040u
#define CPUD_SF 0x0080u
#define CPUD_TF 0x0100u
#define CPUD_IF 0x0200u
#define CPUD_DF 0x0400u
#define CPUD_OF 0x0800u
#define CPUD_IOPL 0x3000u
#define CPUD_NT 0x4000u
#define CPUD_RF 0x10000u
#define CPUD_AC 0x40000u
#define CPUD_ID 0x200000u
#define CPUD_ARITH (CPUD_CF | CPUD_PF | CPUD_AF | CPUD_ZF | CPUD_SF | CPUD_OF)

// Register state in encoding order (EAX, ECX, EDX, EBX, ESP, EBP, ESI,
// EDI); 16- and 32-bit code use the low halves. eip is the offset in CS
// (16-bit code: from CPUD_CODE_BASE; 32/64-bit: the linear address).
struct cpud_regs {
	uint64_t gpr[8];
	uint64_t eip;
	uint32_t eflags;
};

// No exception: the sequence ran to its end (offset code_len).
#define CPUD_NO_EXCEPTION (-1)

struct cpud_result {
	struct cpud_regs regs; // at the end, or at the exception
	int vector;            // CPUD_NO_EXCEPTION or 0..31
	uint32_t error_code;   // for vectors that push one (8, 10-14, 17)
	uint8_t data[CPUD_DATA_SIZE];
};

// Vectors that push an error code (SDM vol. 3A table 6-1).
static inline int cpud_has_error_code(int vector)
{
	return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

// Maps the code, data and trampoline pages, makes the LDT entries and
// installs the fault handlers (on an alternate signal stack). Idempotent;
// 0 or a negative errno.
int native_init(void);

// Runs code[0..len) in mode at CPUD_CODE_BASE (16-bit: CS offset 0) with
// the registers in `in` (in->eip ignored; EFLAGS: the arithmetic flags, DF,
// AC and ID are taken, the rest is what user mode gets) and the data area
// filled from `data` (CPUD_DATA_SIZE bytes). The sequence ends when control
// reaches offset len or on an exception. 0 or a negative errno (-EINVAL:
// len too big).
int native_run(enum cpud_mode mode, const uint8_t *code, size_t len,
	       const struct cpud_regs *in, const uint8_t *data,
	       struct cpud_result *out);

// Number of code bytes native_run appends to return to the test process.
#define CPUD_NATIVE_TAIL 8

#endif

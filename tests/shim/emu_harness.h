// Runs the test sequences of native.h in the software CPU, through the
// backend interface only (src/vcpu/vcpu.h: emu_vcpu_ops), on a hand-built
// minimal machine: a struct vm with mem, ioport and an instruction-count
// clock, no devices.
//
// The sequence's code and data sit at the same linear (= physical, paging
// off) addresses as natively, the segments have the same selectors, bases
// and limits (Linux's flat 0x23/0x2b for 32-bit code, LDT entries 0x07/0x0f
// for 16-bit code), and by default the code runs at CPL 3 with IOPL 0 like a
// Linux process. A GDT, LDT, TSS and IDT in low memory (not visible to the
// sequence) route every exception to a ring-0 stub that records vector,
// error code and the interrupted EIP/CS/EFLAGS(/ESP/SS) and halts, so an
// exception is observed without a triple fault (Intel SDM vol. 3A 6.12.1:
// a privilege change switches to the TSS's ring-0 stack, leaving the test's
// stack untouched). The sequence ends with HLT, which at CPL 3 is #GP(0) at
// its own address; at CPL 0 (EMUH_CPL0, for an emulator that cannot change
// privilege yet) it halts, and exception frames then land on the test's
// stack below its ESP.
#ifndef PCVM_TEST_EMU_HARNESS_H
#define PCVM_TEST_EMU_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "native.h"

struct emuh;
struct vcpu;
struct vm;

enum emuh_priv { EMUH_CPL3, EMUH_CPL0 };

// 0 or a negative errno; logs why.
int emuh_create(struct emuh **out, enum emuh_priv priv);
void emuh_destroy(struct emuh *h);

// What the run ended in, besides a result.
enum emuh_status {
	EMUH_OK = 0,       // end of sequence or an exception: *out is valid
	EMUH_BUDGET,       // max_insns retired without reaching the end
	EMUH_SHUTDOWN,     // the CPU triple-faulted (a stub itself faulted)
	EMUH_BACKEND,      // run() returned VCPU_EXIT_ERROR, or get/set_state failed
	EMUH_STRAY_HALT,   // halted somewhere that is neither the end nor a stub
};
const char *emuh_status_name(enum emuh_status s);

// Same contract as native_run (native.h): code at CPUD_CODE_BASE, data
// area from `data`, registers from `in`; *out gets the final or faulting
// state. Returns EMUH_OK or another status (then *out is incomplete).
enum emuh_status emuh_run(struct emuh *h, enum cpud_mode mode,
			  const uint8_t *code, size_t len,
			  const struct cpud_regs *in, const uint8_t *data,
			  struct cpud_result *out, uint64_t max_insns);

// Instructions the last emuh_run retired (by the backend's icount).
uint64_t emuh_last_icount(const struct emuh *h);

// A second, bare machine for the "nothing a guest does crashes pcvm"
// test: ram_size bytes of RAM at 0 and a 64 KiB ROM at 0xF0000 and
// 0xFFFF0000 (both views of one buffer, like a PC's BIOS), all filled by
// the caller; no devices (every port reads as ones).
struct emuh_bare;
int emuh_bare_create(struct emuh_bare **out, uint64_t ram_size);
void emuh_bare_destroy(struct emuh_bare *b);
uint8_t *emuh_bare_ram(struct emuh_bare *b);
uint8_t *emuh_bare_rom(struct emuh_bare *b); // 64 KiB
struct vcpu *emuh_bare_cpu(struct emuh_bare *b);
struct vm *emuh_bare_vm(struct emuh_bare *b);
// Tells the backend that the caller rewrote RAM/ROM through the pointers.
void emuh_bare_notify(struct emuh_bare *b);

#endif

/*
 * The execution backend interface: the software CPU (emu/) and KVM (kvm.c)
 * both implement struct vcpu_ops. A backend runs guest code until the next
 * timer deadline or until the machine must act; port and MMIO accesses are
 * dispatched inside the backend through ioport_* and mem_*, so every backend
 * drives the same device models.
 *
 * struct x86_state is the architectural state both backends can read and
 * write, so a guest can move between them (and be inspected by tests).
 */
#ifndef PCVM_VCPU_H
#define PCVM_VCPU_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Segment register with its hidden descriptor cache. attr holds descriptor
 * bits 40-47 in attr[7:0] (type, S, DPL, P) and bits 52-55 in attr[15:12]
 * (AVL, L, D/B, G), the layout of VMX access rights; limit is the expanded
 * byte limit. */
struct x86_seg {
	uint16_t sel;
	uint64_t base;
	uint32_t limit;
	uint16_t attr;
	bool unusable; /* a null selector loaded in protected mode */
};

#define X86_SEG_ATTR_TYPE 0x000f
#define X86_SEG_ATTR_S 0x0010
#define X86_SEG_ATTR_DPL_SHIFT 5
#define X86_SEG_ATTR_P 0x0080
#define X86_SEG_ATTR_AVL 0x1000
#define X86_SEG_ATTR_L 0x2000
#define X86_SEG_ATTR_DB 0x4000
#define X86_SEG_ATTR_G 0x8000

enum x86_sreg { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS };

enum x86_gpr {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

/* x87/SSE state in FXSAVE's terms: st[i] is ST(i) (stack order), 80 bits
 * each; ftw is the abridged tag byte (bit i set: physical register i valid). */
struct x86_fpu {
	uint16_t fcw, fsw;
	uint8_t ftw;
	uint16_t fop;
	uint64_t fip, fdp;
	uint16_t fcs, fds;
	uint8_t st[8][10];
	uint32_t mxcsr;
	uint8_t xmm[16][16];
};

struct x86_msrs {
	uint64_t tsc;
	uint64_t apic_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat;
	uint64_t misc_enable;
	uint64_t mtrr_def_type;
	uint64_t mtrr_fixed[11];
	uint64_t mtrr_var[16]; /* base/mask pairs for 8 ranges */
	uint64_t star, lstar, cstar, fmask, kernel_gs_base, tsc_aux;
};

struct x86_state {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	struct x86_seg seg[6]; /* indexed by enum x86_sreg */
	struct x86_seg ldtr, tr;
	struct x86_dtable gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t dr[8]; /* dr4 and dr5 unused */
	struct x86_msrs msr;
	struct x86_fpu fpu;
	bool halted;
	bool a20;                /* A20 gate open */
	uint8_t intr_shadow;     /* 1: after STI, 2: after MOV SS/POP SS */
	bool nmi_pending;
};

/* A backend's own counter for reports (--report), e.g. KVM's VM exits by
 * reason: name like "exit.io", and its value. */
struct vcpu_stat {
	const char *name;
	uint64_t value;
};

/* Why run() returned. */
enum vcpu_exit {
	VCPU_EXIT_DEADLINE,  /* virtual time reached the deadline, or kicked */
	VCPU_EXIT_HALT,      /* HLT with no interrupt deliverable: sleep */
	VCPU_EXIT_STOP,      /* a device asked the machine to act (vm_request_*) */
	VCPU_EXIT_SHUTDOWN,  /* triple fault: the chipset resets the machine */
	VCPU_EXIT_ERROR,     /* the backend failed; it logged why */
};

struct vcpu_ops;

/* Each backend embeds this first in its own struct. */
struct vcpu {
	const struct vcpu_ops *ops;
	struct vm *vm;
};

struct vcpu_ops {
	const char *name;
	/* Makes a CPU in its power-on reset state. 0 or negative errno. */
	int (*create)(struct vm *vm, struct vcpu **out);
	void (*destroy)(struct vcpu *cpu);
	/* Power-on / RESET# state (CS:IP F000:FFF0). */
	void (*reset)(struct vcpu *cpu);
	/* Runs until virtual time reaches deadline (ns, CLOCK_NEVER for none),
	 * a kick, or an event the machine must handle. */
	enum vcpu_exit (*run)(struct vcpu *cpu, uint64_t deadline);
	/* The INTR pin (level): the backend acknowledges through
	 * vm_intr_ack() when it takes the interrupt. */
	void (*set_intr)(struct vcpu *cpu, bool level);
	void (*nmi)(struct vcpu *cpu);
	void (*set_a20)(struct vcpu *cpu, bool enabled);
	/* Async-signal-safe: makes a running run() return soon. */
	void (*kick)(struct vcpu *cpu);
	int (*get_state)(struct vcpu *cpu, struct x86_state *st);
	int (*set_state)(struct vcpu *cpu, const struct x86_state *st);
	/* Instructions retired so far (0 where the backend cannot count). */
	uint64_t (*icount)(struct vcpu *cpu);
	/* Optional (NULL where the backend has none). Calls fn, once, when the
	 * CPU next starts executing an instruction at guest-physical address
	 * phys, from inside run(); the --report milestone of the BIOS handing
	 * over to the boot sector at 0x7C00. One watch at a time: a new call
	 * replaces the old, fn NULL cancels it. A machine reset keeps it. */
	void (*watch_exec)(struct vcpu *cpu, uint64_t phys, void (*fn)(void *opaque),
			   void *opaque);
	/* Optional (NULL where the backend has none): fills up to max of the
	 * backend's counters and returns how many, for --report. */
	int (*stats)(struct vcpu *cpu, struct vcpu_stat *out, int max);
};

extern const struct vcpu_ops emu_vcpu_ops;
extern const struct vcpu_ops kvm_vcpu_ops;

#endif

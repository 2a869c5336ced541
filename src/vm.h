/*
 * The machine: guest memory, port I/O, the clock, the CPU backend and the
 * devices, built from a struct vm_config, and the run loop that drives them.
 * Devices talk to the machine only through the vm_* calls below and the
 * mem/ioport/clock/irq interfaces.
 */
#ifndef PCVM_VM_H
#define PCVM_VM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "clock.h"
#include "ioport.h"
#include "irq.h"
#include "mem.h"
#include "vcpu/vcpu.h"

/* How a run ended. */
enum vm_end {
	VM_END_NONE,
	VM_END_POWEROFF,   /* ACPI or APM power-off: status 0 */
	VM_END_EXIT,       /* a device chose the exit status (debug-exit port) */
	VM_END_TIMEOUT,    /* --timeout */
	VM_END_REBOOT,     /* guest reset under --no-reboot */
	VM_END_TRIPLE_FAULT, /* triple fault under --no-reboot */
	VM_END_SIGNAL,     /* SIGINT/SIGTERM/SIGHUP */
	VM_END_ERROR,      /* runtime error, already logged */
	VM_END_MET,        /* an --until condition was met, or the script ended */
	VM_END_SCRIPT,     /* a --script step failed */
};

struct vm_result {
	enum vm_end end;
	int status; /* the process exit status */
};

/* The PC's shadowable BIOS area 0xC0000-0xFFFFF in the i440FX's PAM
 * granularity: 12 segments of 16 KiB, then 64 KiB at 0xF0000. */
#define VM_PAM_SEGMENTS 13

#define VM_PCI_HOLE_START 0xE0000000ull

struct vm_hook {
	void (*fn)(void *opaque);
	void *opaque;
};

/* Sees how a run ended; may change the status (see vm_add_end_hook). */
struct vm_end_hook {
	void (*fn)(void *opaque, struct vm_result *res);
	void *opaque;
};

#define VM_MAX_HOOKS 64
#define VM_MAX_FDS 8

struct vm {
	const struct vm_config *cfg;
	struct mem *mem;
	struct ioport *io;
	struct clock *clock;
	struct vcpu *cpu;

	uint8_t *ram;            /* all guest RAM, contiguous on the host */
	uint64_t ram_size;
	uint64_t ram_below_4g;   /* bytes mapped from 0 */
	uint64_t ram_above_4g;   /* bytes mapped from 4 GiB */
	uint8_t *bios;           /* firmware image */
	uint64_t bios_size;

	/* Interrupt controller as the CPU sees it: INTR level and the
	 * acknowledge cycle that returns the vector. Set by the chipset. */
	int (*intr_ack)(void *opaque);
	void *intr_opaque;
	bool intr_level;
	/* ISA IRQ lines 0-15, wired to the PIC by the chipset. */
	struct irq_line isa_irq[16];
	/* The VGA adapter and the display (chipset/vga.h, ui/display.h). */
	struct vga *vga;
	struct display *display;
	/* The PCI bus (chipset/pci.h), once the chipset made it. */
	struct pci_bus *pci;
	/* Legacy devices other parts reach: the CMOS (boot order, disk
	 * bytes), COM1 (output tap, typed input), the 8042 (mouse). */
	struct rtc *rtc;
	struct uart *com1;
	struct kbc *kbc;
	/* The power button (automation's poweroff), once the chipset made it. */
	struct acpi_pm *acpi;
	/* --until-*, --script, --timeout, --report (ui/automation.h). */
	struct automation *automation;
	/* Keyboard input from the UI: set by the PS/2 keyboard model. */
	void (*key_event)(void *opaque, unsigned key, bool down);
	void *key_opaque;

	/* Stop and reset requests from devices and signals. */
	volatile sig_atomic_t stop_requested;
	volatile sig_atomic_t signal;
	enum vm_end end;
	int end_status;
	bool reset_requested;
	bool cpu_running;        /* inside cpu->ops->run */
	bool a20;

	struct vm_hook reset_hooks[VM_MAX_HOOKS];
	int nreset_hooks;
	struct vm_hook cleanup_hooks[VM_MAX_HOOKS];
	int ncleanup_hooks;
	struct vm_end_hook end_hooks[VM_MAX_HOOKS];
	int nend_hooks;
	struct {
		int fd;
		void (*fn)(void *opaque);
		void *opaque;
	} fds[VM_MAX_FDS];
	int nfds;

	void *timer_handle; /* host timer that kicks the CPU at deadlines */
	uint8_t *pam_rom[VM_PAM_SEGMENTS];
};

/* Builds the machine; logs and returns a negative errno on failure (with
 * -EINVAL meaning the user's input was at fault: exit status 2). */
int vm_create(const struct vm_config *cfg, struct vm **out);
/* Runs until the machine ends; returns how. */
struct vm_result vm_run(struct vm *vm);
/* Flushes and closes everything (cleanup hooks run in reverse order). */
void vm_destroy(struct vm *vm);

/* Devices: end the run (status used for VM_END_EXIT). */
void vm_request_stop(struct vm *vm, enum vm_end end, int status);
/* Devices: reset the whole machine (keyboard controller, port 0xCF9). */
void vm_request_reset(struct vm *vm);
/* The interrupt controller drives the CPU's INTR pin. */
void vm_set_intr(struct vm *vm, bool level);
/* The CPU takes an interrupt: returns the vector. */
int vm_intr_ack(struct vm *vm);
void vm_set_a20(struct vm *vm, bool enabled);
/* A key went down or up. key is its PC/AT scancode set 1 make code, with
 * 0xE0 in the high byte for extended keys (0xE048 = up arrow); the keyboard
 * model turns it into whatever scancode set the guest selected. */
void vm_key_event(struct vm *vm, unsigned key, bool down);

/* Called on every machine reset, in registration order. */
int vm_add_reset_hook(struct vm *vm, void (*fn)(void *opaque), void *opaque);
/* Called by vm_destroy, last registered first. */
int vm_add_cleanup_hook(struct vm *vm, void (*fn)(void *opaque), void *opaque);
/* Called when vm_run is about to return, in registration order, with how
 * the run ended; a hook may change res (the automation makes a power-off
 * that came before the awaited condition a failure of its own). */
int vm_add_end_hook(struct vm *vm, void (*fn)(void *opaque, struct vm_result *res),
		    void *opaque);
/* fn runs when fd is readable (checked between CPU slices and while the
 * guest sleeps). */
int vm_watch_fd(struct vm *vm, int fd, void (*fn)(void *opaque), void *opaque);
/* Stops watching fd (at its end of file); safe to call from its callback. */
void vm_unwatch_fd(struct vm *vm, int fd);

/* Routes reads and writes of PAM segment seg (0-12) to RAM or to the
 * ROM/PCI side, as the i440FX PAM registers say. */
int vm_pam_set(struct vm *vm, int seg, bool read_ram, bool write_ram);

/* Guest RAM helpers for loaders: host pointer for [gpa, gpa+len) if it is
 * all RAM, else NULL. */
uint8_t *vm_ram_ptr(struct vm *vm, uint64_t gpa, uint64_t len);

#endif

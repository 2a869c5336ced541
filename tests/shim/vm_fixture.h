// A minimal struct vm for device unit tests: port I/O, a memory map with
// some RAM, and a virtual clock in instruction-count mode whose time the test
// sets directly (one "instruction" is one nanosecond). No CPU, no firmware.
// The ISA IRQ lines start out wired to a recorder (level and rising edges
// per line); a test of the interrupt controller lets the PIC take them over.
#ifndef PCVM_TEST_VM_FIXTURE_H
#define PCVM_TEST_VM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "pcvm.h"

struct VmFixture {
	struct vm *vm = nullptr;
	uint8_t *ram = nullptr;
	size_t ram_size = 0;
	uint64_t now_ns = 0;   // the clock's instruction counter
	int level[16] = {};    // last level seen on each recorded ISA IRQ line
	int edges[16] = {};    // rising edges seen on each recorded line

	// ram_size bytes of RAM mapped at guest-physical 0.
	explicit VmFixture(size_t ram_size = 1u << 20);
	~VmFixture();
	VmFixture(const VmFixture &) = delete;
	VmFixture &operator=(const VmFixture &) = delete;

	// Moves virtual time to t (never backwards) and fires due timers.
	void set_time(uint64_t t);
	void advance(uint64_t ns) { set_time(now_ns + ns); }
	// Fires due timers without moving time.
	void run_timers();

	uint8_t inb(uint16_t port);
	uint16_t inw(uint16_t port);
	void outb(uint16_t port, uint8_t v);
	void outw(uint16_t port, uint16_t v);

	// Runs the reset hooks, as a machine reset does.
	void reset();
	void clear_edges();
};

#endif

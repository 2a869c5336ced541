// A small hand-built machine for chipset unit tests: RAM with the PC's
// shadowable BIOS area, port I/O, a clock in instruction-count mode whose
// count the test sets, ISA IRQ lines that record their levels, and a fake
// CPU that keeps the state a loader gives it. No devices: each test adds
// the ones it exercises.
#ifndef PCVM_TEST_PCI_FIXTURE_H
#define PCVM_TEST_PCI_FIXTURE_H

#include <cstdint>
#include <vector>

#include "pcvm.h"

struct PciFixture {
	struct vm *vm = nullptr;
	uint64_t icount = 0;             // virtual ns (one per "instruction")
	int irq[16] = {};                // current level of each ISA IRQ
	int irq_rises[16] = {};          // 0->1 transitions seen
	std::vector<uint8_t> rom;        // the firmware image (128 KiB)
	struct x86_state cpu_state = {}; // what set_state stored
	int set_state_calls = 0;
	int get_state_result = 0;        // what get_state returns

	explicit PciFixture(uint64_t ram_size = 16ull << 20);
	~PciFixture();
	PciFixture(const PciFixture &) = delete;
	PciFixture &operator=(const PciFixture &) = delete;

	uint32_t in(uint16_t port, unsigned size = 1);
	void out(uint16_t port, uint32_t val, unsigned size = 1);
	// Configuration mechanism #1, as a guest does it.
	uint32_t cfg_read(int devfn, unsigned off, unsigned size = 4);
	void cfg_write(int devfn, unsigned off, uint32_t val, unsigned size = 4);
	// Machine reset as vm.c does it (reset hooks, then PAM back to ROM).
	void reset();
	// Guest memory.
	uint8_t *ram(uint64_t gpa);
	void advance_ns(uint64_t ns) { icount += ns; }
};

#endif

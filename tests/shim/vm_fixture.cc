#include "vm_fixture.h"

#include <stdlib.h>
#include <string.h>

#include <stdexcept>

static uint64_t fixture_icount(void *opaque)
{
	return static_cast<VmFixture *>(opaque)->now_ns;
}

static void fixture_irq(void *opaque, int n, int lvl)
{
	auto *f = static_cast<VmFixture *>(opaque);
	if (lvl && !f->level[n])
		f->edges[n]++;
	f->level[n] = lvl ? 1 : 0;
}

VmFixture::VmFixture(size_t size) : ram_size(size)
{
	vm = static_cast<struct vm *>(calloc(1, sizeof(*vm)));
	if (!vm || mem_create(&vm->mem) || ioport_create(&vm->io) ||
	    clock_create(&vm->clock, CLOCK_MODE_ICOUNT))
		throw std::runtime_error("cannot build the test machine");
	clock_set_icount_source(vm->clock, fixture_icount, this, 1);
	vm->a20 = true;
	if (ram_size) {
		ram = static_cast<uint8_t *>(calloc(1, ram_size));
		struct mem_region r = {};
		r.base = 0;
		r.size = ram_size;
		r.rd = ram;
		r.wr = ram;
		r.name = "ram";
		if (!ram || mem_map(vm->mem, &r))
			throw std::runtime_error("cannot map test RAM");
		vm->ram = nullptr; // owned here, not by vm_destroy
		vm->ram_size = ram_size;
		vm->ram_below_4g = ram_size;
	}
	for (int i = 0; i < 16; i++)
		vm->isa_irq[i] = (struct irq_line){ fixture_irq, this, i };
}

VmFixture::~VmFixture()
{
	vm_destroy(vm);
	free(ram);
}

void VmFixture::set_time(uint64_t t)
{
	if (t > now_ns)
		now_ns = t;
	clock_run_timers(vm->clock);
}

void VmFixture::run_timers() { clock_run_timers(vm->clock); }

uint8_t VmFixture::inb(uint16_t port) { return (uint8_t)ioport_read(vm->io, port, 1); }
uint16_t VmFixture::inw(uint16_t port) { return (uint16_t)ioport_read(vm->io, port, 2); }
void VmFixture::outb(uint16_t port, uint8_t v) { ioport_write(vm->io, port, v, 1); }
void VmFixture::outw(uint16_t port, uint16_t v) { ioport_write(vm->io, port, v, 2); }

void VmFixture::reset()
{
	for (int i = 0; i < vm->nreset_hooks; i++)
		vm->reset_hooks[i].fn(vm->reset_hooks[i].opaque);
}

void VmFixture::clear_edges() { memset(edges, 0, sizeof(edges)); }

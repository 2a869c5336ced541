#include "pci_fixture.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace {

struct FakeCpu {
	struct vcpu vcpu;
	PciFixture *fx;
};

PciFixture *fx_of(struct vcpu *c) { return reinterpret_cast<FakeCpu *>(c)->fx; }

int fake_create(struct vm *, struct vcpu **) { return -ENOSYS; }
void fake_destroy(struct vcpu *) {}
void fake_reset(struct vcpu *) {}
enum vcpu_exit fake_run(struct vcpu *, uint64_t) { return VCPU_EXIT_ERROR; }
void fake_set_intr(struct vcpu *, bool) {}
void fake_nmi(struct vcpu *) {}
void fake_set_a20(struct vcpu *, bool) {}
void fake_kick(struct vcpu *) {}
int fake_get_state(struct vcpu *c, struct x86_state *st)
{
	PciFixture *fx = fx_of(c);
	if (fx->get_state_result)
		return fx->get_state_result;
	*st = fx->cpu_state;
	return 0;
}
int fake_set_state(struct vcpu *c, const struct x86_state *st)
{
	PciFixture *fx = fx_of(c);
	fx->cpu_state = *st;
	fx->set_state_calls++;
	return 0;
}
uint64_t fake_icount(struct vcpu *c) { return fx_of(c)->icount; }

const struct vcpu_ops fake_ops = {
	"fake", fake_create, fake_destroy, fake_reset, fake_run, fake_set_intr,
	fake_nmi, fake_set_a20, fake_kick, fake_get_state, fake_set_state,
	fake_icount,
	nullptr, nullptr, // watch_exec, stats: none
};

uint64_t icount_fn(void *opaque) { return static_cast<PciFixture *>(opaque)->icount; }

void irq_fn(void *opaque, int n, int level)
{
	auto *fx = static_cast<PciFixture *>(opaque);
	if (level && !fx->irq[n])
		fx->irq_rises[n]++;
	fx->irq[n] = level;
}

void check(int err, const char *what)
{
	if (err)
		throw std::runtime_error(what);
}

FakeCpu *make_cpu(PciFixture *fx)
{
	auto *c = new FakeCpu;
	c->vcpu.ops = &fake_ops;
	c->fx = fx;
	return c;
}

} // namespace

PciFixture::PciFixture(uint64_t ram_size) : rom(128 * 1024, 0xf4)
{
	// Guests misbehaving on purpose would fill the output with warnings.
	log_set_level(LOG_ERROR);
	vm = static_cast<struct vm *>(calloc(1, sizeof(*vm)));
	static struct vm_config cfg;
	vm->cfg = &cfg;
	check(mem_create(&vm->mem), "mem");
	check(ioport_create(&vm->io), "ioport");
	check(clock_create(&vm->clock, CLOCK_MODE_ICOUNT), "clock");
	clock_set_icount_source(vm->clock, icount_fn, this, 1);
	vm->ram_size = ram_size;
	vm->ram = static_cast<uint8_t *>(calloc(1, ram_size));
	vm->ram_below_4g = ram_size;
	vm->bios = rom.data();
	vm->bios_size = rom.size();
	vm->a20 = true;
	FakeCpu *cpu = make_cpu(this);
	cpu->vcpu.vm = vm;
	vm->cpu = &cpu->vcpu;
	for (int i = 0; i < 16; i++)
		vm->isa_irq[i] = { irq_fn, this, i };

	struct mem_region low = {};
	low.base = 0; low.size = 0xa0000; low.rd = low.wr = vm->ram; low.name = "ram-low";
	check(mem_map(vm->mem, &low), "map low");
	for (int seg = 0; seg < VM_PAM_SEGMENTS; seg++) {
		uint64_t base = seg < 12 ? 0xc0000 + 0x4000ull * seg : 0xf0000;
		uint64_t size = seg < 12 ? 0x4000 : 0x10000;
		vm->pam_rom[seg] = base >= 0xe0000 ? rom.data() + (base - 0xe0000) : nullptr;
		struct mem_region r = {};
		r.base = base; r.size = size; r.rd = vm->pam_rom[seg]; r.name = "bios-shadow";
		check(mem_map(vm->mem, &r), "map pam");
	}
	struct mem_region hi = {};
	hi.base = 0x100000; hi.size = ram_size - 0x100000;
	hi.rd = hi.wr = vm->ram + 0x100000; hi.name = "ram";
	check(mem_map(vm->mem, &hi), "map ram");
	struct mem_region bios = {};
	bios.base = (1ull << 32) - rom.size(); bios.size = rom.size();
	bios.rd = rom.data(); bios.name = "bios";
	check(mem_map(vm->mem, &bios), "map bios");
}

PciFixture::~PciFixture()
{
	for (int i = vm->ncleanup_hooks - 1; i >= 0; i--)
		vm->cleanup_hooks[i].fn(vm->cleanup_hooks[i].opaque);
	delete reinterpret_cast<FakeCpu *>(vm->cpu);
	clock_destroy(vm->clock);
	ioport_destroy(vm->io);
	mem_destroy(vm->mem);
	free(vm->ram);
	free(vm);
}

uint32_t PciFixture::in(uint16_t port, unsigned size) { return ioport_read(vm->io, port, size); }
void PciFixture::out(uint16_t port, uint32_t val, unsigned size) { ioport_write(vm->io, port, val, size); }

uint32_t PciFixture::cfg_read(int devfn, unsigned off, unsigned size)
{
	out(0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (off & 0xfc), 4);
	return in((uint16_t)(0xcfc + (off & 3)), size);
}

void PciFixture::cfg_write(int devfn, unsigned off, uint32_t val, unsigned size)
{
	out(0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (off & 0xfc), 4);
	out((uint16_t)(0xcfc + (off & 3)), val, size);
}

void PciFixture::reset()
{
	for (int i = 0; i < vm->nreset_hooks; i++)
		vm->reset_hooks[i].fn(vm->reset_hooks[i].opaque);
	for (int seg = 0; seg < VM_PAM_SEGMENTS; seg++)
		vm_pam_set(vm, seg, false, false);
	vm->reset_requested = false;
}

uint8_t *PciFixture::ram(uint64_t gpa) { return vm->ram + gpa; }

// "Nothing a guest does crashes pcvm": random bytes as the firmware and
// the RAM of a bare machine, run on the software CPU from the reset state
// (real mode, CS:IP F000:FFF0) and from a flat 32-bit protected-mode state,
// must end in a halt, a triple fault or the instruction budget -- never a
// crash, a hang, a backend error, or (under SANITIZE=1) a sanitizer report.
#include <gtest/gtest.h>

#include <string.h>

#include "cpudiff.h"
#include "pcvm.h"
extern "C" {
#include "vm.h"
#include "vcpu/vcpu.h"
}

namespace {

enum vcpu_exit run_budget(struct emuh_bare *b, uint64_t budget, uint64_t *ran)
{
	struct vcpu *cpu = emuh_bare_cpu(b);
	struct vm *vm = emuh_bare_vm(b);
	uint64_t start = cpu->ops->icount(cpu);
	enum vcpu_exit ex = VCPU_EXIT_DEADLINE;
	// Bounded in host work too: a backend that never advances its count
	// still gets only so many run() calls.
	for (int calls = 0; calls < 10000; calls++) {
		uint64_t done = cpu->ops->icount(cpu) - start;
		if (done >= budget)
			break;
		ex = cpu->ops->run(cpu, clock_now(vm->clock) + (budget - done));
		if (ex == VCPU_EXIT_HALT || ex == VCPU_EXIT_SHUTDOWN ||
		    ex == VCPU_EXIT_ERROR)
			break;
	}
	*ran = cpu->ops->icount(cpu) - start;
	return ex;
}

void fill(cd_rng &r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = r.next();
		memcpy(p + i, &v, 8);
	}
}

struct Outcomes {
	unsigned halt = 0, shutdown = 0, budget = 0, error = 0;
};

void one_seed(uint64_t seed, bool protected_mode, Outcomes &o)
{
	struct emuh_bare *b = nullptr;
	ASSERT_EQ(0, emuh_bare_create(&b, 2u << 20));
	cd_rng r(seed);
	fill(r, emuh_bare_ram(b), 2u << 20);
	fill(r, emuh_bare_rom(b), 0x10000);
	emuh_bare_notify(b);
	struct vcpu *cpu = emuh_bare_cpu(b);
	cpu->ops->reset(cpu);
	if (protected_mode) {
		struct x86_state st;
		ASSERT_EQ(0, cpu->ops->get_state(cpu, &st));
		struct x86_seg code = {}, data = {};
		code.sel = 0x08;
		code.limit = 0xffffffff;
		code.attr = 0x9b | X86_SEG_ATTR_DB | X86_SEG_ATTR_G;
		data.sel = 0x10;
		data.limit = 0xffffffff;
		data.attr = 0x93 | X86_SEG_ATTR_DB | X86_SEG_ATTR_G;
		st.seg[X86_CS] = code;
		for (int s : {X86_SS, X86_DS, X86_ES, X86_FS, X86_GS})
			st.seg[s] = data;
		// Descriptor tables in the random RAM: whatever the guest
		// loads from them is garbage, as it would be.
		st.gdtr.base = r.below(1u << 20);
		st.gdtr.limit = (uint16_t)r.u32();
		st.idtr.base = r.below(1u << 20);
		st.idtr.limit = (uint16_t)r.u32();
		st.cr0 = 0x11;
		st.rip = r.below(2u << 20);
		st.gpr[X86_RSP] = r.below(2u << 20);
		st.rflags = 0x2;
		ASSERT_EQ(0, cpu->ops->set_state(cpu, &st));
	}
	uint64_t ran = 0;
	enum vcpu_exit ex = run_budget(b, 20000, &ran);
	switch (ex) {
	case VCPU_EXIT_HALT: o.halt++; break;
	case VCPU_EXIT_SHUTDOWN: o.shutdown++; break;
	case VCPU_EXIT_ERROR: o.error++; break;
	default: o.budget++; break;
	}
	EXPECT_NE(VCPU_EXIT_ERROR, ex) << "seed " << seed
		<< (protected_mode ? " (protected mode)" : " (real mode)");
	EXPECT_LE(ran, 20000u + 64) << "seed " << seed << ": ran past the budget";
	emuh_bare_destroy(b);
}

TEST(CpuRandomGuest, RealModeSeeds)
{
	Outcomes o;
	for (uint64_t seed = 1; seed <= 200; seed++)
		one_seed(seed, false, o);
	printf("real mode, 200 seeds: %u halted, %u triple faults, %u ran out of budget\n",
	       o.halt, o.shutdown, o.budget);
	EXPECT_EQ(0u, o.error);
}

TEST(CpuRandomGuest, ProtectedModeSeeds)
{
	Outcomes o;
	for (uint64_t seed = 1001; seed <= 1200; seed++)
		one_seed(seed, true, o);
	printf("protected mode, 200 seeds: %u halted, %u triple faults, %u ran out of budget\n",
	       o.halt, o.shutdown, o.budget);
	EXPECT_EQ(0u, o.error);
}

} // namespace

// The KVM backend (src/vcpu/kvm.c) driven directly through struct vcpu_ops
// on a small hand-built machine: 128 KiB of RAM, a console port, a
// debug-exit port and a fake interrupt controller. The guest code comes from
// tests/guests/kvm_unit.asm (built next to this binary). Every test skips,
// saying why, where KVM cannot create a VM and a vCPU.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "pcvm.h"

namespace {

// Entry points, in the order of kvm_unit.asm's table.
enum Snippet {
	HALT_THEN_INTR, INTR_HANDLER, CLI_HLT, NMI_HANDLER,
	INTR_WINDOW, SPIN, KICK_IN_IO, TRIPLE_FAULT,
	CPUID_LEAVES, SLOTS_SWITCH, MMIO_FN, EXEC_UNMAPPED,
	ROUND_TRIP, ROUND_TRIP_PM32, STI_SPIN, EXIT_HANDLER,
};

constexpr uint64_t CODE = 0x1000;
constexpr size_t RAM_SIZE = 0x20000;
constexpr uint8_t INTR_VECTOR = 0x20;

std::string snippets_path()
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	std::string exe(buf, n > 0 ? (size_t)n : 0);
	return exe.substr(0, exe.rfind('/')) + "/guests/kvm_unit.bin";
}

uint8_t *map_pages(size_t size)
{
	void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? nullptr : static_cast<uint8_t *>(p);
}

uint32_t lcg_rounds(uint32_t &x, uint32_t acc, int n)
{
	for (int i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		acc += x;
		acc = acc << 1 | acc >> 31;
	}
	return acc;
}

struct KvmTest : ::testing::Test {
	vm_config cfg{};
	struct vm *vm = nullptr;
	vcpu *cpu = nullptr;
	uint8_t *ram = nullptr;
	std::vector<uint8_t> code;
	std::string con;            // bytes written to port 0xE9
	std::vector<uint32_t> rec;  // values written to ports 0x9A/0x9B
	int exit_status = -1;
	int acks = 0;
	std::function<void(char)> on_con;
	std::function<uint32_t()> on_in99;
	accel_host host{};

	// kvm_pvm emulates real-mode and kernel code with KVM's instruction
	// emulator, which lacks a few things hardware does.
	bool software_kvm() { return accel_kvm_kind(&host) == ACCEL_KVM_SOFTWARE; }

	static uint64_t con_io(void *opaque, uint64_t, uint64_t val, unsigned, int w)
	{
		auto *t = static_cast<KvmTest *>(opaque);
		if (!w)
			return 0xe9;
		t->con += (char)val;
		if (t->on_con)
			t->on_con((char)val);
		return 0;
	}
	static uint64_t rec_io(void *opaque, uint64_t port, uint64_t val, unsigned, int w)
	{
		auto *t = static_cast<KvmTest *>(opaque);
		if (w)
			t->rec.push_back((uint32_t)val);
		else if (port == 0x99 && t->on_in99)
			return t->on_in99();
		return 0;
	}
	static uint64_t exit_io(void *opaque, uint64_t, uint64_t val, unsigned, int w)
	{
		auto *t = static_cast<KvmTest *>(opaque);
		if (w) {
			t->exit_status = (int)val;
			vm_request_stop(t->vm, VM_END_EXIT, (int)val);
		}
		return 0;
	}
	static int intr_ack(void *opaque)
	{
		auto *t = static_cast<KvmTest *>(opaque);
		t->acks++;
		vm_set_intr(t->vm, false);
		return INTR_VECTOR;
	}

	void SetUp() override
	{
		accel_probe(&host, true);
		if (!accel_kvm_usable(&host)) {
			char why[400];
			accel_kvm_problem(&host, why, sizeof(why));
			GTEST_SKIP() << "KVM cannot run guests here: " << why;
		}
		std::ifstream f(snippets_path(), std::ios::binary);
		ASSERT_TRUE(f) << "missing " << snippets_path() << "; run make guests";
		code.assign(std::istreambuf_iterator<char>(f), {});
		ASSERT_GT(code.size(), 32u);

		vm = static_cast<struct vm *>(calloc(1, sizeof(*vm)));
		vm->cfg = &cfg;
		vm->a20 = true;
		ASSERT_EQ(0, mem_create(&vm->mem));
		ASSERT_EQ(0, ioport_create(&vm->io));
		ASSERT_EQ(0, clock_create(&vm->clock, CLOCK_MODE_REALTIME));
		ram = map_pages(RAM_SIZE);
		ASSERT_NE(nullptr, ram);
		memcpy(ram + CODE, code.data(), code.size());
		mem_region r{};
		r.base = 0;
		r.size = RAM_SIZE;
		r.rd = r.wr = ram;
		r.name = "ram";
		ASSERT_EQ(0, mem_map(vm->mem, &r));
		ASSERT_EQ(0, ioport_register(vm->io, 0xe9, 1, con_io, this, IOPORT_F_BYTE, "con"));
		ASSERT_EQ(0, ioport_register(vm->io, 0x99, 8, rec_io, this, 0, "rec"));
		ASSERT_EQ(0, ioport_register(vm->io, 0xf4, 1, exit_io, this, 0, "exit"));
		vm->intr_ack = intr_ack;
		vm->intr_opaque = this;
		ASSERT_EQ(0, kvm_vcpu_ops.create(vm, &cpu));
		vm->cpu = cpu;
	}

	void TearDown() override
	{
		if (cpu)
			cpu->ops->destroy(cpu);
		if (vm) {
			clock_destroy(vm->clock);
			ioport_destroy(vm->io);
			mem_destroy(vm->mem);
			free(vm);
		}
		if (ram)
			munmap(ram, RAM_SIZE);
	}

	uint16_t entry(Snippet s)
	{
		return (uint16_t)(code[2 * s] | code[2 * s + 1] << 8);
	}

	void set_ivt(uint8_t vec, Snippet s)
	{
		uint16_t off = entry(s);
		memcpy(ram + vec * 4, &off, 2);
		memset(ram + vec * 4 + 2, 0, 2);
	}

	// Real mode at 0000:entry, stack at 0000:8000.
	void start(Snippet s)
	{
		x86_state st;
		ASSERT_EQ(0, cpu->ops->get_state(cpu, &st));
		st.seg[X86_CS].sel = 0;
		st.seg[X86_CS].base = 0;
		st.rip = entry(s);
		st.gpr[X86_RSP] = 0x8000;
		ASSERT_EQ(0, cpu->ops->set_state(cpu, &st));
	}

	vcpu_exit run(uint64_t deadline = CLOCK_NEVER)
	{
		vm->stop_requested = 0;
		return cpu->ops->run(cpu, deadline);
	}

	// Runs until the guest writes the exit port or run() says something
	// other than "kicked".
	vcpu_exit run_to_end()
	{
		for (int i = 0; i < 1000; i++) {
			vcpu_exit e = run();
			if (vm->end != VM_END_NONE ||
			    (e != VCPU_EXIT_DEADLINE && e != VCPU_EXIT_STOP))
				return e;
		}
		ADD_FAILURE() << "the guest never ended";
		return VCPU_EXIT_ERROR;
	}

	x86_state state()
	{
		x86_state st{};
		EXPECT_EQ(0, cpu->ops->get_state(cpu, &st));
		return st;
	}
};

TEST_F(KvmTest, StartsInThePowerOnState)
{
	x86_state st = state();
	EXPECT_EQ(0xf000, st.seg[X86_CS].sel);
	EXPECT_EQ(0xffff0000u, st.seg[X86_CS].base);
	EXPECT_EQ(0xffffu, st.seg[X86_CS].limit);
	EXPECT_EQ(0xfff0u, st.rip);
	EXPECT_EQ(0x2u, st.rflags);
	EXPECT_EQ(0x60000010u, st.cr0);
	EXPECT_EQ(0u, st.efer);
	EXPECT_NE(0u, st.gpr[X86_RDX]) << "EDX holds the CPU signature after reset";
	EXPECT_EQ(0x400u, st.dr[7]);
	EXPECT_EQ(0x1f80u, st.fpu.mxcsr);
	EXPECT_EQ(0x0007040600070406ull, st.msr.pat);
	EXPECT_FALSE(st.halted);
	for (int s : {X86_ES, X86_SS, X86_DS, X86_FS, X86_GS}) {
		EXPECT_EQ(0, st.seg[s].sel);
		EXPECT_EQ(0u, st.seg[s].base);
		EXPECT_EQ(0xffffu, st.seg[s].limit);
	}
}

TEST_F(KvmTest, HaltSleepsUntilTheInterruptComes)
{
	start(HALT_THEN_INTR);
	set_ivt(INTR_VECTOR, INTR_HANDLER);
	EXPECT_EQ(VCPU_EXIT_HALT, run());
	EXPECT_TRUE(state().halted);
	EXPECT_EQ(VCPU_EXIT_HALT, run()) << "still nothing to wake it";
	EXPECT_EQ(0, acks);
	vm_set_intr(vm, true);
	run_to_end();
	EXPECT_EQ("IB", con);
	EXPECT_EQ(1, acks) << "the vector is acknowledged once, when injected";
	EXPECT_EQ(0, exit_status);
}

TEST_F(KvmTest, MaskedInterruptDoesNotWakeButNmiDoes)
{
	start(CLI_HLT);
	set_ivt(2, NMI_HANDLER);
	EXPECT_EQ(VCPU_EXIT_HALT, run());
	vm_set_intr(vm, true);
	EXPECT_EQ(VCPU_EXIT_HALT, run());
	EXPECT_EQ(0, acks) << "IF=0: the interrupt must wait";
	cpu->ops->nmi(cpu);
	run_to_end();
	EXPECT_EQ("N", con);
	EXPECT_EQ(7, exit_status);
	EXPECT_EQ(0, acks);
}

TEST_F(KvmTest, InterruptWaitsForStiAndItsShadow)
{
	start(INTR_WINDOW);
	set_ivt(INTR_VECTOR, INTR_HANDLER);
	on_con = [&](char c) {
		if (c == 'a')
			vm_set_intr(vm, true);
	};
	run_to_end();
	if (software_kvm()) {
		// kvm_pvm opens the interrupt window only at its next exit,
		// here the OUT after STI's shadow: late, but never early.
		EXPECT_TRUE(con == "abIc" || con == "abcI") << con;
	} else {
		EXPECT_EQ("abIc", con);
	}
	EXPECT_EQ(1, acks);
	EXPECT_EQ(0, exit_status);
}

vcpu *signal_cpu;
void kick_from_signal(int)
{
	signal_cpu->ops->kick(signal_cpu);
}

TEST_F(KvmTest, KickFromASignalEndsTheRun)
{
	start(SPIN);
	// a deadline already past returns at once
	EXPECT_EQ(VCPU_EXIT_DEADLINE, run(clock_now(vm->clock)));
	// a kick that lands before run() is not lost
	cpu->ops->kick(cpu);
	EXPECT_EQ(VCPU_EXIT_DEADLINE, run());

	signal_cpu = cpu;
	struct sigaction sa {}, old {};
	sa.sa_handler = kick_from_signal;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, &old));
	struct itimerval it {};
	it.it_value.tv_usec = 20000;
	setitimer(ITIMER_REAL, &it, nullptr);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vcpu_exit e = run();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigaction(SIGALRM, &old, nullptr);
	EXPECT_EQ(VCPU_EXIT_DEADLINE, e);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	EXPECT_LT(s, 10.0);
	EXPECT_EQ(entry(SPIN), state().rip) << "still spinning where it was";
}

TEST_F(KvmTest, KickFromAnotherThreadEndsTheRun)
{
	start(SPIN);
	signal_cpu = cpu;
	struct sigaction sa {}, old {};
	sa.sa_handler = kick_from_signal;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, &old));
	std::atomic<bool> returned{false}, rescued{false};
	pthread_t self = pthread_self();
	std::thread other([&] {
		usleep(20000);
		cpu->ops->kick(cpu);
		// if the kick did not reach KVM_RUN, end it anyway: a failure,
		// not a hung test
		for (int i = 0; i < 500 && !returned; i++)
			usleep(10000);
		if (!returned) {
			rescued = true;
			pthread_kill(self, SIGALRM);
		}
	});
	vcpu_exit e = run();
	returned = true;
	other.join();
	sigaction(SIGALRM, &old, nullptr);
	EXPECT_FALSE(rescued) << "the kick from another thread did not end KVM_RUN";
	EXPECT_EQ(VCPU_EXIT_DEADLINE, e);
	EXPECT_EQ(entry(SPIN), state().rip);
}

TEST_F(KvmTest, KickDuringPortIoFinishesTheInstruction)
{
	start(KICK_IN_IO);
	on_con = [&](char c) {
		if (c == 'k')
			cpu->ops->kick(cpu);
	};
	on_in99 = [&]() {
		cpu->ops->kick(cpu);
		return 0x5au;
	};
	EXPECT_EQ(VCPU_EXIT_DEADLINE, run());
	EXPECT_EQ(entry(KICK_IN_IO) + 4u, state().rip) << "the OUT completed";
	EXPECT_EQ(VCPU_EXIT_DEADLINE, run());
	x86_state st = state();
	EXPECT_EQ(entry(KICK_IN_IO) + 6u, st.rip) << "the IN completed";
	EXPECT_EQ(0x5au, st.gpr[X86_RAX] & 0xff);
	run_to_end();
	EXPECT_EQ(0x5au, state().gpr[X86_RBX] & 0xff);
	EXPECT_EQ(0, exit_status);
}

TEST_F(KvmTest, TripleFaultShutsDown)
{
	if (software_kvm())
		GTEST_SKIP() << "kvm_pvm's instruction emulator ignores the real-mode "
				"IDT limit, so this host's KVM cannot triple-fault";
	start(TRIPLE_FAULT);
	EXPECT_EQ(VCPU_EXIT_SHUTDOWN, run());
}

TEST_F(KvmTest, ResetRestartsAtTheResetVector)
{
	start(KICK_IN_IO);
	on_in99 = [] { return 0x77u; };
	run_to_end();
	cpu->ops->reset(cpu);
	x86_state st = state();
	EXPECT_EQ(0u, st.gpr[X86_RBX]);
	EXPECT_FALSE(st.halted);
	EXPECT_EQ(0xf000, st.seg[X86_CS].sel);
	EXPECT_EQ(0xffff0000u, st.seg[X86_CS].base);
	EXPECT_EQ(0xfff0u, st.rip);
	EXPECT_EQ(0x0u, st.idtr.base);
	EXPECT_EQ(0xffffu, st.idtr.limit);
}

TEST_F(KvmTest, CpuidHidesWhatTheMachineLacks)
{
	start(CPUID_LEAVES);
	run_to_end();
	ASSERT_EQ(4u, rec.size());
	uint32_t ecx = rec[0], edx = rec[1], ebx = rec[2];
	EXPECT_EQ(0u, ecx & (1u << 21)) << "x2APIC";
	EXPECT_EQ(0u, ecx & (1u << 24)) << "TSC deadline";
	EXPECT_EQ(0u, ecx & (1u << 31)) << "hypervisor";
	EXPECT_EQ(0u, ecx & (1u << 5)) << "VMX";
	EXPECT_EQ(0u, edx & (1u << 9)) << "local APIC";
	EXPECT_EQ(0u, ebx >> 24) << "initial APIC ID";
	if (edx & (1u << 28)) { // kvm_pvm sets HTT whatever it is told
		EXPECT_EQ(1u, (ebx >> 16) & 0xff) << "one logical processor";
	}
	EXPECT_NE(0u, edx & 1u) << "x87 FPU";
	EXPECT_NE(0x4b4d564bu, rec[3]) << "KVM's paravirtual signature leaked";
}

TEST_F(KvmTest, SlotsFollowTheMemoryMap)
{
	uint8_t *rom = map_pages(0x1000), *ram2 = map_pages(0x1000);
	ASSERT_TRUE(rom && ram2);
	memset(rom, 0x11, 0x1000);
	mem_region r{};
	r.base = 0x20000;
	r.size = 0x1000;
	r.rd = rom;
	r.name = "switched";
	ASSERT_EQ(0, mem_map(vm->mem, &r));
	on_con = [&](char c) {
		if (c == 'm') // RAM
			mem_set_access(vm->mem, 0x20000, ram2, ram2);
		if (c == 'w') // reads from ROM, writes to RAM (PAM write-only)
			mem_set_access(vm->mem, 0x20000, rom, ram2);
	};
	start(SLOTS_SWITCH);
	run_to_end();
	EXPECT_EQ((std::vector<uint32_t>{0x11, 0x11, 0x33, 0x11}), rec);
	EXPECT_EQ(0x33, ram2[0]);
	EXPECT_EQ(0x44, ram2[1]);
	EXPECT_EQ(0x11, rom[0]);
	EXPECT_EQ(0x11, rom[1]);
	EXPECT_EQ(0, exit_status);
	munmap(rom, 0x1000);
	munmap(ram2, 0x1000);
}

struct MmioLog {
	std::vector<std::string> ops;
};

uint64_t mmio_value(uint64_t addr, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)(0xa0 + ((addr + i) & 0xf)) << (8 * i);
	return v;
}

uint64_t mmio_fn(void *opaque, uint64_t addr, uint64_t val, unsigned size, int w)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "%c %#llx/%u %#llx", w ? 'w' : 'r',
		 (unsigned long long)addr, size, (unsigned long long)(w ? val : 0));
	static_cast<MmioLog *>(opaque)->ops.push_back(buf);
	return w ? 0 : mmio_value(addr, size);
}

TEST_F(KvmTest, MmioGoesToTheRegionHandler)
{
	MmioLog log;
	mem_region r{};
	r.base = 0x30000;
	r.size = 0x1000;
	r.fn = mmio_fn;
	r.opaque = &log;
	r.name = "device";
	ASSERT_EQ(0, mem_map(vm->mem, &r));
	start(MMIO_FN);
	run_to_end();
	ASSERT_EQ(2u, rec.size());
	EXPECT_EQ((uint32_t)mmio_value(0x30010, 4), rec[0]);
	EXPECT_EQ((uint32_t)mmio_value(0x30031, 2), rec[1]);
	EXPECT_EQ((std::vector<std::string>{"r 0x30010/4 0", "w 0x30020/4 0xdeadbeef",
					     "r 0x30031/2 0"}),
		  log.ops);
}

// Runs fn with stderr going to a file; returns what was written.
std::string capture_stderr(const std::function<void()> &fn)
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	std::string out;
	rewind(tmp);
	char buf[512];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), tmp)) > 0)
		out.append(buf, n);
	fclose(tmp);
	return out;
}

TEST_F(KvmTest, FetchingCodeFromNowhereIsAnErrorWithOneLine)
{
	start(EXEC_UNMAPPED);
	vcpu_exit e = VCPU_EXIT_DEADLINE;
	std::string err = capture_stderr([&] { e = run_to_end(); });
	EXPECT_EQ(VCPU_EXIT_ERROR, e);
	EXPECT_EQ(1, std::count(err.begin(), err.end(), '\n')) << err;
	EXPECT_NE(std::string::npos, err.find("CS:RIP d000:0 ")) << err;
	EXPECT_NE(std::string::npos, err.find("--accel emu")) << err;
}

TEST_F(KvmTest, StateRoundTripsThroughSetAndGet)
{
	x86_state in = state();
	for (int i = 0; i < 16; i++)
		in.gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
	in.rip = 0x12345;
	in.rflags = 0x2 | 0x1 | 0x40 | 0x800; // CF ZF OF
	x86_seg code = {0x08, 0, 0xffffffff, 0xc09b, false};
	x86_seg data = {0x10, 0, 0xffffffff, 0xc093, false};
	in.seg[X86_CS] = code;
	for (int s : {X86_ES, X86_SS, X86_DS, X86_FS, X86_GS})
		in.seg[s] = data;
	in.seg[X86_FS].base = 0x10000;
	in.tr = {0x18, 0x5000, 0x67, 0x008b, false};
	in.gdtr = {0x4000, 0x1f};
	in.idtr = {0x4800, 0x7ff};
	in.cr0 = 0x60000011;
	in.cr2 = 0xabc000;
	in.cr4 = 0x200; // OSFXSR
	in.dr[0] = 0x1000;
	in.dr[7] = 0x401;
	in.msr.sysenter_cs = 0x8;
	in.msr.sysenter_esp = 0x7000;
	in.msr.sysenter_eip = 0x1234;
	in.msr.star = 0x0023001000000000ull;
	in.msr.lstar = 0xffffffff81000000ull;
	in.msr.cstar = 0xffffffff82000000ull;
	in.msr.fmask = 0x700;
	in.msr.kernel_gs_base = 0xffff888000000000ull;
	in.fpu.fcw = 0x27f;
	in.fpu.mxcsr = 0x1fa0;
	for (int i = 0; i < 16; i++)
		memset(in.fpu.xmm[i], 0x10 + i, 16);
	in.fpu.ftw = 0x80; // physical register 7 valid: ST(0) after one load
	static const uint8_t one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};
	memcpy(in.fpu.st[0], one, 10);
	in.fpu.fsw = 0x3800; // TOP = 7
	ASSERT_EQ(0, cpu->ops->set_state(cpu, &in));

	x86_state out = state();
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(in.gpr[i], out.gpr[i]) << "gpr " << i;
	EXPECT_EQ(in.rip, out.rip);
	EXPECT_EQ(in.rflags, out.rflags);
	for (int s = X86_ES; s <= X86_GS; s++) {
		EXPECT_EQ(in.seg[s].sel, out.seg[s].sel) << "seg " << s;
		EXPECT_EQ(in.seg[s].base, out.seg[s].base) << "seg " << s;
		EXPECT_EQ(in.seg[s].limit, out.seg[s].limit) << "seg " << s;
		EXPECT_EQ(in.seg[s].attr & 0xf0ff, out.seg[s].attr & 0xf0ff) << "seg " << s;
	}
	EXPECT_EQ(in.tr.base, out.tr.base);
	EXPECT_EQ(in.tr.limit, out.tr.limit);
	EXPECT_EQ(in.gdtr.base, out.gdtr.base);
	EXPECT_EQ(in.gdtr.limit, out.gdtr.limit);
	EXPECT_EQ(in.idtr.base, out.idtr.base);
	EXPECT_EQ(in.idtr.limit, out.idtr.limit);
	EXPECT_EQ(in.cr0, out.cr0);
	EXPECT_EQ(in.cr2, out.cr2);
	EXPECT_EQ(in.cr4, out.cr4);
	EXPECT_EQ(in.dr[0], out.dr[0]);
	EXPECT_EQ(in.dr[7], out.dr[7]);
	EXPECT_EQ(in.msr.sysenter_cs, out.msr.sysenter_cs);
	EXPECT_EQ(in.msr.sysenter_esp, out.msr.sysenter_esp);
	EXPECT_EQ(in.msr.sysenter_eip, out.msr.sysenter_eip);
	EXPECT_EQ(in.msr.star, out.msr.star);
	EXPECT_EQ(in.msr.lstar, out.msr.lstar);
	EXPECT_EQ(in.msr.cstar, out.msr.cstar);
	EXPECT_EQ(in.msr.fmask, out.msr.fmask);
	EXPECT_EQ(in.msr.kernel_gs_base, out.msr.kernel_gs_base);
	EXPECT_EQ(in.msr.pat, out.msr.pat);
	EXPECT_EQ(in.fpu.fcw, out.fpu.fcw);
	EXPECT_EQ(in.fpu.fsw, out.fpu.fsw);
	EXPECT_EQ(in.fpu.ftw, out.fpu.ftw);
	EXPECT_EQ(in.fpu.mxcsr, out.fpu.mxcsr);
	EXPECT_EQ(0, memcmp(in.fpu.st[0], out.fpu.st[0], 10));
	EXPECT_EQ(0, memcmp(in.fpu.xmm, out.fpu.xmm, sizeof(in.fpu.xmm)));
}

TEST_F(KvmTest, AGuestMovesToAFreshVcpuMidway)
{
	start(ROUND_TRIP);
	run_to_end();
	std::vector<uint32_t> whole = rec;
	uint32_t x = 1;
	uint32_t acc = lcg_rounds(x, 0, 600);
	ASSERT_EQ(2u, whole.size());
	EXPECT_EQ(acc, whole[0]);
	x = 1;
	EXPECT_EQ(lcg_rounds(x, 0, 300), whole[1]);

	// again, but move to a new vCPU at the 'k' OUT, with x87/SSE state
	// (which the snippet leaves alone) along for the ride
	rec.clear();
	vm->end = VM_END_NONE;
	exit_status = -1;
	cpu->ops->reset(cpu);
	start(ROUND_TRIP);
	x86_state st = state();
	st.fpu.fcw = 0x27f;
	st.fpu.mxcsr = 0x1f90;
	for (int i = 0; i < 16; i++)
		memset(st.fpu.xmm[i], 0xa0 + i, 16);
	ASSERT_EQ(0, cpu->ops->set_state(cpu, &st));
	on_con = [&](char c) {
		if (c == 'k')
			cpu->ops->kick(cpu);
	};
	ASSERT_EQ(VCPU_EXIT_DEADLINE, run());
	st = state();
	EXPECT_EQ(0u, rec.size());
	cpu->ops->destroy(cpu);
	cpu = nullptr;
	ASSERT_EQ(0, kvm_vcpu_ops.create(vm, &cpu));
	vm->cpu = cpu;
	ASSERT_EQ(0, cpu->ops->set_state(cpu, &st));
	x86_state moved = state();
	EXPECT_EQ(st.rip, moved.rip);
	EXPECT_EQ(st.gpr[X86_RAX], moved.gpr[X86_RAX]);
	EXPECT_EQ(st.gpr[X86_RBX], moved.gpr[X86_RBX]);
	EXPECT_EQ(0x27f, moved.fpu.fcw);
	EXPECT_EQ(0x1f90u, moved.fpu.mxcsr);
	EXPECT_EQ(0, memcmp(st.fpu.xmm, moved.fpu.xmm, sizeof(st.fpu.xmm)));
	on_con = nullptr;
	run_to_end();
	EXPECT_EQ(whole, rec);
	EXPECT_EQ(0, exit_status);
}

// A round-trip snippet, moved at its 'k' OUT from one backend to another;
// it must end as if it had run on one.
void move_between(KvmTest &t, Snippet snippet, const vcpu_ops *from, const vcpu_ops *to)
{
	if (t.cpu->ops != from) {
		t.cpu->ops->destroy(t.cpu);
		t.cpu = nullptr;
		ASSERT_EQ(0, from->create(t.vm, &t.cpu));
		t.vm->cpu = t.cpu;
	}
	t.start(snippet);
	// x87 state the snippet leaves alone travels along: ST(0) = 1.0
	x86_state st = t.state();
	static const uint8_t one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};
	st.fpu.fcw = 0x27f;
	st.fpu.fsw = 0x3800; // TOP = 7
	st.fpu.ftw = 0x80;   // physical register 7 in use
	memcpy(st.fpu.st[0], one, 10);
	ASSERT_EQ(0, t.cpu->ops->set_state(t.cpu, &st));
	t.on_con = [&](char c) {
		if (c == 'k')
			t.cpu->ops->kick(t.cpu);
	};
	ASSERT_EQ(VCPU_EXIT_DEADLINE, t.run());
	ASSERT_EQ(0u, t.rec.size());
	st = t.state();
	t.cpu->ops->destroy(t.cpu);
	t.cpu = nullptr;
	ASSERT_EQ(0, to->create(t.vm, &t.cpu));
	t.vm->cpu = t.cpu;
	ASSERT_EQ(0, t.cpu->ops->set_state(t.cpu, &st));
	x86_state moved = t.state();
	EXPECT_EQ(0x27f, moved.fpu.fcw);
	EXPECT_EQ(0x3800, moved.fpu.fsw);
	EXPECT_EQ(0x80, moved.fpu.ftw);
	EXPECT_EQ(0, memcmp(one, moved.fpu.st[0], 10));
	EXPECT_EQ(st.rip, moved.rip);
	EXPECT_EQ(st.seg[X86_CS].sel, moved.seg[X86_CS].sel);
	EXPECT_EQ(st.seg[X86_CS].base, moved.seg[X86_CS].base);
	EXPECT_EQ(st.cr0, moved.cr0);
	EXPECT_EQ(st.gdtr.base, moved.gdtr.base);
	EXPECT_EQ(st.gdtr.limit, moved.gdtr.limit);
	t.on_con = nullptr;
	t.run_to_end();
	uint32_t x = 1;
	uint32_t whole = lcg_rounds(x, 0, 600);
	x = 1;
	EXPECT_EQ((std::vector<uint32_t>{whole, lcg_rounds(x, 0, 300)}), t.rec)
		<< from->name << " -> " << to->name << ", snippet " << snippet;
	EXPECT_EQ(0, t.exit_status);
}

TEST_F(KvmTest, AGuestMovesFromKvmToTheSoftwareCpuMidway)
{
	move_between(*this, ROUND_TRIP, &kvm_vcpu_ops, &emu_vcpu_ops);
	rec.clear();
	vm->end = VM_END_NONE;
	move_between(*this, ROUND_TRIP_PM32, &kvm_vcpu_ops, &emu_vcpu_ops);
}

TEST_F(KvmTest, AGuestMovesFromTheSoftwareCpuToKvmMidway)
{
	move_between(*this, ROUND_TRIP, &emu_vcpu_ops, &kvm_vcpu_ops);
	rec.clear();
	vm->end = VM_END_NONE;
	move_between(*this, ROUND_TRIP_PM32, &emu_vcpu_ops, &kvm_vcpu_ops);
}

TEST_F(KvmTest, AProtectedModeGuestMovesToAFreshVcpuMidway)
{
	move_between(*this, ROUND_TRIP_PM32, &kvm_vcpu_ops, &kvm_vcpu_ops);
}

// The machine's own run loop (vm_run): a timer raises INTR at its deadline.
// A halted guest sleeps until then; a spinning one is kicked out of KVM_RUN
// by the loop's host timer signal.
void raise_intr(void *opaque)
{
	auto *t = static_cast<KvmTest *>(opaque);
	vm_set_intr(t->vm, true);
}

void run_loop_until_timer(KvmTest &t, Snippet guest)
{
	t.cfg.timeout = 20; // a hang ends as a failure, not a stuck test
	t.start(guest);
	t.set_ivt(INTR_VECTOR, EXIT_HANDLER);
	struct timer tm;
	timer_init(&tm, t.vm->clock, raise_intr, &t, "test");
	uint64_t t0 = clock_now(t.vm->clock);
	timer_mod(&tm, t0 + 30 * NS_PER_MS);
	vm_result res = vm_run(t.vm);
	uint64_t took = clock_now(t.vm->clock) - t0;
	EXPECT_EQ(VM_END_EXIT, res.end);
	EXPECT_EQ(9, res.status);
	EXPECT_EQ("X", t.con);
	EXPECT_EQ(1, t.acks);
	EXPECT_GE(took, 30 * NS_PER_MS) << "the interrupt came before its timer";
	EXPECT_LT(took, 10 * NS_PER_SEC);
	timer_del(&tm);
}

TEST_F(KvmTest, RunLoopWakesAHaltedGuestAtItsTimer)
{
	run_loop_until_timer(*this, HALT_THEN_INTR);
}

TEST_F(KvmTest, RunLoopKicksASpinningGuestAtItsTimer)
{
	run_loop_until_timer(*this, STI_SPIN);
}

} // namespace

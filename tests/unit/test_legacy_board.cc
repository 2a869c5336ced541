// The legacy devices as the board wires them, and the run loop's handling
// of guest resets (--no-reboot) and of timers armed while the CPU runs,
// driven by a scripted stand-in for the CPU backend.
#include <gtest/gtest.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <functional>
#include <string>
#include "pcvm.h"
#include "run.h"

namespace {

struct Board;

struct FakeVcpu {
	struct vcpu vcpu; // first, as every backend embeds it
	Board *owner;
};

struct Board : ::testing::Test {
	struct vm_config cfg = {};
	struct vm *vm = nullptr;
	FakeVcpu cpu = {};
	std::function<enum vcpu_exit(Board &)> script;
	int runs = 0, resets = 0;
	bool intr = false;
	std::string dir;

	void SetUp() override
	{
		dir = temp_dir();
		write_file(dir + "/bios.bin", std::string(65536, '\xff'));
		cfg.mem_size = 16u << 20;
		cfg.accel = ACCEL_EMU;
		cfg.bios = strdup((dir + "/bios.bin").c_str());
		cfg.display = DISPLAY_NONE;
		cfg.serial = SERIAL_NONE;
		cfg.debug_exit_port = -1;
	}
	void TearDown() override
	{
		vm_destroy(vm);
		free((void *)cfg.bios);
	}
	void build();
	void out(uint16_t port, uint8_t v) { ioport_write(vm->io, port, v, 1); }
	uint8_t in(uint16_t port) { return (uint8_t)ioport_read(vm->io, port, 1); }
};

Board *owner(struct vcpu *c) { return reinterpret_cast<FakeVcpu *>(c)->owner; }

void fake_destroy(struct vcpu *) {}
void fake_reset(struct vcpu *c) { owner(c)->resets++; }
enum vcpu_exit fake_run(struct vcpu *c, uint64_t)
{
	Board *b = owner(c);
	b->runs++;
	if (b->runs > 50)
		return VCPU_EXIT_ERROR; // a script that never ends
	return b->script(*b);
}
void fake_set_intr(struct vcpu *c, bool level) { owner(c)->intr = level; }
void fake_nmi(struct vcpu *) {}
void fake_set_a20(struct vcpu *, bool) {}
void fake_kick(struct vcpu *) {}
int fake_get_state(struct vcpu *, struct x86_state *) { return -ENOSYS; }
int fake_set_state(struct vcpu *, const struct x86_state *) { return -ENOSYS; }
uint64_t fake_icount(struct vcpu *) { return 0; }

const struct vcpu_ops fake_ops = {
	"fake", nullptr, fake_destroy, fake_reset, fake_run, fake_set_intr,
	fake_nmi, fake_set_a20, fake_kick, fake_get_state, fake_set_state, fake_icount,
	nullptr, nullptr, // watch_exec, stats: none
};

void Board::build()
{
	ASSERT_EQ(0, vm_create(&cfg, &vm));
	vm->cpu->ops->destroy(vm->cpu);
	cpu.vcpu.ops = &fake_ops;
	cpu.vcpu.vm = vm;
	cpu.owner = this;
	vm->cpu = &cpu.vcpu;
}

TEST_F(Board, DevicesAreWired)
{
	build();
	const struct { uint16_t port; const char *owner; } ports[] = {
		{0x20, "pic-master"}, {0xa1, "pic-slave"}, {0x4d0, "elcr"},
		{0x40, "pit"}, {0x61, "port61"}, {0x71, "rtc"}, {0x60, "i8042"},
		{0x64, "i8042"}, {0x92, "port92"}, {0x08, "dma1"}, {0xd6, "dma2"},
		{0x80, "dma-page"}, {0x3f8, "uart"}, {0x3ff, "uart"}, {0x3f5, "fdc"},
		{0x3f7, "fdc"}, {0xe9, "debugcon"},
	};
	for (auto &p : ports)
		EXPECT_STREQ(p.owner, ioport_owner(vm->io, p.port)) << std::hex << p.port;
	EXPECT_EQ(nullptr, ioport_owner(vm->io, 0x3f6)) << "0x3F6 is left to IDE";
	EXPECT_NE(nullptr, vm->intr_ack);
	EXPECT_NE(nullptr, vm->key_event);
	ASSERT_NE(nullptr, vm->rtc);
	ASSERT_NE(nullptr, vm->com1);
	ASSERT_NE(nullptr, vm->kbc);
	// 16 MiB: 15 MiB of extended memory, nothing above 16 MiB.
	EXPECT_EQ(0x00, rtc_cmos_get(vm->rtc, 0x30));
	EXPECT_EQ(0x3c, rtc_cmos_get(vm->rtc, 0x31));
	EXPECT_EQ(0x00, rtc_cmos_get(vm->rtc, 0x34));
	EXPECT_EQ(0x00, rtc_cmos_get(vm->rtc, 0x10)) << "no floppy drive";
	EXPECT_EQ(0x12, rtc_cmos_get(vm->rtc, 0x3d)) << "boot order c, a";
	EXPECT_EQ(0x30, rtc_cmos_get(vm->rtc, 0x38)) << "then d, signature checked";
	// An interrupt travels from a device through the PIC to the CPU.
	out(0x20, 0x11);
	out(0x21, 0x08);
	out(0x21, 0x04);
	out(0x21, 0x01);
	out(0x21, 0xfd); // IRQ1 only
	vm_key_event(vm, 0x1e, true);
	EXPECT_TRUE(intr);
	EXPECT_EQ(0x09, vm_intr_ack(vm));
	EXPECT_EQ(0x1e, in(0x60));
}

TEST_F(Board, FloppyInDriveA)
{
	write_file(dir + "/fd.img", std::string(1474560, '\0'));
	std::string path = dir + "/fd.img";
	cfg.fda = path.c_str();
	build();
	EXPECT_EQ(0x40, rtc_cmos_get(vm->rtc, 0x10));
	EXPECT_EQ(0x01, rtc_cmos_get(vm->rtc, 0x14) & 0xc1);
}

TEST_F(Board, NoRebootEndsOnAKeyboardControllerReset)
{
	cfg.no_reboot = true;
	build();
	script = [](Board &b) {
		b.out(0x64, 0xfe);
		return VCPU_EXIT_STOP;
	};
	struct vm_result r = vm_run(vm);
	EXPECT_EQ(VM_END_REBOOT, r.end);
	EXPECT_EQ(4, r.status);
	EXPECT_EQ(0, resets);
}

TEST_F(Board, NoRebootEndsOnAFastReset)
{
	cfg.no_reboot = true;
	build();
	script = [](Board &b) {
		b.out(0x92, 0x01);
		return VCPU_EXIT_DEADLINE;
	};
	struct vm_result r = vm_run(vm);
	EXPECT_EQ(VM_END_REBOOT, r.end);
	EXPECT_EQ(4, r.status);
}

TEST_F(Board, NoRebootEndsOnATripleFault)
{
	cfg.no_reboot = true;
	build();
	script = [](Board &) { return VCPU_EXIT_SHUTDOWN; };
	struct vm_result r = vm_run(vm);
	EXPECT_EQ(VM_END_TRIPLE_FAULT, r.end);
	EXPECT_EQ(5, r.status);
}

TEST_F(Board, WithoutNoRebootTheMachineResets)
{
	cfg.debug_exit_port = 0xf4;
	build();
	script = [](Board &b) {
		if (b.runs == 1) {
			b.out(0x21, 0x00); // unmask everything
			b.out(0x64, 0xfe);
			return VCPU_EXIT_STOP;
		}
		if (b.runs == 2) {
			EXPECT_EQ(1, b.resets);
			EXPECT_EQ(0xff, b.in(0x21)) << "devices back in their power-on state";
			return VCPU_EXIT_SHUTDOWN; // triple fault: reset again
		}
		EXPECT_EQ(2, b.resets);
		b.out(0xf4, 0x2a);
		return VCPU_EXIT_STOP;
	};
	struct vm_result r = vm_run(vm);
	EXPECT_EQ(VM_END_EXIT, r.end);
	EXPECT_EQ(0x2a, r.status);
}

TEST_F(Board, TimerArmedDuringTheSliceWakesAHaltedGuest)
{
	cfg.debug_exit_port = 0xf4;
	cfg.timeout = 10;
	build();
	script = [](Board &b) {
		if (b.runs == 1) {
			// Initialize the PIC, unmask IRQ0, start a 1 ms one-shot
			// on PIT channel 0, and halt: the only timer is the one
			// this slice armed.
			b.out(0x20, 0x11);
			b.out(0x21, 0x08);
			b.out(0x21, 0x04);
			b.out(0x21, 0x01);
			b.out(0x21, 0xfe);
			b.out(0x43, 0x30);
			b.out(0x40, 0xa9);
			b.out(0x40, 0x04);
			return VCPU_EXIT_HALT;
		}
		if (!b.intr)
			return VCPU_EXIT_HALT;
		b.out(0xf4, 0x11);
		return VCPU_EXIT_STOP;
	};
	struct vm_result r = vm_run(vm);
	EXPECT_EQ(VM_END_EXIT, r.end) << "timed out: the halted guest never woke";
	EXPECT_EQ(0x11, r.status);
}

} // namespace

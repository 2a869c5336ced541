// The 8042 and its PS/2 devices: controller commands, command byte, IRQ1
// and IRQ12, translation, scancode sets, typematic repeat, LEDs, the mouse's
// command set and packets, A20 and reset through the output port and port
// 0x92.
#include <gtest/gtest.h>
#include <vector>
#include "pcvm.h"
#include "vm_fixture.h"

namespace {

using Bytes = std::vector<int>;

struct KbcTest : ::testing::Test {
	VmFixture f;
	struct kbc *kbc = nullptr;
	void SetUp() override { ASSERT_EQ(0, kbc_create(f.vm, &kbc)); }

	void cmd(uint8_t c) { f.outb(0x64, c); }
	void data(uint8_t v) { f.outb(0x60, v); }
	uint8_t status() { return f.inb(0x64); }
	// Reads every byte waiting; mouse bytes are returned as 0x100 | byte.
	Bytes drain()
	{
		Bytes b;
		for (int i = 0; i < 200 && (status() & 1); i++) {
			bool aux = status() & 0x20;
			b.push_back(f.inb(0x60) | (aux ? 0x100 : 0));
		}
		return b;
	}
	void ctr(uint8_t v)
	{
		cmd(0x60);
		data(v);
	}
	void key(unsigned k, bool down) { vm_key_event(f.vm, k, down); }
};

TEST_F(KbcTest, ControllerSelfTestAndInterfaceTests)
{
	EXPECT_EQ(0x10, status() & 0x17) << "unlocked, empty, no system flag yet";
	cmd(0xaa);
	EXPECT_EQ(Bytes{0x55}, drain());
	EXPECT_EQ(0x04, status() & 0x04) << "system flag after the self-test";
	EXPECT_EQ(0x08, status() & 0x08) << "last write was a command";
	cmd(0xab);
	EXPECT_EQ(Bytes{0x00}, drain());
	cmd(0xa9);
	EXPECT_EQ(Bytes{0x00}, drain());
	cmd(0xa4);
	EXPECT_EQ(Bytes{0xf1}, drain()) << "no password installed";
	cmd(0xc0);
	EXPECT_EQ(Bytes{0x80}, drain());
}

TEST_F(KbcTest, CommandByteAndInternalRam)
{
	ctr(0x65);
	cmd(0x20);
	EXPECT_EQ(Bytes{0x65}, drain());
	EXPECT_EQ(0x04, status() & 0x04) << "system flag follows the command byte";
	cmd(0x63);
	data(0x99);
	cmd(0x23);
	EXPECT_EQ(Bytes{0x99}, drain());
	cmd(0xad);
	cmd(0xa7);
	cmd(0x20);
	EXPECT_EQ(Bytes{0x75}, drain());
	cmd(0xae);
	cmd(0xa8);
	cmd(0x20);
	EXPECT_EQ(Bytes{0x45}, drain());
}

TEST_F(KbcTest, KeyboardResetAndIdentify)
{
	data(0xff);
	EXPECT_EQ((Bytes{0xfa, 0xaa}), drain());
	EXPECT_EQ(0, status() & 0x08) << "last write was data";
	data(0xf2);
	EXPECT_EQ((Bytes{0xfa, 0xab, 0x41}), drain()) << "0x83 translated";
	ctr(0x01);
	data(0xf2);
	EXPECT_EQ((Bytes{0xfa, 0xab, 0x83}), drain());
	data(0xee);
	EXPECT_EQ(Bytes{0xee}, drain());
	data(0x12);
	EXPECT_EQ(Bytes{0xfe}, drain()) << "unknown command";
	data(0xfe);
	EXPECT_EQ(Bytes{0xfe}, drain()) << "resend repeats the last byte";
}

TEST_F(KbcTest, ScancodeSetSelection)
{
	ctr(0x00);
	data(0xf0);
	data(0x00);
	EXPECT_EQ((Bytes{0xfa, 0xfa, 0x02}), drain());
	data(0xf0);
	data(0x01);
	data(0xf0);
	data(0x00);
	EXPECT_EQ((Bytes{0xfa, 0xfa, 0xfa, 0xfa, 0x01}), drain());
	data(0xf0);
	data(0x03);
	EXPECT_EQ((Bytes{0xfa, 0xfe}), drain()) << "set 3 is refused";
	ctr(0x40);
	data(0xf0);
	data(0x02);
	data(0xf0);
	data(0x00);
	EXPECT_EQ((Bytes{0xfa, 0xfa, 0xfa, 0xfa, 0x41}), drain())
		<< "the set number read through translation";
}

TEST_F(KbcTest, KeysTranslatedToSet1)
{
	ctr(0x40);
	key(0x1e, true); // A
	key(0x1e, false);
	key(0xe048, true); // up arrow
	key(0xe048, false);
	key(0x1d, true); // left control
	key(0xe01d, false); // right control up
	key(0x41, true); // F7: set 2 0x83
	EXPECT_EQ((Bytes{0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8, 0x1d, 0xe0, 0x9d, 0x41}), drain());
	key(0xe037, true);
	key(0xe037, false);
	EXPECT_EQ((Bytes{0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa}), drain());
	key(KBC_KEY_PAUSE, true);
	key(KBC_KEY_PAUSE, false);
	EXPECT_EQ((Bytes{0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5}), drain());
}

TEST_F(KbcTest, KeysInSet2Untranslated)
{
	ctr(0x00);
	key(0x1e, true);
	key(0x1e, false);
	key(0xe048, true);
	key(0xe048, false);
	EXPECT_EQ((Bytes{0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75}), drain());
	key(0xe037, true);
	key(0xe037, false);
	EXPECT_EQ((Bytes{0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12}), drain());
	key(KBC_KEY_PAUSE, true);
	EXPECT_EQ((Bytes{0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77}), drain());
	// Every set 1 key the table knows round-trips through translation.
	ctr(0x40);
	for (unsigned c = 1; c < 0x80; c++) {
		key(c, true);
		Bytes b = drain();
		if (b.empty())
			continue;
		EXPECT_EQ(Bytes{(int)c}, b) << std::hex << c;
	}
}

TEST_F(KbcTest, KeysInSet1)
{
	ctr(0x00);
	data(0xf0);
	data(0x01);
	drain();
	key(0x10, true);
	key(0xe052, false);
	EXPECT_EQ((Bytes{0x10, 0xe0, 0xd2}), drain());
}

TEST_F(KbcTest, Irq1FollowsTheOutputBuffer)
{
	ctr(0x40); // translate, IRQ off
	key(0x1e, true);
	EXPECT_EQ(0, f.level[1]);
	ctr(0x41);
	EXPECT_EQ(1, f.level[1]);
	key(0x1e, false);
	f.clear_edges();
	EXPECT_EQ(0x1e, f.inb(0x60));
	EXPECT_EQ(1, f.level[1]) << "the next byte is already there";
	EXPECT_EQ(1, f.edges[1]) << "seen as a new edge";
	EXPECT_EQ(0x9e, f.inb(0x60));
	EXPECT_EQ(0, f.level[1]);
	EXPECT_EQ(0, f.level[12]);
}

TEST_F(KbcTest, DisabledInterfaceHoldsKeys)
{
	ctr(0x40);
	cmd(0xad);
	key(0x02, true);
	EXPECT_EQ(0, status() & 1);
	cmd(0xae);
	EXPECT_EQ(Bytes{0x02}, drain());
	data(0xf5); // the keyboard itself stops scanning
	drain();
	key(0x03, true);
	EXPECT_TRUE(drain().empty());
	data(0xf4);
	EXPECT_EQ(Bytes{0xfa}, drain());
	key(0x03, true);
	EXPECT_EQ(Bytes{0x03}, drain());
}

TEST_F(KbcTest, LedsAndTypematic)
{
	data(0xed);
	data(0x07);
	EXPECT_EQ((Bytes{0xfa, 0xfa}), drain());
	EXPECT_EQ(KBC_LED_SCROLL | KBC_LED_NUM | KBC_LED_CAPS, kbc_get_leds(kbc));
	data(0xf3);
	data(0x00); // 250 ms, 30 characters/s
	EXPECT_EQ((Bytes{0xfa, 0xfa}), drain());
	ctr(0x40);
	key(0x1e, true);
	drain();
	int repeats = 0;
	for (uint64_t t = 0; t <= 250000000 + 1000000000; t += 1000000) {
		f.set_time(t);
		repeats += (int)drain().size();
	}
	EXPECT_NEAR(30, repeats, 1) << "a second of repeats at 30/s after 250 ms";
	key(0x1e, false);
	EXPECT_EQ(Bytes{0x9e}, drain());
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock));
	// The default rate: 10.9/s after 500 ms.
	data(0xf6);
	drain();
	key(0x1e, true);
	drain();
	repeats = 0;
	uint64_t start = f.now_ns;
	for (uint64_t t = start; t <= start + 1500000000; t += 1000000) {
		f.set_time(t);
		repeats += (int)drain().size();
	}
	EXPECT_NEAR(11, repeats, 1);
}

TEST_F(KbcTest, MouseThroughTheController)
{
	cmd(0xd4);
	data(0xf2);
	EXPECT_EQ((Bytes{0x1fa, 0x100}), drain()) << "ACK, ID 0, as mouse bytes";
	cmd(0xd4);
	data(0xe9);
	EXPECT_EQ((Bytes{0x1fa, 0x100, 0x102, 0x100 | 100}), drain()) << "status, res 2, 100/s";
	kbc_mouse_event(kbc, 5, 5, 0, 0);
	EXPECT_TRUE(drain().empty()) << "reporting is off";
	cmd(0xd4);
	data(0xf4);
	EXPECT_EQ(Bytes{0x1fa}, drain());
	EXPECT_EQ(0, f.level[12]);
	kbc_mouse_event(kbc, 3, -2, 0, KBC_MOUSE_LEFT);
	EXPECT_EQ(1, f.level[12]) << "IRQ12 with the aux interrupt enabled";
	EXPECT_EQ(0, f.level[1]);
	EXPECT_EQ((Bytes{0x100 | 0x29, 0x103, 0x1fe}), drain());
	kbc_mouse_event(kbc, 300, 0, 0, KBC_MOUSE_LEFT);
	EXPECT_EQ((Bytes{0x109, 0x1ff, 0x100, 0x109, 0x100 | 45, 0x100}), drain())
		<< "large moves are split";
	cmd(0xa7); // aux interface off: bytes wait
	kbc_mouse_event(kbc, 0, 0, 0, 0);
	EXPECT_TRUE(drain().empty());
	cmd(0xa8);
	EXPECT_EQ((Bytes{0x108, 0x100, 0x100}), drain());
}

TEST_F(KbcTest, MouseWheelModes)
{
	auto send = [&](uint8_t v) {
		cmd(0xd4);
		data(v);
	};
	for (uint8_t r : {200, 100, 80}) {
		send(0xf3);
		send(r);
	}
	send(0xf2);
	Bytes b = drain();
	EXPECT_EQ(0x103, b.back()) << "IntelliMouse";
	send(0xf4);
	drain();
	kbc_mouse_event(kbc, 0, 0, 2, 0);
	EXPECT_EQ((Bytes{0x108, 0x100, 0x100, 0x102}), drain());
	for (uint8_t r : {200, 200, 80}) {
		send(0xf3);
		send(r);
	}
	send(0xf2);
	b = drain();
	EXPECT_EQ(0x104, b.back()) << "IntelliMouse Explorer";
	kbc_mouse_event(kbc, 0, 0, -1, KBC_MOUSE_4TH);
	EXPECT_EQ((Bytes{0x108, 0x100, 0x100, 0x11f}), drain());
	send(0xff);
	EXPECT_EQ((Bytes{0x1fa, 0x1aa, 0x100}), drain()) << "reset: ACK, BAT, ID 0";
}

TEST_F(KbcTest, MouseRemoteAndWrapModes)
{
	auto send = [&](uint8_t v) {
		cmd(0xd4);
		data(v);
	};
	send(0xf0); // remote
	send(0xf4);
	drain();
	kbc_mouse_event(kbc, 1, 1, 0, 0);
	EXPECT_TRUE(drain().empty()) << "remote mode waits for Read Data";
	send(0xeb);
	EXPECT_EQ((Bytes{0x1fa, 0x108, 0x101, 0x101}), drain());
	send(0xee);
	drain();
	send(0x55);
	EXPECT_EQ(Bytes{0x155}, drain()) << "wrap mode echoes";
	send(0xec);
	EXPECT_EQ(Bytes{0x1fa}, drain());
	send(0xe7);
	send(0xea);
	drain();
	kbc_mouse_event(kbc, 4, 0, 0, 0);
	EXPECT_EQ((Bytes{0x108, 0x106, 0x100}), drain()) << "2:1 scaling maps 4 to 6";
}

TEST_F(KbcTest, WriteOutputBuffers)
{
	cmd(0xd2);
	data(0x42);
	EXPECT_EQ(Bytes{0x42}, drain());
	cmd(0xd3);
	data(0x43);
	EXPECT_EQ(Bytes{0x143}, drain());
}

TEST_F(KbcTest, A20ThroughOutputPortCommandsAndPort92)
{
	EXPECT_TRUE(f.vm->a20);
	cmd(0xd0);
	EXPECT_EQ(0x03, drain()[0] & 0x03);
	cmd(0xd1);
	data(0x01);
	EXPECT_FALSE(f.vm->a20);
	EXPECT_FALSE(f.vm->reset_requested);
	f.outb(0x92, 0x02);
	EXPECT_TRUE(f.vm->a20) << "port 0x92 bit 1 enables A20 too";
	EXPECT_EQ(0x02, f.inb(0x92));
	f.outb(0x92, 0x00);
	EXPECT_FALSE(f.vm->a20);
	cmd(0xdf);
	EXPECT_TRUE(f.vm->a20);
	cmd(0xdd);
	EXPECT_FALSE(f.vm->a20);
	f.reset();
	EXPECT_TRUE(f.vm->a20) << "on again after a machine reset";
}

TEST_F(KbcTest, ResetPaths)
{
	cmd(0xfe);
	EXPECT_TRUE(f.vm->reset_requested);
	f.vm->reset_requested = false;
	cmd(0xff);
	EXPECT_FALSE(f.vm->reset_requested) << "0xFF pulses no line";
	cmd(0xd1);
	data(0xfe);
	EXPECT_TRUE(f.vm->reset_requested);
	f.vm->reset_requested = false;
	f.outb(0x92, 0x01);
	EXPECT_TRUE(f.vm->reset_requested);
	f.vm->reset_requested = false;
	f.outb(0x92, 0x01);
	EXPECT_FALSE(f.vm->reset_requested) << "only a 0 to 1 change resets";
}

TEST_F(KbcTest, MachineResetRestoresPowerOnState)
{
	ctr(0x00);
	key(0x1e, true);
	data(0xf0);
	data(0x01);
	f.reset();
	EXPECT_TRUE(drain().empty());
	cmd(0x20);
	EXPECT_EQ(Bytes{0x43}, drain());
	key(0x1e, true);
	EXPECT_EQ(Bytes{0x1e}, drain()) << "set 2 again, translated";
}

TEST_F(KbcTest, SeaBiosKeyboardSetup)
{
	// The sequence SeaBIOS's ps2port.c runs, with its expectations.
	auto wctr = [&](uint8_t v) { ctr(v); };
	drain();
	cmd(0xad);
	cmd(0xa7);
	drain();
	cmd(0xaa);
	EXPECT_EQ(Bytes{0x55}, drain());
	cmd(0xab);
	EXPECT_EQ(Bytes{0x00}, drain());
	wctr(0x30);
	wctr(0x20); // keyboard port enabled, IRQs off
	data(0xff);
	EXPECT_EQ((Bytes{0xfa, 0xaa}), drain());
	data(0xf5);
	EXPECT_EQ(Bytes{0xfa}, drain());
	data(0xf0);
	data(0x02);
	EXPECT_EQ((Bytes{0xfa, 0xfa}), drain());
	wctr(0x61);
	data(0xf4);
	EXPECT_EQ(1, f.level[1]);
	EXPECT_EQ(Bytes{0xfa}, drain());
	key(0x1c, true);
	EXPECT_EQ(1, f.level[1]);
	EXPECT_EQ(Bytes{0x1c}, drain());
}

} // namespace

// The 8254: every mode's OUT waveform and counter values against virtual
// time, gate handling through port 0x61, latches, read-back, BCD, IRQ0.
#include <gtest/gtest.h>
#include "pcvm.h"
#include "vm_fixture.h"

namespace {

// Virtual time of input clock edge k.
uint64_t at(int64_t k)
{
	return (uint64_t)(((unsigned __int128)k * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

struct PitTest : ::testing::Test {
	VmFixture f;
	struct pit *pit = nullptr;
	void SetUp() override { ASSERT_EQ(0, pit_create(f.vm, &pit)); }

	void tick(int64_t k) { f.set_time(at(k)); }
	void program(int ch, int mode, uint16_t count, bool bcd = false)
	{
		f.outb(0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1 | (bcd ? 1 : 0)));
		f.outb((uint16_t)(0x40 + ch), (uint8_t)count);
		f.outb((uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
	}
	uint16_t read(int ch) // live read, LSB then MSB
	{
		uint8_t lo = f.inb((uint16_t)(0x40 + ch));
		return (uint16_t)(lo | f.inb((uint16_t)(0x40 + ch)) << 8);
	}
	uint16_t latched(int ch)
	{
		f.outb(0x43, (uint8_t)(ch << 6));
		return read(ch);
	}
	bool out(int ch) { return pit_get_out(pit, ch); }
	// OUT levels of channel ch at clocks [from, to).
	std::string wave(int ch, int64_t from, int64_t to)
	{
		std::string s;
		for (int64_t k = from; k < to; k++) {
			tick(k);
			s += out(ch) ? '1' : '0';
		}
		return s;
	}
	void gate2(bool on) { f.outb(0x61, on ? 1 : 0); }
};

TEST_F(PitTest, Mode0InterruptOnTerminalCount)
{
	tick(10);
	program(0, 0, 5); // written at clock 10, loaded at 11
	tick(11);
	EXPECT_EQ(5, latched(0));
	tick(14);
	EXPECT_EQ(2, latched(0));
	EXPECT_EQ("0001", wave(0, 13, 17)) << "OUT rises N+1 clocks after the write";
	EXPECT_EQ(0, latched(0));
	EXPECT_EQ(1, f.edges[0]);
	tick(18);
	EXPECT_EQ(0xfffe, latched(0)) << "counts on through zero";
	EXPECT_EQ(1, f.edges[0]);
	EXPECT_EQ(1, f.level[0]) << "OUT stays high";
}

TEST_F(PitTest, Mode0NewCountAndSplitWrite)
{
	tick(0);
	program(0, 0, 100);
	tick(50);
	f.outb(0x40, 0x10); // LSB: counting stops
	uint16_t held = latched(0);
	tick(80);
	EXPECT_EQ(held, latched(0)) << "counting stopped between the two bytes";
	f.outb(0x40, 0x00); // MSB: count 0x0010 loads at 81
	tick(81);
	EXPECT_EQ(0x10, latched(0));
	EXPECT_FALSE(out(0));
	tick(81 + 0x10);
	EXPECT_TRUE(out(0));
}

TEST_F(PitTest, Mode1RetriggerableOneShot)
{
	tick(0);
	program(2, 1, 4);
	EXPECT_TRUE(out(2)) << "high until triggered";
	tick(20);
	EXPECT_TRUE(out(2));
	gate2(true); // trigger at 20, loaded at 21
	EXPECT_EQ("1000011", wave(2, 20, 27));
	tick(30);
	gate2(false);
	tick(31);
	gate2(true); // retrigger at 31
	tick(33);
	EXPECT_EQ(3, latched(2));
	EXPECT_EQ("0001", wave(2, 33, 37));
}

TEST_F(PitTest, Mode2RateGenerator)
{
	tick(0);
	program(0, 2, 4); // loaded at 1
	EXPECT_EQ("1111011101110", wave(0, 0, 13));
	std::vector<int> values;
	for (int k = 13; k < 17; k++) {
		tick(k);
		values.push_back(latched(0));
	}
	EXPECT_EQ((std::vector<int>{4, 3, 2, 1}), values);
}

TEST_F(PitTest, Mode2Irq0EdgesAtTheRate)
{
	tick(0);
	program(0, 2, 100);
	f.clear_edges();
	for (int64_t k = 0; k <= 1010; k += 10)
		tick(k);
	EXPECT_EQ(10, f.edges[0]);
	// A jump over several periods delivers one edge: the PIC could latch
	// no more anyway.
	f.clear_edges();
	tick(1 + 100 * 20);
	EXPECT_EQ(1, f.edges[0]);
	// 18.2 Hz as the BIOS programs it: count 0 means 65536.
	program(0, 2, 0);
	f.clear_edges();
	uint64_t start = f.now_ns;
	for (uint64_t t = start; t <= start + 1000000000ull; t += 1000000)
		f.set_time(t);
	EXPECT_EQ(18, f.edges[0]);
}

TEST_F(PitTest, Mode2NewCountAtPeriodEnd)
{
	tick(0);
	program(0, 2, 10); // loaded at 1, periods end at 11, 21, ...
	tick(5);
	f.outb(0x40, 4);
	f.outb(0x40, 0);
	tick(8);
	EXPECT_EQ(3, latched(0)) << "the old count runs out first";
	tick(11);
	EXPECT_EQ(4, latched(0));
	EXPECT_EQ("1101110", wave(0, 12, 19));
}

TEST_F(PitTest, Mode3SquareWaveEven)
{
	tick(0);
	program(2, 3, 6);
	gate2(true); // gate rises at 0: loaded at 1
	EXPECT_EQ("111100011100011", wave(2, 0, 15));
	std::vector<int> values;
	for (int k = 15; k < 21; k++) {
		tick(k);
		values.push_back(latched(2));
	}
	EXPECT_EQ((std::vector<int>{2, 6, 4, 2, 6, 4}), values);
}

TEST_F(PitTest, Mode3SquareWaveOdd)
{
	tick(0);
	gate2(true);
	program(2, 3, 5); // loaded at 1: high 3 clocks, low 2
	EXPECT_EQ("1111001110011", wave(2, 0, 13));
}

TEST_F(PitTest, Mode3GateLowForcesOutHigh)
{
	tick(0);
	gate2(true);
	program(2, 3, 8);
	tick(6); // low half
	EXPECT_FALSE(out(2));
	gate2(false);
	EXPECT_TRUE(out(2));
	tick(20);
	EXPECT_TRUE(out(2));
	gate2(true); // reload at 21
	EXPECT_EQ("111110000", wave(2, 20, 29));
}

TEST_F(PitTest, Mode4SoftwareStrobe)
{
	tick(0);
	program(0, 4, 3); // loaded at 1, strobe at 4
	f.clear_edges();
	EXPECT_EQ("1111011", wave(0, 0, 7));
	EXPECT_EQ(1, f.edges[0]) << "the strobe's rising edge";
}

TEST_F(PitTest, Mode5HardwareStrobe)
{
	tick(0);
	program(2, 5, 2);
	EXPECT_EQ("11111", wave(2, 0, 5));
	gate2(true); // trigger at 4: loaded at 5, strobe at 7
	EXPECT_EQ("111011", wave(2, 4, 10));
}

TEST_F(PitTest, GateLowPausesMode0)
{
	tick(0);
	gate2(true);
	program(2, 0, 10); // loaded at 1
	tick(4);
	EXPECT_EQ(7, latched(2));
	gate2(false);
	tick(100);
	EXPECT_EQ(7, latched(2));
	EXPECT_FALSE(out(2));
	gate2(true);
	tick(106);
	EXPECT_FALSE(out(2));
	tick(107);
	EXPECT_TRUE(out(2));
}

TEST_F(PitTest, LatchHoldsUntilRead)
{
	tick(0);
	program(0, 2, 1000);
	tick(101);
	f.outb(0x43, 0x00);
	tick(200);
	f.outb(0x43, 0x00); // a second latch before reading is ignored
	EXPECT_EQ(900, read(0));
	EXPECT_EQ(1000 - 199, read(0)) << "after the read, reads are live again";
}

TEST_F(PitTest, SingleByteAccessModes)
{
	tick(0);
	f.outb(0x43, 0x14); // ch0, LSB only, mode 2
	f.outb(0x40, 0x30);
	tick(1);
	EXPECT_EQ(0x30, f.inb(0x40));
	EXPECT_EQ(0x30, f.inb(0x40));
	f.outb(0x43, 0x24); // MSB only, mode 2: count 0x0200
	f.outb(0x40, 0x02);
	tick(2);
	EXPECT_EQ(0x02, f.inb(0x40));
	tick(2 + 0x101);
	EXPECT_EQ(0x00, f.inb(0x40)) << "MSB of 0x00ff";
}

TEST_F(PitTest, ReadBackStatusAndCount)
{
	tick(0);
	f.outb(0x43, 0xb2); // ch2, LSB/MSB, mode 1
	f.outb(0x43, 0xe8); // read-back status of ch2
	EXPECT_EQ(0xc0 | 0x32, f.inb(0x42)) << "OUT high, null count, control bits";
	f.outb(0x42, 0x34);
	f.outb(0x42, 0x12);
	f.outb(0x43, 0xe8);
	EXPECT_EQ(0xc0 | 0x32, f.inb(0x42)) << "still null: mode 1 waits for a trigger";
	gate2(true);
	tick(5);
	f.outb(0x43, 0xc8); // latch status and count
	EXPECT_EQ(0x32, f.inb(0x42)) << "OUT low, count loaded";
	EXPECT_EQ(0x1234 - 4, read(2));
	// Read-back of several counters at once, count only.
	program(0, 2, 500);
	program(1, 2, 600);
	tick(15);
	f.outb(0x43, 0xd6); // counts of ch0 and ch1
	tick(50);
	EXPECT_EQ(500 - 9, read(0));
	EXPECT_EQ(600 - 9, read(1));
}

TEST_F(PitTest, BcdCounting)
{
	tick(0);
	program(0, 2, 0x1000, true); // 1000 decimal
	tick(1);
	EXPECT_EQ(0x1000, latched(0));
	tick(1 + 11);
	EXPECT_EQ(0x0989, latched(0));
	program(0, 0, 0x0000, true); // 0 means 10000 in BCD
	tick(1 + 11 + 1 + 1);
	EXPECT_EQ(0x9999, latched(0));
}

TEST_F(PitTest, Port61GateOutAndRefresh)
{
	EXPECT_EQ(0x00, f.inb(0x61) & 0x23);
	f.outb(0x61, 0x03);
	EXPECT_EQ(0x03, f.inb(0x61) & 0x03);
	// The BIOS's TSC calibration: channel 2, mode 0, poll bit 5.
	tick(100);
	f.outb(0x43, 0xb0);
	f.outb(0x42, 0x00);
	f.outb(0x42, 0x08);
	tick(100 + 0x800);
	EXPECT_EQ(0, f.inb(0x61) & 0x20);
	tick(100 + 0x801);
	EXPECT_EQ(0x20, f.inb(0x61) & 0x20);
	// Bit 4 toggles with every 15.085 us refresh request.
	f.set_time(1000 * 15085ull);
	uint8_t a = f.inb(0x61) & 0x10;
	f.set_time(1001 * 15085ull);
	uint8_t b = f.inb(0x61) & 0x10;
	f.set_time(1002 * 15085ull);
	EXPECT_NE(a, b);
	EXPECT_EQ(a, f.inb(0x61) & 0x10);
}

TEST_F(PitTest, TimerArmedOnlyWhileIrq0EdgesCome)
{
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock));
	program(2, 2, 100);
	gate2(true);
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock))
		<< "channel 2 needs no timer";
	tick(0);
	program(0, 0, 50);
	EXPECT_EQ(at(51), clock_next_deadline(f.vm->clock));
	tick(60);
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock))
		<< "a finished one-shot needs no timer";
	program(0, 2, 100); // written at 60, loaded at 61
	EXPECT_EQ(at(161), clock_next_deadline(f.vm->clock));
}

TEST_F(PitTest, TinyCountsCannotFloodTheTimerQueue)
{
	program(0, 2, 2); // 600 kHz on real hardware
	f.clear_edges();
	for (uint64_t t = 0; t <= 1000000; t += 500)
		f.set_time(t);
	EXPECT_GE(f.edges[0], 90);
	EXPECT_LE(f.edges[0], 101) << "edges at most every 10 us";
}

TEST_F(PitTest, ResetStopsEverything)
{
	program(0, 2, 100);
	gate2(true);
	f.reset();
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock));
	EXPECT_EQ(0, f.inb(0x61) & 0x03);
}

} // namespace

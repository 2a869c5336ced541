// The MC146818 RTC and CMOS: time formats, the update cycle and UIP,
// SET, the divider, periodic/alarm/update interrupts, register C, and the
// configuration bytes SeaBIOS reads.
#include <gtest/gtest.h>
#include <time.h>
#include "pcvm.h"
#include "vm_fixture.h"

namespace {

const uint64_t SEC = 1000000000ull;

int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

struct RtcTest : ::testing::Test {
	VmFixture f;
	struct rtc *rtc = nullptr;
	void SetUp() override
	{
		f.vm->ram_below_4g = 128u << 20;
		f.vm->ram_above_4g = 1ull << 30;
		// A Wednesday, two seconds before a leap day.
		ASSERT_EQ(0, rtc_create(f.vm, utc(2024, 2, 28, 23, 59, 58), &rtc));
	}
	uint8_t rd(uint8_t idx)
	{
		f.outb(0x70, idx);
		return f.inb(0x71);
	}
	void wr(uint8_t idx, uint8_t v)
	{
		f.outb(0x70, idx);
		f.outb(0x71, v);
	}
	// Runs the clock to `end`, stepping from timer to timer; each IRQ8 is
	// serviced as a guest does it, by reading register C. Returns the
	// number of interrupts.
	int service_until(uint64_t end)
	{
		int n = 0;
		for (;;) {
			uint64_t t = clock_next_deadline(f.vm->clock);
			if (t > end)
				break;
			f.set_time(t);
			if (f.level[8]) {
				n++;
				rd(0x0c);
			}
		}
		f.set_time(end);
		return n;
	}
};

TEST_F(RtcTest, TimeInBcd24Hours)
{
	EXPECT_EQ(0x58, rd(0x00));
	EXPECT_EQ(0x59, rd(0x02));
	EXPECT_EQ(0x23, rd(0x04));
	EXPECT_EQ(0x04, rd(0x06)) << "Wednesday, Sunday being 1";
	EXPECT_EQ(0x28, rd(0x07));
	EXPECT_EQ(0x02, rd(0x08));
	EXPECT_EQ(0x24, rd(0x09));
	EXPECT_EQ(0x20, rd(0x32)) << "century";
	EXPECT_EQ(0x26, rd(0x0a));
	EXPECT_EQ(0x02, rd(0x0b));
	EXPECT_EQ(0x80, rd(0x0d)) << "valid RAM and time";
}

TEST_F(RtcTest, UpdateCycleAndUip)
{
	// The first update ends one second after creation.
	f.set_time(SEC - 2228000 - 1);
	EXPECT_EQ(0, rd(0x0a) & 0x80);
	f.set_time(SEC - 2228000);
	EXPECT_EQ(0x80, rd(0x0a) & 0x80) << "244 us before the 1984 us cycle";
	EXPECT_EQ(0x58, rd(0x00)) << "the old time until the cycle ends";
	f.set_time(SEC - 1);
	EXPECT_EQ(0x80, rd(0x0a) & 0x80);
	f.set_time(SEC);
	EXPECT_EQ(0, rd(0x0a) & 0x80);
	EXPECT_EQ(0x59, rd(0x00));
	f.set_time(2 * SEC);
	EXPECT_EQ(0x00, rd(0x00));
	EXPECT_EQ(0x00, rd(0x04));
	EXPECT_EQ(0x29, rd(0x07)) << "2024 is a leap year";
	EXPECT_EQ(0x05, rd(0x06)) << "Thursday";
	f.set_time(2 * SEC + 86400 * SEC);
	EXPECT_EQ(0x01, rd(0x07));
	EXPECT_EQ(0x03, rd(0x08));
	EXPECT_EQ(utc(2024, 3, 1, 0, 0, 0), rtc_get_time(rtc));
}

TEST_F(RtcTest, BinaryAnd12HourModes)
{
	wr(0x0b, 0x04); // binary, 12-hour
	EXPECT_EQ(58, rd(0x00));
	EXPECT_EQ(0x80 | 11, rd(0x04)) << "11 PM";
	EXPECT_EQ(24, rd(0x09));
	wr(0x0b, 0x00); // BCD, 12-hour
	EXPECT_EQ(0x91, rd(0x04));
	f.set_time(2 * SEC);
	EXPECT_EQ(0x12, rd(0x04)) << "midnight is 12 AM";
	f.set_time(2 * SEC + 12 * 3600 * SEC);
	EXPECT_EQ(0x92, rd(0x04)) << "noon is 12 PM";
}

TEST_F(RtcTest, SetStopsUpdatesAndTakesTheNewTime)
{
	wr(0x0b, 0x82 | 0x10); // SET, 24 h; UIE is cleared by SET
	EXPECT_EQ(0x82, rd(0x0b));
	wr(0x00, 0x30);
	wr(0x02, 0x15);
	wr(0x04, 0x09);
	wr(0x07, 0x31);
	wr(0x08, 0x01);
	wr(0x09, 0x99);
	wr(0x32, 0x19);
	wr(0x06, 0x06);
	f.set_time(5 * SEC);
	EXPECT_EQ(0x30, rd(0x00)) << "no updates under SET";
	EXPECT_EQ(0x31, rd(0x07)) << "the registers read back as written";
	EXPECT_EQ(0, rd(0x0a) & 0x80);
	wr(0x0b, 0x02);
	EXPECT_EQ(utc(1999, 1, 31, 9, 15, 30), rtc_get_time(rtc));
	EXPECT_EQ(0x06, rd(0x06)) << "the day of week as the guest set it";
	f.set_time(6 * SEC);
	EXPECT_EQ(0x31, rd(0x00)) << "counting resumes at the next boundary";
	f.set_time(6 * SEC + 86400 * SEC);
	EXPECT_EQ(0x07, rd(0x06));
	EXPECT_EQ(0x02, rd(0x08));
	EXPECT_EQ(0x01, rd(0x07));
}

TEST_F(RtcTest, WritingARunningClock)
{
	f.set_time(SEC / 2);
	wr(0x02, 0x10); // minutes
	EXPECT_EQ(utc(2024, 2, 28, 23, 10, 58), rtc_get_time(rtc));
	f.set_time(SEC);
	EXPECT_EQ(0x59, rd(0x00)) << "the second boundary does not move";
}

TEST_F(RtcTest, DividerResetHoldsTheClock)
{
	wr(0x0a, 0x76); // divider reset
	f.set_time(10 * SEC);
	EXPECT_EQ(0x58, rd(0x00));
	EXPECT_EQ(0, rd(0x0a) & 0x80);
	wr(0x0a, 0x26);
	f.set_time(10 * SEC + SEC / 2 - 1);
	EXPECT_EQ(0x58, rd(0x00));
	f.set_time(10 * SEC + SEC / 2);
	EXPECT_EQ(0x59, rd(0x00)) << "the first update half a second later";
}

TEST_F(RtcTest, PeriodicInterruptRates)
{
	rd(0x0c);
	wr(0x0b, 0x42); // PIE
	EXPECT_EQ(1024, service_until(SEC)) << "RS=6 is 1024 Hz";
	wr(0x0a, 0x2f);
	EXPECT_EQ(2, service_until(2 * SEC)) << "RS=15 is 2 Hz";
	wr(0x0a, 0x21);
	EXPECT_EQ(256, service_until(3 * SEC)) << "RS=1 is 256 Hz";
	wr(0x0a, 0x23);
	EXPECT_EQ(81, service_until(3 * SEC + 10000000)) << "RS=3 is 8192 Hz";
	wr(0x0a, 0x20);
	EXPECT_EQ(0, service_until(4 * SEC)) << "RS=0: none";
}

TEST_F(RtcTest, FlagsWithoutInterruptsAndClearOnRead)
{
	rd(0x0c);
	f.set_time(SEC / 100);
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock)) << "no timer without enables";
	EXPECT_EQ(0x40, rd(0x0c)) << "PF without IRQF";
	EXPECT_EQ(0x00, rd(0x0c)) << "cleared by the read";
	EXPECT_EQ(0, f.edges[8]);
	f.set_time(SEC);
	EXPECT_EQ(0x50, rd(0x0c)) << "PF and UF";
	// Enabling an interrupt whose flag is already set raises IRQ8 at once.
	f.set_time(2 * SEC);
	wr(0x0b, 0x12);
	EXPECT_EQ(1, f.level[8]);
	EXPECT_EQ(0xf0, rd(0x0c)) << "AF too: the alarm bytes (00:00:00) matched at midnight";
	EXPECT_EQ(0, f.level[8]);
}

TEST_F(RtcTest, UpdateEndedInterruptEverySecond)
{
	rd(0x0c);
	wr(0x0b, 0x12);
	EXPECT_EQ(SEC, clock_next_deadline(f.vm->clock));
	EXPECT_EQ(5, service_until(5 * SEC));
}

TEST_F(RtcTest, AlarmInterrupt)
{
	wr(0x0a, 0x20); // no periodic flag in the way
	rd(0x0c);
	wr(0x01, 0x05);
	wr(0x03, 0x00);
	wr(0x05, 0x00);
	wr(0x0b, 0x22); // AIE
	EXPECT_EQ(7 * SEC, clock_next_deadline(f.vm->clock)) << "00:00:05 is 7 s away";
	f.set_time(7 * SEC - 1);
	EXPECT_EQ(0, f.level[8]);
	f.set_time(7 * SEC);
	EXPECT_EQ(1, f.level[8]);
	EXPECT_EQ(0xb0, rd(0x0c)) << "IRQF, AF and UF";
	// Don't-care bytes (0xC0-0xFF) match every value: once a second.
	wr(0x01, 0xff);
	wr(0x03, 0xc0);
	wr(0x05, 0xc0);
	EXPECT_EQ(3, service_until(10 * SEC));
	// Hours don't care, minute and second fixed: once an hour.
	wr(0x01, 0x00);
	wr(0x03, 0x30);
	wr(0x05, 0xff);
	EXPECT_EQ(2, service_until(10 * SEC + 2 * 3600 * SEC));
}

TEST_F(RtcTest, AlarmFlagFoundAcrossALongGap)
{
	rd(0x0c);
	wr(0x01, 0x00);
	wr(0x03, 0x00);
	wr(0x05, 0x12); // noon
	f.set_time(20 * 3600 * SEC);
	EXPECT_EQ(0x70, rd(0x0c) & 0x70) << "noon passed: AF, with PF and UF";
	f.set_time(21 * 3600 * SEC);
	EXPECT_EQ(0x50, rd(0x0c) & 0x70);
}

TEST_F(RtcTest, NmiMaskBitAndIndexPort)
{
	f.outb(0x70, 0x8a);
	EXPECT_TRUE(rtc_nmi_masked(rtc));
	EXPECT_EQ(0x26, f.inb(0x71)) << "bit 7 is not part of the index";
	f.outb(0x70, 0x0a);
	EXPECT_FALSE(rtc_nmi_masked(rtc));
	EXPECT_EQ(0xff, f.inb(0x70));
}

TEST_F(RtcTest, CmosRamAndMemorySizes)
{
	wr(0x40, 0xa5);
	EXPECT_EQ(0xa5, rd(0x40));
	EXPECT_EQ(0x80, rd(0x15));
	EXPECT_EQ(0x02, rd(0x16)) << "640 KiB base memory";
	EXPECT_EQ(0xff, rd(0x30));
	EXPECT_EQ(0xff, rd(0x31)) << "extended memory caps at 64 MiB";
	EXPECT_EQ(0x00, rd(0x34));
	EXPECT_EQ(0x07, rd(0x35)) << "112 MiB above 16 MiB in 64 KiB units";
	EXPECT_EQ(0x00, rd(0x5b));
	EXPECT_EQ(0x40, rd(0x5c));
	EXPECT_EQ(0x00, rd(0x5d)) << "1 GiB above 4 GiB";
	EXPECT_EQ(0x00, rd(0x5f)) << "one CPU";
	EXPECT_EQ(0x06, rd(0x14) & 0x06) << "FPU and mouse in the equipment byte";
}

TEST_F(RtcTest, SmallMemory)
{
	VmFixture g;
	g.vm->ram_below_4g = 8u << 20;
	struct rtc *r;
	ASSERT_EQ(0, rtc_create(g.vm, 0, &r));
	EXPECT_EQ(7u * 1024, rtc_cmos_get(r, 0x30) | rtc_cmos_get(r, 0x31) << 8);
	EXPECT_EQ(0u, rtc_cmos_get(r, 0x34) | rtc_cmos_get(r, 0x35) << 8);
	EXPECT_EQ(0x70, rtc_cmos_get(r, 0x09)) << "1970, BCD";
}

TEST_F(RtcTest, BootOrderAndFloppyBytes)
{
	EXPECT_EQ(0, rtc_set_boot_order(rtc, "cda", true));
	EXPECT_EQ(0x32, rd(0x3d));
	EXPECT_EQ(0x10, rd(0x38));
	EXPECT_EQ(0, rtc_set_boot_order(rtc, "a", false));
	EXPECT_EQ(0x01, rd(0x3d));
	EXPECT_EQ(0x01, rd(0x38));
	EXPECT_EQ(-EINVAL, rtc_set_boot_order(rtc, "cx", true));
	EXPECT_EQ(-EINVAL, rtc_set_boot_order(rtc, "cdan", true));
	EXPECT_EQ(0x01, rd(0x3d)) << "unchanged after an error";

	rtc_set_floppy_types(rtc, 4, 0);
	EXPECT_EQ(0x40, rd(0x10));
	EXPECT_EQ(0x01, rd(0x14) & 0xc1) << "one floppy drive";
	rtc_set_floppy_types(rtc, 4, 3);
	EXPECT_EQ(0x43, rd(0x10));
	EXPECT_EQ(0x41, rd(0x14) & 0xc1) << "two floppy drives";
	unsigned sum = 0;
	for (int i = 0x10; i <= 0x2d; i++)
		sum += rd((uint8_t)i);
	EXPECT_EQ(sum, (unsigned)(rd(0x2e) << 8 | rd(0x2f))) << "checksum kept";
}

TEST_F(RtcTest, ResetClearsEnablesButKeepsTimeAndRam)
{
	wr(0x0b, 0x72);
	wr(0x50, 0x5a);
	f.set_time(SEC);
	EXPECT_EQ(1, f.level[8]);
	f.reset();
	EXPECT_EQ(0, f.level[8]);
	EXPECT_EQ(0x02, rd(0x0b));
	EXPECT_EQ(0x00, rd(0x0c));
	EXPECT_EQ(0x5a, rd(0x50));
	EXPECT_EQ(0x59, rd(0x00));
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock));
}

TEST(RtcHostTime, StartsFromTheHostClock)
{
	VmFixture f;
	struct rtc *r;
	int64_t before = time(nullptr);
	ASSERT_EQ(0, rtc_create(f.vm, RTC_BASE_HOST, &r));
	int64_t t = rtc_get_time(r);
	EXPECT_GE(t, before);
	EXPECT_LE(t, before + 2);
}

} // namespace

#include <gtest/gtest.h>
#include <string>
#include "pcvm.h"

namespace {

std::string fired;
struct clock *the_clock;

struct Tag {
	char name;
	struct timer *rearm = nullptr;
	uint64_t rearm_at = 0;
};

void cb(void *opaque)
{
	auto *t = static_cast<Tag *>(opaque);
	fired += t->name;
	if (t->rearm)
		timer_mod(t->rearm, t->rearm_at);
}

uint64_t icount_value;
uint64_t icount_fn(void *) { return icount_value; }

struct ClockTest : ::testing::Test {
	struct clock *c = nullptr;
	void SetUp() override
	{
		ASSERT_EQ(0, clock_create(&c, CLOCK_MODE_ICOUNT));
		icount_value = 0;
		clock_set_icount_source(c, icount_fn, nullptr, 10);
		fired.clear();
		the_clock = c;
	}
	void TearDown() override { clock_destroy(c); }
};

TEST_F(ClockTest, IcountTime)
{
	EXPECT_EQ(0u, clock_now(c));
	icount_value = 5;
	EXPECT_EQ(50u, clock_now(c));
	clock_skip_to(c, 1000);
	EXPECT_EQ(1000u, clock_now(c));
	icount_value = 6;
	EXPECT_EQ(1010u, clock_now(c));
	clock_skip_to(c, 10); // never backwards
	EXPECT_EQ(1010u, clock_now(c));
}

TEST_F(ClockTest, TimersFireInDeadlineOrder)
{
	struct timer ta, tb, tc;
	Tag a{'a'}, b{'b'}, cc{'c'};
	timer_init(&ta, c, cb, &a, "a");
	timer_init(&tb, c, cb, &b, "b");
	timer_init(&tc, c, cb, &cc, "c");
	timer_mod(&ta, 300);
	timer_mod(&tb, 100);
	timer_mod(&tc, 200);
	EXPECT_EQ(100u, clock_next_deadline(c));
	icount_value = 25; // t = 250
	EXPECT_EQ(2, clock_run_timers(c));
	EXPECT_EQ("bc", fired);
	EXPECT_FALSE(timer_pending(&tb));
	EXPECT_TRUE(timer_pending(&ta));
	EXPECT_EQ(300u, clock_next_deadline(c));
	icount_value = 30;
	clock_run_timers(c);
	EXPECT_EQ("bca", fired);
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(c));
}

TEST_F(ClockTest, TiesFireInArmingOrder)
{
	struct timer ta, tb;
	Tag a{'a'}, b{'b'};
	timer_init(&ta, c, cb, &a, "a");
	timer_init(&tb, c, cb, &b, "b");
	timer_mod(&tb, 100);
	timer_mod(&ta, 100);
	icount_value = 10;
	clock_run_timers(c);
	EXPECT_EQ("ba", fired);
}

TEST_F(ClockTest, RearmAndDelete)
{
	struct timer ta, tb;
	Tag a{'a'}, b{'b'};
	timer_init(&ta, c, cb, &a, "a");
	timer_init(&tb, c, cb, &b, "b");
	timer_mod(&ta, 100);
	timer_mod(&ta, 500); // re-arming moves it
	timer_mod(&tb, 200);
	EXPECT_EQ(200u, clock_next_deadline(c));
	timer_del(&tb);
	timer_del(&tb); // deleting twice is harmless
	EXPECT_EQ(500u, clock_next_deadline(c));
	icount_value = 40;
	EXPECT_EQ(0, clock_run_timers(c));
	icount_value = 50;
	EXPECT_EQ(1, clock_run_timers(c));
	EXPECT_EQ("a", fired);
}

TEST_F(ClockTest, PeriodicTimerRearmsFromItsCallback)
{
	struct timer ta;
	Tag a{'a'};
	timer_init(&ta, c, cb, &a, "a");
	a.rearm = &ta;
	a.rearm_at = 200;
	timer_mod(&ta, 100);
	icount_value = 15; // t = 150: fires once, re-arms at 200 (future)
	EXPECT_EQ(1, clock_run_timers(c));
	EXPECT_TRUE(timer_pending(&ta));
	EXPECT_EQ(200u, clock_next_deadline(c));
}

TEST(ClockRealtime, Monotonic)
{
	struct clock *c;
	ASSERT_EQ(0, clock_create(&c, CLOCK_MODE_REALTIME));
	uint64_t a = clock_now(c), b = clock_now(c);
	EXPECT_LE(a, b);
	clock_destroy(c);
}

} // namespace

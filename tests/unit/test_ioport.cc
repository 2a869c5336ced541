#include <gtest/gtest.h>
#include <vector>
#include "pcvm.h"

namespace {

struct Access {
	uint64_t addr;
	uint64_t val;
	unsigned size;
	int is_write;
};

struct Dev {
	std::vector<Access> log;
	uint32_t value = 0x44332211;
};

uint64_t dev_fn(void *opaque, uint64_t addr, uint64_t val, unsigned size, int is_write)
{
	auto *d = static_cast<Dev *>(opaque);
	d->log.push_back({addr, val, size, is_write});
	return d->value;
}

struct IoportTest : ::testing::Test {
	struct ioport *io = nullptr;
	void SetUp() override { ASSERT_EQ(0, ioport_create(&io)); }
	void TearDown() override { ioport_destroy(io); }
};

TEST_F(IoportTest, DispatchEachSize)
{
	Dev d;
	ASSERT_EQ(0, ioport_register(io, 0x100, 8, dev_fn, &d, 0, "dev"));
	EXPECT_EQ(0x11u, ioport_read(io, 0x100, 1) & 0xff);
	EXPECT_EQ(0x2211u, ioport_read(io, 0x102, 2) & 0xffff);
	EXPECT_EQ(0x44332211u, ioport_read(io, 0x104, 4));
	ioport_write(io, 0x101, 0xAB, 1);
	ioport_write(io, 0x102, 0xABCD, 2);
	ioport_write(io, 0x104, 0x12345678, 4);
	ASSERT_EQ(6u, d.log.size());
	EXPECT_EQ(1u, d.log[0].size);
	EXPECT_EQ(2u, d.log[1].size);
	EXPECT_EQ(0x102u, d.log[1].addr);
	EXPECT_EQ(4u, d.log[2].size);
	EXPECT_EQ(1, d.log[5].is_write);
	EXPECT_EQ(0x12345678u, d.log[5].val);
}

TEST_F(IoportTest, UnclaimedReadsOnes)
{
	EXPECT_EQ(0xFFu, ioport_read(io, 0x80, 1));
	EXPECT_EQ(0xFFFFu, ioport_read(io, 0x80, 2));
	EXPECT_EQ(0xFFFFFFFFu, ioport_read(io, 0x80, 4));
	ioport_write(io, 0x80, 0, 4); // no crash, no effect
	EXPECT_EQ(nullptr, ioport_owner(io, 0x80));
}

TEST_F(IoportTest, ByteDevicesGetSplitAccesses)
{
	Dev d;
	d.value = 0x5A;
	ASSERT_EQ(0, ioport_register(io, 0x60, 2, dev_fn, &d, IOPORT_F_BYTE, "kbd"));
	EXPECT_EQ(0x5A5Au, ioport_read(io, 0x60, 2));
	ioport_write(io, 0x60, 0x1234, 2);
	ASSERT_EQ(4u, d.log.size());
	EXPECT_EQ(0x60u, d.log[2].addr);
	EXPECT_EQ(0x34u, d.log[2].val);
	EXPECT_EQ(0x61u, d.log[3].addr);
	EXPECT_EQ(0x12u, d.log[3].val);
}

TEST_F(IoportTest, AccessSpanningOwnersIsSplit)
{
	Dev a, b;
	a.value = 0x11;
	b.value = 0x22;
	ASSERT_EQ(0, ioport_register(io, 0x200, 1, dev_fn, &a, 0, "a"));
	ASSERT_EQ(0, ioport_register(io, 0x201, 1, dev_fn, &b, 0, "b"));
	// 0x203 is unclaimed: 0xff
	EXPECT_EQ(0xFFFF2211u, ioport_read(io, 0x200, 4));
	ioport_write(io, 0x200, 0xBBAA, 2);
	EXPECT_EQ(0xAAu, a.log.back().val);
	EXPECT_EQ(0xBBu, b.log.back().val);
}

TEST_F(IoportTest, OverlapAndUnregister)
{
	Dev d;
	ASSERT_EQ(0, ioport_register(io, 0x3f8, 8, dev_fn, &d, 0, "uart"));
	EXPECT_EQ(-EEXIST, ioport_register(io, 0x3ff, 2, dev_fn, &d, 0, "x"));
	EXPECT_EQ(-EINVAL, ioport_register(io, 0xffff, 2, dev_fn, &d, 0, "x"));
	EXPECT_STREQ("uart", ioport_owner(io, 0x3fa));
	EXPECT_EQ(-ENOENT, ioport_unregister(io, 0x3f9));
	EXPECT_EQ(0, ioport_unregister(io, 0x3f8));
	EXPECT_EQ(0, ioport_register(io, 0x3ff, 2, dev_fn, &d, 0, "x"));
}

} // namespace

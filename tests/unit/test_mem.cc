#include <gtest/gtest.h>
#include <vector>
#include "pcvm.h"

namespace {

struct MemTest : ::testing::Test {
	struct mem *m = nullptr;
	std::vector<uint8_t> ram = std::vector<uint8_t>(0x10000, 0);
	std::vector<uint8_t> rom = std::vector<uint8_t>(0x1000, 0xAB);
	void SetUp() override { ASSERT_EQ(0, mem_create(&m)); }
	void TearDown() override { mem_destroy(m); }
	int map_ram(uint64_t base, uint64_t size, uint8_t *p)
	{
		mem_region r = {};
		r.base = base; r.size = size; r.rd = p; r.wr = p; r.name = "ram";
		return mem_map(m, &r);
	}
};

struct MmioLog {
	uint64_t addr = 0, val = 0;
	unsigned size = 0;
	int writes = 0, reads = 0;
};

uint64_t mmio_fn(void *opaque, uint64_t addr, uint64_t val, unsigned size, int is_write)
{
	auto *l = static_cast<MmioLog *>(opaque);
	l->addr = addr;
	l->size = size;
	if (is_write) {
		l->val = val;
		l->writes++;
		return 0;
	}
	l->reads++;
	return 0x1122334455667788ull;
}

TEST_F(MemTest, RamReadWriteEachSize)
{
	ASSERT_EQ(0, map_ram(0, ram.size(), ram.data()));
	mem_write(m, 0x10, 0xA5, 1);
	mem_write(m, 0x20, 0xBEEF, 2);
	mem_write(m, 0x30, 0xDEADBEEF, 4);
	mem_write(m, 0x40, 0x0123456789ABCDEFull, 8);
	EXPECT_EQ(0xA5u, mem_read(m, 0x10, 1));
	EXPECT_EQ(0xBEEFu, mem_read(m, 0x20, 2));
	EXPECT_EQ(0xDEADBEEFu, mem_read(m, 0x30, 4));
	EXPECT_EQ(0x0123456789ABCDEFull, mem_read(m, 0x40, 8));
	EXPECT_EQ(0xEF, ram[0x30]); // little-endian in host memory
}

TEST_F(MemTest, OverlapsRefused)
{
	ASSERT_EQ(0, map_ram(0x1000, 0x1000, ram.data()));
	EXPECT_EQ(-EEXIST, map_ram(0x1fff, 0x10, ram.data()));
	EXPECT_EQ(-EEXIST, map_ram(0x0, 0x1001, ram.data()));
	EXPECT_EQ(-EEXIST, map_ram(0x1800, 0x10, ram.data()));
	EXPECT_EQ(0, map_ram(0x2000, 0x10, ram.data()));   // touching the end is fine
	EXPECT_EQ(0, map_ram(0x0, 0x1000, ram.data()));    // touching the start too
	EXPECT_EQ(3u, mem_region_count(m));
	EXPECT_EQ(-EINVAL, map_ram(0x5000, 0, ram.data()));
	EXPECT_EQ(-EINVAL, map_ram(~0ull - 10, 0x100, ram.data()));
}

TEST_F(MemTest, RegionEdges)
{
	ASSERT_EQ(0, map_ram(0x1000, 0x1000, ram.data()));
	EXPECT_EQ(nullptr, mem_find(m, 0xfff));
	ASSERT_NE(nullptr, mem_find(m, 0x1000));
	ASSERT_NE(nullptr, mem_find(m, 0x1fff));
	EXPECT_EQ(nullptr, mem_find(m, 0x2000));
	// unmapped reads are all ones; writes vanish
	EXPECT_EQ(0xFFu, mem_read(m, 0x5000, 1));
	EXPECT_EQ(0xFFFFFFFFu, mem_read(m, 0x5000, 4));
	mem_write(m, 0x5000, 1, 4);
	// an access straddling the end of RAM: the inside bytes come from RAM
	ram[0xfff] = 0x12;
	EXPECT_EQ(0xFFFFFF12u, mem_read(m, 0x1fff, 4));
	mem_write(m, 0x1fff, 0x44332211, 4);
	EXPECT_EQ(0x11, ram[0xfff]);
}

TEST_F(MemTest, RomIgnoresWrites)
{
	mem_region r = {};
	r.base = 0xF000; r.size = rom.size(); r.rd = rom.data(); r.name = "rom";
	ASSERT_EQ(0, mem_map(m, &r));
	mem_write(m, 0xF000, 0, 4);
	EXPECT_EQ(0xABABABABu, mem_read(m, 0xF000, 4));
	EXPECT_EQ(nullptr, mem_ram_ptr(m, 0xF000, 4)); // not RAM
}

TEST_F(MemTest, MmioDispatchEachSize)
{
	MmioLog log;
	mem_region r = {};
	r.base = 0x100000; r.size = 0x1000; r.fn = mmio_fn; r.opaque = &log; r.name = "dev";
	ASSERT_EQ(0, mem_map(m, &r));
	for (unsigned size : {1u, 2u, 4u, 8u}) {
		mem_write(m, 0x100010, 0x55, size);
		EXPECT_EQ(size, log.size);
		EXPECT_EQ(0x100010u, log.addr);
		EXPECT_EQ(0x55u, log.val);
		mem_read(m, 0x100020, size);
		EXPECT_EQ(size, log.size);
	}
	EXPECT_EQ(4, log.writes);
	EXPECT_EQ(4, log.reads);
	EXPECT_EQ(0x1122334455667788ull, mem_read(m, 0x100000, 8));
}

TEST_F(MemTest, AccessSwitchAndGeneration)
{
	std::vector<uint8_t> shadow(0x4000, 0x11), romside(0x4000, 0x22);
	mem_region r = {};
	r.base = 0xC0000; r.size = 0x4000; r.rd = romside.data(); r.name = "pam";
	ASSERT_EQ(0, mem_map(m, &r));
	uint64_t g = mem_generation(m);
	EXPECT_EQ(0x22u, mem_read(m, 0xC0000, 1));
	ASSERT_EQ(0, mem_set_access(m, 0xC0000, romside.data(), shadow.data()));
	EXPECT_GT(mem_generation(m), g);
	mem_write(m, 0xC0001, 0x99, 1); // writes reach RAM, reads still ROM
	EXPECT_EQ(0x22u, mem_read(m, 0xC0001, 1));
	EXPECT_EQ(0x99, shadow[1]);
	ASSERT_EQ(0, mem_set_access(m, 0xC0000, shadow.data(), shadow.data()));
	EXPECT_EQ(0x99u, mem_read(m, 0xC0001, 1));
	EXPECT_EQ(-ENOENT, mem_set_access(m, 0xC0001, nullptr, nullptr));
}

int listener_calls;
void listener(void *) { listener_calls++; }
uint64_t hook_addr, hook_len;
void write_hook(void *, uint64_t addr, uint64_t len) { hook_addr = addr; hook_len = len; }

TEST_F(MemTest, ListenersAndWriteHook)
{
	listener_calls = 0;
	ASSERT_EQ(0, mem_add_listener(m, listener, nullptr));
	ASSERT_EQ(0, map_ram(0, 0x1000, ram.data()));
	EXPECT_EQ(1, listener_calls);
	ASSERT_EQ(0, mem_unmap(m, 0));
	EXPECT_EQ(2, listener_calls);
	EXPECT_EQ(-ENOENT, mem_unmap(m, 0));
	ASSERT_EQ(0, map_ram(0, 0x1000, ram.data()));
	mem_set_write_hook(m, write_hook, nullptr);
	uint8_t buf[100] = {1, 2, 3};
	mem_write_bytes(m, 0x200, buf, sizeof(buf));
	EXPECT_EQ(0x200u, hook_addr);
	EXPECT_EQ(100u, hook_len);
	EXPECT_EQ(3, ram[0x202]);
}

TEST_F(MemTest, BulkCopiesCrossRegionsAndHoles)
{
	std::vector<uint8_t> a(0x1000, 0xAA), b(0x1000, 0xBB);
	ASSERT_EQ(0, map_ram(0x0, 0x1000, a.data()));
	ASSERT_EQ(0, map_ram(0x3000, 0x1000, b.data()));
	std::vector<uint8_t> buf(0x4000);
	mem_read_bytes(m, 0x0, buf.data(), buf.size());
	EXPECT_EQ(0xAA, buf[0xfff]);
	EXPECT_EQ(0xFF, buf[0x1000]);
	EXPECT_EQ(0xFF, buf[0x2fff]);
	EXPECT_EQ(0xBB, buf[0x3000]);
	std::vector<uint8_t> w(0x4000, 0x5A);
	mem_write_bytes(m, 0x0, w.data(), w.size());
	EXPECT_EQ(0x5A, a[0xfff]);
	EXPECT_EQ(0x5A, b[0]);
	EXPECT_NE(nullptr, mem_ram_ptr(m, 0x3000, 0x1000));
	EXPECT_EQ(nullptr, mem_ram_ptr(m, 0x3000, 0x1001));
	EXPECT_EQ(nullptr, mem_ram_ptr(m, 0x2000, 1));
}

} // namespace

// The 8237A pair: programming through the flip-flop, transfers in both
// directions, terminal count, auto-init, masks, page wrap, decrement, word
// channels, the cascade, status, page registers and the POST port.
#include <gtest/gtest.h>
#include <string.h>
#include <vector>
#include "pcvm.h"
#include "vm_fixture.h"

namespace {

struct DmaTest : ::testing::Test {
	VmFixture f{2u << 20};
	struct dma *dma = nullptr;
	void SetUp() override
	{
		ASSERT_EQ(0, dma_create(f.vm, &dma));
		// What SeaBIOS's dma_setup() does.
		f.outb(0x0d, 0);
		f.outb(0xda, 0);
		f.outb(0xd6, 0xc0);
		f.outb(0xd4, 0x00);
	}
	// SeaBIOS's dma_floppy(): channel 2, single mode.
	void program2(uint32_t addr, uint16_t count, uint8_t mode)
	{
		f.outb(0x0a, 0x06);
		f.outb(0x0c, 0);
		f.outb(0x04, (uint8_t)addr);
		f.outb(0x04, (uint8_t)(addr >> 8));
		f.outb(0x0c, 0);
		f.outb(0x05, (uint8_t)(count - 1));
		f.outb(0x05, (uint8_t)((count - 1) >> 8));
		f.outb(0x0b, mode);
		f.outb(0x81, (uint8_t)(addr >> 16));
		f.outb(0x0a, 0x02);
	}
	std::vector<uint8_t> pattern(size_t n, uint8_t seed = 1)
	{
		std::vector<uint8_t> v(n);
		for (size_t i = 0; i < n; i++)
			v[i] = (uint8_t)(seed + i * 7);
		return v;
	}
};

TEST_F(DmaTest, DeviceToMemoryUntilTerminalCount)
{
	program2(0x12340, 1024, 0x46); // write transfer (to memory)
	auto data = pattern(512);
	bool tc = true;
	EXPECT_EQ(512u, dma_write_memory(dma, 2, data.data(), 512, &tc));
	EXPECT_FALSE(tc);
	EXPECT_EQ(0, memcmp(f.ram + 0x12340, data.data(), 512));
	auto more = pattern(600, 9);
	EXPECT_EQ(512u, dma_write_memory(dma, 2, more.data(), 600, &tc))
		<< "only what the count allows";
	EXPECT_TRUE(tc);
	EXPECT_EQ(0, memcmp(f.ram + 0x12540, more.data(), 512));
	EXPECT_EQ(0, f.ram[0x12740]);
	EXPECT_EQ(0x04, f.inb(0x08) & 0x0f) << "TC of channel 2";
	EXPECT_EQ(0x00, f.inb(0x08) & 0x0f) << "cleared by the read";
	EXPECT_FALSE(dma_ready(dma, 2)) << "masked at TC without auto-init";
	EXPECT_EQ(0u, dma_write_memory(dma, 2, more.data(), 16, &tc));
}

TEST_F(DmaTest, MemoryToDevice)
{
	auto data = pattern(300);
	memcpy(f.ram + 0x8000, data.data(), 300);
	program2(0x8000, 300, 0x4a); // read transfer (from memory)
	std::vector<uint8_t> got(300);
	bool tc;
	EXPECT_EQ(300u, dma_read_memory(dma, 2, got.data(), 300, &tc));
	EXPECT_TRUE(tc);
	EXPECT_EQ(data, got);
}

TEST_F(DmaTest, AddressAndCountReadBack)
{
	program2(0x11000, 0x200, 0x46);
	std::vector<uint8_t> buf(0x80);
	bool tc;
	dma_write_memory(dma, 2, buf.data(), 0x80, &tc);
	f.outb(0x0c, 0);
	EXPECT_EQ(0x80, f.inb(0x04));
	EXPECT_EQ(0x10, f.inb(0x04)) << "current address 0x1080";
	EXPECT_EQ(0x7f, f.inb(0x05));
	EXPECT_EQ(0x01, f.inb(0x05)) << "count left 0x17f";
	EXPECT_EQ(0x01, f.inb(0x81));
}

TEST_F(DmaTest, AutoInitReloads)
{
	program2(0x2000, 16, 0x56);
	auto a = pattern(16, 1), b = pattern(16, 100);
	bool tc;
	EXPECT_EQ(16u, dma_write_memory(dma, 2, a.data(), 16, &tc));
	EXPECT_TRUE(tc);
	EXPECT_TRUE(dma_ready(dma, 2)) << "auto-init keeps it unmasked";
	EXPECT_EQ(16u, dma_write_memory(dma, 2, b.data(), 16, &tc));
	EXPECT_EQ(0, memcmp(f.ram + 0x2000, b.data(), 16)) << "same buffer again";
}

TEST_F(DmaTest, AddressWrapsInsideThePage)
{
	program2(0x1fff0, 32, 0x46);
	auto data = pattern(32);
	bool tc;
	EXPECT_EQ(32u, dma_write_memory(dma, 2, data.data(), 32, &tc));
	EXPECT_EQ(0, memcmp(f.ram + 0x1fff0, data.data(), 16));
	EXPECT_EQ(0, memcmp(f.ram + 0x10000, data.data() + 16, 16))
		<< "the page register does not carry";
	EXPECT_EQ(0, f.ram[0x20000]);
}

TEST_F(DmaTest, Decrement)
{
	program2(0x3003, 4, 0x66);
	uint8_t data[4] = {1, 2, 3, 4};
	bool tc;
	EXPECT_EQ(4u, dma_write_memory(dma, 2, data, 4, &tc));
	EXPECT_EQ(4, f.ram[0x3000]);
	EXPECT_EQ(1, f.ram[0x3003]);
}

TEST_F(DmaTest, VerifyAndWrongDirectionTouchNoMemory)
{
	program2(0x4000, 8, 0x42); // verify
	uint8_t data[8] = {9, 9, 9, 9, 9, 9, 9, 9};
	bool tc;
	EXPECT_EQ(8u, dma_write_memory(dma, 2, data, 8, &tc));
	EXPECT_TRUE(tc);
	EXPECT_EQ(0, f.ram[0x4000]);
	f.ram[0x5000] = 0x77;
	program2(0x5000, 8, 0x46); // write transfer, but the device reads
	uint8_t got[8];
	EXPECT_EQ(8u, dma_read_memory(dma, 2, got, 8, &tc));
	EXPECT_EQ(0xff, got[0]);
}

TEST_F(DmaTest, WordChannels)
{
	// Channel 5: address and count in words, page bit 0 ignored.
	f.outb(0xd4, 0x05);
	f.outb(0xd8, 0);
	f.outb(0xc4, 0x00); // word address 0x0800 -> byte 0x21000 with page 2
	f.outb(0xc4, 0x08);
	f.outb(0xc6, 9); // 10 words
	f.outb(0xc6, 0);
	f.outb(0xd6, 0x45);
	f.outb(0x8b, 0x03);
	f.outb(0xd4, 0x01);
	auto data = pattern(21);
	bool tc;
	EXPECT_EQ(20u, dma_write_memory(dma, 5, data.data(), 21, &tc));
	EXPECT_TRUE(tc);
	EXPECT_EQ(0, memcmp(f.ram + 0x21000, data.data(), 20));
	EXPECT_EQ(0x02, f.inb(0xd0) & 0x0f) << "TC of channel 5";
}

TEST_F(DmaTest, MasksCommandAndCascade)
{
	program2(0x1000, 8, 0x46);
	EXPECT_TRUE(dma_ready(dma, 2));
	f.outb(0x0f, 0x04);
	EXPECT_FALSE(dma_ready(dma, 2)) << "write all mask bits";
	EXPECT_EQ(0xf4, f.inb(0x0f));
	f.outb(0x0e, 0);
	EXPECT_TRUE(dma_ready(dma, 2)) << "clear mask register";
	f.outb(0x08, 0x04);
	EXPECT_FALSE(dma_ready(dma, 2)) << "controller disabled";
	f.outb(0x08, 0x00);
	f.outb(0xd4, 0x04);
	EXPECT_FALSE(dma_ready(dma, 2)) << "channel 4 masked: no cascade";
	f.outb(0xd4, 0x00);
	EXPECT_TRUE(dma_ready(dma, 2));
	f.outb(0x0d, 0);
	EXPECT_FALSE(dma_ready(dma, 2)) << "master clear masks everything";
}

TEST_F(DmaTest, UnmappedAddressesAreHarmless)
{
	program2(0xff0000, 64, 0x46); // 16 MiB - 64 KiB: no RAM there
	auto data = pattern(64);
	bool tc;
	EXPECT_EQ(64u, dma_write_memory(dma, 2, data.data(), 64, &tc));
	program2(0xff0000, 64, 0x4a);
	std::vector<uint8_t> got(64);
	EXPECT_EQ(64u, dma_read_memory(dma, 2, got.data(), 64, &tc));
	EXPECT_EQ(0xff, got[10]);
}

TEST_F(DmaTest, PageRegistersAndPostCode)
{
	for (int p = 0x80; p < 0x90; p++)
		f.outb((uint16_t)p, (uint8_t)(p ^ 0x5a));
	for (int p = 0x80; p < 0x90; p++)
		EXPECT_EQ(p ^ 0x5a, f.inb((uint16_t)p));
	f.outb(0x80, 0x42);
	EXPECT_EQ(0x42, dma_post_code(dma));
	f.reset();
	EXPECT_EQ(0, f.inb(0x81));
	EXPECT_FALSE(dma_ready(dma, 2));
}

} // namespace

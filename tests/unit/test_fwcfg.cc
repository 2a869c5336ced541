// fw_cfg: the port interface, the file directory and the files SeaBIOS
// reads, and the DMA interface with its bounds checks.
#include <gtest/gtest.h>
#include <cstring>
#include <map>
#include <string>
#include "pci_fixture.h"

namespace {

struct FwcfgTest : ::testing::Test {
	PciFixture fx{64ull << 20};
	struct fwcfg *fw = nullptr;
	void SetUp() override { ASSERT_EQ(0, fwcfg_create(fx.vm, &fw)); }

	std::string read_item(uint16_t key, size_t n)
	{
		fx.out(FWCFG_PORT_SEL, key, 2);
		std::string s;
		for (size_t i = 0; i < n; i++)
			s += (char)fx.in(FWCFG_PORT_DATA);
		return s;
	}
	static uint32_t be32(const std::string &s, size_t o)
	{
		return (uint32_t)(uint8_t)s[o] << 24 | (uint32_t)(uint8_t)s[o + 1] << 16 |
		       (uint32_t)(uint8_t)s[o + 2] << 8 | (uint8_t)s[o + 3];
	}
	// name -> (key, size) from the directory, read through the ports
	std::map<std::string, std::pair<uint16_t, uint32_t>> dir()
	{
		std::string n = read_item(FWCFG_FILE_DIR, 4);
		uint32_t count = be32(n, 0);
		std::string d = read_item(FWCFG_FILE_DIR, 4 + 64 * count).substr(4);
		std::map<std::string, std::pair<uint16_t, uint32_t>> m;
		for (uint32_t i = 0; i < count; i++) {
			std::string e = d.substr(64 * i, 64);
			uint16_t key = (uint16_t)((uint8_t)e[4] << 8 | (uint8_t)e[5]);
			m[std::string(e.c_str() + 8)] = {key, be32(e, 0)};
		}
		return m;
	}
	// A DMA descriptor at 0x2000, big-endian, handed over as SeaBIOS does.
	uint32_t dma(uint32_t control, uint32_t length, uint64_t address,
		     uint64_t desc = 0x2000)
	{
		uint8_t d[16];
		for (int i = 0; i < 4; i++) {
			d[i] = (uint8_t)(control >> (24 - 8 * i));
			d[4 + i] = (uint8_t)(length >> (24 - 8 * i));
		}
		for (int i = 0; i < 8; i++)
			d[8 + i] = (uint8_t)(address >> (56 - 8 * i));
		if (desc + 16 <= fx.vm->ram_size)
			memcpy(fx.ram(desc), d, 16);
		fx.out(FWCFG_PORT_DMA, __builtin_bswap32((uint32_t)(desc >> 32)), 4);
		fx.out(FWCFG_PORT_DMA + 4, __builtin_bswap32((uint32_t)desc), 4);
		if (desc + 16 > fx.vm->ram_size)
			return 0xdeadbeef;
		const uint8_t *r = fx.ram(desc);
		return (uint32_t)r[0] << 24 | r[1] << 16 | r[2] << 8 | r[3];
	}
};

TEST_F(FwcfgTest, SignatureIdAndLegacyItems)
{
	EXPECT_EQ("QEMU", read_item(FWCFG_SIGNATURE, 4));
	std::string id = read_item(FWCFG_ID, 4);
	EXPECT_EQ(3, id[0]) << "traditional and DMA interfaces";
	std::string ram = read_item(FWCFG_RAM_SIZE, 8);
	uint64_t r;
	memcpy(&r, ram.data(), 8);
	EXPECT_EQ(64ull << 20, r);
	EXPECT_EQ(std::string("\x01\x00", 2), read_item(FWCFG_NB_CPUS, 2));
	EXPECT_EQ(std::string("\x01\x00", 2), read_item(FWCFG_MAX_CPUS, 2));
	EXPECT_EQ(std::string(2, '\0'), read_item(FWCFG_BOOT_MENU, 2)) << "no boot menu wait";
	EXPECT_EQ(std::string(16, '\0'), read_item(FWCFG_NUMA, 16));
	EXPECT_EQ(std::string(2, '\0'), read_item(FWCFG_ACPI_TABLES, 2));
	// past the end, and unknown keys, read zero
	EXPECT_EQ(std::string("QEMU\0\0", 6), read_item(FWCFG_SIGNATURE, 6));
	EXPECT_EQ(std::string(4, '\0'), read_item(0x1234, 4));
	// the DMA port reads "QEMU CFG"
	std::string sig;
	for (int i = 0; i < 8; i++)
		sig += (char)fx.in(FWCFG_PORT_DMA + i);
	EXPECT_EQ("QEMU CFG", sig);
	// data-port writes do nothing
	fx.out(FWCFG_PORT_SEL, FWCFG_SIGNATURE, 2);
	fx.out(FWCFG_PORT_DATA, 'X');
	EXPECT_EQ("QEMU", read_item(FWCFG_SIGNATURE, 4));
}

TEST_F(FwcfgTest, E820)
{
	auto d = dir();
	ASSERT_TRUE(d.count("etc/e820"));
	EXPECT_EQ(20u, d["etc/e820"].second) << "one RAM entry of 20 bytes";
	std::string e = read_item(d["etc/e820"].first, 20);
	uint64_t addr, len;
	uint32_t type;
	memcpy(&addr, e.data(), 8);
	memcpy(&len, e.data() + 8, 8);
	memcpy(&type, e.data() + 16, 4);
	EXPECT_EQ(0u, addr);
	EXPECT_EQ(64ull << 20, len);
	EXPECT_EQ(1u, type);
	ASSERT_EQ(0, fwcfg_add_e820(fw, 0xfeffc000, 0x4000, E820_RESERVED));
	d = dir();
	EXPECT_EQ(40u, d["etc/e820"].second);
	e = read_item(d["etc/e820"].first, 40);
	memcpy(&addr, e.data() + 20, 8);
	memcpy(&type, e.data() + 36, 4);
	EXPECT_EQ(0xfeffc000u, addr);
	EXPECT_EQ(2u, type);
}

TEST_F(FwcfgTest, E820AboveFourGig)
{
	PciFixture big(8ull << 20);
	big.vm->ram_size = 5ull << 30; // layout only: nothing touches this RAM
	big.vm->ram_below_4g = VM_PCI_HOLE_START;
	big.vm->ram_above_4g = big.vm->ram_size - VM_PCI_HOLE_START;
	struct fwcfg *f;
	ASSERT_EQ(0, fwcfg_create(big.vm, &f));
	big.out(FWCFG_PORT_SEL, FWCFG_FILE_DIR, 2);
	for (int i = 0; i < 4 + 4; i++) // count, then the first entry's size
		big.in(FWCFG_PORT_DATA);
	uint16_t key = (uint16_t)(big.in(FWCFG_PORT_DATA) << 8 | big.in(FWCFG_PORT_DATA));
	big.out(FWCFG_PORT_SEL, key, 2);
	uint8_t e[40];
	for (auto &b : e)
		b = (uint8_t)big.in(FWCFG_PORT_DATA);
	uint64_t len0, addr1, len1;
	memcpy(&len0, e + 8, 8);
	memcpy(&addr1, e + 20, 8);
	memcpy(&len1, e + 28, 8);
	EXPECT_EQ(VM_PCI_HOLE_START, len0);
	EXPECT_EQ(1ull << 32, addr1);
	EXPECT_EQ((5ull << 30) - VM_PCI_HOLE_START, len1);
}

TEST_F(FwcfgTest, FilesAddAndReplace)
{
	ASSERT_EQ(0, fwcfg_add_file(fw, "bootorder", "/x\n/y", 6));
	ASSERT_EQ(0, fwcfg_add_file(fw, "etc/other", "abc", 3));
	auto d = dir();
	ASSERT_TRUE(d.count("bootorder"));
	EXPECT_EQ(6u, d["bootorder"].second);
	EXPECT_EQ(std::string("/x\n/y\0", 6), read_item(d["bootorder"].first, 6));
	ASSERT_EQ(0, fwcfg_add_file(fw, "bootorder", "/z", 3));
	auto d2 = dir();
	EXPECT_EQ(d.size(), d2.size()) << "replaced, not added";
	EXPECT_EQ(d["bootorder"].first, d2["bootorder"].first);
	EXPECT_EQ(std::string("/z\0", 3), read_item(d2["bootorder"].first, 3));
	EXPECT_EQ(-ENAMETOOLONG, fwcfg_add_file(fw, std::string(56, 'n').c_str(), "", 0));
}

TEST_F(FwcfgTest, DmaReadSkipAndZeroFill)
{
	memset(fx.ram(0x3000), 0xcc, 64);
	EXPECT_EQ(0u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 8, 0x3000));
	EXPECT_EQ(0, memcmp(fx.ram(0x3000), "QEMU\0\0\0\0", 8)) << "zero-filled past the end";
	EXPECT_EQ(0xcc, fx.ram(0x3000)[8]);
	// directory through DMA equals the port read
	uint32_t n = dir().size();
	EXPECT_EQ(0u, dma((FWCFG_FILE_DIR << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ,
			  4 + 64 * n, 0x4000));
	EXPECT_EQ(read_item(FWCFG_FILE_DIR, 4 + 64 * n),
		  std::string((char *)fx.ram(0x4000), 4 + 64 * n));
	// skip then read continues from the current offset
	EXPECT_EQ(0u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_SKIP, 2, 0));
	EXPECT_EQ(0u, dma(FWCFG_DMA_READ, 2, 0x5000));
	EXPECT_EQ(0, memcmp(fx.ram(0x5000), "MU", 2));
	// the port interface shares the position
	fx.out(FWCFG_PORT_SEL, FWCFG_SIGNATURE, 2);
	fx.in(FWCFG_PORT_DATA);
	EXPECT_EQ(0u, dma(FWCFG_DMA_READ, 1, 0x5000));
	EXPECT_EQ('E', fx.ram(0x5000)[0]);
}

TEST_F(FwcfgTest, DmaErrors)
{
	EXPECT_EQ(1u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_WRITE, 4, 0x3000))
		<< "nothing is writable";
	EXPECT_EQ(1u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 4,
			  0xf0000000u)) << "buffer outside memory";
	EXPECT_EQ(1u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 0x2000,
			  0x9f000)) << "buffer running into the VGA hole";
	EXPECT_EQ(1u, dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 16,
			  0xfffffffffffffff8ull)) << "buffer wrapping around";
	// a descriptor outside memory: nothing happens, nothing breaks
	dma((FWCFG_SIGNATURE << 16) | FWCFG_DMA_SELECT | FWCFG_DMA_READ, 4, 0x3000, 0xf0000000u);
	EXPECT_EQ("QEMU", read_item(FWCFG_SIGNATURE, 4));
}

} // namespace

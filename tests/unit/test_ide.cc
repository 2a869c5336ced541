// The PIIX3 IDE controller and its drives: ATA command set over PIO and
// bus-master DMA, errors, resets, and the ATAPI CD-ROM's packet commands.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <vector>
#include "pci_fixture.h"

namespace {

constexpr int IDE = 1 << 3 | 1;  // 00:01.1
constexpr uint16_t P = 0x1f0, PCTL = 0x3f6, S = 0x170, SCTL = 0x376;
constexpr uint16_t BM = 0xc000;  // where the tests put BAR4
constexpr uint8_t DRDY = 0x40, DSC = 0x10, DRQ = 0x08, ERR = 0x01, BSY = 0x80;

uint8_t pattern(uint64_t offset) { return (uint8_t)(offset * 7 + (offset >> 9) * 13); }

std::vector<uint8_t> patterned(size_t size)
{
	std::vector<uint8_t> v(size);
	for (size_t i = 0; i < size; i++)
		v[i] = pattern(i);
	return v;
}

struct IdeTest : ::testing::Test {
	PciFixture fx{32ull << 20};
	struct pci_bus *bus = nullptr;
	struct ide *ide = nullptr;
	std::vector<uint8_t> disk = patterned(8u << 20); // 16384 sectors
	struct block *hda = nullptr;

	void SetUp() override
	{
		ASSERT_EQ(0, pci_bus_create(fx.vm, &bus));
		ASSERT_EQ(0, piix3_create(fx.vm, bus, 1, nullptr));
		ASSERT_EQ(0, ide_create(fx.vm, bus, 1, 1, &ide));
		ASSERT_EQ(0, block_open_memory(&hda, disk.data(), disk.size(), "hda"));
		ASSERT_EQ(0, ide_attach(ide, 0, IDE_MEDIA_DISK, hda));
		enable();
	}
	void enable()
	{
		fx.cfg_write(IDE, 0x40, 0x80008000u);
		fx.cfg_write(IDE, 0x20, BM);
		fx.cfg_write(IDE, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
	}
	uint8_t status(uint16_t base = P) { return (uint8_t)fx.in(base + 7); }
	uint8_t altstatus(uint16_t ctl = PCTL) { return (uint8_t)fx.in(ctl); }
	void lba28(uint32_t lba, uint8_t count, uint16_t base = P, bool slave = false)
	{
		fx.out(base + 2, count);
		fx.out(base + 3, lba & 0xff);
		fx.out(base + 4, (lba >> 8) & 0xff);
		fx.out(base + 5, (lba >> 16) & 0xff);
		fx.out(base + 6, 0xe0 | (slave ? 0x10 : 0) | ((lba >> 24) & 0xf));
	}
	void lba48(uint64_t lba, uint16_t count, uint16_t base = P)
	{
		fx.out(base + 2, count >> 8);
		fx.out(base + 3, (lba >> 24) & 0xff);
		fx.out(base + 4, (lba >> 32) & 0xff);
		fx.out(base + 5, (lba >> 40) & 0xff);
		fx.out(base + 2, count & 0xff);
		fx.out(base + 3, lba & 0xff);
		fx.out(base + 4, (lba >> 8) & 0xff);
		fx.out(base + 5, (lba >> 16) & 0xff);
		fx.out(base + 6, 0x40);
	}
	void cmd(uint8_t c, uint16_t base = P) { fx.out(base + 7, c); }
	std::vector<uint8_t> pio_in(size_t bytes, uint16_t base = P)
	{
		std::vector<uint8_t> v;
		for (size_t i = 0; i < bytes; i += 2) {
			uint16_t w = (uint16_t)fx.in(base, 2);
			v.push_back((uint8_t)w);
			v.push_back((uint8_t)(w >> 8));
		}
		v.resize(bytes);
		return v;
	}
	std::vector<uint16_t> identify(uint8_t c = 0xec, uint16_t base = P)
	{
		cmd(c, base);
		std::vector<uint16_t> w(256);
		if (!(altstatus(base == P ? PCTL : SCTL) & DRQ))
			return {};
		for (auto &x : w)
			x = (uint16_t)fx.in(base, 2);
		return w;
	}
	std::string ata_string(const std::vector<uint16_t> &w, int first, int n)
	{
		std::string s;
		for (int i = first; i < first + n; i++) {
			s += (char)(w[i] >> 8);
			s += (char)(w[i] & 0xff);
		}
		while (!s.empty() && s.back() == ' ')
			s.pop_back();
		return s;
	}
	// A PRD table at 0x1000 for the given (address, length) pieces.
	void prds(const std::vector<std::pair<uint32_t, uint32_t>> &pieces, uint16_t bm = BM)
	{
		uint8_t *t = fx.ram(0x1000);
		for (size_t i = 0; i < pieces.size(); i++) {
			uint32_t a = pieces[i].first, n = pieces[i].second & 0xffff;
			if (i + 1 == pieces.size())
				n |= 0x80000000u;
			memcpy(t + 8 * i, &a, 4);
			memcpy(t + 8 * i + 4, &n, 4);
		}
		fx.out(bm + 4, 0x1000, 4);
		fx.out(bm + 2, 0x06); // clear interrupt and error
	}
};

// ---- ATA ----

TEST_F(IdeTest, DecodingFollowsIdetimAndCommand)
{
	fx.cfg_write(IDE, PCI_COMMAND, 0, 2);
	EXPECT_EQ(0xffu, fx.in(P + 7)) << "I/O space disabled";
	fx.cfg_write(IDE, PCI_COMMAND, PCI_COMMAND_IO, 2);
	EXPECT_EQ(DRDY | DSC, status());
	fx.cfg_write(IDE, 0x40, 0x0000, 2);
	EXPECT_EQ(0xffu, fx.in(P + 7)) << "primary decode off";
	EXPECT_EQ(0u, fx.in(S + 7)) << "secondary on, its CD drive empty...";
	fx.reset();
	EXPECT_EQ(0xffu, fx.in(P + 7)) << "off again after reset, as at power-on";
	EXPECT_EQ(0x80u, fx.cfg_read(IDE, PCI_CLASS_PROG, 1));
	EXPECT_EQ(0x70108086u, fx.cfg_read(IDE, 0));
}

TEST_F(IdeTest, IdentifyDevice)
{
	int rises = fx.irq_rises[14];
	auto w = identify();
	ASSERT_EQ(256u, w.size());
	EXPECT_EQ(rises + 1, fx.irq_rises[14]) << "one interrupt for the data block";
	EXPECT_EQ(0x0040, w[0]);
	EXPECT_EQ(16, w[1]) << "16384 sectors / (16 heads * 63)";
	EXPECT_EQ(16, w[3]);
	EXPECT_EQ(63, w[6]);
	EXPECT_EQ("PCVM HARDDISK", ata_string(w, 27, 20));
	EXPECT_EQ(16384, w[60] | w[61] << 16);
	EXPECT_TRUE(w[83] & (1 << 10)) << "LBA48";
	EXPECT_EQ(16384u, w[100] | (uint32_t)w[101] << 16);
	EXPECT_EQ(0, w[102] | w[103]);
	EXPECT_TRUE(w[49] & 0x0300) << "LBA and DMA";
	EXPECT_EQ(0x8010, w[47]);
	EXPECT_EQ(0x604b, w[93]) << "no device 1 on this cable";
	EXPECT_TRUE(w[85] & 0x20) << "write cache on";
	uint8_t sum = 0;
	for (uint16_t x : w)
		sum = (uint8_t)(sum + (x & 0xff) + (x >> 8));
	EXPECT_EQ(0xa5, w[255] & 0xff);
	EXPECT_EQ(0, sum) << "integrity word";
	EXPECT_EQ(DRDY | DSC, altstatus()) << "DRQ drops after the last word";
	EXPECT_EQ(1, fx.irq[14]);
	status();
	EXPECT_EQ(0, fx.irq[14]) << "reading status acknowledges";
	// packet identify on a hard disk aborts
	cmd(0xa1);
	EXPECT_EQ(DRDY | DSC | ERR, status());
	EXPECT_EQ(0x04u, fx.in(P + 1));
}

TEST_F(IdeTest, PioReadSectorsWithInterrupts)
{
	int rises = fx.irq_rises[14];
	lba28(5, 3);
	cmd(0x20);
	std::vector<uint8_t> got;
	for (int s = 0; s < 3; s++) {
		ASSERT_EQ(DRDY | DSC | DRQ, status()) << s;
		auto part = pio_in(512);
		got.insert(got.end(), part.begin(), part.end());
	}
	EXPECT_EQ(rises + 3, fx.irq_rises[14]);
	EXPECT_EQ(DRDY | DSC, status());
	EXPECT_EQ(0, memcmp(got.data(), disk.data() + 5 * 512, 3 * 512));
	// the task file ends on the last sector read
	EXPECT_EQ(7u, fx.in(P + 3));
}

TEST_F(IdeTest, Pio32BitReads)
{
	lba28(0, 1);
	cmd(0x20);
	uint32_t w = fx.in(P, 4);
	EXPECT_EQ(disk[0] | disk[1] << 8 | disk[2] << 16 | (uint32_t)disk[3] << 24, w);
}

TEST_F(IdeTest, PioWriteSectors)
{
	int rises = fx.irq_rises[14];
	lba28(100, 2);
	cmd(0x30);
	EXPECT_EQ(DRDY | DSC | DRQ, altstatus());
	EXPECT_EQ(rises, fx.irq_rises[14]) << "no interrupt before the first block";
	for (int i = 0; i < 256; i++)
		fx.out(P, 0x1100 + i, 2);
	EXPECT_EQ(rises + 1, fx.irq_rises[14]);
	EXPECT_EQ(DRDY | DSC | DRQ, status());
	for (int i = 0; i < 128; i++)
		fx.out(P, 0xabcd0000u + i, 4);
	EXPECT_EQ(rises + 2, fx.irq_rises[14]) << "completion interrupt";
	EXPECT_EQ(DRDY | DSC, status());
	uint8_t back[1024];
	ASSERT_EQ(0, block_read(hda, 100 * 512, back, sizeof(back)));
	EXPECT_EQ(0x00, back[0]);
	EXPECT_EQ(0x11, back[1]);
	EXPECT_EQ(0xff, back[510]);
	EXPECT_EQ(0x11, back[511]);
	EXPECT_EQ(0x00, back[512]);
	EXPECT_EQ(0xcd, back[514]);
	EXPECT_EQ(0xab, back[515]);
	uint8_t next;
	ASSERT_EQ(0, block_read(hda, 102 * 512, &next, 1));
	EXPECT_EQ(pattern(102 * 512), next) << "the sector after is untouched";
}

TEST_F(IdeTest, MultipleMode)
{
	fx.out(P + 2, 3);
	cmd(0xc6);
	EXPECT_EQ(ERR, status() & ERR) << "3 is not a power of two";
	fx.out(P + 2, 4);
	cmd(0xc6);
	EXPECT_EQ(DRDY | DSC, status());
	EXPECT_EQ(0x0104, identify()[59]);
	int rises = fx.irq_rises[14];
	lba28(20, 10);
	cmd(0xc4);
	std::vector<uint8_t> got;
	for (int block = 0; block < 3; block++) {
		ASSERT_TRUE(status() & DRQ);
		auto part = pio_in(block < 2 ? 4 * 512 : 2 * 512);
		got.insert(got.end(), part.begin(), part.end());
	}
	EXPECT_EQ(DRDY | DSC, status());
	EXPECT_EQ(rises + 3, fx.irq_rises[14]) << "one interrupt per 4-sector block";
	EXPECT_EQ(0, memcmp(got.data(), disk.data() + 20 * 512, 10 * 512));
	// WRITE MULTIPLE EXT, 5 sectors in blocks of 4 and 1
	lba48(40, 5);
	cmd(0x39);
	for (int i = 0; i < 5 * 256; i++) {
		if (i == 4 * 256) {
			EXPECT_EQ(DRDY | DSC | DRQ, status());
		}
		fx.out(P, 0x7777, 2);
	}
	EXPECT_EQ(DRDY | DSC, status());
	uint8_t b;
	block_read(hda, 44 * 512 + 511, &b, 1);
	EXPECT_EQ(0x77, b);
	// multiple mode off: READ MULTIPLE aborts
	fx.out(P + 2, 0);
	cmd(0xc6);
	status();
	lba28(0, 1);
	cmd(0xc4);
	EXPECT_EQ(DRDY | DSC | ERR, status());
}

TEST_F(IdeTest, Lba48OnALargeSparseDisk)
{
	char path[] = "/tmp/pcvm-ide-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	uint64_t sectors = (200ull << 30) / 512; // 200 GiB, sparse
	ASSERT_EQ(0, ftruncate(fd, (off_t)(sectors * 512)));
	uint64_t far = 0x18000123ull; // above LBA28's reach
	char mark[512];
	memset(mark, 'Z', sizeof(mark));
	ASSERT_EQ(512, pwrite(fd, mark, 512, (off_t)(far * 512)));
	close(fd);
	struct block *b;
	struct block_open_opts opts = {};
	ASSERT_EQ(0, block_open(&b, path, &opts));
	unlink(path);
	ASSERT_EQ(0, ide_attach(ide, 1, IDE_MEDIA_DISK, b));
	fx.out(P + 6, 0xb0);
	auto w = identify();
	ASSERT_EQ(256u, w.size());
	EXPECT_EQ(0x0fffffffu, w[60] | (uint32_t)w[61] << 16) << "LBA28 capacity saturates";
	EXPECT_EQ(sectors, w[100] | (uint64_t)w[101] << 16 | (uint64_t)w[102] << 32);
	EXPECT_EQ(16383, w[1]);
	EXPECT_EQ(0x6b00, w[93]) << "device 1's reset result";
	lba48(far, 1);
	fx.out(P + 6, 0x50);
	cmd(0x24);
	ASSERT_EQ(DRDY | DSC | DRQ, status());
	auto got = pio_in(512);
	EXPECT_EQ('Z', got[0]);
	EXPECT_EQ('Z', got[511]);
	// HOB readback of the final address
	EXPECT_EQ(0x23u, fx.in(P + 3));
	fx.out(PCTL, 0x80);
	EXPECT_EQ(0x18u, fx.in(P + 3));
	EXPECT_EQ(0x00u, fx.in(P + 4));
	fx.out(PCTL, 0x00);
	// past the end
	lba48(sectors, 1);
	fx.out(P + 6, 0x50);
	cmd(0x24);
	EXPECT_EQ(DRDY | DSC | ERR, status());
	EXPECT_EQ(0x10u, fx.in(P + 1)) << "IDNF";
	// device 0 now sees device 1 in its reset result
	fx.out(P + 6, 0xa0);
	EXPECT_EQ(0x603b, identify()[93]);
}

TEST_F(IdeTest, ChsAddressing)
{
	// cylinder 1, head 2, sector 3 with 16 heads and 63 sectors
	fx.out(P + 2, 1);
	fx.out(P + 3, 3);
	fx.out(P + 4, 1);
	fx.out(P + 5, 0);
	fx.out(P + 6, 0xa2);
	cmd(0x20);
	ASSERT_TRUE(status() & DRQ);
	auto got = pio_in(512);
	uint64_t lba = (1 * 16 + 2) * 63 + 2;
	EXPECT_EQ(0, memcmp(got.data(), disk.data() + lba * 512, 512));
	// sector 0 does not exist
	fx.out(P + 3, 0);
	fx.out(P + 6, 0xa0);
	cmd(0x20);
	EXPECT_EQ(DRDY | DSC | ERR, status());
	EXPECT_TRUE(fx.in(P + 1) & 0x10);
	// INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors
	fx.out(P + 2, 17);
	fx.out(P + 6, 0xa3);
	cmd(0x91);
	EXPECT_EQ(DRDY | DSC, status());
	auto w = identify();
	EXPECT_EQ(4, w[55]);
	EXPECT_EQ(17, w[56]);
	EXPECT_EQ(16384 / (4 * 17), w[54]);
	fx.out(P + 2, 1);
	fx.out(P + 3, 1);
	fx.out(P + 4, 2);
	fx.out(P + 5, 0);
	fx.out(P + 6, 0xa1);
	cmd(0x20);
	got = pio_in(512);
	lba = (2 * 4 + 1) * 17;
	EXPECT_EQ(0, memcmp(got.data(), disk.data() + lba * 512, 512));
}

TEST_F(IdeTest, DmaReadThroughPrds)
{
	prds({{0x10000, 1024}, {0x20000, 512}});
	lba28(8, 3);
	cmd(0xc8);
	EXPECT_EQ(DRDY | DSC | DRQ, altstatus()) << "waiting for the bus master";
	fx.out(BM, 0x09); // start, to memory
	EXPECT_EQ(DRDY | DSC, altstatus());
	EXPECT_EQ(0, memcmp(fx.ram(0x10000), disk.data() + 8 * 512, 1024));
	EXPECT_EQ(0, memcmp(fx.ram(0x20000), disk.data() + 10 * 512, 512));
	EXPECT_EQ(0x04u, fx.in(BM + 2) & 0x07) << "interrupt, not active, no error";
	EXPECT_EQ(1, fx.irq[14]);
	fx.out(BM, 0x00);
	status();
	// start first, command second works too; PRD longer than the data
	prds({{0x30000, 0}}); // 64 KiB
	fx.out(BM, 0x09);
	lba48(0, 2);
	cmd(0x25);
	EXPECT_EQ(0, memcmp(fx.ram(0x30000), disk.data(), 1024));
	EXPECT_EQ(0x05u, fx.in(BM + 2) & 0x07) << "still active: the PRD had room left";
	fx.out(BM, 0x00);
	EXPECT_EQ(0x04u, fx.in(BM + 2) & 0x07);
}

TEST_F(IdeTest, DmaWrite)
{
	memset(fx.ram(0x40000), 0xee, 512);
	memset(fx.ram(0x50000), 0xdd, 1024);
	prds({{0x40000, 512}, {0x50000, 1024}});
	lba28(200, 3);
	cmd(0xca);
	fx.out(BM, 0x01); // start, from memory
	EXPECT_EQ(DRDY | DSC, status());
	uint8_t back[3 * 512];
	ASSERT_EQ(0, block_read(hda, 200 * 512, back, sizeof(back)));
	EXPECT_EQ(0xee, back[0]);
	EXPECT_EQ(0xee, back[511]);
	EXPECT_EQ(0xdd, back[512]);
	EXPECT_EQ(0xdd, back[1535]);
}

TEST_F(IdeTest, BadPrds)
{
	// a PRD pointing outside memory: bus-master error, the command fails
	prds({{0xf0000000u, 512}});
	lba28(0, 1);
	cmd(0xc8);
	fx.out(BM, 0x09);
	EXPECT_EQ(0x06u, fx.in(BM + 2) & 0x07) << "error and interrupt";
	EXPECT_TRUE(status() & ERR);
	fx.out(BM, 0);
	// a table in unmapped space
	fx.out(BM + 4, 0xfff00000u, 4);
	fx.out(BM + 2, 0x06);
	lba28(0, 1);
	cmd(0xc8);
	fx.out(BM, 0x09);
	EXPECT_EQ(0x02u, fx.in(BM + 2) & 0x03);
	fx.out(BM, 0);
	status();
	// PRDs shorter than the transfer: no interrupt, the drive keeps DRQ
	prds({{0x10000, 512}});
	int rises = fx.irq_rises[14];
	lba28(0, 2);
	cmd(0xc8);
	fx.out(BM, 0x09);
	EXPECT_EQ(0x00u, fx.in(BM + 2) & 0x07);
	EXPECT_EQ(rises, fx.irq_rises[14]);
	EXPECT_TRUE(altstatus() & DRQ);
	// software reset clears it
	fx.out(PCTL, 0x04);
	EXPECT_EQ(BSY, altstatus());
	fx.out(PCTL, 0x00);
	EXPECT_EQ(DRDY | DSC, altstatus());
	fx.out(BM, 0);
	// bus mastering switched off in PCI: error
	fx.cfg_write(IDE, PCI_COMMAND, PCI_COMMAND_IO, 2);
	prds({{0x10000, 512}});
	lba28(0, 1);
	cmd(0xc8);
	fx.out(BM, 0x09);
	EXPECT_EQ(0x02u, fx.in(BM + 2) & 0x03);
	// an odd PRD count is rounded to even, and a table of 8192 entries
	// without an end stops there
	fx.cfg_write(IDE, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
	fx.out(BM, 0);
	uint8_t *t = fx.ram(0x100000);
	for (int i = 0; i < 8192; i++) {
		uint32_t a = 0x200000, n = 2;
		memcpy(t + 8 * i, &a, 4);
		memcpy(t + 8 * i + 4, &n, 4);
	}
	fx.out(BM + 4, 0x100000, 4);
	fx.out(BM + 2, 0x06);
	lba48(0, 64); // 32 KiB > 8192 * 2 bytes
	cmd(0x25);
	fx.out(BM, 0x09);
	EXPECT_EQ(0x00u, fx.in(BM + 2) & 0x07);
	EXPECT_TRUE(altstatus() & DRQ);
}

TEST_F(IdeTest, ErrorsAndMisc)
{
	lba28(16384, 1);
	cmd(0x20);
	EXPECT_EQ(DRDY | DSC | ERR, status());
	EXPECT_EQ(0x10u, fx.in(P + 1)) << "IDNF past the end";
	lba28(16383, 2);
	cmd(0x40);
	EXPECT_TRUE(status() & ERR) << "VERIFY past the end";
	lba28(16382, 2);
	cmd(0x40);
	EXPECT_EQ(DRDY | DSC, status());
	cmd(0xff);
	EXPECT_EQ(DRDY | DSC | ERR, status());
	EXPECT_EQ(0x04u, fx.in(P + 1)) << "unknown command aborts";
	cmd(0x00);
	EXPECT_EQ(0x04u, fx.in(P + 1)) << "NOP aborts";
	cmd(0xe7);
	EXPECT_EQ(DRDY | DSC, status());
	cmd(0xea);
	EXPECT_EQ(DRDY | DSC, status());
	cmd(0x10);
	EXPECT_EQ(DRDY | DSC, status()) << "RECALIBRATE";
	cmd(0xe5);
	EXPECT_EQ(0xffu, fx.in(P + 2)) << "CHECK POWER MODE: active";
	// SET FEATURES: UDMA 5, write cache off, unknown subcommand
	fx.out(P + 1, 0x03);
	fx.out(P + 2, 0x45);
	cmd(0xef);
	EXPECT_EQ(DRDY | DSC, status());
	auto w = identify();
	EXPECT_EQ(0x203f, w[88]);
	EXPECT_EQ(0x0007, w[63]) << "multiword DMA deselected";
	fx.out(P + 1, 0x82);
	cmd(0xef);
	status();
	EXPECT_FALSE(identify()[85] & 0x20);
	fx.out(P + 1, 0x03);
	fx.out(P + 2, 0x46);
	cmd(0xef);
	EXPECT_TRUE(status() & ERR) << "UDMA 6 does not exist";
	fx.out(P + 1, 0x77);
	cmd(0xef);
	EXPECT_TRUE(status() & ERR);
}

TEST_F(IdeTest, ResetAndInterruptEnable)
{
	lba28(0x12345, 9);
	fx.out(PCTL, 0x04);
	EXPECT_EQ(BSY, altstatus());
	fx.out(PCTL, 0x00);
	EXPECT_EQ(DRDY | DSC, altstatus());
	EXPECT_EQ(1u, fx.in(P + 2));
	EXPECT_EQ(1u, fx.in(P + 3));
	EXPECT_EQ(0u, fx.in(P + 4));
	EXPECT_EQ(0u, fx.in(P + 5));
	EXPECT_EQ(1u, fx.in(P + 1)) << "diagnostics passed";
	// nIEN: the line stays low while the interrupt is pending
	fx.out(PCTL, 0x02);
	cmd(0xe7);
	EXPECT_EQ(0, fx.irq[14]);
	fx.out(PCTL, 0x00);
	EXPECT_EQ(1, fx.irq[14]) << "pending interrupt shows once enabled";
	EXPECT_EQ(0x04u, fx.in(BM + 2) & 0x04) << "bus-master status saw it";
	status();
	EXPECT_EQ(0, fx.irq[14]);
	// EXECUTE DEVICE DIAGNOSTIC
	cmd(0x90);
	EXPECT_EQ(1u, fx.in(P + 1));
	EXPECT_EQ(1, fx.irq[14]);
}

TEST_F(IdeTest, AbsentSlave)
{
	fx.out(P + 6, 0xb0);
	EXPECT_EQ(0xb0u, fx.in(P + 6));
	EXPECT_EQ(0u, status()) << "nobody there";
	fx.out(P + 2, 0x55);
	EXPECT_EQ(0x55u, fx.in(P + 2)) << "the registers latch writes for both devices";
	// after a reset the absent device's signature reads as a floating bus
	fx.out(PCTL, 0x04);
	fx.out(PCTL, 0x00);
	fx.out(P + 6, 0xb0);
	EXPECT_EQ(0xffu, fx.in(P + 4));
	EXPECT_EQ(0xffu, fx.in(P + 5));
	EXPECT_EQ(0u, fx.in(P + 1)) << "no diagnostic code from nobody";
	fx.out(P + 6, 0xa0);
	EXPECT_EQ(0u, fx.in(P + 4)) << "device 0's ATA signature";
	EXPECT_EQ(1u, fx.in(P + 1));
	fx.out(P + 6, 0xb0);
	int rises = fx.irq_rises[14];
	cmd(0xec);
	EXPECT_EQ(0u, status());
	EXPECT_EQ(rises, fx.irq_rises[14]) << "commands to the absent device are ignored";
	fx.out(P + 6, 0xa0);
	EXPECT_EQ(DRDY | DSC, status());
}

// ---- ATAPI ----

struct AtapiTest : IdeTest {
	std::vector<uint8_t> iso = patterned(64 * 2048);
	struct block *cd = nullptr;
	uint8_t last_status = 0;

	void SetUp() override
	{
		IdeTest::SetUp();
		ASSERT_EQ(0, block_open_memory(&cd, iso.data(), iso.size(), "cd"));
		ASSERT_EQ(0, ide_attach(ide, 2, IDE_MEDIA_CDROM, cd));
	}
	// Sends a packet (PIO) and reads all data, chunk by chunk.
	std::vector<uint8_t> packet(std::vector<uint8_t> cdb, uint16_t limit = 0xfffe,
				    std::vector<uint32_t> *chunks = nullptr)
	{
		cdb.resize(12);
		fx.out(S + 6, 0xa0);
		fx.out(S + 1, 0);
		fx.out(S + 4, limit & 0xff);
		fx.out(S + 5, limit >> 8);
		cmd(0xa0, S);
		EXPECT_EQ(DRDY | DSC | DRQ, altstatus(SCTL));
		EXPECT_EQ(1u, fx.in(S + 2)) << "interrupt reason: command";
		for (int i = 0; i < 12; i += 2)
			fx.out(S, cdb[i] | cdb[i + 1] << 8, 2);
		std::vector<uint8_t> data;
		for (int guard = 0; guard < 10000; guard++) {
			uint8_t st = status(S);
			if (!(st & DRQ)) {
				last_status = st;
				EXPECT_EQ(3u, fx.in(S + 2)) << "interrupt reason: done";
				return data;
			}
			EXPECT_EQ(2u, fx.in(S + 2)) << "interrupt reason: data in";
			uint32_t n = fx.in(S + 4) | fx.in(S + 5) << 8;
			if (chunks)
				chunks->push_back(n);
			auto part = pio_in(n, S);
			data.insert(data.end(), part.begin(), part.end());
		}
		ADD_FAILURE() << "no end of data";
		return data;
	}
	std::vector<uint8_t> sense()
	{
		return packet({0x03, 0, 0, 0, 18});
	}
	void expect_sense(uint8_t key, uint8_t asc, uint8_t ascq = 0)
	{
		auto s = sense();
		ASSERT_EQ(18u, s.size());
		EXPECT_EQ(key, s[2] & 0x0f);
		EXPECT_EQ(asc, s[12]);
		EXPECT_EQ(ascq, s[13]);
	}
	std::vector<uint8_t> read10(uint32_t lba, uint16_t n, uint16_t limit = 0xfffe,
				    std::vector<uint32_t> *chunks = nullptr)
	{
		return packet({0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
			       (uint8_t)(lba >> 8), (uint8_t)lba, 0, (uint8_t)(n >> 8), (uint8_t)n},
			      limit, chunks);
	}
	bool check_condition() { return last_status & ERR; }
};

TEST_F(AtapiTest, SignatureAndIdentify)
{
	fx.out(S + 6, 0xa0);
	EXPECT_EQ(0x14u, fx.in(S + 4));
	EXPECT_EQ(0xebu, fx.in(S + 5));
	cmd(0xec, S);
	EXPECT_EQ(DRDY | DSC | ERR, status(S)) << "IDENTIFY DEVICE aborts";
	EXPECT_EQ(0x14u, fx.in(S + 4));
	EXPECT_EQ(0xebu, fx.in(S + 5));
	auto w = identify(0xa1, S);
	ASSERT_EQ(256u, w.size());
	EXPECT_EQ(0x85c0, w[0]);
	EXPECT_EQ("PCVM DVD-ROM", ata_string(w, 27, 20));
	EXPECT_TRUE(w[49] & 0x0200);
	EXPECT_EQ(0x604b, w[93]);
	// software reset leaves the signature, status without DRDY
	fx.out(SCTL, 0x04);
	fx.out(SCTL, 0x00);
	EXPECT_EQ(0u, altstatus(SCTL));
	EXPECT_EQ(0xebu, fx.in(S + 5));
}

TEST_F(AtapiTest, InquiryAndCapacity)
{
	auto inq = packet({0x12, 0, 0, 0, 36});
	ASSERT_EQ(36u, inq.size());
	EXPECT_EQ(0x05, inq[0]);
	EXPECT_EQ(0x80, inq[1]);
	EXPECT_EQ("PCVM    ", std::string(inq.begin() + 8, inq.begin() + 16));
	EXPECT_EQ(5u, packet({0x12, 0, 0, 0, 5}).size()) << "allocation length";
	packet({0x12, 1, 0, 0, 36});
	EXPECT_TRUE(check_condition()) << "no VPD pages";
	expect_sense(5, 0x24);

	packet({0x00});
	EXPECT_FALSE(check_condition());
	auto cap = packet({0x25});
	ASSERT_EQ(8u, cap.size());
	EXPECT_EQ(63u, (uint32_t)cap[0] << 24 | cap[1] << 16 | cap[2] << 8 | cap[3]);
	EXPECT_EQ(2048u, (uint32_t)cap[4] << 24 | cap[5] << 16 | cap[6] << 8 | cap[7]);
}

TEST_F(AtapiTest, Read10InChunks)
{
	std::vector<uint32_t> chunks;
	int rises = fx.irq_rises[15];
	auto d = read10(10, 3, 2048, &chunks);
	ASSERT_EQ(3u * 2048, d.size());
	EXPECT_EQ(0, memcmp(d.data(), iso.data() + 10 * 2048, d.size()));
	EXPECT_EQ((std::vector<uint32_t>{2048, 2048, 2048}), chunks);
	EXPECT_EQ(rises + 4, fx.irq_rises[15]) << "one per chunk and one at the end";
	chunks.clear();
	d = read10(0, 40, 0xffff, &chunks); // 80 KiB
	ASSERT_EQ(40u * 2048, d.size());
	EXPECT_EQ(0, memcmp(d.data(), iso.data(), d.size()));
	for (uint32_t c : chunks)
		EXPECT_LE(c, 0xfffeu);
	// READ(12)
	d = packet({0xa8, 0, 0, 0, 0, 63, 0, 0, 0, 1});
	EXPECT_EQ(0, memcmp(d.data(), iso.data() + 63 * 2048, 2048));
	// past the end
	read10(63, 2);
	EXPECT_TRUE(check_condition());
	expect_sense(5, 0x21);
	// zero blocks: no data
	EXPECT_TRUE(read10(5, 0).empty());
	EXPECT_FALSE(check_condition());
}

TEST_F(AtapiTest, ReadToc)
{
	auto toc = packet({0x43, 0, 0, 0, 0, 0, 0, 0, 100});
	ASSERT_EQ(20u, toc.size());
	EXPECT_EQ(18, toc[0] << 8 | toc[1]);
	EXPECT_EQ(1, toc[2]);
	EXPECT_EQ(1, toc[3]);
	EXPECT_EQ(0x14, toc[5]);
	EXPECT_EQ(1, toc[6]);
	EXPECT_EQ(0u, (uint32_t)toc[8] << 24 | toc[9] << 16 | toc[10] << 8 | toc[11]);
	EXPECT_EQ(0xaa, toc[14]);
	EXPECT_EQ(64u, (uint32_t)toc[16] << 24 | toc[17] << 16 | toc[18] << 8 | toc[19]);
	// MSF: track 1 at 00:02:00, lead-out at 64+150 frames = 00:02:64
	toc = packet({0x43, 2, 0, 0, 0, 0, 0, 0, 100});
	EXPECT_EQ(0, toc[9]);
	EXPECT_EQ(2, toc[10]);
	EXPECT_EQ(0, toc[11]);
	EXPECT_EQ(2, toc[18]);
	EXPECT_EQ(64, toc[19]);
	// format 1: session information
	toc = packet({0x43, 0, 1, 0, 0, 0, 0, 0, 12});
	ASSERT_EQ(12u, toc.size());
	EXPECT_EQ(10, toc[1]);
	EXPECT_EQ(1, toc[6]);
	// format 2: full TOC with A0, A1, A2 and track 1
	toc = packet({0x43, 2, 2, 0, 0, 0, 0, 0, 100});
	ASSERT_EQ(4u + 4 * 11, toc.size());
	EXPECT_EQ(0xa2, toc[4 + 2 * 11 + 3]);
	// a track that does not exist
	packet({0x43, 0, 0, 0, 0, 0, 5, 0, 100});
	EXPECT_TRUE(check_condition());
	packet({0x43, 0, 7, 0, 0, 0, 0, 0, 100});
	EXPECT_TRUE(check_condition()) << "unknown format";
}

TEST_F(AtapiTest, MediaChangeAndEject)
{
	std::vector<uint8_t> other(10 * 2048, 0x3c);
	struct block *b2;
	ASSERT_EQ(0, block_open_memory(&b2, other.data(), other.size(), "other"));
	ASSERT_EQ(0, ide_cdrom_change(ide, 2, b2, false));
	// GESN sees new media without a unit attention
	auto ev = packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});
	ASSERT_EQ(8u, ev.size());
	EXPECT_EQ(4, ev[2]);
	EXPECT_EQ(2, ev[4]) << "new media";
	EXPECT_EQ(2, ev[5]) << "present, tray closed";
	// the next command reports the change once
	packet({0x00});
	EXPECT_TRUE(check_condition());
	expect_sense(6, 0x28);
	packet({0x00});
	EXPECT_FALSE(check_condition());
	auto cap = packet({0x25});
	EXPECT_EQ(9, cap[3]);
	EXPECT_EQ(0x3c, read10(9, 1)[100]);
	// REQUEST SENSE itself picks up a pending unit attention
	struct block *b3;
	ASSERT_EQ(0, block_open_memory(&b3, iso.data(), iso.size(), "cd3"));
	ASSERT_EQ(0, ide_cdrom_change(ide, 2, b3, false));
	expect_sense(6, 0x28);
	packet({0x00});
	EXPECT_FALSE(check_condition());
	// host eject: medium not present
	ASSERT_EQ(0, ide_cdrom_change(ide, 2, nullptr, false));
	packet({0x00});
	EXPECT_TRUE(check_condition());
	expect_sense(2, 0x3a, 1);
	ev = packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});
	EXPECT_EQ(3, ev[4]) << "media removal";
	EXPECT_EQ(0, ev[5]);
	ev = packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});
	EXPECT_EQ(0, ev[4]) << "reported once";
	auto cfg = packet({0x46, 2, 0, 0, 0, 0, 0, 0, 8});
	EXPECT_EQ(0, cfg[6] << 8 | cfg[7]) << "no current profile without a disc";
	EXPECT_EQ(-ENODEV, ide_cdrom_change(ide, 0, nullptr, false)) << "hda is no CD-ROM";
}

TEST_F(AtapiTest, FoundThroughTheMachine)
{
	EXPECT_EQ(ide, ide_find(fx.vm));
	PciFixture bare;
	EXPECT_EQ(nullptr, ide_find(bare.vm));
}

TEST_F(AtapiTest, LockedTray)
{
	packet({0x1e, 0, 0, 0, 1});
	EXPECT_FALSE(check_condition());
	EXPECT_TRUE(ide_cdrom_locked(ide, 2));
	EXPECT_EQ(-EBUSY, ide_cdrom_change(ide, 2, nullptr, false));
	auto ev = packet({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8});
	EXPECT_EQ(1, ev[4]) << "eject request";
	packet({0x00});
	EXPECT_FALSE(check_condition()) << "the disc is still there";
	packet({0x1b, 0, 0, 0, 2});
	EXPECT_TRUE(check_condition()) << "guest eject while locked";
	expect_sense(5, 0x53, 2);
	auto ms = packet({0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64});
	ASSERT_GE(ms.size(), 8u + 22);
	EXPECT_EQ(0x2a, ms[8]);
	EXPECT_EQ(0x2b, ms[8 + 6]) << "lock state shown";
	packet({0x1e, 0, 0, 0, 0});
	packet({0x1b, 0, 0, 0, 2});
	EXPECT_FALSE(check_condition());
	packet({0x00});
	expect_sense(2, 0x3a, 2);
	auto mech = packet({0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8});
	EXPECT_EQ(0x10, mech[1]) << "tray open";
	packet({0x1b, 0, 0, 0, 3});  // close the tray
	packet({0x00});
	EXPECT_TRUE(check_condition()) << "medium may have changed";
	packet({0x00});
	EXPECT_FALSE(check_condition());
	// forced change overrides the lock
	packet({0x1e, 0, 0, 0, 1});
	EXPECT_EQ(0, ide_cdrom_change(ide, 2, nullptr, true));
	EXPECT_FALSE(ide_cdrom_locked(ide, 2));
}

TEST_F(AtapiTest, ConfigurationModeSenseAndUnknown)
{
	auto cfg = packet({0x46, 0, 0, 0, 0, 0, 0, 1, 0});
	ASSERT_GE(cfg.size(), 8u + 12);
	EXPECT_EQ(0x0008, cfg[6] << 8 | cfg[7]) << "a small disc is a CD";
	EXPECT_EQ(cfg.size() - 4, (size_t)((uint32_t)cfg[0] << 24 | cfg[1] << 16 | cfg[2] << 8 | cfg[3]));
	EXPECT_EQ(0, cfg[8] << 8 | cfg[9]) << "profile list first";
	cfg = packet({0x46, 2, 0, 0x03, 0, 0, 0, 0, 64});
	ASSERT_EQ(16u, cfg.size());
	EXPECT_EQ(3, cfg[9]) << "just the removable medium feature";
	EXPECT_EQ(0x29, cfg[12]);
	auto ms = packet({0x1a, 0, 0x3f, 0, 255});
	EXPECT_EQ(ms.size() - 1, ms[0]);
	EXPECT_EQ(4u + 8 + 22, ms.size());
	packet({0x5a, 0, 0x3e, 0, 0, 0, 0, 0, 64});
	EXPECT_TRUE(check_condition()) << "unknown mode page";
	packet({0xd8});
	EXPECT_TRUE(check_condition());
	EXPECT_EQ(0x50u, fx.in(S + 1)) << "sense key in the error register";
	expect_sense(5, 0x20);
	packet({0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8});
	EXPECT_TRUE(check_condition()) << "asynchronous GESN is not supported";
}

TEST_F(AtapiTest, DmaRead)
{
	prds({{0x60000, 2048}, {0x70000, 4096}}, BM + 8);
	fx.out(S + 6, 0xa0);
	fx.out(S + 1, 0x01); // DMA
	cmd(0xa0, S);
	uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 20, 0, 0, 3};
	for (int i = 0; i < 12; i += 2)
		fx.out(S, cdb[i] | cdb[i + 1] << 8, 2);
	EXPECT_TRUE(altstatus(SCTL) & DRQ);
	fx.out(BM + 8, 0x09);
	EXPECT_EQ(DRDY | DSC, status(S));
	EXPECT_EQ(3u, fx.in(S + 2));
	EXPECT_EQ(0, memcmp(fx.ram(0x60000), iso.data() + 20 * 2048, 2048));
	EXPECT_EQ(0, memcmp(fx.ram(0x70000), iso.data() + 21 * 2048, 4096));
	EXPECT_EQ(0x04u, fx.in(BM + 10) & 0x07);
}

TEST_F(AtapiTest, EmptyDrive)
{
	struct block *b;
	std::vector<uint8_t> small(512);
	ASSERT_EQ(0, block_open_memory(&b, small.data(), small.size(), "x"));
	ASSERT_EQ(0, ide_attach(ide, 3, IDE_MEDIA_CDROM, nullptr));
	fx.out(S + 6, 0xb0);
	auto w = identify(0xa1, S);
	ASSERT_EQ(256u, w.size());
	EXPECT_EQ(0x6b00, w[93]);
	fx.out(S + 6, 0xa0);
	EXPECT_EQ(0x603b, identify(0xa1, S)[93]) << "device 0 sees device 1";
	block_close(b);
	EXPECT_EQ(-EEXIST, ide_attach(ide, 3, IDE_MEDIA_CDROM, nullptr));
	EXPECT_EQ(-EINVAL, ide_attach(ide, 1, IDE_MEDIA_DISK, nullptr));
}

} // namespace

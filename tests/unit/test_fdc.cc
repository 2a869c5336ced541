// The 82077AA: reset and drive polling, the command/result protocol on
// MSR, seeks and SENSE INTERRUPT, READ ID and data rates, DMA reads and
// writes of sectors from image files (multi-sector, multi-track, end of
// track, terminal count), FORMAT, write protection, non-DMA transfers, the
// disk-change line, and the housekeeping commands.
#include <gtest/gtest.h>
#include <string.h>
#include <string>
#include <vector>
#include "pcvm.h"
#include "run.h"
#include "vm_fixture.h"

namespace {

using Bytes = std::vector<int>;

// An image whose every byte tells where it is: sector LBA in the first two
// bytes of each 16-byte group, the offset in the group in the rest.
std::string make_image(uint64_t size)
{
	std::string s(size, '\0');
	for (uint64_t i = 0; i < size; i++) {
		uint64_t lba = i / 512;
		s[i] = (char)(i % 16 == 0 ? lba & 0xff : i % 16 == 1 ? lba >> 8 : i);
	}
	return s;
}

struct FdcTest : ::testing::Test {
	VmFixture f{2u << 20};
	struct dma *dma = nullptr;
	struct fdc *fdc = nullptr;
	std::string dir, path, image;

	void SetUp() override
	{
		ASSERT_EQ(0, dma_create(f.vm, &dma));
		ASSERT_EQ(0, fdc_create(f.vm, dma, &fdc));
		dir = temp_dir();
		insert(1474560);
		// SeaBIOS's dma_setup().
		f.outb(0x0d, 0);
		f.outb(0xda, 0);
		f.outb(0xd6, 0xc0);
		f.outb(0xd4, 0x00);
	}
	void insert(uint64_t size, bool readonly = false)
	{
		path = dir + "/fd" + std::to_string(size) + ".img";
		image = make_image(size);
		write_file(path, image);
		struct block *b;
		struct block_open_opts o = {};
		o.readonly = readonly;
		ASSERT_EQ(0, block_open(&b, path.c_str(), &o));
		ASSERT_EQ(0, fdc_insert(fdc, 0, b));
	}
	uint8_t msr() { return f.inb(0x3f4); }
	void cmd(std::initializer_list<int> bytes)
	{
		for (int b : bytes) {
			ASSERT_EQ(0x80, msr() & 0xc0) << "controller not ready for byte " << b;
			f.outb(0x3f5, (uint8_t)b);
		}
	}
	Bytes results()
	{
		Bytes r;
		while ((msr() & 0xd0) == 0xd0 && r.size() < 16)
			r.push_back(f.inb(0x3f5));
		EXPECT_EQ(0x80, msr() & 0xd0) << "back to the command phase";
		return r;
	}
	void enable() // SeaBIOS's floppy_enable_controller()
	{
		f.outb(0x3f2, 0x08);
		f.outb(0x3f2, 0x0c);
		ASSERT_EQ(1, f.level[6]);
		for (int i = 0; i < 4; i++) {
			cmd({0x08});
			EXPECT_EQ((Bytes{0xc0 | i, 0}), results());
		}
		ASSERT_EQ(0, f.level[6]);
		f.outb(0x3f2, 0x1c); // motor A on
	}
	void dma2(uint32_t addr, uint32_t count, bool to_memory)
	{
		f.outb(0x0a, 0x06);
		f.outb(0x0c, 0);
		f.outb(0x04, (uint8_t)addr);
		f.outb(0x04, (uint8_t)(addr >> 8));
		f.outb(0x0c, 0);
		f.outb(0x05, (uint8_t)(count - 1));
		f.outb(0x05, (uint8_t)((count - 1) >> 8));
		f.outb(0x0b, to_memory ? 0x46 : 0x4a);
		f.outb(0x81, (uint8_t)(addr >> 16));
		f.outb(0x0a, 0x02);
	}
	void seek(int cyl, int head = 0)
	{
		cmd({0x0f, head << 2, cyl});
		EXPECT_EQ(1, f.level[6]);
		cmd({0x08});
		EXPECT_EQ((Bytes{0x20 | head << 2, cyl}), results());
	}
	std::string sectors(unsigned lba, unsigned n) { return image.substr(lba * 512, n * 512); }
	std::string ram(uint32_t addr, size_t n) { return std::string((char *)f.ram + addr, n); }
};

TEST_F(FdcTest, ResetPollsFourDrives)
{
	EXPECT_EQ(0x00, msr()) << "held in reset at power-on";
	enable();
	cmd({0x08});
	EXPECT_EQ(Bytes{0x80}, results()) << "nothing more to sense: invalid";
	// A software reset through the DSR polls again.
	f.outb(0x3f4, 0x80);
	EXPECT_EQ(1, f.level[6]);
	cmd({0x08});
	EXPECT_EQ((Bytes{0xc0, 0}), results());
}

TEST_F(FdcTest, InterruptNeedsTheDmaGate)
{
	f.outb(0x3f2, 0x04); // out of reset, but DMA/IRQ gate off
	EXPECT_EQ(0, f.level[6]);
	f.outb(0x3f2, 0x0c);
	EXPECT_EQ(1, f.level[6]) << "the pending interrupt shows once the gate opens";
}

TEST_F(FdcTest, HousekeepingCommands)
{
	enable();
	cmd({0x10});
	EXPECT_EQ(Bytes{0x90}, results()) << "82077AA";
	cmd({0x03, 0xaf, 0x02});
	cmd({0x13, 0x00, 0x57, 0x05});
	cmd({0x12, 0x83});
	cmd({0x94});
	EXPECT_EQ(Bytes{0x10}, results());
	seek(5);
	cmd({0x0e});
	EXPECT_EQ((Bytes{5, 0, 0, 0, 0xaf, 0x02, 0, 0x80 | 0x03, 0x57, 0x05}), results());
	// LOCK keeps the FIFO settings over a software reset.
	f.outb(0x3f4, 0x80);
	for (int i = 0; i < 4; i++) {
		cmd({0x08});
		results();
	}
	cmd({0x0e});
	Bytes r = results();
	EXPECT_EQ(0x07, r[8]) << "EIS and POLL reset; EFIFO and FIFOTHR locked";
	EXPECT_EQ(0x05, r[9]);
	cmd({0x14});
	EXPECT_EQ(Bytes{0x00}, results());
	cmd({0x02});
	EXPECT_EQ(Bytes{0x80}, results()) << "READ TRACK answers as invalid";
	EXPECT_EQ(0, f.level[6]) << "no interrupt for an invalid command";
}

TEST_F(FdcTest, SeekRecalibrateAndDriveStatus)
{
	enable();
	seek(40, 1);
	cmd({0x04, 0x04});
	EXPECT_EQ(Bytes{0x2c}, results()) << "not track 0, not protected, head 1";
	cmd({0x07, 0x00});
	cmd({0x08});
	EXPECT_EQ((Bytes{0x20, 0}), results());
	cmd({0x04, 0x00});
	EXPECT_EQ(Bytes{0x38}, results()) << "track 0";
	cmd({0x8f | 0x40, 0x00, 3}); // relative seek inward by 3
	cmd({0x08});
	EXPECT_EQ((Bytes{0x20, 3}), results());
	cmd({0x07, 0x01}); // drive B does not exist
	cmd({0x08});
	EXPECT_EQ((Bytes{0x71, 0}), results()) << "equipment check";
}

TEST_F(FdcTest, ReadIdAtTheMediaRate)
{
	enable();
	f.outb(0x3f7, 0x02); // 250 kb/s: wrong for 1.44 MB media
	cmd({0x4a, 0x00});
	Bytes r = results();
	EXPECT_EQ(0x40, r[0]);
	EXPECT_EQ(0x01, r[1]) << "missing address mark";
	f.outb(0x3f7, 0x00);
	seek(7);
	cmd({0x4a, 0x00});
	r = results();
	ASSERT_EQ(7u, r.size());
	EXPECT_EQ((Bytes{0, 0, 0, 7, 0, r[5], 2}), r);
	EXPECT_GE(r[5], 1);
	EXPECT_LE(r[5], 18);
}

TEST_F(FdcTest, DmaReadOfSeveralSectors)
{
	enable();
	f.outb(0x3f7, 0x00);
	seek(2);
	dma2(0x10000, 3 * 512, true);
	cmd({0xe6, 0x00, 2, 0, 4, 2, 6, 0x1b, 0xff}); // C2 H0 R4..R6
	EXPECT_EQ(1, f.level[6]);
	EXPECT_EQ((Bytes{0x00, 0x00, 0x00, 2, 1, 1, 2}), results())
		<< "ended at EOT with MT: the next ID is head 1, sector 1";
	EXPECT_EQ(0, f.level[6]) << "cleared by reading the result";
	unsigned lba = (2 * 2 + 0) * 18 + 3;
	EXPECT_EQ(sectors(lba, 3), ram(0x10000, 3 * 512));
	EXPECT_EQ(0, f.ram[0x10000 + 3 * 512]) << "no more than the DMA count";
}

TEST_F(FdcTest, MultiTrackReadContinuesOnHead1)
{
	enable();
	f.outb(0x3f7, 0x00);
	seek(1);
	dma2(0x20000, 4 * 512, true);
	cmd({0xe6, 0x00, 1, 0, 17, 2, 18, 0x1b, 0xff});
	EXPECT_EQ((Bytes{0x04, 0x00, 0x00, 1, 1, 3, 2}), results())
		<< "ended on head 1, next sector 3";
	EXPECT_EQ(sectors(18 * 2 + 16, 4), ram(0x20000, 4 * 512));
	// Ending exactly at the last sector of side 1: next is C+1, H0, R1.
	dma2(0x20000, 512, true);
	cmd({0xe6, 0x04, 1, 1, 18, 2, 18, 0x1b, 0xff});
	EXPECT_EQ((Bytes{0x04, 0x00, 0x00, 2, 0, 1, 2}), results());
}

TEST_F(FdcTest, EndOfTrackWithoutTerminalCount)
{
	enable();
	f.outb(0x3f7, 0x00);
	dma2(0x30000, 8 * 512, true);
	cmd({0x46, 0x00, 0, 0, 16, 2, 18, 0x1b, 0xff}); // no MT: R16-R18
	EXPECT_EQ((Bytes{0x40, 0x80, 0x00, 1, 0, 1, 2}), results()) << "end of cylinder";
	EXPECT_EQ(sectors(15, 3), ram(0x30000, 3 * 512));
}

TEST_F(FdcTest, WrongCylinderAndImpliedSeek)
{
	enable();
	f.outb(0x3f7, 0x00);
	dma2(0x30000, 512, true);
	cmd({0xe6, 0x00, 9, 0, 1, 2, 18, 0x1b, 0xff});
	Bytes r = results();
	EXPECT_EQ(0x40, r[0]);
	EXPECT_EQ(0x04, r[1]) << "no data";
	EXPECT_EQ(0x10, r[2]) << "wrong cylinder";
	cmd({0x13, 0x00, 0x40, 0x00}); // CONFIGURE: implied seek
	dma2(0x30000, 512, true);
	cmd({0xe6, 0x00, 9, 0, 1, 2, 18, 0x1b, 0xff});
	EXPECT_EQ(0x00, results()[0]);
	EXPECT_EQ(sectors(9 * 36, 1), ram(0x30000, 512));
	dma2(0x30000, 512, true);
	cmd({0xe6, 0x00, 9, 0, 19, 2, 19, 0x1b, 0xff});
	EXPECT_EQ(0x04, results()[1]) << "no sector 19 on a 1.44 MB track";
}

TEST_F(FdcTest, DmaWriteReachesTheImage)
{
	enable();
	f.outb(0x3f7, 0x00);
	seek(79);
	for (int i = 0; i < 1024; i++)
		f.ram[0x40000 + i] = (uint8_t)(0xa5 ^ i);
	dma2(0x40000, 1024, false);
	cmd({0xc5, 0x04, 79, 1, 17, 2, 18, 0x1b, 0xff}); // C79 H1 R17-18
	EXPECT_EQ((Bytes{0x04, 0x00, 0x00, 80, 0, 1, 2}), results());
	std::string now = read_file(path);
	unsigned lba = (79 * 2 + 1) * 18 + 16;
	EXPECT_EQ(ram(0x40000, 1024), now.substr(lba * 512, 1024));
	EXPECT_EQ(image.substr(0, lba * 512), now.substr(0, lba * 512)) << "nothing else changed";
}

TEST_F(FdcTest, WriteProtectedImage)
{
	fdc_eject(fdc, 0);
	insert(1474560, true);
	enable();
	f.outb(0x3f7, 0x00);
	cmd({0x04, 0x00});
	EXPECT_EQ(0x40, results()[0] & 0x40);
	dma2(0x40000, 512, false);
	cmd({0xc5, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff});
	Bytes r = results();
	EXPECT_EQ(0x40, r[0]);
	EXPECT_EQ(0x02, r[1]) << "not writable";
	EXPECT_EQ(image, read_file(path));
}

TEST_F(FdcTest, FormatTrack)
{
	enable();
	f.outb(0x3f7, 0x00);
	seek(3);
	for (int s = 0; s < 18; s++) {
		uint8_t *id = f.ram + 0x50000 + s * 4;
		id[0] = 3;
		id[1] = 1;
		id[2] = (uint8_t)(s + 1);
		id[3] = 2;
	}
	dma2(0x50000, 18 * 4, false);
	cmd({0x4d, 0x04, 2, 18, 0x6c, 0xf6});
	Bytes r = results();
	EXPECT_EQ(0x04, r[0]);
	EXPECT_EQ(0x00, r[1]);
	std::string now = read_file(path);
	unsigned lba = (3 * 2 + 1) * 18;
	EXPECT_EQ(std::string(18 * 512, '\xf6'), now.substr(lba * 512, 18 * 512));
	EXPECT_EQ(image.substr((lba - 1) * 512, 512), now.substr((lba - 1) * 512, 512));
}

TEST_F(FdcTest, NonDmaRead)
{
	enable();
	f.outb(0x3f7, 0x00);
	cmd({0x03, 0xaf, 0x03}); // SPECIFY with ND
	cmd({0x46, 0x00, 0, 0, 17, 2, 18, 0x1b, 0xff});
	std::string got;
	while ((msr() & 0xf0) == 0xf0) { // RQM, DIO, NDMA, CB: data to read
		EXPECT_EQ(1, f.level[6]) << "INT asks for each byte";
		got += (char)f.inb(0x3f5);
	}
	EXPECT_EQ(sectors(16, 2), got);
	EXPECT_EQ((Bytes{0x40, 0x80, 0x00, 1, 0, 1, 2}), results())
		<< "without DMA the command runs to the end of the track";
}

TEST_F(FdcTest, NonDmaWrite)
{
	enable();
	f.outb(0x3f7, 0x00);
	cmd({0x03, 0xaf, 0x03});
	cmd({0x45, 0x00, 0, 0, 18, 2, 18, 0x1b, 0xff});
	EXPECT_EQ(0xb0, msr() & 0xf0) << "RQM, NDMA, CB: data wanted";
	for (int i = 0; i < 512; i++)
		f.outb(0x3f5, 0x3c);
	EXPECT_EQ(0x40, results()[0]);
	EXPECT_EQ(std::string(512, '\x3c'), read_file(path).substr(17 * 512, 512));
}

TEST_F(FdcTest, DmaNotReadyIsAnOverrun)
{
	enable();
	f.outb(0x3f7, 0x00);
	f.outb(0x0a, 0x06); // channel 2 masked
	cmd({0xe6, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff});
	Bytes r = results();
	EXPECT_EQ(0x40, r[0]);
	EXPECT_EQ(0x10, r[1]);
}

TEST_F(FdcTest, DiskChangeLine)
{
	enable();
	EXPECT_EQ(0x80, f.inb(0x3f7)) << "set since the disk went in";
	seek(1);
	EXPECT_EQ(0x00, f.inb(0x3f7)) << "a step with a disk present clears it";
	fdc_eject(fdc, 0);
	EXPECT_EQ(0x80, f.inb(0x3f7));
	seek(2);
	EXPECT_EQ(0x80, f.inb(0x3f7)) << "no disk: stays set";
	cmd({0x4a, 0x00});
	EXPECT_EQ(0x01, results()[1]) << "no disk: missing address mark";
	insert(737280);
	seek(0);
	EXPECT_EQ(0x00, f.inb(0x3f7));
	EXPECT_EQ(4, fdc_drive_type(fdc, 0)) << "the drive keeps its type";
}

TEST_F(FdcTest, OtherFormats)
{
	fdc_eject(fdc, 0);
	insert(2949120);
	enable();
	f.outb(0x3f7, 0x03); // 1 Mb/s
	seek(10);
	dma2(0x60000, 512, true);
	cmd({0xe6, 0x04, 10, 1, 36, 2, 36, 0x1b, 0xff});
	EXPECT_EQ(0x04, results()[0]);
	EXPECT_EQ(sectors((10 * 2 + 1) * 36 + 35, 1), ram(0x60000, 512));
	fdc_eject(fdc, 0);
	insert(737280);
	f.outb(0x3f7, 0x02); // 250 kb/s
	seek(10);
	dma2(0x60000, 512, true);
	cmd({0xe6, 0x00, 10, 0, 9, 2, 9, 0x1b, 0xff});
	EXPECT_EQ(0x00, results()[0]);
	EXPECT_EQ(sectors(10 * 18 + 8, 1), ram(0x60000, 512));
}

TEST(FdcMedia, SizesAndTypes)
{
	EXPECT_EQ(3, fdc_media_for_size(737280)->cmos_type);
	EXPECT_EQ(2, fdc_media_for_size(1228800)->cmos_type);
	EXPECT_EQ(4, fdc_media_for_size(1474560)->cmos_type);
	EXPECT_EQ(5, fdc_media_for_size(2949120)->cmos_type);
	EXPECT_EQ(18, fdc_media_for_size(1474560)->sectors);
	EXPECT_EQ(nullptr, fdc_media_for_size(1474560 - 512));
	EXPECT_EQ(nullptr, fdc_media_for_size(0));
}

TEST(FdcMedia, InsertRefusesOtherSizes)
{
	VmFixture f;
	struct dma *dma;
	struct fdc *fdc;
	ASSERT_EQ(0, dma_create(f.vm, &dma));
	ASSERT_EQ(0, fdc_create(f.vm, dma, &fdc));
	static const uint8_t data[4096] = {};
	struct block *b;
	ASSERT_EQ(0, block_open_memory(&b, data, sizeof(data), "small"));
	EXPECT_EQ(-EINVAL, fdc_insert(fdc, 0, b));
	EXPECT_EQ(0, fdc_drive_type(fdc, 0));
	block_close(b);
}

TEST_F(FdcTest, MachineResetHoldsTheController)
{
	enable();
	seek(5);
	f.reset();
	EXPECT_EQ(0x00, msr());
	EXPECT_EQ(0x00, f.inb(0x3f2));
	enable();
	cmd({0x04, 0x00});
	EXPECT_EQ(0x10, results()[0] & 0x10) << "the controller's track is 0 again";
}

} // namespace

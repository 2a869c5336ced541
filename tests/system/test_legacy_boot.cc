// The legacy devices under SeaBIOS: booting and reading/writing floppies of
// each format through the BIOS (82077AA, DMA, CMOS drive type), guest
// resets with and without --no-reboot, and COM1 with interrupts against
// standard input and output. Guests report on port 0xE9 and end through
// the debug-exit port.
#include <gtest/gtest.h>
#include <string>
#include "run.h"

// SeaBIOS needs the i440FX (to shadow itself) and fw_cfg as well.
#if __has_include("chipset/i440fx.h") && __has_include("chipset/fwcfg.h")
#define HAVE_PCI_SIDE 1
#else
#define HAVE_PCI_SIDE 0
#endif

namespace {

class LegacyBoot : public ::testing::Test {
protected:
	std::string dir, log;
	void SetUp() override
	{
		if (!HAVE_PCI_SIDE)
			GTEST_SKIP() << "SeaBIOS needs the PCI side of the chipset, not in this build yet";
		dir = temp_dir();
		log = dir + "/debugcon.log";
	}
	RunResult boot(std::vector<std::string> args, const std::string &input = "",
		       const char *serial = "none")
	{
		std::vector<std::string> a = {"--display", "none", "--serial", serial,
					      "--debug-exit", "--debugcon", "file:" + log,
					      "--timeout", "120"};
		a.insert(a.end(), args.begin(), args.end());
		return run_pcvm(a, 180, input);
	}
	std::string disk(const char *guest, int method = -1)
	{
		std::string img = read_file(guest_path(guest));
		if (method >= 0)
			img[0x1f0] = (char)method;
		img.resize(1 << 20, '\0');
		std::string path = dir + "/disk.img";
		write_file(path, img);
		return path;
	}
};

TEST_F(LegacyBoot, FloppiesOfEachFormat)
{
	const struct { uint64_t size; int spt; } formats[] = {
		{737280, 9}, {1474560, 18}, {2949120, 36},
	};
	for (auto &fm : formats) {
		std::string img = read_file(guest_path("fdboot.bin"));
		img.resize(fm.size, '\0');
		img.replace(512, 8, "SECTOR#2");
		img.replace(1024, 8, "SECTOR#3");
		img.replace(fm.size - 512, 8, "LASTSECT");
		std::string path = dir + "/floppy.img";
		write_file(path, img);
		RunResult r = boot({"--fda", path, "--boot", "a"});
		std::string l = read_file(log);
		EXPECT_EQ(fm.spt, r.status) << fm.size << "\n" << r.err << l;
		EXPECT_NE(std::string::npos, l.find("booted from floppy")) << l;
		EXPECT_NE(std::string::npos, l.find("floppy ok")) << l;
		EXPECT_EQ(std::string::npos, l.find("floppy error")) << l;
		std::string after = read_file(path);
		EXPECT_EQ(img.substr(512, 512), after.substr(2 * fm.spt * 512, 512))
			<< "the guest's write reached the image";
	}
}

TEST_F(LegacyBoot, SnapshotKeepsTheFloppyAsItWas)
{
	std::string img = read_file(guest_path("fdboot.bin"));
	img.resize(1474560, '\0');
	img.replace(512, 8, "SECTOR#2");
	img.replace(1024, 8, "SECTOR#3");
	img.replace(img.size() - 512, 8, "LASTSECT");
	std::string path = dir + "/floppy.img";
	write_file(path, img);
	RunResult r = boot({"--fda", path, "--boot", "a", "--snapshot"});
	std::string l = read_file(log);
	EXPECT_EQ(18, r.status) << r.err << l;
	EXPECT_NE(std::string::npos, l.find("floppy ok")) << l << "\nthe guest's write succeeds";
	EXPECT_TRUE(img == read_file(path)) << "--snapshot: the image is left as it was";
}

TEST_F(LegacyBoot, NoRebootEndsOnEveryKindOfReset)
{
	const struct { int method; int status; const char *what; } cases[] = {
		{1, 4, "8042 reset pulse"},
		{2, 4, "port 0x92 fast reset"},
		{4, 4, "port 0xCF9"},
		{3, 5, "triple fault"},
	};
	for (auto &c : cases) {
		RunResult r = boot({"--no-reboot", disk("reset.bin", c.method)});
		EXPECT_EQ(c.status, r.status) << c.what << "\n" << r.err;
	}
}

TEST_F(LegacyBoot, WithoutNoRebootTheGuestBootsAgain)
{
	for (int method : {1, 2, 3, 4}) {
		RunResult r = boot({disk("reset.bin", method)});
		EXPECT_EQ(0x33, r.status) << "method " << method << "\n" << r.err;
	}
}

TEST_F(LegacyBoot, SerialWithInterruptsOnStdio)
{
	RunResult r = boot({disk("serial_echo.bin")}, "hello, com1.", "stdio");
	EXPECT_EQ(0x20, r.status) << r.err;
	EXPECT_EQ("ready\r\nHELLO, COM1.", r.out);
}

} // namespace

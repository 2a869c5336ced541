// Whole-machine boots through the chipset: a kernel started directly, and
// SeaBIOS booting from an IDE disk and an El Torito CD, following --boot,
// and a guest powering off through the ACPI tables SeaBIOS built. Guests
// report over port 0xE9 and end through the debug-exit port.
#include <gtest/gtest.h>
#include <string>
#include "run.h"

namespace {

std::string copy_guest(const std::string &dir, const char *name, const char *as)
{
	std::string path = dir + "/" + as;
	write_file(path, read_file(guest_path(name)));
	return path;
}

TEST(DirectBoot, KernelGetsCommandLineInitrdAndMemoryMap)
{
	std::string dir = temp_dir();
	std::string k = copy_guest(dir, "mini_bzimage.bin", "bzImage");
	write_file(dir + "/initrd", "INIT and the rest");
	std::string log = dir + "/con.log";
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--debug-exit",
				"--debugcon", "file:" + log, "--timeout", "60",
				"--kernel", k, "--initrd", dir + "/initrd",
				"--append", "console=ttyS0 root=/dev/sda1"});
	EXPECT_EQ(0x31, r.status) << r.err;
	EXPECT_EQ("console=ttyS0 root=/dev/sda1|INIT|5\n", read_file(log));
	r = run_pcvm({"--display", "none", "--serial", "none", "--debug-exit",
		      "--debugcon", "file:" + log, "--timeout", "60", "--kernel", k});
	EXPECT_EQ(0x31, r.status) << r.err;
	EXPECT_EQ("|none|5\n", read_file(log));
}

TEST(DirectBoot, AcpiPowerOffWithoutFirmware)
{
	std::string dir = temp_dir();
	std::string log = dir + "/con.log";
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--debug-exit",
				"--debugcon", "file:" + log, "--timeout", "60",
				"--kernel", guest_path("acpi_off_kernel.bin")});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_EQ("RFSEO", read_file(log)) << "RSDP, FADT, _S5, ACPI mode, off";
}

class FirmwareBoot : public ::testing::Test {
protected:
	std::string dir, log;
	void SetUp() override
	{
		dir = temp_dir();
		log = dir + "/seabios.log";
	}
	RunResult boot(std::vector<std::string> args)
	{
		std::vector<std::string> a = {"--display", "none", "--serial", "none",
					      "--debug-exit", "--debugcon", "file:" + log,
					      "--timeout", "120"};
		a.insert(a.end(), args.begin(), args.end());
		return run_pcvm(a, 180);
	}
	std::string iso()
	{
		std::string tree = dir + "/iso";
		RunResult m = run_cmd({"mkdir", "-p", tree});
		EXPECT_EQ(0, m.status);
		copy_guest(tree, "cdboot.bin", "boot.bin");
		std::string out = dir + "/cd.iso";
		RunResult x = run_cmd({"xorriso", "-as", "mkisofs", "-quiet", "-b", "boot.bin",
				       "-no-emul-boot", "-boot-load-size", "4", "-o", out, tree});
		EXPECT_EQ(0, x.status) << x.err;
		return out;
	}
	// Nothing in SeaBIOS's log says a device misbehaved.
	void expect_clean_log()
	{
		std::string l = read_file(log);
		for (const char *bad : {"WARNING", "Unable to", "failed", "Timeout", "timeout"})
			EXPECT_EQ(std::string::npos, l.find(bad)) << bad << " in:\n" << l;
	}
};

TEST_F(FirmwareBoot, FromHardDisks)
{
	std::string hda = copy_guest(dir, "hdboot.bin", "hda.img");
	std::string hdb = copy_guest(dir, "hdboot.bin", "hdb.img");
	RunResult r = boot({"--hda", hda, "--hdb", hdb});
	EXPECT_EQ(0x2b, r.status) << r.err;
	std::string l = read_file(log);
	EXPECT_NE(std::string::npos, l.find("Running on QEMU (i440fx)")) << l;
	EXPECT_NE(std::string::npos, l.find("ata0-0: PCVM HARDDISK")) << l;
	EXPECT_NE(std::string::npos, l.find("ata0-1: PCVM HARDDISK")) << l;
	EXPECT_NE(std::string::npos, l.find("DVD/CD [ata1-0: PCVM DVD-ROM")) << l;
	EXPECT_NE(std::string::npos, l.find("Booting from Hard Disk")) << l;
	EXPECT_NE(std::string::npos, l.find("booted from disk")) << l;
	expect_clean_log();
}

TEST_F(FirmwareBoot, FromElToritoCd)
{
	RunResult r = boot({"--cdrom", iso(), "--boot", "d"});
	EXPECT_EQ(0x2a, r.status) << r.err;
	std::string l = read_file(log);
	EXPECT_NE(std::string::npos, l.find("Booting from DVD/CD")) << l;
	EXPECT_NE(std::string::npos, l.find("booted from CD")) << l;
	expect_clean_log();
}

TEST_F(FirmwareBoot, BootOrderPicks)
{
	std::string hd = copy_guest(dir, "hdboot.bin", "hd.img");
	std::string cd = iso();
	EXPECT_EQ(0x2b, boot({"--hda", hd, "--cdrom", cd, "--boot", "cd"}).status);
	EXPECT_EQ(0x2a, boot({"--hda", hd, "--cdrom", cd, "--boot", "dc"}).status);
	EXPECT_EQ(0x2b, boot({"--hda", hd, "--cdrom", cd}).status) << "default: disk first";
}

TEST_F(FirmwareBoot, AcpiPowerOffEndsWithStatusZero)
{
	std::string hd = copy_guest(dir, "acpi_off.bin", "hd.img");
	RunResult r = boot({"--hda", hd});
	EXPECT_EQ(0, r.status) << r.err;
	std::string l = read_file(log);
	EXPECT_NE(std::string::npos, l.find("RFSEO")) << "RSDP, FADT, _S5, ACPI mode, off:\n" << l;
}

} // namespace

// The disk, boot and direct-kernel options as a user meets them: usage
// errors are one line with exit status 2, and nothing is created.
#include <gtest/gtest.h>
#include <algorithm>
#include <cstring>
#include "run.h"

namespace {

// A bzImage header with the given protocol version and init_size.
std::string bzimage(uint16_t version, uint32_t init_size)
{
	std::string f(5 * 512 + 4096, '\0');
	f[0x1f1] = 4;
	f[0x1fe] = (char)0x55;
	f[0x1ff] = (char)0xaa;
	f[0x201] = 0x6a;
	memcpy(&f[0x202], "HdrS", 4);
	memcpy(&f[0x206], &version, 2);
	f[0x211] = 1;
	uint32_t max = 0x7fffffff, cl = 2047;
	memcpy(&f[0x22c], &max, 4);
	memcpy(&f[0x238], &cl, 4);
	memcpy(&f[0x260], &init_size, 4);
	return f;
}

struct Case {
	std::vector<std::string> args;
	const char *message;
};

void expect_usage_error(const std::string &dir, const Case &c)
{
	std::vector<std::string> before = list_dir(dir);
	std::vector<std::string> args = c.args;
	for (auto &a : args) {
		if (a.rfind("@/", 0) == 0)
			a = dir + a.substr(1);
		else if (a.rfind("file:@/", 0) == 0)
			a = "file:" + dir + a.substr(6);
	}
	args.push_back("--display");
	args.push_back("none");
	RunResult r = run_pcvm(args, 20);
	std::string joined;
	for (auto &a : c.args)
		joined += a + " ";
	EXPECT_EQ(2, r.status) << joined << "\n" << r.err;
	EXPECT_NE(std::string::npos, r.err.find(c.message)) << joined << "\n" << r.err;
	EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << joined << "\n" << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: ")) << r.err;
	EXPECT_EQ(before, list_dir(dir)) << "a rejected run created a file: " << joined;
}

TEST(BootOptions, HelpListsThem)
{
	RunResult r = run_pcvm({"--help"});
	EXPECT_EQ(0, r.status);
	for (const char *opt : {"--hdb", "--hdc", "--hdd", "--cdrom", "--boot", "--kernel",
				"--initrd", "--append"})
		EXPECT_NE(std::string::npos, r.out.find(opt)) << opt;
}

TEST(BootOptions, UsageErrors)
{
	std::string dir = temp_dir();
	write_file(dir + "/disk.img", std::string(512 * 16, '\0'));
	write_file(dir + "/cd.iso", std::string(2048 * 16, '\0'));
	write_file(dir + "/notakernel", std::string(8192, 'x'));
	write_file(dir + "/old", bzimage(0x0204, 0));
	write_file(dir + "/big", bzimage(0x020f, 100u << 20));
	write_file(dir + "/ok", bzimage(0x020f, 1u << 20));
	write_file(dir + "/initrd", std::string(4096, 'i'));
	write_file(dir + "/bigrd", std::string(20u << 20, 'i'));
	const Case cases[] = {
		{{"--cdrom", "@/missing.iso"}, "--cdrom"},
		{{"--cdrom", "@/missing.iso"}, "No such file or directory"},
		{{"--cdrom", "/"}, "is a directory"},
		{{"--hdc", "@/disk.img", "--cdrom", "@/cd.iso"}, "already taken"},
		{{"--cdrom", "@/cd.iso", "--hdc", "@/disk.img"}, "already taken"},
		{{"--hdb", "/dev/null"}, "not a regular file or block device"},
		{{"--hdd", "@/missing.img"}, "--hdd"},
		{{"--boot", "x"}, "--boot x: unknown device 'x'"},
		{{"--boot", "dcn"}, "unknown device 'n'"},
		{{"--boot", "cdc"}, "given twice"},
		{{"--boot", ""}, "--boot: empty order"},
		{{"--initrd", "@/initrd"}, "--initrd needs --kernel"},
		{{"--append", "quiet"}, "--append needs --kernel"},
		{{"--kernel", "@/missing"}, "No such file or directory"},
		{{"--kernel", "@/ok", "--initrd", "@/missing"}, "--initrd"},
		{{"--kernel", "@/notakernel", "--debugcon", "file:@/dc.log"},
		 "not a Linux bzImage"},
		{{"--kernel", "@/old"}, "boot protocol 2.04 is older than 2.07"},
		{{"--kernel", "@/big", "-m", "64M"}, "give more --memory"},
		{{"--kernel", "@/ok", "-m", "16M", "--initrd", "@/bigrd"}, "20 MiB does not fit"},
		{{"--kernel", "@/ok", "--append", std::string(3000, 'a')}, "at most 2047"},
	};
	for (const auto &c : cases)
		expect_usage_error(dir, c);
}

TEST(BootOptions, ImagesAreNotChangedByARefusedRun)
{
	std::string dir = temp_dir();
	std::string data(512 * 8, '\x5a');
	write_file(dir + "/disk.img", data);
	RunResult r = run_pcvm({"--hda", dir + "/disk.img", "--kernel", dir + "/disk.img",
				"--display", "none"});
	EXPECT_EQ(2, r.status) << r.err;
	EXPECT_EQ(data, read_file(dir + "/disk.img"));
}

} // namespace

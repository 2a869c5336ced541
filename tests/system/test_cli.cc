// The pcvm binary's command line as a user meets it: help, version, and a
// one-line message with exit status 2 for every usage error, with no file
// created or changed.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include "run.h"

namespace {

TEST(Cli, HelpListsOptionsAndExitStatuses)
{
	RunResult r = run_pcvm({"--help"});
	EXPECT_EQ(0, r.status);
	for (const char *opt : {"--memory", "--accel", "--bios", "--hda", "--display",
				"--serial", "--timeout", "--quiet", "--verbose", "--version",
				"--usage", "Exit status"})
		EXPECT_NE(std::string::npos, r.out.find(opt)) << opt;
	EXPECT_EQ("", r.err);
}

TEST(Cli, UsageAndVersion)
{
	RunResult r = run_pcvm({"--usage"});
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0u, r.out.find("Usage: pcvm"));
	r = run_pcvm({"--version"});
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0u, r.out.find("pcvm "));
	EXPECT_EQ(r.out, run_pcvm({"-V"}).out);
}

struct BadCase {
	std::vector<std::string> args;
	const char *message;
};

void expect_usage_error(const BadCase &c)
{
	std::string dir = temp_dir();
	std::vector<std::string> args = c.args;
	for (auto &a : args) // files the case names live in the scratch directory
		if (a.rfind("@/", 0) == 0)
			a = dir + a.substr(1);
	RunResult r = run_pcvm(args, 20);
	std::string joined;
	for (auto &a : c.args)
		joined += a + " ";
	EXPECT_EQ(2, r.status) << joined << "\n" << r.err;
	EXPECT_NE(std::string::npos, r.err.find(c.message)) << joined << "\n" << r.err;
	// exactly one line
	EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << joined << "\n" << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: ")) << r.err;
	EXPECT_EQ("", r.out);
	EXPECT_TRUE(list_dir(dir).empty()) << "a rejected run created a file: " << joined;
}

TEST(Cli, EveryUsageErrorIsOneLineWithStatus2)
{
	const BadCase cases[] = {
		{{"--frobnicate"}, "unknown option '--frobnicate'"},
		{{"-x"}, "unknown option '-x'"},
		{{"-qz"}, "unknown option '-z'"},
		{{"--memory"}, "option '--memory' needs a value"},
		{{"-m"}, "option '-m' needs a value"},
		{{"--verbose=2"}, "option '--verbose' takes no value"},
		{{"--memory", "12Q"}, "--memory '12Q': not a size"},
		{{"-m", "1.5G"}, "--memory '1.5G': not a size"},
		{{"-m", "512K"}, "--memory 512K: too small"},
		{{"-m", "64T"}, "more than this host's"},
		{{"-m", "99999999999999999999"}, "not a size"},
		{{"--accel", "warp"}, "--accel 'warp': unknown backend"},
		{{"--display", "x11"}, "--display 'x11': unknown display"},
		{{"--serial", "tcp:1"}, "--serial 'tcp:1'"},
		{{"--serial", "file:"}, "--serial 'file:'"},
		{{"--timeout", "soon"}, "--timeout 'soon'"},
		{{"--timeout", "0"}, "--timeout '0'"},
		{{"--bios", "@/missing.bin"}, "No such file or directory"},
		{{"--hda", "@/missing.img"}, "No such file or directory"},
		{{"@/missing.img"}, "No such file or directory"},
		{{"--hda", "/"}, "is a directory"},
		{{"--bios", "/tmp"}, "is a directory"},
		{{"--hda", "/dev/null"}, "not a regular file or block device"},
	};
	for (const auto &c : cases)
		expect_usage_error(c);
}

TEST(Cli, TwoFirstDisksAreRefused)
{
	std::string dir = temp_dir();
	write_file(dir + "/a.img", std::string(512, '\0'));
	write_file(dir + "/b.img", std::string(512, '\0'));
	RunResult r = run_pcvm({"--hda", dir + "/a.img", dir + "/b.img"});
	EXPECT_EQ(2, r.status);
	EXPECT_NE(std::string::npos, r.err.find("already")) << r.err;
	EXPECT_EQ(std::string(512, '\0'), read_file(dir + "/a.img"));
}

TEST(Cli, UnreadableFileIsRefused)
{
	std::string dir = temp_dir();
	ASSERT_EQ(0, chmod(dir.c_str(), 0755));
	write_file(dir + "/a.img", std::string(512, '\0'));
	chmod((dir + "/a.img").c_str(), 0);
	RunResult r;
	if (!run_pcvm_unprivileged({"--hda", dir + "/a.img"}, &r))
		GTEST_SKIP() << "running as root without setpriv (util-linux) to drop to nobody";
	EXPECT_EQ(2, r.status);
	EXPECT_NE(std::string::npos, r.err.find("Permission denied")) << r.err;
}

TEST(Cli, BiosOfBadSizeIsRefused)
{
	std::string dir = temp_dir();
	write_file(dir + "/odd.bin", std::string(1000, '\x90'));
	RunResult r = run_pcvm({"--bios", dir + "/odd.bin", "--display", "none"});
	EXPECT_EQ(2, r.status);
	EXPECT_NE(std::string::npos, r.err.find("not a multiple of 4 KiB")) << r.err;
}

} // namespace

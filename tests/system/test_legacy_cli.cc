// The legacy devices' options as a user meets them: --fda, --no-reboot and
// --serial in --help, and one-line usage errors with exit status 2 that
// leave no file behind.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <algorithm>
#include "run.h"

namespace {

TEST(LegacyCli, HelpListsTheOptionsAndStatuses)
{
	RunResult r = run_pcvm({"--help"});
	EXPECT_EQ(0, r.status);
	for (const char *s : {"--fda", "--no-reboot", "--serial",
			      "4  the guest reset the machine under --no-reboot",
			      "5  the guest's CPU triple-faulted under --no-reboot"})
		EXPECT_NE(std::string::npos, r.out.find(s)) << s;
}

struct Case {
	std::vector<std::string> args;
	const char *message;
};

// Runs a case whose "@/name" arguments live in a fresh scratch directory,
// with "%/name" naming files in `inputs`, and checks the usage error.
void expect_usage_error(const Case &c, const std::string &inputs)
{
	std::string dir = temp_dir();
	std::vector<std::string> args = {"--display", "none"};
	for (auto a : c.args) {
		if (a.rfind("@/", 0) == 0)
			a = dir + a.substr(1);
		else if (a.rfind("%/", 0) == 0)
			a = inputs + a.substr(1);
		args.push_back(a);
	}
	std::string joined;
	for (auto &a : c.args)
		joined += a + " ";
	RunResult r = run_pcvm(args, 20);
	EXPECT_EQ(2, r.status) << joined << "\n" << r.err;
	EXPECT_NE(std::string::npos, r.err.find(c.message)) << joined << "\n" << r.err;
	EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << joined << "\n" << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: ")) << r.err;
	EXPECT_EQ("", r.out) << joined;
	EXPECT_TRUE(list_dir(dir).empty()) << "a rejected run created a file: " << joined;
}

TEST(LegacyCli, UsageErrors)
{
	std::string inputs = temp_dir();
	write_file(inputs + "/odd.img", std::string(1474560 - 512, '\0'));
	write_file(inputs + "/a.img", std::string(1474560, '\0'));
	const Case cases[] = {
		{{"--fda"}, "option '--fda' needs a value"},
		{{"--fda", "@/missing.img"}, "--fda"},
		{{"--fda", "@/missing.img"}, "No such file or directory"},
		{{"--fda", "/"}, "is a directory"},
		{{"--fda", "/dev/null"}, "not a regular file or block device"},
		{{"--fda", "%/a.img", "--fda", "%/a.img"}, "drive A already has"},
		{{"--fda", "%/odd.img"}, "1474048 bytes is no floppy format"},
		// A bad floppy is found before any output file is created.
		{{"--fda", "%/odd.img", "--serial", "file:@/serial.txt"}, "no floppy format"},
		{{"--fda", "%/odd.img", "--debugcon", "file:@/debug.txt"}, "no floppy format"},
		{{"--no-reboot=yes"}, "option '--no-reboot' takes no value"},
		{{"--serial", "file:@/no/such/dir/serial.txt"}, "No such file or directory"},
	};
	for (const auto &c : cases)
		expect_usage_error(c, inputs);
	EXPECT_EQ(std::string(1474560, '\0'), read_file(inputs + "/a.img"));
}

TEST(LegacyCli, ReadOnlyFloppyIsAccepted)
{
	std::string dir = temp_dir();
	ASSERT_EQ(0, chmod(dir.c_str(), 0755));
	write_file(dir + "/ro.img", std::string(737280, '\0'));
	chmod((dir + "/ro.img").c_str(), 0444);
	RunResult r;
	if (!run_pcvm_unprivileged({"--display", "none", "--serial", "none", "--fda",
				    dir + "/ro.img", "--timeout", "1"}, &r))
		GTEST_SKIP() << "running as root without setpriv (util-linux) to drop to nobody";
	EXPECT_NE(2, r.status) << r.err;
	EXPECT_EQ(std::string::npos, r.err.find("--fda")) << r.err;
}

TEST(LegacyCli, SerialStdioLeavesTheTerminalAsItWas)
{
	int master, slave;
	ASSERT_EQ(0, openpty(&master, &slave, nullptr, nullptr, nullptr));
	struct termios before;
	ASSERT_EQ(0, tcgetattr(slave, &before));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		close(master);
		execl(pcvm_path().c_str(), "pcvm", "--display", "none", "--serial", "stdio",
		      "--timeout", "2", (char *)nullptr);
		_exit(127);
	}
	// Drain the terminal until pcvm has ended.
	int status = 0;
	for (int i = 0; i < 200; i++) {
		struct pollfd p = {master, POLLIN, 0};
		char buf[256];
		if (poll(&p, 1, 50) > 0 && read(master, buf, sizeof(buf)) < 0)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		FAIL() << "pcvm did not end";
	}
	struct termios after;
	ASSERT_EQ(0, tcgetattr(slave, &after));
	EXPECT_EQ(before.c_lflag, after.c_lflag);
	EXPECT_EQ(before.c_iflag, after.c_iflag);
	EXPECT_EQ(before.c_cc[VQUIT], after.c_cc[VQUIT]);
	close(master);
	close(slave);
}

} // namespace

// The software CPU's system architecture tested from inside: each guest in
// tests/guests/cpu_*.asm runs as the firmware under --accel emu, exactly as
// a user would start it, reports one TAP-style line per check on the debug
// console and ends through the debug-exit port. A run passes when pcvm
// exits with status 0, the guest printed its plan "1..N" with N result
// lines, and every "not ok" line is a known emulator bug marked "# TODO".
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>
#include "run.h"

namespace {

struct GuestReport {
	int plan = -1;
	int results = 0;
	std::vector<std::string> failures; // "not ok" lines without "# TODO"
	std::vector<std::string> todos;    // lines with "# TODO"
};

GuestReport parse(const std::string &out)
{
	GuestReport r;
	std::istringstream in(out);
	std::string line;
	while (std::getline(in, line)) {
		if (line.rfind("1..", 0) == 0) {
			r.plan = std::stoi(line.substr(3));
			continue;
		}
		bool ok = line.rfind("ok ", 0) == 0;
		bool notok = line.rfind("not ok", 0) == 0;
		if (!ok && !notok)
			continue;
		// "not ok - unexpected ..." lines from the frame carry no number
		if (line.rfind("not ok -", 0) != 0)
			r.results++;
		bool todo = line.find("# TODO") != std::string::npos;
		if (todo)
			r.todos.push_back(line);
		else if (notok)
			r.failures.push_back(line);
	}
	return r;
}

class CpuGuest : public ::testing::TestWithParam<const char *> {};

TEST_P(CpuGuest, AllChecksPass)
{
	std::string bin = guest_path(std::string(GetParam()) + ".bin");
	ASSERT_TRUE(file_exists(bin)) << bin << " missing: build it with `make guests`";
	RunResult res = run_pcvm({"--accel", "emu", "--bios", bin, "--debugcon", "stdio",
				  "--debug-exit", "--display", "none", "--timeout", "20"},
				 60);
	GuestReport rep = parse(res.out);
	std::string context = "guest output:\n" + res.out + "pcvm stderr:\n" + res.err;
	EXPECT_FALSE(res.timed_out) << context;
	EXPECT_EQ(0, res.status) << context;
	EXPECT_GT(rep.plan, 0) << "no plan line: the guest did not finish\n" << context;
	EXPECT_EQ(rep.plan, rep.results) << "plan and result lines differ\n" << context;
	for (const auto &f : rep.failures)
		ADD_FAILURE() << f;
	if (!rep.failures.empty())
		ADD_FAILURE() << context;
	for (const auto &t : rep.todos)
		std::printf("[ TODO     ] %s: %s\n", GetParam(), t.c_str());
}

INSTANTIATE_TEST_SUITE_P(Emu, CpuGuest,
			 ::testing::Values("cpu_realmode", "cpu_segments", "cpu_interrupts",
					   "cpu_privilege", "cpu_paging", "cpu_v86",
					   "cpu_tasks", "cpu_x87_features"),
			 [](const ::testing::TestParamInfo<const char *> &info) {
				 return std::string(info.param);
			 });

// The frame itself must be able to fail: a guest whose check fails exits
// non-zero and prints "not ok" (guards against a reporting path that can
// only say "ok"). Built from the same lib.inc by the Makefile.
TEST(CpuGuestFrame, FailingCheckFailsTheRun)
{
	std::string bin = guest_path("cpu_selftest_fail.bin");
	ASSERT_TRUE(file_exists(bin)) << bin << " missing";
	RunResult res = run_pcvm({"--accel", "emu", "--bios", bin, "--debugcon", "stdio",
				  "--debug-exit", "--display", "none", "--timeout", "20"},
				 60);
	GuestReport rep = parse(res.out);
	EXPECT_EQ(1, res.status) << res.out;
	EXPECT_EQ(4, rep.plan) << res.out;
	EXPECT_EQ(4, rep.results) << res.out;
	ASSERT_EQ(2u, rep.failures.size()) << res.out;
	EXPECT_NE(std::string::npos, rep.failures[0].find("(got 0x00000005, expected 0x00000006)"))
		<< res.out;
	EXPECT_NE(std::string::npos, rep.failures[1].find("expected vector 13")) << res.out;
	EXPECT_EQ(2u, rep.todos.size()) << res.out;
	EXPECT_NE(std::string::npos, res.out.find("2 failed, 2 todo (1 of them passing)")) << res.out;
}

} // namespace

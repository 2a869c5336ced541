// What the automation writes and compares: the --report JSON (escaping,
// times, counters), expect-screen's comparison and difference picture, and
// the automation options' parsing (--rtc-base dates, regexes, --report,
// --deterministic).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "pcvm.h"
#include "run.h"

extern "C" {
#include "ui/png.h"
}

namespace {

std::string json(const struct report &r, const struct report_end &e)
{
	char *j = report_json(&r, &e);
	EXPECT_NE(nullptr, j);
	std::string s = j ? j : "";
	free(j);
	return s;
}

TEST(Report, MilestonesInOrderWithBothTimes)
{
	struct report r = {};
	report_start(&r);
	ASSERT_EQ(0, report_add(&r, "first-instruction", nullptr, 0, 0));
	ASSERT_EQ(0, report_add(&r, "mark", "installed", 7, 2500000000ull));
	ASSERT_EQ(2u, r.n);
	EXPECT_LE(r.m[0].host_ns, r.m[1].host_ns);
	struct vcpu_stat stats[] = {{"exit.io", 12}, {"exit.hlt", 3}};
	struct report_end e = {};
	e.reason = "script-done";
	e.status = 0;
	e.guest_ns = 3000000001ull;
	e.host_ns = 1500000000ull;
	e.backend = "emu";
	e.deterministic = true;
	e.have_icount = true;
	e.icount = 123456789;
	e.stats = stats;
	e.nstats = 2;
	std::string s = json(r, e);
	EXPECT_NE(std::string::npos, s.find("\"backend\": \"emu\"")) << s;
	EXPECT_NE(std::string::npos, s.find("\"deterministic\": true")) << s;
	EXPECT_NE(std::string::npos,
		  s.find("\"end\": {\"reason\": \"script-done\", \"status\": 0, \"host_s\": "
			 "1.500000000, \"guest_s\": 3.000000001}")) << s;
	EXPECT_NE(std::string::npos, s.find("{\"event\": \"first-instruction\", \"host_s\": ")) << s;
	EXPECT_NE(std::string::npos,
		  s.find("{\"event\": \"mark\", \"detail\": \"installed\", \"line\": 7, ")) << s;
	EXPECT_NE(std::string::npos, s.find("\"guest_s\": 2.500000000}")) << s;
	EXPECT_LT(s.find("first-instruction"), s.find("installed"));
	EXPECT_NE(std::string::npos, s.find("\"instructions\": 123456789")) << s;
	EXPECT_NE(std::string::npos, s.find("\"counters\": {\"exit.io\": 12, \"exit.hlt\": 3}")) << s;
	EXPECT_NE(std::string::npos, s.find("\"start\": \"20")) << s;
	report_free(&r);
}

TEST(Report, BackendsWithoutCountersOrInstructionCounts)
{
	struct report r = {};
	report_start(&r);
	struct report_end e = {};
	e.reason = "timeout";
	e.status = 3;
	e.message = "timed out";
	std::string s = json(r, e);
	EXPECT_NE(std::string::npos, s.find("\"milestones\": [],")) << s;
	EXPECT_NE(std::string::npos, s.find("\"instructions\": null")) << s;
	EXPECT_NE(std::string::npos, s.find("\"counters\": {}")) << s;
	EXPECT_NE(std::string::npos, s.find("\"backend\": \"none\"")) << s;
	EXPECT_NE(std::string::npos, s.find("\"message\": \"timed out\"")) << s;
	report_free(&r);
}

TEST(Report, StringsAreValidJson)
{
	struct report r = {};
	report_start(&r);
	// quotes, backslashes, control characters, UTF-8 kept, bytes that
	// are not UTF-8 as \u00XX
	ASSERT_EQ(0, report_add(&r, "wait-serial", "a\"b\\c\n\x01 \xc3\xa9 \xff\xc3", 1, 0));
	struct report_end e = {};
	e.reason = "condition";
	std::string s = json(r, e);
	EXPECT_NE(std::string::npos,
		  s.find("\"detail\": \"a\\\"b\\\\c\\u000a\\u0001 \xc3\xa9 \\u00ff\\u00c3\"")) << s;
	report_free(&r);
}

TEST(Report, WrittenAtomically)
{
	std::string dir = temp_dir();
	struct report r = {};
	report_start(&r);
	struct report_end e = {};
	e.reason = "poweroff";
	ASSERT_EQ(0, report_write(&r, &e, (dir + "/r.json").c_str()));
	EXPECT_EQ(0u, read_file(dir + "/r.json").find("{\n  \"pcvm\": "));
	EXPECT_EQ(1u, list_dir(dir).size());
	report_free(&r);
}

// ---- expect-screen ----

TEST(ScreenCompare, CountsDifferencesOutsideIgnoredRectangles)
{
	const unsigned w = 10, h = 5;
	std::vector<uint32_t> ref(w * h, 0x0000aa), got = ref, diff(w * h);
	uint64_t compared = 0;
	EXPECT_EQ(0u, screencmp_compare(got.data(), ref.data(), w, h, nullptr, 0, diff.data(),
					&compared));
	EXPECT_EQ(50u, compared);
	got[2 * w + 3] = 0xffffff;
	got[4 * w + 9] = 0x000000;
	EXPECT_EQ(2u, screencmp_compare(got.data(), ref.data(), w, h, nullptr, 0, diff.data(),
					&compared));
	EXPECT_EQ(0xff0000u, diff[2 * w + 3]);
	EXPECT_EQ(0xff0000u, diff[4 * w + 9]);
	EXPECT_NE(0xff0000u, diff[0]);
	// a rectangle over one of them: that pixel is not compared
	struct screencmp_rect r = {2, 1, 2, 2}; // x 2-3, y 1-2
	EXPECT_EQ(1u, screencmp_compare(got.data(), ref.data(), w, h, &r, 1, diff.data(),
					&compared));
	EXPECT_EQ(46u, compared);
	EXPECT_NE(0xff0000u, diff[2 * w + 3]);
	EXPECT_EQ(1u, screencmp_compare(got.data(), ref.data(), w, h, &r, 1, nullptr, &compared));
}

TEST(ScreenCompare, ReadsPcvmScreenshotsBack)
{
	std::string dir = temp_dir();
	std::vector<uint32_t> pix = {0x123456, 0xabcdef, 0x000000, 0xffffff, 0x800000, 0x008000};
	std::string path = dir + "/p.png";
	ASSERT_EQ(0, ui_png_write(path.c_str(), pix.data(), 3, 2));
	struct screencmp_image img = {};
	const char *why = nullptr;
	ASSERT_EQ(0, screencmp_load_png(path.c_str(), &img, &why));
	EXPECT_EQ(3u, img.w);
	EXPECT_EQ(2u, img.h);
	EXPECT_EQ(pix, std::vector<uint32_t>(img.pix, img.pix + 6));
	screencmp_free(&img);
	write_file(dir + "/not.png", "not a picture");
	EXPECT_EQ(-EINVAL, screencmp_load_png((dir + "/not.png").c_str(), &img, &why));
	EXPECT_EQ(nullptr, img.pix);
}

// ---- the options ----

TEST(AutomationCli, RtcBaseDates)
{
	int64_t t = 0;
	EXPECT_EQ(0, cli_parse_date("2024-01-01", &t));
	EXPECT_EQ(1704067200, t);
	EXPECT_EQ(0, cli_parse_date("2000-02-29T12:34:56", &t));
	EXPECT_EQ(951827696, t);
	EXPECT_EQ(0, cli_parse_date("2000-02-29 12:34:56Z", &t));
	EXPECT_EQ(951827696, t);
	EXPECT_EQ(0, cli_parse_date("@86400", &t));
	EXPECT_EQ(86400, t);
	EXPECT_EQ(0, cli_parse_date("1970-01-01", &t));
	EXPECT_EQ(0, t);
	for (const char *s : {"", "2024", "2024-1-1", "2023-02-29", "2024-13-01", "2024-01-01T25:00:00",
			      "2024-01-01T12:00", "2024-01-01x", "@", "@x", "1969-12-31", "yesterday"})
		EXPECT_EQ(-EINVAL, cli_parse_date(s, &t)) << s;
}

struct Cli {
	struct vm_config cfg;
	int status;
	std::string err;
	std::vector<std::string> args; // the config points into these
	explicit Cli(std::vector<std::string> a) : args(std::move(a))
	{
		std::string errfile = temp_dir() + "/stderr";
		fflush(stderr);
		int saved = dup(2), fd = open(errfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		close(fd);
		args.insert(args.begin(), "pcvm");
		args.push_back("--display");
		args.push_back("none");
		std::vector<char *> argv;
		for (auto &a : args)
			argv.push_back(const_cast<char *>(a.c_str()));
		bool done;
		status = cli_parse((int)argv.size(), argv.data(), &cfg, &done);
		log_set_level(LOG_WARN);
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
		err = read_file(errfile);
	}
	~Cli() { script_free(cfg.script); }
};

TEST(AutomationCli, OptionsLandInTheConfig)
{
	std::string dir = temp_dir();
	write_file(dir + "/s", "mark a\n");
	Cli c({"--until-serial", "login:", "--until-screen", "^Welcome", "--until-stable", "2.5",
	       "--report", dir + "/r.json", "--script", dir + "/s"});
	ASSERT_EQ(0, c.status);
	EXPECT_STREQ("login:", c.cfg.until_serial);
	EXPECT_STREQ("^Welcome", c.cfg.until_screen);
	EXPECT_DOUBLE_EQ(2.5, c.cfg.until_stable);
	ASSERT_NE(nullptr, c.cfg.script);
	EXPECT_EQ(1, c.cfg.script->n);
	EXPECT_FALSE(c.cfg.deterministic);
	EXPECT_FALSE(c.cfg.rtc_fixed);
	EXPECT_TRUE(list_dir(dir) == std::vector<std::string>{"s"}) << "--report creates nothing yet";
}

TEST(AutomationCli, DeterministicFixesTheBackendAndTheRtc)
{
	Cli d({"--deterministic"});
	ASSERT_EQ(0, d.status);
	EXPECT_TRUE(d.cfg.deterministic);
	EXPECT_EQ(ACCEL_EMU, d.cfg.accel);
	EXPECT_TRUE(d.cfg.rtc_fixed);
	EXPECT_EQ(CFG_DETERMINISTIC_RTC_BASE, d.cfg.rtc_base);
	Cli r({"--deterministic", "--rtc-base", "2000-01-01"});
	ASSERT_EQ(0, r.status);
	EXPECT_EQ(946684800, r.cfg.rtc_base);
	Cli h({"--rtc-base", "@1000"});
	ASSERT_EQ(0, h.status);
	EXPECT_TRUE(h.cfg.rtc_fixed);
	EXPECT_EQ(1000, h.cfg.rtc_base);
}

TEST(AutomationCli, UsageErrors)
{
	for (std::vector<std::string> a : std::vector<std::vector<std::string>>{
		     {"--until-serial", "a("}, {"--until-screen", ""}, {"--until-stable", "0"},
		     {"--until-stable", "x"}, {"--report", "/nonexistent-dir/r.json"},
		     {"--rtc-base", "tomorrow"}, {"--script", "/nonexistent-dir/s"},
		     {"--script", "/dev/null", "--script", "/dev/null"}}) {
		Cli c(a);
		EXPECT_EQ(2, c.status) << a[0] << " " << a[1];
		EXPECT_EQ(0u, c.err.find("pcvm: error: " + a[0])) << c.err;
		EXPECT_EQ(nullptr, c.cfg.script);
	}
}

} // namespace

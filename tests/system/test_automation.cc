// Unattended runs through the pcvm binary: the --until conditions and their
// exit statuses, --timeout's message and last screen, --script (driving the
// demo guest, failing steps, mistakes found before the guest starts),
// --report's JSON, --deterministic (same screens, same RTC and TSC on every
// run), and the examples in examples/ exactly as a user runs them.
#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "run.h"

namespace {

std::string data_path(const std::string &name)
{
	const char *d = getenv("TESTDATA");
	return std::string(d && *d ? d : "tests/data") + "/" + name;
}

std::string abs_path(const std::string &p)
{
	char buf[PATH_MAX];
	return realpath(p.c_str(), buf) ? std::string(buf) : p;
}

// pcvm started in directory dir (expect-screen writes its pictures there).
RunResult run_in(const std::string &dir, const std::vector<std::string> &args,
		 double timeout = 120)
{
	std::vector<std::string> argv{"env", "-C", dir, abs_path(pcvm_path())};
	argv.insert(argv.end(), args.begin(), args.end());
	return run_cmd(argv, timeout);
}

bool contains(const std::string &s, const std::string &what)
{
	return s.find(what) != std::string::npos;
}

int lines(const std::string &s)
{
	return (int)std::count(s.begin(), s.end(), '\n');
}

// ---- the report, read through python3's json module ----

struct Milestone {
	std::string event, detail;
	int line = 0;
	double host = 0, guest = 0;
};

struct Report {
	bool ok = false;
	std::string reason;
	int status = -1;
	long long instructions = -1;
	std::vector<Milestone> m;
	std::string raw;
	std::vector<std::string> events() const
	{
		std::vector<std::string> v;
		for (auto &x : m)
			v.push_back(x.event == "mark" ? "mark:" + x.detail : x.event);
		return v;
	}
};

// Flattens the JSON into lines a C++ test can read, with python3 (a
// DEB_PACKAGES dependency): the file must parse as JSON to get this far.
Report read_report(const std::string &path)
{
	Report r;
	r.raw = read_file(path);
	RunResult t = run_cmd({"python3", "-m", "json.tool", path});
	EXPECT_EQ(0, t.status) << "python3 -m json.tool " << path << ":\n" << t.err << r.raw;
	static const char prog[] =
		"import json, sys\n"
		"r = json.load(open(sys.argv[1]))\n"
		"print('end', r['end']['reason'], r['end']['status'])\n"
		"print('instructions', -1 if r['instructions'] is None else r['instructions'])\n"
		"for m in r['milestones']:\n"
		"    print('m', m['event'], repr(m['host_s']), repr(m['guest_s']), m.get('line', 0),"
		"          m.get('detail', ''))\n";
	RunResult p = run_cmd({"python3", "-c", prog, path});
	EXPECT_EQ(0, p.status) << p.err;
	size_t pos = 0;
	while (pos < p.out.size()) {
		size_t nl = p.out.find('\n', pos);
		std::string l = p.out.substr(pos, nl - pos);
		pos = nl == std::string::npos ? p.out.size() : nl + 1;
		char a[256] = "", b[256] = "";
		int n = 0;
		if (sscanf(l.c_str(), "end %255s %d", a, &r.status) == 2) {
			r.reason = a;
		} else if (sscanf(l.c_str(), "instructions %lld", &r.instructions) == 1) {
		} else if (l.rfind("m ", 0) == 0) {
			Milestone m;
			if (sscanf(l.c_str(), "m %255s %lf %lf %d %n", a, &m.host, &m.guest, &m.line, &n) < 4)
				continue;
			(void)b;
			m.event = a;
			m.detail = l.substr((size_t)n);
			r.m.push_back(m);
		}
	}
	r.ok = p.status == 0 && !r.reason.empty();
	return r;
}

void expect_in_order(const Report &r)
{
	for (size_t i = 1; i < r.m.size(); i++) {
		EXPECT_LE(r.m[i - 1].host, r.m[i].host) << r.m[i].event << "\n" << r.raw;
		EXPECT_LE(r.m[i - 1].guest, r.m[i].guest) << r.m[i].event << "\n" << r.raw;
	}
}

// ---- help and manual ----

TEST(AutomationHelp, OptionsAndStatusesInHelpAndManual)
{
	RunResult r = run_pcvm({"--help"});
	EXPECT_EQ(0, r.status);
	std::string man = read_file("man/pcvm.1");
	for (const char *opt : {"until-serial", "until-screen", "until-stable", "script", "report",
				"deterministic", "rtc-base"}) {
		EXPECT_TRUE(contains(r.out, std::string("--") + opt)) << opt;
		std::string roff = opt;
		for (size_t p = 0; (p = roff.find('-', p)) != std::string::npos; p += 2)
			roff.replace(p, 1, "\\-");
		EXPECT_TRUE(contains(man, ".BR \\-\\-" + roff) || contains(man, ".B \\-\\-" + roff))
			<< opt;
	}
	EXPECT_TRUE(contains(r.out, "  6  a --script step failed")) << r.out;
	EXPECT_TRUE(contains(r.out, "  7  the guest powered off while")) << r.out;
	for (const char *sec : {".SH AUTOMATION", ".SH SCRIPTS", ".SH REPORT",
				".SH \"DETERMINISTIC RUNS\""})
		EXPECT_TRUE(contains(man, sec)) << sec;
}

// ---- --until-* and --timeout ----

TEST(Until, SerialMetEndsWithStatus0)
{
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--until-serial",
				"pcvm demo: text screen (shown|drawn)", "--timeout", "60"});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(Until, ScreenMetWithTheBannerOnIt)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
				"--until-screen", "Hello from inside the virtual machine!",
				"--timeout", "60", "--screen-text", dir + "/s.txt"});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_EQ(read_file(data_path("demo-banner.txt")), read_file(dir + "/s.txt"));
}

TEST(Until, StableScreenIsTheBanner)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
				"--until-stable", "1", "--timeout", "60", "--screenshot",
				dir + "/s.png"});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_EQ(read_file(data_path("demo-banner.png")), read_file(dir + "/s.png"));
}

TEST(Until, TimeoutSaysWhatWasAwaitedAndKeepsTheLastScreen)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
				"--until-serial", "never said", "--timeout", "1", "--screenshot",
				dir + "/last.png"});
	EXPECT_EQ(3, r.status) << r.err;
	EXPECT_TRUE(contains(r.err, "pcvm: error: timed out after 1 s of guest time waiting for "
				    "--until-serial 'never said'; the last screen goes to " +
				    dir + "/last.png and " + dir + "/last.txt")) << r.err;
	EXPECT_EQ(1, lines(r.err)) << r.err;
	EXPECT_EQ(read_file(data_path("demo-banner.png")), read_file(dir + "/last.png"));
	EXPECT_EQ(read_file(data_path("demo-banner.txt")), read_file(dir + "/last.txt"));
}

TEST(Until, TimeoutAddsAShotToTheSeries)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
				"--until-screen", "never shown", "--timeout", "1.2",
				"--screenshot-every", "0.5:" + dir + "/%02d.png"});
	EXPECT_EQ(3, r.status) << r.err;
	EXPECT_TRUE(contains(r.err, "--until-screen 'never shown'; the last screen is in " + dir +
				    "/03.png and " + dir + "/03.txt")) << r.err;
	EXPECT_EQ((std::vector<std::string>{"01.png", "02.png", "03.png", "03.txt"}), list_dir(dir));
	EXPECT_EQ(read_file(data_path("demo-banner.txt")), read_file(dir + "/03.txt"));
}

TEST(Until, PowerOffBeforeTheConditionIsStatus7)
{
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
				"--until-screen", "never shown", "--timeout", "100"});
	EXPECT_EQ(7, r.status) << r.err;
	EXPECT_TRUE(contains(r.err, "the guest powered off while pcvm waited for --until-screen "
				    "'never shown'")) << r.err;
}

// ---- --script ----

TEST(Script, DrivesTheDemo)
{
	std::string dir = temp_dir();
	write_file(dir + "/demo.script",
		   "# the demo, step by step\n"
		   "wait-serial 'text screen shown' 10\n"
		   "wait-stable 0.3\n"
		   "expect-screen " + abs_path(data_path("demo-banner.png")) + "\n"
		   "mark banner\n"
		   "type x\n"
		   "wait-serial 'Mandelbrot set drawn'\n"
		   "expect-screen " + abs_path(data_path("demo-mandelbrot.png")) + "\n"
		   "key space\n"
		   "wait-screen 'Your keys:' 5\n"
		   "type 'Hello, World!'\n"
		   "wait-screen '^ +Hello, World!$' 5\n"
		   "screen-text keys.txt\n"
		   "screenshot keys.png\n"
		   "mark typed\n"
		   "type q\n"
		   "wait-poweroff 10\n");
	RunResult r = run_in(dir, {"--display", "none", "--serial", "none", "--deterministic",
				   "--timeout", "60", "--script", "demo.script", "--report",
				   "r.json", "-v"});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_TRUE(contains(read_file(dir + "/keys.txt"), "Hello, World!"));
	EXPECT_TRUE(file_exists(dir + "/keys.png"));
	Report rep = read_report(dir + "/r.json");
	ASSERT_TRUE(rep.ok);
	EXPECT_EQ("poweroff", rep.reason);
	EXPECT_EQ(0, rep.status);
	expect_in_order(rep);
	std::vector<std::string> want = {
		"first-instruction", "boot-sector", "first-serial-byte", "wait-serial",
		"wait-stable", "expect-screen", "mark:banner", "graphics-mode", "wait-serial",
		"expect-screen", "wait-screen", "wait-screen", "mark:typed", "poweroff"};
	EXPECT_EQ(want, rep.events()) << rep.raw;
	EXPECT_GT(rep.instructions, 1000000);
	// -v: one line per milestone
	int said = 0;
	for (size_t p = 0; (p = r.err.find("pcvm: milestone ", p)) != std::string::npos; p++)
		said++;
	EXPECT_EQ((int)rep.m.size(), said) << r.err;
	EXPECT_TRUE(contains(r.err, "milestone mark 'typed' (script line 15) at ")) << r.err;
}

TEST(Script, FromStandardInput)
{
	RunResult r = run_cmd({pcvm_path(), "--display", "none", "--serial", "none",
			       "--deterministic", "--timeout", "60", "--script", "-"}, 60,
			      "wait-serial 'hello from the guest'\nquit 42\n");
	EXPECT_EQ(42, r.status) << r.err;
}

TEST(Script, ScreenMismatchFailsWithStatus6AndADiffPicture)
{
	std::string dir = temp_dir();
	std::string ref = abs_path(data_path("demo-final.png"));
	write_file(dir + "/s", "wait-serial 'text screen shown'\nwait-stable 0.2\n"
			       "expect-screen '" + ref + "' 1% ignore=0,0,720,16\nmark never\n");
	RunResult r = run_in(dir, {"--display", "none", "--serial", "none", "--deterministic",
				   "--timeout", "60", "--script", "s"});
	EXPECT_EQ(6, r.status) << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: --script s:3: expect-screen " + ref + ": ")) << r.err;
	EXPECT_TRUE(contains(r.err, "more than the tolerance of 1%")) << r.err;
	EXPECT_TRUE(contains(r.err, "wrote the screen to demo-final-actual.png and the "
				    "differences in red to demo-final-diff.png")) << r.err;
	EXPECT_EQ(read_file(data_path("demo-banner.png")), read_file(dir + "/demo-final-actual.png"));
	EXPECT_TRUE(file_exists(dir + "/demo-final-diff.png"));
}

TEST(Script, WaitTimeoutFailsWithStatus6NamingTheLine)
{
	RunResult r = run_cmd({pcvm_path(), "--display", "none", "--serial", "none",
			       "--deterministic", "--timeout", "60", "--script", "-"}, 60,
			      "mark start\n\nwait-screen 'not on any screen' 1.5\n");
	EXPECT_EQ(6, r.status) << r.err;
	EXPECT_EQ("pcvm: error: --script -:3: wait-screen 'not on any screen': not seen within "
		  "1.5 s\n", r.err);
}

TEST(Script, CdromSwapAndEject)
{
	std::string dir = temp_dir();
	write_file(dir + "/a.iso", std::string(64 * 2048, '\0'));
	write_file(dir + "/b.iso", std::string(64 * 2048, '\0'));
	write_file(dir + "/s", "wait-serial 'hello from the guest'\nswap-cdrom b.iso\neject\n"
			       "swap-cdrom a.iso\nmark swapped\n");
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--snapshot", "--hda",
				build_dir() + "/demo.img", "--cdrom", dir + "/a.iso", "--timeout",
				"20", "--script", dir + "/s", "-v"});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_TRUE(contains(r.err, "script line 3: CD-ROM ejected")) << r.err;
	EXPECT_TRUE(contains(r.err, "script line 4: new disc in the CD-ROM drive")) << r.err;
}

struct Bad {
	std::string script;
	std::string message;
	std::vector<std::string> args;
};

TEST(Script, MistakesAreFoundBeforeTheGuestStarts)
{
	const Bad cases[] = {
		{"wait-serial 'login:'\nwait-screen 'a(' 5\n", "s:2: wait-screen 'a(': bad regular expression", {}},
		{"# check\nexpect-screen missing.png\n", "s:2: expect-screen missing.png: No such file or directory (looked for @/missing.png, beside the script)", {}},
		{"mark a\nmark b\nfrobnicate\n", "s:3: unknown command 'frobnicate'", {}},
		{"key ctrl-alt-delet\n", "s:1: key ctrl-alt-delet: unknown key", {}},
		{"eject\n", "s:1: eject: the machine has no CD-ROM drive", {"--hdc", "@/s"}},
	};
	for (const Bad &c : cases) {
		std::string dir = temp_dir();
		write_file(dir + "/s", c.script);
		std::vector<std::string> args = {"--display", "none", "--serial", "file:" + dir + "/com1",
						 "--report", dir + "/r.json", "--screenshot",
						 dir + "/x.png", "--script", dir + "/s"};
		for (std::string a : c.args) {
			if (a[0] == '@')
				a = dir + a.substr(1);
			args.push_back(a);
		}
		std::string msg = c.message;
		size_t at = msg.find('@');
		if (at != std::string::npos)
			msg.replace(at, 1, dir);
		RunResult r = run_pcvm(args, 30);
		EXPECT_EQ(2, r.status) << c.script << r.err;
		EXPECT_EQ(0u, r.err.find("pcvm: error: --script " + dir + "/" + msg)) << r.err;
		EXPECT_EQ(1, lines(r.err)) << r.err;
		EXPECT_EQ(std::vector<std::string>{"s"}, list_dir(dir))
			<< "a rejected run created a file: " << c.script;
	}
}

// ---- --report ----

TEST(Report, ParsesAndHasTheBootMilestonesInOrder)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--until-serial",
				"Mandelbrot set drawn", "--timeout", "60", "--report",
				dir + "/r.json"});
	EXPECT_EQ(0, r.status) << r.err;
	Report rep = read_report(dir + "/r.json");
	ASSERT_TRUE(rep.ok);
	EXPECT_EQ("condition", rep.reason);
	std::vector<std::string> want = {"first-instruction", "boot-sector", "first-serial-byte",
					 "graphics-mode", "until-serial"};
	EXPECT_EQ(want, rep.events()) << rep.raw;
	expect_in_order(rep);
	EXPECT_LT(rep.m[0].host, 0.001) << "host times count from power-on";
	EXPECT_TRUE(contains(rep.raw, "\"deterministic\": false"));
	EXPECT_TRUE(contains(rep.raw, "\"detail\": \"VGA 320x200, 8 bpp\"")) << rep.raw;
}

TEST(Report, KernelEntryOnDirectBoot)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--kernel",
				guest_path("mini_bzimage.bin"), "--debug-exit", "--timeout", "60",
				"--report", dir + "/r.json"});
	EXPECT_EQ(0x31, r.status) << r.err;
	Report rep = read_report(dir + "/r.json");
	ASSERT_TRUE(rep.ok);
	EXPECT_EQ("debug-exit", rep.reason);
	ASSERT_GE(rep.m.size(), 2u);
	EXPECT_EQ("first-instruction", rep.m[0].event);
	EXPECT_EQ("kernel-entry", rep.m[1].event);
	EXPECT_NEAR(rep.m[0].guest, rep.m[1].guest, 0.001) << "the kernel is the first instruction";
}

// ---- --deterministic ----

// A boot sector that prints the RTC (year to seconds, BCD), the PIT's
// channel 0 count and the TSC on port 0xE9, then exits with status 0.
const char time_guest[] =
	"bits 16\n"
	"org 0x7c00\n"
	"cpu 586\n"
	"	cli\n"
	"	xor ax, ax\n"
	"	mov ds, ax\n"
	"	mov si, regs\n"
	".next:	lodsb\n"
	"	cmp al, 0xff\n"
	"	je .pit\n"
	"	out 0x70, al\n"
	"	in al, 0x71\n"
	"	call hex2\n"
	"	jmp .next\n"
	".pit:	mov al, ' '\n"
	"	out 0xe9, al\n"
	"	xor al, al\n"
	"	out 0x43, al\n"
	"	in al, 0x40\n"
	"	mov bl, al\n"
	"	in al, 0x40\n"
	"	call hex2\n"
	"	mov al, bl\n"
	"	call hex2\n"
	"	mov al, ' '\n"
	"	out 0xe9, al\n"
	"	rdtsc\n"
	"	mov ebx, eax\n"
	"	mov eax, edx\n"
	"	call hex8\n"
	"	mov eax, ebx\n"
	"	call hex8\n"
	"	mov al, 10\n"
	"	out 0xe9, al\n"
	"	xor al, al\n"
	"	out 0xf4, al\n"
	"	hlt\n"
	"hex8:	mov ecx, 4\n"
	".byte:	rol eax, 8\n"
	"	push eax\n"
	"	call hex2\n"
	"	pop eax\n"
	"	loop .byte\n"
	"	ret\n"
	"hex2:	push ax\n"
	"	shr al, 4\n"
	"	call hex1\n"
	"	pop ax\n"
	"hex1:	and al, 15\n"
	"	add al, '0'\n"
	"	cmp al, '9'\n"
	"	jbe .out\n"
	"	add al, 'a' - '9' - 1\n"
	".out:	out 0xe9, al\n"
	"	ret\n"
	"regs:	db 0x32, 0x09, 0x08, 0x07, 0x04, 0x02, 0x00, 0xff\n"
	"	times 510 - ($ - $$) db 0\n"
	"	dw 0xaa55\n";

std::string build_time_guest()
{
	std::string dir = temp_dir();
	write_file(dir + "/t.asm", time_guest);
	RunResult a = run_cmd({"nasm", "-f", "bin", "-o", dir + "/t.img", dir + "/t.asm"});
	EXPECT_EQ(0, a.status) << a.err;
	return dir + "/t.img";
}

// What the guest printed: the last line on the debug console (SeaBIOS
// writes its log there too).
struct TimeRun {
	int status;
	std::string out, err;
};

TimeRun run_time_guest(const std::string &img, std::vector<std::string> extra)
{
	std::vector<std::string> args = {"--display", "none", "--serial", "none", "--debugcon",
					 "stdio", "--debug-exit", "--timeout", "60", "--snapshot",
					 "--hda", img};
	args.insert(args.end(), extra.begin(), extra.end());
	RunResult r = run_pcvm(args, 60);
	std::string o = r.out;
	while (!o.empty() && o.back() == '\n')
		o.pop_back();
	size_t nl = o.rfind('\n');
	return {r.status, nl == std::string::npos ? o : o.substr(nl + 1), r.err};
}

TEST(Deterministic, RtcPitAndTscAreTheSameOnEveryRun)
{
	std::string img = build_time_guest();
	TimeRun a = run_time_guest(img, {"--deterministic"});
	TimeRun b = run_time_guest(img, {"--deterministic"});
	EXPECT_EQ(0, a.status) << a.err;
	EXPECT_EQ(0, b.status) << b.err;
	// 2024-01-01 00:00:00 (the first second has not passed yet)
	EXPECT_EQ(0u, a.out.find("20240101000000 ")) << a.out;
	EXPECT_EQ(36u, a.out.size()) << a.out;
	EXPECT_EQ(a.out, b.out);
	TimeRun c = run_time_guest(img, {"--deterministic", "--rtc-base", "1999-12-31T23:59:30"});
	EXPECT_EQ(0u, c.out.find("19991231235930 ")) << c.out;
	EXPECT_EQ(a.out.substr(14), c.out.substr(14)) << "only the date differs";
	TimeRun d = run_time_guest(img, {"--rtc-base", "2000-02-29T12:34:56"});
	EXPECT_EQ(0u, d.out.find("20000229123456 ")) << d.out;
}

TEST(Deterministic, TheDemoGivesTheSameScreenshotsTwice)
{
	std::string a = temp_dir(), b = temp_dir();
	for (const std::string &dir : {a, b}) {
		RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
					"--timeout", "60", "--screenshot-every",
					"0.25:" + dir + "/%03d.png", "--screen-text", dir + "/end.txt",
					"--report", dir + "/r.json"});
		EXPECT_EQ(0, r.status) << r.err;
	}
	std::vector<std::string> shots = list_dir(a);
	EXPECT_EQ(shots, list_dir(b));
	EXPECT_GE(shots.size(), 40u) << "the demo runs about 11 s of guest time";
	bool banner = false, picture = false;
	for (auto &f : shots) {
		if (f.size() < 4 || f.compare(f.size() - 4, 4, ".png"))
			continue;
		EXPECT_EQ(read_file(a + "/" + f), read_file(b + "/" + f)) << f;
		banner |= read_file(a + "/" + f) == read_file(data_path("demo-banner.png"));
		picture |= read_file(a + "/" + f) == read_file(data_path("demo-mandelbrot.png"));
	}
	EXPECT_TRUE(banner && picture) << "the shots show the demo's screens";
	Report ra = read_report(a + "/r.json"), rb = read_report(b + "/r.json");
	ASSERT_TRUE(ra.ok && rb.ok);
	EXPECT_EQ(ra.instructions, rb.instructions);
	ASSERT_EQ(ra.m.size(), rb.m.size());
	for (size_t i = 0; i < ra.m.size(); i++) {
		EXPECT_EQ(ra.m[i].event, rb.m[i].event);
		EXPECT_EQ(ra.m[i].guest, rb.m[i].guest) << ra.m[i].event;
	}
}

TEST(Deterministic, NeedsTheSoftwareCpu)
{
	RunResult r = run_pcvm({"--deterministic", "--accel", "kvm", "--display", "none"});
	EXPECT_EQ(2, r.status) << r.err;
	EXPECT_EQ(1, lines(r.err)) << r.err;
}

// ---- the examples, as a user runs them ----

RunResult run_example(const std::string &script, const std::vector<std::string> &args)
{
	std::vector<std::string> argv{"env", "PCVM=" + abs_path(pcvm_path()), script};
	argv.insert(argv.end(), args.begin(), args.end());
	return run_cmd(argv, 300);
}

TEST(Examples, CiCheck)
{
	std::string dir = temp_dir();
	RunResult r = run_example("examples/ci-check/ci-check.sh", {dir + "/out"});
	EXPECT_EQ(0, r.status) << r.out << r.err;
	EXPECT_EQ(read_file(data_path("demo-banner.txt")), read_file(dir + "/out/banner.txt"));
	Report rep = read_report(dir + "/out/report.json");
	EXPECT_EQ("script-done", rep.reason);
	EXPECT_TRUE(contains(rep.raw, "\"deterministic\": true"));
}

TEST(Examples, InstallTiming)
{
	std::string dir = temp_dir();
	RunResult r = run_example("examples/install-timing/run.sh", {dir + "/out"});
	EXPECT_EQ(0, r.status) << r.out << r.err;
	EXPECT_TRUE(contains(r.out, "install-timing: power-on to installer start ")) << r.out;
	EXPECT_TRUE(contains(r.out, "install-timing: the same in guest time: ")) << r.out;
	Report rep = read_report(dir + "/out/report.json");
	ASSERT_TRUE(rep.ok);
	EXPECT_EQ("script-done", rep.reason);
	std::vector<std::string> want = {
		"first-instruction", "boot-sector", "first-serial-byte", "wait-serial",
		"mark:install-start", "wait-serial", "mark:installed", "reset", "boot-sector",
		"wait-serial", "mark:first-boot", "script-done"};
	EXPECT_EQ(want, rep.events()) << rep.raw;
	expect_in_order(rep);
	std::string log = read_file(dir + "/out/com1.log");
	EXPECT_TRUE(contains(log, "installer: verifying\ninstaller: done, rebooting")) << log;
	EXPECT_TRUE(contains(log, "pcvm demo: hello from the guest")) << log;
}

TEST(Examples, OneLiner)
{
	RunResult r = run_example("examples/one-liner.sh", {});
	EXPECT_EQ(0, r.status) << r.err;
	EXPECT_EQ("one-liner: the demo booted\n", r.out);
}

} // namespace

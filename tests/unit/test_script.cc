// The --script reader (src/ui/script.c): words and quotes, every command's
// arguments, key chords and typed text as scancodes, durations, and the
// errors that must stop a run before the guest starts, each naming its line.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

// Collects what the code under test logs on stderr.
struct StderrCapture {
	int saved = -1;
	std::string path;
	StderrCapture()
	{
		path = temp_dir() + "/stderr";
		fflush(stderr);
		saved = dup(2);
		int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		close(fd);
	}
	std::string text()
	{
		fflush(stderr);
		return read_file(path);
	}
	~StderrCapture()
	{
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
	}
};

struct Parsed {
	struct script *s = nullptr;
	int rc = 0;
	std::string err;
	Parsed(const std::string &text, const std::string &refdir = "")
	{
		StderrCapture cap;
		rc = script_parse(text.data(), text.size(), "t.script",
				  refdir.empty() ? nullptr : refdir.c_str(), &s);
		err = cap.text();
	}
	~Parsed() { script_free(s); }
	const struct script_step &step(int i) const { return s->step[i]; }
};

std::vector<std::pair<unsigned, bool>> events(const struct script_key *k, int n)
{
	std::vector<std::pair<unsigned, bool>> v;
	for (int i = 0; i < n; i++)
		v.push_back({k[i].code, k[i].down});
	return v;
}

std::vector<std::pair<unsigned, bool>> chord(const char *c)
{
	struct script_key k[32];
	const char *why = nullptr;
	int n = script_parse_chord(c, k, 32, &why);
	EXPECT_GE(n, 0) << c << ": " << (why ? why : "");
	return n < 0 ? std::vector<std::pair<unsigned, bool>>{} : events(k, n);
}

std::vector<std::pair<unsigned, bool>> typed(const char *t)
{
	struct script_key k[64];
	const char *why = nullptr;
	int n = script_parse_text(t, k, 64, &why);
	EXPECT_GE(n, 0) << t << ": " << (why ? why : "");
	return n < 0 ? std::vector<std::pair<unsigned, bool>>{} : events(k, n);
}

using Ev = std::vector<std::pair<unsigned, bool>>;

// A small reference picture on disk.
std::string write_png(const std::string &dir, const char *name, unsigned w, unsigned h)
{
	std::vector<uint32_t> pix(w * h, 0x102030);
	std::string path = dir + "/" + name;
	EXPECT_EQ(0, ui_png_write(path.c_str(), pix.data(), w, h));
	return path;
}

TEST(ScriptChord, ModifiersPressedFirstReleasedLast)
{
	EXPECT_EQ((Ev{{0x1d, true}, {0x38, true}, {0xe053, true}, {0xe053, false},
		      {0x38, false}, {0x1d, false}}),
		  chord("ctrl-alt-delete"));
	EXPECT_EQ((Ev{{0x38, true}, {0x3c, true}, {0x3c, false}, {0x38, false}}), chord("alt-f2"));
	EXPECT_EQ((Ev{{0x58, true}, {0x58, false}}), chord("f12"));
	EXPECT_EQ((Ev{{0x2a, true}, {0x0f, true}, {0x0f, false}, {0x2a, false}}), chord("shift-tab"));
	EXPECT_EQ((Ev{{0xe048, true}, {0xe048, false}}), chord("Up"));
}

TEST(ScriptChord, CharactersAreKeysWhateverTheirCase)
{
	EXPECT_EQ(chord("ctrl-c"), chord("ctrl-C"));
	EXPECT_EQ((Ev{{0x1d, true}, {0x2e, true}, {0x2e, false}, {0x1d, false}}), chord("ctrl-c"));
	// the minus key after a separator, and a shifted character
	EXPECT_EQ((Ev{{0x1d, true}, {0x0c, true}, {0x0c, false}, {0x1d, false}}), chord("ctrl--"));
	EXPECT_EQ((Ev{{0x38, true}, {0x2a, true}, {0x02, true}, {0x02, false}, {0x2a, false},
		      {0x38, false}}),
		  chord("alt-!"));
}

TEST(ScriptChord, Mistakes)
{
	struct script_key k[32];
	const char *why;
	for (const char *c : {"", "ctrl-", "hyper-x", "ctrl-foo", "f13", "ctrl-alt-", "é"})
		EXPECT_EQ(-EINVAL, script_parse_chord(c, k, 32, &why)) << c;
}

TEST(ScriptType, CharactersAndEscapes)
{
	EXPECT_EQ((Ev{{0x1e, true}, {0x1e, false}, {0x1c, true}, {0x1c, false}}), typed("a\\n"));
	EXPECT_EQ((Ev{{0x2a, true}, {0x1e, true}, {0x1e, false}, {0x2a, false}}), typed("A"));
	EXPECT_EQ((Ev{{0x0f, true}, {0x0f, false}, {0x01, true}, {0x01, false}, {0x0e, true},
		      {0x0e, false}, {0x2b, true}, {0x2b, false}, {0x39, true}, {0x39, false}}),
		  typed("\\t\\e\\b\\\\ "));
	EXPECT_EQ(typed("\\r"), typed("\\n"));
	// ' is a key of its own, " is Shift+'
	EXPECT_EQ((Ev{{0x28, true}, {0x28, false}, {0x2a, true}, {0x28, true}, {0x28, false},
		      {0x2a, false}}),
		  typed("\\'\\\""));
	EXPECT_EQ(0, script_parse_text("", nullptr, 0, nullptr));
}

TEST(ScriptType, Mistakes)
{
	const char *why;
	for (const char *t : {"\\q", "trailing\\", "caf\xc3\xa9", "tab\there"})
		EXPECT_EQ(-EINVAL, script_parse_text(t, nullptr, 0, &why)) << t;
}

TEST(ScriptDuration, Units)
{
	uint64_t ns = 0;
	EXPECT_EQ(0, script_parse_duration("30", &ns));
	EXPECT_EQ(30000000000ull, ns);
	EXPECT_EQ(0, script_parse_duration("1.5", &ns));
	EXPECT_EQ(1500000000ull, ns);
	EXPECT_EQ(0, script_parse_duration("250ms", &ns));
	EXPECT_EQ(250000000ull, ns);
	EXPECT_EQ(0, script_parse_duration("2s", &ns));
	EXPECT_EQ(2000000000ull, ns);
	EXPECT_EQ(0, script_parse_duration("10m", &ns));
	EXPECT_EQ(600000000000ull, ns);
	EXPECT_EQ(0, script_parse_duration("1h", &ns));
	EXPECT_EQ(3600000000000ull, ns);
	for (const char *s : {"", "x", "-1", "1x", "1 s", "nan", "inf", "1e30"})
		EXPECT_EQ(-EINVAL, script_parse_duration(s, &ns)) << s;
}

TEST(ScriptParse, EveryCommand)
{
	std::string dir = temp_dir();
	write_png(dir, "ref.png", 8, 4);
	write_file(dir + "/disc.iso", std::string(2048, 'x'));
	std::string text =
		"# a comment, then a blank line\n"
		"\n"
		"wait-serial 'login: ' 2m\n"
		"  wait-screen \"Debian GNU/Linux\"\n"
		"wait-stable 2 30\n"
		"type 'root\\n'\n"
		"key ctrl-alt-delete alt-f2\n"
		"sleep 0.5\n"
		"screenshot " + dir + "/a.png\n"
		"screen-text " + dir + "/a.txt\n"
		"expect-screen ref.png 0.5% ignore=0,0,4,2 ignore=1,1,1,1\r\n"
		"mark installed\n"
		"swap-cdrom disc.iso force\n"
		"eject\n"
		"quit 42\n";
	Parsed p(text, dir);
	ASSERT_EQ(0, p.rc) << p.err;
	EXPECT_EQ("", p.err);
	ASSERT_EQ(13, p.s->n);
	const struct script_step &ws = p.step(0);
	EXPECT_EQ(SCRIPT_WAIT_SERIAL, ws.cmd);
	EXPECT_EQ(3, ws.line);
	EXPECT_STREQ("login: ", ws.arg);
	EXPECT_EQ(120000000000ull, ws.timeout_ns);
	EXPECT_EQ(0, regexec(&ws.re, "Debian login: ", 0, nullptr, 0));
	EXPECT_NE(0, regexec(&ws.re, "login:", 0, nullptr, 0));
	EXPECT_EQ(SCRIPT_WAIT_SCREEN, p.step(1).cmd);
	EXPECT_EQ(0u, p.step(1).timeout_ns);
	EXPECT_EQ(SCRIPT_WAIT_STABLE, p.step(2).cmd);
	EXPECT_EQ(2000000000ull, p.step(2).ns);
	EXPECT_EQ(30000000000ull, p.step(2).timeout_ns);
	EXPECT_EQ(SCRIPT_TYPE, p.step(3).cmd);
	EXPECT_EQ(10, p.step(3).nkeys); // r o o t Enter, down and up
	EXPECT_EQ(SCRIPT_KEY, p.step(4).cmd);
	EXPECT_EQ(6 + 4, p.step(4).nkeys);
	EXPECT_EQ(SCRIPT_SLEEP, p.step(5).cmd);
	EXPECT_EQ(500000000ull, p.step(5).ns);
	EXPECT_EQ(SCRIPT_SCREENSHOT, p.step(6).cmd);
	EXPECT_EQ(dir + "/a.png", p.step(6).path);
	EXPECT_EQ(SCRIPT_SCREEN_TEXT, p.step(7).cmd);
	const struct script_step &ex = p.step(8);
	EXPECT_EQ(SCRIPT_EXPECT_SCREEN, ex.cmd);
	EXPECT_EQ(dir + "/ref.png", ex.path) << "references are found beside the script";
	EXPECT_EQ(8u, ex.ref.w);
	EXPECT_EQ(4u, ex.ref.h);
	EXPECT_EQ(0x102030u, ex.ref.pix[0]);
	EXPECT_DOUBLE_EQ(0.5, ex.tolerance);
	EXPECT_TRUE(ex.tolerance_pct);
	ASSERT_EQ(2, ex.nignore);
	EXPECT_EQ(4u, ex.ignore[0].w);
	EXPECT_STREQ("ref-actual.png", ex.actual_path) << "outputs go to the current directory";
	EXPECT_STREQ("ref-diff.png", ex.diff_path);
	EXPECT_EQ(SCRIPT_MARK, p.step(9).cmd);
	EXPECT_STREQ("installed", p.step(9).arg);
	EXPECT_EQ(SCRIPT_SWAP_CDROM, p.step(10).cmd);
	EXPECT_TRUE(p.step(10).force);
	EXPECT_EQ(dir + "/disc.iso", p.step(10).path);
	EXPECT_EQ(SCRIPT_EJECT, p.step(11).cmd);
	EXPECT_FALSE(p.step(11).force);
	EXPECT_EQ(SCRIPT_QUIT, p.step(12).cmd);
	EXPECT_EQ(42, p.step(12).status);
	EXPECT_EQ(15, p.step(12).line);
}

TEST(ScriptParse, RegexesWorkLineByLine)
{
	Parsed p("wait-screen '^root@[a-z]+:~# $'\n");
	ASSERT_EQ(0, p.rc) << p.err;
	EXPECT_EQ(0, regexec(&p.step(0).re, "Debian\nroot@box:~# \n", 0, nullptr, 0));
	EXPECT_NE(0, regexec(&p.step(0).re, "Debian root@box:~# x", 0, nullptr, 0));
}

TEST(ScriptParse, PoweroffWaitPoweroffAndQuitEndTheScript)
{
	for (const char *last : {"poweroff", "poweroff 30", "wait-poweroff", "wait-poweroff 1m",
				 "quit 0"}) {
		Parsed ok(std::string("mark a\n") + last + "\n# done\n");
		EXPECT_EQ(0, ok.rc) << last << ": " << ok.err;
		Parsed bad(std::string(last) + "\nmark b\n");
		EXPECT_EQ(-EINVAL, bad.rc) << last;
		EXPECT_NE(std::string::npos, bad.err.find("t.script:2: nothing can follow")) << bad.err;
	}
}

struct BadCase {
	std::string text;
	int line;
	const char *message;
};

TEST(ScriptParse, MistakesNameTheirLine)
{
	std::string dir = temp_dir();
	write_png(dir, "ref.png", 8, 4);
	const BadCase cases[] = {
		{"mark a\nfrobnicate 3\n", 2, "unknown command 'frobnicate'"},
		{"wait-serial 'a('\n", 1, "bad regular expression"},
		{"\n\nwait-screen 'x[' 5\n", 3, "bad regular expression"},
		{"wait-serial ''\n", 1, "empty REGEX"},
		{"wait-serial x 5 6\n", 1, "fewer arguments"},
		{"wait-serial\n", 1, "more arguments"},
		{"wait-serial x soon\n", 1, "TIMEOUT 'soon' is not a duration"},
		{"wait-stable 0\n", 1, "not a duration"},
		{"sleep forever\n", 1, "not a duration"},
		{"type 'unterminated\n", 1, "does not end on this line"},
		{"type 'a'b\n", 1, "right after a closing quote"},
		{"type two words\n", 1, "fewer arguments"},
		{"type ''\n", 1, "empty TEXT"},
		{"type '\\x41'\n", 1, "unknown escape"},
		{"key ctrl-hyper\n", 1, "unknown key"},
		{"mark ''\n", 1, "empty NAME"},
		{"expect-screen missing.png\n", 1, "No such file"},
		{"expect-screen ref.png 101%\n", 1, "TOLERANCE"},
		{"expect-screen ref.png 1 2\n", 1, "TOLERANCE"},
		{"expect-screen ref.png ignore=0,0,9,1\n", 1, "reaches outside the 8x4 reference"},
		{"expect-screen ref.png ignore=1,2,3\n", 1, "ignore=X,Y,W,H"},
		{"expect-screen t.script\n", 1, "No such file"},
		{"swap-cdrom nothere.iso\n", 1, "No such file"},
		{"swap-cdrom ref.png now\n", 1, "force"},
		{"eject now\n", 1, "force"},
		{"quit 256\n", 1, "exit status from 0 to 255"},
		{"quit -1\n", 1, "exit status from 0 to 255"},
		{"screenshot /nonexistent-dir/x.png\n", 1, "directory does not exist"},
		{"screen-text /nonexistent-dir/x.txt\n", 1, "directory does not exist"},
		{std::string("mark a\0b\n", 9), 1, "NUL"},
	};
	for (const BadCase &c : cases) {
		Parsed p(c.text, dir);
		EXPECT_EQ(-EINVAL, p.rc) << c.text;
		std::string where = "--script t.script:" + std::to_string(c.line) + ": ";
		EXPECT_EQ(0u, p.err.find("pcvm: error: " + where)) << c.text << "\n" << p.err;
		EXPECT_NE(std::string::npos, p.err.find(c.message)) << c.text << "\n" << p.err;
		EXPECT_EQ(1, std::count(p.err.begin(), p.err.end(), '\n')) << p.err;
		EXPECT_EQ(nullptr, p.s);
	}
}

TEST(ScriptParse, AnEmptyScriptIsAMistake)
{
	Parsed p("# only comments\n\n   \n");
	EXPECT_EQ(-EINVAL, p.rc);
	EXPECT_NE(std::string::npos, p.err.find("no commands")) << p.err;
}

TEST(ScriptLoad, ReferencesAreFoundBesideTheScript)
{
	std::string dir = temp_dir();
	ASSERT_EQ(0, system(("mkdir -p " + dir + "/sub").c_str()));
	write_png(dir + "/sub", "ref.png", 4, 4);
	write_file(dir + "/sub/check.script", "expect-screen ref.png\nmark ok\n");
	struct script *s = nullptr;
	StderrCapture cap;
	ASSERT_EQ(0, script_load((dir + "/sub/check.script").c_str(), &s)) << cap.text();
	ASSERT_EQ(2, s->n);
	EXPECT_EQ(dir + "/sub/ref.png", s->step[0].path);
	EXPECT_EQ(dir + "/sub/check.script", s->name);
	script_free(s);
	EXPECT_EQ(-EINVAL, script_load((dir + "/none.script").c_str(), &s));
	EXPECT_EQ(-EINVAL, script_load(dir.c_str(), &s));
	EXPECT_NE(std::string::npos, cap.text().find("not a regular file"));
}

TEST(ScriptCommands, NamesRoundTrip)
{
	EXPECT_STREQ("wait-serial", script_cmd_name(SCRIPT_WAIT_SERIAL));
	EXPECT_STREQ("expect-screen", script_cmd_name(SCRIPT_EXPECT_SCREEN));
	EXPECT_STREQ("wait-poweroff", script_cmd_name(SCRIPT_WAIT_POWEROFF));
}

} // namespace

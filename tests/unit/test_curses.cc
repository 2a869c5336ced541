// The terminal display in a real terminal: tmux runs this test binary as a
// child that draws a VGA text screen with ui_curses and records the keys it
// reads; the parent reads the screen back with capture-pane, types with
// send-keys, quits with the Ctrl-A x chord, and checks that the terminal is
// sane afterwards. Skipped where tmux is missing.
#include "vga_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

extern "C" {
#include "ui/curses_ui.h"
#include "ui/display.h"
}

namespace {

void ignore(int) {}

std::string sh(const std::string &cmd)
{
	std::string out;
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return out;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		out.append(buf, n);
	pclose(p);
	return out;
}

std::string slurp(const std::string &path)
{
	std::ifstream f(path);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

std::string self_exe()
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	return n > 0 ? std::string(buf, (size_t)n) : "";
}

// ---- the child, run inside tmux ----
// It runs before GoogleTest's main when PCVM_CURSES_CHILD names a
// directory, and exits without running any test.

struct ChildVga : VgaTest {
	void TestBody() override {}
};

void record(void *opaque, const struct keymap_out *o)
{
	auto *st = static_cast<std::pair<FILE *, bool> *>(opaque);
	for (int i = 0; i < o->n; i++)
		fprintf(st->first, "%x%s ", o->ev[i].code, o->ev[i].down ? "" : "u");
	if (o->n)
		fprintf(st->first, "\n");
	if (o->cmd == KEYMAP_CMD_QUIT)
		st->second = true;
	fflush(st->first);
}

int child_main(const char *dir)
{
	ChildVga t;
	t.SetUp();
	t.set_mode(kMode03);
	// the default palette: DAC entries 0-5, 0x14, 7 and 0x38-0x3f
	for (int i = 0; i < 16; i++) {
		uint32_t c = vga_default_palette[i];
		uint8_t idx = (uint8_t)(i < 8 ? (i == 6 ? 0x14 : i) : 0x30 + i);
		t.dac(idx, (uint8_t)((c >> 18) & 63), (uint8_t)((c >> 10) & 63), (uint8_t)((c >> 2) & 63));
	}
	const uint8_t line[] = {0xc9, 0xcd, 0xcd, 0xbb, ' ', 'H', 'e', 'l', 'l', 'o', ' ',
				'f', 'r', 'o', 'm', ' ', 'p', 'c', 'v', 'm', ' ', 0x01, 0x03};
	for (size_t i = 0; i < sizeof(line); i++) {
		t.wb(0xb8000 + 160 * 3 + 2 * (5 + i), line[i]);
		t.wb(0xb8000 + 160 * 3 + 2 * (5 + i) + 1, 0x1e);
	}
	t.cr(0x0e, (4 * 80 + 5) >> 8);
	t.cr(0x0f, (4 * 80 + 5) & 0xff);
	if (getenv("PCVM_CURSES_GFX")) {
		// mode 13h: red top half, blue bottom half, a green stripe
		t.set_mode(kMode13);
		t.dac(1, 63, 0, 0);
		t.dac(2, 0, 0, 63);
		t.dac(3, 0, 63, 0);
		for (int y = 0; y < 200; y++)
			for (int x = 0; x < 320; x++)
				t.wb(0xa0000 + y * 320 + x, (uint8_t)(x >= 150 && x < 170 ? 3 : y < 100 ? 1 : 2));
	}
	struct ui_curses *c;
	if (ui_curses_open(&c))
		return 1;
	ui_curses_draw(c, t.v, "status: test");
	std::pair<FILE *, bool> st(fopen((std::string(dir) + "/keys").c_str(), "w"), false);
	if (!st.first)
		return 1;
	fprintf(st.first, "ready\n");
	fflush(st.first);
	for (int i = 0; i < 1000 && !st.second; i++) {
		ui_curses_read(c, record, &st);
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	ui_curses_close(c);
	fprintf(st.first, "%s\n", st.second ? "quit" : "timeout");
	fclose(st.first);
	t.TearDown();
	return 0;
}

struct ChildStarter {
	ChildStarter()
	{
		if (const char *dir = getenv("PCVM_CURSES_CHILD"))
			_exit(child_main(dir));
	}
} child_starter;

// ---- the parent ----

// A tmux server of its own for each test: one that kill-server has just
// told to stop may still hold a shared socket name, and a new session
// started there fails with "server exited unexpectedly".
std::string tmux_socket()
{
	static int n;
	return "pcvm-test-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

struct Tmux {
	std::string dir, tmux;
	Tmux(const std::string &env)
	{
		char d[] = "/tmp/pcvm-curses-XXXXXX";
		if (mkdtemp(d))
			dir = d;
		tmux = "tmux -L " + tmux_socket() + " -f /dev/null ";
		std::string cmd = env + " PCVM_CURSES_CHILD=" + dir + " " + self_exe() +
				  " 2> " + dir + "/child.log; stty -a > " + dir + "/stty; sleep 30";
		ignore(system((tmux + "new-session -d -s t -x 100 -y 30 \"" + cmd + "\"").c_str()));
	}
	~Tmux()
	{
		ignore(system((tmux + "kill-server").c_str()));
		ignore(system(("rm -rf " + dir).c_str()));
	}
	bool wait_for(const std::string &file, const std::string &what)
	{
		for (int i = 0; i < 500; i++) {
			if (slurp(dir + "/" + file).find(what) != std::string::npos)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		return false;
	}
	std::string capture(const std::string &flags = "")
	{
		return sh(tmux + "capture-pane -p " + flags + " -t t");
	}
};

TEST(Curses, GraphicsAsHalfBlocks)
{
	if (system("command -v tmux >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "tmux is not installed";
	Tmux t("PCVM_CURSES_GFX=1 TERM=xterm-256color");
	ASSERT_TRUE(t.wait_for("keys", "ready")) << slurp(t.dir + "/child.log");
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	std::string esc = t.capture("-e");
	// red (xterm 196) over blue (21) as upper half blocks on the middle row
	EXPECT_NE(std::string::npos, esc.find("\x1b[38;5;196m\x1b[48;5;21m\u2580\u2580")) << esc;
	EXPECT_NE(std::string::npos, esc.find("\x1b[48;5;196m     ")) << esc;
	EXPECT_NE(std::string::npos, esc.find("\x1b[48;5;21m     ")) << esc;
	EXPECT_NE(std::string::npos, esc.find("\x1b[48;5;46m")) << esc; // green stripe
	// the status line leaves 29 rows: 58 half-block rows at 4:3 are 77
	// columns, centred from column 11
	std::string plain = t.capture();
	EXPECT_NE(std::string::npos, plain.find("\n           \u2580")) << plain;
	EXPECT_EQ(std::string::npos, plain.find("\n            \u2580")) << plain;
	ignore(system((t.tmux + "send-keys -t t C-a x").c_str()));
	EXPECT_TRUE(t.wait_for("keys", "quit"));
}

TEST(Curses, InTmux)
{
	if (system("command -v tmux >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "tmux is not installed";
	char dir[] = "/tmp/pcvm-curses-XXXXXX";
	ASSERT_NE(nullptr, mkdtemp(dir));
	std::string d = dir;
	std::string sock = tmux_socket();
	std::string tmux = "tmux -L " + sock + " -f /dev/null ";
	// the pane runs the child, then records the terminal modes it left
	std::string cmd = "PCVM_CURSES_CHILD=" + d + " TERM=xterm-256color " + self_exe() +
			  " 2> " + d + "/child.log; stty -a > " +
			  d + "/stty; sleep 30";
	std::string start = tmux + "new-session -d -s t -x 100 -y 30 \"" + cmd + "\"";
	ASSERT_EQ(0, system(start.c_str()));
	auto wait_for = [&](const std::string &file, const std::string &what) {
		for (int i = 0; i < 500; i++) {
			if (slurp(file).find(what) != std::string::npos)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
		}
		return false;
	};
	ASSERT_TRUE(wait_for(d + "/keys", "ready")) << slurp(d + "/child.log");
	std::string screen;
	for (int i = 0; i < 100; i++) {
		screen = sh(tmux + "capture-pane -p -t t");
		if (screen.find("Hello") != std::string::npos)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	// the text where the guest put it, CP437 box drawing and pictures as
	// Unicode, and the status line at the bottom
	std::istringstream lines(screen);
	std::string row;
	for (int i = 0; i <= 3; i++)
		std::getline(lines, row);
	EXPECT_EQ("     \u2554\u2550\u2550\u2557 Hello from pcvm \u263a\u2665", row) << screen;
	EXPECT_NE(std::string::npos, screen.find("status: test")) << screen;
	// colours: yellow on blue around the text
	std::string esc = sh(tmux + "capture-pane -p -e -t t");
	EXPECT_NE(std::string::npos, esc.find("Hello")) << esc;
	EXPECT_NE(std::string::npos, esc.find("\x1b[")) << esc;

	// keys: a letter, a capital, an arrow, Ctrl-C, then Ctrl-A x to quit
	ignore(system((tmux + "send-keys -t t a B Up C-c").c_str()));
	std::this_thread::sleep_for(std::chrono::milliseconds(200));
	ignore(system((tmux + "send-keys -t t C-a x").c_str()));
	ASSERT_TRUE(wait_for(d + "/keys", "quit")) << slurp(d + "/keys");
	std::string keys = slurp(d + "/keys");
	EXPECT_NE(std::string::npos, keys.find("1e 1eu \n")) << keys;
	EXPECT_NE(std::string::npos, keys.find("2a 30 30u 2au \n")) << keys;
	EXPECT_NE(std::string::npos, keys.find("e048 e048u \n")) << keys;
	EXPECT_NE(std::string::npos, keys.find("1d 2e 2eu 1du \n")) << keys;
	// the terminal was given back in its ordinary modes
	ASSERT_TRUE(wait_for(d + "/stty", "speed"));
	std::string stty = slurp(d + "/stty");
	EXPECT_NE(std::string::npos, stty.find(" icanon")) << stty;
	EXPECT_NE(std::string::npos, stty.find(" echo ")) << stty;
	EXPECT_EQ(std::string::npos, stty.find("-icanon")) << stty;
	EXPECT_EQ(std::string::npos, stty.find("-echo ")) << stty;
	ignore(system((tmux + "kill-server").c_str()));
	ignore(system(("rm -rf " + d).c_str()));
}

} // namespace

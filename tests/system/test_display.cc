// What a user sees, through the pcvm binary: the display options' usage
// errors; the demo guest's screens compared with golden files; a VBE mode
// set through the real SeaVGABIOS; and the terminal display driven through
// tmux. The tests that boot a guest skip themselves while the software CPU
// cannot run guests yet, and run as soon as it can.
#include <gtest/gtest.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "run.h"

namespace {

// ---- helpers ----

std::string data_path(const std::string &name)
{
	const char *d = getenv("TESTDATA");
	return std::string(d && *d ? d : "tests/data") + "/" + name;
}

struct Image {
	unsigned w = 0, h = 0;
	std::vector<uint32_t> px;
	bool operator==(const Image &o) const { return w == o.w && h == o.h && px == o.px; }
};

bool load_png(const std::string &path, Image *img)
{
	png_image p;
	memset(&p, 0, sizeof(p));
	p.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&p, path.c_str()))
		return false;
	p.format = PNG_FORMAT_RGB;
	std::vector<uint8_t> buf(PNG_IMAGE_SIZE(p));
	if (!png_image_finish_read(&p, nullptr, buf.data(), 0, nullptr))
		return false;
	img->w = p.width;
	img->h = p.height;
	img->px.resize((size_t)p.width * p.height);
	for (size_t i = 0; i < img->px.size(); i++)
		img->px[i] = (uint32_t)buf[3 * i] << 16 | (uint32_t)buf[3 * i + 1] << 8 | buf[3 * i + 2];
	return true;
}

// The tests that boot a guest need the whole PC: the software CPU and the
// chipset with its PCI bus, where the VGA BIOS comes from. Until the PCI
// bus is part of the build they skip; from then on they run (and fail if
// the machine cannot boot the demo).
bool machine_complete()
{
	static int ok = -1;
	if (ok < 0) {
		RunResult r = run_pcvm({"--accel", "emu", "--display", "none", "--serial", "none",
					"-v", "--timeout", "0.2"}, 60);
		ok = r.err.find("cannot run guests yet") == std::string::npos &&
		     r.err.find("vga: PCI device 1234:1111") != std::string::npos;
	}
	return ok;
}

#define NEED_CPU() \
	do { \
		if (!machine_complete()) \
			GTEST_SKIP() << "the machine has no PCI bus yet: no VGA BIOS to boot with"; \
	} while (0)

bool update_golden()
{
	const char *u = getenv("PCVM_UPDATE_GOLDEN");
	return u && *u == '1';
}

// ---- usage errors ----

struct Bad {
	std::vector<std::string> args;
	const char *message;
};

TEST(DisplayCli, HelpListsTheOptions)
{
	RunResult r = run_pcvm({"--help"});
	EXPECT_EQ(0, r.status);
	for (const char *opt : {"--screenshot=FILE", "--screenshot-every=SPEC", "--screen-text=FILE",
				"Ctrl-A x"})
		EXPECT_NE(std::string::npos, r.out.find(opt)) << opt;
}

TEST(DisplayCli, UsageErrorsAreOneLineWithStatus2)
{
	const Bad cases[] = {
		{{"--screenshot", "/nonexistent-dir/x.png"},
		 "--screenshot /nonexistent-dir/x.png: its directory does not exist"},
		{{"--screenshot", "@"}, "is a directory"},
		{{"--screen-text", "/nonexistent-dir/x.txt"},
		 "--screen-text /nonexistent-dir/x.txt: its directory does not exist"},
		{{"--screenshot-every", "1:@/%d%d.png"}, "exactly one number conversion"},
		{{"--screenshot-every", "1:@/shot.png"}, "exactly one number conversion"},
		{{"--screenshot-every", "1:@/%s.png"}, "only %d, %i or %u"},
		{{"--screenshot-every", "1:@/%d/x.png"}, "not the directory"},
		{{"--screenshot-every", "1:@/none/%04d.png"}, "its directory does not exist"},
		{{"--screenshot-every", "0:@/%d.png"}, "give SECONDS:PATTERN"},
		{{"--screenshot-every", "@/%d.png"}, "give SECONDS:PATTERN"},
		{{"--display", "curses", "--serial", "stdio"},
		 "--serial stdio: the terminal belongs to --display curses"},
		{{"--display", "curses"},
		 "--display curses: standard input and output must be a terminal"},
	};
	for (const Bad &c : cases) {
		std::string dir = temp_dir();
		std::vector<std::string> args = c.args;
		std::string joined;
		for (auto &a : args) {
			if (a[0] == '@')
				a = dir + a.substr(1);
			joined += a + " ";
		}
		RunResult r = run_pcvm(args, 30);
		EXPECT_EQ(2, r.status) << joined << "\n" << r.err;
		EXPECT_NE(std::string::npos, r.err.find(c.message)) << joined << "\n" << r.err;
		EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << joined << r.err;
		EXPECT_EQ(0u, r.err.find("pcvm: error: ")) << r.err;
		EXPECT_TRUE(list_dir(dir).empty()) << "a rejected run created a file: " << joined;
	}
}

TEST(DisplayCli, NoFilesWhenTheMachineNeverRan)
{
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--display", "none", "--bios", dir + "/missing.bin",
				"--screenshot", dir + "/x.png", "--screen-text", dir + "/x.txt"});
	EXPECT_EQ(2, r.status) << r.err;
	EXPECT_TRUE(list_dir(dir).empty());
}

// ---- the demo guest ----

// Runs the demo unattended: it shows its banner, its picture and its key
// screen for a few seconds each and powers off by itself.
struct DemoRun {
	std::string dir;
	RunResult r;
	DemoRun()
	{
		dir = temp_dir();
		r = run_pcvm({"--accel", "emu", "-m", "128M", "--display", "none", "--serial", "stdio",
			      "--timeout", "300", "--screenshot", dir + "/final.png", "--screen-text",
			      dir + "/final.txt", "--screenshot-every", "0.5:" + dir + "/shot-%03d.png"},
			     360);
	}
	std::vector<std::string> shots(const std::string &ext) const
	{
		std::vector<std::string> v;
		for (auto &f : list_dir(dir))
			if (f.rfind("shot-", 0) == 0 && f.size() > ext.size() &&
			    f.compare(f.size() - ext.size(), ext.size(), ext) == 0)
				v.push_back(dir + "/" + f);
		return v;
	}
};

void check_golden_png(const std::string &golden, const std::vector<std::string> &candidates,
		      const std::string &pick_for_update)
{
	Image want;
	if (!load_png(data_path(golden), &want)) {
		if (update_golden() && !pick_for_update.empty()) {
			std::string cmd = "cp '" + pick_for_update + "' '" + data_path(golden) + "'";
			ASSERT_EQ(0, system(cmd.c_str()));
			GTEST_SKIP() << "wrote " << data_path(golden) << ": look at it, then commit it";
		}
		FAIL() << "golden " << data_path(golden) << " is missing; run the tests with "
		       << "PCVM_UPDATE_GOLDEN=1 to write it from this run, look at it, commit it";
	}
	for (auto &c : candidates) {
		Image got;
		if (load_png(c, &got) && got == want)
			return;
	}
	ADD_FAILURE() << "no screenshot matches " << golden << " pixel for pixel";
}

TEST(Demo, BootsShowsItsScreensAndPowersOff)
{
	NEED_CPU();
	DemoRun d;
	EXPECT_EQ(0, d.r.status) << d.r.err;
	EXPECT_NE(std::string::npos, d.r.out.find("pcvm demo: hello from the guest")) << d.r.out;
	EXPECT_NE(std::string::npos, d.r.out.find("Mandelbrot set drawn in VGA mode 13h")) << d.r.out;
	EXPECT_NE(std::string::npos, d.r.out.find("no key for 5 seconds, powering off")) << d.r.out;

	// the text screens: the end-of-run dump and one shot's dump
	EXPECT_EQ(read_file(data_path("demo-final.txt")), read_file(d.dir + "/final.txt"));
	std::string banner = read_file(data_path("demo-banner.txt"));
	std::string banner_png, picture_png;
	for (auto &t : d.shots(".txt")) {
		std::string png = t.substr(0, t.size() - 4) + ".png";
		std::string text = read_file(t);
		if (text == banner && banner_png.empty())
			banner_png = png;
		if (text.empty() && !banner_png.empty())
			picture_png = png; // graphics: the last one is the finished picture
	}
	EXPECT_FALSE(banner_png.empty()) << "no shot shows the banner text";
	EXPECT_FALSE(picture_png.empty()) << "no shot shows a graphics mode";

	// the pictures, pixel for pixel
	check_golden_png("demo-banner.png", d.shots(".png"), banner_png);
	check_golden_png("demo-mandelbrot.png", d.shots(".png"), picture_png);
	check_golden_png("demo-final.png", {d.dir + "/final.png"}, d.dir + "/final.png");

	Image fin;
	ASSERT_TRUE(load_png(d.dir + "/final.png", &fin));
	EXPECT_EQ(720u, fin.w); // 80 columns of 9 dots
	EXPECT_EQ(400u, fin.h);
}

TEST(Demo, SameRunSameScreenshot)
{
	NEED_CPU();
	DemoRun a, b;
	EXPECT_EQ(0, a.r.status);
	EXPECT_EQ(0, b.r.status);
	// the final screen is static: byte-identical files
	EXPECT_EQ(read_file(a.dir + "/final.png"), read_file(b.dir + "/final.png"));
}

// ---- VBE through SeaVGABIOS ----

TEST(Vbe, LinearFramebufferModeThroughTheVgaBios)
{
	NEED_CPU();
	std::string dir = temp_dir();
	RunResult r = run_pcvm({"--accel", "emu", "--display", "none", "--debug-exit",
				"--debugcon", "stdio", "--timeout", "300", "--screenshot",
				dir + "/vbe.png", guest_path("vga_vbe.bin")}, 360);
	EXPECT_EQ(0, r.status) << r.out << r.err;
	EXPECT_NE(std::string::npos, r.out.find("vga_vbe: framebuffer filled")) << r.out;
	Image img;
	ASSERT_TRUE(load_png(dir + "/vbe.png", &img));
	ASSERT_EQ(640u, img.w);
	ASSERT_EQ(480u, img.h);
	for (unsigned y = 0; y < 480; y++)
		for (unsigned x = 0; x < 640; x++)
			ASSERT_EQ((x & 255) << 16 | (y & 255) << 8 | 0x80, img.px[y * 640 + x])
				<< x << "," << y;
}

// ---- the terminal display, in tmux ----

struct Tmux {
	std::string dir, tmux;
	explicit Tmux(const std::string &pcvm_args)
	{
		dir = temp_dir();
		tmux = "tmux -L pcvm-sys-" + std::to_string(getpid()) + " -f /dev/null ";
		// \$?: the pane's shell expands it, not the one that starts tmux
		std::string cmd = "TERM=xterm-256color " + pcvm_path() + " " + pcvm_args +
				  " 2> " + dir + "/err; echo \\$? > " + dir + "/status; stty -a > " +
				  dir + "/stty; sleep 60";
		std::string start = tmux + "new-session -d -s t -x 100 -y 30 \"" + cmd + "\"";
		if (system(start.c_str()) != 0)
			dir.clear();
	}
	~Tmux()
	{
		if (system((tmux + "kill-server 2>/dev/null").c_str()) != 0) {
			// already gone
		}
	}
	std::string capture()
	{
		std::string out;
		FILE *p = popen((tmux + "capture-pane -p -t t").c_str(), "r");
		if (!p)
			return out;
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
			out.append(buf, n);
		pclose(p);
		return out;
	}
	bool wait_screen(const std::string &what, double seconds = 120)
	{
		auto end = std::chrono::steady_clock::now() +
			   std::chrono::milliseconds((long)(seconds * 1000));
		while (std::chrono::steady_clock::now() < end) {
			if (capture().find(what) != std::string::npos)
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		return false;
	}
	bool wait_file(const std::string &name, double seconds = 120)
	{
		for (int i = 0; i < seconds * 10; i++) {
			if (file_exists(dir + "/" + name) && !read_file(dir + "/" + name).empty())
				return true;
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
		}
		return false;
	}
	void keys(const std::string &k)
	{
		if (system((tmux + "send-keys -t t " + k).c_str()) != 0)
			ADD_FAILURE() << "tmux send-keys " << k;
	}
};

bool have_tmux()
{
	return system("command -v tmux >/dev/null 2>&1") == 0;
}

TEST(Terminal, DemoInTmuxTypedAndQuitWithQ)
{
	NEED_CPU();
	if (!have_tmux())
		GTEST_SKIP() << "tmux is not installed";
	Tmux t("--accel emu -m 128M");
	ASSERT_FALSE(t.dir.empty());
	ASSERT_TRUE(t.wait_screen("Hello from inside the virtual machine!")) << t.capture();
	EXPECT_TRUE(t.wait_screen("\u2554")) << t.capture(); // CP437 box drawing as Unicode
	t.keys("x"); // on to the picture
	ASSERT_TRUE(t.wait_screen("\u2580")) << t.capture(); // drawn with half blocks
	t.keys("x"); // on to the key screen
	ASSERT_TRUE(t.wait_screen("Your keys:")) << t.capture();
	t.keys("h e l l o");
	ASSERT_TRUE(t.wait_screen("hello")) << t.capture();
	EXPECT_TRUE(t.wait_screen("scancode 18")) << t.capture(); // 'o'
	t.keys("q");
	ASSERT_TRUE(t.wait_file("status")) << t.capture();
	EXPECT_EQ("0\n", read_file(t.dir + "/status")) << read_file(t.dir + "/err");
	ASSERT_TRUE(t.wait_file("stty"));
	std::string stty = read_file(t.dir + "/stty");
	EXPECT_NE(std::string::npos, stty.find(" icanon")) << stty;
	EXPECT_EQ(std::string::npos, stty.find("-echo ")) << stty;
}

TEST(Terminal, CtrlAXQuitsWithStatus130)
{
	NEED_CPU();
	if (!have_tmux())
		GTEST_SKIP() << "tmux is not installed";
	Tmux t("--accel emu -m 128M");
	ASSERT_FALSE(t.dir.empty());
	ASSERT_TRUE(t.wait_screen("Hello from inside the virtual machine!")) << t.capture();
	t.keys("C-a h");
	EXPECT_TRUE(t.wait_screen("pcvm keys")) << t.capture();
	t.keys("Space"); // closes the help
	t.keys("C-a x");
	ASSERT_TRUE(t.wait_file("status")) << t.capture();
	EXPECT_EQ("130\n", read_file(t.dir + "/status")) << read_file(t.dir + "/err");
	ASSERT_TRUE(t.wait_file("stty"));
	EXPECT_EQ(std::string::npos, read_file(t.dir + "/stty").find("-icanon"));
}

} // namespace

// Real guests that nobody here wrote, all on the software CPU (--accel emu):
// Debian 12's 686 Linux kernel with the busybox initramfs of tests/linux/,
// booted directly (--kernel) and from an isolinux CD through SeaBIOS, on
// the serial console and on the VGA text console; and memtest86+ 6.10,
// booted directly and from a CD whose El Torito image emulates a floppy
// (SeaBIOS's INT 13h floppy emulation). `make test` fetches the files into
// $LINUX_GUESTS (tests/linux/fetch.sh) before running these.
#include <gtest/gtest.h>
#include <png.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "run.h"

namespace {

// A Linux boot takes 20-30 s of host CPU on the software CPU today; the
// limits leave room for a loaded machine.
constexpr int kLinuxTimeout = 300;
// memtest86+ runs until stopped; it starts testing after about 4 s here.
constexpr int kMemtestLimit = 180;

std::string guest_file(const std::string &name)
{
	const char *d = getenv("LINUX_GUESTS");
	return std::string(d) + "/" + name;
}

// Skips when run by hand without make's environment; under `make test` a
// missing file is a failure (make was to build it).
#define NEED_GUESTS(...)                                                          \
	do {                                                                      \
		if (!getenv("LINUX_GUESTS") || !*getenv("LINUX_GUESTS"))          \
			GTEST_SKIP() << "LINUX_GUESTS is not set: run through make "  \
					"test (it fetches the guests)";           \
		for (const char *f : { __VA_ARGS__ })                              \
			ASSERT_TRUE(file_exists(guest_file(f)))                   \
				<< guest_file(f) << " is missing: make linux-guests"; \
	} while (0)

std::string host_md5(const std::string &path)
{
	RunResult r = run_cmd({ "md5sum", path }, 30);
	EXPECT_EQ(r.status, 0) << r.err;
	return r.out.substr(0, 32);
}

bool has(const std::string &text, const std::string &what)
{
	return text.find(what) != std::string::npos;
}

// text has `what` followed by a digit string (and returns where it ends).
size_t has_number_after(const std::string &text, const std::string &what, size_t from = 0)
{
	for (size_t at = text.find(what, from); at != std::string::npos;
	     at = text.find(what, at + 1)) {
		size_t p = at + what.size(), q = p;
		while (q < text.size() && isdigit((unsigned char)text[q]))
			q++;
		if (q > p)
			return q;
	}
	return 0;
}

// (std::regex is avoided: GCC 12 warns inside it under the sanitizers.)
// memtest86+'s "Test #N  [Name...": a test under way.
bool memtest_testing(const std::string &screen)
{
	for (size_t from = 0;;) {
		size_t q = has_number_after(screen, "Test #", from);
		if (!q)
			return false;
		while (q < screen.size() && screen[q] == ' ')
			q++;
		if (q + 1 < screen.size() && screen[q] == '[' && isalpha((unsigned char)screen[q + 1]))
			return true;
		from = q;
	}
}

// What tests/linux/init prints, whatever the console: the marker, the PCI
// functions the kernel found, the digests of known data (zeros, and the busybox binary hashed here on the
// host), a random digest of the right length, the shell loop's sum, its
// in-guest time, and the word before power-off.
void expect_workload(const std::string &text)
{
	EXPECT_TRUE(has(text, "PCVM-LINUX: init started at ")) << text;
	// The kernel found the PCI bus, from the firmware's ACPI tables
	// (SeaBIOS's, or those of the direct boot).
	EXPECT_TRUE(has(text, "PCVM-LINUX: pci functions 5: 00:00.0 00:01.0 00:01.1 "
			      "00:01.3 00:02.0"))
		<< text;
	EXPECT_TRUE(has(text, "PCVM-LINUX: zeros b5cfa9d6c8febd618f91ac2843d50a1c")) << text;
	EXPECT_TRUE(has(text, "PCVM-LINUX: busybox " + host_md5(guest_file("busybox"))))
		<< text;
	EXPECT_TRUE(has(text, "PCVM-LINUX: random 32 hex digits")) << text;
	EXPECT_TRUE(has(text, "PCVM-LINUX: loop 2664667000")) << text;
	double done = -1, took = -1;
	size_t at = text.find("PCVM-LINUX: workload done at ");
	EXPECT_TRUE(at != std::string::npos &&
		    sscanf(text.c_str() + at, "PCVM-LINUX: workload done at %lf s, took %lf s",
			   &done, &took) == 2 &&
		    done > 0 && took > 0 && took < done)
		<< text;
	EXPECT_TRUE(has(text, "PCVM-LINUX: powering off")) << text;
}

TEST(Linux, DirectBootSerialConsole)
{
	NEED_GUESTS("vmlinuz", "initrd.gz", "busybox");
	RunResult r = run_pcvm({ "--accel", "emu", "--kernel", guest_file("vmlinuz"),
				 "--initrd", guest_file("initrd.gz"), "--append",
				 "console=ttyS0", "--display", "none", "--serial", "stdio",
				 "-m", "256M", "--timeout", std::to_string(kLinuxTimeout) },
			       kLinuxTimeout + 30);
	EXPECT_EQ(r.status, 0) << "(0: ACPI power-off)\n" << r.err << r.out;
	// The kernel's own words: its banner and that it powered off.
	EXPECT_TRUE(has(r.out, "Linux version 6.1.0-")) << r.out;
	EXPECT_TRUE(has(r.out, "Kernel command line: console=ttyS0")) << r.out;
	EXPECT_TRUE(has(r.out, "reboot: Power down")) << r.out;
	expect_workload(r.out);
}

TEST(Linux, IsolinuxCdThroughSeaBIOS)
{
	NEED_GUESTS("linux.iso", "busybox");
	std::string dir = temp_dir();
	RunResult r = run_pcvm({ "--accel", "emu", "--cdrom", guest_file("linux.iso"),
				 "--boot", "d", "--display", "none", "--serial", "stdio",
				 "--debugcon", "file:" + dir + "/seabios.log", "-m", "256M",
				 "--timeout", std::to_string(kLinuxTimeout) },
			       kLinuxTimeout + 30);
	EXPECT_EQ(r.status, 0) << "(0: ACPI power-off)\n" << r.err << r.out;
	std::string bios = read_file(dir + "/seabios.log");
	EXPECT_TRUE(has(bios, "Booting from DVD/CD")) << bios;
	// isolinux passed the kernel the line from isolinux.cfg.
	EXPECT_TRUE(has(r.out, "Kernel command line: BOOT_IMAGE=/vmlinuz console=ttyS0 "
			       "initrd=/initrd.gz"))
		<< r.out;
	EXPECT_TRUE(has(r.out, "reboot: Power down")) << r.out;
	expect_workload(r.out);
}

TEST(Linux, VgaTextConsole)
{
	NEED_GUESTS("vmlinuz", "initrd.gz", "busybox");
	std::string dir = temp_dir();
	RunResult r = run_pcvm({ "--accel", "emu", "--kernel", guest_file("vmlinuz"),
				 "--initrd", guest_file("initrd.gz"), "--append", "console=tty0",
				 "--display", "none", "--serial", "stdio", "--screen-text",
				 dir + "/screen.txt", "-m", "256M", "--timeout",
				 std::to_string(kLinuxTimeout) },
			       kLinuxTimeout + 30);
	EXPECT_EQ(r.status, 0) << "(0: ACPI power-off)\n" << r.err << r.out;
	// Nothing on the serial line: the console is the screen.
	EXPECT_FALSE(has(r.out, "PCVM-LINUX")) << r.out;
	std::string screen = read_file(dir + "/screen.txt");
	expect_workload(screen);
	EXPECT_TRUE(has(screen, "reboot: Power down")) << screen;
}

// ---- memtest86+ ----

struct Image {
	unsigned w = 0, h = 0;
	std::vector<uint32_t> px;
	uint32_t at(unsigned x, unsigned y) const { return px[(size_t)y * w + x]; }
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
		img->px[i] = (uint32_t)buf[3 * i] << 16 | (uint32_t)buf[3 * i + 1] << 8 |
			     buf[3 * i + 2];
	return true;
}

// Runs memtest86+ until it tests and checks the screen it leaves: its
// banner, the memory it found (the whole 256 MiB), a test under way, no
// errors; and that the picture shows the same screen: 80x25 cells of 9x16
// dots, the title on light grey and the rest on blue, glyphs drawn (the
// font reached plane 2).
void check_memtest(const std::vector<std::string> &boot)
{
	std::string dir = temp_dir();
	std::vector<std::string> args{ "--accel", "emu", "--display", "none", "-m", "256M",
				       "--screen-text", dir + "/screen.txt", "--screenshot",
				       dir + "/screen.png" };
	args.insert(args.end(), boot.begin(), boot.end());
	// --until-screen ends the run as soon as a test is under way: a slow
	// machine (or a sanitizer build) waits longer, a fast one not at all.
	args.insert(args.end(), { "--until-screen", "Test #[0-9]+ +\\[[A-Za-z]", "--timeout",
				  std::to_string(kMemtestLimit) });
	RunResult r = run_pcvm(args, kMemtestLimit + 30);
	EXPECT_EQ(r.status, 0) << "(0: the screen showed a test under way; 3: it did not within "
			       << kMemtestLimit << " s)\n"
			       << r.err;
	std::string screen = read_file(dir + "/screen.txt");
	EXPECT_TRUE(has(screen, "Memtest86+ v6.10")) << screen;
	size_t mem = screen.find("Memory  :");
	EXPECT_TRUE(mem != std::string::npos &&
		    screen.compare(screen.find_first_not_of(' ', mem + 9), 5, "256MB") == 0)
		<< screen;
	EXPECT_TRUE(has(screen, "Status: Testing")) << screen;
	EXPECT_TRUE(memtest_testing(screen)) << screen;
	size_t errs = has_number_after(screen, "Errors: ");
	EXPECT_TRUE(errs && screen.compare(errs - 2, 2, " 0") == 0) << screen;

	Image img;
	ASSERT_TRUE(load_png(dir + "/screen.png", &img));
	ASSERT_EQ(img.w, 720u);
	ASSERT_EQ(img.h, 400u);
	// Row 0, columns 0-27: the banner, dark text on light grey.
	unsigned grey = 0, dark = 0;
	for (unsigned y = 0; y < 16; y++)
		for (unsigned x = 0; x < 28 * 9; x++) {
			uint32_t c = img.at(x, y);
			grey += c == 0xaaaaaa;
			dark += c != 0xaaaaaa;
		}
	EXPECT_GT(grey, 28u * 9 * 16 / 2) << "the banner's background";
	EXPECT_GT(dark, 100u) << "the banner's letters";
	// Row 9 onwards is an empty blue area on memtest's screen.
	EXPECT_EQ(img.at(360, 16 * 15 + 8), 0x0000aau);
}

TEST(Memtest, DirectBoot)
{
	NEED_GUESTS("memtest86+ia32.bin");
	check_memtest({ "--kernel", guest_file("memtest86+ia32.bin") });
}

TEST(Memtest, CdWithFloppyEmulation)
{
	NEED_GUESTS("memtest.iso");
	check_memtest({ "--cdrom", guest_file("memtest.iso"), "--boot", "d" });
}

} // namespace

// Guests booting from and writing to images of each format through SeaBIOS
// and the IDE disk: the writes land (checked with qemu-img, QEMU's own
// tool, where it reads the format), the metadata stays consistent, and
// --snapshot or snapshot=on leaves the file exactly as it was. The demo
// guest boots from qcow2 and VHD copies of its image.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <string>
#include "run.h"

namespace {

const int kWroteAndReadBack = 0x2c; // diskwrite.asm's debug-exit values
const int kDiskError = 0x2d;

RunResult sh(const std::string &cmd)
{
	return run_cmd({"sh", "-c", cmd}, 120);
}

bool have_qemu_img()
{
	return sh("command -v qemu-img").status == 0;
}

// What diskwrite.asm writes at LBA 126-129.
std::string pattern()
{
	std::string p(2048, '\0');
	for (int i = 0; i < 2048; i++)
		p[i] = (char)((i * 7 + i / 512) & 0xff);
	return p;
}

struct Stamp {
	std::string data;
	struct stat st;
};

Stamp stamp(const std::string &path)
{
	Stamp s;
	s.data = read_file(path);
	EXPECT_EQ(0, stat(path.c_str(), &s.st)) << path;
	return s;
}

void expect_untouched(const Stamp &before, const std::string &path)
{
	Stamp after = stamp(path);
	EXPECT_TRUE(before.data == after.data) << path << " changed";
	EXPECT_EQ(before.st.st_mtim.tv_sec, after.st.st_mtim.tv_sec) << path;
	EXPECT_EQ(before.st.st_mtim.tv_nsec, after.st.st_mtim.tv_nsec) << path;
	EXPECT_EQ(before.st.st_size, after.st.st_size) << path;
}

class DiskBoot : public ::testing::Test {
protected:
	std::string dir, log;
	void SetUp() override
	{
		dir = temp_dir();
		log = dir + "/debugcon.log";
	}
	// The diskwrite guest on a 4 MiB raw disk, LBA 1 marked for it.
	std::string raw_disk()
	{
		std::string img = read_file(guest_path("diskwrite.bin"));
		img.resize(4 << 20, '\0');
		img.replace(512, 9, "PCVM-LBA1");
		std::string path = dir + "/disk.raw";
		write_file(path, img);
		return path;
	}
	std::string convert(const std::string &src, const std::string &fmt,
			    const std::string &opts = "")
	{
		std::string out = dir + "/disk." + fmt;
		std::vector<std::string> a = {"img", "convert", "-O", fmt};
		if (!opts.empty()) {
			a.push_back("-o");
			a.push_back(opts);
		}
		a.push_back(src);
		a.push_back(out);
		RunResult r = run_pcvm(a);
		EXPECT_EQ(0, r.status) << r.err;
		return out;
	}
	RunResult boot(std::vector<std::string> args)
	{
		std::vector<std::string> a = {"--display", "none", "--serial", "none",
					      "--debug-exit", "--debugcon", "file:" + log,
					      "--timeout", "60"};
		a.insert(a.end(), args.begin(), args.end());
		return run_pcvm(a, 120);
	}
	void expect_guest_ok(const RunResult &r, const std::string &ctx)
	{
		std::string l = read_file(log);
		EXPECT_EQ(kWroteAndReadBack, r.status) << ctx << "\n" << r.err << l;
		EXPECT_NE(std::string::npos, l.find("read ok\nwrite ok\n")) << ctx << "\n" << l;
		EXPECT_EQ(std::string::npos, l.find("disk error")) << ctx << "\n" << l;
	}
	// The image's content as qemu-img (or, for formats it lacks, pcvm img)
	// reads it, through any backing chain.
	std::string contents(const std::string &path, const char *qemu_fmt, bool by_qemu = true)
	{
		std::string out = dir + "/contents.raw";
		unlink(out.c_str());
		RunResult r = by_qemu ? sh("qemu-img convert -f " + std::string(qemu_fmt) +
					   " -O raw '" + path + "' '" + out + "' 2>&1")
				      : run_pcvm({"img", "convert", "-O", "raw", path, out});
		EXPECT_EQ(0, r.status) << r.out << r.err;
		return read_file(out);
	}
	void expect_written(const std::string &content, const std::string &ctx)
	{
		ASSERT_EQ((size_t)4 << 20, content.size()) << ctx;
		EXPECT_TRUE(content.substr(126 * 512, 2048) == pattern()) << ctx;
		EXPECT_EQ("PCVM-LBA1", content.substr(512, 9)) << ctx;
		EXPECT_EQ(read_file(guest_path("diskwrite.bin")), content.substr(0, 512)) << ctx;
		EXPECT_EQ(std::string(126 * 512 - 1024, '\0'), content.substr(1024, 126 * 512 - 1024))
			<< ctx << ": nothing else written";
		EXPECT_EQ(std::string((4 << 20) - 130 * 512, '\0'), content.substr(130 * 512)) << ctx;
	}
};

TEST_F(DiskBoot, RawImageTakesTheGuestsWrites)
{
	std::string img = raw_disk();
	expect_guest_ok(boot({"--hda", img}), "raw");
	expect_written(read_file(img), "raw");
}

TEST_F(DiskBoot, EveryCacheModeWritesThrough)
{
	std::string raw = raw_disk();
	for (const char *fmt : {"raw", "qcow2", "vhd"}) {
		for (const char *cache : {"writeback", "none", "unsafe"}) {
			std::string ctx = std::string(fmt) + " cache=" + cache;
			std::string img = std::string(fmt) == "raw" ? dir + "/c.raw" : convert(raw, fmt);
			if (std::string(fmt) == "raw")
				write_file(img, read_file(raw));
			expect_guest_ok(boot({"--drive", "file=" + img + ",format=" + fmt +
							 ",cache=" + cache}),
					ctx);
			std::string c = contents(img, fmt, false);
			ASSERT_GE(c.size(), (size_t)4 << 20) << ctx;
			expect_written(c.substr(0, 4 << 20), ctx);
		}
	}
}

TEST_F(DiskBoot, SnapshotLeavesEveryFormatUntouched)
{
	std::string raw = raw_disk();
	std::string qcow2 = convert(raw, "qcow2");
	std::string vhd = convert(raw, "vhd");
	for (const std::string &img : {raw, qcow2, vhd}) {
		ASSERT_EQ(0, chmod(img.c_str(), 0444));
		Stamp before = stamp(img);
		expect_guest_ok(boot({"--hda", img, "--snapshot"}), img + " --snapshot");
		expect_untouched(before, img);
		expect_guest_ok(boot({"--drive", "file=" + img + ",snapshot=on"}),
				img + " snapshot=on");
		expect_untouched(before, img);
	}
}

TEST_F(DiskBoot, Qcow2WritesPassQemuImgCheck)
{
	if (!have_qemu_img())
		GTEST_SKIP() << "qemu-img (qemu-utils, installed by make deps) is missing";
	std::string raw = raw_disk();
	for (const char *opts : {"compat=v3", "compat=v2", "compat=v3,cluster_size=4K"}) {
		std::string img = convert(raw, "qcow2", opts);
		expect_guest_ok(boot({"--hda", img}), opts);
		RunResult c = sh("qemu-img check -f qcow2 '" + img + "' 2>&1");
		EXPECT_EQ(0, c.status) << opts << "\n" << c.out;
		expect_written(contents(img, "qcow2"), opts);
		RunResult p = run_pcvm({"img", "check", img});
		EXPECT_EQ(0, p.status) << opts << "\n" << p.out << p.err;
	}
}

TEST_F(DiskBoot, QemuMadeQcow2CompressedAndBackedTakesWrites)
{
	if (!have_qemu_img())
		GTEST_SKIP() << "qemu-img (qemu-utils, installed by make deps) is missing";
	std::string raw = raw_disk();
	// Compressed: the first cluster, holding the boot sector and LBA 1, is
	// compressed; the guest's write into it must rewrite it uncompressed.
	std::string comp = dir + "/comp.qcow2";
	ASSERT_EQ(0, sh("qemu-img convert -c -f raw -O qcow2 '" + raw + "' '" + comp + "'").status);
	expect_guest_ok(boot({"--hda", comp}), "compressed");
	EXPECT_EQ(0, sh("qemu-img check '" + comp + "'").status);
	expect_written(contents(comp, "qcow2"), "compressed");

	// An overlay on a raw backing file: writes go to the overlay only.
	std::string base = dir + "/base.raw";
	ASSERT_EQ(0, rename(raw.c_str(), base.c_str()));
	std::string over = dir + "/over.qcow2";
	ASSERT_EQ(0, sh("qemu-img create -q -f qcow2 -b base.raw -F raw '" + over + "'").status);
	Stamp before = stamp(base);
	expect_guest_ok(boot({"--hda", over}), "overlay");
	expect_untouched(before, base);
	EXPECT_EQ(0, sh("qemu-img check '" + over + "'").status);
	expect_written(contents(over, "qcow2"), "overlay");
}

TEST_F(DiskBoot, VhdWritesReadBackThroughQemuImg)
{
	bool qemu = have_qemu_img();
	std::string raw = raw_disk();
	for (const char *opts : {"subformat=dynamic", "subformat=fixed",
				 "subformat=dynamic,block_size=512K"}) {
		std::string img = convert(raw, "vhd", opts);
		expect_guest_ok(boot({"--hda", img}), opts);
		RunResult p = run_pcvm({"img", "check", img});
		EXPECT_EQ(0, p.status) << opts << "\n" << p.out << p.err;
		// VHD rounds the size up to whole cylinders; the first 4 MiB are the disk.
		std::string c = contents(img, "vpc", qemu);
		ASSERT_GE(c.size(), (size_t)4 << 20) << opts;
		expect_written(c.substr(0, 4 << 20), opts);
	}
	if (!qemu)
		GTEST_SKIP() << "qemu-img (qemu-utils, installed by make deps) is missing: "
				"VHDs checked with pcvm img only";
	// One that qemu-img made.
	std::string q = dir + "/q.vhd";
	ASSERT_EQ(0, sh("qemu-img convert -f raw -O vpc -o subformat=dynamic '" + raw + "' '" + q +
			"'").status);
	expect_guest_ok(boot({"--hda", q}), "qemu-img vpc");
	std::string c = contents(q, "vpc");
	ASSERT_GE(c.size(), (size_t)4 << 20);
	expect_written(c.substr(0, 4 << 20), "qemu-img vpc");
}

TEST_F(DiskBoot, DemoBootsFromQcow2AndVhdCopiesOfItsImage)
{
	std::string demo = build_dir() + "/demo.img";
	ASSERT_TRUE(file_exists(demo)) << demo;
	for (const char *fmt : {"qcow2", "vhd"}) {
		std::string img = dir + "/demo." + fmt;
		RunResult c = run_pcvm({"img", "convert", "-O", fmt, demo, img});
		ASSERT_EQ(0, c.status) << c.err;
		RunResult r = run_pcvm({"--display", "none", "--serial", "none", "--deterministic",
					"--hda", img, "--until-screen",
					"Hello from inside the virtual machine!", "--timeout", "60",
					"--screen-text", dir + "/s.txt"},
				       120);
		EXPECT_EQ(0, r.status) << fmt << "\n" << r.err;
		EXPECT_EQ(read_file(std::string(getenv("TESTDATA") ? getenv("TESTDATA") : "tests/data") +
				    "/demo-banner.txt"),
			  read_file(dir + "/s.txt"))
			<< fmt;
	}
}

TEST_F(DiskBoot, DiskErrorIsReportedByTheGuest)
{
	// A disk too small for LBA 126-129: the BIOS refuses, the guest says so.
	std::string img = read_file(guest_path("diskwrite.bin"));
	img.resize(64 * 512, '\0');
	img.replace(512, 9, "PCVM-LBA1");
	std::string path = dir + "/small.raw";
	write_file(path, img);
	RunResult r = boot({"--hda", path});
	EXPECT_EQ(kDiskError, r.status) << r.err;
	EXPECT_NE(std::string::npos, read_file(log).find("disk error"));
	EXPECT_EQ(img, read_file(path)) << "nothing written past the end";
}

} // namespace

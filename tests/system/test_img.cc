// `pcvm img` and the disk options as a user meets them: create, info
// (text and JSON), convert between every pair of formats (checked against
// qemu-img), check with its exit statuses, and one-line errors with status
// 2 that leave files alone for bad images and bad --drive sub-options.
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <algorithm>
#include <stdexcept>
#include <unistd.h>
#include "run.h"

namespace {

RunResult sh(const std::string &cmd)
{
	return run_cmd({"sh", "-c", cmd}, 120);
}

std::string bytes(size_t n, uint32_t seed)
{
	std::string s(n, '\0');
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		s[i] = (char)(seed >> 16);
	}
	return s;
}

void expect_one_line_error(const RunResult &r, const std::string &what, const std::string &ctx)
{
	EXPECT_EQ(2, r.status) << ctx << "\n" << r.err;
	EXPECT_NE(std::string::npos, r.err.find(what)) << ctx << "\n" << r.err;
	EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << ctx << "\n" << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: ")) << r.err;
}

TEST(Img, HelpDescribesEveryCommand)
{
	RunResult r = run_pcvm({"img", "--help"});
	EXPECT_EQ(0, r.status);
	for (const char *w : {"create", "info", "convert", "check", "-o OPTS", "cluster_size",
			      "subformat", "--json", "Exit status"})
		EXPECT_NE(std::string::npos, r.out.find(w)) << w;
	EXPECT_EQ(r.out, run_pcvm({"img", "convert", "--help"}).out);
	expect_one_line_error(run_pcvm({"img"}), "give a command", "img");
	expect_one_line_error(run_pcvm({"img", "frob"}), "unknown command 'frob'", "frob");
}

TEST(Img, CreateInfoAndJson)
{
	std::string d = temp_dir();
	RunResult r = run_pcvm({"img", "create", "-f", "qcow2", d + "/a.qcow2", "1G"});
	ASSERT_EQ(0, r.status) << r.err;
	EXPECT_NE(std::string::npos, r.out.find("1 GiB")) << r.out;
	r = run_pcvm({"img", "info", d + "/a.qcow2"});
	ASSERT_EQ(0, r.status) << r.err;
	EXPECT_NE(std::string::npos, r.out.find("file format: qcow2")) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("(1073741824 bytes)")) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("cluster size: 65536")) << r.out;
	r = run_pcvm({"img", "create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", d + "/b.qcow2"});
	ASSERT_EQ(0, r.status) << r.err;
	r = run_pcvm({"img", "info", "--json", d + "/b.qcow2"});
	ASSERT_EQ(0, r.status) << r.err;
	for (const char *w : {"\"format\": \"qcow2\"", "\"virtual-size\": 1073741824",
			      "\"backing-filename\": \"a.qcow2\"", "\"backing-format\": \"qcow2\"",
			      "\"backing-chain\": [{\"filename\": ", "a.qcow2\", \"format\": \"qcow2\""})
		EXPECT_NE(std::string::npos, r.out.find(w)) << w << "\n" << r.out;
	// QEMU sees the same chain
	r = sh("qemu-img info '" + d + "/b.qcow2'");
	EXPECT_NE(std::string::npos, r.out.find("backing file: a.qcow2")) << r.out;
	r = run_pcvm({"img", "create", "-f", "vhd", "-o", "subformat=fixed", d + "/f.vhd", "10M"});
	ASSERT_EQ(0, r.status) << r.err;
	r = run_pcvm({"img", "info", d + "/f.vhd"});
	EXPECT_NE(std::string::npos, r.out.find("vhd type: fixed")) << r.out;
}

TEST(Img, ConvertEveryWayRoundTripsAndStaysSparse)
{
	std::string d = temp_dir();
	const size_t size = 6 << 20;
	std::string data = bytes(size, 1);
	data.replace(2 << 20, 3 << 20, std::string(3 << 20, '\0'));
	write_file(d + "/src.raw", data);
	const char *fmts[] = {"raw", "qcow2", "vhd"};
	const char *qfmt[] = {"raw", "qcow2", "vpc"};
	for (int i = 0; i < 3; i++) {
		std::string mid = d + "/mid." + fmts[i];
		RunResult r = run_pcvm({"img", "convert", "-O", fmts[i], d + "/src.raw", mid});
		ASSERT_EQ(0, r.status) << fmts[i] << r.err;
		if (i) {
			r = sh(std::string("qemu-img check -f ") + qfmt[i] + " '" + mid + "' 2>&1");
			EXPECT_TRUE(r.status == 0 || (i == 2 && r.out.find("not support") != std::string::npos))
				<< r.out;
		}
		r = sh(std::string("qemu-img convert -f ") + qfmt[i] + " -O raw '" + mid + "' '" +
		       d + "/q.raw'");
		ASSERT_EQ(0, r.status) << r.err;
		EXPECT_TRUE(read_file(d + "/q.raw").substr(0, size) == data) << fmts[i];
		for (int j = 0; j < 3; j++) {
			std::string out = d + "/out." + fmts[j];
			r = run_pcvm({"img", "convert", "-O", fmts[j], mid, out});
			ASSERT_EQ(0, r.status) << fmts[i] << "->" << fmts[j] << r.err;
			r = run_pcvm({"img", "convert", "-O", "raw", out, d + "/back.raw"});
			ASSERT_EQ(0, r.status) << r.err;
			std::string back = read_file(d + "/back.raw");
			EXPECT_TRUE(back.substr(0, size) == data) << fmts[i] << "->" << fmts[j];
			EXPECT_EQ(std::string(back.size() - size, '\0'), back.substr(size));
		}
	}
	// the 3 MiB of zeros were not written
	struct stat st;
	stat((d + "/mid.raw").c_str(), &st);
	EXPECT_LT((uint64_t)st.st_blocks * 512, (uint64_t)size - (2 << 20));
	stat((d + "/mid.qcow2").c_str(), &st);
	EXPECT_LT((uint64_t)st.st_size, (uint64_t)size - (2 << 20));
	// progress on request
	RunResult r = run_pcvm({"img", "convert", "-p", "-O", "qcow2", d + "/src.raw", d + "/p.qcow2"});
	EXPECT_EQ(0, r.status);
	EXPECT_NE(std::string::npos, r.err.find("(100.0/100%)")) << r.err;
}

TEST(Img, CheckStatusesAndRepair)
{
	std::string d = temp_dir();
	std::string p = d + "/c.qcow2";
	ASSERT_EQ(0, run_pcvm({"img", "create", "-f", "qcow2", p, "16M"}).status);
	RunResult r = run_pcvm({"img", "check", p});
	EXPECT_EQ(0, r.status) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("No errors")) << r.out;
	// a leak: raise the refcount of a cluster nothing uses (qemu-io can't,
	// so patch refcount block entry 10, which lies past the metadata)
	std::string img = read_file(p);
	img.resize(11 * 65536);
	img[2 * 65536 + 2 * 10 + 1] = 1;
	write_file(p, img);
	r = run_pcvm({"img", "check", p});
	EXPECT_EQ(3, r.status) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("Leaked cluster 10")) << r.out;
	EXPECT_EQ(3, sh("qemu-img check '" + p + "' >/dev/null 2>&1").status);
	r = run_pcvm({"img", "check", "-r", p});
	EXPECT_EQ(0, r.status) << r.out;
	EXPECT_EQ(0, sh("qemu-img check '" + p + "' >/dev/null 2>&1").status);
	// corruption: the L1 table's cluster counted free
	img = read_file(p);
	img[2 * 65536 + 2 * 3 + 1] = 0;
	write_file(p, img);
	r = run_pcvm({"img", "check", p});
	EXPECT_EQ(2, r.status) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("ERROR cluster 3 refcount=0 reference=1")) << r.out;
	// raw images have nothing to check
	write_file(d + "/r.img", std::string(4096, '\0'));
	EXPECT_EQ(0, run_pcvm({"img", "check", d + "/r.img"}).status);
}

TEST(Img, BadImagesGiveOneLineAndStatus2)
{
	std::string d = temp_dir();
	std::string good = d + "/g.qcow2";
	ASSERT_EQ(0, run_pcvm({"img", "create", "-f", "qcow2", good, "16M"}).status);
	std::string img = read_file(good);
	struct Case { const char *name; std::string data; const char *msg; };
	std::string v9 = img, l1 = img, trunc = img.substr(0, 40);
	v9[7] = 9;
	l1[40] = 0x10; // L1 table offset far past the end
	std::string vhd = "conectix" + std::string(4088, 'x');
	const Case cases[] = {
		{"v9.qcow2", v9, "qcow2 version 9 is not supported"},
		{"l1.qcow2", l1, "L1 table at"},
		{"t.qcow2", trunc, "truncated qcow2 header"},
		{"e.img", "", "empty file, not a disk image"},
		{"v.vhd", vhd, "VHD"},
	};
	for (const auto &c : cases) {
		std::string p = d + "/" + c.name;
		write_file(p, c.data);
		for (const char *cmd : {"info", "check", "convert"}) {
			std::vector<std::string> args = {"img", cmd, p};
			if (!strcmp(cmd, "convert"))
				args.push_back(d + "/out.raw");
			RunResult r = run_pcvm(args);
			expect_one_line_error(r, c.msg, std::string(c.name) + " " + cmd);
			EXPECT_NE(std::string::npos, r.err.find(p)) << "names the file: " << r.err;
			EXPECT_EQ(c.data, read_file(p));
			EXPECT_FALSE(file_exists(d + "/out.raw"));
		}
	}
}

TEST(Img, UsageErrorsCreateNothing)
{
	struct Bad { std::vector<std::string> args; const char *msg; };
	const Bad cases[] = {
		{{"img", "create", "@/a.img"}, "give the size"},
		{{"img", "create", "@/a.img", "12Q"}, "not a size"},
		{{"img", "create", "@/a.img", "100"}, "too small"},
		{{"img", "create", "-f", "vmdk", "@/a.img", "1M"}, "-f 'vmdk': unknown format"},
		{{"img", "create", "-o", "cluster_size=3000", "-f", "qcow2", "@/a", "1M"}, "power of two"},
		{{"img", "create", "-o", "color=red", "-f", "qcow2", "@/a", "1M"}, "-o 'color=red': unknown option"},
		{{"img", "create", "-o", "compat=v9", "-f", "qcow2", "@/a", "1M"}, "compat=v9"},
		{{"img", "create", "-o", "subformat=fixed", "-f", "qcow2", "@/a", "1M"}, "apply to vhd"},
		{{"img", "create", "-f", "qcow2", "-b", "@/nope", "@/a"}, "No such file"},
		{{"img", "create", "-F", "raw", "@/a", "1M"}, "-F needs -b"},
		{{"img", "create", "-x", "@/a", "1M"}, "unknown option"},
		{{"img", "info"}, "give one image file"},
		{{"img", "info", "@/missing"}, "No such file"},
		{{"img", "convert", "@/missing", "@/out"}, "No such file"},
		{{"img", "convert", "-O", "qed", "@/x", "@/out"}, "unknown format"},
		{{"img", "check", "-p", "@/x"}, "does not apply"},
	};
	for (const auto &c : cases) {
		std::string d = temp_dir();
		std::vector<std::string> args = c.args;
		std::string ctx;
		for (auto &a : args) {
			if (a.rfind("@/", 0) == 0)
				a = d + a.substr(1);
			ctx += a + " ";
		}
		RunResult r = run_pcvm(args);
		expect_one_line_error(r, c.msg, ctx);
		EXPECT_TRUE(list_dir(d).empty()) << ctx;
	}
}

TEST(Drive, OptionsAreDocumentedAndCheckedOneLineEach)
{
	RunResult r = run_pcvm({"--help"});
	for (const char *w : {"--drive", "file=FILE", "format=raw|qcow2|vhd", "media=disk|cdrom",
			      "if=ide", "index=0-3", "snapshot=on|off", "readonly=on|off",
			      "cache=writeback|none|unsafe", "--snapshot"})
		EXPECT_NE(std::string::npos, r.out.find(w)) << w;
	std::string d = temp_dir();
	std::string img = d + "/a.img";
	write_file(img, std::string(4096, '\0'));
	struct Bad { std::string spec; const char *msg; };
	const Bad cases[] = {
		{"file=" + img + ",speed=9", "unknown sub-option 'speed'"},
		{"file=" + img + ",format=vmdk", "format=vmdk"},
		{"file=" + img + ",media=floppy", "media=floppy"},
		{"file=" + img + ",if=scsi", "if=scsi"},
		{"file=" + img + ",index=4", "index=4"},
		{"file=" + img + ",index=x", "index=x"},
		{"file=" + img + ",index", "'index' needs a value"},
		{"file=" + img + ",snapshot=yes", "snapshot=yes"},
		{"file=" + img + ",readonly=1", "readonly=1"},
		{"file=" + img + ",cache=directsync", "cache=directsync"},
		{"file=" + img + ",media=cdrom,readonly=off", "a CD-ROM is read-only"},
		{"format=raw", "file=FILE is missing"},
		{"file=" + d + "/missing", "No such file"},
		{"", "give at least file=FILE"},
	};
	for (const auto &c : cases) {
		RunResult r = run_pcvm({"--display", "none", "--drive", c.spec});
		expect_one_line_error(r, c.msg, c.spec);
		EXPECT_NE(std::string::npos, r.err.find("--drive")) << r.err;
	}
	RunResult r2 = run_pcvm({"--display", "none", "--hda", img, "--drive", "file=" + img + ",index=0"});
	expect_one_line_error(r2, "IDE position 0 is already taken", "twice");
	EXPECT_EQ(std::string(4096, '\0'), read_file(img));
}

TEST(Drive, ReadOnlyAndSnapshotDrivesNeedNoWriteAccess)
{
	std::string d = temp_dir();
	ASSERT_EQ(0, chmod(d.c_str(), 0755));
	std::string img = d + "/a.img";
	write_file(img, std::string(4096, '\0'));
	ASSERT_EQ(0, chmod(img.c_str(), 0444));
	auto pcvm = [&](std::vector<std::string> args) {
		RunResult r;
		if (!run_pcvm_unprivileged(args, &r))
			throw std::runtime_error("root without setpriv");
		return r;
	};
	RunResult probe;
	if (!run_pcvm_unprivileged({"--version"}, &probe))
		GTEST_SKIP() << "running as root without setpriv (util-linux) to drop to nobody";
	for (const std::vector<std::string> &args :
	     {std::vector<std::string>{"--drive", "file=" + img}, {"--hda", img}, {img}}) {
		std::vector<std::string> a = {"--display", "none"};
		a.insert(a.end(), args.begin(), args.end());
		RunResult r = pcvm(a);
		expect_one_line_error(r, "Permission denied; fix its permissions (the guest writes "
					 "to it), or use --snapshot or readonly=on", args[0]);
	}
	for (const std::vector<std::string> &args :
	     {std::vector<std::string>{"--drive", "file=" + img + ",readonly=on"},
	      {"--drive", "file=" + img + ",snapshot=on"}, {"--hda", img, "--snapshot"},
	      {"--snapshot", "--hda", img}, {"--cdrom", img}}) {
		std::vector<std::string> a = {"--display", "none", "--serial", "none",
					      "--timeout", "0.1"};
		a.insert(a.end(), args.begin(), args.end());
		RunResult r = pcvm(a);
		EXPECT_EQ(3, r.status) << args[0] << " " << args[1] << r.err;
		EXPECT_EQ(std::string::npos, r.err.find("Permission denied")) << args[1] << r.err;
	}
}

} // namespace

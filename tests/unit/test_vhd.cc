// VHD through pcvm's block layer: fixed, dynamic and differencing disks,
// sector bitmaps, footer and header checksums, parent locators, and images
// QEMU's qemu-img (format "vpc") makes or reads.
#include "test_block_util.h"

#include <sys/stat.h>
#include <unistd.h>

using namespace blk;

namespace {

uint32_t be32_at(const std::string &s, size_t off)
{
	return (uint32_t)(uint8_t)s[off] << 24 | (uint32_t)(uint8_t)s[off + 1] << 16 |
	       (uint32_t)(uint8_t)s[off + 2] << 8 | (uint8_t)s[off + 3];
}

uint64_t be64_at(const std::string &s, size_t off)
{
	return (uint64_t)be32_at(s, off) << 32 | be32_at(s, off + 4);
}

uint32_t sum_except(const std::string &s, size_t off, size_t len, size_t skip)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += (uint8_t)s[off + i];
	return ~sum;
}

void expect_footer_ok(const std::string &img, size_t at)
{
	EXPECT_EQ("conectix", img.substr(at, 8));
	EXPECT_EQ(sum_except(img, at, 512, 64), be32_at(img, at + 64)) << "footer checksum";
}

TEST(Vhd, DynamicAllocatesBlocksAndQemuReadsThem)
{
	std::string d = temp_dir();
	std::string p = d + "/d.vhd";
	ASSERT_EQ(0, create(p, "vhd", 20 << 20));
	std::string img = read_file(p);
	expect_footer_ok(img, 0);
	expect_footer_ok(img, img.size() - 512);
	EXPECT_EQ("cxsparse", img.substr(512, 8));
	EXPECT_EQ(sum_except(img, 512, 1024, 36), be32_at(img, 512 + 36)) << "header checksum";

	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	EXPECT_STREQ("vhd", block_format(b));
	uint64_t size = block_size(b);
	EXPECT_GE(size, 20u << 20);
	std::string shadow(size, '\0');
	uint64_t x = 5;
	for (int i = 0; i < 80; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t len = 1 + (x >> 33) % 300000, off = (x >> 7) % size;
		if (off + len > size)
			len = size - off;
		std::string w = pattern(x, len);
		ASSERT_EQ(0, bwrite(b, off, w));
		shadow.replace(off, len, w);
	}
	expect_same(shadow, read_all(b), "pcvm reads");
	ASSERT_EQ(0, block_close(b));
	img = read_file(p);
	expect_footer_ok(img, img.size() - 512);
	expect_same(shadow, qemu_read(p, "vpc").substr(0, size), "qemu reads");
	b = open_img(p, nullptr, true);
	ASSERT_TRUE(b);
	struct block_check r;
	EXPECT_EQ(0, block_check(b, &r, false, nullptr));
	EXPECT_EQ(0u, r.corruptions);
	expect_same(shadow, read_all(b), "reopened");
	block_close(b);
}

TEST(Vhd, FixedIsDataThenFooter)
{
	std::string d = temp_dir();
	std::string p = d + "/f.vhd";
	ASSERT_EQ(0, create(p, "vhd", 3 << 20, nullptr, 0, 0, true));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	uint64_t size = block_size(b);
	std::string w = pattern(3, 100000);
	ASSERT_EQ(0, bwrite(b, 5000, w));
	ASSERT_EQ(0, block_close(b));
	std::string img = read_file(p);
	ASSERT_EQ(size + 512, img.size());
	EXPECT_EQ(w, img.substr(5000, w.size()));
	expect_footer_ok(img, size);
	EXPECT_EQ(~0ull, be64_at(img, size + 16)) << "fixed disks have no data offset";
	EXPECT_EQ(w, qemu_read(p, "vpc").substr(5000, w.size()));
}

TEST(Vhd, SizesFollowTheGeometry)
{
	std::string d = temp_dir();
	// 100 MiB is not a whole number of cylinders: rounded up like QEMU does
	ASSERT_EQ(0, create(d + "/a.vhd", "vhd", 100 << 20));
	RunResult r = sh("qemu-img create -f vpc '" + d + "/q.vhd' 100M >/dev/null && "
			 "qemu-img info --output=json '" + d + "/q.vhd'");
	ASSERT_EQ(0, r.status);
	struct block *b = open_img(d + "/a.vhd");
	ASSERT_TRUE(b);
	EXPECT_NE(std::string::npos,
		  r.out.find("\"virtual-size\": " + std::to_string(block_size(b)))) << r.out;
	block_close(b);
	r = sh("qemu-img info --output=json '" + d + "/a.vhd'");
	b = open_img(d + "/q.vhd");
	ASSERT_TRUE(b);
	EXPECT_NE(std::string::npos,
		  r.out.find("\"virtual-size\": " + std::to_string(block_size(b)))) << r.out;
	block_close(b);
}

TEST(Vhd, ReadsImagesQemuMade)
{
	std::string d = temp_dir();
	const uint64_t size = 10 << 20;
	std::string src = pattern(11, size);
	src.replace(3 << 20, 3 << 20, std::string(3 << 20, '\0'));
	write_file(d + "/src.raw", src);
	for (const char *sub : {"dynamic", "fixed"}) {
		SCOPED_TRACE(sub);
		std::string data = src;
		std::string p = d + "/" + sub + ".vhd";
		RunResult r = sh(std::string("qemu-img convert -O vpc -o subformat=") + sub +
				 " '" + d + "/src.raw' '" + p + "'");
		ASSERT_EQ(0, r.status) << r.out << r.err;
		struct block *b = open_img(p);
		ASSERT_TRUE(b);
		ASSERT_GE(block_size(b), size);
		std::string got = read_all(b);
		expect_same(data, got.substr(0, size), "qemu-made vhd");
		EXPECT_EQ(std::string(got.size() - size, '\0'), got.substr(size));
		std::string w = pattern(12, 70000);
		ASSERT_EQ(0, bwrite(b, (3 << 20) + 1000, w)); // into a block QEMU left free
		data.replace((3 << 20) + 1000, w.size(), w);
		ASSERT_EQ(0, block_close(b));
		expect_same(data, qemu_read(p, "vpc").substr(0, size), "qemu reads pcvm's write");
	}
}

TEST(Vhd, DifferencingDiskUsesBitmapsAndLeavesParentAlone)
{
	std::string d = temp_dir();
	mkdir((d + "/a").c_str(), 0755);
	std::string parent = d + "/a/parent.vhd";
	ASSERT_EQ(0, create(parent, "vhd", 8 << 20));
	struct block *b = open_img(parent);
	ASSERT_TRUE(b);
	uint64_t size = block_size(b);
	std::string base = pattern(20, size);
	ASSERT_EQ(0, bwrite(b, 0, base));
	ASSERT_EQ(0, block_close(b));
	std::string parent_bytes = read_file(parent);

	ASSERT_EQ(0, create(d + "/a/child.vhd", "vhd", 0, "parent.vhd"));
	b = open_img(d + "/a/child.vhd");
	ASSERT_TRUE(b);
	EXPECT_EQ(size, block_size(b));
	struct block_info info;
	ASSERT_EQ(0, block_get_info(b, &info));
	EXPECT_STREQ("differencing", info.subformat);
	expect_same(base, read_all(b), "all from the parent");
	// one sector in a block: its neighbours must still come from the parent
	std::string want = base;
	std::string w = pattern(21, 512);
	ASSERT_EQ(0, bwrite(b, 4096, w));
	want.replace(4096, 512, w);
	// and an unaligned write that needs its sectors completed
	w = pattern(22, 777);
	ASSERT_EQ(0, bwrite(b, (2 << 20) + 300, w));
	want.replace((2 << 20) + 300, w.size(), w);
	expect_same(want, read_all(b), "merged");
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(parent_bytes, read_file(parent)) << "the parent was written";
	std::string child = read_file(d + "/a/child.vhd");
	// the block's bitmap has exactly the written sectors set
	uint64_t bat = be64_at(child, 512 + 16);
	uint32_t blk0 = be32_at(child, bat);
	ASSERT_NE(0xffffffffu, blk0);
	std::string bm = child.substr((uint64_t)blk0 * 512, 512);
	std::string want_bm(512, '\0');
	want_bm[1] = (char)0x80; // sector 8
	EXPECT_EQ(want_bm, bm);

	// moving both keeps them together: the relative locator finds the parent
	ASSERT_EQ(0, rename((d + "/a").c_str(), (d + "/b").c_str()));
	b = open_img(d + "/b/child.vhd", nullptr, true);
	ASSERT_TRUE(b);
	expect_same(want, read_all(b), "after moving");
	block_close(b);
	// a different disk in the parent's place is refused
	ASSERT_EQ(0, rename((d + "/b/parent.vhd").c_str(), (d + "/b/old.vhd").c_str()));
	ASSERT_EQ(0, create(d + "/b/parent.vhd", "vhd", 8 << 20));
	EXPECT_EQ(-EINVAL, try_open(d + "/b/child.vhd", nullptr, true));
	unlink((d + "/b/parent.vhd").c_str());
	EXPECT_EQ(-EINVAL, try_open(d + "/b/child.vhd", nullptr, true));
}

TEST(Vhd, BadImagesAreRefusedWithoutWriting)
{
	std::string d = temp_dir();
	std::string p = d + "/g.vhd";
	ASSERT_EQ(0, create(p, "vhd", 4 << 20));
	std::string img = read_file(p);
	size_t end = img.size() - 512;
	struct Case { const char *what; size_t off; std::string bytes; };
	const Case cases[] = {
		{"footer checksum", end + 64, std::string("\1\2\3\4", 4)},
		{"footer cookie", end, std::string("xonectix")},
		{"header checksum", 512 + 36, std::string("\1\2\3\4", 4)},
		{"header cookie", 512, std::string("xxsparse")},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.what);
		std::string bad = img;
		bad.replace(c.off, c.bytes.size(), c.bytes);
		write_file(d + "/bad.vhd", bad);
		EXPECT_EQ(-EINVAL, try_open(d + "/bad.vhd", "vhd"));
		EXPECT_EQ(bad, read_file(d + "/bad.vhd"));
	}
	// a truncated dynamic disk (no footer at the end)
	write_file(d + "/t.vhd", img.substr(0, 1000));
	EXPECT_EQ(-EINVAL, try_open(d + "/t.vhd"));
	// a fixed disk shorter than it says
	ASSERT_EQ(0, create(d + "/f.vhd", "vhd", 1 << 20, nullptr, 0, 0, true));
	std::string f = read_file(d + "/f.vhd");
	write_file(d + "/f2.vhd", f.substr(0, 4096) + f.substr(f.size() - 512));
	EXPECT_EQ(-EINVAL, try_open(d + "/f2.vhd", "vhd"));
}

TEST(Vhd, CheckFindsDamage)
{
	std::string d = temp_dir();
	std::string p = d + "/c.vhd";
	ASSERT_EQ(0, create(p, "vhd", 8 << 20));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	ASSERT_EQ(0, bwrite(b, 0, pattern(1, 5 << 20)));
	ASSERT_EQ(0, block_close(b));
	std::string img = read_file(p);
	// point BAT entry 1 into block 0
	uint64_t bat = be64_at(img, 512 + 16);
	uint32_t blk0 = be32_at(img, bat);
	std::string e = {(char)(blk0 >> 24), (char)(blk0 >> 16), (char)(blk0 >> 8), (char)(blk0 + 1)};
	img.replace(bat + 4, 4, e);
	img.replace(0, 1, "x"); // and break the footer copy
	write_file(p, img);
	b = open_img(p, nullptr, true);
	ASSERT_TRUE(b);
	struct block_check r;
	EXPECT_EQ(0, block_check(b, &r, false, nullptr));
	EXPECT_GE(r.corruptions, 2u);
	block_close(b);
}

} // namespace

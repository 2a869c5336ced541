// The block layer's front: probing by content, raw images (sparse writes,
// hole reporting), read-only and range checks, the snapshot overlay, the
// probed-raw guard, cache=none, and images that are not images.
#include "test_block_util.h"

#include <sys/stat.h>
#include <unistd.h>

using namespace blk;

namespace {

uint64_t allocated(const std::string &path)
{
	struct stat st;
	stat(path.c_str(), &st);
	return (uint64_t)st.st_blocks * 512;
}

TEST(Block, FormatIsProbedFromContentNotName)
{
	std::string d = temp_dir();
	ASSERT_EQ(0, create(d + "/q.vhd", "qcow2", 1 << 20));
	ASSERT_EQ(0, create(d + "/v.qcow2", "vhd", 1 << 20));
	ASSERT_EQ(0, create(d + "/f.img", "vhd", 1 << 20, nullptr, 0, 0, true));
	ASSERT_EQ(0, create(d + "/r.vhd", "raw", 1 << 20));
	const std::pair<const char *, const char *> want[] = {
		{"q.vhd", "qcow2"}, {"v.qcow2", "vhd"}, {"f.img", "vhd"}, {"r.vhd", "raw"}};
	for (auto &w : want) {
		struct block *b = open_img(d + "/" + w.first);
		ASSERT_TRUE(b) << w.first;
		EXPECT_STREQ(w.second, block_format(b)) << w.first;
		block_close(b);
	}
}

TEST(Block, RawWritesReadBackAndZerosKeepHoles)
{
	std::string d = temp_dir();
	std::string p = d + "/r.img";
	ASSERT_EQ(0, create(p, "raw", 16 << 20));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	EXPECT_EQ(16u << 20, block_size(b));
	uint64_t before = allocated(p);
	ASSERT_EQ(0, bwrite(b, 1 << 20, std::string(4 << 20, '\0')));
	ASSERT_EQ(0, block_flush(b));
	EXPECT_EQ(before, allocated(p)) << "zeros over a hole allocated space";
	std::string w = pattern(1, 100000);
	ASSERT_EQ(0, bwrite(b, 8 << 20, w));
	std::string got(w.size(), '\0');
	ASSERT_EQ(0, block_read(b, 8 << 20, &got[0], got.size()));
	EXPECT_EQ(w, got);
	uint64_t run;
	EXPECT_EQ(1, block_zero_run(b, 0, 8 << 20, &run));
	EXPECT_GE(run, 4u << 20);
	EXPECT_EQ(0, block_zero_run(b, 8 << 20, 4096, &run));
	// out of range and empty
	char c;
	EXPECT_EQ(-EINVAL, block_read(b, 16 << 20, &c, 1));
	EXPECT_EQ(-EINVAL, block_write(b, (16 << 20) - 1, "ab", 2));
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(w, read_file(p).substr(8 << 20, w.size()));
}

TEST(Block, OddSizedRawIsRoundedUpToSectors)
{
	std::string d = temp_dir();
	write_file(d + "/o.img", std::string(1000, 'x'));
	struct block *b = open_img(d + "/o.img", nullptr, true);
	ASSERT_TRUE(b);
	EXPECT_EQ(1024u, block_size(b));
	std::string all = read_all(b);
	EXPECT_EQ(std::string(1000, 'x') + std::string(24, '\0'), all);
	block_close(b);
}

TEST(Block, ReadOnlyRefusesWrites)
{
	std::string d = temp_dir();
	write_file(d + "/r.img", std::string(4096, 'a'));
	struct block *b = open_img(d + "/r.img", nullptr, true);
	ASSERT_TRUE(b);
	EXPECT_TRUE(block_readonly(b));
	EXPECT_EQ(-EROFS, block_write(b, 0, "b", 1));
	EXPECT_EQ(0, block_flush(b));
	block_close(b);
	EXPECT_EQ(std::string(4096, 'a'), read_file(d + "/r.img"));
}

TEST(Block, ProbedRawMayNotTurnIntoAnotherFormat)
{
	std::string d = temp_dir();
	std::string p = d + "/r.img";
	write_file(p, std::string(1 << 20, '\0'));
	std::string qcow_magic = "QFI\xfb";
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	EXPECT_EQ(-EPERM, bwrite(b, 0, qcow_magic + std::string(508, '\0')));
	EXPECT_EQ(-EPERM, bwrite(b, 0, std::string("conectix") + std::string(504, '\0')));
	EXPECT_EQ(0, bwrite(b, 0, std::string(512, 'x')));
	block_close(b);
	// with the format named, the guest owns every byte
	b = open_img(p, "raw");
	ASSERT_TRUE(b);
	EXPECT_EQ(0, bwrite(b, 0, qcow_magic + std::string(508, '\0')));
	block_close(b);
}

TEST(Block, SnapshotOverlayForRawAndVhd)
{
	std::string d = temp_dir();
	std::string data = pattern(5, 3 << 20);
	write_file(d + "/r.img", data);
	ASSERT_EQ(0, create(d + "/v.vhd", "vhd", 3 << 20));
	for (const char *name : {"r.img", "v.vhd"}) {
		SCOPED_TRACE(name);
		std::string p = d + "/" + name;
		std::string before = read_file(p);
		chmod(p.c_str(), 0444); // snapshot mode must not even need write access
		struct block *b = open_img(p, nullptr, false, true);
		ASSERT_TRUE(b);
		std::string shadow = read_all(b);
		for (int i = 0; i < 40; i++) {
			uint64_t off = (uint64_t)i * 77777 % (shadow.size() - 9000);
			std::string w = pattern(i, 1 + i * 211);
			ASSERT_EQ(0, bwrite(b, off, w));
			shadow.replace(off, w.size(), w);
		}
		expect_same(shadow, read_all(b), "overlay reads");
		ASSERT_EQ(0, block_flush(b));
		ASSERT_EQ(0, block_close(b));
		EXPECT_EQ(before, read_file(p));
		chmod(p.c_str(), 0644);
	}
}

TEST(Block, CacheNoneReadsAndWritesCorrectly)
{
	// O_DIRECT where the file system allows it; the same results either way
	std::string d = temp_dir();
	for (const char *fmt : {"raw", "qcow2", "vhd"}) {
		SCOPED_TRACE(fmt);
		std::string p = d + "/c." + fmt;
		ASSERT_EQ(0, create(p, fmt, 4 << 20));
		struct block *b = open_img(p, fmt, false, false, BLOCK_CACHE_NONE);
		ASSERT_TRUE(b);
		std::string shadow(block_size(b), '\0');
		for (int i = 0; i < 30; i++) {
			uint64_t off = (uint64_t)i * 123457 % (shadow.size() - 70000);
			std::string w = pattern(i, i % 2 ? 4096 * (i + 1) : 100 + i);
			ASSERT_EQ(0, bwrite(b, off, w));
			shadow.replace(off, w.size(), w);
		}
		ASSERT_EQ(0, block_flush(b));
		expect_same(shadow, read_all(b), "cache=none");
		ASSERT_EQ(0, block_close(b));
		b = open_img(p, fmt, true);
		ASSERT_TRUE(b);
		expect_same(shadow, read_all(b), "reopened");
		block_close(b);
	}
}

TEST(Block, ThingsThatAreNotImagesAreRefused)
{
	std::string d = temp_dir();
	write_file(d + "/empty", "");
	EXPECT_EQ(-EINVAL, try_open(d + "/empty"));
	EXPECT_EQ(-EINVAL, try_open(d));
	EXPECT_EQ(-EINVAL, try_open(d + "/missing"));
	EXPECT_EQ(-EINVAL, try_open("/dev/null"));
	write_file(d + "/x", std::string(4096, 'x'));
	EXPECT_EQ(-EINVAL, try_open(d + "/x", "vhd"));
	EXPECT_EQ(-EINVAL, try_open(d + "/x", "qcow3"));
	EXPECT_EQ(std::string(4096, 'x'), read_file(d + "/x"));
}

TEST(Block, CreateChecksBeforeWriting)
{
	std::string d = temp_dir();
	EXPECT_EQ(-EINVAL, create(d + "/a.qcow2", "qcow2", 1 << 20, "missing.img"));
	EXPECT_EQ(-EINVAL, create(d + "/a.qcow2", "qcow2", 1 << 20, nullptr, 1000));
	EXPECT_EQ(-EINVAL, create(d + "/a.qcow2", "qcow2", 1 << 20, nullptr, 0, 4));
	EXPECT_EQ(-EINVAL, create(d + "/a.vhd", "vhd", 3ull << 40));
	EXPECT_EQ(-EINVAL, create(d + "/a.img", "raw", 1 << 20, "x"));
	write_file(d + "/base.raw", std::string(4096, '\0'));
	EXPECT_EQ(-EINVAL, create(d + "/a.vhd", "vhd", 0, "base.raw"));
	EXPECT_EQ(std::vector<std::string>{"base.raw"}, list_dir(d));
}

} // namespace

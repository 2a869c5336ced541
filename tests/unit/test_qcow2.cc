// qcow2 through pcvm's block layer, cross-checked with QEMU's qemu-img:
// allocation, backing files, zero and compressed clusters, internal
// snapshots left intact, refcount table growth, bad headers, and a write
// storm killed mid-way that must leave no corruption.
#include "test_block_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace blk;

namespace {

// Random writes of random sizes (sector-aligned or not) mirrored in a
// shadow copy.
void storm(struct block *b, std::string &shadow, uint64_t seed, int n, bool unaligned)
{
	uint64_t x = seed;
	uint64_t size = shadow.size();
	for (int i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t len = 1 + (x >> 33) % (unaligned ? 200000 : 300) * (unaligned ? 1 : 512);
		uint64_t off = (x >> 11) % size;
		if (!unaligned)
			off &= ~511ull;
		if (off + len > size)
			len = size - off;
		if (!len)
			continue;
		std::string data = pattern(x, len);
		ASSERT_EQ(0, bwrite(b, off, data)) << "write " << off << "+" << len;
		shadow.replace(off, len, data);
	}
}

TEST(Qcow2, CreateGivesAnEmptyImageQemuAccepts)
{
	std::string d = temp_dir();
	for (int v : {2, 3}) {
		std::string p = d + "/e" + std::to_string(v) + ".qcow2";
		ASSERT_EQ(0, create(p, "qcow2", 10 << 20, nullptr, 0, v));
		EXPECT_EQ(0, qemu_check(p));
		RunResult r = sh("qemu-img info --output=json '" + p + "'");
		EXPECT_NE(std::string::npos, r.out.find("\"virtual-size\": 10485760")) << r.out;
		EXPECT_NE(std::string::npos, r.out.find(v == 2 ? "\"compat\": \"0.10\"" : "\"compat\": \"1.1\"")) << r.out;
		struct block *b = open_img(p);
		ASSERT_TRUE(b);
		EXPECT_STREQ("qcow2", block_format(b));
		EXPECT_EQ(std::string(10 << 20, '\0'), read_all(b));
		block_close(b);
	}
}

TEST(Qcow2, WritesReadBackAndPassQemuCheck)
{
	std::string d = temp_dir();
	struct Case { uint32_t cluster; int version; bool unaligned; };
	for (Case c : {Case{65536, 3, true}, Case{512, 3, false}, Case{4096, 2, true},
		       Case{2u << 20, 3, false}}) {
		SCOPED_TRACE(c.cluster);
		std::string p = d + "/w" + std::to_string(c.cluster) + ".qcow2";
		const uint64_t size = 24 << 20;
		ASSERT_EQ(0, create(p, "qcow2", size, nullptr, c.cluster, c.version));
		std::string shadow(size, '\0');
		struct block *b = open_img(p);
		ASSERT_TRUE(b);
		storm(b, shadow, c.cluster, 150, c.unaligned);
		expect_same(shadow, read_all(b), "before close");
		ASSERT_EQ(0, block_flush(b));
		storm(b, shadow, c.cluster + 1, 50, c.unaligned); // overwrites in place
		ASSERT_EQ(0, block_close(b));
		EXPECT_EQ(0, qemu_check(p));
		expect_same(shadow, qemu_read(p, "qcow2"), "qemu reads");
		b = open_img(p, nullptr, true);
		ASSERT_TRUE(b);
		expect_same(shadow, read_all(b), "reopened");
		struct block_check r;
		EXPECT_EQ(0, block_check(b, &r, false, nullptr));
		EXPECT_EQ(0u, r.corruptions + r.leaks);
		block_close(b);
	}
}

TEST(Qcow2, RefcountTableGrowsWithSmallClusters)
{
	// 512-byte clusters: one refcount table cluster covers only 8 MiB, so
	// 40 MiB of data needs the table moved and grown.
	std::string d = temp_dir();
	std::string p = d + "/g.qcow2";
	const uint64_t size = 48 << 20;
	ASSERT_EQ(0, create(p, "qcow2", size, nullptr, 512));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	std::string data = pattern(7, 40 << 20);
	ASSERT_EQ(0, bwrite(b, 0, data));
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(0, qemu_check(p));
	std::string got = qemu_read(p, "qcow2");
	expect_same(data, got.substr(0, data.size()), "grown image");
}

TEST(Qcow2, BackingFileReadsAndCopyOnWrite)
{
	std::string d = temp_dir();
	const uint64_t size = 8 << 20;
	std::string base = pattern(1, size);
	write_file(d + "/base.raw", base);
	// relative name, resolved against the overlay's own directory
	mkdir((d + "/sub").c_str(), 0755);
	ASSERT_EQ(0, create(d + "/sub/mid.qcow2", "qcow2", 0, "../base.raw", 0, 0, false, "raw"));
	ASSERT_EQ(0, create(d + "/top.qcow2", "qcow2", 0, "sub/mid.qcow2"));
	struct block *b = open_img(d + "/top.qcow2");
	ASSERT_TRUE(b);
	EXPECT_EQ(size, block_size(b));
	expect_same(base, read_all(b), "through two levels");
	std::string want = base;
	// a partial cluster: the rest of the cluster must come from the base
	std::string w = pattern(2, 1000);
	ASSERT_EQ(0, bwrite(b, 70000, w));
	want.replace(70000, 1000, w);
	expect_same(want, read_all(b), "after a write");
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(base, read_file(d + "/base.raw"));
	EXPECT_EQ(0, qemu_check(d + "/top.qcow2"));
	expect_same(want, qemu_read(d + "/top.qcow2", "qcow2"), "qemu reads the chain");
	// and the chain still opens from another working directory's view
	RunResult r = sh("cd / && qemu-img info --backing-chain '" + d + "/top.qcow2'");
	EXPECT_EQ(0, r.status) << r.out;
}

TEST(Qcow2, BackingShorterThanDiskReadsZerosPastItsEnd)
{
	std::string d = temp_dir();
	write_file(d + "/small.raw", pattern(3, 1 << 20));
	ASSERT_EQ(0, create(d + "/big.qcow2", "qcow2", 4 << 20, "small.raw", 0, 0, false, "raw"));
	struct block *b = open_img(d + "/big.qcow2");
	ASSERT_TRUE(b);
	std::string all = read_all(b);
	EXPECT_EQ(pattern(3, 1 << 20), all.substr(0, 1 << 20));
	EXPECT_EQ(std::string(3 << 20, '\0'), all.substr(1 << 20));
	block_close(b);
}

TEST(Qcow2, BackingLoopIsRefused)
{
	std::string d = temp_dir();
	ASSERT_EQ(0, create(d + "/a.qcow2", "qcow2", 1 << 20));
	ASSERT_EQ(0, create(d + "/b.qcow2", "qcow2", 1 << 20, "a.qcow2"));
	// point a at b: a -> b -> a
	RunResult r = sh("qemu-img rebase -u -F qcow2 -b b.qcow2 -f qcow2 '" + d + "/a.qcow2'");
	ASSERT_EQ(0, r.status) << r.out;
	std::string before = read_file(d + "/a.qcow2");
	EXPECT_EQ(-EINVAL, try_open(d + "/b.qcow2"));
	EXPECT_EQ(-EINVAL, try_open(d + "/a.qcow2", nullptr, true));
	EXPECT_EQ(before, read_file(d + "/a.qcow2"));
	// an image that is its own backing file
	r = sh("qemu-img rebase -u -F qcow2 -b a.qcow2 -f qcow2 '" + d + "/a.qcow2'");
	ASSERT_EQ(0, r.status) << r.out;
	EXPECT_EQ(-EINVAL, try_open(d + "/a.qcow2"));
}

TEST(Qcow2, ReadsImagesQemuMade)
{
	std::string d = temp_dir();
	const uint64_t size = 6 << 20;
	std::string data = pattern(4, size);
	data.replace(1 << 20, 1 << 20, std::string(1 << 20, '\0')); // a hole
	write_file(d + "/src.raw", data);
	for (const char *o : {"compat=0.10", "compat=1.1", "compat=1.1,cluster_size=4096",
			      "compat=1.1,refcount_bits=1", "compat=1.1,refcount_bits=64"}) {
		SCOPED_TRACE(o);
		std::string p = d + "/q.qcow2";
		RunResult r = sh(std::string("qemu-img convert -O qcow2 -o ") + o + " '" + d +
				 "/src.raw' '" + p + "'");
		ASSERT_EQ(0, r.status) << r.out;
		struct block *b = open_img(p);
		ASSERT_TRUE(b);
		expect_same(data, read_all(b), "qemu-made image");
		std::string w = pattern(5, 300000);
		ASSERT_EQ(0, bwrite(b, 900000, w));
		ASSERT_EQ(0, block_close(b));
		std::string want = data;
		want.replace(900000, w.size(), w);
		EXPECT_EQ(0, qemu_check(p));
		expect_same(want, qemu_read(p, "qcow2"), "after pcvm wrote to it");
	}
}

TEST(Qcow2, CompressedClustersReadAndRewrite)
{
	std::string d = temp_dir();
	const uint64_t size = 4 << 20;
	// compressible, but not trivially: text-like data
	std::string data(size, '\0');
	for (size_t i = 0; i < size; i++)
		data[i] = "pcvm compressed cluster test "[(i * 7 + i / 4096) % 29];
	write_file(d + "/src.raw", data);
	RunResult r = sh("qemu-img convert -c -O qcow2 '" + d + "/src.raw' '" + d + "/c.qcow2'");
	ASSERT_EQ(0, r.status) << r.out;
	r = sh("qemu-img check --output=json '" + d + "/c.qcow2'");
	ASSERT_NE(std::string::npos, r.out.find("\"compressed-clusters\": 64")) << r.out;
	struct block *b = open_img(d + "/c.qcow2");
	ASSERT_TRUE(b);
	expect_same(data, read_all(b), "compressed image");
	// a partial write into a compressed cluster keeps the rest of it
	std::string w = pattern(6, 5000);
	ASSERT_EQ(0, bwrite(b, 65536 * 3 + 100, w));
	data.replace(65536 * 3 + 100, w.size(), w);
	expect_same(data, read_all(b), "after rewrite");
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(0, qemu_check(d + "/c.qcow2"));
	expect_same(data, qemu_read(d + "/c.qcow2", "qcow2"), "qemu reads it back");
}

TEST(Qcow2, ZeroClustersReadAsZerosAndCanBeWritten)
{
	std::string d = temp_dir();
	std::string p = d + "/z.qcow2";
	RunResult r = sh("qemu-img create -f qcow2 '" + p + "' 4M && qemu-io -f qcow2 "
			 "-c 'write -P 0xaa 0 2M' -c 'write -z 65536 131072' "
			 "-c 'write -z 3M 64k' '" + p + "'");
	ASSERT_EQ(0, r.status) << r.out << r.err;
	std::string want(4 << 20, '\0');
	want.replace(0, 2 << 20, std::string(2 << 20, '\xaa'));
	want.replace(65536, 131072, std::string(131072, '\0'));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	expect_same(want, read_all(b), "zero clusters");
	uint64_t run;
	EXPECT_EQ(1, block_zero_run(b, 65536, 131072, &run));
	EXPECT_EQ(131072u, run);
	EXPECT_EQ(0, block_zero_run(b, 0, 65536, &run));
	std::string w = pattern(8, 700);
	ASSERT_EQ(0, bwrite(b, 65536 + 4000, w));
	want.replace(65536 + 4000, w.size(), w);
	expect_same(want, read_all(b), "after a write into a zero cluster");
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(0, qemu_check(p));
	expect_same(want, qemu_read(p, "qcow2"), "qemu agrees");
}

TEST(Qcow2, InternalSnapshotsStayIntact)
{
	std::string d = temp_dir();
	std::string p = d + "/s.qcow2";
	const uint64_t size = 8 << 20;
	std::string a = pattern(9, size);
	write_file(d + "/a.raw", a);
	RunResult r = sh("qemu-img convert -O qcow2 '" + d + "/a.raw' '" + p +
			 "' && qemu-img snapshot -c snap1 '" + p + "'");
	ASSERT_EQ(0, r.status) << r.out << r.err;
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	struct block_info info;
	ASSERT_EQ(0, block_get_info(b, &info));
	EXPECT_EQ(1, info.snapshots);
	std::string now = a;
	std::string shadow = a;
	storm(b, shadow, 99, 100, true);
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(0, qemu_check(p));
	expect_same(shadow, qemu_read(p, "qcow2"), "active image");
	r = sh("qemu-img convert -l snapshot.name=snap1 -O raw '" + p + "' '" + d + "/snap.raw'");
	ASSERT_EQ(0, r.status) << r.out << r.err;
	expect_same(a, read_file(d + "/snap.raw"), "the snapshot");
}

TEST(Qcow2, SnapshotModeNeverWritesTheImage)
{
	std::string d = temp_dir();
	std::string p = d + "/img.qcow2";
	ASSERT_EQ(0, create(p, "qcow2", 4 << 20));
	std::string before = read_file(p);
	setenv("TMPDIR", d.c_str(), 1);
	struct block *b = open_img(p, nullptr, false, true);
	unsetenv("TMPDIR");
	ASSERT_TRUE(b);
	EXPECT_FALSE(block_readonly(b));
	std::string w = pattern(10, 100000);
	ASSERT_EQ(0, bwrite(b, 12345, w));
	std::string got(w.size(), '\0');
	ASSERT_EQ(0, block_read(b, 12345, &got[0], got.size()));
	EXPECT_EQ(w, got);
	EXPECT_EQ(std::vector<std::string>{"img.qcow2"}, list_dir(d)) << "the overlay is unlinked";
	ASSERT_EQ(0, block_close(b));
	EXPECT_EQ(before, read_file(p));
}

// Header fields to break, and what is left of the image afterwards.
struct Breakage {
	const char *what;
	size_t off;
	std::string bytes;
};

std::string be32(uint32_t v)
{
	return std::string{(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
}
std::string be64(uint64_t v) { return be32((uint32_t)(v >> 32)) + be32((uint32_t)v); }

TEST(Qcow2, BadHeadersAreRefusedWithoutWriting)
{
	std::string d = temp_dir();
	std::string good = d + "/good.qcow2";
	write_file(d + "/backing.raw", std::string(16 << 20, '\0'));
	ASSERT_EQ(0, create(good, "qcow2", 16 << 20, "backing.raw", 0, 3, false, "raw"));
	ASSERT_EQ(0, try_open(good));
	std::string img = read_file(good);
	const Breakage cases[] = {
		{"version 1", 4, be32(1)},
		{"version 4", 4, be32(4)},
		{"cluster bits 8", 20, be32(8)},
		{"cluster bits 30", 20, be32(30)},
		{"encrypted", 32, be32(1)},
		{"L1 past EOF", 40, be64(1ull << 40)},
		{"L1 unaligned", 40, be64(65536 * 3 + 8)},
		{"L1 too small", 36, be32(0)},
		{"L1 huge", 36, be32(0x7fffffff)},
		{"refcount table past EOF", 48, be64(1ull << 40)},
		{"refcount table empty", 56, be32(0)},
		{"size impossible", 24, be64(~0ull)},
		{"snapshots past EOF", 60, be32(1) + be64(1ull << 40)},
		{"unknown incompatible feature", 72, be64(1ull << 40)},
		{"extended L2", 72, be64(1ull << 4)},
		{"corrupt bit", 72, be64(2)},
		{"dirty bit", 72, be64(1)},
		{"refcount order 7", 96, be32(7)},
		{"header length", 100, be32(20)},
		{"backing name past cluster", 8, be64(65530)},
		{"missing backing file", 0x78, std::string("zz")},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.what);
		std::string bad = img;
		if (c.off == 0x78) { // overwrite the backing name in place
			size_t at = bad.find("backing.raw");
			ASSERT_NE(std::string::npos, at);
			bad.replace(at, 2, c.bytes);
		} else {
			bad.replace(c.off, c.bytes.size(), c.bytes);
		}
		std::string p = d + "/bad.qcow2";
		write_file(p, bad);
		EXPECT_EQ(-EINVAL, try_open(p)) << c.what;
		EXPECT_EQ(bad, read_file(p)) << "opening changed the file";
	}
	// read-only opens of corrupt/dirty images are allowed (data can be saved)
	std::string bad = img;
	bad.replace(72, 8, be64(2));
	write_file(d + "/bad.qcow2", bad);
	EXPECT_EQ(0, try_open(d + "/bad.qcow2", nullptr, true));
	// truncations of a header
	for (size_t n : {4u, 50u, 100u}) {
		write_file(d + "/t.qcow2", img.substr(0, n));
		EXPECT_EQ(-EINVAL, try_open(d + "/t.qcow2")) << n;
	}
	// and a raw file named as qcow2 is not one
	write_file(d + "/raw.img", std::string(65536, 'x'));
	EXPECT_EQ(-EINVAL, try_open(d + "/raw.img", "qcow2"));
}

TEST(Qcow2, CorruptTablesFailReadsWithoutCrashing)
{
	std::string d = temp_dir();
	std::string p = d + "/c.qcow2";
	ASSERT_EQ(0, create(p, "qcow2", 4 << 20));
	struct block *b = open_img(p);
	ASSERT_TRUE(b);
	ASSERT_EQ(0, bwrite(b, 0, pattern(1, 65536)));
	ASSERT_EQ(0, block_close(b));
	// point the first L1 entry at an unaligned place
	std::string img = read_file(p);
	uint64_t l1 = 0;
	for (int i = 0; i < 8; i++)
		l1 = l1 << 8 | (uint8_t)img[40 + i];
	img.replace(l1, 8, be64((1ull << 63) | 0x10200));
	write_file(p, img);
	b = open_img(p, nullptr, true);
	ASSERT_TRUE(b);
	char buf[512];
	EXPECT_EQ(-EIO, block_read(b, 0, buf, sizeof(buf)));
	struct block_check r;
	EXPECT_EQ(0, block_check(b, &r, false, nullptr));
	EXPECT_GT(r.corruptions, 0u);
	block_close(b);
}

// The crash-consistency test: a child writes a storm (with flushes) and is
// killed mid-way; QEMU must then find at worst leaked clusters. Rounds 0-3
// send SIGKILL after a while; later rounds set a file size limit, so the
// kernel kills the writer (SIGXFSZ) at exactly the write that would grow
// the image past it, which lands inside metadata updates far more often.
TEST(Qcow2, KilledMidStormLeavesNoCorruption)
{
	std::string d = temp_dir();
	for (uint32_t cluster : {512u, 65536u}) {
		for (int round = 0; round < 10; round++) {
			SCOPED_TRACE(std::to_string(cluster) + " round " + std::to_string(round));
			std::string p = d + "/k.qcow2";
			ASSERT_EQ(0, create(p, "qcow2", 64 << 20, nullptr, cluster));
			if (round % 3 == 0) { // also with a snapshot sharing everything
				RunResult r = sh("qemu-io -f qcow2 -c 'write -P 0x55 0 8M' '" + p +
						 "' && qemu-img snapshot -c s '" + p + "'");
				ASSERT_EQ(0, r.status) << r.out << r.err;
			}
			fflush(nullptr);
			pid_t pid = fork();
			ASSERT_GE(pid, 0);
			if (pid == 0) {
				struct block_open_opts o = {};
				struct block *b;
				if (block_open(&b, p.c_str(), &o))
					_exit(1);
				if (round >= 4) {
					struct stat st;
					stat(p.c_str(), &st);
					rlim_t lim = st.st_size + (rlim_t)(round - 3) * (5 << 20) +
						     (rlim_t)round * 13 * cluster;
					struct rlimit rl = {lim, lim};
					setrlimit(RLIMIT_FSIZE, &rl);
				}
				std::string shadow(64 << 20, '\0');
				uint64_t x = 1000 + round;
				for (int i = 0;; i++) {
					x = x * 6364136223846793005ull + 1442695040888963407ull;
					uint64_t len = 512 * (1 + (x >> 40) % 256);
					uint64_t off = ((x >> 8) % (64 << 20)) & ~511ull;
					if (off + len > (64u << 20))
						len = (64u << 20) - off;
					std::string data = pattern(x, len);
					if (block_write(b, off, data.data(), len))
						_exit(2);
					if (i % 7 == 0 && block_flush(b))
						_exit(3);
				}
			}
			int st;
			if (round < 4) {
				usleep(150000 + 120000 * round);
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
			} else { // the size limit ends it; this is only a backstop
				int waited = 0;
				while (waitpid(pid, &st, WNOHANG) == 0 && waited++ < 500)
					usleep(10000);
				if (waited > 500) {
					kill(pid, SIGKILL);
					waitpid(pid, &st, 0);
					ADD_FAILURE() << "the size limit did not stop the writer";
				}
			}
			ASSERT_TRUE(WIFSIGNALED(st)) << "the writer stopped by itself: " << st;
			RunResult r = sh("qemu-img check -f qcow2 '" + p + "' 2>&1");
			EXPECT_TRUE(r.status == 0 || r.status == 3) << r.out;
			EXPECT_EQ(std::string::npos, r.out.find("ERROR")) << r.out;
			if (round % 3 == 0) {
				r = sh("qemu-img convert -l snapshot.name=s -O raw '" + p + "' '" +
				       d + "/s.raw'");
				ASSERT_EQ(0, r.status) << r.out;
				std::string s = read_file(d + "/s.raw");
				EXPECT_EQ(std::string(8 << 20, '\x55'), s.substr(0, 8 << 20));
			}
			// pcvm's own check agrees, and repairs the leaks
			struct block *b = open_img(p);
			ASSERT_TRUE(b);
			struct block_check c;
			EXPECT_EQ(0, block_check(b, &c, true, nullptr));
			EXPECT_EQ(0u, c.corruptions);
			EXPECT_EQ(0u, c.leaks);
			block_close(b);
			EXPECT_EQ(0, qemu_check(p));
		}
	}
}

} // namespace

// Helpers shared by the disk image tests: images through pcvm's block
// layer, and QEMU's qemu-img/qemu-io as the independent reference.
#ifndef PCVM_TEST_BLOCK_UTIL_H
#define PCVM_TEST_BLOCK_UTIL_H

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <string>
#include "pcvm.h"
#include "run.h"

namespace blk {

inline RunResult sh(const std::string &cmd, double timeout = 120)
{
	return run_cmd({"sh", "-c", cmd}, timeout);
}

// Deterministic bytes that differ per (seed, offset).
inline std::string pattern(uint64_t seed, size_t len)
{
	std::string s(len, '\0');
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		s[i] = (char)(x >> 24);
	}
	return s;
}

inline struct block *open_img(const std::string &path, const char *fmt = nullptr,
			      bool ro = false, bool snapshot = false,
			      enum block_cache cache = BLOCK_CACHE_WRITEBACK)
{
	struct block_open_opts o = {};
	o.format = fmt;
	o.readonly = ro;
	o.snapshot = snapshot;
	o.cache = cache;
	struct block *b = nullptr;
	int err = block_open(&b, path.c_str(), &o);
	EXPECT_EQ(0, err) << path;
	return err ? nullptr : b;
}

// Opens and closes; the one-line error of an expected refusal is not shown.
inline int try_open(const std::string &path, const char *fmt = nullptr, bool ro = false)
{
	struct block_open_opts o = {};
	o.format = fmt;
	o.readonly = ro;
	struct block *b = nullptr;
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	int err = block_open(&b, path.c_str(), &o);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
	if (!err)
		block_close(b);
	return err;
}

inline int create(const std::string &path, const char *fmt, uint64_t size,
		  const char *backing = nullptr, uint32_t cluster = 0, int version = 0,
		  bool fixed = false, const char *backing_fmt = nullptr)
{
	struct block_create_opts o = {};
	o.format = fmt;
	o.size = size;
	o.backing = backing;
	o.backing_format = backing_fmt;
	o.cluster_size = cluster;
	o.qcow2_version = version;
	o.vhd_fixed = fixed;
	return block_create(path.c_str(), &o);
}

inline std::string read_all(struct block *b)
{
	std::string s(block_size(b), '\0');
	EXPECT_EQ(0, block_read(b, 0, &s[0], s.size()));
	return s;
}

inline int bwrite(struct block *b, uint64_t off, const std::string &data)
{
	return block_write(b, off, data.data(), data.size());
}

// qemu-img check's exit status: 0 clean, 2 corrupt, 3 leaks only.
inline int qemu_check(const std::string &path, const char *fmt = "qcow2")
{
	RunResult r = sh(std::string("qemu-img check -f ") + fmt + " '" + path + "' 2>&1");
	if (r.status != 0)
		ADD_FAILURE() << "qemu-img check " << path << ":\n" << r.out;
	return r.status;
}

// The disk's contents as QEMU reads them.
inline std::string qemu_read(const std::string &path, const char *fmt)
{
	std::string out = path + ".qemu-raw";
	RunResult r = sh(std::string("qemu-img convert -f ") + fmt + " -O raw '" + path +
			 "' '" + out + "' 2>&1");
	EXPECT_EQ(0, r.status) << r.out;
	std::string data = read_file(out);
	unlink(out.c_str());
	return data;
}

// Compare without printing megabytes on failure.
inline void expect_same(const std::string &want, const std::string &got, const char *what)
{
	ASSERT_EQ(want.size(), got.size()) << what;
	if (want != got) {
		size_t i = 0;
		while (want[i] == got[i])
			i++;
		ADD_FAILURE() << what << ": first difference at byte " << i;
	}
}

} // namespace blk

#endif

// The PC board's boot order as SeaBIOS receives it: fw_cfg "bootorder"
// device paths.
#include <gtest/gtest.h>
#include <string>
#include <vector>
#include "pcvm.h"

namespace {

// SeaBIOS matches its own device paths, with '*' standing for any run of
// characters up to the next '/' or the next pattern character, against
// the lines of "bootorder" (SeaBIOS src/boot.c, glob_prefix).
bool seabios_glob(const char *glob, const char *str)
{
	for (;;) {
		if (!*glob && (!*str || *str == '/'))
			return true;
		if (*glob == '*') {
			if (!*str || *str == '/' || *str == glob[1])
				glob++;
			else
				str++;
			continue;
		}
		if (*glob != *str)
			return false;
		glob++;
		str++;
	}
}

std::vector<std::string> lines(const char *s)
{
	std::vector<std::string> v;
	std::string cur;
	for (; *s; s++) {
		if (*s == '\n') {
			v.push_back(cur);
			cur.clear();
		} else {
			cur += *s;
		}
	}
	v.push_back(cur);
	return v;
}

TEST(PcBootOrder, SeaBiosPaths)
{
	const char drives[4] = {'c', 'c', 'd', 0};
	char buf[512];
	ASSERT_GT(pc_bootorder("dca", drives, buf, sizeof(buf)), 0);
	auto l = lines(buf);
	ASSERT_EQ(4u, l.size());
	// what SeaBIOS builds for the CD at ata1-0, the disks, the floppy
	EXPECT_TRUE(seabios_glob("/pci@i0cf8/*@1,1/drive@1/disk@0", l[0].c_str())) << l[0];
	EXPECT_TRUE(seabios_glob("/pci@i0cf8/*@1,1/drive@0/disk@0", l[1].c_str())) << l[1];
	EXPECT_TRUE(seabios_glob("/pci@i0cf8/*@1,1/drive@0/disk@1", l[2].c_str())) << l[2];
	EXPECT_TRUE(seabios_glob("/pci@i0cf8/isa@1/fdc@03f0/floppy@0", l[3].c_str())) << l[3];
	EXPECT_FALSE(seabios_glob("/pci@i0cf8/*@1,1/drive@0/disk@0", l[0].c_str()));

	const char none[4] = {0, 0, 0, 0};
	EXPECT_EQ(0, pc_bootorder("cd", none, buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(-ENOSPC, pc_bootorder("dca", drives, buf, 40));
}

} // namespace

#include <gtest/gtest.h>
#include "pcvm.h"

namespace {

uint64_t size_of(const char *s, uint64_t unit = 1ull << 20)
{
	uint64_t v = 0;
	EXPECT_EQ(0, cli_parse_size(s, unit, &v)) << s;
	return v;
}

TEST(CliSize, Suffixes)
{
	EXPECT_EQ(128ull << 20, size_of("128"));
	EXPECT_EQ(128ull << 20, size_of("128M"));
	EXPECT_EQ(128ull << 20, size_of("128m"));
	EXPECT_EQ(128ull << 20, size_of("128MiB"));
	EXPECT_EQ(128ull << 20, size_of("128MB"));
	EXPECT_EQ(64ull << 10, size_of("64K"));
	EXPECT_EQ(2ull << 30, size_of("2G"));
	EXPECT_EQ(1ull << 40, size_of("1T"));
	EXPECT_EQ(4096u, size_of("4096B"));
	EXPECT_EQ(4096u, size_of("4096", 1));
}

TEST(CliSize, Malformed)
{
	uint64_t v;
	for (const char *s : {"", "M", "12Q", "1.5G", "-1", "12 M", "12MX", "0x10", "1KK"})
		EXPECT_EQ(-EINVAL, cli_parse_size(s, 1, &v)) << s;
	EXPECT_EQ(-ERANGE, cli_parse_size("99999999999999999999", 1, &v));
	EXPECT_EQ(-ERANGE, cli_parse_size("99999999999T", 1, &v));
}

} // namespace

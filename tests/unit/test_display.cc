// --screenshot-every patterns: validation and the file names they give.
#include <gtest/gtest.h>
#include <string>
#include "pcvm.h"

extern "C" {
#include "ui/display.h"
}

namespace {

std::string shot(const char *pattern, unsigned n)
{
	char buf[256];
	display_format_shot(pattern, n, buf, sizeof(buf));
	return buf;
}

TEST(ShotPattern, Accepted)
{
	const char *why = nullptr;
	for (const char *p : {"shots/%04d.png", "%d.png", "a%%b-%u.png", "x/%-3i.png", "%+05d",
			      "dir%%/%d.png"})
		EXPECT_EQ(0, display_check_pattern(p, &why)) << p << ": " << (why ? why : "");
	EXPECT_EQ("shots/0007.png", shot("shots/%04d.png", 7));
	EXPECT_EQ("a%b-12.png", shot("a%%b-%u.png", 12));
}

TEST(ShotPattern, Refused)
{
	const char *why = nullptr;
	for (const char *p : {"shot.png", "%d%d.png", "%s.png", "%ld.png", "%x.png", "%.3d.png",
			      "%*d.png", "%n.png", "%d/x.png", "%", "%999d.png", "%04"}) {
		why = nullptr;
		EXPECT_EQ(-EINVAL, display_check_pattern(p, &why)) << p;
		EXPECT_NE(nullptr, why) << p;
	}
}

} // namespace

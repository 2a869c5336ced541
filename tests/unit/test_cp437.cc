// The CP437 -> Unicode table and its UTF-8 encoding.
#include <gtest/gtest.h>
#include <set>
#include <string>
#include "pcvm.h"

extern "C" {
#include "ui/cp437.h"
#include "ui/textdump.h"
}

namespace {

std::string utf8(uint8_t c)
{
	char b[4];
	int n = cp437_utf8(c, b);
	return std::string(b, (size_t)n);
}

TEST(Cp437, AsciiIsItself)
{
	for (int c = 0x20; c < 0x7f; c++)
		EXPECT_EQ(c, cp437_unicode[c]) << c;
	EXPECT_EQ("A", utf8('A'));
}

TEST(Cp437, LowBytesAreGlyphsNotControls)
{
	EXPECT_EQ(0x0020, cp437_unicode[0x00]);
	EXPECT_EQ("\u263a", utf8(0x01)); // smiley
	EXPECT_EQ("\u2665", utf8(0x03)); // heart
	EXPECT_EQ("\u2022", utf8(0x07)); // bullet, not BEL
	EXPECT_EQ("\u25d8", utf8(0x08));
	EXPECT_EQ("\u25d9", utf8(0x0a)); // not a newline
	EXPECT_EQ("\u266a", utf8(0x0d));
	EXPECT_EQ("\u00b6", utf8(0x14));
	EXPECT_EQ("\u00a7", utf8(0x15));
	EXPECT_EQ("\u2192", utf8(0x1a));
	EXPECT_EQ("\u2190", utf8(0x1b));
	EXPECT_EQ("\u25bc", utf8(0x1f));
	EXPECT_EQ("\u2302", utf8(0x7f)); // house
}

TEST(Cp437, BoxDrawingShadesAndLetters)
{
	EXPECT_EQ(0x2502, cp437_unicode[0xb3]); // │
	EXPECT_EQ(0x2500, cp437_unicode[0xc4]); // ─
	EXPECT_EQ(0x250c, cp437_unicode[0xda]); // ┌
	EXPECT_EQ(0x2518, cp437_unicode[0xd9]); // ┘
	EXPECT_EQ(0x2554, cp437_unicode[0xc9]); // ╔
	EXPECT_EQ(0x2550, cp437_unicode[0xcd]); // ═
	EXPECT_EQ(0x255d, cp437_unicode[0xbc]); // ╝
	EXPECT_EQ(0x256c, cp437_unicode[0xce]); // ╬
	EXPECT_EQ(0x2591, cp437_unicode[0xb0]); // ░
	EXPECT_EQ(0x2588, cp437_unicode[0xdb]); // █
	EXPECT_EQ(0x2580, cp437_unicode[0xdf]); // ▀
	EXPECT_EQ(0x00c7, cp437_unicode[0x80]); // Ç
	EXPECT_EQ(0x20a7, cp437_unicode[0x9e]); // ₧
	EXPECT_EQ(0x03b1, cp437_unicode[0xe0]); // α
	EXPECT_EQ(0x00df, cp437_unicode[0xe1]); // ß
	EXPECT_EQ(0x00b5, cp437_unicode[0xe6]); // µ
	EXPECT_EQ(0x221e, cp437_unicode[0xec]); // ∞
	EXPECT_EQ(0x2219, cp437_unicode[0xf9]); // ∙
	EXPECT_EQ(0x00b7, cp437_unicode[0xfa]); // ·
	EXPECT_EQ(0x25a0, cp437_unicode[0xfe]); // ■
	EXPECT_EQ(0x00a0, cp437_unicode[0xff]); // no-break space
	EXPECT_EQ("\u2554", utf8(0xc9));
	EXPECT_EQ("\u00e9", utf8(0x82));
}

TEST(Cp437, EveryByteButNulHasItsOwnGlyph)
{
	std::set<uint16_t> seen;
	for (int c = 1; c < 256; c++) {
		EXPECT_TRUE(seen.insert(cp437_unicode[c]).second) << c;
		EXPECT_FALSE(cp437_unicode[c] < 0x20 || (cp437_unicode[c] >= 0x7f &&
							 cp437_unicode[c] < 0xa0))
			<< "control code for byte " << c;
	}
}

TEST(TextDump, RowsTrimmedUtf8)
{
	struct vga_cell cells[2 * 4] = {
		{0xc9, 7}, {0xcd, 7}, {'x', 7}, {' ', 7},
		{0x00, 7}, {0x00, 7}, {0x00, 7}, {0x00, 7},
	};
	struct vga_text t = {};
	t.cols = 4;
	t.rows = 2;
	t.cell = cells;
	char *s = textdump_format(&t);
	ASSERT_NE(nullptr, s);
	EXPECT_EQ(std::string("\u2554\u2550x\n\n"), std::string(s));
	free(s);
}

} // namespace

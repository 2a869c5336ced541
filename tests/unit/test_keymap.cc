// Terminal keys -> PS/2 set 1 scancodes, and the Ctrl-A command chord.
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>
#include "pcvm.h"

extern "C" {
#include "ui/keymap.h"
}
#include <curses.h> // KEY_* codes only

namespace {

using Events = std::vector<std::pair<unsigned, bool>>;

Events feed(struct keymap *k, int ch, bool is_key = false, bool alt = false,
	    enum keymap_cmd *cmd = nullptr)
{
	struct keymap_out o;
	keymap_feed(k, ch, is_key, alt, &o);
	if (cmd)
		*cmd = o.cmd;
	Events e;
	for (int i = 0; i < o.n; i++)
		e.push_back({o.ev[i].code, o.ev[i].down});
	return e;
}

Events press(unsigned code) { return {{code, true}, {code, false}}; }

Events with(unsigned mod, unsigned code)
{
	return {{mod, true}, {code, true}, {code, false}, {mod, false}};
}

struct Keymap : ::testing::Test {
	struct keymap k;
	void SetUp() override { keymap_init(&k); }
};

TEST_F(Keymap, LettersDigitsAndShift)
{
	EXPECT_EQ(press(0x1e), feed(&k, 'a'));
	EXPECT_EQ(press(0x2c), feed(&k, 'z'));
	EXPECT_EQ(press(0x02), feed(&k, '1'));
	EXPECT_EQ(press(0x0b), feed(&k, '0'));
	EXPECT_EQ(with(0x2a, 0x1e), feed(&k, 'A'));
	EXPECT_EQ(with(0x2a, 0x03), feed(&k, '@'));
	EXPECT_EQ(with(0x2a, 0x27), feed(&k, ':'));
	EXPECT_EQ(press(0x27), feed(&k, ';'));
	EXPECT_EQ(with(0x2a, 0x2b), feed(&k, '|'));
	EXPECT_EQ(press(0x29), feed(&k, '`'));
	EXPECT_EQ(with(0x2a, 0x29), feed(&k, '~'));
	EXPECT_EQ(press(0x35), feed(&k, '/'));
	EXPECT_EQ(press(0x39), feed(&k, ' '));
}

TEST_F(Keymap, EveryPrintableAsciiHasAKey)
{
	for (int c = 0x20; c < 0x7f; c++) {
		uint16_t scan;
		unsigned mods;
		EXPECT_TRUE(keymap_ascii(c, &scan, &mods)) << (char)c;
		EXPECT_GE(scan, 0x02);
		EXPECT_LE(scan, 0x39);
	}
	uint16_t scan;
	unsigned mods;
	EXPECT_FALSE(keymap_ascii(0xe9, &scan, &mods)); // é: not on a US keyboard
	EXPECT_TRUE(feed(&k, 0xe9).empty());
}

TEST_F(Keymap, ControlCharacters)
{
	EXPECT_EQ(press(0x1c), feed(&k, '\r'));
	EXPECT_EQ(press(0x0e), feed(&k, 0x7f));
	EXPECT_EQ(press(0x0f), feed(&k, '\t'));
	EXPECT_EQ(press(0x01), feed(&k, 0x1b));
	EXPECT_EQ(with(0x1d, 0x2e), feed(&k, 3));  // Ctrl-C
	EXPECT_EQ(with(0x1d, 0x2c), feed(&k, 26)); // Ctrl-Z
	EXPECT_EQ(with(0x1d, 0x2b), feed(&k, 28)); // Ctrl-backslash
}

TEST_F(Keymap, AltViaEscapePrefix)
{
	EXPECT_EQ(with(0x38, 0x2d), feed(&k, 'x', false, true));
	Events altshift = {{0x38, true}, {0x2a, true}, {0x1e, true}, {0x1e, false},
			   {0x2a, false}, {0x38, false}};
	EXPECT_EQ(altshift, feed(&k, 'A', false, true));
}

TEST_F(Keymap, NamedKeys)
{
	EXPECT_EQ(press(0xe048), feed(&k, KEY_UP, true));
	EXPECT_EQ(press(0xe050), feed(&k, KEY_DOWN, true));
	EXPECT_EQ(press(0xe04b), feed(&k, KEY_LEFT, true));
	EXPECT_EQ(press(0xe04d), feed(&k, KEY_RIGHT, true));
	EXPECT_EQ(press(0xe047), feed(&k, KEY_HOME, true));
	EXPECT_EQ(press(0xe053), feed(&k, KEY_DC, true));
	EXPECT_EQ(press(0xe049), feed(&k, KEY_PPAGE, true));
	EXPECT_EQ(press(0x0e), feed(&k, KEY_BACKSPACE, true));
	EXPECT_EQ(press(0x3b), feed(&k, KEY_F(1), true));
	EXPECT_EQ(press(0x44), feed(&k, KEY_F(10), true));
	EXPECT_EQ(press(0x58), feed(&k, KEY_F(12), true));
	EXPECT_EQ(with(0x2a, 0x3c), feed(&k, KEY_F(14), true)); // Shift-F2
	EXPECT_EQ(with(0x1d, 0x3b), feed(&k, KEY_F(25), true)); // Ctrl-F1
	EXPECT_EQ(with(0x38, 0x3d), feed(&k, KEY_F(51), true)); // Alt-F3
	EXPECT_EQ(with(0x2a, 0x0f), feed(&k, KEY_BTAB, true));
	EXPECT_EQ(with(0x2a, 0xe04b), feed(&k, KEY_SLEFT, true));
	EXPECT_TRUE(feed(&k, KEY_MOUSE, true).empty());
	// codes learnt from the terminal (e.g. kUP5)
	keymap_add(&k, 600, 0xe048, KEYMAP_MOD_CTRL);
	EXPECT_EQ(with(0x1d, 0xe048), feed(&k, 600, true));
}

TEST_F(Keymap, CommandChord)
{
	enum keymap_cmd cmd;
	EXPECT_TRUE(feed(&k, 1, false, false, &cmd).empty()); // Ctrl-A: prefix
	EXPECT_EQ(KEYMAP_CMD_NONE, cmd);
	EXPECT_TRUE(feed(&k, 'x', false, false, &cmd).empty());
	EXPECT_EQ(KEYMAP_CMD_QUIT, cmd);
	// after the chord, keys are keys again
	EXPECT_EQ(press(0x2d), feed(&k, 'x', false, false, &cmd));
	EXPECT_EQ(KEYMAP_CMD_NONE, cmd);

	feed(&k, 1);
	Events cad = {{0x1d, true}, {0x38, true}, {0xe053, true}, {0xe053, false},
		      {0x38, false}, {0x1d, false}};
	EXPECT_EQ(cad, feed(&k, 'd'));
	feed(&k, 1);
	EXPECT_EQ(with(0x1d, 0x1e), feed(&k, 1)); // Ctrl-A Ctrl-A: a literal Ctrl-A
	feed(&k, 1);
	EXPECT_TRUE(feed(&k, 'h', false, false, &cmd).empty());
	EXPECT_EQ(KEYMAP_CMD_HELP, cmd);
	feed(&k, 1);
	feed(&k, 's', false, false, &cmd);
	EXPECT_EQ(KEYMAP_CMD_STATUS, cmd);
	feed(&k, 1);
	EXPECT_TRUE(feed(&k, 'q', false, false, &cmd).empty()); // unknown: dropped
	EXPECT_EQ(KEYMAP_CMD_NONE, cmd);
	EXPECT_NE(std::string::npos, std::string(keymap_help).find("Ctrl-A x"));
}

} // namespace

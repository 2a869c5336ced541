/*
 * Terminal input to PC/AT keyboard scancodes (set 1 make codes, as in IBM's
 * PC AT Technical Reference keyboard tables and Microsoft's "Keyboard Scan
 * Code Specification"), for the US layout: a character is typed by pressing
 * the key that makes it, with Shift, Ctrl or Alt held around it as the
 * character needs. Named keys come from ncurses' KEY_* codes; xterm-style
 * modified function keys map to F13-F60 (Shift, Ctrl, Ctrl+Shift, Alt).
 */
#include "keymap.h"

#include <curses.h>
#include <string.h>

const char keymap_help[] =
	"Ctrl-A x    quit pcvm (exit status 130, disks flushed)\n"
	"Ctrl-A d    send Ctrl-Alt-Delete to the guest\n"
	"Ctrl-A s    show or hide the status line\n"
	"Ctrl-A h    this help (also Ctrl-A ?)\n"
	"Ctrl-A a    send Ctrl-A to the guest (also Ctrl-A Ctrl-A)\n";

/* Unshifted US layout: characters in scancode order from 0x02. */
static const char row_plain[] = "1234567890-=\0\0qwertyuiop[]\0\0asdfghjkl;'`\0\\zxcvbnm,./";
static const char row_shift[] = "!@#$%^&*()_+\0\0QWERTYUIOP{}\0\0ASDFGHJKL:\"~\0|ZXCVBNM<>?";

bool keymap_ascii(int c, uint16_t *scan, unsigned *mods)
{
	*mods = 0;
	switch (c) {
	case ' ': *scan = 0x39; return true;
	case '\t': *scan = 0x0f; return true;
	case '\r': case '\n': *scan = 0x1c; return true;
	case '\b': case 0x7f: *scan = 0x0e; return true;
	case 0x1b: *scan = 0x01; return true;
	default: break;
	}
	if (c <= 0 || c > 0x7e)
		return false;
	for (size_t i = 0; i < sizeof(row_plain) - 1; i++) {
		if (row_plain[i] == c) {
			*scan = (uint16_t)(0x02 + i);
			return true;
		}
		if (row_shift[i] == c) {
			*scan = (uint16_t)(0x02 + i);
			*mods = KEYMAP_MOD_SHIFT;
			return true;
		}
	}
	return false;
}

void keymap_init(struct keymap *k)
{
	memset(k, 0, sizeof(*k));
}

void keymap_add(struct keymap *k, int code, uint16_t scan, unsigned mods)
{
	if (k->nextra < KEYMAP_MAX_EXTRA) {
		k->extra[k->nextra].code = code;
		k->extra[k->nextra].scan = scan;
		k->extra[k->nextra].mods = (uint8_t)mods;
		k->nextra++;
	}
}

static void ev(struct keymap_out *o, uint16_t code, bool down)
{
	if (o->n < KEYMAP_MAX_EVENTS) {
		o->ev[o->n].code = code;
		o->ev[o->n].down = down;
		o->n++;
	}
}

/* Press and release scan with mods held around it. */
static void type(struct keymap_out *o, uint16_t scan, unsigned mods)
{
	if (mods & KEYMAP_MOD_CTRL) ev(o, KEYMAP_SC_LCTRL, true);
	if (mods & KEYMAP_MOD_ALT) ev(o, KEYMAP_SC_LALT, true);
	if (mods & KEYMAP_MOD_SHIFT) ev(o, KEYMAP_SC_LSHIFT, true);
	ev(o, scan, true);
	ev(o, scan, false);
	if (mods & KEYMAP_MOD_SHIFT) ev(o, KEYMAP_SC_LSHIFT, false);
	if (mods & KEYMAP_MOD_ALT) ev(o, KEYMAP_SC_LALT, false);
	if (mods & KEYMAP_MOD_CTRL) ev(o, KEYMAP_SC_LCTRL, false);
}

static const uint16_t fkey[12] = {
	0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58,
};

static bool named_key(const struct keymap *k, int code, uint16_t *scan, unsigned *mods)
{
	*mods = 0;
	if (code >= KEY_F(1) && code <= KEY_F(60)) {
		int n = code - KEY_F(1);
		static const unsigned bank[5] = {
			0, KEYMAP_MOD_SHIFT, KEYMAP_MOD_CTRL,
			KEYMAP_MOD_CTRL | KEYMAP_MOD_SHIFT, KEYMAP_MOD_ALT,
		};
		*scan = fkey[n % 12];
		*mods = bank[n / 12];
		return true;
	}
	switch (code) {
	case KEY_UP: *scan = 0xe048; return true;
	case KEY_DOWN: *scan = 0xe050; return true;
	case KEY_LEFT: *scan = 0xe04b; return true;
	case KEY_RIGHT: *scan = 0xe04d; return true;
	case KEY_HOME: *scan = 0xe047; return true;
	case KEY_END: *scan = 0xe04f; return true;
	case KEY_PPAGE: *scan = 0xe049; return true;
	case KEY_NPAGE: *scan = 0xe051; return true;
	case KEY_IC: *scan = 0xe052; return true;
	case KEY_DC: *scan = 0xe053; return true;
	case KEY_BACKSPACE: *scan = 0x0e; return true;
	case KEY_ENTER: *scan = 0xe01c; return true;
	case KEY_B2: *scan = 0x4c; return true;
	case KEY_BTAB: *scan = 0x0f; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SR: *scan = 0xe048; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SF: *scan = 0xe050; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SLEFT: *scan = 0xe04b; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SRIGHT: *scan = 0xe04d; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SHOME: *scan = 0xe047; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SEND: *scan = 0xe04f; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SPREVIOUS: *scan = 0xe049; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SNEXT: *scan = 0xe051; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SIC: *scan = 0xe052; *mods = KEYMAP_MOD_SHIFT; return true;
	case KEY_SDC: *scan = 0xe053; *mods = KEYMAP_MOD_SHIFT; return true;
	default: break;
	}
	for (int i = 0; i < k->nextra; i++) {
		if (k->extra[i].code == code) {
			*scan = k->extra[i].scan;
			*mods = k->extra[i].mods;
			return true;
		}
	}
	return false;
}

/* A character, possibly a control character typed with Ctrl. */
static bool char_key(int c, uint16_t *scan, unsigned *mods)
{
	if (keymap_ascii(c, scan, mods))
		return true;
	if (c >= 1 && c <= 26) { /* Ctrl-letter */
		keymap_ascii('a' + c - 1, scan, mods);
		*mods = KEYMAP_MOD_CTRL;
		return true;
	}
	static const char ctl[] = { 0, 0, 0, '\\', ']', '6', '-' }; /* 0, 28-31 */
	if (c == 0) {
		*scan = 0x39; /* Ctrl-Space */
		*mods = KEYMAP_MOD_CTRL;
		return true;
	}
	if (c >= 28 && c <= 31) {
		keymap_ascii(ctl[c - 25], scan, mods);
		*mods = KEYMAP_MOD_CTRL | (c == 30 ? KEYMAP_MOD_SHIFT : 0);
		return true;
	}
	return false;
}

static void command(struct keymap_out *o, int ch, bool is_key)
{
	if (is_key)
		return;
	switch (ch) {
	case 'x': case 'X': case 24: /* Ctrl-X too, for a held Ctrl */
		o->cmd = KEYMAP_CMD_QUIT;
		break;
	case 'd': case 'D':
		ev(o, KEYMAP_SC_LCTRL, true);
		ev(o, KEYMAP_SC_LALT, true);
		ev(o, KEYMAP_SC_DELETE, true);
		ev(o, KEYMAP_SC_DELETE, false);
		ev(o, KEYMAP_SC_LALT, false);
		ev(o, KEYMAP_SC_LCTRL, false);
		break;
	case 'h': case 'H': case '?':
		o->cmd = KEYMAP_CMD_HELP;
		break;
	case 's': case 'S':
		o->cmd = KEYMAP_CMD_STATUS;
		break;
	case 'a': case 'A': case 1:
		type(o, 0x1e, KEYMAP_MOD_CTRL);
		break;
	default:
		break;
	}
}

void keymap_feed(struct keymap *k, int ch, bool is_key, bool alt,
		 struct keymap_out *out)
{
	memset(out, 0, sizeof(*out));
	if (k->prefix) {
		k->prefix = false;
		command(out, ch, is_key);
		return;
	}
	if (!is_key && ch == 1 && !alt) {
		k->prefix = true;
		return;
	}
	uint16_t scan;
	unsigned mods;
	bool ok = is_key ? named_key(k, ch, &scan, &mods) : char_key(ch, &scan, &mods);
	if (!ok)
		return;
	if (alt)
		mods |= KEYMAP_MOD_ALT;
	type(out, scan, mods);
}

/*
 * Terminal keys -> PC keyboard events. A terminal reports characters and
 * a few named keys, not key presses; each one becomes the press and release
 * of the US-layout key that produces it, wrapped in Shift/Ctrl/Alt presses
 * as needed (scancode set 1 make codes, 0xE0xx for extended keys, as
 * vm_key_event takes them). Ctrl-A starts a command chord for pcvm itself.
 */
#ifndef PCVM_UI_KEYMAP_H
#define PCVM_UI_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

#define KEYMAP_MOD_SHIFT 1u
#define KEYMAP_MOD_CTRL 2u
#define KEYMAP_MOD_ALT 4u

/* Set 1 make codes used outside keymap.c. */
#define KEYMAP_SC_LSHIFT 0x2a
#define KEYMAP_SC_LCTRL 0x1d
#define KEYMAP_SC_LALT 0x38
#define KEYMAP_SC_DELETE 0xe053

enum keymap_cmd {
	KEYMAP_CMD_NONE,
	KEYMAP_CMD_QUIT,    /* Ctrl-A x */
	KEYMAP_CMD_HELP,    /* Ctrl-A h */
	KEYMAP_CMD_STATUS,  /* Ctrl-A s: status line on/off */
};

#define KEYMAP_MAX_EVENTS 16

struct keymap_out {
	int n;
	struct {
		uint16_t code;
		bool down;
	} ev[KEYMAP_MAX_EVENTS];
	enum keymap_cmd cmd;
};

#define KEYMAP_MAX_EXTRA 64

struct keymap {
	bool prefix; /* Ctrl-A seen: the next key is a command */
	/* Terminal key codes learnt at run time (modified arrows and the
	 * like, whose codes ncurses assigns per terminal). */
	struct {
		int code;
		uint16_t scan;
		uint8_t mods;
	} extra[KEYMAP_MAX_EXTRA];
	int nextra;
};

void keymap_init(struct keymap *k);
/* Teaches k a terminal key code: it means scan with mods held. */
void keymap_add(struct keymap *k, int code, uint16_t scan, unsigned mods);

/* Feeds one terminal input: ch is a character (a Unicode code point), or
 * with is_key an ncurses KEY_* code; alt: it came after a lone Escape
 * (how terminals send Alt+key). Fills out (cleared first). */
void keymap_feed(struct keymap *k, int ch, bool is_key, bool alt,
		 struct keymap_out *out);

/* The scancode and modifiers of a printable ASCII character on a US
 * keyboard; false when the character has no key. */
bool keymap_ascii(int c, uint16_t *scan, unsigned *mods);

/* The chord help, one command per line. */
extern const char keymap_help[];

#endif

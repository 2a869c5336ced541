/*
 * The terminal display (ncursesw): draws the VGA screen in the terminal and
 * reads the keyboard from it.
 */
#ifndef PCVM_UI_CURSES_UI_H
#define PCVM_UI_CURSES_UI_H

#include <stdbool.h>
#include <stdint.h>

#include "keymap.h"

struct vga;
struct ui_curses;

/* Takes over the terminal on stdin/stdout. 0 or a negative errno (logged).
 * From here until ui_curses_close, log messages are held back. */
int ui_curses_open(struct ui_curses **out);
/* Gives the terminal back as it was (also on fatal signals: see curses.c). */
void ui_curses_close(struct ui_curses *c);

/* Draws the adapter's current screen; status is the bottom line's text, or
 * NULL for none. */
void ui_curses_draw(struct ui_curses *c, struct vga *v, const char *status);
/* True when the terminal needs a redraw even if the screen did not change
 * (resize, help shown or dismissed). */
bool ui_curses_dirty(const struct ui_curses *c);
/* Shows the chord help over the picture until the next key. */
void ui_curses_show_help(struct ui_curses *c);

/* Reads what the terminal has; for each key, out is filled by the keymap
 * and fn called. */
void ui_curses_read(struct ui_curses *c,
		    void (*fn)(void *opaque, const struct keymap_out *out),
		    void *opaque);

#endif

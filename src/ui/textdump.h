/*
 * The text screen as UTF-8, for people and CI jobs that grep it.
 */
#ifndef PCVM_UI_TEXTDUMP_H
#define PCVM_UI_TEXTDUMP_H

#include <stddef.h>

struct vga;
struct vga_text;

/* One line per text row, CP437 mapped to Unicode by glyph, trailing blanks
 * removed, each line ending in "\n". Returns a malloc'd NUL-terminated
 * string, or NULL when out of memory. */
char *textdump_format(const struct vga_text *t);

/* Writes the adapter's text screen to path (atomically). In graphics modes
 * the file is empty: there is no text to give. 0 or a negative errno. */
int textdump_write(struct vga *v, const char *path);

#endif

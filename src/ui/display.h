/*
 * What a person or a script sees of the machine: the terminal display,
 * screenshots and text dumps of the VGA screen, and the keyboard from the
 * terminal. Built from the --display, --screenshot, --screenshot-every and
 * --screen-text options; all of it reads the adapter through chipset/vga.h.
 */
#ifndef PCVM_UI_DISPLAY_H
#define PCVM_UI_DISPLAY_H

#include <stddef.h>

struct vm;
struct vga;
struct display;

/* How often the terminal is redrawn when the screen changed (virtual time,
 * and never faster than this in host time either). */
#define DISPLAY_REFRESH_HZ 30

/* Sets up the display for vm->cfg. Nothing touches the terminal or writes a
 * file until the machine starts running; the end-of-run files are written
 * when the machine is destroyed (every way pcvm ends), provided it ran. */
int display_create(struct vm *vm, struct vga *vga, struct display **out);

/* Writes the screen now, as PNG or as UTF-8 text (empty in graphics
 * modes). 0 or a negative errno (logged). */
int display_screenshot(struct display *d, const char *path);
int display_screen_text(struct display *d, const char *path);

/* Calls fn (at most DISPLAY_REFRESH_HZ times a second of virtual time)
 * whenever what the screen shows may have changed, e.g. to wait for text.
 * One watcher; fn NULL removes it. */
void display_watch(struct display *d, void (*fn)(void *opaque), void *opaque);

/* --screenshot-every patterns: exactly one integer conversion (%d, %i or
 * %u with optional flags 0-+ and space and a width), other '%' doubled, in
 * the file name rather than the directory part. 0, or -EINVAL with *why set. */
int display_check_pattern(const char *pattern, const char **why);
/* The file name of shot n. */
void display_format_shot(const char *pattern, unsigned n, char *buf, size_t len);

#endif

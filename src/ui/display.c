/*
 * Display glue: timers on the machine's virtual clock that redraw the
 * terminal when the VGA screen changed (the adapter's change counter, so an
 * idle guest costs one comparison per refresh), take the periodic
 * screenshots, and pace synthesized key presses into the keyboard model;
 * and a cleanup hook that writes the end-of-run screenshot and text dump and
 * gives the terminal back. Time is virtual so that, on the deterministic
 * software CPU, the same guest gives the same shots on every run.
 */
#include "display.h"
#include "curses_ui.h"
#include "png.h"
#include "textdump.h"
#include "../chipset/vga.h"
#include "../exitcode.h"
#include "../log.h"
#include "../vm.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY_QUEUE 1024
/* Gap between synthesized key events: the guest's keyboard interrupt
 * handler gets time to take each scancode before the next. */
#define KEY_GAP_NS (2 * NS_PER_MS)

struct display {
	struct vm *vm;
	struct vga *vga;
	const struct vm_config *cfg;
	struct timer start_timer, refresh_timer, shot_timer, key_timer;
	bool started;
	struct ui_curses *curses;
	bool status_line;
	uint64_t last_serial;
	bool drawn;
	uint64_t last_draw_host;
	unsigned shot_n;
	bool shots_failed;
	void (*watch)(void *opaque);
	void *watch_opaque;
	uint64_t watch_serial;
	struct {
		uint16_t code;
		bool down;
	} keys[KEY_QUEUE];
	unsigned khead, ktail;
	struct vga_image img;
};

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t refresh_period(void)
{
	return NS_PER_SEC / DISPLAY_REFRESH_HZ;
}

/* ---- file output ---- */

int display_screenshot(struct display *d, const char *path)
{
	int err = vga_render(d->vga, &d->img);
	if (err == -ENOTSUP) {
		/* nothing displayable (e.g. before the VGA BIOS ran): a
		 * black VGA-sized picture, as a monitor would show */
		uint32_t *black = calloc(640 * 480, sizeof(*black));
		if (!black)
			return -ENOMEM;
		err = ui_png_write(path, black, 640, 480);
		free(black);
		return err;
	}
	if (err) {
		log_error("cannot render the screen for %s: %s", path, strerror(-err));
		return err;
	}
	return ui_png_write(path, d->img.pix, d->img.width, d->img.height);
}

int display_screen_text(struct display *d, const char *path)
{
	return textdump_write(d->vga, path);
}

/* ---- --screenshot-every patterns ---- */

int display_check_pattern(const char *pattern, const char **why)
{
	int convs = 0;
	const char *slash = strrchr(pattern, '/');
	for (const char *p = pattern; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		const char *q = p + 1;
		while (*q && strchr("0-+ ", *q))
			q++;
		int width = 0;
		while (isdigit((unsigned char)*q) && width < 100)
			width = width * 10 + (*q++ - '0');
		if (width >= 100) {
			*why = "the number's width is too large";
			return -EINVAL;
		}
		if (*q != 'd' && *q != 'i' && *q != 'u') {
			*why = "only %d, %i or %u (with flags and a width) may appear; write %% for a '%'";
			return -EINVAL;
		}
		if (slash && p < slash) {
			*why = "the number must be in the file name, not the directory";
			return -EINVAL;
		}
		convs++;
		p = q;
	}
	if (convs != 1) {
		*why = "give exactly one number conversion such as %04d";
		return -EINVAL;
	}
	return 0;
}

void display_format_shot(const char *pattern, unsigned n, char *buf, size_t len)
{
	/* The pattern was checked: one integer conversion, so this is safe. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(buf, len, pattern, n);
#pragma GCC diagnostic pop
}

/* Beside shots/0001.png goes shots/0001.txt. */
static void text_name(const char *png, char *buf, size_t len)
{
	size_t n = strlen(png);
	if (n > 4 && !strcasecmp(png + n - 4, ".png"))
		snprintf(buf, len, "%.*s.txt", (int)(n - 4), png);
	else
		snprintf(buf, len, "%s.txt", png);
}

/* ---- terminal ---- */

static void status_text(struct display *d, char *buf, size_t len)
{
	struct vga_mode m;
	vga_get_mode(d->vga, &m);
	char mode[64];
	if (m.kind == VGA_KIND_TEXT)
		snprintf(mode, sizeof(mode), "text %ux%u", m.cols, m.rows);
	else if (m.kind == VGA_KIND_GRAPHICS)
		snprintf(mode, sizeof(mode), "%s %ux%u, %u bpp", m.vbe ? "VBE" : "VGA",
			 m.width, m.height, m.bpp);
	else
		snprintf(mode, sizeof(mode), "no picture");
	double t = (double)clock_now(d->vm->clock) / NS_PER_SEC;
	snprintf(buf, len, " pcvm | %s | %.1f s | Ctrl-A h: help, Ctrl-A x: quit", mode, t);
}

static void draw(struct display *d)
{
	char status[160];
	if (d->status_line)
		status_text(d, status, sizeof(status));
	ui_curses_draw(d->curses, d->vga, d->status_line ? status : NULL);
	d->drawn = true;
	d->last_draw_host = host_ns();
}

static void on_refresh(void *opaque)
{
	struct display *d = opaque;
	timer_mod(&d->refresh_timer, clock_now(d->vm->clock) + refresh_period());
	/* The watcher (the automation: screen waits, stable timers) hears of
	 * changes on virtual time alone, whatever the host is doing, so a
	 * --deterministic run gives it the same moments on every run. */
	uint64_t serial = vga_poll_changes(d->vga);
	if (d->watch && serial != d->watch_serial) {
		d->watch_serial = serial;
		d->watch(d->watch_opaque);
	}
	if (!d->curses)
		return;
	/* On the software CPU virtual time can run far ahead of the host's;
	 * nobody sees frames faster than this anyway. Only the terminal
	 * depends on host time, and the guest cannot see it. */
	uint64_t now = host_ns();
	if (d->drawn && now - d->last_draw_host < refresh_period())
		return;
	if (!d->drawn || serial != d->last_serial || ui_curses_dirty(d->curses) ||
	    d->status_line) {
		d->last_serial = serial;
		draw(d);
	}
}

static void push_key(struct display *d, uint16_t code, bool down)
{
	unsigned next = (d->ktail + 1) % KEY_QUEUE;
	if (next == d->khead)
		return; /* a paste larger than the queue: the rest is dropped */
	d->keys[d->ktail].code = code;
	d->keys[d->ktail].down = down;
	d->ktail = next;
	if (!timer_pending(&d->key_timer))
		timer_mod(&d->key_timer, clock_now(d->vm->clock));
}

static void on_key_timer(void *opaque)
{
	struct display *d = opaque;
	if (d->khead == d->ktail)
		return;
	vm_key_event(d->vm, d->keys[d->khead].code, d->keys[d->khead].down);
	d->khead = (d->khead + 1) % KEY_QUEUE;
	if (d->khead != d->ktail)
		timer_mod(&d->key_timer, clock_now(d->vm->clock) + KEY_GAP_NS);
}

static void on_keys(void *opaque, const struct keymap_out *out)
{
	struct display *d = opaque;
	for (int i = 0; i < out->n; i++)
		push_key(d, out->ev[i].code, out->ev[i].down);
	switch (out->cmd) {
	case KEYMAP_CMD_QUIT:
		log_info("quit from the terminal (Ctrl-A x)");
		vm_request_stop(d->vm, VM_END_SIGNAL, PCVM_EXIT_SIGNAL_BASE + SIGINT);
		break;
	case KEYMAP_CMD_HELP:
		ui_curses_show_help(d->curses);
		break;
	case KEYMAP_CMD_STATUS:
		d->status_line = !d->status_line;
		d->drawn = false;
		break;
	default:
		break;
	}
	if (out->cmd != KEYMAP_CMD_NONE && out->cmd != KEYMAP_CMD_QUIT)
		draw(d);
}

static void on_input(void *opaque)
{
	struct display *d = opaque;
	if (!d->curses)
		return;
	ui_curses_read(d->curses, on_keys, d);
	if (ui_curses_dirty(d->curses))
		draw(d);
}

/* ---- periodic screenshots ---- */

static void on_shot(void *opaque)
{
	struct display *d = opaque;
	d->shot_n++;
	timer_mod(&d->shot_timer,
		  (uint64_t)((d->shot_n + 1) * d->cfg->shot_every * NS_PER_SEC));
	if (d->shots_failed)
		return;
	char name[PATH_MAX], txt[PATH_MAX + 8];
	display_format_shot(d->cfg->shot_pattern, d->shot_n, name, sizeof(name));
	int err = display_screenshot(d, name);
	if (!err && d->cfg->screen_text) {
		text_name(name, txt, sizeof(txt));
		err = display_screen_text(d, txt);
	}
	if (err) {
		log_error("--screenshot-every: stopping after a failed write");
		d->shots_failed = true;
		timer_del(&d->shot_timer);
	}
}

/* ---- life cycle ---- */

static void on_start(void *opaque)
{
	struct display *d = opaque;
	d->started = true;
	if (d->cfg->display == DISPLAY_CURSES) {
		int err = ui_curses_open(&d->curses);
		if (err) {
			vm_request_stop(d->vm, VM_END_ERROR, PCVM_EXIT_ERROR);
			return;
		}
	}
	if (d->curses || d->watch)
		timer_mod(&d->refresh_timer, clock_now(d->vm->clock));
	if (d->cfg->shot_every > 0)
		timer_mod(&d->shot_timer, (uint64_t)(d->cfg->shot_every * NS_PER_SEC));
}

static void display_end(void *opaque)
{
	struct display *d = opaque;
	timer_del(&d->start_timer);
	timer_del(&d->refresh_timer);
	timer_del(&d->shot_timer);
	timer_del(&d->key_timer);
	if (d->curses) {
		ui_curses_close(d->curses);
		d->curses = NULL;
	}
	/* A machine that never ran has no screen to show. */
	if (d->started) {
		if (d->cfg->screenshot)
			display_screenshot(d, d->cfg->screenshot);
		if (d->cfg->screen_text)
			display_screen_text(d, d->cfg->screen_text);
	}
	vga_image_free(&d->img);
	free(d);
}

void display_watch(struct display *d, void (*fn)(void *opaque), void *opaque)
{
	d->watch = fn;
	d->watch_opaque = opaque;
	d->watch_serial = vga_poll_changes(d->vga);
	if (fn && d->started && !timer_pending(&d->refresh_timer))
		timer_mod(&d->refresh_timer, clock_now(d->vm->clock));
}

int display_create(struct vm *vm, struct vga *vga, struct display **out)
{
	struct display *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	d->vga = vga;
	d->cfg = vm->cfg;
	timer_init(&d->start_timer, vm->clock, on_start, d, "display-start");
	timer_init(&d->refresh_timer, vm->clock, on_refresh, d, "display-refresh");
	timer_init(&d->shot_timer, vm->clock, on_shot, d, "screenshot-every");
	timer_init(&d->key_timer, vm->clock, on_key_timer, d, "keyboard-input");
	int err = vm_add_cleanup_hook(vm, display_end, d);
	if (err) {
		free(d);
		return err;
	}
	if (d->cfg->display == DISPLAY_CURSES &&
	    (err = vm_watch_fd(vm, STDIN_FILENO, on_input, d)))
		return err;
	/* The first timer the run loop fires: the machine is running. */
	timer_mod(&d->start_timer, 0);
	if (out)
		*out = d;
	return 0;
}

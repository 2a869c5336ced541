/*
 * The automation engine behind --until-serial, --until-screen,
 * --until-stable, --timeout, --script and --report (pcvm(1), sections
 * AUTOMATION, SCRIPTS and REPORT).
 *
 * Everything runs on the machine's virtual clock: the timeout, step
 * timeouts, sleeps, the pauses between typed keys and the "screen is
 * stable" delays are timers, and screen changes come from the display's
 * refresh, itself a virtual-time timer. With --deterministic that clock
 * counts instructions, so a script's steps happen at the same instruction
 * on every run. Steps run from a timer callback, never from inside a device
 * callback: a match seen while the CPU writes to COM1 only schedules the
 * next step for the current virtual time.
 *
 * Serial output is matched as it arrives, line by line (carriage returns
 * count as line ends): wait-serial looks at what came after the previous
 * wait-serial's match, --until-serial at everything. The screen is matched
 * as the text --screen-text writes (CP437 as UTF-8, one line per row).
 */
#include "automation.h"
#include "display.h"
#include "report.h"
#include "script.h"
#include "textdump.h"
#include "png.h"
#include "../chipset/acpi.h"
#include "../chipset/ide.h"
#include "../chipset/uart.h"
#include "../chipset/vga.h"
#include "../disk/block.h"
#include "../exitcode.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Serial output kept for matching, and how far back a match may start
 * within the line being received. */
#define SERIAL_KEEP (64u << 10)
#define SERIAL_TRIM (128u << 10)
#define LINE_WINDOW 4096u

enum wait_kind {
	WAIT_NONE,
	WAIT_SERIAL,
	WAIT_SCREEN,
	WAIT_STABLE,
	WAIT_SLEEP,
	WAIT_TYPING,
	WAIT_POWEROFF,
};

struct automation {
	struct vm *vm;
	const struct vm_config *cfg;
	struct script *script;
	struct report report;
	struct timer start_timer, timeout_timer, go_timer, step_timer, key_timer;
	struct timer until_stable_timer, stable_timer;
	bool started, ended;
	uint64_t start_ns; /* virtual time at power-on */

	/* --until-* */
	regex_t until_serial, until_screen;
	bool has_until_serial, has_until_screen;
	bool until_met;

	/* COM1's output, as far as matching needs it. */
	bool need_serial;
	char *ser;
	size_t ser_len, ser_cap;
	size_t line_start;  /* where the line being received starts */
	size_t script_from; /* wait-serial looks from here */
	bool last_cr;
	bool serial_seen;

	/* The screen. */
	bool need_screen;
	bool graphics_seen;
	struct vga_text text;
	struct vga_image img;

	/* The script. */
	int step;           /* the step running or waited on */
	enum wait_kind waiting;
	/* Keys on their way to the keyboard; a type or key step is done once
	 * its last key went down (key_done), the releases follow on their own. */
	struct script_key *keys;
	int nkeys, key_next, keys_cap, key_done;
	bool script_done;
	bool quit_by_script;
	int cd_index;       /* the CD-ROM drive's IDE position, -1: none */

	char *message;      /* why the run ended badly, for the report */
};

/* ---- milestones ---- */

static uint64_t now_ns(struct automation *a)
{
	return clock_now(a->vm->clock);
}

static void milestone(struct automation *a, const char *event, const char *detail, int line)
{
	uint64_t guest = now_ns(a);
	if (report_add(&a->report, event, detail, line, guest))
		log_warn("out of memory: milestone %s not recorded", event);
	if (!log_enabled(LOG_INFO))
		return;
	char where[32] = "";
	if (line)
		snprintf(where, sizeof(where), " (script line %d)", line);
	log_info("milestone %s%s%s%s%s at %.3f s, guest time %.3f s", event,
		 detail ? " '" : "", detail ? detail : "", detail ? "'" : "", where,
		 (double)report_host_ns(&a->report) / 1e9, (double)guest / 1e9);
}

static void set_message(struct automation *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_message(struct automation *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	free(a->message);
	a->message = m;
}

/* ---- what the run waits for, for messages ---- */

static const struct script_step *current_step(const struct automation *a)
{
	if (!a->script || a->script_done || a->step >= a->script->n)
		return NULL;
	return &a->script->step[a->step];
}

static void describe_waits(const struct automation *a, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	buf[0] = 0;
	if (!f)
		return;
	const char *sep = "";
	if (!a->until_met) {
		if (a->has_until_serial) {
			fprintf(f, "--until-serial '%s'", a->cfg->until_serial);
			sep = " or ";
		}
		if (a->has_until_screen) {
			fprintf(f, "%s--until-screen '%s'", sep, a->cfg->until_screen);
			sep = " or ";
		}
		if (a->cfg->until_stable > 0) {
			fprintf(f, "%s--until-stable %g", sep, a->cfg->until_stable);
			sep = " or ";
		}
	}
	const struct script_step *st = current_step(a);
	if (st)
		fprintf(f, "%sscript %s line %d (%s%s%s%s)", *sep ? ", and " : "", a->script->name,
			st->line, script_cmd_name(st->cmd), st->arg ? " '" : "",
			st->arg ? st->arg : "", st->arg ? "'" : "");
	fclose(f);
	buf[len - 1] = 0;
}

/* ---- ending ---- */

static void until_met(struct automation *a, const char *what, const char *detail)
{
	if (a->until_met || a->ended)
		return;
	a->until_met = true;
	milestone(a, what, detail, 0);
	log_info("%s '%s' met: ending", what, detail);
	vm_request_stop(a->vm, VM_END_MET, PCVM_EXIT_OK);
}

static void step_fail(struct automation *a, enum vm_end end, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void step_fail(struct automation *a, enum vm_end end, int status, const char *fmt, ...)
{
	const struct script_step *st = current_step(a);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("--script %s:%d: %s", a->script->name, st ? st->line : 0, msg);
	set_message(a, "script %s line %d: %s", a->script->name, st ? st->line : 0, msg);
	a->waiting = WAIT_NONE;
	timer_del(&a->step_timer);
	timer_del(&a->key_timer);
	vm_request_stop(a->vm, end, status);
}

/* The step waited on is over: go on with the next one from a timer, out
 * of whatever device callback noticed. */
static void step_done(struct automation *a)
{
	a->waiting = WAIT_NONE;
	timer_del(&a->step_timer);
	a->step++;
	timer_mod(&a->go_timer, now_ns(a));
}

/* The first graphics mode: looked for at each display refresh (30 times a
 * second of guest time), serial byte and script step, as the adapter has
 * no mode-change callback. */
static void check_graphics(struct automation *a)
{
	if (a->graphics_seen || !a->vm->vga)
		return;
	struct vga_mode m;
	vga_get_mode(a->vm->vga, &m);
	if (m.kind != VGA_KIND_GRAPHICS)
		return;
	char d[64];
	snprintf(d, sizeof(d), "%s %ux%u, %u bpp", m.vbe ? "VBE" : "VGA", m.width, m.height,
		 m.bpp);
	a->graphics_seen = true;
	milestone(a, "graphics-mode", d, 0);
}

/* ---- serial ---- */

static bool search(const regex_t *re, const char *s, size_t from, size_t to, bool notbol,
		   size_t *match_end)
{
	regmatch_t m[1];
	m[0].rm_so = (regoff_t)from;
	m[0].rm_eo = (regoff_t)to;
	if (regexec(re, s, 1, m, REG_STARTEND | (notbol ? REG_NOTBOL : 0)))
		return false;
	if (match_end)
		*match_end = (size_t)m[0].rm_eo;
	return true;
}

/* wait-serial: looks at what arrived after the previous match, from
 * `from` (the whole pending text when the step starts, else the line being
 * received). */
static void check_script_serial(struct automation *a, size_t from)
{
	const struct script_step *st = current_step(a);
	if (a->waiting != WAIT_SERIAL || !st || !a->ser_len)
		return;
	if (from < a->script_from)
		from = a->script_from;
	bool notbol = from > 0 && a->ser[from - 1] != '\n';
	size_t end;
	if (from < a->ser_len && search(&st->re, a->ser, from, a->ser_len, notbol, &end)) {
		a->script_from = end;
		milestone(a, "wait-serial", st->arg, st->line);
		step_done(a);
	}
}

static void trim_serial(struct automation *a)
{
	size_t keep = a->line_start < a->script_from ? a->line_start : a->script_from;
	if (a->ser_len - keep > SERIAL_KEEP)
		keep = a->ser_len - SERIAL_KEEP;
	if (!keep)
		return;
	memmove(a->ser, a->ser + keep, a->ser_len - keep);
	a->ser_len -= keep;
	a->line_start = a->line_start > keep ? a->line_start - keep : 0;
	a->script_from = a->script_from > keep ? a->script_from - keep : 0;
}

static void on_serial(void *opaque, uint8_t byte)
{
	struct automation *a = opaque;
	if (!a->serial_seen) {
		a->serial_seen = true;
		milestone(a, "first-serial-byte", NULL, 0);
	}
	if (a->need_screen)
		check_graphics(a);
	if (!a->need_serial || a->ended)
		return;
	/* Carriage returns end lines too (progress bars, \r\n); NULs would
	 * end the string regexec sees. */
	bool cr = byte == '\r';
	if (byte == '\n' && a->last_cr) {
		a->last_cr = false;
		return;
	}
	a->last_cr = cr;
	if (cr)
		byte = '\n';
	if (!byte)
		return;
	if (a->ser_len + 2 > a->ser_cap) {
		if (a->ser_len >= SERIAL_TRIM)
			trim_serial(a);
		if (a->ser_len + 2 > a->ser_cap) {
			size_t cap = a->ser_cap ? 2 * a->ser_cap : 4096;
			char *s = realloc(a->ser, cap);
			if (!s)
				return;
			a->ser = s;
			a->ser_cap = cap;
		}
	}
	a->ser[a->ser_len++] = (char)byte;
	a->ser[a->ser_len] = 0;
	if (byte == '\n') {
		a->line_start = a->ser_len;
		return;
	}
	size_t from = a->line_start;
	bool notbol = false;
	if (a->ser_len - from > LINE_WINDOW) {
		from = a->ser_len - LINE_WINDOW;
		notbol = true;
	}
	if (a->has_until_serial && !a->until_met &&
	    search(&a->until_serial, a->ser, from, a->ser_len, notbol, NULL))
		until_met(a, "until-serial", a->cfg->until_serial);
	check_script_serial(a, from);
}

/* ---- screen ---- */

/* The text screen as --screen-text writes it; NULL in graphics modes. */
static char *screen_text(struct automation *a)
{
	if (!a->vm->vga || vga_get_text(a->vm->vga, &a->text))
		return NULL;
	return textdump_format(&a->text);
}

static bool screen_displayable(struct automation *a)
{
	struct vga_mode m;
	if (!a->vm->vga)
		return false;
	vga_get_mode(a->vm->vga, &m);
	return m.kind != VGA_KIND_NONE && !m.blanked;
}

static void check_screen(struct automation *a)
{
	const struct script_step *st = current_step(a);
	bool script_wants = a->waiting == WAIT_SCREEN && st;
	bool until_wants = a->has_until_screen && !a->until_met;
	if (!script_wants && !until_wants)
		return;
	char *text = screen_text(a);
	if (!text)
		return;
	if (until_wants && !regexec(&a->until_screen, text, 0, NULL, 0))
		until_met(a, "until-screen", a->cfg->until_screen);
	if (script_wants && !a->ended && !regexec(&st->re, text, 0, NULL, 0)) {
		milestone(a, "wait-screen", st->arg, st->line);
		step_done(a);
	}
	free(text);
}

static uint64_t stable_ns(double seconds)
{
	return (uint64_t)(seconds * 1e9 + 0.5);
}

static void on_screen_change(void *opaque)
{
	struct automation *a = opaque;
	if (a->ended)
		return;
	uint64_t now = now_ns(a);
	check_graphics(a);
	if (timer_pending(&a->until_stable_timer))
		timer_mod(&a->until_stable_timer, now + stable_ns(a->cfg->until_stable));
	if (a->waiting == WAIT_STABLE)
		timer_mod(&a->stable_timer, now + current_step(a)->ns);
	check_screen(a);
}

static void on_until_stable(void *opaque)
{
	struct automation *a = opaque;
	if (!screen_displayable(a)) {
		timer_mod(&a->until_stable_timer, now_ns(a) + stable_ns(a->cfg->until_stable));
		return;
	}
	char d[32];
	snprintf(d, sizeof(d), "%g", a->cfg->until_stable);
	until_met(a, "until-stable", d);
}

static void on_stable(void *opaque)
{
	struct automation *a = opaque;
	const struct script_step *st = current_step(a);
	if (a->waiting != WAIT_STABLE || !st)
		return;
	if (!screen_displayable(a)) {
		timer_mod(&a->stable_timer, now_ns(a) + st->ns);
		return;
	}
	milestone(a, "wait-stable", st->arg, st->line);
	step_done(a);
}

/* ---- script steps ---- */

static void on_key(void *opaque)
{
	struct automation *a = opaque;
	if (a->key_next >= a->nkeys)
		return;
	vm_key_event(a->vm, a->keys[a->key_next].code, a->keys[a->key_next].down);
	a->key_next++;
	if (a->waiting == WAIT_TYPING && a->key_next >= a->key_done)
		step_done(a);
	if (a->key_next < a->nkeys)
		timer_mod(&a->key_timer, now_ns(a) + AUTOMATION_KEY_GAP_NS);
	else
		a->nkeys = a->key_next = 0;
}

/* Queues a step's keys behind any still on their way. */
static int queue_keys(struct automation *a, const struct script_step *st)
{
	if (a->nkeys + st->nkeys > a->keys_cap) {
		int cap = a->nkeys + st->nkeys + 64;
		struct script_key *k = realloc(a->keys, (size_t)cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		a->keys = k;
		a->keys_cap = cap;
	}
	int last_down = 0;
	for (int i = 0; i < st->nkeys; i++)
		if (st->keys[i].down)
			last_down = i;
	memcpy(a->keys + a->nkeys, st->keys, (size_t)st->nkeys * sizeof(*st->keys));
	a->key_done = a->nkeys + last_down + 1;
	a->nkeys += st->nkeys;
	if (!timer_pending(&a->key_timer))
		timer_mod(&a->key_timer, now_ns(a));
	return 0;
}

static void on_step_timer(void *opaque)
{
	struct automation *a = opaque;
	const struct script_step *st = current_step(a);
	if (!st)
		return;
	switch (a->waiting) {
	case WAIT_SLEEP:
		step_done(a);
		return;
	case WAIT_SERIAL:
	case WAIT_SCREEN:
		step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT, "%s '%s': not seen within %g s",
			  script_cmd_name(st->cmd), st->arg, (double)st->timeout_ns / 1e9);
		return;
	case WAIT_STABLE:
		step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT,
			  "wait-stable %s: the screen kept changing for %g s",
			  st->arg, (double)st->timeout_ns / 1e9);
		return;
	case WAIT_POWEROFF:
		step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT,
			  "%s: the guest did not power off within %g s%s", script_cmd_name(st->cmd),
			  (double)st->timeout_ns / 1e9,
			  st->cmd == SCRIPT_POWEROFF ? " of the power button press" : "");
		return;
	default:
		return;
	}
}

static void wait_for(struct automation *a, enum wait_kind kind, uint64_t timeout_ns)
{
	a->waiting = kind;
	if (timeout_ns)
		timer_mod(&a->step_timer, now_ns(a) + timeout_ns);
}

static void write_failed(struct automation *a, const char *cmd, const char *path)
{
	step_fail(a, VM_END_ERROR, PCVM_EXIT_ERROR, "%s %s: could not write it (see above)",
		  cmd, path);
}

/* The screen as a picture, as --screenshot writes it. */
static int render(struct automation *a)
{
	int err = vga_render(a->vm->vga, &a->img);
	if (err != -ENOTSUP)
		return err;
	/* no displayable mode: black, as display_screenshot writes it */
	const unsigned w = 640, h = 480;
	if (a->img.cap < (size_t)w * h) {
		uint32_t *p = realloc(a->img.pix, (size_t)w * h * sizeof(*p));
		if (!p)
			return -ENOMEM;
		a->img.pix = p;
		a->img.cap = (size_t)w * h;
	}
	memset(a->img.pix, 0, (size_t)w * h * sizeof(uint32_t));
	a->img.width = w;
	a->img.height = h;
	return 0;
}

static void expect_screen(struct automation *a, const struct script_step *st)
{
	int err = render(a);
	if (err) {
		step_fail(a, VM_END_ERROR, PCVM_EXIT_ERROR, "expect-screen: cannot render the "
			  "screen: %s", strerror(-err));
		return;
	}
	unsigned w = a->img.width, h = a->img.height;
	if (w != st->ref.w || h != st->ref.h) {
		bool saved = !ui_png_write(st->actual_path, a->img.pix, w, h);
		step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT,
			  "expect-screen %s: the screen is %ux%u, the reference %ux%u%s%s",
			  st->arg, w, h, st->ref.w, st->ref.h,
			  saved ? "; wrote the screen to " : "", saved ? st->actual_path : "");
		return;
	}
	uint32_t *diff = malloc((size_t)w * h * sizeof(*diff));
	uint64_t compared;
	uint64_t differ = screencmp_compare(a->img.pix, st->ref.pix, w, h, st->ignore,
					    st->nignore, diff, &compared);
	double allowed = st->tolerance_pct ? (double)compared * st->tolerance / 100
					   : st->tolerance;
	if ((double)differ <= allowed) {
		free(diff);
		milestone(a, "expect-screen", st->arg, st->line);
		return;
	}
	bool saved = !ui_png_write(st->actual_path, a->img.pix, w, h) && diff &&
		     !ui_png_write(st->diff_path, diff, w, h);
	free(diff);
	step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT,
		  "expect-screen %s: %llu of %llu pixels differ (%.3f%%), more than the "
		  "tolerance of %g%s%s%s%s%s", st->arg, (unsigned long long)differ,
		  (unsigned long long)compared, compared ? 100.0 * (double)differ / (double)compared : 0,
		  st->tolerance, st->tolerance_pct ? "%" : " pixels",
		  saved ? "; wrote the screen to " : "", saved ? st->actual_path : "",
		  saved ? " and the differences in red to " : "", saved ? st->diff_path : "");
}

static void change_cd(struct automation *a, const struct script_step *st)
{
	struct ide *ide = ide_find(a->vm);
	struct block *b = NULL;
	if (!ide) {
		step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT, "%s: the machine has no IDE "
			  "controller", script_cmd_name(st->cmd));
		return;
	}
	if (st->cmd == SCRIPT_SWAP_CDROM) {
		struct block_open_opts o = { .readonly = true };
		if (block_open(&b, st->path, &o)) {
			step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT, "swap-cdrom %s: cannot open "
				  "it (see above)", st->arg);
			return;
		}
	}
	int err = ide_cdrom_change(ide, a->cd_index, b, st->force);
	if (err) {
		if (b)
			block_close(b);
		if (err == -EBUSY)
			step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT, "%s: the guest has locked "
				  "the CD-ROM tray (it was asked to eject); add 'force' to change "
				  "the disc anyway", script_cmd_name(st->cmd));
		else
			step_fail(a, VM_END_SCRIPT, PCVM_EXIT_SCRIPT, "%s: %s",
				  script_cmd_name(st->cmd), strerror(-err));
		return;
	}
	log_info("script line %d: %s", st->line,
		 b ? "new disc in the CD-ROM drive" : "CD-ROM ejected");
}

/* Runs steps from the current one until one has to wait. */
static void run_steps(struct automation *a)
{
	while (!a->ended && a->vm->end == VM_END_NONE && a->waiting == WAIT_NONE) {
		const struct script_step *st = current_step(a);
		if (a->need_screen)
			check_graphics(a);
		if (!st) {
			if (a->script && !a->script_done) {
				a->script_done = true;
				milestone(a, "script-done", NULL, 0);
				log_info("--script %s: done", a->script->name);
				vm_request_stop(a->vm, VM_END_MET, PCVM_EXIT_OK);
			}
			return;
		}
		switch (st->cmd) {
		case SCRIPT_WAIT_SERIAL:
			wait_for(a, WAIT_SERIAL, st->timeout_ns);
			check_script_serial(a, a->script_from);
			return;
		case SCRIPT_WAIT_SCREEN:
			wait_for(a, WAIT_SCREEN, st->timeout_ns);
			check_screen(a);
			return;
		case SCRIPT_WAIT_STABLE:
			wait_for(a, WAIT_STABLE, st->timeout_ns);
			timer_mod(&a->stable_timer, now_ns(a) + st->ns);
			return;
		case SCRIPT_SLEEP:
			wait_for(a, WAIT_SLEEP, 0);
			timer_mod(&a->step_timer, now_ns(a) + st->ns);
			return;
		case SCRIPT_TYPE:
		case SCRIPT_KEY:
			if (queue_keys(a, st)) {
				step_fail(a, VM_END_ERROR, PCVM_EXIT_ERROR, "out of memory");
				return;
			}
			wait_for(a, WAIT_TYPING, 0);
			return;
		case SCRIPT_POWEROFF:
			log_info("script line %d: pressing the power button", st->line);
			if (a->vm->acpi)
				acpi_pm_power_button(a->vm->acpi);
			/* fall through */
		case SCRIPT_WAIT_POWEROFF:
			wait_for(a, WAIT_POWEROFF, st->timeout_ns);
			return;
		case SCRIPT_SCREENSHOT:
		case SCRIPT_SCREEN_TEXT:
		case SCRIPT_EXPECT_SCREEN:
			if (!a->vm->display || !a->vm->vga) {
				step_fail(a, VM_END_ERROR, PCVM_EXIT_ERROR, "%s: this machine has "
					  "no screen", script_cmd_name(st->cmd));
				return;
			}
			if (st->cmd == SCRIPT_EXPECT_SCREEN)
				expect_screen(a, st);
			else if (st->cmd == SCRIPT_SCREEN_TEXT &&
				 display_screen_text(a->vm->display, st->path))
				write_failed(a, "screen-text", st->path);
			else if (st->cmd == SCRIPT_SCREENSHOT &&
				 display_screenshot(a->vm->display, st->path))
				write_failed(a, "screenshot", st->path);
			break;
		case SCRIPT_MARK:
			milestone(a, "mark", st->arg, st->line);
			break;
		case SCRIPT_SWAP_CDROM:
		case SCRIPT_EJECT:
			change_cd(a, st);
			break;
		case SCRIPT_QUIT:
			log_info("script line %d: quit %d", st->line, st->status);
			a->quit_by_script = true;
			a->script_done = true;
			vm_request_stop(a->vm, VM_END_EXIT, st->status);
			return;
		}
		if (a->vm->end == VM_END_NONE)
			a->step++;
	}
}

static void on_go(void *opaque)
{
	run_steps(opaque);
}

/* ---- start, timeout, reset, end ---- */

static void on_boot_sector(void *opaque)
{
	struct automation *a = opaque;
	milestone(a, "boot-sector", NULL, 0);
}

static void watch_boot_sector(struct automation *a)
{
	struct vcpu *cpu = a->vm->cpu;
	if (cpu && cpu->ops->watch_exec)
		cpu->ops->watch_exec(cpu, 0x7c00, on_boot_sector, a);
}

static void on_reset(void *opaque)
{
	struct automation *a = opaque;
	if (!a->started)
		return;
	milestone(a, "reset", NULL, 0);
	watch_boot_sector(a);
}

/* shot.png -> shot.txt */
static char *text_beside(const char *png)
{
	char *txt;
	size_t n = strlen(png);
	if (n > 4 && !strcasecmp(png + n - 4, ".png"))
		n -= 4;
	if (asprintf(&txt, "%.*s.txt", (int)n, png) < 0)
		return NULL;
	return txt;
}

/* When screenshots were asked for, a timeout keeps the last screen as a
 * picture and as text: --screenshot's PNG (written as the machine ends)
 * with the text beside it, unless --screen-text names its file; with only
 * --screenshot-every, one more shot in its series. Returns a description
 * for the message, or "" when there is nothing to keep. */
static void keep_last_screen(struct automation *a, char *msg, size_t len)
{
	const struct vm_config *cfg = a->cfg;
	struct display *d = a->vm->display;
	char *png = NULL, *txt = NULL;
	msg[0] = 0;
	if (!d)
		return;
	if (cfg->screenshot) {
		if (!cfg->screen_text && (txt = text_beside(cfg->screenshot)))
			display_screen_text(d, txt);
		snprintf(msg, len, "; the last screen goes to %s and %s", cfg->screenshot,
			 txt ? txt : cfg->screen_text ? cfg->screen_text : "");
	} else if (cfg->shot_every > 0) {
		/* shot n is taken at n * SECONDS: this is the one after the last */
		char name[PATH_MAX];
		double n = (double)now_ns(a) / 1e9 / cfg->shot_every;
		display_format_shot(cfg->shot_pattern, (unsigned)n + 1, name, sizeof(name));
		png = strdup(name);
		if (png && !display_screenshot(d, png) && (txt = text_beside(png)) &&
		    !display_screen_text(d, txt))
			snprintf(msg, len, "; the last screen is in %s and %s", png, txt);
	}
	free(png);
	free(txt);
}

static void on_timeout(void *opaque)
{
	struct automation *a = opaque;
	char waits[1024], shots[PATH_MAX * 2 + 64];
	describe_waits(a, waits, sizeof(waits));
	keep_last_screen(a, shots, sizeof(shots));
	log_error("timed out after %g s%s%s%s%s", a->cfg->timeout,
		  a->cfg->deterministic ? " of guest time" : "",
		  *waits ? " waiting for " : "", waits, shots);
	set_message(a, "timed out after %g s%s%s", a->cfg->timeout, *waits ? " waiting for " : "",
		    waits);
	vm_request_stop(a->vm, VM_END_TIMEOUT, PCVM_EXIT_TIMEOUT);
}

static void on_start(void *opaque)
{
	struct automation *a = opaque;
	struct vm *vm = a->vm;
	a->started = true;
	a->start_ns = now_ns(a);
	report_start(&a->report);
	milestone(a, "first-instruction", NULL, 0);
	if (a->cfg->kernel)
		milestone(a, "kernel-entry", a->cfg->kernel, 0);
	if (vm->com1)
		uart_set_tap(vm->com1, on_serial, a);
	watch_boot_sector(a);
	if (a->need_screen && vm->display)
		display_watch(vm->display, on_screen_change, a);
	if (a->cfg->timeout > 0)
		timer_mod(&a->timeout_timer, a->start_ns + stable_ns(a->cfg->timeout));
	if (a->cfg->until_stable > 0)
		timer_mod(&a->until_stable_timer, a->start_ns + stable_ns(a->cfg->until_stable));
	if (a->script)
		run_steps(a);
}

static const char *end_reason(const struct automation *a, const struct vm_result *res)
{
	switch (res->end) {
	case VM_END_POWEROFF: return "poweroff";
	case VM_END_EXIT: return a->quit_by_script ? "quit" : "debug-exit";
	case VM_END_TIMEOUT: return "timeout";
	case VM_END_REBOOT: return "reboot";
	case VM_END_TRIPLE_FAULT: return "triple-fault";
	case VM_END_SIGNAL: return "signal";
	case VM_END_MET: return a->script_done && !a->until_met ? "script-done" : "condition";
	case VM_END_SCRIPT: return "script-failed";
	case VM_END_ERROR: return "error";
	default: return "none";
	}
}

static void on_end(void *opaque, struct vm_result *res)
{
	struct automation *a = opaque;
	a->ended = true;
	timer_del(&a->key_timer);
	if (!a->started)
		return;
	if (res->end == VM_END_POWEROFF) {
		milestone(a, "poweroff", NULL, 0);
		const struct script_step *st = current_step(a);
		bool script_waits = st && a->waiting != WAIT_POWEROFF;
		bool until_waits = !a->until_met && (a->has_until_serial || a->has_until_screen ||
						      a->cfg->until_stable > 0);
		if (script_waits || until_waits) {
			char waits[1024];
			describe_waits(a, waits, sizeof(waits));
			log_error("the guest powered off while pcvm waited for %s", waits);
			set_message(a, "the guest powered off while pcvm waited for %s", waits);
			res->status = PCVM_EXIT_POWEROFF_EARLY;
		} else if (st) {
			a->script_done = true;
		}
	}
	if (!a->cfg->report)
		return;
	struct vcpu *cpu = a->vm->cpu;
	struct vcpu_stat stats[64];
	struct report_end e = {
		.reason = end_reason(a, res),
		.status = res->status,
		.message = a->message,
		.host_ns = report_host_ns(&a->report),
		.guest_ns = now_ns(a),
		.backend = cpu ? cpu->ops->name : NULL,
		.deterministic = a->cfg->deterministic,
		.stats = stats,
	};
	if (cpu && cpu->ops->icount) {
		e.icount = cpu->ops->icount(cpu);
		e.have_icount = e.icount > 0;
	}
	if (cpu && cpu->ops->stats) {
		e.nstats = cpu->ops->stats(cpu, stats, (int)(sizeof(stats) / sizeof(stats[0])));
		if (e.nstats < 0)
			e.nstats = 0;
	}
	if (report_write(&a->report, &e, a->cfg->report) && res->status == PCVM_EXIT_OK)
		res->status = PCVM_EXIT_ERROR;
}

static void automation_free(void *opaque)
{
	struct automation *a = opaque;
	timer_del(&a->start_timer);
	timer_del(&a->timeout_timer);
	timer_del(&a->go_timer);
	timer_del(&a->step_timer);
	timer_del(&a->key_timer);
	timer_del(&a->until_stable_timer);
	timer_del(&a->stable_timer);
	if (a->has_until_serial)
		regfree(&a->until_serial);
	if (a->has_until_screen)
		regfree(&a->until_screen);
	script_free(a->script);
	report_free(&a->report);
	vga_text_free(&a->text);
	vga_image_free(&a->img);
	free(a->ser);
	free(a->keys);
	free(a->message);
	free(a);
}

static int cd_drive_index(const struct vm_config *cfg)
{
	bool pos2_taken = false;
	for (int i = 0; i < cfg->ndrives; i++) {
		if (cfg->drives[i].media == DRIVE_CDROM)
			return cfg->drives[i].index;
		pos2_taken |= cfg->drives[i].index == 2;
	}
	/* the board's empty CD-ROM drive at the secondary master */
	return pos2_taken ? -1 : 2;
}

static int compile_until(const char *opt, const char *re, regex_t *out)
{
	int rc = regcomp(out, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
	if (rc) {
		char msg[256];
		regerror(rc, out, msg, sizeof(msg));
		log_error("%s '%s': bad regular expression (%s); write a POSIX extended "
			  "regular expression", opt, re, msg);
		return -EINVAL;
	}
	return 0;
}

int automation_create(struct vm *vm, struct automation **out)
{
	const struct vm_config *cfg = vm->cfg;
	struct automation *a = calloc(1, sizeof(*a));
	if (!a) {
		script_free(cfg->script);
		return -ENOMEM;
	}
	a->vm = vm;
	a->cfg = cfg;
	a->script = cfg->script;
	a->cd_index = cd_drive_index(cfg);
	int err = vm_add_cleanup_hook(vm, automation_free, a);
	if (err) {
		automation_free(a);
		return err;
	}
	timer_init(&a->start_timer, vm->clock, on_start, a, "automation-start");
	timer_init(&a->timeout_timer, vm->clock, on_timeout, a, "timeout");
	timer_init(&a->go_timer, vm->clock, on_go, a, "script");
	timer_init(&a->step_timer, vm->clock, on_step_timer, a, "script-step");
	timer_init(&a->key_timer, vm->clock, on_key, a, "script-keys");
	timer_init(&a->until_stable_timer, vm->clock, on_until_stable, a, "until-stable");
	timer_init(&a->stable_timer, vm->clock, on_stable, a, "wait-stable");
	if (cfg->until_serial) {
		if ((err = compile_until("--until-serial", cfg->until_serial, &a->until_serial)))
			return err;
		a->has_until_serial = true;
	}
	if (cfg->until_screen) {
		if ((err = compile_until("--until-screen", cfg->until_screen, &a->until_screen)))
			return err;
		a->has_until_screen = true;
	}
	a->need_serial = a->has_until_serial;
	/* Milestones need the screen (the first graphics mode) only when
	 * someone will see them. */
	a->need_screen = a->has_until_screen || cfg->until_stable > 0 || cfg->report ||
			 log_enabled(LOG_INFO);
	for (int i = 0; a->script && i < a->script->n; i++) {
		const struct script_step *st = &a->script->step[i];
		a->need_serial |= st->cmd == SCRIPT_WAIT_SERIAL;
		a->need_screen |= st->cmd == SCRIPT_WAIT_SCREEN || st->cmd == SCRIPT_WAIT_STABLE;
		if ((st->cmd == SCRIPT_SWAP_CDROM || st->cmd == SCRIPT_EJECT) && a->cd_index < 0) {
			log_error("--script %s:%d: %s: the machine has no CD-ROM drive (a hard "
				  "disk took IDE position 2); keep a drive with media=cdrom",
				  a->script->name, st->line, script_cmd_name(st->cmd));
			return -EINVAL;
		}
	}
	if ((err = vm_add_reset_hook(vm, on_reset, a)) ||
	    (err = vm_add_end_hook(vm, on_end, a)))
		return err;
	/* Armed before any device's timer: at power-on this fires first. */
	timer_mod(&a->start_timer, 0);
	if (out)
		*out = a;
	return 0;
}

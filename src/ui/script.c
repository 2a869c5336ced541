/*
 * The --script reader: splits lines into words, checks every command and
 * its arguments, compiles regular expressions (POSIX extended, REG_NEWLINE:
 * ^ and $ work per line), turns typed text and key chords into PC/AT
 * scancode set 1 events (the US layout of keymap.c), loads reference
 * pictures, and checks that output files can be written. Everything that
 * can be wrong with a script is found here, before the guest starts.
 */
#include "script.h"
#include "keymap.h"
#include "writefile.h"
#include "../chipset/kbc.h"
#include "../log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SCRIPT_SIZE (1u << 20)
#define MAX_WORDS 32
#define MAX_CHORD_KEYS 8

static const struct {
	const char *name;
	enum script_cmd cmd;
	int min_args, max_args;
	const char *usage;
} commands[] = {
	{ "wait-serial", SCRIPT_WAIT_SERIAL, 1, 2, "wait-serial REGEX [TIMEOUT]" },
	{ "wait-screen", SCRIPT_WAIT_SCREEN, 1, 2, "wait-screen REGEX [TIMEOUT]" },
	{ "wait-stable", SCRIPT_WAIT_STABLE, 1, 2, "wait-stable SECONDS [TIMEOUT]" },
	{ "type", SCRIPT_TYPE, 1, 1, "type TEXT (quote TEXT if it has blanks)" },
	{ "key", SCRIPT_KEY, 1, MAX_WORDS - 1, "key CHORD... (e.g. key ctrl-alt-delete)" },
	{ "sleep", SCRIPT_SLEEP, 1, 1, "sleep SECONDS" },
	{ "screenshot", SCRIPT_SCREENSHOT, 1, 1, "screenshot FILE.png" },
	{ "screen-text", SCRIPT_SCREEN_TEXT, 1, 1, "screen-text FILE" },
	{ "expect-screen", SCRIPT_EXPECT_SCREEN, 1, 2 + SCRIPT_MAX_IGNORE,
	  "expect-screen FILE.png [TOLERANCE] [ignore=X,Y,W,H]..." },
	{ "mark", SCRIPT_MARK, 1, 1, "mark NAME" },
	{ "swap-cdrom", SCRIPT_SWAP_CDROM, 1, 2, "swap-cdrom FILE [force]" },
	{ "eject", SCRIPT_EJECT, 0, 1, "eject [force]" },
	{ "poweroff", SCRIPT_POWEROFF, 0, 1, "poweroff [TIMEOUT]" },
	{ "wait-poweroff", SCRIPT_WAIT_POWEROFF, 0, 1, "wait-poweroff [TIMEOUT]" },
	{ "quit", SCRIPT_QUIT, 1, 1, "quit STATUS" },
};

#define NCOMMANDS (int)(sizeof(commands) / sizeof(commands[0]))

const char *script_cmd_name(enum script_cmd cmd)
{
	for (int i = 0; i < NCOMMANDS; i++)
		if (commands[i].cmd == cmd)
			return commands[i].name;
	return "?";
}

/* ---- keys ---- */

static const struct {
	const char *name;
	uint16_t code;
} named_keys[] = {
	{ "esc", 0x01 }, { "escape", 0x01 }, { "backspace", 0x0e }, { "tab", 0x0f },
	{ "enter", 0x1c }, { "return", 0x1c }, { "space", 0x39 }, { "minus", 0x0c },
	{ "capslock", 0x3a }, { "numlock", 0x45 }, { "scrolllock", 0x46 },
	{ "f1", 0x3b }, { "f2", 0x3c }, { "f3", 0x3d }, { "f4", 0x3e }, { "f5", 0x3f },
	{ "f6", 0x40 }, { "f7", 0x41 }, { "f8", 0x42 }, { "f9", 0x43 }, { "f10", 0x44 },
	{ "f11", 0x57 }, { "f12", 0x58 },
	{ "kp-enter", 0xe01c }, { "printscreen", 0xe037 }, { "sysrq", 0xe037 },
	{ "home", 0xe047 }, { "up", 0xe048 }, { "pageup", 0xe049 }, { "pgup", 0xe049 },
	{ "left", 0xe04b }, { "right", 0xe04d }, { "end", 0xe04f }, { "down", 0xe050 },
	{ "pagedown", 0xe051 }, { "pgdn", 0xe051 }, { "insert", 0xe052 }, { "ins", 0xe052 },
	{ "delete", 0xe053 }, { "del", 0xe053 }, { "menu", 0xe05d },
	{ "pause", KBC_KEY_PAUSE },
};

static const struct {
	const char *name;
	uint16_t code;
} modifiers[] = {
	{ "ctrl", 0x1d }, { "control", 0x1d }, { "alt", 0x38 }, { "shift", 0x2a },
	{ "rctrl", 0xe01d }, { "ralt", 0xe038 }, { "altgr", 0xe038 }, { "rshift", 0x36 },
	{ "super", 0xe05b }, { "win", 0xe05b }, { "meta", 0xe05b },
};

static int lookup_key(const char *name, size_t len, uint16_t *code, unsigned *mods)
{
	*mods = 0;
	for (size_t i = 0; i < sizeof(named_keys) / sizeof(named_keys[0]); i++)
		if (strlen(named_keys[i].name) == len && !strncasecmp(named_keys[i].name, name, len)) {
			*code = named_keys[i].code;
			return 0;
		}
	if (len == 1) {
		int c = (unsigned char)name[0];
		/* a chord names keys, so ctrl-C is the C key, not Shift+C */
		if (isalpha(c))
			c = tolower(c);
		if (c != ' ' && keymap_ascii(c, code, mods))
			return 0;
	}
	return -EINVAL;
}

static int lookup_modifier(const char *name, size_t len, uint16_t *code)
{
	for (size_t i = 0; i < sizeof(modifiers) / sizeof(modifiers[0]); i++)
		if (strlen(modifiers[i].name) == len && !strncasecmp(modifiers[i].name, name, len)) {
			*code = modifiers[i].code;
			return 0;
		}
	return -EINVAL;
}

static int put_key(struct script_key *out, int max, int n, uint16_t code, bool down)
{
	if (out) {
		if (n >= max)
			return -ENOSPC;
		out[n].code = code;
		out[n].down = down;
	}
	return n + 1;
}

int script_parse_chord(const char *chord, struct script_key *out, int max,
		       const char **why)
{
	uint16_t held[MAX_CHORD_KEYS];
	int nheld = 0;
	const char *p = chord;
	if (!*p) {
		*why = "empty key chord";
		return -EINVAL;
	}
	for (;;) {
		/* The last part is the key; a '-' right after a separator is
		 * the minus key itself (ctrl--). */
		size_t len = strcspn(p, "-");
		if (!len && *p == '-')
			len = 1;
		bool last = !p[len];
		uint16_t code;
		unsigned mods;
		if (!last) {
			if (lookup_modifier(p, len, &code)) {
				*why = "unknown modifier (use ctrl, alt, shift, altgr, super, rctrl, "
				       "ralt, rshift) or key name";
				return -EINVAL;
			}
			if (nheld == MAX_CHORD_KEYS) {
				*why = "too many modifiers";
				return -EINVAL;
			}
			held[nheld++] = code;
			p += len + 1;
			if (!*p) {
				*why = "the chord ends with '-'; name a key after the modifiers";
				return -EINVAL;
			}
			continue;
		}
		if (lookup_key(p, len, &code, &mods) && lookup_modifier(p, len, &code)) {
			*why = "unknown key (use a letter, digit or punctuation character, or "
			       "enter, tab, esc, backspace, space, delete, insert, home, end, "
			       "pageup, pagedown, up, down, left, right, f1-f12, ...)";
			return -EINVAL;
		}
		if ((mods & KEYMAP_MOD_SHIFT) && nheld < MAX_CHORD_KEYS)
			held[nheld++] = KEYMAP_SC_LSHIFT;
		int n = 0;
		for (int i = 0; i < nheld && n >= 0; i++)
			n = put_key(out, max, n, held[i], true);
		if (n >= 0)
			n = put_key(out, max, n, code, true);
		if (n >= 0)
			n = put_key(out, max, n, code, false);
		for (int i = nheld - 1; i >= 0 && n >= 0; i--)
			n = put_key(out, max, n, held[i], false);
		if (n < 0)
			*why = "too many key events";
		return n < 0 ? -EINVAL : n;
	}
}

int script_parse_text(const char *text, struct script_key *out, int max,
		      const char **why)
{
	int n = 0;
	for (const char *p = text; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '\\') {
			switch (*++p) {
			case 'n': case 'r': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'e': c = 0x1b; break;
			case 'b': c = '\b'; break;
			case '\\': case '\'': case '"': c = (unsigned char)*p; break;
			case 0:
				*why = "TEXT ends with a lone backslash; write \\\\ for one";
				return -EINVAL;
			default:
				*why = "unknown escape; use \\n (Enter), \\t (Tab), \\e (Esc), "
				       "\\b (Backspace), \\\\, \\' or \\\"";
				return -EINVAL;
			}
		} else if (c < 0x20 || c > 0x7e) {
			*why = "only printable ASCII can be typed (a US keyboard); use the "
			       "escapes \\n, \\t, \\e, \\b for Enter, Tab, Esc, Backspace";
			return -EINVAL;
		}
		uint16_t code;
		unsigned mods;
		if (!keymap_ascii(c, &code, &mods)) {
			*why = "a character in TEXT has no key on a US keyboard";
			return -EINVAL;
		}
		if (mods & KEYMAP_MOD_SHIFT)
			n = put_key(out, max, n, KEYMAP_SC_LSHIFT, true);
		if (n >= 0)
			n = put_key(out, max, n, code, true);
		if (n >= 0)
			n = put_key(out, max, n, code, false);
		if (n >= 0 && (mods & KEYMAP_MOD_SHIFT))
			n = put_key(out, max, n, KEYMAP_SC_LSHIFT, false);
		if (n < 0) {
			*why = "too many key events";
			return -EINVAL;
		}
	}
	return n;
}

int script_parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	double unit = 1e9;
	if (!strcmp(end, "ms"))
		unit = 1e6;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		unit = 60e9;
	else if (!strcmp(end, "h"))
		unit = 3600e9;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	double t = v * unit;
	if (t > 1e7 * 1e9) /* more than 115 days: surely a typo */
		return -EINVAL;
	*ns = (uint64_t)llround(t);
	return 0;
}

/* ---- parsing ---- */

struct parser {
	const char *name;
	const char *refdir;
	int line;
	bool failed;
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("--script %s:%d: %s", ps->name, ps->line, msg);
	ps->failed = true;
	return -EINVAL;
}

/* Splits line (modified in place) into words. */
static int split_words(struct parser *ps, char *line, char **words)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == MAX_WORDS)
			return fail(ps, "too many words (at most %d)", MAX_WORDS);
		if (*p == '\'' || *p == '"') {
			char q = *p++;
			char *end = strchr(p, q);
			if (!end)
				return fail(ps, "%c-quoted text does not end on this line; close "
					    "it with %c", q, q);
			*end = 0;
			words[n++] = p;
			p = end + 1;
			if (*p && *p != ' ' && *p != '\t')
				return fail(ps, "text right after a closing quote; leave a blank "
					    "between words");
			continue;
		}
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
}

static char *resolve_input(const struct parser *ps, const char *file)
{
	char *out;
	if (file[0] == '/' || !ps->refdir || !*ps->refdir || !strcmp(ps->refdir, "."))
		out = strdup(file);
	else if (asprintf(&out, "%s/%s", ps->refdir, file) < 0)
		out = NULL;
	return out;
}

static int check_readable(struct parser *ps, const char *cmd, const char *arg,
			  const char *path, const char *what)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		if (strcmp(path, arg))
			return fail(ps, "%s %s: %s (looked for %s, beside the script); give an "
				    "existing %s", cmd, arg, strerror(e), path, what);
		return fail(ps, "%s %s: %s; give an existing %s", cmd, arg, strerror(e), what);
	}
	if (!S_ISREG(st.st_mode))
		return fail(ps, "%s %s: not a regular file; give %s", cmd, arg, what);
	if (access(path, R_OK) < 0)
		return fail(ps, "%s %s: %s; fix its permissions", cmd, arg, strerror(errno));
	return 0;
}

static int check_writable(struct parser *ps, const char *cmd, const char *path)
{
	const char *why;
	if (ui_check_writable(path, &why))
		return fail(ps, "%s %s: %s; give a file in a writable directory", cmd, path, why);
	return 0;
}

static int parse_timeout(struct parser *ps, struct script_step *st, const char *cmd,
			 const char *arg)
{
	if (script_parse_duration(arg, &st->timeout_ns) || !st->timeout_ns)
		return fail(ps, "%s: TIMEOUT '%s' is not a duration; give seconds (e.g. 30, "
			    "1.5, 500ms, 10m)", cmd, arg);
	return 0;
}

static int parse_regex(struct parser *ps, struct script_step *st, const char *cmd,
		       const char *re)
{
	int rc = regcomp(&st->re, re, REG_EXTENDED | REG_NEWLINE);
	if (rc) {
		char msg[256];
		regerror(rc, &st->re, msg, sizeof(msg));
		return fail(ps, "%s '%s': bad regular expression (%s); write a POSIX extended "
			    "regular expression", cmd, re, msg);
	}
	st->has_re = true;
	if (!*re)
		return fail(ps, "%s: empty REGEX; give the text to wait for", cmd);
	return 0;
}

/* "X,Y,W,H" */
static int parse_rect(const char *s, struct screencmp_rect *r)
{
	unsigned v[4];
	int used = 0;
	if (sscanf(s, "%u,%u,%u,%u%n", &v[0], &v[1], &v[2], &v[3], &used) != 4 || s[used] ||
	    !isdigit((unsigned char)*s))
		return -EINVAL;
	*r = (struct screencmp_rect){ v[0], v[1], v[2], v[3] };
	return 0;
}

static char *output_beside(const char *ref, const char *suffix)
{
	const char *base = strrchr(ref, '/');
	base = base ? base + 1 : ref;
	size_t n = strlen(base);
	if (n > 4 && !strcasecmp(base + n - 4, ".png"))
		n -= 4;
	char *out;
	if (asprintf(&out, "%.*s%s", (int)n, base, suffix) < 0)
		return NULL;
	return out;
}

static int parse_expect(struct parser *ps, struct script_step *st, char **w, int nw)
{
	const char *why;
	if (check_readable(ps, "expect-screen", w[1], st->path, "reference PNG"))
		return -EINVAL;
	if (screencmp_load_png(st->path, &st->ref, &why))
		return fail(ps, "expect-screen %s: %s; give a PNG such as pcvm's --screenshot "
			    "writes", w[1], why);
	bool have_tol = false;
	for (int i = 2; i < nw; i++) {
		if (!strncmp(w[i], "ignore=", 7)) {
			struct screencmp_rect r;
			if (parse_rect(w[i] + 7, &r) || !r.w || !r.h)
				return fail(ps, "expect-screen: '%s': give ignore=X,Y,W,H in pixels "
					    "(left, top, width, height)", w[i]);
			if (r.x >= st->ref.w || r.y >= st->ref.h || r.w > st->ref.w - r.x ||
			    r.h > st->ref.h - r.y)
				return fail(ps, "expect-screen: %s reaches outside the %ux%u "
					    "reference", w[i], st->ref.w, st->ref.h);
			if (st->nignore == SCRIPT_MAX_IGNORE)
				return fail(ps, "expect-screen: at most %d ignore rectangles",
					    SCRIPT_MAX_IGNORE);
			st->ignore[st->nignore++] = r;
			continue;
		}
		char *end;
		errno = 0;
		double t = strtod(w[i], &end);
		bool pct = *end == '%';
		if (have_tol || errno || end == w[i] || (*end && strcmp(end, "%")) ||
		    !isdigit((unsigned char)w[i][0]) || !isfinite(t) || t < 0 ||
		    (pct && t > 100))
			return fail(ps, "expect-screen: '%s': give TOLERANCE once, as a number "
				    "of pixels (e.g. 20) or a percentage (e.g. 0.5%%), and "
				    "rectangles to skip as ignore=X,Y,W,H", w[i]);
		have_tol = true;
		st->tolerance = t;
		st->tolerance_pct = pct;
	}
	st->actual_path = output_beside(w[1], "-actual.png");
	st->diff_path = output_beside(w[1], "-diff.png");
	if (!st->actual_path || !st->diff_path)
		return -ENOMEM;
	return 0;
}

static int parse_step(struct parser *ps, struct script_step *st, char **w, int nw)
{
	int ci;
	for (ci = 0; ci < NCOMMANDS; ci++)
		if (!strcmp(commands[ci].name, w[0]))
			break;
	if (ci == NCOMMANDS)
		return fail(ps, "unknown command '%s'; use wait-serial, wait-screen, wait-stable, "
			    "type, key, sleep, screenshot, screen-text, expect-screen, mark, "
			    "swap-cdrom, eject, poweroff, wait-poweroff or quit", w[0]);
	const char *cmd = commands[ci].name;
	int nargs = nw - 1;
	if (nargs < commands[ci].min_args || nargs > commands[ci].max_args)
		return fail(ps, "%s takes %s: %s", cmd,
			    nargs < commands[ci].min_args ? "more arguments" : "fewer arguments",
			    commands[ci].usage);
	st->cmd = commands[ci].cmd;
	st->line = ps->line;
	if (nargs && !(st->arg = strdup(w[1])))
		return -ENOMEM;
	const char *why;
	int n;
	switch (st->cmd) {
	case SCRIPT_WAIT_SERIAL:
	case SCRIPT_WAIT_SCREEN:
		if (parse_regex(ps, st, cmd, w[1]))
			return -EINVAL;
		return nargs == 2 ? parse_timeout(ps, st, cmd, w[2]) : 0;
	case SCRIPT_WAIT_STABLE:
	case SCRIPT_SLEEP:
		if (script_parse_duration(w[1], &st->ns) ||
		    (!st->ns && st->cmd == SCRIPT_WAIT_STABLE))
			return fail(ps, "%s: '%s' is not a duration; give seconds (e.g. 2, 0.5, "
				    "250ms)", cmd, w[1]);
		return nargs == 2 ? parse_timeout(ps, st, cmd, w[2]) : 0;
	case SCRIPT_POWEROFF:
	case SCRIPT_WAIT_POWEROFF:
		return nargs == 1 ? parse_timeout(ps, st, cmd, w[1]) : 0;
	case SCRIPT_TYPE:
		n = script_parse_text(w[1], NULL, 0, &why);
		if (n < 0)
			return fail(ps, "type '%s': %s", w[1], why);
		if (!n)
			return fail(ps, "type: empty TEXT; give what to type");
		if (!(st->keys = calloc((size_t)n, sizeof(*st->keys))))
			return -ENOMEM;
		st->nkeys = script_parse_text(w[1], st->keys, n, &why);
		return 0;
	case SCRIPT_KEY: {
		struct script_key tmp[2 * MAX_CHORD_KEYS + 4];
		if (!(st->keys = calloc((size_t)nargs, sizeof(tmp))))
			return -ENOMEM;
		for (int i = 1; i < nw; i++) {
			n = script_parse_chord(w[i], tmp, (int)(sizeof(tmp) / sizeof(tmp[0])), &why);
			if (n < 0)
				return fail(ps, "key %s: %s", w[i], why);
			memcpy(st->keys + st->nkeys, tmp, (size_t)n * sizeof(tmp[0]));
			st->nkeys += n;
		}
		return 0;
	}
	case SCRIPT_SCREENSHOT:
	case SCRIPT_SCREEN_TEXT:
		if (!(st->path = strdup(w[1])))
			return -ENOMEM;
		return check_writable(ps, cmd, st->path);
	case SCRIPT_EXPECT_SCREEN:
		if (!(st->path = resolve_input(ps, w[1])))
			return -ENOMEM;
		return parse_expect(ps, st, w, nw);
	case SCRIPT_MARK:
		if (!*w[1])
			return fail(ps, "mark: empty NAME; give the milestone a name");
		return 0;
	case SCRIPT_SWAP_CDROM:
		if (!(st->path = resolve_input(ps, w[1])))
			return -ENOMEM;
		if (check_readable(ps, cmd, w[1], st->path, "disc image"))
			return -EINVAL;
		if (nargs == 2 && strcmp(w[2], "force"))
			return fail(ps, "swap-cdrom: '%s': the only word allowed after FILE is "
				    "force", w[2]);
		st->force = nargs == 2;
		return 0;
	case SCRIPT_EJECT:
		if (nargs == 1 && strcmp(w[1], "force"))
			return fail(ps, "eject: '%s': the only word allowed is force", w[1]);
		st->force = nargs == 1;
		return 0;
	case SCRIPT_QUIT: {
		char *end;
		errno = 0;
		long v = strtol(w[1], &end, 10);
		if (errno || end == w[1] || *end || v < 0 || v > 255)
			return fail(ps, "quit '%s': give an exit status from 0 to 255", w[1]);
		st->status = (int)v;
		return 0;
	}
	}
	return 0;
}

static void free_step(struct script_step *st)
{
	free(st->arg);
	free(st->path);
	if (st->has_re)
		regfree(&st->re);
	free(st->keys);
	screencmp_free(&st->ref);
	free(st->actual_path);
	free(st->diff_path);
}

void script_free(struct script *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		free_step(&s->step[i]);
	free(s->step);
	free(s->name);
	free(s);
}

int script_parse(const char *text, size_t len, const char *name, const char *refdir,
		 struct script **out)
{
	struct parser ps = { .name = name, .refdir = refdir };
	struct script *s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return -ENOMEM;
	}
	int cap = 0, err = 0;
	int ended_by = -1; /* line of a poweroff or quit */
	const char *p = text, *end = text + len;
	while (p < end && !err) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		ps.line++;
		if (memchr(p, 0, ll)) {
			err = fail(&ps, "a NUL byte; a script is text");
			break;
		}
		char *line = strndup(p, ll);
		if (!line) {
			err = -ENOMEM;
			break;
		}
		p += ll + (nl != NULL);
		if (ll && line[ll - 1] == '\r')
			line[ll - 1] = 0;
		char *words[MAX_WORDS];
		size_t lead = strspn(line, " \t");
		int nw = line[lead] == '#' ? 0 : split_words(&ps, line, words);
		if (nw < 0) {
			err = nw;
		} else if (nw) {
			if (ended_by > 0) {
				err = fail(&ps, "nothing can follow the %s on line %d: the run "
					   "ends there", script_cmd_name(s->step[s->n - 1].cmd),
					   ended_by);
			} else if (s->n == cap) {
				cap = cap ? 2 * cap : 16;
				struct script_step *ns = realloc(s->step, (size_t)cap * sizeof(*ns));
				if (!ns)
					err = -ENOMEM;
				else
					s->step = ns;
			}
			if (!err) {
				struct script_step *st = &s->step[s->n++];
				memset(st, 0, sizeof(*st));
				err = parse_step(&ps, st, words, nw);
				if (st->cmd == SCRIPT_POWEROFF || st->cmd == SCRIPT_WAIT_POWEROFF ||
				    st->cmd == SCRIPT_QUIT)
					ended_by = ps.line;
			}
		}
		free(line);
	}
	if (!err && !s->n) {
		ps.line = 0;
		log_error("--script %s: no commands in it; give at least one (see 'man pcvm', "
			  "SCRIPTS)", name);
		err = -EINVAL;
	}
	if (err) {
		if (err == -ENOMEM && !ps.failed)
			log_error("--script %s: out of memory", name);
		script_free(s);
		return err == -ENOMEM ? err : -EINVAL;
	}
	*out = s;
	return 0;
}

static int read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_SCRIPT_SIZE) {
				free(b);
				return -EFBIG;
			}
			cap *= 2;
			char *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			return -e;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	return 0;
}

int script_load(const char *path, struct script **out)
{
	bool stdin_script = !strcmp(path, "-");
	int fd = stdin_script ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("--script %s: %s; check the path", path, strerror(errno));
		return -EINVAL;
	}
	struct stat st;
	if (!stdin_script && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		log_error("--script %s: not a regular file; give a script file or - for "
			  "standard input", path);
		close(fd);
		return -EINVAL;
	}
	char *text = NULL;
	size_t len = 0;
	int err = read_all(fd, &text, &len);
	if (!stdin_script)
		close(fd);
	if (err) {
		log_error("--script %s: %s", path,
			  err == -EFBIG ? "larger than 1 MiB; a script is a short text file"
					: strerror(-err));
		return err == -ENOMEM ? err : -EINVAL;
	}
	char *dir = NULL;
	if (!stdin_script) {
		const char *slash = strrchr(path, '/');
		if (slash && !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
			free(text);
			return -ENOMEM;
		}
	}
	err = script_parse(text, len, stdin_script ? "-" : path, dir, out);
	free(dir);
	free(text);
	return err;
}

/*
 * The terminal display on ncursesw (X/Open Curses, Issue 7, with ncurses'
 * extended colours). Text modes are drawn as characters: CP437 mapped to
 * Unicode by glyph, the 16 attribute colours, blink as the terminal's blink,
 * the hardware cursor as the terminal cursor. Graphics modes are scaled to
 * the terminal (box filter, the mode's display aspect kept) and drawn with
 * the upper-half-block character, one pixel in its foreground and one in its
 * background, in 24-bit colour where the terminal has it (COLORS of 2^24,
 * e.g. TERM=xterm-direct), else the 256-colour cube, else the 16 or 8 ANSI
 * colours. The terminal is restored on every way out: normal close, exit(),
 * and fatal signals.
 */
#include "curses_ui.h"
#include "cp437.h"
#include "../chipset/vga.h"
#include "../log.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum color_mode { CM_MONO, CM_8, CM_16, CM_256, CM_DIRECT };

#define PAIR_HASH 65536u

struct pair_slot {
	uint64_t key; /* fg << 32 | bg, +1 so that 0 means empty */
	int pair;
};

struct ui_curses {
	SCREEN *scr;
	enum color_mode cm;
	int max_pairs;
	int next_pair;
	struct pair_slot *pairs;
	struct keymap km;
	bool help;
	bool dirty;
	struct vga_text text;
	struct vga_image img;
	bool cur_on;   /* where the guest's cursor was drawn */
	int cur_y, cur_x;
};

/*
 * Restoring the terminal from a fatal signal handler cannot reach the
 * display's struct, so the little it needs is process-wide: there is one
 * terminal per process, and these are written before the handlers exist.
 */
static struct termios saved_tio;
static volatile sig_atomic_t term_taken;
static char reset_seq[256];
static size_t reset_len;
static struct sigaction old_fatal[5];
static const int fatal_sigs[5] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
static bool atexit_done;
static struct ui_curses *open_display;

static void on_fatal(int sig)
{
	if (term_taken) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		ssize_t r = write(STDOUT_FILENO, reset_seq, reset_len);
		(void)r;
		term_taken = 0;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void at_exit(void)
{
	if (open_display)
		ui_curses_close(open_display);
}

static void add_reset(const char *cap)
{
	char *s = tigetstr((char *)cap);
	if (!s || s == (char *)-1)
		return;
	size_t n = strlen(s);
	if (reset_len + n < sizeof(reset_seq)) {
		memcpy(reset_seq + reset_len, s, n);
		reset_len += n;
	}
}

/* Modified cursor keys whose codes ncurses assigns per terminal (xterm's
 * kUP5 = Ctrl-Up and so on). */
static void learn_keys(struct keymap *km)
{
	static const struct { const char *name; uint16_t scan; } keys[] = {
		{ "kUP", 0xe048 }, { "kDN", 0xe050 }, { "kLFT", 0xe04b },
		{ "kRIT", 0xe04d }, { "kHOM", 0xe047 }, { "kEND", 0xe04f },
		{ "kPRV", 0xe049 }, { "kNXT", 0xe051 }, { "kDC", 0xe053 },
		{ "kIC", 0xe052 },
	};
	static const unsigned mods[8] = {
		0, 0, KEYMAP_MOD_SHIFT, KEYMAP_MOD_ALT,
		KEYMAP_MOD_SHIFT | KEYMAP_MOD_ALT, KEYMAP_MOD_CTRL,
		KEYMAP_MOD_CTRL | KEYMAP_MOD_SHIFT, KEYMAP_MOD_CTRL | KEYMAP_MOD_ALT,
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		for (int m = 2; m <= 7; m++) {
			char name[16];
			snprintf(name, sizeof(name), "%s%d", keys[i].name, m);
			char *s = tigetstr(name);
			if (!s || s == (char *)-1)
				continue;
			int code = key_defined(s);
			if (code > 0)
				keymap_add(km, code, keys[i].scan, mods[m]);
		}
	}
}

int ui_curses_open(struct ui_curses **out)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		log_error("--display curses: standard input and output must be a terminal; "
			  "use --display none");
		return -ENOTTY;
	}
	struct ui_curses *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pairs = calloc(PAIR_HASH, sizeof(*c->pairs));
	if (!c->pairs) {
		free(c);
		return -ENOMEM;
	}
	/* Only the character type: numbers in messages stay in C format. */
	setlocale(LC_CTYPE, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8"))
		setlocale(LC_CTYPE, "C.UTF-8");
	tcgetattr(STDIN_FILENO, &saved_tio);
	c->scr = newterm(NULL, stdout, stdin);
	if (!c->scr) {
		log_error("--display curses: cannot use the terminal (TERM=%s); "
			  "use --display none", getenv("TERM") ? getenv("TERM") : "");
		free(c->pairs);
		free(c);
		return -ENOTTY;
	}
	set_term(c->scr);
	log_hold(1);
	raw();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	reset_len = 0;
	add_reset("sgr0");
	add_reset("cnorm");
	add_reset("rmcup");
	c->cm = CM_MONO;
	if (has_colors() && start_color() == OK) {
		if (COLORS >= 0x1000000)
			c->cm = CM_DIRECT;
		else if (COLORS >= 256)
			c->cm = CM_256;
		else if (COLORS >= 16)
			c->cm = CM_16;
		else if (COLORS >= 8)
			c->cm = CM_8;
		c->max_pairs = COLOR_PAIRS - 1;
		if (c->max_pairs > 0x7fff)
			c->max_pairs = 0x7fff;
	}
	c->next_pair = 1;
	keymap_init(&c->km);
	learn_keys(&c->km);
	c->dirty = true;

	struct sigaction sa = { 0 };
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 5; i++)
		sigaction(fatal_sigs[i], &sa, &old_fatal[i]);
	term_taken = 1;
	open_display = c;
	if (!atexit_done) {
		atexit(at_exit);
		atexit_done = true;
	}
	*out = c;
	return 0;
}

void ui_curses_close(struct ui_curses *c)
{
	if (!c)
		return;
	if (open_display == c)
		open_display = NULL;
	curs_set(1);
	endwin();
	delscreen(c->scr);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	term_taken = 0;
	for (int i = 0; i < 5; i++)
		sigaction(fatal_sigs[i], &old_fatal[i], NULL);
	log_hold(0);
	vga_text_free(&c->text);
	vga_image_free(&c->img);
	free(c->pairs);
	free(c);
}

bool ui_curses_dirty(const struct ui_curses *c)
{
	return c->dirty;
}

void ui_curses_show_help(struct ui_curses *c)
{
	c->help = true;
	c->dirty = true;
}

/* ---- colours ---- */

static const int vga_to_ansi[8] = { 0, 4, 2, 6, 1, 5, 3, 7 };

static int nearest_default(uint32_t rgb, int n)
{
	int best = 0;
	long bestd = -1;
	for (int i = 0; i < n; i++) {
		uint32_t p = vga_default_palette[i];
		long dr = (long)((rgb >> 16) & 255) - (long)((p >> 16) & 255);
		long dg = (long)((rgb >> 8) & 255) - (long)((p >> 8) & 255);
		long db = (long)(rgb & 255) - (long)(p & 255);
		long d = dr * dr + dg * dg + db * db;
		if (bestd < 0 || d < bestd) {
			bestd = d;
			best = i;
		}
	}
	return best;
}

static int cube_level(int v)
{
	return v < 48 ? 0 : v < 115 ? 1 : (v - 35) / 40;
}

static int xterm256(uint32_t rgb)
{
	int r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
	static const int lv[6] = { 0, 95, 135, 175, 215, 255 };
	int cr = cube_level(r), cg = cube_level(g), cb = cube_level(b);
	long dc = (long)(r - lv[cr]) * (r - lv[cr]) + (long)(g - lv[cg]) * (g - lv[cg]) +
		  (long)(b - lv[cb]) * (b - lv[cb]);
	int avg = (r + g + b) / 3;
	int gi = avg < 8 ? 0 : avg > 238 ? 23 : (avg - 8 + 5) / 10;
	int gv = 8 + 10 * gi;
	long dg = (long)(r - gv) * (r - gv) + (long)(g - gv) * (g - gv) + (long)(b - gv) * (b - gv);
	return dg < dc ? 232 + gi : 16 + 36 * cr + 6 * cg + cb;
}

/* A terminal colour for rgb. text: prefer the terminal's own 16 colours
 * for the standard VGA ones. *bold is set where 8-colour terminals need
 * bold for the bright half. */
static int term_color(const struct ui_curses *c, uint32_t rgb, bool text, bool coarse,
		      bool *bold)
{
	enum color_mode cm = c->cm;
	if (coarse && cm > CM_16)
		cm = CM_16;
	if (cm == CM_DIRECT)
		return (int)rgb;
	if (cm == CM_256) {
		if (text)
			for (int i = 0; i < 16; i++)
				if (vga_default_palette[i] == rgb)
					return vga_to_ansi[i & 7] + (i & 8);
		return xterm256(rgb);
	}
	int i = nearest_default(rgb, 16);
	if (cm == CM_16)
		return vga_to_ansi[i & 7] + (i & 8);
	if (bold && (i & 8))
		*bold = true;
	return vga_to_ansi[i & 7];
}

/* The pair for fg/bg, made on first use; -1 when none is left. */
static int get_pair(struct ui_curses *c, int fg, int bg)
{
	if (c->cm == CM_MONO)
		return 0;
	uint64_t key = ((uint64_t)(uint32_t)fg << 32 | (uint32_t)bg) + 1;
	uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 48) & (PAIR_HASH - 1);
	for (;;) {
		struct pair_slot *s = &c->pairs[h];
		if (s->key == key)
			return s->pair;
		if (!s->key) {
			if (c->next_pair > c->max_pairs)
				return -1;
			if (init_extended_pair(c->next_pair, fg, bg) != OK)
				return -1;
			s->key = key;
			s->pair = c->next_pair++;
			return s->pair;
		}
		h = (h + 1) & (PAIR_HASH - 1);
	}
}

static void reset_pairs(struct ui_curses *c)
{
	memset(c->pairs, 0, PAIR_HASH * sizeof(*c->pairs));
	c->next_pair = 1;
}

static bool put(struct ui_curses *c, int y, int x, wchar_t ch, int fg, int bg, attr_t attr)
{
	int pair = get_pair(c, fg, bg);
	if (pair < 0)
		return false;
	cchar_t cc;
	wchar_t s[2] = { ch, 0 };
	setcchar(&cc, s, attr, 0, &pair);
	mvadd_wch(y, x, &cc);
	return true;
}

/* ---- drawing ---- */

static bool draw_text(struct ui_curses *c, struct vga *v, int rows, int cols, bool coarse)
{
	struct vga_text *t = &c->text;
	if (vga_get_text(v, t))
		return true;
	int top = 0;
	if ((int)t->rows > rows && t->cursor_visible) {
		/* keep the cursor's line on the screen */
		top = (int)t->cursor_row - rows + 1;
		if (top < 0)
			top = 0;
	}
	int fgc[16], bgc[16];
	bool bold[16] = { false };
	for (int i = 0; i < 16; i++) {
		fgc[i] = term_color(c, t->palette[i], true, coarse, &bold[i]);
		bgc[i] = term_color(c, t->palette[i], true, coarse, NULL);
	}
	for (int y = 0; y < rows && y + top < (int)t->rows; y++) {
		for (int x = 0; x < cols && x < (int)t->cols; x++) {
			struct vga_cell cell = t->cell[(size_t)(y + top) * t->cols + (size_t)x];
			int fi = cell.attr & 15;
			int bi = t->blink ? (cell.attr >> 4) & 7 : cell.attr >> 4;
			attr_t a = 0;
			if (t->blink && (cell.attr & 0x80))
				a |= A_BLINK;
			if (bold[fi])
				a |= A_BOLD;
			if (c->cm == CM_MONO) {
				/* light background as reverse video */
				if (bi == 7 || bi >= 9)
					a |= A_REVERSE;
			}
			wchar_t ch = t->blanked ? L' ' : (wchar_t)cp437_unicode[cell.ch];
			if (!put(c, y, x, ch, fgc[fi], bgc[bi], a))
				return false;
		}
	}
	c->cur_on = t->cursor_visible && !t->blanked && (int)t->cursor_row >= top &&
		    (int)t->cursor_row - top < rows && (int)t->cursor_col < cols;
	if (c->cur_on) {
		c->cur_y = (int)t->cursor_row - top;
		c->cur_x = (int)t->cursor_col;
		curs_set(t->cursor_start * 2 < t->char_h ? 2 : 1);
	} else {
		curs_set(0);
	}
	return true;
}

static bool draw_graphics(struct ui_curses *c, struct vga *v, const struct vga_mode *m,
			  int rows, int cols, bool coarse)
{
	struct vga_image *img = &c->img;
	curs_set(0);
	if (vga_render(v, img) || !img->width || !img->height)
		return true;
	unsigned w = img->width, h = img->height;
	/* Half-block pixels are about square. VGA modes fill a 4:3 monitor
	 * whatever their pixel count; VBE modes have square pixels. */
	double aspect = m->vbe ? (double)w / h : 4.0 / 3.0;
	int tw = cols, th = (int)(tw / aspect + 0.5);
	if (th > rows * 2) {
		th = rows * 2;
		tw = (int)(th * aspect + 0.5);
	}
	if (tw < 1 || th < 1)
		return true;
	int x0 = (cols - tw) / 2;
	int y0 = (rows - (th + 1) / 2) / 2;
	uint32_t *line[2];
	uint32_t *buf = malloc((size_t)tw * 2 * sizeof(uint32_t));
	if (!buf)
		return true;
	line[0] = buf;
	line[1] = buf + tw;
	for (int cy = 0; cy < (th + 1) / 2; cy++) {
		for (int half = 0; half < 2; half++) {
			int ty = cy * 2 + half;
			if (ty >= th) {
				memcpy(line[1], line[0], (size_t)tw * sizeof(uint32_t));
				continue;
			}
			unsigned sy0 = (unsigned)((uint64_t)ty * h / (unsigned)th);
			unsigned sy1 = (unsigned)((uint64_t)(ty + 1) * h / (unsigned)th);
			if (sy1 <= sy0)
				sy1 = sy0 + 1;
			for (int tx = 0; tx < tw; tx++) {
				unsigned sx0 = (unsigned)((uint64_t)tx * w / (unsigned)tw);
				unsigned sx1 = (unsigned)((uint64_t)(tx + 1) * w / (unsigned)tw);
				if (sx1 <= sx0)
					sx1 = sx0 + 1;
				uint64_t r = 0, g = 0, b = 0, n = 0;
				for (unsigned sy = sy0; sy < sy1; sy++) {
					const uint32_t *p = img->pix + (size_t)sy * w;
					for (unsigned sx = sx0; sx < sx1; sx++) {
						r += (p[sx] >> 16) & 255;
						g += (p[sx] >> 8) & 255;
						b += p[sx] & 255;
						n++;
					}
				}
				line[half][tx] = (uint32_t)((r / n) << 16 | (g / n) << 8 | (b / n));
			}
		}
		for (int tx = 0; tx < tw; tx++) {
			int top = term_color(c, line[0][tx], false, coarse, NULL);
			int bot = term_color(c, line[1][tx], false, coarse, NULL);
			bool ok = top == bot ? put(c, y0 + cy, x0 + tx, L' ', top, top, 0)
					     : put(c, y0 + cy, x0 + tx, 0x2580, top, bot, 0);
			if (!ok) {
				free(buf);
				return false;
			}
		}
	}
	free(buf);
	return true;
}

static void draw_help(int rows, int cols)
{
	const char *title = " pcvm keys - any key closes this ";
	int lines = 0, width = (int)strlen(title);
	for (const char *p = keymap_help; *p; lines++) {
		const char *e = strchr(p, '\n');
		int n = e ? (int)(e - p) : (int)strlen(p);
		if (n + 2 > width)
			width = n + 2;
		p = e ? e + 1 : p + n;
	}
	int h = lines + 2, w = width + 2;
	int y0 = (rows - h) / 2, x0 = (cols - w) / 2;
	if (y0 < 0) y0 = 0;
	if (x0 < 0) x0 = 0;
	attr_t a = A_REVERSE;
	attron(a);
	for (int y = 0; y < h && y0 + y < rows; y++)
		mvhline(y0 + y, x0, ' ', w);
	mvaddnstr(y0, x0 + 1, title, cols - x0 - 1);
	int y = y0 + 1;
	for (const char *p = keymap_help; *p && y < rows; y++) {
		const char *e = strchr(p, '\n');
		int n = e ? (int)(e - p) : (int)strlen(p);
		mvaddnstr(y, x0 + 2, p, n < cols - x0 - 2 ? n : cols - x0 - 2);
		p = e ? e + 1 : p + n;
	}
	attroff(a);
}

void ui_curses_draw(struct ui_curses *c, struct vga *v, const char *status)
{
	int rows, cols;
	getmaxyx(stdscr, rows, cols);
	int area = status ? rows - 1 : rows;
	struct vga_mode m;
	vga_get_mode(v, &m);
	/* Keep using pairs across frames; start afresh when most are used, and
	 * if one frame alone needs more than the terminal has, draw it again
	 * with 16 colours. */
	if (c->next_pair > c->max_pairs / 2)
		reset_pairs(c);
	c->cur_on = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool coarse = attempt > 0;
		erase();
		bool ok = true;
		if (m.kind == VGA_KIND_TEXT)
			ok = draw_text(c, v, area, cols, coarse);
		else if (m.kind == VGA_KIND_GRAPHICS && !m.blanked)
			ok = draw_graphics(c, v, &m, area, cols, coarse);
		else
			curs_set(0);
		if (ok)
			break;
		reset_pairs(c);
	}
	if (status && rows > 0) {
		attron(A_REVERSE);
		mvhline(rows - 1, 0, ' ', cols);
		mvaddnstr(rows - 1, 0, status, cols);
		attroff(A_REVERSE);
	}
	if (c->help) {
		curs_set(0);
		draw_help(rows, cols);
	}
	/* drawing moved the cursor; put it back where the guest's is */
	if (m.kind == VGA_KIND_TEXT && c->cur_on && !c->help)
		move(c->cur_y, c->cur_x);
	refresh();
	c->dirty = false;
}

void ui_curses_read(struct ui_curses *c,
		    void (*fn)(void *opaque, const struct keymap_out *out),
		    void *opaque)
{
	wint_t wch;
	int r;
	while ((r = wget_wch(stdscr, &wch)) != ERR) {
		bool is_key = r == KEY_CODE_YES;
		if (is_key && (wch == KEY_RESIZE || wch == KEY_MOUSE)) {
			c->dirty = true;
			continue;
		}
		if (c->help) {
			c->help = false;
			c->dirty = true;
			continue;
		}
		bool alt = false;
		if (!is_key && wch == 27) {
			wint_t w2;
			int r2 = wget_wch(stdscr, &w2);
			if (r2 != ERR) {
				alt = true;
				wch = w2;
				is_key = r2 == KEY_CODE_YES;
			}
		}
		struct keymap_out out;
		keymap_feed(&c->km, (int)wch, is_key, alt, &out);
		fn(opaque, &out);
	}
}

/*
 * VGA scan-out: turns the adapter's registers and memory into what the
 * monitor shows, following the CRT controller's addressing as IBM's VGA
 * Technical Reference describes it: the memory address counter starts at the
 * start address, advances by twice the offset register per character row,
 * is shifted for byte/word/doubleword mode, has bits 13 and 14 replaced by
 * the row scan counter for CGA/Hercules compatibility, restarts at line
 * compare, and is fed through the graphics controller's serializer (planar,
 * CGA-interleaved or 256-colour shift) and the attribute controller to the
 * DAC. Every standard mode (text, 04h/06h, 0Dh-12h, 13h) and the unchained
 * "mode X" variants fall out of the same walk; Bochs VBE modes are read
 * straight from the framebuffer.
 */
#include "vga.h"
#include "vga_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 4096

struct geom {
	bool graphics;
	unsigned hchars;     /* character clocks per line */
	unsigned cw;         /* dots per character clock */
	unsigned vdisp;      /* displayed scan lines */
	unsigned maxscan;    /* row scan counter wraps after this */
	bool dscan;          /* each row scan shown twice */
	unsigned vrep;       /* scan lines per output line */
	unsigned width, height;
	unsigned offset;     /* address counter advance per row */
	unsigned start;
	unsigned line_compare;
	uint32_t plane_limit;
	bool byte_mode, dword_mode, wrap15;
	bool ma13, ma14;     /* address bits 13/14 come from the counter */
	unsigned count_div;
};

static void compute_geom(const struct vga *v, struct geom *g)
{
	const uint8_t *cr = v->cr;
	memset(g, 0, sizeof(*g));
	g->graphics = v->ar[0x10] & 1;
	g->hchars = cr[1] + 1u;
	g->cw = g->graphics ? 8 : ((v->sr[1] & 1) ? 8 : 9);
	g->vdisp = (cr[0x12] | (cr[7] & 2) << 7 | (cr[7] & 0x40) << 3) + 1u;
	g->maxscan = cr[9] & 0x1f;
	g->dscan = cr[9] & 0x80;
	g->offset = cr[0x13] * 2u;
	g->start = ((unsigned)cr[0x0c] << 8 | cr[0x0d]) + ((cr[8] >> 5) & 3);
	g->line_compare = cr[0x18] | (cr[7] & 0x10) << 4 | (cr[9] & 0x40) << 3;
	g->plane_limit = VGA_PLANE_SIZE;
	g->dword_mode = cr[0x14] & 0x40;
	g->byte_mode = cr[0x17] & 0x40;
	g->wrap15 = cr[0x17] & 0x20;
	g->ma13 = cr[0x17] & 1;
	g->ma14 = cr[0x17] & 2;
	g->count_div = (cr[0x17] & 0x08) ? 2 : (cr[0x14] & 0x20) ? 4 : 1;

	if (vga_vbe_on(v) && v->vbe[VBE_BPP] == 4) {
		/* VBE planar: the VBE registers give the geometry; the VGA
		 * pipeline (planes, attribute controller, DAC) the colours. */
		g->graphics = true;
		g->cw = 8;
		g->hchars = v->vbe[VBE_XRES] / 8u;
		g->vdisp = v->vbe[VBE_YRES];
		g->maxscan = 0;
		g->dscan = false;
		g->offset = v->vbe[VBE_VIRT_WIDTH] / 8u;
		g->start = (v->vbe[VBE_Y_OFFSET] * (uint32_t)v->vbe[VBE_VIRT_WIDTH] +
			    v->vbe[VBE_X_OFFSET]) / 8u;
		g->line_compare = 0xffffffffu;
		g->plane_limit = v->vram_size / 4;
		g->dword_mode = false;
		g->byte_mode = true;
		g->ma13 = g->ma14 = true;
		g->count_div = 1;
	}

	if (!g->graphics) {
		unsigned ch = g->maxscan + 1;
		unsigned ds = g->dscan ? 2 : 1;
		g->vrep = ds;
		g->width = g->hchars * g->cw;
		g->height = g->vdisp / ds / ch * ch;
	} else {
		unsigned rows = g->maxscan + 1;
		unsigned distinct = (g->ma13 ? 1u : 2u) * (g->ma14 ? 1u : 2u);
		if (distinct > rows)
			distinct = rows;
		g->vrep = (g->dscan ? 2 : 1) * rows / distinct;
		if (!g->vrep)
			g->vrep = 1;
		g->width = g->hchars * ((v->ar[0x10] & 0x40) ? 4 : 8);
		g->height = g->vdisp / g->vrep;
	}
	/* Beyond any monitor, or smaller than any mode (the all-zero registers
	 * before the VGA BIOS runs): nothing displayable. */
	if (g->width > MAX_DIM || g->height > MAX_DIM || g->width < 64 || g->height < 32)
		g->width = g->height = 0;
}

static bool blanked(const struct vga *v)
{
	if (vga_vbe_on(v))
		return false;
	return !(v->ar_index & 0x20) || (v->sr[1] & 0x20);
}

void vga_get_mode(struct vga *v, struct vga_mode *m)
{
	memset(m, 0, sizeof(*m));
	if (vga_vbe_on(v) && v->vbe[VBE_BPP] != 4) {
		m->kind = VGA_KIND_GRAPHICS;
		m->width = v->vbe[VBE_XRES];
		m->height = v->vbe[VBE_YRES];
		m->bpp = v->vbe[VBE_BPP];
		m->vbe = true;
		return;
	}
	struct geom g;
	compute_geom(v, &g);
	m->vbe = vga_vbe_on(v);
	m->blanked = blanked(v);
	if (!g.width || !g.height)
		return;
	m->width = g.width;
	m->height = g.height;
	if (!g.graphics) {
		m->kind = VGA_KIND_TEXT;
		m->char_w = g.cw;
		m->char_h = g.maxscan + 1;
		m->cols = g.hchars;
		m->rows = g.height / m->char_h;
		m->bpp = 4;
	} else {
		m->kind = VGA_KIND_GRAPHICS;
		if (v->ar[0x10] & 0x40)
			m->bpp = 8;
		else if (((v->gr[5] >> 5) & 3) == 1)
			m->bpp = 2;
		else
			m->bpp = (v->ar[0x12] & 0x0f) == 1 ? 1 : 4;
	}
}

/* The memory address the CRTC puts out for counter value ma on row scan
 * line rsc, as a plane address. */
static uint32_t crtc_addr(const struct geom *g, uint32_t ma, unsigned rsc)
{
	uint32_t a;
	if (g->plane_limit > VGA_PLANE_SIZE)
		return ma % g->plane_limit; /* VBE planar: linear */
	ma &= 0xffff;
	if (g->dword_mode)
		a = ((ma << 2) | (ma >> 14)) & 0xffff;
	else if (!g->byte_mode)
		a = ((ma << 1) | (g->wrap15 ? ma >> 15 : (ma >> 13) & 1)) & 0xffff;
	else
		a = ma;
	if (!g->ma13)
		a = (a & ~0x2000u) | (rsc & 1u) << 13;
	if (!g->ma14)
		a = (a & ~0x4000u) | (rsc & 2u) << 13;
	return a;
}

static inline const uint8_t *planes_at(const struct vga *v, uint32_t a)
{
	return v->vram + (size_t)a * 4;
}

/* Calls line(ctx, y, row_ma, rsc) for each output line, walking the scan
 * lines the way the CRTC does (row scan counter, double scan, offset, line
 * compare). */
static void walk(const struct geom *g, unsigned preset,
		 void (*line)(void *ctx, unsigned y, uint32_t row_ma, unsigned rsc),
		 void *ctx)
{
	uint32_t row_ma = g->start;
	unsigned rsc = preset, half = 0;
	for (unsigned s = 0; s < g->vdisp; s++) {
		if (s == g->line_compare) {
			row_ma = 0;
			rsc = 0;
			half = 0;
		}
		if (s % g->vrep == 0 && s / g->vrep < g->height)
			line(ctx, s / g->vrep, row_ma, rsc);
		if (g->dscan && (half ^= 1))
			continue; /* first of the pair: same row scan again */
		if (rsc >= g->maxscan) {
			rsc = 0;
			row_ma += g->offset;
		} else {
			rsc++;
		}
	}
}

/* ---- text ---- */

static uint32_t font_base(uint8_t sr3, bool map_a)
{
	unsigned n = map_a ? ((sr3 >> 5) & 1) << 2 | ((sr3 >> 2) & 3)
			   : ((sr3 >> 4) & 1) << 2 | (sr3 & 3);
	return ((n & 3) * 2 + (n >> 2)) * 8192u;
}

struct text_ctx {
	const struct vga *v;
	const struct geom *g;
	struct vga_image *img;
	struct vga_text *t;
	uint32_t pal[16];
	uint32_t cursor;
	bool cursor_on;
	unsigned cstart, cend;
	unsigned pan;
};

static void text_line(void *opaque, unsigned y, uint32_t row_ma, unsigned rsc)
{
	struct text_ctx *c = opaque;
	const struct vga *v = c->v;
	const struct geom *g = c->g;
	unsigned cw = g->cw;
	bool blink = v->ar[0x10] & 0x08;
	bool lge = v->ar[0x10] & 0x04;
	unsigned ul = v->cr[0x14] & 0x1f;
	uint32_t *out = c->img->pix + (size_t)y * c->img->width;
	unsigned total = (g->hchars + 1) * cw;
	uint32_t buf[(256 + 1) * 9];
	for (unsigned col = 0, x = 0; col <= g->hchars && x < total; col++) {
		uint32_t ma = row_ma + col / g->count_div;
		const uint8_t *p = planes_at(v, crtc_addr(g, ma, rsc));
		uint8_t ch = p[0], at = p[1];
		uint32_t fbase = font_base(v->sr[3], at & 0x08);
		uint8_t bits = v->vram[(size_t)(fbase + ch * 32u + (rsc & 31)) * 4 + 2];
		uint32_t fg = c->pal[at & 0x0f];
		uint32_t bg = c->pal[blink ? (at >> 4) & 7 : at >> 4];
		if (ul == rsc && (at & 0x77) == 0x01)
			bits = 0xff;
		bool cur = c->cursor_on && (ma & 0xffff) == c->cursor &&
			   rsc >= c->cstart && rsc <= c->cend;
		for (unsigned d = 0; d < cw; d++) {
			bool on;
			if (d < 8)
				on = bits & (0x80 >> d);
			else
				on = lge && ch >= 0xc0 && ch <= 0xdf && (bits & 1);
			buf[x++] = (on || cur) ? fg : bg;
		}
	}
	memcpy(out, buf + c->pan, (size_t)g->width * sizeof(*out));
}

static void text_setup(const struct vga *v, const struct geom *g, struct text_ctx *c)
{
	c->v = v;
	c->g = g;
	for (int i = 0; i < 16; i++)
		c->pal[i] = vga_dac_rgb(v, vga_attr_to_dac(v, (uint8_t)i));
	c->cursor = ((uint32_t)v->cr[0x0e] << 8 | v->cr[0x0f]);
	c->cstart = v->cr[0x0a] & 0x1f;
	c->cend = v->cr[0x0b] & 0x1f;
	c->cursor_on = !(v->cr[0x0a] & 0x20) && c->cstart <= c->cend &&
		       c->cstart <= g->maxscan;
	unsigned pan = v->ar[0x13] & 0x0f;
	if (g->cw == 9)
		c->pan = pan >= 8 ? 0 : pan + 1;
	else
		c->pan = pan & 7;
}

static void grid_line(void *opaque, unsigned y, uint32_t row_ma, unsigned rsc)
{
	struct text_ctx *c = opaque;
	struct vga_text *t = c->t;
	unsigned ch_h = c->g->maxscan + 1;
	(void)rsc;
	if (y % ch_h || y / ch_h >= t->rows)
		return;
	unsigned row = y / ch_h;
	for (unsigned col = 0; col < t->cols; col++) {
		uint32_t ma = row_ma + col / c->g->count_div;
		const uint8_t *p = planes_at(c->v, crtc_addr(c->g, ma, 0));
		t->cell[row * t->cols + col] = (struct vga_cell){ p[0], p[1] };
		if (c->cursor_on && (ma & 0xffff) == c->cursor && !t->cursor_visible) {
			t->cursor_visible = true;
			t->cursor_col = col;
			t->cursor_row = row;
		}
	}
}

int vga_get_text(struct vga *v, struct vga_text *t)
{
	struct vga_mode m;
	vga_get_mode(v, &m);
	if (m.kind != VGA_KIND_TEXT)
		return -ENOTSUP;
	struct geom g;
	compute_geom(v, &g);
	size_t n = (size_t)m.cols * m.rows;
	if (n > t->cap) {
		struct vga_cell *p = realloc(t->cell, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		t->cell = p;
		t->cap = n;
	}
	t->cols = m.cols;
	t->rows = m.rows;
	t->char_h = m.char_h;
	t->blink = v->ar[0x10] & 0x08;
	t->blanked = m.blanked;
	t->cursor_visible = false;
	t->cursor_col = t->cursor_row = 0;
	memset(t->cell, 0, n * sizeof(*t->cell));
	struct text_ctx c = { 0 };
	text_setup(v, &g, &c);
	c.t = t;
	t->cursor_start = c.cstart;
	t->cursor_end = c.cend;
	memcpy(t->palette, c.pal, sizeof(t->palette));
	walk(&g, v->cr[8] & 0x1f, grid_line, &c);
	return 0;
}

void vga_text_free(struct vga_text *t)
{
	free(t->cell);
	memset(t, 0, sizeof(*t));
}

/* ---- graphics ---- */

struct gfx_ctx {
	const struct vga *v;
	const struct geom *g;
	struct vga_image *img;
	uint32_t dac[256];
	uint8_t attr[16];   /* 4-bit colour -> DAC index */
	uint8_t attr4[16];  /* 4-bit colour -> palette register (256-colour) */
	unsigned shift;
	bool c256;
	unsigned pan;
	bool pan_reset;     /* line compare resets panning (AR10 bit 5) */
	unsigned lc_y;
};

static void gfx_line(void *opaque, unsigned y, uint32_t row_ma, unsigned rsc)
{
	struct gfx_ctx *c = opaque;
	const struct vga *v = c->v;
	const struct geom *g = c->g;
	unsigned nclk = g->hchars + 1;
	uint8_t dots[(256 + 1) * 8];
	unsigned n = 0;
	for (unsigned col = 0; col < nclk; col++) {
		uint32_t ma = row_ma + col / g->count_div;
		uint32_t a = crtc_addr(g, ma, rsc);
		if (a >= g->plane_limit)
			a %= g->plane_limit;
		const uint8_t *p = planes_at(v, a);
		uint8_t p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3];
		switch (c->shift) {
		case 0:
			for (int b = 7; b >= 0; b--)
				dots[n++] = (uint8_t)(((p0 >> b) & 1) | ((p1 >> b) & 1) << 1 |
						      ((p2 >> b) & 1) << 2 | ((p3 >> b) & 1) << 3);
			break;
		case 1:
			for (int i = 0; i < 4; i++) {
				int s = 6 - 2 * i;
				dots[n++] = (uint8_t)(((p0 >> s) & 3) | ((p2 >> s) & 3) << 2);
			}
			for (int i = 0; i < 4; i++) {
				int s = 6 - 2 * i;
				dots[n++] = (uint8_t)(((p1 >> s) & 3) | ((p3 >> s) & 3) << 2);
			}
			break;
		default:
			dots[n++] = p0 >> 4;
			dots[n++] = p0 & 15;
			dots[n++] = p1 >> 4;
			dots[n++] = p1 & 15;
			dots[n++] = p2 >> 4;
			dots[n++] = p2 & 15;
			dots[n++] = p3 >> 4;
			dots[n++] = p3 & 15;
			break;
		}
	}
	unsigned pan = c->pan;
	if (c->pan_reset && y >= c->lc_y)
		pan = 0;
	uint32_t *out = c->img->pix + (size_t)y * c->img->width;
	if (c->c256) {
		/* The attribute controller pairs 4-bit dots into one 8-bit
		 * pixel; panning moves by whole pixels here. */
		unsigned skip = (pan >> 1) & 3;
		for (unsigned x = 0; x < g->width; x++) {
			unsigned d = 2 * (x + skip);
			uint8_t px = (uint8_t)((c->attr4[dots[d]] & 15) << 4 |
					       (c->attr4[dots[d + 1]] & 15));
			out[x] = c->dac[px];
		}
	} else {
		for (unsigned x = 0; x < g->width; x++)
			out[x] = c->dac[c->attr[dots[x + (pan & 7)]]];
	}
}

static int ensure_image(struct vga_image *img, unsigned w, unsigned h)
{
	size_t n = (size_t)w * h;
	if (n > img->cap) {
		uint32_t *p = realloc(img->pix, n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		img->pix = p;
		img->cap = n;
	}
	img->width = w;
	img->height = h;
	return 0;
}

static void render_vbe(const struct vga *v, struct vga_image *img)
{
	unsigned w = img->width, h = img->height;
	unsigned bpp = v->vbe[VBE_BPP], Bpp = (bpp + 7) / 8;
	uint32_t line = vga_vbe_line_bytes(v);
	uint64_t start = (uint64_t)v->vbe[VBE_Y_OFFSET] * line + (uint64_t)v->vbe[VBE_X_OFFSET] * Bpp;
	uint32_t dac[256];
	if (bpp == 8)
		for (int i = 0; i < 256; i++)
			dac[i] = vga_dac_rgb(v, (uint8_t)i);
	for (unsigned y = 0; y < h; y++) {
		uint32_t *out = img->pix + (size_t)y * w;
		uint64_t off = start + (uint64_t)y * line;
		if (off + (uint64_t)w * Bpp > v->vram_size) {
			memset(out, 0, (size_t)w * sizeof(*out));
			continue;
		}
		const uint8_t *p = v->vram + off;
		for (unsigned x = 0; x < w; x++, p += Bpp) {
			uint32_t r, g, b, px;
			switch (bpp) {
			case 8:
				out[x] = dac[*p];
				break;
			case 15:
				px = (uint32_t)(p[0] | p[1] << 8);
				r = (px >> 10) & 31; g = (px >> 5) & 31; b = px & 31;
				out[x] = (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (b << 3 | b >> 2);
				break;
			case 16:
				px = (uint32_t)(p[0] | p[1] << 8);
				r = (px >> 11) & 31; g = (px >> 5) & 63; b = px & 31;
				out[x] = (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
				break;
			default: /* 24 and 32: blue, green, red in memory order */
				out[x] = (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
				break;
			}
		}
	}
}

int vga_render(struct vga *v, struct vga_image *img)
{
	struct vga_mode m;
	vga_get_mode(v, &m);
	if (m.kind == VGA_KIND_NONE) {
		img->width = img->height = 0;
		return -ENOTSUP;
	}
	int err = ensure_image(img, m.width, m.height);
	if (err)
		return err;
	if (m.vbe && m.bpp != 4) {
		render_vbe(v, img);
		return 0;
	}
	if (m.blanked) {
		memset(img->pix, 0, (size_t)m.width * m.height * sizeof(*img->pix));
		return 0;
	}
	struct geom g;
	compute_geom(v, &g);
	if (m.kind == VGA_KIND_TEXT) {
		struct text_ctx c = { 0 };
		text_setup(v, &g, &c);
		c.img = img;
		walk(&g, v->cr[8] & 0x1f, text_line, &c);
		return 0;
	}
	struct gfx_ctx c = { 0 };
	c.v = v;
	c.g = &g;
	c.img = img;
	for (int i = 0; i < 256; i++)
		c.dac[i] = vga_dac_rgb(v, (uint8_t)i);
	for (int i = 0; i < 16; i++) {
		c.attr[i] = vga_attr_to_dac(v, (uint8_t)i);
		c.attr4[i] = v->ar[i & v->ar[0x12] & 0x0f];
	}
	c.c256 = v->ar[0x10] & 0x40;
	c.shift = (v->gr[5] >> 5) & 3;
	if (c.shift == 3)
		c.shift = 2;
	c.pan = v->ar[0x13] & 0x0f;
	if (c.pan > 7)
		c.pan = 0;
	c.pan_reset = v->ar[0x10] & 0x20;
	c.lc_y = g.line_compare / g.vrep;
	walk(&g, v->cr[8] & 0x1f, gfx_line, &c);
	return 0;
}

void vga_image_free(struct vga_image *img)
{
	free(img->pix);
	memset(img, 0, sizeof(*img));
}

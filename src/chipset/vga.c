/*
 * VGA adapter: registers, planar memory and the Bochs VBE extension. The
 * register semantics follow IBM's "VGA Technical Reference" (Personal System/2
 * Hardware Interface Technical Reference, Video Subsystem section): sequencer,
 * CRT controller, graphics controller, attribute controller, DAC, and the
 * graphics controller's data path (latches, rotate, set/reset, logical
 * function, bit mask, write modes 0-3, read modes 0-1, chain-4 and odd/even
 * addressing). The VBE part follows the Bochs "DISPI" interface as SeaVGABIOS
 * (vgasrc/bochsvga.c) and Linux's bochs DRM driver program it.
 *
 * Chain-4 addressing is the hardware's, not a linear shortcut: byte a of the
 * window lands in plane a & 3 at plane address a & ~3, which is why mode 13h
 * uses only every fourth byte of each plane and why mode-X programs see their
 * mode 13h pictures where they expect them after unchaining.
 */
#include "vga.h"
#include "vga_int.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The PCI bus comes from chipset/pci.c. Weak so that this file also links
 * into a tree without it (the unit tests create the adapter without a bus);
 * a PC always has one, and vga_create only calls these when vm->pci is set. */
extern int pci_add_device(struct pci_bus *bus, struct pci_device *d, int slot,
			  int fn) __attribute__((weak));
extern void pci_set_bar(struct pci_device *d, int i, enum pci_bar_kind kind,
			uint64_t size, bool prefetch) __attribute__((weak));

#define WINDOW_BASE 0xA0000u

const uint32_t vga_default_palette[16] = {
	0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
	0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
};

static void changed(struct vga *v)
{
	v->serial++;
}

static void set_reg(struct vga *v, uint8_t *reg, uint8_t val)
{
	if (*reg != val) {
		*reg = val;
		changed(v);
	}
}

/* ---- colour lookup, shared with the renderer ---- */

uint32_t vga_dac_rgb(const struct vga *v, uint8_t index)
{
	const uint8_t *c = v->dac[index & v->pel_mask];
	if (v->vbe[VBE_ENABLE] & VBE_EN_8BIT_DAC)
		return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
	uint32_t r = c[0] & 63, g = c[1] & 63, b = c[2] & 63;
	r = r << 2 | r >> 4;
	g = g << 2 | g >> 4;
	b = b << 2 | b >> 4;
	return r << 16 | g << 8 | b;
}

uint8_t vga_attr_to_dac(const struct vga *v, uint8_t index)
{
	uint8_t p = v->ar[(index & v->ar[0x12]) & 0x0f];
	uint8_t cs = v->ar[0x14];
	if (v->ar[0x10] & 0x80)
		p = (uint8_t)((p & 0x0f) | (cs & 0x03) << 4);
	return (uint8_t)((p & 0x3f) | (cs & 0x0c) << 4);
}

/* ---- the legacy memory window ---- */

/* Where the window the graphics controller selects starts, and its size. */
static void window_range(const struct vga *v, uint32_t *base, uint32_t *size)
{
	switch ((v->gr[6] >> 2) & 3) {
	case 0: *base = 0xA0000; *size = 0x20000; break;
	case 1: *base = 0xA0000; *size = 0x10000; break;
	case 2: *base = 0xB0000; *size = 0x8000; break;
	default: *base = 0xB8000; *size = 0x8000; break;
	}
}

static uint32_t plane_limit(const struct vga *v)
{
	/* VBE 4-bit modes are planar with planes larger than 64 KiB. */
	if (vga_vbe_on(v) && v->vbe[VBE_BPP] == 4)
		return v->vram_size / 4;
	return VGA_PLANE_SIZE;
}

static uint32_t lanes(uint8_t b)
{
	return b * 0x01010101u;
}

/* A byte per plane from a 4-bit plane mask: 0xff in lane p if bit p. */
static uint32_t lane_mask(unsigned bits)
{
	uint32_t m = 0;
	for (int p = 0; p < 4; p++)
		if (bits & (1u << p))
			m |= 0xffu << (8 * p);
	return m;
}

static uint32_t load_latch(const struct vga *v, uint32_t off)
{
	uint32_t x;
	memcpy(&x, v->vram + (size_t)off * 4, 4);
	return x;
}

static void planar_write(struct vga *v, uint32_t off, unsigned planes, uint8_t val)
{
	const uint8_t *gr = v->gr;
	uint8_t rot = gr[3] & 7;
	uint8_t r = (uint8_t)(val >> rot | val << ((8 - rot) & 7));
	uint32_t data, bitmask = lanes(gr[8]);

	switch (gr[5] & 3) {
	case 0: {
		uint32_t en = lane_mask(gr[1]);
		data = (lanes(r) & ~en) | (lane_mask(gr[0]) & en);
		break;
	}
	case 1:
		data = v->latch;
		bitmask = 0xffffffffu; /* latches go out whole */
		break;
	case 2:
		data = lane_mask(val & 0x0f);
		break;
	default: /* 3: the rotated data masks the bit mask; set/reset gives colour */
		data = lane_mask(gr[0]);
		bitmask = lanes(gr[8] & r);
		break;
	}
	if ((gr[5] & 3) != 1) {
		switch ((gr[3] >> 3) & 3) {
		case 1: data &= v->latch; break;
		case 2: data |= v->latch; break;
		case 3: data ^= v->latch; break;
		default: break;
		}
		data = (data & bitmask) | (v->latch & ~bitmask);
	}
	uint8_t *dst = v->vram + (size_t)off * 4;
	for (int p = 0; p < 4; p++)
		if (planes & (1u << p))
			dst[p] = (uint8_t)(data >> (8 * p));
}

static uint8_t planar_read(struct vga *v, uint32_t off, unsigned plane)
{
	v->latch = load_latch(v, off);
	if (!(v->gr[5] & 0x08))
		return (uint8_t)(v->latch >> (8 * plane));
	/* read mode 1: colour compare over the planes not "don't care" */
	uint32_t diff = (v->latch ^ lane_mask(v->gr[2])) & lane_mask(v->gr[7]);
	uint8_t any = (uint8_t)(diff | diff >> 8 | diff >> 16 | diff >> 24);
	return (uint8_t)~any;
}

static uint8_t mem_readb(struct vga *v, uint32_t addr)
{
	uint32_t base, size;
	if (vga_vbe_on(v) && v->vbe[VBE_BPP] != 4) {
		/* banked VBE access (when 0xA0000 is not mapped straight) */
		if (addr - WINDOW_BASE >= 0x10000)
			return 0xff;
		uint32_t off = (uint32_t)v->vbe[VBE_BANK] * 0x10000 + (addr - WINDOW_BASE);
		return off < v->vram_size ? v->vram[off] : 0xff;
	}
	window_range(v, &base, &size);
	if (addr < base || addr - base >= size)
		return 0xff;
	uint32_t a = addr - base, off;
	unsigned plane;
	if (vga_vbe_on(v))
		a += (uint32_t)v->vbe[VBE_BANK] * 0x10000;
	if (v->sr[4] & 0x08) {
		off = a & ~3u;
		plane = a & 3;
	} else if (v->gr[5] & 0x10) {
		off = a & ~1u;
		plane = (v->gr[4] & 2) | (a & 1);
	} else {
		off = a;
		plane = v->gr[4] & 3;
	}
	if (off >= plane_limit(v))
		return 0xff;
	return planar_read(v, off, plane);
}

static void mem_writeb(struct vga *v, uint32_t addr, uint8_t val)
{
	uint32_t base, size;
	if (vga_vbe_on(v) && v->vbe[VBE_BPP] != 4) {
		if (addr - WINDOW_BASE >= 0x10000)
			return;
		uint32_t off = (uint32_t)v->vbe[VBE_BANK] * 0x10000 + (addr - WINDOW_BASE);
		if (off < v->vram_size)
			v->vram[off] = val;
		return;
	}
	window_range(v, &base, &size);
	if (addr < base || addr - base >= size)
		return;
	uint32_t a = addr - base, off;
	unsigned planes = v->sr[2] & 0x0f;
	if (vga_vbe_on(v))
		a += (uint32_t)v->vbe[VBE_BANK] * 0x10000;
	if (v->sr[4] & 0x08) {
		off = a & ~3u;
		planes &= 1u << (a & 3);
	} else if (!(v->sr[4] & 0x04)) {
		off = a & ~1u;
		planes &= (a & 1) ? 0x0a : 0x05;
	} else {
		off = a;
	}
	if (off >= plane_limit(v))
		return;
	planar_write(v, off, planes, val);
}

static uint64_t window_io(void *opaque, uint64_t addr, uint64_t val,
			  unsigned size, int is_write)
{
	struct vga *v = opaque;
	uint64_t r = 0;
	for (unsigned i = 0; i < size; i++) {
		uint32_t a = (uint32_t)addr + i;
		if (is_write)
			mem_writeb(v, a, (uint8_t)(val >> (8 * i)));
		else
			r |= (uint64_t)mem_readb(v, a) << (8 * i);
	}
	return r;
}

/* In VBE packed-pixel modes the 64 KiB bank at 0xA0000 is plain memory:
 * map it straight so guest writes cost nothing. */
static void update_window(struct vga *v)
{
	bool want = vga_vbe_on(v) && v->vbe[VBE_BPP] != 4;
	uint8_t *p = want ? v->vram + (size_t)v->vbe[VBE_BANK] * 0x10000 : NULL;
	if (!want && !v->window_ram)
		return;
	mem_set_access(v->vm->mem, WINDOW_BASE, p, p);
	v->window_ram = want;
}

/* ---- Bochs VBE ---- */

static bool vbe_bpp_ok(unsigned bpp)
{
	return bpp == 4 || bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32;
}

/* The visible rectangle starting at (x, y) with virtual width vw: does it
 * lie inside video memory? */
static bool vbe_fits(const struct vga *v, uint32_t vw, uint32_t x, uint32_t y)
{
	uint64_t bpp = v->vbe[VBE_BPP];
	uint64_t xres = v->vbe[VBE_XRES], yres = v->vbe[VBE_YRES];
	uint64_t bits_line = (uint64_t)vw * bpp;
	uint64_t start_bits = (uint64_t)y * bits_line + (uint64_t)x * bpp;
	uint64_t end_bits = start_bits + (yres - 1) * bits_line + xres * bpp;
	if (bpp == 4) /* planar: each plane holds a quarter of the bits */
		end_bits /= 4;
	return end_bits <= (uint64_t)v->vram_size * 8;
}

static void vbe_update_virt_height(struct vga *v)
{
	uint32_t line = vga_vbe_line_bytes(v);
	uint32_t mem = v->vbe[VBE_BPP] == 4 ? v->vram_size / 4 : v->vram_size;
	uint32_t h = line ? mem / line : 0;
	v->vbe[VBE_VIRT_HEIGHT] = (uint16_t)(h > 0xffff ? 0xffff : h);
}

static void vbe_enable(struct vga *v, uint16_t val)
{
	bool was = vga_vbe_on(v);
	uint16_t keep = VBE_EN_ENABLED | VBE_EN_GETCAPS | VBE_EN_8BIT_DAC |
			VBE_EN_LFB | VBE_EN_NOCLEARMEM;
	if ((val & VBE_EN_ENABLED) && !was) {
		unsigned xres = v->vbe[VBE_XRES], yres = v->vbe[VBE_YRES];
		unsigned bpp = v->vbe[VBE_BPP];
		bool ok = vbe_bpp_ok(bpp) && xres && yres && xres <= VGA_VBE_MAX_XRES &&
			  yres <= VGA_VBE_MAX_YRES && (bpp != 4 || xres % 8 == 0);
		v->vbe[VBE_VIRT_WIDTH] = (uint16_t)xres;
		if (ok && !vbe_fits(v, xres, 0, 0))
			ok = false;
		if (!ok) {
			log_debug("vga: VBE mode %ux%ux%u refused", xres, yres, bpp);
			val &= (uint16_t)~VBE_EN_ENABLED;
		} else {
			v->vbe[VBE_X_OFFSET] = v->vbe[VBE_Y_OFFSET] = 0;
			vbe_update_virt_height(v);
			if (!(val & VBE_EN_NOCLEARMEM))
				memset(v->vram, 0, v->vram_size);
			/* Legacy software that looks at the graphics controller
			 * should see a graphics mode with the 64 KiB window at
			 * 0xA0000, where the banks appear. */
			v->gr[6] = (uint8_t)((v->gr[6] & ~0x0c) | 0x05);
		}
	}
	v->vbe[VBE_ENABLE] = val & keep;
	update_window(v);
	changed(v);
}

static uint16_t vbe_read(struct vga *v)
{
	unsigned i = v->vbe_index;
	if (i >= VBE_NREGS)
		return 0;
	if (v->vbe[VBE_ENABLE] & VBE_EN_GETCAPS) {
		switch (i) {
		case VBE_XRES: return VGA_VBE_MAX_XRES;
		case VBE_YRES: return VGA_VBE_MAX_YRES;
		case VBE_BPP: return VGA_VBE_MAX_BPP;
		default: break;
		}
	}
	return v->vbe[i];
}

static void vbe_write(struct vga *v, uint16_t val)
{
	unsigned i = v->vbe_index;
	bool on = vga_vbe_on(v);
	switch (i) {
	case VBE_ID:
		if (val >= VBE_ID0 && val <= VBE_ID5)
			v->vbe[VBE_ID] = val;
		return;
	case VBE_XRES:
	case VBE_YRES:
	case VBE_BPP:
		/* The geometry changes only with the mode disabled, as drivers
		 * do it; a running mode stays consistent. */
		if (!on)
			v->vbe[i] = val;
		return;
	case VBE_ENABLE:
		vbe_enable(v, val);
		return;
	case VBE_BANK:
		if ((uint32_t)val * 0x10000 < v->vram_size && val != v->vbe[VBE_BANK]) {
			v->vbe[VBE_BANK] = val;
			if (v->window_ram)
				update_window(v);
		}
		return;
	case VBE_VIRT_WIDTH:
		if (!on) {
			v->vbe[i] = val;
		} else if (val >= v->vbe[VBE_XRES] &&
			   (v->vbe[VBE_BPP] != 4 || val % 8 == 0) &&
			   vbe_fits(v, val, v->vbe[VBE_X_OFFSET], v->vbe[VBE_Y_OFFSET])) {
			v->vbe[i] = val;
			vbe_update_virt_height(v);
			changed(v);
		}
		return;
	case VBE_X_OFFSET:
	case VBE_Y_OFFSET: {
		uint32_t x = i == VBE_X_OFFSET ? val : v->vbe[VBE_X_OFFSET];
		uint32_t y = i == VBE_Y_OFFSET ? val : v->vbe[VBE_Y_OFFSET];
		if (!on || vbe_fits(v, v->vbe[VBE_VIRT_WIDTH], x, y)) {
			v->vbe[i] = val;
			changed(v);
		}
		return;
	}
	default: /* VIRT_HEIGHT is derived; VIDEO_MEMORY_64K is read-only */
		return;
	}
}

static uint64_t vbe_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct vga *v = opaque;
	if (port == 0x1ce) {
		if (is_write)
			v->vbe_index = (uint16_t)(size == 1 ? (v->vbe_index & 0xff00) | (val & 0xff)
							    : val);
		return v->vbe_index;
	}
	/* 0x1CF, and 0x1D0 which QEMU's adapter also decodes as data */
	if (is_write) {
		vbe_write(v, (uint16_t)val);
		return 0;
	}
	return vbe_read(v);
}

/* ---- the register file ---- */

static bool color_io(const struct vga *v)
{
	return v->misc & 1;
}

static void write_ar(struct vga *v, uint8_t val)
{
	if (!v->ar_flip) {
		if ((v->ar_index ^ val) & 0x20)
			changed(v); /* palette address source: screen on/off */
		v->ar_index = val & 0x3f;
	} else {
		unsigned i = v->ar_index & 0x1f;
		static const uint8_t mask[0x15] = {
			0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
			0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
			0xef, 0xff, 0x3f, 0x0f, 0x0f,
		};
		if (i < 0x15)
			set_reg(v, &v->ar[i], val & mask[i]);
	}
	v->ar_flip = !v->ar_flip;
}

static void write_cr(struct vga *v, uint8_t val)
{
	unsigned i = v->cr_index;
	if (i >= sizeof(v->cr))
		return;
	if ((v->cr[0x11] & 0x80) && i <= 7) {
		/* write-protected horizontal/vertical timing, except the line
		 * compare bit in the overflow register */
		if (i != 7)
			return;
		val = (uint8_t)((v->cr[7] & ~0x10) | (val & 0x10));
	}
	set_reg(v, &v->cr[i], val);
}

static void dac_write_data(struct vga *v, uint8_t val)
{
	v->dac_latch[v->dac_sub++] = val;
	if (v->dac_sub == 3) {
		uint8_t m = (v->vbe[VBE_ENABLE] & VBE_EN_8BIT_DAC) ? 0xff : 0x3f;
		uint8_t *e = v->dac[v->dac_write];
		for (int k = 0; k < 3; k++)
			set_reg(v, &e[k], v->dac_latch[k] & m);
		v->dac_write++;
		v->dac_sub = 0;
	}
}

static uint8_t dac_read_data(struct vga *v)
{
	uint8_t r = v->dac[v->dac_read][v->dac_sub++];
	if (v->dac_sub == 3) {
		v->dac_read++;
		v->dac_sub = 0;
	}
	return r;
}

/* Input status 1: display-enable and vertical-retrace bits, from the CRTC's
 * timing and the virtual clock, so polling loops see retraces come and go. */
static uint8_t input_status1(struct vga *v)
{
	const uint8_t *cr = v->cr;
	unsigned cw = (v->sr[1] & 1) ? 8 : 9;
	uint64_t htotal = (uint64_t)(cr[0] + 5) * cw;
	unsigned vtotal = (cr[6] | (cr[7] & 1) << 8 | (cr[7] & 0x20) << 4) + 2;
	unsigned vdisp = (cr[0x12] | (cr[7] & 2) << 7 | (cr[7] & 0x40) << 3) + 1;
	unsigned vrs = cr[0x10] | (cr[7] & 4) << 6 | (cr[7] & 0x80) << 2;
	unsigned hdisp = (cr[1] + 1u) * cw;
	uint64_t dot_hz = ((v->misc >> 2) & 3) == 1 ? 28322000 : 25175000;
	if (htotal < 200 || vtotal < 100 || vdisp > vtotal || hdisp > htotal) {
		htotal = 800; /* 640x480 at 60 Hz: a sane default */
		vtotal = 525;
		vdisp = 480;
		vrs = 490;
		hdisp = 640;
	}
	uint64_t line_ns = htotal * 1000000000ull / dot_hz;
	uint64_t t = clock_now(v->vm->clock) % (line_ns * vtotal);
	unsigned line = (unsigned)(t / line_ns);
	uint64_t in_line = t % line_ns;
	unsigned vrlen = ((cr[0x11] & 0x0f) - vrs) & 0x0f;
	if (!vrlen)
		vrlen = 16;
	uint8_t st = 0;
	if (line >= vdisp || in_line >= hdisp * line_ns / htotal)
		st |= 0x01;
	if (line >= vrs && line < vrs + vrlen)
		st |= 0x08;
	return st;
}

static uint64_t vga_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct vga *v = opaque;
	uint8_t b = (uint8_t)val;
	(void)size; /* registered byte-wide */

	/* The CRTC and input status 1 answer at 0x3Bx or 0x3Dx as the
	 * miscellaneous output register's I/O select bit says. */
	if ((port >= 0x3b0 && port <= 0x3bf && color_io(v)) ||
	    (port >= 0x3d0 && port <= 0x3df && !color_io(v)))
		return 0xff;
	unsigned p = (unsigned)port;
	if (p >= 0x3d0)
		p -= 0x20; /* fold 0x3Dx onto 0x3Bx */

	if (is_write) {
		switch (p) {
		case 0x3c0: write_ar(v, b); break;
		case 0x3c2: set_reg(v, &v->misc, b); break;
		case 0x3c4: v->sr_index = b & 7; break;
		case 0x3c5:
			set_reg(v, &v->sr[v->sr_index], b);
			break;
		case 0x3c6: set_reg(v, &v->pel_mask, b); break;
		case 0x3c7: v->dac_read = b; v->dac_sub = 0; v->dac_reading = true; break;
		case 0x3c8: v->dac_write = b; v->dac_sub = 0; v->dac_reading = false; break;
		case 0x3c9: dac_write_data(v, b); break;
		case 0x3ce: v->gr_index = b & 0x0f; break;
		case 0x3cf:
			set_reg(v, &v->gr[v->gr_index], b);
			if (v->gr_index == 6)
				update_window(v);
			break;
		case 0x3b4: v->cr_index = b; break;
		case 0x3b5: write_cr(v, b); break;
		case 0x3ba: v->fcr = b; break;
		default: break;
		}
		return 0;
	}
	switch (p) {
	case 0x3c0: return v->ar_index;
	case 0x3c1: {
		unsigned i = v->ar_index & 0x1f;
		return i < 0x15 ? v->ar[i] : 0;
	}
	case 0x3c2: return 0x00;
	case 0x3c4: return v->sr_index;
	case 0x3c5: return v->sr[v->sr_index];
	case 0x3c6: return v->pel_mask;
	case 0x3c7: return v->dac_reading ? 3 : 0;
	case 0x3c8: return v->dac_write;
	case 0x3c9: return dac_read_data(v);
	case 0x3ca: return v->fcr;
	case 0x3cc: return v->misc;
	case 0x3ce: return v->gr_index;
	case 0x3cf: return v->gr[v->gr_index];
	case 0x3b4: return v->cr_index;
	case 0x3b5: return v->cr_index < sizeof(v->cr) ? v->cr[v->cr_index] : 0;
	case 0x3ba:
		v->ar_flip = false;
		return input_status1(v);
	default: return 0xff;
	}
}

/* ---- power-on state ---- */

static void vga_reset(void *opaque)
{
	struct vga *v = opaque;
	uint16_t id = VBE_ID5;
	v->vbe[VBE_ENABLE] = 0;
	update_window(v);
	memset(v->vbe, 0, sizeof(v->vbe));
	v->vbe[VBE_ID] = id;
	v->vbe[VBE_VIDEO_MEMORY_64K] = (uint16_t)(v->vram_size >> 16);
	v->vbe_index = 0;
	memset(v->sr, 0, sizeof(v->sr));
	memset(v->gr, 0, sizeof(v->gr));
	memset(v->cr, 0, sizeof(v->cr));
	memset(v->ar, 0, sizeof(v->ar));
	/* The VGA BIOS programs a mode; until then: colour I/O, all planes
	 * writable, sequential addressing, identity palette, screen on. */
	v->misc = 0x01;
	v->sr[2] = 0x0f;
	v->sr[4] = 0x06;
	v->gr[8] = 0xff;
	v->gr[6] = 0x05;
	v->ar_index = 0x20;
	v->ar_flip = false;
	for (int i = 0; i < 16; i++)
		v->ar[i] = (uint8_t)i;
	v->ar[0x12] = 0x0f;
	v->pel_mask = 0xff;
	v->latch = 0;
	changed(v);
}

/* ---- the state a VGA BIOS leaves (for boots without firmware) ---- */

/* Mode 3's register values, from the VGA reference's mode tables. */
static const uint8_t mode3_sr[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
static const uint8_t mode3_cr[0x19] = {
	0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
	0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};
static const uint8_t mode3_gr[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff };
static const uint8_t mode3_ar[0x15] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a,
	0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00,
};

/* The VGA BIOS's 8x16 font: a 4 KiB table of 256 glyphs of 16 rows inside
 * the option ROM. Recognised by glyphs every PC font shares: 0x00, space and
 * 0xFF blank, 0xDB the full block, 0xB0 the light shade (alternating
 * 0x11/0x44 rows), 'A' drawn. NULL when the ROM holds no such table. */
static const uint8_t *rom_font16(const struct vga *v)
{
	static const uint8_t zero[16];
	if (!v->rom || v->rom_size < 4096)
		return NULL;
	for (uint32_t o = 0; o + 4096 <= v->rom_size; o++) {
		const uint8_t *f = v->rom + o;
		if (memcmp(f, zero, 16) || memcmp(f + 0x20 * 16, zero, 16) ||
		    memcmp(f + 0xff * 16, zero, 16) || !memcmp(f + 'A' * 16, zero, 16))
			continue;
		bool ok = true;
		for (int r = 0; r < 16 && ok; r++)
			ok = f[0xdb * 16 + r] == 0xff &&
			     f[0xb0 * 16 + r] == ((r & 1) ? 0x44 : 0x11);
		if (ok)
			return f;
	}
	return NULL;
}

int vga_boot_text_mode(struct vga *v)
{
	vga_reset(v);
	v->misc = 0x67;
	memcpy(v->sr, mode3_sr, sizeof(mode3_sr));
	memcpy(v->cr, mode3_cr, sizeof(mode3_cr));
	memcpy(v->gr, mode3_gr, sizeof(mode3_gr));
	memcpy(v->ar, mode3_ar, sizeof(mode3_ar));
	v->ar_index = 0x20; /* palette address source: the screen is on */
	/* The EGA palette in DAC entries 0-63: bits 0-2 blue, green, red at
	 * two thirds, bits 3-5 the same at one third. */
	for (int i = 0; i < 64; i++) {
		v->dac[i][0] = (uint8_t)(((i >> 2) & 1) * 42 + ((i >> 5) & 1) * 21);
		v->dac[i][1] = (uint8_t)(((i >> 1) & 1) * 42 + ((i >> 4) & 1) * 21);
		v->dac[i][2] = (uint8_t)((i & 1) * 42 + ((i >> 3) & 1) * 21);
	}
	update_window(v);
	/* Odd/even text memory: cell i is byte 2i of plane 0 (character) and
	 * of plane 1 (attribute); blank cells, light grey on black. */
	memset(v->vram, 0, (size_t)VGA_PLANE_SIZE * 4);
	for (uint32_t i = 0; i < 80 * 25; i++) {
		v->vram[(size_t)2 * i * 4 + 0] = ' ';
		v->vram[(size_t)2 * i * 4 + 1] = 0x07;
	}
	changed(v);
	const uint8_t *font = rom_font16(v);
	if (!font)
		return -ENOENT;
	/* Font 0 in plane 2: 32-byte slots, 16 rows used. */
	for (int c = 0; c < 256; c++)
		for (int r = 0; r < 16; r++)
			v->vram[((size_t)c * 32 + r) * 4 + 2] = font[c * 16 + r];
	return 0;
}

/* ---- PCI ---- */

static void bar_map(struct pci_device *d, int i, uint64_t old, uint64_t addr)
{
	struct vga *v = d->opaque;
	struct mem *m = v->vm->mem;
	if (i == 0) {
		if (old != PCI_BAR_UNMAPPED)
			mem_unmap(m, old);
		v->lfb_addr = PCI_BAR_UNMAPPED;
		if (addr == PCI_BAR_UNMAPPED)
			return;
		struct mem_region r = { .base = addr, .size = v->vram_size, .rd = v->vram,
					.wr = v->vram, .name = "vga-lfb" };
		if (mem_map(m, &r) == 0)
			v->lfb_addr = addr;
		else
			log_warn("vga: cannot map the framebuffer at %#llx",
				 (unsigned long long)addr);
	} else if (i == PCI_ROM_BAR && v->rom) {
		if (old != PCI_BAR_UNMAPPED)
			mem_unmap(m, old);
		v->rom_addr = PCI_BAR_UNMAPPED;
		if (addr == PCI_BAR_UNMAPPED)
			return;
		struct mem_region r = { .base = addr, .size = v->rom_size, .rd = v->rom,
					.name = "vga-rom" };
		if (mem_map(m, &r) == 0)
			v->rom_addr = addr;
		else
			log_warn("vga: cannot map the option ROM at %#llx",
				 (unsigned long long)addr);
	}
}

static int load_rom(struct vga *v, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("VGA BIOS %s: %s; install Debian's seabios package", path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	if (st.st_size < 512 || st.st_size > (1 << 20)) {
		log_error("VGA BIOS %s: %lld bytes is not an option ROM", path,
			  (long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	uint32_t size = 2048;
	while (size < (uint32_t)st.st_size)
		size *= 2;
	v->rom = calloc(1, size);
	if (!v->rom) {
		close(fd);
		return -ENOMEM;
	}
	v->rom_size = size;
	ssize_t n = pread(fd, v->rom, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size || v->rom[0] != 0x55 || v->rom[1] != 0xaa) {
		log_error("VGA BIOS %s: not an option ROM (no 55 AA signature)", path);
		return -EINVAL;
	}
	return 0;
}

static void setup_pci(struct vga *v)
{
	struct pci_device *d = &v->pci;
	d->name = "vga";
	d->opaque = v;
	d->bar_map = bar_map;
	pci_set_word(d, PCI_VENDOR_ID, VGA_PCI_VENDOR);
	pci_set_word(d, PCI_DEVICE_ID, VGA_PCI_DEVICE);
	pci_set_byte(d, PCI_REVISION_ID, 0x02);
	pci_set_byte(d, PCI_CLASS_PROG, 0x00);
	pci_set_word(d, PCI_CLASS_DEVICE, 0x0300); /* display: VGA compatible */
	pci_set_byte(d, PCI_HEADER_TYPE, 0x00);
	d->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	for (int i = 0; i <= PCI_NUM_BARS; i++)
		d->bar[i].addr = PCI_BAR_UNMAPPED;
}

/* ---- creation ---- */

static void vga_destroy(void *opaque)
{
	struct vga *v = opaque;
	if (v->vram)
		munmap(v->vram, v->vram_size);
	free(v->rom);
	free(v->shadow);
	free(v);
}

struct pci_device *vga_pci_device(struct vga *v)
{
	return &v->pci;
}

int vga_create(struct vm *vm, const char *rom_path, struct vga **out)
{
	struct vga *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int err;
	v->vm = vm;
	v->vram_size = VGA_VRAM_SIZE;
	v->lfb_addr = v->rom_addr = PCI_BAR_UNMAPPED;
	v->vram = mmap(NULL, v->vram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->vram == MAP_FAILED) {
		v->vram = NULL;
		vga_destroy(v);
		return -ENOMEM;
	}
	if ((err = vm_add_cleanup_hook(vm, vga_destroy, v))) {
		vga_destroy(v);
		return err;
	}
	if (rom_path && (err = load_rom(v, rom_path)))
		return err;
	setup_pci(v);
	vga_reset(v);

	struct mem_region lo = { .base = 0xA0000, .size = 0x10000, .fn = window_io,
				 .opaque = v, .name = "vga-window" };
	struct mem_region hi = { .base = 0xB0000, .size = 0x10000, .fn = window_io,
				 .opaque = v, .name = "vga-window" };
	if ((err = mem_map(vm->mem, &lo)) || (err = mem_map(vm->mem, &hi)))
		return err;
	if ((err = ioport_register(vm->io, 0x3b0, 0x30, vga_io, v, IOPORT_F_BYTE, "vga")) ||
	    (err = ioport_register(vm->io, 0x1ce, 3, vbe_io, v, 0, "vga-vbe")))
		return err;
	if ((err = vm_add_reset_hook(vm, vga_reset, v)))
		return err;

	if (vm->pci && pci_add_device && pci_set_bar) {
		pci_set_bar(&v->pci, 0, PCI_BAR_MEM32, v->vram_size, true);
		if (v->rom)
			pci_set_bar(&v->pci, PCI_ROM_BAR, PCI_BAR_ROM, v->rom_size, false);
		if ((err = pci_add_device(vm->pci, &v->pci, VGA_PCI_SLOT, 0)))
			return err;
		v->on_pci = true;
		log_info("vga: PCI device %04x:%04x in slot %d, %u MiB framebuffer",
			 VGA_PCI_VENDOR, VGA_PCI_DEVICE, VGA_PCI_SLOT, v->vram_size >> 20);
	}
	*out = v;
	return 0;
}

/* ---- change tracking ---- */

uint64_t vga_poll_changes(struct vga *v)
{
	uint32_t start = 0, len = 4 * VGA_PLANE_SIZE;
	if (vga_vbe_on(v) && v->vbe[VBE_BPP] != 4) {
		uint32_t line = vga_vbe_line_bytes(v);
		uint32_t bpp = v->vbe[VBE_BPP];
		start = v->vbe[VBE_Y_OFFSET] * line + v->vbe[VBE_X_OFFSET] * ((bpp + 7) / 8);
		len = (v->vbe[VBE_YRES] - 1u) * line + v->vbe[VBE_XRES] * ((bpp + 7) / 8);
		if (start > v->vram_size || len > v->vram_size - start)
			len = start < v->vram_size ? v->vram_size - start : 0;
	} else if (vga_vbe_on(v)) {
		/* VBE planar: the four planes up to the last displayed line */
		uint64_t lines = (uint64_t)v->vbe[VBE_Y_OFFSET] + v->vbe[VBE_YRES];
		uint64_t n = 4 * lines * (v->vbe[VBE_VIRT_WIDTH] / 8u);
		len = n < v->vram_size ? (uint32_t)n : v->vram_size;
	}
	if (len > v->shadow_cap) {
		uint8_t *p = realloc(v->shadow, len);
		if (!p) {
			v->serial++; /* cannot compare: assume it changed */
			return v->serial;
		}
		v->shadow = p;
		v->shadow_cap = len;
		v->shadow_len = 0;
	}
	if (start != v->shadow_start || len != v->shadow_len ||
	    memcmp(v->shadow, v->vram + start, len)) {
		memcpy(v->shadow, v->vram + start, len);
		v->shadow_start = start;
		v->shadow_len = len;
		v->serial++;
	}
	return v->serial;
}

/*
 * The VGA adapter: a PCI VGA device 1234:1111 (the "standard VGA" that
 * SeaVGABIOS's vgabios-stdvga.bin drives) with the IBM VGA register set,
 * 256 KiB of planar memory behind the legacy 0xA0000-0xBFFFF window, and the
 * Bochs VBE extension (ports 0x1CE/0x1CF) with 16 MiB of video memory
 * behind PCI BAR0 as a linear framebuffer.
 *
 * Displays never look at registers: they ask the model for its current mode,
 * for the text grid (text modes) or for the screen as RGB pixels, and poll a
 * change counter to know when to ask again.
 */
#ifndef PCVM_CHIPSET_VGA_H
#define PCVM_CHIPSET_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vga;
struct pci_device;

#define VGA_VRAM_SIZE (16u << 20)
#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111
#define VGA_PCI_SLOT 2
#define VGA_ROM_PATH "/usr/share/seabios/vgabios-stdvga.bin"

/* The largest VBE mode the adapter accepts (GETCAPS reports these). */
#define VGA_VBE_MAX_XRES 1920
#define VGA_VBE_MAX_YRES 1200
#define VGA_VBE_MAX_BPP 32

/* Creates the adapter: ports, the legacy memory window, and (when the
 * machine has a PCI bus) the PCI function with its framebuffer BAR and the
 * option ROM read from rom_path (NULL: no option ROM). */
int vga_create(struct vm *vm, const char *rom_path, struct vga **out);

/* Leaves the adapter as a VGA BIOS does after its POST, for machines
 * started without firmware (--kernel): mode 3 (80x25 colour text, 9x16
 * cells), the EGA palette, a blank screen and the option ROM's 8x16 font in
 * plane 2. -ENOENT when the ROM holds no font (the mode is set, glyphs are
 * blank in pictures). */
int vga_boot_text_mode(struct vga *v);

/* The PCI function, for the board and for tests that play the bus. */
struct pci_device *vga_pci_device(struct vga *v);

enum vga_kind {
	VGA_KIND_NONE,     /* registers describe no displayable mode */
	VGA_KIND_TEXT,
	VGA_KIND_GRAPHICS,
};

struct vga_mode {
	enum vga_kind kind;
	unsigned width, height;  /* pixels of the rendered screen */
	unsigned cols, rows;     /* text modes: character cells */
	unsigned char_w, char_h; /* text modes: dots per cell (8 or 9) x lines */
	unsigned bpp;            /* graphics: 1, 2, 4, 8 (VGA); 4-32 (VBE) */
	bool vbe;                /* a Bochs VBE mode is enabled */
	bool blanked;            /* the guest turned the screen off */
};

/* The mode the registers describe now. */
void vga_get_mode(struct vga *v, struct vga_mode *m);

struct vga_cell {
	uint8_t ch;   /* code page 437 */
	uint8_t attr; /* bits 0-3 foreground, 4-7 background (bit 7: blink) */
};

/* A text screen. The caller zero-initializes it and frees it with
 * vga_text_free; vga_get_text reuses its buffer across calls. */
struct vga_text {
	unsigned cols, rows;
	struct vga_cell *cell; /* rows * cols, row-major */
	size_t cap;
	bool cursor_visible;   /* enabled and on the screen */
	unsigned cursor_col, cursor_row;
	unsigned cursor_start, cursor_end; /* scan lines within the cell */
	unsigned char_h;
	bool blink;            /* attribute bit 7 blinks (else bright background) */
	bool blanked;
	uint32_t palette[16];  /* 0xRRGGBB of attribute colours 0-15 */
};

/* Fills t when a text mode is shown; -ENOTSUP in graphics modes. */
int vga_get_text(struct vga *v, struct vga_text *t);
void vga_text_free(struct vga_text *t);

/* An RGB picture; zero-initialize, free with vga_image_free. */
struct vga_image {
	unsigned width, height;
	uint32_t *pix; /* 0xRRGGBB, row-major */
	size_t cap;
};

/* Renders the whole screen as the monitor would show it: text modes with
 * the guest's font from plane 2, the cursor drawn and blinking characters in
 * their visible phase (so the same state always gives the same picture).
 * -ENOTSUP when no mode is displayable (the image is then 0 x 0). */
int vga_render(struct vga *v, struct vga_image *img);
void vga_image_free(struct vga_image *img);

/* A number that changes whenever what the screen shows may have changed
 * (registers, palette, or the displayed part of video memory). Cheap when
 * nothing changed: one comparison of the displayed memory with a copy. */
uint64_t vga_poll_changes(struct vga *v);

/* The 16 colours of the default text palette as VGA shows them (0xRRGGBB),
 * in attribute order: black, blue, green, cyan, red, magenta, brown, light
 * grey, then the bright ones. */
extern const uint32_t vga_default_palette[16];

#endif

/*
 * The VGA adapter's state, shared by the register/memory side (vga.c) and
 * the renderer (vga_render.c). Planar memory is stored interleaved: byte
 * p of plane-address a lives at vram[a * 4 + p], so the four latches are one
 * 32-bit load and each plane is a byte lane of it.
 */
#ifndef PCVM_CHIPSET_VGA_INT_H
#define PCVM_CHIPSET_VGA_INT_H

#include "pci.h"
#include "vga.h"

#include <stdbool.h>
#include <stdint.h>

/* Bochs VBE (DISPI) register indices and ENABLE bits. */
enum {
	VBE_ID, VBE_XRES, VBE_YRES, VBE_BPP, VBE_ENABLE, VBE_BANK,
	VBE_VIRT_WIDTH, VBE_VIRT_HEIGHT, VBE_X_OFFSET, VBE_Y_OFFSET,
	VBE_VIDEO_MEMORY_64K, VBE_NREGS
};
#define VBE_ID0 0xB0C0
#define VBE_ID5 0xB0C5
#define VBE_EN_ENABLED 0x01
#define VBE_EN_GETCAPS 0x02
#define VBE_EN_8BIT_DAC 0x20
#define VBE_EN_LFB 0x40
#define VBE_EN_NOCLEARMEM 0x80

#define VGA_PLANE_SIZE 0x10000u /* bytes per plane in VGA modes */

struct vga {
	struct vm *vm;
	uint8_t *vram;
	uint32_t vram_size;
	uint8_t *rom;
	uint32_t rom_size;      /* the ROM BAR's size, a power of two */
	struct pci_device pci;
	bool on_pci;
	uint64_t lfb_addr, rom_addr; /* PCI_BAR_UNMAPPED when not decoding */
	bool window_ram;        /* 0xA0000 is mapped straight to a VBE bank */

	uint8_t misc, fcr;
	uint8_t sr_index, sr[8];
	uint8_t gr_index, gr[16];
	uint8_t cr_index, cr[0x19];
	uint8_t ar_index, ar[0x15];
	bool ar_flip;           /* false: next 0x3C0 write is an index */
	uint8_t pel_mask;
	uint8_t dac_read, dac_write, dac_sub;
	bool dac_reading;       /* last index written was the read index */
	uint8_t dac_latch[3];
	uint8_t dac[256][3];
	uint32_t latch;

	uint16_t vbe_index;
	uint16_t vbe[VBE_NREGS];

	/* Change tracking (vga_poll_changes). */
	uint64_t serial;
	uint8_t *shadow;
	uint32_t shadow_cap, shadow_start, shadow_len;
};

static inline bool vga_vbe_on(const struct vga *v)
{
	return v->vbe[VBE_ENABLE] & VBE_EN_ENABLED;
}

/* VBE bytes per scan line of the current mode. */
static inline uint32_t vga_vbe_line_bytes(const struct vga *v)
{
	uint32_t bpp = v->vbe[VBE_BPP];
	return bpp == 4 ? v->vbe[VBE_VIRT_WIDTH] / 2u
			: v->vbe[VBE_VIRT_WIDTH] * ((bpp + 7) / 8);
}

/* The DAC entry as 8-bit-per-channel RGB. */
uint32_t vga_dac_rgb(const struct vga *v, uint8_t index);
/* Attribute-controller colour index (0-15) -> DAC index. */
uint8_t vga_attr_to_dac(const struct vga *v, uint8_t index);

#endif

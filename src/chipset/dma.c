/*
 * The PC/AT's 8237A DMA controllers, after the Intel 8237A datasheet
 * (register set, mode register, autoinitialize, terminal count, master
 * clear) and the PC/AT technical reference (the second controller's
 * registers at even addresses 0xC0-0xDE, word transfers on channels 5-7
 * addressed in words, channel 4 cascading the first controller, the page
 * registers at 0x80-0x8F). Like the PIIX's, all sixteen page registers
 * read back what was written; 0x80 is where BIOSes post their progress
 * codes.
 *
 * Transfers happen when a device asks (there is no bus timing): single,
 * block and demand modes all move what the device offers until the count
 * runs out. The address wraps inside its 64 KiB (128 KiB for word
 * channels) page, as the hardware's counter does. Memory-to-memory
 * transfers are not supported, as on the PIIX.
 */
#include "dma.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MODE_TYPE(m) (((m) >> 2) & 3) /* 0 verify, 1 write, 2 read */
#define MODE_AUTOINIT 0x10
#define MODE_DECREMENT 0x20
#define MODE_CASCADE 0xc0

#define CMD_DISABLE 0x04

struct dma_channel {
	uint16_t base_addr, base_count;
	uint16_t cur_addr, cur_count;
	uint8_t mode;
};

struct dma_controller {
	struct dma_channel ch[4];
	uint8_t command, status, request, mask, temp;
	bool flipflop;
};

struct dma {
	struct vm *vm;
	struct dma_controller c[2];
	uint8_t page[16];  /* page registers, by port - 0x80 */
	bool warned_cascade;
};

/* The page register of each channel, as an offset from 0x80. */
static const uint8_t page_port[8] = { 0x7, 0x3, 0x1, 0x2, 0xf, 0xb, 0x9, 0xa };

static void master_clear(struct dma_controller *c)
{
	c->command = 0;
	c->status = 0;
	c->request = 0;
	c->temp = 0;
	c->flipflop = false;
	c->mask = 0x0f;
}

bool dma_ready(struct dma *d, int ch)
{
	if (ch < 0 || ch > 7 || ch == 4)
		return false;
	struct dma_controller *c = &d->c[ch >> 2];
	if ((c->command & CMD_DISABLE) || (c->mask & (1u << (ch & 3))))
		return false;
	if (ch < 4) {
		/* The first controller reaches the bus through channel 4. */
		struct dma_controller *c2 = &d->c[1];
		if ((c2->command & CMD_DISABLE) || (c2->mask & 1) ||
		    (c2->ch[0].mode & 0xc0) != MODE_CASCADE) {
			if (!d->warned_cascade) {
				d->warned_cascade = true;
				log_warn("DMA channel %d: channel 4 does not cascade the "
					 "first controller (masked or not in cascade mode)", ch);
			}
			return false;
		}
	}
	return true;
}

static size_t transfer(struct dma *d, int ch, uint8_t *buf, size_t len,
		       bool to_memory, bool *tc)
{
	*tc = false;
	if (!dma_ready(d, ch))
		return 0;
	struct dma_controller *c = &d->c[ch >> 2];
	struct dma_channel *h = &c->ch[ch & 3];
	unsigned shift = ch >= 4; /* word channels */
	uint64_t page = ch >= 4 ? (uint64_t)(d->page[page_port[ch]] & 0xfe) << 16
				: (uint64_t)d->page[page_port[ch]] << 16;
	uint64_t units = len >> shift;
	uint64_t left = (uint64_t)h->cur_count + 1;
	if (units > left)
		units = left;
	int type = MODE_TYPE(h->mode);
	bool touch = to_memory ? type == 1 : type == 2;
	if (!touch && !to_memory)
		memset(buf, 0xff, (size_t)(units << shift));
	if (!touch && type != 0)
		log_debug("DMA channel %d: device %s memory but the channel is "
			  "programmed the other way", ch, to_memory ? "writes" : "reads");
	bool down = h->mode & MODE_DECREMENT;
	uint64_t done = 0;
	while (done < units) {
		/* Up to the end of the address counter's range, or one unit
		 * at a time when counting down (the bytes go in reverse). */
		uint64_t chunk = down ? 1 : 0x10000 - h->cur_addr;
		if (chunk > units - done)
			chunk = units - done;
		uint64_t addr = page + ((uint64_t)h->cur_addr << shift);
		size_t bytes = (size_t)(chunk << shift);
		uint8_t *p = buf + (done << shift);
		if (touch) {
			if (to_memory)
				mem_write_bytes(d->vm->mem, addr, p, bytes);
			else
				mem_read_bytes(d->vm->mem, addr, p, bytes);
		}
		h->cur_addr = (uint16_t)(down ? h->cur_addr - chunk : h->cur_addr + chunk);
		h->cur_count = (uint16_t)(h->cur_count - chunk);
		done += chunk;
	}
	if (units == left) {
		*tc = true;
		c->status |= (uint8_t)(1u << (ch & 3));
		c->request &= (uint8_t)~(1u << (ch & 3));
		if (h->mode & MODE_AUTOINIT) {
			h->cur_addr = h->base_addr;
			h->cur_count = h->base_count;
		} else {
			c->mask |= (uint8_t)(1u << (ch & 3));
		}
	}
	return (size_t)(units << shift);
}

size_t dma_write_memory(struct dma *d, int ch, const void *buf, size_t len, bool *tc)
{
	return transfer(d, ch, (uint8_t *)(uintptr_t)buf, len, true, tc);
}

size_t dma_read_memory(struct dma *d, int ch, void *buf, size_t len, bool *tc)
{
	return transfer(d, ch, buf, len, false, tc);
}

uint8_t dma_post_code(const struct dma *d) { return d->page[0]; }

static uint8_t reg_read(struct dma_controller *c, unsigned reg)
{
	if (reg < 8) {
		struct dma_channel *h = &c->ch[reg >> 1];
		uint16_t v = reg & 1 ? h->cur_count : h->cur_addr;
		bool high = c->flipflop;
		c->flipflop = !c->flipflop;
		return (uint8_t)(high ? v >> 8 : v);
	}
	switch (reg) {
	case 8: {
		uint8_t v = (uint8_t)(c->status | (c->request << 4));
		c->status = 0; /* TC bits clear on read */
		return v;
	}
	case 13:
		return c->temp;
	case 15:
		return (uint8_t)(0xf0 | c->mask);
	default:
		return 0xff;
	}
}

static void reg_write(struct dma_controller *c, unsigned reg, uint8_t v)
{
	if (reg < 8) {
		struct dma_channel *h = &c->ch[reg >> 1];
		uint16_t *base = reg & 1 ? &h->base_count : &h->base_addr;
		uint16_t *cur = reg & 1 ? &h->cur_count : &h->cur_addr;
		if (c->flipflop)
			*base = (uint16_t)((*base & 0x00ff) | v << 8);
		else
			*base = (uint16_t)((*base & 0xff00) | v);
		*cur = *base;
		c->flipflop = !c->flipflop;
		return;
	}
	switch (reg) {
	case 8:
		c->command = v;
		break;
	case 9: /* software request */
		if (v & 4)
			c->request |= (uint8_t)(1u << (v & 3));
		else
			c->request &= (uint8_t)~(1u << (v & 3));
		break;
	case 10:
		if (v & 4)
			c->mask |= (uint8_t)(1u << (v & 3));
		else
			c->mask &= (uint8_t)~(1u << (v & 3));
		break;
	case 11:
		c->ch[v & 3].mode = v & 0xfc;
		break;
	case 12:
		c->flipflop = false;
		break;
	case 13:
		master_clear(c);
		break;
	case 14:
		c->mask = 0;
		break;
	case 15:
		c->mask = v & 0x0f;
		break;
	}
}

static uint64_t dma1_io(void *opaque, uint64_t addr, uint64_t val,
			unsigned size, int is_write)
{
	struct dma *d = opaque;
	(void)size;
	if (is_write) {
		reg_write(&d->c[0], (unsigned)addr & 0x0f, (uint8_t)val);
		return 0;
	}
	return reg_read(&d->c[0], (unsigned)addr & 0x0f);
}

static uint64_t dma2_io(void *opaque, uint64_t addr, uint64_t val,
			unsigned size, int is_write)
{
	struct dma *d = opaque;
	unsigned off = (unsigned)addr - 0xc0;
	(void)size;
	if (off & 1) /* the second controller decodes even addresses only */
		return 0xff;
	if (is_write) {
		reg_write(&d->c[1], off >> 1, (uint8_t)val);
		return 0;
	}
	return reg_read(&d->c[1], off >> 1);
}

static uint64_t page_io(void *opaque, uint64_t addr, uint64_t val,
			unsigned size, int is_write)
{
	struct dma *d = opaque;
	unsigned reg = (unsigned)addr - 0x80;
	(void)size;
	if (!is_write)
		return d->page[reg];
	d->page[reg] = (uint8_t)val;
	if (reg == 0)
		log_debug("POST code %#04x", (unsigned)(val & 0xff));
	return 0;
}

static void dma_reset(void *opaque)
{
	struct dma *d = opaque;
	master_clear(&d->c[0]);
	master_clear(&d->c[1]);
	memset(d->c[0].ch, 0, sizeof(d->c[0].ch));
	memset(d->c[1].ch, 0, sizeof(d->c[1].ch));
	memset(d->page, 0, sizeof(d->page));
}

int dma_create(struct vm *vm, struct dma **out)
{
	struct dma *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, free, d);
	if (err) {
		free(d);
		return err;
	}
	d->vm = vm;
	if ((err = ioport_register(vm->io, 0x00, 16, dma1_io, d, IOPORT_F_BYTE, "dma1")) ||
	    (err = ioport_register(vm->io, 0xc0, 32, dma2_io, d, IOPORT_F_BYTE, "dma2")) ||
	    (err = ioport_register(vm->io, 0x80, 16, page_io, d, IOPORT_F_BYTE, "dma-page")) ||
	    (err = vm_add_reset_hook(vm, dma_reset, d)))
		return err;
	dma_reset(d);
	*out = d;
	return 0;
}

/*
 * Function 0 of the Intel 82371SB (PIIX3) PCI ISA IDE Xcelerator, after its
 * datasheet (Intel 290550): the PCI-to-ISA bridge's configuration registers
 * (section 2.2), of which the PIRQ route control registers 0x60-0x63
 * (2.2.9) matter: each steers one of the four PCI interrupt lines PIRQA#-D#
 * to an ISA IRQ (3-7, 9-12, 14, 15) unless its bit 7 disables the routing;
 * the ISA side sees a level, and several PIRQs on one IRQ share it. The
 * reset control register at I/O 0xCF9 (section 2.3.4) resets the machine
 * when a write sets its RCPU bit. The 8259 pair, its ELCR, the DMA
 * controller, timer and the rest of the ISA side are separate devices.
 */
#include "piix.h"
#include "pci.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RCR_SRST 0x02 /* system (not just CPU) reset */
#define RCR_RCPU 0x04

struct piix3 {
	struct pci_device dev;
	struct vm *vm;
	int pirq_level[4];
	int isa_level[16]; /* what the routing drives onto each ISA IRQ */
	uint8_t rcr;
};

/* The ISA IRQ PIRQ p goes to, or -1. */
static int route(const struct piix3 *s, int p)
{
	uint8_t v = s->dev.config[PIIX_PIRQRC + p];
	int irq = v & 0x0f;
	if (v & 0x80)
		return -1;
	/* 0-2, 8 and 13 are reserved: the datasheet leaves them unrouted. */
	if (irq < 3 || irq == 8 || irq == 13)
		return -1;
	return irq;
}

static void update(struct piix3 *s)
{
	int level[16] = { 0 };
	for (int p = 0; p < 4; p++) {
		int irq = route(s, p);
		if (irq >= 0 && s->pirq_level[p])
			level[irq] = 1;
	}
	for (int irq = 0; irq < 16; irq++) {
		if (level[irq] == s->isa_level[irq])
			continue;
		s->isa_level[irq] = level[irq];
		irq_set(&s->vm->isa_irq[irq], level[irq]);
	}
}

static void set_pirq(void *opaque, int pirq, int level)
{
	struct piix3 *s = opaque;
	if (pirq < 0 || pirq > 3)
		return;
	s->pirq_level[pirq] = level;
	update(s);
}

static void config_write(struct pci_device *d, unsigned off, uint32_t val,
			 unsigned size)
{
	(void)val;
	if (off < PIIX_PIRQRC + 4 && off + size > PIIX_PIRQRC)
		update(d->opaque);
}

static uint64_t rcr_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	(void)port;
	(void)size;
	struct piix3 *s = opaque;
	if (!is_write)
		return s->rcr;
	if (val & RCR_RCPU) {
		log_debug("reset through port 0xcf9 (%#x)", (unsigned)val & 0xff);
		vm_request_reset(s->vm);
	}
	s->rcr = val & RCR_SRST;
	return 0;
}

static void reset(struct pci_device *d)
{
	struct piix3 *s = d->opaque;
	s->rcr = 0;
	update(s);
}

static void destroy(void *opaque)
{
	free(opaque);
}

int piix3_create(struct vm *vm, struct pci_bus *bus, int slot, struct piix3 **out)
{
	struct piix3 *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct pci_device *d = &s->dev;
	s->vm = vm;
	d->name = "piix3-isa";
	d->opaque = s;
	d->config_write = config_write;
	d->reset = reset;
	pci_set_ids(d, 0x8086, 0x7000, 0x00, 0x060100);
	pci_set_word(d, PCI_COMMAND, 0x0007); /* hardwired on */
	pci_set_word(d, PCI_STATUS, 0x0200);
	d->w1cmask[PCI_STATUS + 1] = 0x78;
	d->config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_MULTI;
	static const struct { uint8_t off, def, mask; } regs[] = {
		{ 0x4c, 0x4d, 0x7f },  /* IORT: ISA I/O recovery */
		{ 0x4e, 0x03, 0xff },  /* XBCS: X-bus chip selects */
		{ 0x4f, 0x00, 0x03 },
		{ 0x60, 0x80, 0x8f }, { 0x61, 0x80, 0x8f },
		{ 0x62, 0x80, 0x8f }, { 0x63, 0x80, 0x8f },
		{ 0x69, 0x02, 0xfe },  /* TOM: top of memory */
		{ 0x6a, 0x00, 0xff }, { 0x6b, 0x00, 0xff }, /* MSTAT */
		{ 0x70, 0x80, 0xef }, { 0x71, 0x80, 0xef }, /* MBIRQ0-1 */
		{ 0x76, 0x0c, 0x8f }, { 0x77, 0x0c, 0x8f }, /* MBDMA0-1 */
		{ 0x78, 0x02, 0xff }, { 0x79, 0x00, 0xff }, /* PCSC */
		{ 0x80, 0x00, 0x7f },  /* APICBASE */
		{ 0x82, 0x00, 0x0f },  /* DLC */
		{ 0xa0, 0x08, 0x1f },  /* SMICNTL */
		{ 0xa2, 0x00, 0xff }, { 0xa3, 0x00, 0xff }, /* SMIEN */
		{ 0xa4, 0x00, 0xff }, { 0xa5, 0x00, 0xff }, /* SEE */
		{ 0xa6, 0x00, 0xff }, { 0xa7, 0x00, 0xff },
		{ 0xa8, 0x0f, 0xff },  /* FTMR */
		{ 0xaa, 0x00, 0xff }, { 0xab, 0x00, 0xff }, /* SMIREQ */
		{ 0xac, 0x00, 0xff }, { 0xae, 0x00, 0xff }, /* CTLTMR, CTHTMR */
	};
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		d->config[regs[i].off] = regs[i].def;
		d->wmask[regs[i].off] = regs[i].mask;
	}
	int err = vm_add_cleanup_hook(vm, destroy, s);
	if (err) {
		free(s);
		return err;
	}
	if ((err = pci_add_device(bus, d, slot, 0)))
		return err;
	pci_bus_set_router(bus, set_pirq, s);
	pci_bus_set_cf9(bus, rcr_io, s);
	if (out)
		*out = s;
	return 0;
}

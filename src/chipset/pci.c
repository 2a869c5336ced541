/*
 * PCI bus 0 with configuration mechanism #1, as the PCI Local Bus
 * Specification 3.0 (section 3.2.2.3.2) describes it: a dword write to
 * CONFIG_ADDRESS (0xCF8) selects bus, device, function and register, and
 * byte, word or dword accesses to CONFIG_DATA (0xCFC-0xCFF) reach that
 * register plus the port's offset. Base address registers follow section
 * 6.2.5: the low bits are hardwired (I/O or memory type), the bits below the
 * region's size read as zero, so writing all ones and reading back gives the
 * size; the expansion ROM BAR (6.2.5.2) decodes only while its enable bit
 * and the command register's memory enable are both set.
 */
#include "pci.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PCI_MAX_DEVFN 256

struct pci_bus {
	struct vm *vm;
	uint32_t addr; /* CONFIG_ADDRESS */
	struct pci_device *dev[PCI_MAX_DEVFN];
	void (*set_pirq)(void *opaque, int pirq, int level);
	void *router;
	int pirq_level[4];
	io_handler_fn cf9_fn;
	void *cf9_opaque;
};

static int bar_of(unsigned off)
{
	if (off >= 0x10 && off < 0x28)
		return (int)(off - 0x10) / 4;
	if (off >= PCI_ROM_ADDRESS && off < PCI_ROM_ADDRESS + 4)
		return PCI_ROM_BAR;
	return -1;
}

static unsigned bar_reg(int i)
{
	return i == PCI_ROM_BAR ? PCI_ROM_ADDRESS : PCI_BAR0 + 4u * (unsigned)i;
}

/* The value a BAR register holds once the hardwired bits are applied. */
static uint32_t bar_value(const struct pci_bar *b, uint32_t v)
{
	uint32_t size_mask = ~(uint32_t)(b->size - 1);
	switch (b->kind) {
	case PCI_BAR_IO:
		return (v & size_mask & ~3u) | 1u;
	case PCI_BAR_MEM32:
		return (v & size_mask & ~0xfu) | (b->prefetch ? 8u : 0u);
	case PCI_BAR_ROM:
		return v & (size_mask | 1u) & ~0x7feu;
	default:
		return 0;
	}
}

/* Where bar i should decode now, or PCI_BAR_UNMAPPED. */
static uint64_t bar_target(const struct pci_device *d, int i)
{
	const struct pci_bar *b = &d->bar[i];
	uint16_t cmd = pci_get_word(d, PCI_COMMAND);
	uint32_t v = pci_get_long(d, bar_reg(i));
	uint64_t addr, limit;
	switch (b->kind) {
	case PCI_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return PCI_BAR_UNMAPPED;
		addr = v & ~3u;
		limit = 0x10000;
		break;
	case PCI_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEMORY))
			return PCI_BAR_UNMAPPED;
		addr = v & ~0xfu;
		limit = 1ull << 32;
		break;
	case PCI_BAR_ROM:
		if (!(cmd & PCI_COMMAND_MEMORY) || !(v & 1))
			return PCI_BAR_UNMAPPED;
		addr = v & ~0x7ffu;
		limit = 1ull << 32;
		break;
	default:
		return PCI_BAR_UNMAPPED;
	}
	/* Address 0 is what firmware leaves in a BAR it did not assign; no
	 * device really decodes there on a PC. */
	if (!addr || addr + b->size > limit)
		return PCI_BAR_UNMAPPED;
	return addr;
}

static bool mem_range_free(struct mem *m, uint64_t base, uint64_t size)
{
	unsigned n = mem_region_count(m);
	for (unsigned i = 0; i < n; i++) {
		const struct mem_region *r = mem_region_at(m, i);
		if (r->base < base + size && base < r->base + r->size)
			return false;
	}
	return true;
}

static bool io_range_free(struct ioport *io, uint64_t base, uint64_t size)
{
	for (uint64_t p = base; p < base + size; p++)
		if (ioport_owner(io, (uint16_t)p))
			return false;
	return true;
}

static void bar_unmap(struct pci_device *d, int i)
{
	struct pci_bar *b = &d->bar[i];
	struct vm *vm = d->bus->vm;
	if (b->addr == PCI_BAR_UNMAPPED)
		return;
	if (b->fn || b->host) {
		if (b->kind == PCI_BAR_IO)
			ioport_unregister(vm->io, (uint16_t)b->addr);
		else
			mem_unmap(vm->mem, b->addr);
	}
}

static bool bar_map_at(struct pci_device *d, int i, uint64_t addr)
{
	struct pci_bar *b = &d->bar[i];
	struct vm *vm = d->bus->vm;
	if (!b->fn && !b->host)
		return true;
	bool io = b->kind == PCI_BAR_IO;
	bool free_ = io ? io_range_free(vm->io, addr, b->size)
			: mem_range_free(vm->mem, addr, b->size);
	int err = -EEXIST;
	if (free_) {
		if (io) {
			err = ioport_register(vm->io, (uint16_t)addr, (uint32_t)b->size,
					      b->fn, b->opaque, 0, d->name);
		} else {
			struct mem_region r = {
				.base = addr, .size = b->size, .rd = b->host,
				.wr = b->kind == PCI_BAR_ROM ? NULL : b->host,
				.fn = b->fn, .opaque = b->opaque, .name = d->name,
			};
			err = mem_map(vm->mem, &r);
		}
	}
	if (err) {
		/* Overlapping decoders are undefined on real hardware; here
		 * the BAR simply does not decode until it moves. */
		if (!b->warned)
			log_warn("PCI %02x.%x %s: BAR %d placed at %#llx overlaps "
				 "another device; not decoding it there",
				 d->devfn >> 3, d->devfn & 7, d->name, i,
				 (unsigned long long)addr);
		b->warned = true;
		return false;
	}
	return true;
}

static void update_bar(struct pci_device *d, int i)
{
	struct pci_bar *b = &d->bar[i];
	if (b->kind == PCI_BAR_NONE || !b->size)
		return;
	uint64_t target = bar_target(d, i);
	if (target == b->addr)
		return;
	uint64_t old = b->addr;
	bar_unmap(d, i);
	b->addr = PCI_BAR_UNMAPPED;
	if (target != PCI_BAR_UNMAPPED && bar_map_at(d, i, target))
		b->addr = target;
	if (b->addr != old && d->bar_map)
		d->bar_map(d, i, old, b->addr);
}

static void update_bars(struct pci_device *d)
{
	for (int i = 0; i <= PCI_ROM_BAR; i++)
		update_bar(d, i);
}

static uint32_t dev_read(struct pci_device *d, unsigned off, unsigned size)
{
	uint32_t v;
	if (d->config_read && d->config_read(d, off, size, &v))
		return v;
	v = 0;
	for (unsigned i = 0; i < size && off + i < 256; i++)
		v |= (uint32_t)d->config[off + i] << (8 * i);
	return v;
}

static void dev_write(struct pci_device *d, unsigned off, uint32_t val,
		      unsigned size)
{
	bool bar_touched = false;
	uint16_t old_cmd = pci_get_word(d, PCI_COMMAND);
	for (unsigned i = 0; i < size && off + i < 256; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));
		int bar = bar_of(o);
		if (bar >= 0) {
			if (d->bar[bar].kind != PCI_BAR_NONE && d->bar[bar].size) {
				d->config[o] = b;
				bar_touched = true;
			}
			continue;
		}
		d->config[o] = (uint8_t)((d->config[o] & ~d->wmask[o]) | (b & d->wmask[o]));
		d->config[o] &= (uint8_t)~(b & d->w1cmask[o]);
	}
	if (bar_touched)
		for (int i = 0; i <= PCI_ROM_BAR; i++)
			if (d->bar[i].kind != PCI_BAR_NONE && d->bar[i].size)
				pci_set_long(d, bar_reg(i),
					     bar_value(&d->bar[i], pci_get_long(d, bar_reg(i))));
	uint16_t cmd = pci_get_word(d, PCI_COMMAND);
	if (bar_touched || ((cmd ^ old_cmd) & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)))
		update_bars(d);
	if (d->config_write)
		d->config_write(d, off, val, size);
}

uint32_t pci_config_read(struct pci_bus *bus, int devfn, unsigned off,
			 unsigned size)
{
	uint32_t ones = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	if (devfn < 0 || devfn >= PCI_MAX_DEVFN || off >= 256 || !bus->dev[devfn])
		return ones;
	return dev_read(bus->dev[devfn], off, size) & ones;
}

void pci_config_write(struct pci_bus *bus, int devfn, unsigned off,
		      uint32_t val, unsigned size)
{
	if (devfn < 0 || devfn >= PCI_MAX_DEVFN || off >= 256 || !bus->dev[devfn])
		return;
	dev_write(bus->dev[devfn], off, val, size);
}

struct pci_device *pci_find_device(struct pci_bus *bus, int slot, int fn)
{
	if (slot < 0 || slot > 31 || fn < 0 || fn > 7)
		return NULL;
	return bus->dev[slot << 3 | fn];
}

/* Ports 0xCF8-0xCFF: CONFIG_ADDRESS takes only dword accesses; the PIIX's
 * reset control register sits at 0xCF9 among them. */
static uint64_t cf8_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct pci_bus *bus = opaque;
	if (port == 0xcf8 && size == 4) {
		if (is_write)
			bus->addr = (uint32_t)val & 0x80fffffcu;
		return bus->addr;
	}
	if (port == 0xcf9 && size == 1 && bus->cf9_fn)
		return bus->cf9_fn(bus->cf9_opaque, port, val, size, is_write);
	if (port < 0xcfc || !(bus->addr & 0x80000000u) || ((bus->addr >> 16) & 0xff)) {
		/* Not a configuration cycle (or to a bus that does not
		 * exist): nobody answers. */
		return ~0ull;
	}
	int devfn = (bus->addr >> 8) & 0xff;
	unsigned off = (bus->addr & 0xfc) + (unsigned)(port - 0xcfc);
	if (is_write) {
		pci_config_write(bus, devfn, off, (uint32_t)val, size);
		return 0;
	}
	return pci_config_read(bus, devfn, off, size);
}

static void update_pirq(struct pci_bus *bus, int pirq)
{
	int level = 0;
	for (int i = 0; i < PCI_MAX_DEVFN && !level; i++) {
		struct pci_device *d = bus->dev[i];
		if (!d || !d->irq_level)
			continue;
		int pin = d->config[PCI_INTERRUPT_PIN];
		if (pin >= 1 && pin <= 4 && ((d->devfn >> 3) + pin + 2) % 4 == pirq)
			level = 1;
	}
	if (level == bus->pirq_level[pirq])
		return;
	bus->pirq_level[pirq] = level;
	if (bus->set_pirq)
		bus->set_pirq(bus->router, pirq, level);
}

void pci_set_irq(struct pci_device *d, int level)
{
	level = !!level;
	if (d->irq_level == level)
		return;
	d->irq_level = level;
	int pin = d->config[PCI_INTERRUPT_PIN];
	if (d->bus && pin >= 1 && pin <= 4)
		update_pirq(d->bus, ((d->devfn >> 3) + pin + 2) % 4);
}

void pci_bus_set_router(struct pci_bus *bus,
			void (*set_pirq)(void *opaque, int pirq, int level),
			void *opaque)
{
	bus->set_pirq = set_pirq;
	bus->router = opaque;
	for (int p = 0; p < 4; p++)
		if (bus->pirq_level[p] && set_pirq)
			set_pirq(opaque, p, 1);
}

void pci_bus_set_cf9(struct pci_bus *bus, io_handler_fn fn, void *opaque)
{
	bus->cf9_fn = fn;
	bus->cf9_opaque = opaque;
}

void pci_set_bar(struct pci_device *d, int i, enum pci_bar_kind kind,
		 uint64_t size, bool prefetch)
{
	if (i < 0 || i > PCI_ROM_BAR)
		return;
	struct pci_bar *b = &d->bar[i];
	b->kind = kind;
	b->size = size;
	b->prefetch = prefetch;
	b->addr = PCI_BAR_UNMAPPED;
	pci_set_long(d, bar_reg(i), bar_value(b, 0));
}

static void bus_reset(void *opaque)
{
	struct pci_bus *bus = opaque;
	bus->addr = 0;
	for (int i = 0; i < PCI_MAX_DEVFN; i++) {
		struct pci_device *d = bus->dev[i];
		if (!d)
			continue;
		memcpy(d->config, d->reset_config, sizeof(d->config));
		update_bars(d);
		d->irq_level = 0;
		if (d->reset)
			d->reset(d);
	}
	for (int p = 0; p < 4; p++)
		update_pirq(bus, p);
}

int pci_add_device(struct pci_bus *bus, struct pci_device *d, int slot, int fn)
{
	if (slot < 0 || slot > 31 || fn < 0 || fn > 7)
		return -EINVAL;
	int devfn = slot << 3 | fn;
	if (bus->dev[devfn]) {
		log_error("PCI slot %02x.%x is taken by %s", slot, fn,
			  bus->dev[devfn]->name);
		return -EEXIST;
	}
	for (int i = 0; i <= PCI_ROM_BAR; i++) {
		struct pci_bar *b = &d->bar[i];
		if (b->kind == PCI_BAR_NONE)
			continue;
		uint64_t min = b->kind == PCI_BAR_IO ? 4 : b->kind == PCI_BAR_ROM ? 2048 : 16;
		if (b->size < min || (b->size & (b->size - 1)) ||
		    b->size > (b->kind == PCI_BAR_IO ? 256u : 1ull << 31) ||
		    (b->kind == PCI_BAR_ROM) != (i == PCI_ROM_BAR))
			return -EINVAL;
		b->addr = PCI_BAR_UNMAPPED;
	}
	d->bus = bus;
	d->devfn = (uint8_t)devfn;
	d->irq_level = 0;
	memcpy(d->reset_config, d->config, sizeof(d->config));
	bus->dev[devfn] = d;
	return 0;
}

static void bus_free(void *opaque)
{
	free(opaque);
}

int pci_bus_create(struct vm *vm, struct pci_bus **out)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->vm = vm;
	int err = ioport_register(vm->io, 0xcf8, 8, cf8_io, bus, 0, "pci-config");
	if (!err)
		err = vm_add_reset_hook(vm, bus_reset, bus);
	if (!err)
		err = vm_add_cleanup_hook(vm, bus_free, bus);
	if (err) {
		free(bus);
		return err;
	}
	vm->pci = bus;
	*out = bus;
	return 0;
}

/* Walks [addr, addr+len) region by region; each piece must be host memory
 * that serves the direction asked. */
static int mem_rw(struct mem *m, uint64_t addr, uint8_t *buf, size_t len,
		  bool write)
{
	if (addr + len < addr)
		return -EFAULT;
	while (len) {
		const struct mem_region *r = mem_find(m, addr);
		uint8_t *host = !r ? NULL : write ? r->wr : r->rd;
		if (!host)
			return -EFAULT;
		uint64_t left = r->size - (addr - r->base);
		size_t chunk = len < left ? len : (size_t)left;
		if (write) {
			memcpy(host + (addr - r->base), buf, chunk);
			mem_notify_write(m, addr, chunk);
		} else {
			memcpy(buf, host + (addr - r->base), chunk);
		}
		addr += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int pci_mem_read(struct vm *vm, uint64_t addr, void *buf, size_t len)
{
	return mem_rw(vm->mem, addr, buf, len, false);
}

int pci_mem_write(struct vm *vm, uint64_t addr, const void *buf, size_t len)
{
	return mem_rw(vm->mem, addr, (uint8_t *)buf, len, true);
}

int pci_dma_read(struct pci_device *d, uint64_t addr, void *buf, size_t len)
{
	if (!(pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_MASTER))
		return -EPERM;
	return pci_mem_read(d->bus->vm, addr, buf, len);
}

int pci_dma_write(struct pci_device *d, uint64_t addr, const void *buf,
		  size_t len)
{
	if (!(pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_MASTER))
		return -EPERM;
	return pci_mem_write(d->bus->vm, addr, buf, len);
}

/*
 * PCI bus 0 of the PC: configuration mechanism #1 (ports 0xCF8/0xCFC) and
 * the devices on it. A device fills its 256-byte configuration space and the
 * mask of writable bits; the bus handles reads, masked writes, BAR sizing
 * (a BAR reads back ~(size-1) after the guest writes all ones) and maps a
 * BAR whenever its address or the command register's I/O/memory enable
 * changes: through the BAR's own handler or host memory when the device gave
 * one, and in any case by calling the device's bar_map hook.
 * Interrupts go through pci_set_irq, which the ISA bridge routes (PIRQ A-D)
 * to an ISA IRQ by the standard swizzle (pin + slot).
 */
#ifndef PCVM_CHIPSET_PCI_H
#define PCVM_CHIPSET_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ioport.h"

struct vm;
struct pci_bus;
struct pci_device;

#define PCI_NUM_BARS 6
#define PCI_ROM_BAR 6 /* the expansion ROM BAR at 0x30 */

/* Config space offsets used across devices. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_HEADER_TYPE_MULTI 0x80
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

/* SeaBIOS recognises the machine as QEMU's (and then uses fw_cfg) only when
 * the host bridge carries this subsystem ID; every device here carries it. */
#define PCI_SUBVENDOR_QEMU 0x1af4
#define PCI_SUBDEVICE_QEMU 0x1100

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_ROM };

struct pci_bar {
	enum pci_bar_kind kind;
	uint64_t size;     /* power of two; 0 = unused */
	bool prefetch;
	/* Current address while decoding is enabled, else PCI_BAR_UNMAPPED. */
	uint64_t addr;
	/* Optional: what the bus maps at addr. I/O BARs use fn; memory BARs
	 * read and write host (ROM BARs only read it) and pass the rest to
	 * fn. Handlers get absolute addresses. */
	io_handler_fn fn;
	void *opaque;
	uint8_t *host;
	bool warned;       /* a conflicting placement was reported */
};

#define PCI_BAR_UNMAPPED UINT64_MAX

struct pci_device {
	const char *name;
	uint8_t config[256];
	uint8_t wmask[256];   /* bits the guest may change (BARs handled apart) */
	uint8_t w1cmask[256]; /* write-one-to-clear bits (status register) */
	struct pci_bar bar[PCI_NUM_BARS + 1];
	/* Optional: called when bar i starts decoding at addr, moves, or
	 * stops (addr == PCI_BAR_UNMAPPED). old is where it was. */
	void (*bar_map)(struct pci_device *d, int i, uint64_t old, uint64_t addr);
	/* Optional: device-specific registers beyond the standard header;
	 * called after the bus applied a write (val already masked in). */
	void (*config_write)(struct pci_device *d, unsigned off, uint32_t val,
			     unsigned size);
	/* Optional: override reads (return true and fill *val). */
	bool (*config_read)(struct pci_device *d, unsigned off, unsigned size,
			    uint32_t *val);
	/* Optional: machine reset, after the bus restored config[] to the
	 * values the device was added with and unmapped its BARs. */
	void (*reset)(struct pci_device *d);
	void *opaque;
	struct pci_bus *bus;
	uint8_t devfn;        /* slot << 3 | function */
	int irq_level;
	uint8_t reset_config[256]; /* bus-private: config at pci_add_device */
};

/* Creates bus 0, claims ports 0xCF8-0xCFF and sets vm->pci. */
int pci_bus_create(struct vm *vm, struct pci_bus **out);
/* Adds d at slot/function. The device sets config, wmask and bar[] first;
 * the bus fills in nothing else. */
int pci_add_device(struct pci_bus *bus, struct pci_device *d, int slot, int fn);
/* Declares BAR i (or PCI_ROM_BAR) of the given kind and size (a power of
 * two: I/O at least 4, memory at least 16, ROM at least 2048 bytes). */
void pci_set_bar(struct pci_device *d, int i, enum pci_bar_kind kind,
		 uint64_t size, bool prefetch);
/* Level of the device's INTx pin. */
void pci_set_irq(struct pci_device *d, int level);

/* The ISA bridge receives PIRQ A-D (pirq 0-3) levels. */
void pci_bus_set_router(struct pci_bus *bus,
			void (*set_pirq)(void *opaque, int pirq, int level),
			void *opaque);
/* Port 0xCF9 shares the bus's port range but belongs to the PIIX (reset
 * control): byte accesses there go to fn. */
void pci_bus_set_cf9(struct pci_bus *bus, io_handler_fn fn, void *opaque);

/* Configuration cycles as the guest makes them through 0xCFC, for firmware
 * duties done by pcvm itself and for tests. Absent devices read all ones. */
uint32_t pci_config_read(struct pci_bus *bus, int devfn, unsigned off,
			 unsigned size);
void pci_config_write(struct pci_bus *bus, int devfn, unsigned off,
		      uint32_t val, unsigned size);
struct pci_device *pci_find_device(struct pci_bus *bus, int slot, int fn);

/* Bus-master DMA by d into or out of guest memory. Fails (-EPERM) while
 * the command register's bus-master bit is clear and (-EFAULT) when any
 * part of the range is not memory (RAM, or ROM for reads); nothing is
 * transferred past the failing byte. */
int pci_dma_read(struct pci_device *d, uint64_t addr, void *buf, size_t len);
int pci_dma_write(struct pci_device *d, uint64_t addr, const void *buf,
		  size_t len);
/* The same for a system device that is not on the PCI bus (fw_cfg). */
int pci_mem_read(struct vm *vm, uint64_t addr, void *buf, size_t len);
int pci_mem_write(struct vm *vm, uint64_t addr, const void *buf, size_t len);

/* Little-endian config helpers for device code. */
static inline void pci_set_byte(struct pci_device *d, unsigned off, uint8_t v) { d->config[off] = v; }
static inline void pci_set_word(struct pci_device *d, unsigned off, uint16_t v)
{
	d->config[off] = (uint8_t)v;
	d->config[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_set_long(struct pci_device *d, unsigned off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		d->config[off + i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t pci_get_word(const struct pci_device *d, unsigned off)
{
	return (uint16_t)(d->config[off] | d->config[off + 1] << 8);
}
static inline uint32_t pci_get_long(const struct pci_device *d, unsigned off)
{
	return (uint32_t)d->config[off] | (uint32_t)d->config[off + 1] << 8 |
	       (uint32_t)d->config[off + 2] << 16 | (uint32_t)d->config[off + 3] << 24;
}
/* Fills the identification registers every device has. */
static inline void pci_set_ids(struct pci_device *d, uint16_t vendor,
			       uint16_t device, uint8_t rev, uint32_t class_code)
{
	pci_set_word(d, PCI_VENDOR_ID, vendor);
	pci_set_word(d, PCI_DEVICE_ID, device);
	pci_set_byte(d, PCI_REVISION_ID, rev);
	pci_set_byte(d, PCI_CLASS_PROG, (uint8_t)class_code);
	pci_set_word(d, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	pci_set_word(d, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBVENDOR_QEMU);
	pci_set_word(d, PCI_SUBSYSTEM_ID, PCI_SUBDEVICE_QEMU);
}

#endif

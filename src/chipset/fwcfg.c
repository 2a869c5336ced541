/*
 * QEMU's firmware configuration device as QEMU's docs/specs/fw_cfg.rst
 * specifies it for x86: writing a 16-bit key to the selector port picks an
 * item and rewinds it; each data-port read returns its next byte (zero past
 * the end or for keys nobody set). Key 0 holds "QEMU", key 1 the interface
 * revision with bit 1 for DMA, key 0x19 the file directory: a big-endian
 * count and 64-byte entries (size, key, name). The DMA interface takes the
 * big-endian guest-physical address of a 16-byte descriptor (control,
 * length, address, all big-endian) written to 0x514 (high half) and 0x518
 * (low half, which starts the transfer); it selects, reads (zero-filling
 * past the item's end), skips or (for nothing here) writes, then stores 0
 * or the error bit back into the control word. Reading the DMA port gives
 * "QEMU CFG". Descriptors and buffers must lie in guest memory, else the
 * transfer ends with the error bit.
 */
#include "fwcfg.h"
#include "pci.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 64
#define MAX_E820 32
#define NAME_LEN 56

struct item {
	uint16_t key;
	uint8_t *data;
	uint32_t size;
};

struct e820_entry {
	uint64_t addr, len;
	uint32_t type;
};

struct fwcfg {
	struct vm *vm;
	struct item *items;
	unsigned nitems;
	char names[MAX_FILES][NAME_LEN];
	unsigned nfiles;
	uint16_t sel;
	uint32_t off;
	uint8_t dma_addr[8];
	struct e820_entry e820[MAX_E820];
	unsigned ne820;
};

static const char dma_signature[8] = "QEMU CFG";

static struct item *find(struct fwcfg *fw, uint16_t key)
{
	for (unsigned i = 0; i < fw->nitems; i++)
		if (fw->items[i].key == key)
			return &fw->items[i];
	return NULL;
}

int fwcfg_set_item(struct fwcfg *fw, uint16_t key, const void *data, uint32_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, size);
	struct item *it = find(fw, key);
	if (!it) {
		struct item *p = realloc(fw->items, (fw->nitems + 1) * sizeof(*p));
		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		fw->items = p;
		it = &fw->items[fw->nitems++];
		it->key = key;
	} else {
		free(it->data);
	}
	it->data = copy;
	it->size = size;
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static int update_dir(struct fwcfg *fw)
{
	uint8_t dir[4 + MAX_FILES * 64];
	memset(dir, 0, sizeof(dir));
	put_be32(dir, fw->nfiles);
	for (unsigned i = 0; i < fw->nfiles; i++) {
		uint8_t *e = dir + 4 + 64 * i;
		uint16_t key = (uint16_t)(FWCFG_FILE_FIRST + i);
		put_be32(e, find(fw, key)->size);
		e[4] = (uint8_t)(key >> 8);
		e[5] = (uint8_t)key;
		memcpy(e + 8, fw->names[i], NAME_LEN);
	}
	return fwcfg_set_item(fw, FWCFG_FILE_DIR, dir, 4 + 64 * fw->nfiles);
}

int fwcfg_add_file(struct fwcfg *fw, const char *name, const void *data,
		   uint32_t size)
{
	if (strlen(name) >= NAME_LEN)
		return -ENAMETOOLONG;
	unsigned i;
	for (i = 0; i < fw->nfiles; i++)
		if (!strcmp(fw->names[i], name))
			break;
	if (i == MAX_FILES)
		return -ENOSPC;
	int err = fwcfg_set_item(fw, (uint16_t)(FWCFG_FILE_FIRST + i), data, size);
	if (err)
		return err;
	if (i == fw->nfiles) {
		memset(fw->names[i], 0, NAME_LEN);
		strcpy(fw->names[i], name);
		fw->nfiles++;
	}
	return update_dir(fw);
}

static int update_e820(struct fwcfg *fw)
{
	uint8_t buf[MAX_E820 * 20];
	for (unsigned i = 0; i < fw->ne820; i++) {
		uint8_t *p = buf + 20 * i;
		memcpy(p, &fw->e820[i].addr, 8);   /* little-endian host */
		memcpy(p + 8, &fw->e820[i].len, 8);
		memcpy(p + 16, &fw->e820[i].type, 4);
	}
	return fwcfg_add_file(fw, "etc/e820", buf, 20 * fw->ne820);
}

int fwcfg_add_e820(struct fwcfg *fw, uint64_t addr, uint64_t len, uint32_t type)
{
	if (fw->ne820 == MAX_E820)
		return -ENOSPC;
	fw->e820[fw->ne820++] = (struct e820_entry){ addr, len, type };
	return update_e820(fw);
}

static void select_item(struct fwcfg *fw, uint16_t key)
{
	fw->sel = key;
	fw->off = 0;
}

static uint8_t read_byte(struct fwcfg *fw)
{
	struct item *it = find(fw, fw->sel);
	if (!it || fw->off >= it->size)
		return 0;
	return it->data[fw->off++];
}

static uint64_t port_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
			int is_write)
{
	struct fwcfg *fw = opaque;
	if (port == FWCFG_PORT_SEL) {
		if (is_write)
			select_item(fw, (uint16_t)(size == 1 ? val & 0xff : val & 0xffff));
		return 0;
	}
	if (is_write)
		return 0; /* data writes were dropped in QEMU 2.4; DMA writes only */
	uint64_t r = 0;
	for (unsigned i = 0; i < size; i++)
		r |= (uint64_t)read_byte(fw) << (8 * i);
	return r;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void dma_transfer(struct fwcfg *fw, uint64_t desc_addr)
{
	uint8_t desc[16];
	if (pci_mem_read(fw->vm, desc_addr, desc, sizeof(desc))) {
		log_debug("fw_cfg: DMA descriptor at %#llx is not in memory",
			  (unsigned long long)desc_addr);
		return;
	}
	uint32_t control = be32(desc), length = be32(desc + 4);
	uint64_t addr = be64(desc + 8);
	bool error = false;
	if (control & FWCFG_DMA_SELECT)
		select_item(fw, (uint16_t)(control >> 16));
	struct item *it = find(fw, fw->sel);
	uint32_t avail = it && fw->off < it->size ? it->size - fw->off : 0;
	if (control & FWCFG_DMA_READ) {
		uint32_t n = length < avail ? length : avail;
		if (n && pci_mem_write(fw->vm, addr, it->data + fw->off, n))
			error = true;
		fw->off += n;
		/* past the item's end the buffer is zero-filled */
		static const uint8_t zeros[4096];
		for (uint64_t done = n; !error && done < length;) {
			uint64_t chunk = length - done < sizeof(zeros) ? length - done
								       : sizeof(zeros);
			if (pci_mem_write(fw->vm, addr + done, zeros, (size_t)chunk))
				error = true;
			done += chunk;
		}
	} else if (control & FWCFG_DMA_WRITE) {
		error = length != 0; /* nothing here is writable */
	} else if (control & FWCFG_DMA_SKIP) {
		fw->off += length < avail ? length : avail;
	}
	uint8_t result[4] = { 0, 0, 0, error ? FWCFG_DMA_ERROR : 0 };
	pci_mem_write(fw->vm, desc_addr, result, sizeof(result));
}

static uint64_t dma_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct fwcfg *fw = opaque;
	unsigned off = (unsigned)(port - FWCFG_PORT_DMA);
	uint64_t r = 0;
	bool go = false;
	for (unsigned i = 0; i < size && off + i < 8; i++) {
		if (is_write) {
			fw->dma_addr[off + i] = (uint8_t)(val >> (8 * i));
			go |= off + i == 7;
		} else {
			r |= (uint64_t)(uint8_t)dma_signature[off + i] << (8 * i);
		}
	}
	if (go) {
		uint64_t addr = be64(fw->dma_addr);
		memset(fw->dma_addr, 0, sizeof(fw->dma_addr));
		dma_transfer(fw, addr);
	}
	return r;
}

static void fw_free(void *opaque)
{
	struct fwcfg *fw = opaque;
	for (unsigned i = 0; i < fw->nitems; i++)
		free(fw->items[i].data);
	free(fw->items);
	free(fw);
}

static int set_u16(struct fwcfg *fw, uint16_t key, uint16_t v)
{
	return fwcfg_set_item(fw, key, &v, sizeof(v));
}

static int set_u32(struct fwcfg *fw, uint16_t key, uint32_t v)
{
	return fwcfg_set_item(fw, key, &v, sizeof(v));
}

int fwcfg_create(struct vm *vm, struct fwcfg **out)
{
	struct fwcfg *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, fw_free, fw);
	if (err) {
		free(fw);
		return err;
	}
	fw->vm = vm;
	uint64_t ram = vm->ram_size;
	uint8_t zero16[16] = { 0 };
	if ((err = fwcfg_set_item(fw, FWCFG_SIGNATURE, "QEMU", 4)) ||
	    (err = set_u32(fw, FWCFG_ID, FWCFG_ID_TRADITIONAL | FWCFG_ID_DMA)) ||
	    (err = fwcfg_set_item(fw, FWCFG_UUID, zero16, 16)) ||
	    (err = fwcfg_set_item(fw, FWCFG_RAM_SIZE, &ram, 8)) ||
	    (err = set_u16(fw, FWCFG_NOGRAPHIC, 0)) ||
	    (err = set_u16(fw, FWCFG_NB_CPUS, 1)) ||
	    (err = set_u16(fw, FWCFG_MAX_CPUS, 1)) ||
	    /* NUMA: no nodes, then one zero entry per possible CPU */
	    (err = fwcfg_set_item(fw, FWCFG_NUMA, zero16, 16)) ||
	    (err = set_u16(fw, FWCFG_BOOT_MENU, 0)) ||
	    (err = set_u16(fw, FWCFG_ACPI_TABLES, 0)) ||
	    (err = set_u16(fw, FWCFG_SMBIOS_ENTRIES, 0)) ||
	    (err = set_u32(fw, FWCFG_IRQ0_OVERRIDE, 0)) ||
	    (err = set_u32(fw, FWCFG_E820_TABLE, 0)) ||
	    (err = update_dir(fw)))
		return err;
	if ((err = fwcfg_add_e820(fw, 0, vm->ram_below_4g, E820_RAM)))
		return err;
	if (vm->ram_above_4g &&
	    (err = fwcfg_add_e820(fw, 1ull << 32, vm->ram_above_4g, E820_RAM)))
		return err;
	if ((err = ioport_register(vm->io, FWCFG_PORT_SEL, 2, port_io, fw, 0, "fw_cfg")) ||
	    (err = ioport_register(vm->io, FWCFG_PORT_DMA, 8, dma_io, fw, 0, "fw_cfg-dma")))
		return err;
	if (out)
		*out = fw;
	return 0;
}

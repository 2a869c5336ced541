/*
 * QEMU's firmware configuration interface (fw_cfg) on its x86 ports:
 * selector 0x510, data 0x511, DMA address 0x514. SeaBIOS reads the
 * machine's RAM layout (etc/e820), CPU count, boot order and its other
 * settings from here.
 */
#ifndef PCVM_CHIPSET_FWCFG_H
#define PCVM_CHIPSET_FWCFG_H

#include <stdint.h>

struct vm;
struct fwcfg;

/* Item keys of the interface (the rest are files). */
#define FWCFG_SIGNATURE 0x0000
#define FWCFG_ID 0x0001
#define FWCFG_UUID 0x0002
#define FWCFG_RAM_SIZE 0x0003
#define FWCFG_NOGRAPHIC 0x0004
#define FWCFG_NB_CPUS 0x0005
#define FWCFG_NUMA 0x000d
#define FWCFG_BOOT_MENU 0x000e
#define FWCFG_MAX_CPUS 0x000f
#define FWCFG_FILE_DIR 0x0019
#define FWCFG_FILE_FIRST 0x0020
#define FWCFG_ACPI_TABLES 0x8000
#define FWCFG_SMBIOS_ENTRIES 0x8001
#define FWCFG_IRQ0_OVERRIDE 0x8002
#define FWCFG_E820_TABLE 0x8003

#define FWCFG_PORT_SEL 0x510
#define FWCFG_PORT_DATA 0x511
#define FWCFG_PORT_DMA 0x514

#define FWCFG_ID_TRADITIONAL 0x1
#define FWCFG_ID_DMA 0x2

#define FWCFG_DMA_ERROR 0x01
#define FWCFG_DMA_READ 0x02
#define FWCFG_DMA_SKIP 0x04
#define FWCFG_DMA_SELECT 0x08
#define FWCFG_DMA_WRITE 0x10

#define E820_RAM 1
#define E820_RESERVED 2

/* Creates the device with the standard items filled from vm (RAM size and
 * the e820 map from vm->ram_below_4g/ram_above_4g, one CPU). */
int fwcfg_create(struct vm *vm, struct fwcfg **out);
/* Sets (or replaces) item key with a copy of data. */
int fwcfg_set_item(struct fwcfg *fw, uint16_t key, const void *data, uint32_t size);
/* Adds (or replaces) a named file with a copy of data; names are at most
 * 55 bytes. */
int fwcfg_add_file(struct fwcfg *fw, const char *name, const void *data,
		   uint32_t size);
/* Adds an entry to etc/e820 (reserved areas a backend needs, say). */
int fwcfg_add_e820(struct fwcfg *fw, uint64_t addr, uint64_t len, uint32_t type);

#endif

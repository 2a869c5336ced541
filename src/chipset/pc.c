/*
 * The PC board: which devices a pcvm machine has and how they are wired,
 * following the layout QEMU's "pc" (i440FX) machine gives SeaBIOS: the
 * host bridge at 00:00.0, the PIIX3 at 00:01 with its ISA bridge (.0), IDE
 * (.1) and the PIIX4-style power management function (.3), VGA at 00:02.0,
 * fw_cfg on ports 0x510-0x51B, and the ISA devices behind the bridge.
 */
#include "pc.h"
#include "acpi.h"
#include "debugport.h"
#include "vga.h"
#include "../ui/display.h"
#include "dma.h"
#include "fdc.h"
#include "fwcfg.h"
#include "i440fx.h"
#include "ide.h"
#include "kbc.h"
#include "pci.h"
#include "pic.h"
#include "piix.h"
#include "pit.h"
#include "rtc.h"
#include "uart.h"
#include "../disk/block.h"
#include "../linuxboot.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../log.h"

#define PIIX_SLOT 1
#define IDE_FN 1
#define PM_FN 3

extern const uint8_t demo_image[], demo_image_end[];

static int open_debugcon(struct vm *vm, FILE **out)
{
	const char *where = vm->cfg->debugcon;
	*out = NULL;
	if (!where)
		return 0;
	if (!strcmp(where, "stdio"))
		*out = stdout;
	else if (!strcmp(where, "stderr"))
		*out = stderr;
	else if (!(*out = fopen(where, "w"))) {
		log_error("--debugcon file:%s: %s; check the path", where, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static void close_debugcon(void *opaque)
{
	FILE *f = opaque;
	if (f != stdout && f != stderr)
		fclose(f);
	else
		fflush(f);
}

static int append_path(char *out, size_t size, size_t *len, const char *fmt,
		       int x, int y)
{
	int n = snprintf(out + *len, size - *len, "%s", *len ? "\n" : "");
	if (n >= 0 && (size_t)n < size - *len) {
		*len += (size_t)n;
		n = snprintf(out + *len, size - *len, fmt, x, y);
	}
	if (n < 0 || (size_t)n >= size - *len)
		return -ENOSPC;
	*len += (size_t)n;
	return 0;
}

int pc_bootorder(const char *order, const char drives[PC_IDE_DRIVES], char *out,
		 size_t size)
{
	size_t len = 0;
	if (size)
		out[0] = 0;
	for (const char *c = order; *c; c++) {
		if (*c == 'a' && append_path(out, size, &len,
					     "/pci@i0cf8/isa@%x/fdc@03f0/floppy@%x",
					     PIIX_SLOT, 0))
			return -ENOSPC;
		for (int i = 0; i < PC_IDE_DRIVES && *c != 'a'; i++)
			if (drives[i] == *c &&
			    append_path(out, size, &len,
					"/pci@i0cf8/ide@1,1/drive@%x/disk@%x", i / 2, i % 2))
				return -ENOSPC;
	}
	return (int)len;
}

static void close_blocks(struct block **blk)
{
	for (int i = 0; i < PC_IDE_DRIVES; i++) {
		if (blk[i])
			block_close(blk[i]);
		blk[i] = NULL;
	}
}

/* Opens every image the user gave (and the demo disk when none), before
 * anything else exists, so a bad file leaves nothing behind. */
static int open_drives(struct vm *vm, struct block **blk, char *kind)
{
	const struct vm_config *cfg = vm->cfg;
	for (int i = 0; i < cfg->ndrives; i++) {
		const struct drive_config *dc = &cfg->drives[i];
		bool cd = dc->media == DRIVE_CDROM;
		struct block_open_opts opts = {
			.format = dc->format,
			.readonly = dc->readonly || cd,
			.snapshot = dc->snapshot,
			.cache = dc->cache,
		};
		int err = block_open(&blk[dc->index], dc->file, &opts);
		if (err) {
			close_blocks(blk);
			return err;
		}
		kind[dc->index] = cd ? 'd' : 'c';
	}
	if (!cfg->ndrives && !cfg->kernel && !cfg->fda) {
		int err = block_open_memory(&blk[0], demo_image,
					    (uint64_t)(demo_image_end - demo_image), "demo");
		if (err)
			return err;
		kind[0] = 'c';
	}
	/* As on QEMU's PC, the secondary master is a CD-ROM drive, empty
	 * unless --cdrom filled it, so a disc can be inserted later. */
	if (!kind[2])
		kind[2] = 'd';
	return 0;
}

static int add_ide(struct vm *vm, struct pci_bus *bus, struct block **blk,
		   const char *kind)
{
	struct ide *ide;
	int err = ide_create(vm, bus, PIIX_SLOT, IDE_FN, &ide);
	if (err)
		return err;
	for (int i = 0; i < PC_IDE_DRIVES; i++) {
		if (!kind[i])
			continue;
		err = ide_attach(ide, i, kind[i] == 'd' ? IDE_MEDIA_CDROM : IDE_MEDIA_DISK,
				 blk[i]);
		if (err)
			return err;
		blk[i] = NULL; /* the controller owns it now */
	}
	return 0;
}

static int add_fwcfg(struct vm *vm, const char *kind)
{
	struct fwcfg *fw;
	int err = fwcfg_create(vm, &fw);
	if (err)
		return err;
	char order[512];
	const char *letters = vm->cfg->boot_order ? vm->cfg->boot_order : PC_DEFAULT_BOOT_ORDER;
	int len = pc_bootorder(letters, kind, order, sizeof(order));
	if (len < 0)
		return len;
	if ((err = fwcfg_add_file(fw, "bootorder", order, (uint32_t)len + 1)))
		return err;
	/* The sleep states SeaBIOS offers in its ACPI tables (S0-S5; bit 7:
	 * offered): S3 and S4 are not, as nothing here could resume. */
	static const uint8_t states[6] = { 0x80, 0, 0, 0, 0, 0x80 };
	return fwcfg_add_file(fw, "etc/system-states", states, sizeof(states));
}

/* With --kernel no firmware runs: do the little a BIOS does that the
 * kernel relies on: the IDE channels' legacy decoding, the PM block
 * where the loader's ACPI tables say it is, already in ACPI mode, and the
 * VGA in text mode. */
static void direct_boot_setup(struct vm *vm, struct pci_bus *bus)
{
	int ide = PIIX_SLOT << 3 | IDE_FN, pm = PIIX_SLOT << 3 | PM_FN;
	pci_config_write(bus, ide, 0x40, 0x8000, 2);
	pci_config_write(bus, ide, 0x42, 0x8000, 2);
	pci_config_write(bus, ide, PCI_COMMAND,
			 PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
	pci_config_write(bus, pm, PCI_INTERRUPT_LINE, 9, 1);
	pci_config_write(bus, pm, ACPI_PMBA, ACPI_PM_BASE | 1, 4);
	pci_config_write(bus, pm, ACPI_PMREGMISC, 1, 1);
	ioport_write(vm->io, ACPI_PM_BASE + 4, ACPI_PM1_CNT_SCI_EN, 2);
	/* The VGA BIOS would have set text mode 3: vgacon and memtest86+
	 * write to 0xB8000 expecting it. */
	if (vm->vga && vga_boot_text_mode(vm->vga) == -ENOENT)
		log_warn("--kernel: the VGA BIOS %s holds no 8x16 font; screen text shows "
			 "in curses and --screen-text, blank in pictures", VGA_ROM_PATH);
}

/* ---- Legacy ISA devices: PIC, PIT, RTC/CMOS, 8042, DMA, floppy, COM1 ---- */

/* --fda: the image is opened and checked before anything else is created,
 * so a bad one ends the run having changed nothing. */
static int open_floppy(const char *path, bool snapshot, struct block **out)
{
	*out = NULL;
	if (!path)
		return 0;
	struct block_open_opts o = { 0 };
	o.snapshot = snapshot;
	o.readonly = !snapshot && access(path, W_OK) != 0;
	if (o.readonly)
		log_info("--fda %s: not writable; the guest sees it write-protected", path);
	int err = block_open(out, path, &o);
	if (err)
		return err == -ENOMEM ? err : -EINVAL;
	uint64_t size = block_size(*out);
	if (!fdc_media_for_size(size)) {
		log_error("--fda %s: %llu bytes is no floppy format; give a 720 KB, 1.2 MB, "
			  "1.44 MB or 2.88 MB image (737280, 1228800, 1474560 or 2949120 bytes)",
			  path, (unsigned long long)size);
		block_close(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int pc_create_legacy(struct vm *vm)
{
	struct pic *pic;
	struct pit *pit;
	struct rtc *rtc;
	struct kbc *kbc;
	struct dma *dma;
	struct fdc *fdc;
	struct uart *com1;
	struct block *fda;
	int err;
	if ((err = open_floppy(vm->cfg->fda, vm->cfg->fda_snapshot, &fda)))
		return err;
	/* The PIC first: it wires vm->isa_irq for the others. The RTC runs
	 * from the host's time of day unless --rtc-base or --deterministic
	 * fixed its start. */
	int64_t rtc_base = vm->cfg->rtc_fixed ? vm->cfg->rtc_base : RTC_BASE_HOST;
	if ((err = pic_create(vm, &pic)) || (err = pit_create(vm, &pit)) ||
	    (err = rtc_create(vm, rtc_base, &rtc)) || (err = kbc_create(vm, &kbc)) ||
	    (err = dma_create(vm, &dma)) || (err = fdc_create(vm, dma, &fdc)) ||
	    (err = uart_create(vm, 0x3f8, 4, &com1))) {
		block_close(fda);
		return err;
	}
	if (fda && (err = fdc_insert(fdc, 0, fda))) {
		block_close(fda);
		return err;
	}
	rtc_set_floppy_types(rtc, fdc_drive_type(fdc, 0), fdc_drive_type(fdc, 1));
	rtc_set_boot_order(rtc, vm->cfg->boot_order ? vm->cfg->boot_order
						    : PC_DEFAULT_BOOT_ORDER, true);
	switch (vm->cfg->serial) {
	case SERIAL_STDIO:
		err = uart_open_stdio(com1);
		break;
	case SERIAL_FILE:
		err = uart_open_file(com1, vm->cfg->serial_path);
		break;
	default:
		break;
	}
	if (err)
		return err;
	vm->rtc = rtc;
	vm->com1 = com1;
	vm->kbc = kbc;
	return 0;
}

/* ---- end of legacy ISA devices ---- */

int pc_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	struct block *blk[PC_IDE_DRIVES] = { NULL };
	char kind[PC_IDE_DRIVES] = { 0 };
	struct pci_bus *bus;
	int err;

	/* The user's files first: refused input must leave nothing behind. */
	if ((err = open_drives(vm, blk, kind)))
		return err;
	if (cfg->kernel &&
	    (err = linuxboot_load(vm, cfg->kernel, cfg->initrd, cfg->append)))
		goto fail;

	if ((err = pci_bus_create(vm, &bus)) ||
	    (err = i440fx_create(vm, bus, NULL)) ||
	    (err = piix3_create(vm, bus, PIIX_SLOT, NULL)) ||
	    (err = add_ide(vm, bus, blk, kind)) ||
	    (err = acpi_pm_create(vm, bus, PIIX_SLOT, PM_FN, &vm->acpi)) ||
	    (err = add_fwcfg(vm, kind)))
		goto fail;

	if ((err = pc_create_legacy(vm)))
		return err;

	/* The VGA adapter at 00:02.0 and what the user sees of it. */
	if ((err = vga_create(vm, VGA_ROM_PATH, &vm->vga)) ||
	    (err = display_create(vm, vm->vga, &vm->display)))
		return err;

	FILE *dc;
	if ((err = open_debugcon(vm, &dc)))
		return err;
	if (dc && (err = vm_add_cleanup_hook(vm, close_debugcon, dc)))
		return err;
	if ((err = debugcon_create(vm, 0xe9, dc)) ||
	    (err = debugcon_create(vm, 0x402, dc)))
		return err;
	if (cfg->debug_exit_port >= 0 &&
	    (err = debugexit_create(vm, (uint16_t)cfg->debug_exit_port)))
		return err;
	if (cfg->kernel)
		direct_boot_setup(vm, bus);
	return 0;
fail:
	close_blocks(blk);
	return err;
}

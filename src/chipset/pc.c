/*
 * The PC board: which devices a pcvm machine has and how they are wired.
 */
#include "pc.h"
#include "debugport.h"
#include "vga.h"
#include "../ui/display.h"
#include "dma.h"
#include "fdc.h"
#include "kbc.h"
#include "pic.h"
#include "pit.h"
#include "rtc.h"
#include "uart.h"
#include "../disk/block.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../log.h"

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

/* ---- Legacy ISA devices: PIC, PIT, RTC/CMOS, 8042, DMA, floppy, COM1 ---- */

/* --fda: the image is opened and checked before anything else is created,
 * so a bad one ends the run having changed nothing. */
static int open_floppy(const char *path, struct block **out)
{
	*out = NULL;
	if (!path)
		return 0;
	struct block_open_opts o = { 0 };
	o.readonly = access(path, W_OK) != 0;
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
	if ((err = open_floppy(vm->cfg->fda, &fda)))
		return err;
	/* The PIC first: it wires vm->isa_irq for the others. The RTC runs
	 * from the host's time of day. */
	if ((err = pic_create(vm, &pic)) || (err = pit_create(vm, &pit)) ||
	    (err = rtc_create(vm, RTC_BASE_HOST, &rtc)) || (err = kbc_create(vm, &kbc)) ||
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
	rtc_set_boot_order(rtc, "cad", true); /* QEMU's default order */
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
	int err;
	FILE *dc;
	if ((err = pc_create_legacy(vm)))
		return err;
	if ((err = open_debugcon(vm, &dc)))
		return err;
	if (dc && (err = vm_add_cleanup_hook(vm, close_debugcon, dc)))
		return err;
	if ((err = debugcon_create(vm, 0xe9, dc)) ||
	    (err = debugcon_create(vm, 0x402, dc)))
		return err;
	if (vm->cfg->debug_exit_port >= 0 &&
	    (err = debugexit_create(vm, (uint16_t)vm->cfg->debug_exit_port)))
		return err;
	/* ---- VGA adapter and what the user sees of it (vga branch) ---- */
	struct vga *vga;
	if ((err = vga_create(vm, VGA_ROM_PATH, &vga)) ||
	    (err = display_create(vm, vga, NULL)))
		return err;
	/* ---- end VGA ---- */
	return 0;
}

/*
 * The PC board: which devices a pcvm machine has and how they are wired.
 */
#include "pc.h"
#include "debugport.h"
#include "vga.h"
#include "../ui/display.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

int pc_create(struct vm *vm)
{
	int err;
	FILE *dc;
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

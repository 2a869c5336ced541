/*
 * Debug console and debug-exit ports. The console follows Bochs' port 0xE9
 * hack (reads return 0xE9); the exit port takes the written value as the
 * process exit status unchanged, so a test guest can report success as 0.
 */
#include "debugport.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>

struct debugcon {
	FILE *out;
};

static uint64_t debugcon_io(void *opaque, uint64_t addr, uint64_t val,
			    unsigned size, int is_write)
{
	struct debugcon *d = opaque;
	(void)addr;
	(void)size;
	if (!is_write)
		return 0xe9;
	if (d->out) {
		fputc((int)(val & 0xff), d->out);
		if ((val & 0xff) == '\n')
			fflush(d->out);
	}
	return 0;
}

static void debugcon_cleanup(void *opaque)
{
	struct debugcon *d = opaque;
	if (d->out)
		fflush(d->out);
	free(d);
}

int debugcon_create(struct vm *vm, uint16_t port, FILE *out)
{
	struct debugcon *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->out = out;
	int err = ioport_register(vm->io, port, 1, debugcon_io, d, IOPORT_F_BYTE,
				  "debugcon");
	if (err) {
		free(d);
		return err;
	}
	return vm_add_cleanup_hook(vm, debugcon_cleanup, d);
}

struct debugexit {
	struct vm *vm;
};

static uint64_t debugexit_io(void *opaque, uint64_t addr, uint64_t val,
			     unsigned size, int is_write)
{
	struct debugexit *d = opaque;
	(void)addr;
	(void)size;
	if (!is_write)
		return 0xff;
	log_info("guest wrote %#llx to the debug-exit port", (unsigned long long)val);
	vm_request_stop(d->vm, VM_END_EXIT, (int)(val & 0xff));
	return 0;
}

int debugexit_create(struct vm *vm, uint16_t port)
{
	struct debugexit *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	int err = ioport_register(vm->io, port, 4, debugexit_io, d, 0, "debug-exit");
	if (err) {
		free(d);
		return err;
	}
	return vm_add_cleanup_hook(vm, free, d);
}

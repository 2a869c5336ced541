/*
 * The PC board: which devices a pcvm machine has and how they are wired.
 */
#include "pc.h"
#include "debugport.h"
#include "../vm.h"

#include <stdio.h>

int pc_create(struct vm *vm)
{
	int err;
	if ((err = debugcon_create(vm, 0xe9, stderr)))
		return err;
	if ((err = debugexit_create(vm, 0xf4)))
		return err;
	return 0;
}

/*
 * The PC board: creates and wires every device of the machine.
 */
#ifndef PCVM_CHIPSET_PC_H
#define PCVM_CHIPSET_PC_H

struct vm;

/* Creates the chipset and devices for vm->cfg. 0 or negative errno (-EINVAL
 * when the user's input was at fault, already reported). */
int pc_create(struct vm *vm);

#endif

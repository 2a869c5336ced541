/*
 * Debug ports for firmware and test guests: the Bochs/QEMU debug consoles
 * (0xE9, and 0x402 where SeaBIOS writes its log) and an ISA debug-exit port
 * whose written value becomes pcvm's exit status.
 */
#ifndef PCVM_CHIPSET_DEBUGPORT_H
#define PCVM_CHIPSET_DEBUGPORT_H

#include <stdint.h>
#include <stdio.h>

struct vm;

/* Debug console on port: bytes written go to out (NULL: dropped); reads
 * return 0xE9, the Bochs convention that tells a guest the port exists. */
int debugcon_create(struct vm *vm, uint16_t port, FILE *out);
/* Debug-exit on port: a write of v ends pcvm with exit status v & 0xff. */
int debugexit_create(struct vm *vm, uint16_t port);

#endif

/*
 * The 8254 programmable interval timer at ports 0x40-0x43 (channel 0 on
 * IRQ0, channel 2 gated and read through port 0x61) and the PIIX's NMI
 * status and control port 0x61 (speaker gate, refresh toggle).
 */
#ifndef PCVM_CHIPSET_PIT_H
#define PCVM_CHIPSET_PIT_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pit;

/* The input clock of every channel, in Hz (the PC's 14.31818 MHz / 12). */
#define PIT_HZ 1193182u

/* Claims ports 0x40-0x43 and 0x61; channel 0 drives vm->isa_irq[0]. */
int pit_create(struct vm *vm, struct pit **out);

/* The OUT pin of channel ch (0-2) now. */
bool pit_get_out(struct pit *p, int ch);

#endif

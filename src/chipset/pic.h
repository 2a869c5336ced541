/*
 * The PC's pair of 8259A interrupt controllers (master at 0x20, slave at
 * 0xA0 on the master's IR2) with the PIIX edge/level control registers at
 * 0x4D0/0x4D1.
 */
#ifndef PCVM_CHIPSET_PIC_H
#define PCVM_CHIPSET_PIC_H

#include <stdint.h>

struct vm;
struct pic;

/* Claims the ports, wires vm->isa_irq[0..15] as the controllers' inputs
 * (isa_irq[2] stays unconnected: IR2 of the master is the cascade, and the
 * AT bus routes its IRQ2 pin to IRQ9), drives the CPU's INTR through
 * vm_set_intr() and installs vm->intr_ack for the acknowledge cycle. */
int pic_create(struct vm *vm, struct pic **out);

/* The acknowledge cycle: returns the vector the CPU takes (the spurious
 * IRQ7/IRQ15 vector if the request went away). */
int pic_intr_ack(struct pic *p);

/* For tests and debugging: controller 0 (master) or 1 (slave) registers. */
uint8_t pic_get_irr(struct pic *p, int chip);
uint8_t pic_get_isr(struct pic *p, int chip);
uint8_t pic_get_imr(struct pic *p, int chip);

#endif

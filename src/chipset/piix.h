/*
 * The PIIX3 PCI-to-ISA bridge (PCI 00:01.0): PIRQ A-D routing from PCI
 * interrupt pins to ISA IRQs, and the reset control register at port 0xCF9.
 */
#ifndef PCVM_CHIPSET_PIIX_H
#define PCVM_CHIPSET_PIIX_H

struct vm;
struct pci_bus;
struct piix3;

#define PIIX_PIRQRC 0x60 /* PIRQ A-D route control, 0x60-0x63 */

/* Adds the ISA bridge at 00:<slot>.0 (a multi-function device: IDE and
 * power management are its other functions) and becomes the bus's
 * interrupt router. */
int piix3_create(struct vm *vm, struct pci_bus *bus, int slot, struct piix3 **out);

#endif

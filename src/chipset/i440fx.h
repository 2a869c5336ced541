/*
 * The Intel 82441FX (i440FX) PCI and memory controller: the host bridge at
 * PCI 00:00.0, whose PAM registers decide whether the BIOS area
 * 0xC0000-0xFFFFF reads and writes RAM or the ROM/PCI side.
 */
#ifndef PCVM_CHIPSET_I440FX_H
#define PCVM_CHIPSET_I440FX_H

struct vm;
struct pci_bus;
struct i440fx;

#define I440FX_PAM0 0x59
#define I440FX_SMRAM 0x72

/* Adds the host bridge at 00:00.0. */
int i440fx_create(struct vm *vm, struct pci_bus *bus, struct i440fx **out);

#endif

/*
 * The PIIX4 power-management function (PCI 00:01.3) and the ACPI hardware
 * SeaBIOS's tables describe: the PM1 event/control registers and 24-bit PM
 * timer at the guest-programmed PMBA, the SCI on IRQ 9, the APM control
 * port 0xB2 that switches ACPI mode on, the GPE0 block at 0xAFE0 and the
 * hotplug status ports at 0xAE00 and 0xAF00. Writing SLP_EN with the S5
 * sleep type powers the machine off.
 */
#ifndef PCVM_CHIPSET_ACPI_H
#define PCVM_CHIPSET_ACPI_H

#include <stdint.h>

struct vm;
struct pci_bus;
struct acpi_pm;

#define ACPI_PM_FREQ 3579545ull /* PM timer ticks per second */
#define ACPI_PMBA 0x40          /* PM base address register */
#define ACPI_PMREGMISC 0x80     /* bit 0: PM I/O space enable */
#define ACPI_GPE0_BASE 0xafe0
/* Where SeaBIOS places the PM block (PMBA), and pcvm does for --kernel. */
#define ACPI_PM_BASE 0xb000
#define ACPI_PM1_CNT_SCI_EN 0x0001
#define ACPI_SMI_CMD 0xb2
#define ACPI_ENABLE_CMD 0xf1    /* written to SMI_CMD: enter ACPI mode */
#define ACPI_DISABLE_CMD 0xf0

int acpi_pm_create(struct vm *vm, struct pci_bus *bus, int slot, int fn,
		   struct acpi_pm **out);
/* The user pressed the power button: a guest in ACPI mode that enabled
 * the event gets an SCI and normally shuts down. */
void acpi_pm_power_button(struct acpi_pm *pm);

#endif

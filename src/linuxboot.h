/*
 * Direct Linux boot: loads a bzImage (and an initrd and command line) into
 * guest RAM per the Linux x86 boot protocol, with the ACPI tables it needs
 * to power off, and points the CPU at the kernel's 32-bit entry, so no
 * firmware runs. The board then sets up the PM block the tables describe
 * (ACPI_PM_BASE, ACPI mode on).
 */
#ifndef PCVM_LINUXBOOT_H
#define PCVM_LINUXBOOT_H

#include <stdint.h>

struct vm;

/* Where the loader puts things in guest RAM. */
#define LINUXBOOT_GDT 0x500
#define LINUXBOOT_PARAMS 0x7000
#define LINUXBOOT_CMDLINE 0x20000
#define LINUXBOOT_KERNEL 0x100000
#define LINUXBOOT_ACPI 0x9fc00 /* RSDP, RSDT, FADT, FACS, DSDT */
/* The oldest boot protocol whose 32-bit entry takes boot_params in ESI as
 * documented (Linux 2.6.24). */
#define LINUXBOOT_MIN_PROTOCOL 0x0207

/* Loads kernel (initrd and append may be NULL) and sets the boot CPU's
 * state. -EINVAL after a one-line message when the user's input is at
 * fault (not a bzImage, too old, does not fit in RAM); other negative
 * errno for runtime failures, also reported. */
int linuxboot_load(struct vm *vm, const char *kernel, const char *initrd,
		   const char *append);

#endif

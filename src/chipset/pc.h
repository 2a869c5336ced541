/*
 * The PC board: creates and wires every device of the machine.
 */
#ifndef PCVM_CHIPSET_PC_H
#define PCVM_CHIPSET_PC_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define PC_IDE_DRIVES 4
/* The boot order without --boot: QEMU's, first hard disk, then floppy,
 * then CD-ROM. */
#define PC_DEFAULT_BOOT_ORDER "cad"

/* Creates the chipset and devices for vm->cfg. 0 or negative errno (-EINVAL
 * when the user's input was at fault, already reported). */
int pc_create(struct vm *vm);

/* SeaBIOS's fw_cfg "bootorder" for the --boot letters (a floppy, c hard
 * disks, d CD-ROMs): its device paths, one per line, where drives[i] is
 * 'c' (disk), 'd' (CD-ROM) or 0 for IDE position i (hda-hdd). Returns the
 * length without the NUL, or -ENOSPC. */
int pc_bootorder(const char *order, const char drives[PC_IDE_DRIVES], char *out,
		 size_t size);

#endif

/*
 * The PIIX3 IDE function (PCI 00:01.1): two legacy IDE channels (primary at
 * 0x1F0/0x3F6 on IRQ 14, secondary at 0x170/0x376 on IRQ 15) with
 * bus-master DMA, holding up to four drives: ATA hard disks and ATAPI
 * CD-ROMs whose images come through the block layer.
 */
#ifndef PCVM_CHIPSET_IDE_H
#define PCVM_CHIPSET_IDE_H

#include <stdbool.h>

struct vm;
struct pci_bus;
struct block;
struct ide;

enum ide_media { IDE_MEDIA_DISK, IDE_MEDIA_CDROM };

/* Position index: 0 primary master, 1 primary slave, 2 secondary master,
 * 3 secondary slave (hda-hdd). */
#define IDE_MAX_DRIVES 4

/* Adds the controller at 00:<slot>.<fn>. */
int ide_create(struct vm *vm, struct pci_bus *bus, int slot, int fn,
	       struct ide **out);
/* Attaches a drive. The controller owns b from then on (flushes and closes
 * it when the machine ends); b may be NULL only for a CD-ROM drive, which
 * then starts empty. -EEXIST if the position is taken. */
int ide_attach(struct ide *ide, int index, enum ide_media media,
	       struct block *b);
/* The user changes the CD in drive index: b is the new disc (owned by the
 * controller on success), NULL to only eject. The guest sees the tray open
 * and close and a "medium may have changed" unit attention. When the guest
 * locked the tray (PREVENT MEDIUM REMOVAL) and force is false, nothing
 * changes, the guest is told the user asked for an eject, and -EBUSY
 * comes back (b stays the caller's). -ENODEV: no CD-ROM drive there. */
int ide_cdrom_change(struct ide *ide, int index, struct block *b, bool force);
/* The machine's IDE controller (for run-time changes: the automation
 * script's swap-cdrom and eject), or NULL. */
struct ide *ide_find(struct vm *vm);
/* Whether the guest holds the tray of drive index locked. */
bool ide_cdrom_locked(struct ide *ide, int index);

#endif

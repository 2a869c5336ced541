/*
 * An 82077AA-compatible floppy disk controller at 0x3F0 (ports 0x3F2-0x3F5
 * and 0x3F7; 0x3F6 belongs to the primary IDE channel), IRQ6, DMA channel
 * 2, with up to two 3.5"/5.25" drives whose media geometry comes from the
 * image size.
 */
#ifndef PCVM_CHIPSET_FDC_H
#define PCVM_CHIPSET_FDC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct dma;
struct block;
struct fdc;

struct fdc_media {
	uint64_t size;      /* image bytes */
	uint8_t tracks, heads, sectors;
	uint8_t cmos_type;  /* CMOS 0x10 drive type */
	uint8_t rate;       /* data rate select value: 0 500k, 2 250k, 3 1M */
	const char *name;
};

/* The standard format an image of this many bytes holds: 720 KB, 1.2 MB,
 * 1.44 MB or 2.88 MB. NULL for any other size. */
const struct fdc_media *fdc_media_for_size(uint64_t size);

/* Claims the ports, drives vm->isa_irq[6] and transfers through channel 2
 * of dma. No drives until fdc_insert(). */
int fdc_create(struct vm *vm, struct dma *dma, struct fdc **out);

/* Puts media into drive 0 or 1 (making the drive exist, of the media's
 * type, if it did not) and sets its disk-change line. The controller owns
 * b from then on and closes it (flushing) when ejected or destroyed; a
 * read-only image is write-protected. -EINVAL if b's size is no floppy
 * format (b is then not taken). */
int fdc_insert(struct fdc *f, int drive, struct block *b);
/* Removes the media (the drive stays, empty, its change line set). */
void fdc_eject(struct fdc *f, int drive);

/* The CMOS type of drive 0 or 1, 0 if there is no such drive. */
int fdc_drive_type(const struct fdc *f, int drive);

#endif

/*
 * Snapshot mode: the guest's writes go to a temporary copy-on-write overlay
 * and the image underneath is opened read-only, so it is never written. The
 * overlay is an unlinked temporary file ($TMPDIR, else /var/tmp, which is
 * meant for large temporary files) laid out like the disk itself and kept
 * sparse; a bitmap of 4 KiB units says which parts the guest has written.
 * The file disappears with the process however it ends.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNIT_BITS 12u
#define UNIT (1u << UNIT_BITS)
#define PAGE_UNITS (UNIT * 8u) /* units tracked by one bitmap page */

struct overlay {
	struct block b;
	struct block *base;
	struct bfile f;
	uint8_t **pages; /* bitmap pages, allocated on first write */
	uint64_t npages;
	uint8_t unit[UNIT];
};

static bool unit_written(struct overlay *o, uint64_t u)
{
	uint8_t *p = o->pages[u / PAGE_UNITS];
	uint64_t i = u % PAGE_UNITS;
	return p && (p[i / 8] >> (i % 8) & 1);
}

static int mark_written(struct overlay *o, uint64_t u)
{
	uint8_t **pp = &o->pages[u / PAGE_UNITS];
	if (!*pp && !(*pp = calloc(1, UNIT)))
		return -ENOMEM;
	uint64_t i = u % PAGE_UNITS;
	(*pp)[i / 8] |= (uint8_t)(1u << (i % 8));
	return 0;
}

static int ov_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	struct overlay *o = (struct overlay *)b;
	uint8_t *p = buf;
	while (len) {
		uint64_t u = offset >> UNIT_BITS;
		bool w = unit_written(o, u);
		/* gather a run of units from the same side */
		uint64_t end = (u + 1) << UNIT_BITS;
		while (end < offset + len && unit_written(o, end >> UNIT_BITS) == w)
			end += UNIT;
		size_t n = end - offset < len ? (size_t)(end - offset) : len;
		int err = w ? bfile_pread(&o->f, offset, p, n)
			    : o->base->drv->read(o->base, offset, p, n);
		if (err)
			return err;
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

static int ov_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	struct overlay *o = (struct overlay *)b;
	const uint8_t *p = buf;
	while (len) {
		uint64_t u = offset >> UNIT_BITS;
		uint64_t ustart = u << UNIT_BITS;
		size_t in = (size_t)(offset - ustart);
		size_t n = UNIT - in < len ? UNIT - in : len;
		int err;
		if (unit_written(o, u) || (in == 0 && n == UNIT)) {
			err = bfile_pwrite(&o->f, offset, p, n);
		} else {
			/* first partial write to this unit: copy the rest up */
			size_t ulen = ustart + UNIT <= b->size ? UNIT : (size_t)(b->size - ustart);
			err = o->base->drv->read(o->base, ustart, o->unit, ulen);
			if (!err) {
				memcpy(o->unit + in, p, n);
				err = bfile_pwrite(&o->f, ustart, o->unit, ulen);
			}
		}
		if (!err)
			err = mark_written(o, u);
		if (err)
			return err;
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

static int ov_flush(struct block *b, bool sync)
{
	(void)b; /* what the overlay holds is thrown away at exit anyway */
	(void)sync;
	return 0;
}

static int ov_status(struct block *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct overlay *o = (struct overlay *)b;
	if (unit_written(o, offset >> UNIT_BITS)) {
		*run = UNIT - (offset & (UNIT - 1));
		return BLOCK_DATA;
	}
	if (!o->base->drv->status) {
		*run = len;
		return BLOCK_DATA;
	}
	uint64_t lim = ((offset >> UNIT_BITS) + 1) << UNIT_BITS;
	while (lim < offset + len && !unit_written(o, lim >> UNIT_BITS))
		lim += UNIT;
	if (lim > offset + len)
		lim = offset + len;
	return o->base->drv->status(o->base, offset, lim - offset, run);
}

static int ov_info(struct block *b, struct block_info *info)
{
	struct overlay *o = (struct overlay *)b;
	int err = block_get_info(o->base, info);
	info->format = b->drv->name;
	return err;
}

static void ov_close(struct block *b)
{
	struct overlay *o = (struct overlay *)b;
	for (uint64_t i = 0; i < o->npages; i++)
		free(o->pages[i]);
	free(o->pages);
	bfile_close(&o->f);
	block_close(o->base);
	free(b->name);
	free(o);
}

static const struct block_driver overlay_driver = {
	.name = "snapshot",
	.read = ov_read,
	.write = ov_write,
	.flush = ov_flush,
	.close = ov_close,
	.info = ov_info,
	.status = ov_status,
};

static int temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/var/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	char *tmpl;
	if (asprintf(&tmpl, "%s/pcvm-snapshot-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmpl, O_CLOEXEC);
	int err = errno;
	if (fd >= 0)
		unlink(tmpl);
	free(tmpl);
	return fd >= 0 ? fd : -err;
}

int overlay_open(struct block **out, struct block *base)
{
	int fd = temp_file();
	if (fd < 0)
		return fd;
	struct overlay *o = calloc(1, sizeof(*o));
	if (!o) {
		close(fd);
		return -ENOMEM;
	}
	o->npages = (base->size + (uint64_t)UNIT * PAGE_UNITS - 1) / ((uint64_t)UNIT * PAGE_UNITS);
	o->pages = calloc(o->npages ? o->npages : 1, sizeof(*o->pages));
	if (!o->pages || ftruncate(fd, (off_t)base->size) < 0) {
		int err = o->pages ? -errno : -ENOMEM;
		free(o->pages);
		free(o);
		close(fd);
		return err;
	}
	bfile_from_fd(&o->f, fd);
	o->base = base;
	o->b.drv = &overlay_driver;
	o->b.name = strdup(base->name);
	o->b.size = base->size;
	o->b.cache = base->cache;
	*out = &o->b;
	return 0;
}

/*
 * A disk held in memory: the built-in demo guest's image. The guest may
 * write; the changes live only as long as the machine.
 */
#include "block_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct memdisk {
	struct block b;
	uint8_t *data;
};

static int md_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	memcpy(buf, ((struct memdisk *)b)->data + offset, len);
	return 0;
}

static int md_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	memcpy(((struct memdisk *)b)->data + offset, buf, len);
	return 0;
}

static int md_flush(struct block *b, bool sync)
{
	(void)b;
	(void)sync;
	return 0;
}

static void md_close(struct block *b)
{
	struct memdisk *m = (struct memdisk *)b;
	free(m->data);
	free(b->name);
	free(m);
}

static const struct block_driver memdisk_driver = {
	.name = "memory",
	.read = md_read,
	.write = md_write,
	.flush = md_flush,
	.close = md_close,
};

int memdisk_open(struct block **out, const void *data, uint64_t size,
		 const char *name)
{
	struct memdisk *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->data = malloc(size ? size : 1);
	if (!m->data) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->data, data, size);
	m->b.drv = &memdisk_driver;
	m->b.name = strdup(name);
	m->b.size = size;
	*out = &m->b;
	return 0;
}

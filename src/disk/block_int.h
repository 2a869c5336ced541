/*
 * What a block format driver implements. Each driver embeds struct block
 * first in its own state.
 */
#ifndef PCVM_DISK_BLOCK_INT_H
#define PCVM_DISK_BLOCK_INT_H

#include "block.h"

struct block_driver {
	const char *name;
	int (*read)(struct block *b, uint64_t offset, void *buf, size_t len);
	int (*write)(struct block *b, uint64_t offset, const void *buf, size_t len);
	int (*flush)(struct block *b);
	void (*close)(struct block *b); /* frees b */
};

struct block {
	const struct block_driver *drv;
	char *name;
	uint64_t size;
	bool readonly;
	enum block_cache cache;
};

int raw_open(struct block **out, const char *path, int fd, bool readonly);
int memdisk_open(struct block **out, const void *data, uint64_t size,
		 const char *name);

#endif

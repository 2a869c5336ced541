/*
 * The block layer's front: format probing, argument checks shared by every
 * driver (bounds, read-only), and the cache policy for flushes.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int block_open(struct block **out, const char *path,
	       const struct block_open_opts *opts)
{
	bool ro = opts->readonly;
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 && !ro && (errno == EACCES || errno == EROFS)) {
		log_error("%s: %s; make it writable or open it read-only",
			  path, strerror(errno));
		return -EINVAL;
	}
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (opts->format && strcmp(opts->format, "raw")) {
		log_error("%s: format %s is not supported; use raw", path, opts->format);
		close(fd);
		return -EINVAL;
	}
	int err = raw_open(out, path, fd, ro);
	if (err) {
		close(fd);
		return err;
	}
	(*out)->cache = opts->cache;
	return 0;
}

int block_open_memory(struct block **out, const void *data, uint64_t size,
		      const char *name)
{
	return memdisk_open(out, data, size, name);
}

static int check_range(const struct block *b, uint64_t offset, size_t len)
{
	if (offset > b->size || len > b->size - offset)
		return -EINVAL;
	return 0;
}

int block_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	int err = check_range(b, offset, len);
	return err ? err : b->drv->read(b, offset, buf, len);
}

int block_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	if (b->readonly)
		return -EROFS;
	int err = check_range(b, offset, len);
	return err ? err : b->drv->write(b, offset, buf, len);
}

int block_flush(struct block *b)
{
	if (b->readonly || b->cache == BLOCK_CACHE_UNSAFE)
		return 0;
	return b->drv->flush(b);
}

uint64_t block_size(const struct block *b) { return b->size; }
bool block_readonly(const struct block *b) { return b->readonly; }
const char *block_format(const struct block *b) { return b->drv->name; }
const char *block_name(const struct block *b) { return b->name; }

int block_close(struct block *b)
{
	if (!b)
		return 0;
	int err = b->readonly ? 0 : b->drv->flush(b);
	b->drv->close(b);
	return err;
}

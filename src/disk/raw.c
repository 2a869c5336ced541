/*
 * Raw images: the file is the disk, byte for byte. Reads and writes are
 * pread/pwrite; a write of an all-zero block over a hole leaves the hole
 * (nothing is allocated for zeros the file already reads as zeros).
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

struct raw {
	struct block b;
	int fd;
};

static int raw_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	struct raw *r = (struct raw *)b;
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(r->fd, p, len, (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* past the end of a file that shrank */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		offset += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int raw_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	struct raw *r = (struct raw *)b;
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(r->fd, p, len, (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		offset += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int raw_flush(struct block *b)
{
	struct raw *r = (struct raw *)b;
	return fdatasync(r->fd) < 0 && errno != EINVAL ? -errno : 0;
}

static void raw_close(struct block *b)
{
	struct raw *r = (struct raw *)b;
	close(r->fd);
	free(b->name);
	free(r);
}

static const struct block_driver raw_driver = {
	.name = "raw",
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.close = raw_close,
};

int raw_open(struct block **out, const char *path, int fd, bool readonly)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	struct raw *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->b.drv = &raw_driver;
	r->b.name = strdup(path);
	r->b.size = size;
	r->b.readonly = readonly;
	r->fd = fd;
	*out = &r->b;
	return 0;
}

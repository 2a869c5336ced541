/*
 * Raw images: the file is the disk, byte for byte. Reads and writes are
 * pread/pwrite; a write of zeros over a hole leaves the hole (nothing is
 * allocated for zeros the file already reads as zeros), and holes are
 * reported to `pcvm img convert` through SEEK_DATA/SEEK_HOLE (lseek(2)).
 * A file whose size is not a multiple of 512 is a disk rounded up to whole
 * sectors; the missing tail reads as zeros.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
	struct block b;
	struct bfile f;
	bool maybe_sparse; /* a regular file: holes are possible */
};

static int raw_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	return bfile_pread(&((struct raw *)b)->f, offset, buf, len);
}

/* Is [offset, offset+len) entirely a hole? */
static bool in_hole(struct raw *r, uint64_t offset, uint64_t len)
{
	if (!r->maybe_sparse)
		return false;
	off_t d = lseek(r->f.fd, (off_t)offset, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO; /* no data after offset */
	return (uint64_t)d >= offset + len;
}

static int raw_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	struct raw *r = (struct raw *)b;
	if (len >= 4096 && block_all_zero(buf, len) && in_hole(r, offset, len))
		return 0;
	return bfile_pwrite(&r->f, offset, buf, len);
}

static int raw_flush(struct block *b, bool sync)
{
	return sync ? bfile_sync(&((struct raw *)b)->f) : 0;
}

static int raw_status(struct block *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct raw *r = (struct raw *)b;
	*run = len;
	if (!r->maybe_sparse)
		return BLOCK_DATA;
	off_t d = lseek(r->f.fd, (off_t)offset, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) /* only a hole (or the padded tail) follows */
			return BLOCK_ZERO;
		return BLOCK_DATA;
	}
	if ((uint64_t)d > offset) {
		*run = (uint64_t)d - offset;
		return BLOCK_ZERO;
	}
	off_t h = lseek(r->f.fd, (off_t)offset, SEEK_HOLE);
	if (h > (off_t)offset)
		*run = (uint64_t)h - offset;
	return BLOCK_DATA;
}

static int raw_info(struct block *b, struct block_info *info)
{
	info->disk_usage = bfile_usage(&((struct raw *)b)->f);
	return 0;
}

static void raw_close(struct block *b)
{
	struct raw *r = (struct raw *)b;
	bfile_close(&r->f);
	free(b->name);
	free(r);
}

static const struct block_driver raw_driver = {
	.name = "raw",
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.close = raw_close,
	.info = raw_info,
	.status = raw_status,
};

int raw_open(struct block **out, const char *path, struct bfile *f, bool readonly)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	uint64_t size;
	int err = bfile_size(f, &size);
	if (err)
		return err;
	struct raw *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->b.drv = &raw_driver;
	r->b.name = strdup(path);
	r->b.size = (size + BLOCK_SECTOR - 1) / BLOCK_SECTOR * BLOCK_SECTOR;
	r->b.readonly = readonly;
	r->f = *f;
	r->maybe_sparse = S_ISREG(st.st_mode);
	*out = &r->b;
	return 0;
}

int raw_create(const char *path, const struct block_create_opts *o)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	int err = 0;
	if (ftruncate(fd, (off_t)o->size) < 0 || fsync(fd) < 0) {
		err = -errno;
		log_error("%s: %s", path, strerror(errno));
	}
	close(fd);
	((struct block_create_opts *)o)->final_size = o->size;
	return err;
}

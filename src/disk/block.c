/*
 * The block layer's front: format probing from the content (qcow2 magic at
 * offset 0, a VHD footer at offset 0 or at the end, otherwise raw), backing
 * chains (relative names against the image's directory, loops and depth
 * refused), argument checks shared by every driver (bounds, read-only),
 * the cache policy for flushes, and the file I/O helpers the drivers use.
 * A probed raw image may not be rewritten by its guest into something that
 * would probe as another format, as a guest could otherwise make the host
 * open arbitrary files as its backing image on the next start.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

#define DIRECT_ALIGN 512u
#define BOUNCE_MAX (1u << 20)

/* ---- file I/O ---- */

int bfile_from_fd(struct bfile *f, int fd)
{
	*f = (struct bfile){ .fd = fd, .dfd = -1 };
	return 0;
}

int bfile_open(struct bfile *f, const char *path, bool readonly, enum block_cache cache)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd = open(path, flags);
	if (fd < 0)
		return -errno;
	bfile_from_fd(f, fd);
	if (cache == BLOCK_CACHE_NONE) {
		f->dfd = open(path, flags | O_DIRECT);
		if (f->dfd < 0)
			log_info("%s: cannot bypass the host cache here (%s); using it",
				 path, strerror(errno));
	}
	return 0;
}

void bfile_close(struct bfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->dfd >= 0)
		close(f->dfd);
	free(f->bounce);
	f->fd = f->dfd = -1;
	f->bounce = NULL;
}

static int full_pread(int fd, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int full_pwrite(int fd, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static bool direct_ok(struct bfile *f, uint64_t off, size_t len)
{
	if (f->dfd < 0 || (off | len) % DIRECT_ALIGN)
		return false;
	if (!f->bounce) {
		if (posix_memalign(&f->bounce, 4096, BOUNCE_MAX))
			return false;
		f->bounce_size = BOUNCE_MAX;
	}
	return true;
}

/* The device refused our alignment: stay with the page cache from now on. */
static void direct_off(struct bfile *f, int err)
{
	log_warn("direct I/O failed (%s); using the host cache for this image",
		 strerror(-err));
	close(f->dfd);
	f->dfd = -1;
}

int bfile_pread(struct bfile *f, uint64_t off, void *buf, size_t len)
{
	if (!direct_ok(f, off, len))
		return full_pread(f->fd, off, buf, len);
	uint8_t *p = buf;
	while (len) {
		size_t n = len < f->bounce_size ? len : f->bounce_size;
		int err = full_pread(f->dfd, off, f->bounce, n);
		if (err == -EINVAL) {
			direct_off(f, err);
			return full_pread(f->fd, off, p, len);
		}
		if (err)
			return err;
		memcpy(p, f->bounce, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int bfile_pwrite(struct bfile *f, uint64_t off, const void *buf, size_t len)
{
	if (!direct_ok(f, off, len))
		return full_pwrite(f->fd, off, buf, len);
	const uint8_t *p = buf;
	while (len) {
		size_t n = len < f->bounce_size ? len : f->bounce_size;
		memcpy(f->bounce, p, n);
		int err = full_pwrite(f->dfd, off, f->bounce, n);
		if (err == -EINVAL) {
			direct_off(f, err);
			return full_pwrite(f->fd, off, p, len);
		}
		if (err)
			return err;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int bfile_sync(struct bfile *f)
{
	if (fdatasync(f->fd) < 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}

int bfile_size(struct bfile *f, uint64_t *size)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(f->fd, BLKGETSIZE64, size) < 0)
		return -errno;
	return 0;
}

uint64_t bfile_usage(struct bfile *f)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

bool block_all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len && ((uintptr_t)p & 7)) {
		if (*p++)
			return false;
		len--;
	}
	const uint64_t *q = (const uint64_t *)p;
	for (; len >= 64; len -= 64, q += 8)
		if (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7])
			return false;
	p = (const uint8_t *)q;
	while (len--)
		if (*p++)
			return false;
	return true;
}

/* ---- errors and chains ---- */

void block_err(const struct block_chain *chain, const char *path, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const struct block_chain *top = chain;
	while (top && top->child)
		top = top->child;
	if (top && top->path && strcmp(top->path, path))
		log_error("%s: backing file %s: %s", top->path, path, msg);
	else
		log_error("%s: %s", path, msg);
}

char *block_resolve_backing(const char *child_path, const char *name)
{
	if (name[0] == '/')
		return strdup(name);
	char *copy = strdup(child_path);
	if (!copy)
		return NULL;
	const char *dir = dirname(copy);
	char *out = NULL;
	if (!strcmp(dir, "."))
		out = strdup(name);
	else if (asprintf(&out, "%s/%s", dir, name) < 0)
		out = NULL;
	free(copy);
	return out;
}

static const char *format_name(const char *f)
{
	if (!f)
		return NULL;
	if (!strcmp(f, "vpc")) /* QEMU's name for VHD, as in backing-format fields */
		return "vhd";
	return f;
}

static int open_file(struct block **out, const char *path, const char *format,
		     bool readonly, enum block_cache cache,
		     const struct block_chain *child)
{
	format = format_name(format);
	if (format && strcmp(format, "raw") && strcmp(format, "qcow2") && strcmp(format, "vhd")) {
		block_err(child, path, "unknown format '%s'; use raw, qcow2 or vhd", format);
		return -EINVAL;
	}
	struct bfile f;
	int err = bfile_open(&f, path, readonly, cache);
	if (err == -EACCES || err == -EROFS) {
		block_err(child, path, "%s; make it writable or open it read-only",
			  strerror(-err));
		return -EINVAL;
	}
	if (err) {
		block_err(child, path, "%s", strerror(-err));
		return -EINVAL;
	}
	struct stat st;
	if (fstat(f.fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		block_err(child, path, "not a regular file or block device");
		bfile_close(&f);
		return -EINVAL;
	}
	struct block_chain link = {
		.dev = st.st_dev, .ino = st.st_ino, .path = path, .child = child,
		.depth = child ? child->depth + 1 : 0,
	};
	for (const struct block_chain *c = child; c; c = c->child)
		if (c->dev == st.st_dev && c->ino == st.st_ino) {
			block_err(child, path, "the backing chain loops back to %s; "
				  "fix the backing file names", c->path);
			bfile_close(&f);
			return -EINVAL;
		}
	if (link.depth > BLOCK_MAX_CHAIN) {
		block_err(child, path, "backing chain deeper than %d images", BLOCK_MAX_CHAIN);
		bfile_close(&f);
		return -EINVAL;
	}

	uint64_t fsize;
	err = bfile_size(&f, &fsize);
	uint8_t head[512] = {0}, tail[512] = {0};
	if (!err)
		err = bfile_pread(&f, 0, head, sizeof(head));
	if (!err && fsize >= 512)
		err = bfile_pread(&f, fsize - 512, tail, sizeof(tail));
	if (err) {
		block_err(child, path, "cannot read: %s", strerror(-err));
		bfile_close(&f);
		return -EINVAL;
	}
	if (fsize == 0) {
		block_err(child, path, "empty file, not a disk image; make one with "
			  "'pcvm img create'");
		bfile_close(&f);
		return -EINVAL;
	}
	size_t hlen = fsize < 512 ? (size_t)fsize : 512;
	bool probed = !format;
	if (!format) {
		if (qcow2_probe(head, hlen))
			format = "qcow2";
		else if (vhd_probe(head, hlen, tail, fsize >= 512 ? 512 : 0))
			format = "vhd";
		else
			format = "raw";
	}
	if (!strcmp(format, "qcow2"))
		err = qcow2_open(out, path, &f, readonly, cache, &link);
	else if (!strcmp(format, "vhd"))
		err = vhd_open(out, path, &f, readonly, cache, &link);
	else
		err = raw_open(out, path, &f, readonly);
	if (err) {
		bfile_close(&f);
		return err;
	}
	(*out)->cache = cache;
	(*out)->probed_raw = probed && !strcmp(format, "raw");
	return 0;
}

int block_open_backing(struct block **out, const struct block_chain *chain,
		       const char *child_path, const char *name, const char *format,
		       enum block_cache cache)
{
	char *path = block_resolve_backing(child_path, name);
	if (!path)
		return -ENOMEM;
	struct stat st;
	if (stat(path, &st) < 0) {
		block_err(chain, child_path, "backing file %s: %s", path, strerror(errno));
		free(path);
		return -EINVAL;
	}
	/* cache=none is about the image the guest writes; backing files are
	 * only read, and read best through the page cache. */
	(void)cache;
	int err = open_file(out, path, format, true, BLOCK_CACHE_WRITEBACK, chain);
	free(path);
	return err;
}

int block_open(struct block **out, const char *path,
	       const struct block_open_opts *opts)
{
	bool ro = opts->readonly || opts->snapshot;
	int err = open_file(out, path, opts->format, ro, opts->cache, NULL);
	if (err)
		return err;
	if (opts->snapshot && !opts->readonly) {
		struct block *base = *out;
		err = overlay_open(out, base);
		if (err) {
			log_error("%s: cannot make the snapshot overlay: %s", path,
				  strerror(-err));
			block_close(base);
			return err;
		}
	}
	return 0;
}

int block_open_memory(struct block **out, const void *data, uint64_t size,
		      const char *name)
{
	return memdisk_open(out, data, size, name);
}

/* ---- the interface ---- */

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

int block_read_backing(struct block *backing, uint64_t offset, void *buf, size_t len)
{
	if (!backing || offset >= backing->size) {
		memset(buf, 0, len);
		return 0;
	}
	size_t n = len;
	if (n > backing->size - offset)
		n = (size_t)(backing->size - offset);
	if (n < len)
		memset((uint8_t *)buf + n, 0, len - n);
	return backing->drv->read(backing, offset, buf, n);
}

/* Would this write make a probed raw image look like another format? */
static bool changes_probe(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	uint8_t head[512], tail[512];
	if (offset < 512) {
		if (block_read(b, 0, head, 512) < 0)
			return true;
		size_t n = len < 512 - offset ? len : 512 - (size_t)offset;
		memcpy(head + offset, buf, n);
		if (qcow2_probe(head, 512) || vhd_probe(head, 512, NULL, 0))
			return true;
	}
	uint64_t last = b->size - 512;
	if (b->size >= 512 && offset + len > last) {
		if (block_read(b, last, tail, 512) < 0)
			return true;
		uint64_t s = offset > last ? offset : last;
		memcpy(tail + (s - last), (const uint8_t *)buf + (s - offset),
		       (size_t)(offset + len - s));
		if (vhd_probe(NULL, 0, tail, 512))
			return true;
	}
	return false;
}

int block_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	if (b->readonly)
		return -EROFS;
	int err = check_range(b, offset, len);
	if (err)
		return err;
	if (b->probed_raw && (offset < 512 || offset + len > b->size - 512) &&
	    changes_probe(b, offset, buf, len)) {
		log_warn("%s: refused a guest write that would make this raw image "
			 "look like a qcow2 or VHD image; give format=raw to allow it",
			 b->name);
		return -EPERM;
	}
	return b->drv->write(b, offset, buf, len);
}

int block_flush(struct block *b)
{
	if (b->readonly || b->cache == BLOCK_CACHE_UNSAFE)
		return 0;
	return b->drv->flush(b, true);
}

uint64_t block_size(const struct block *b) { return b->size; }
bool block_readonly(const struct block *b) { return b->readonly; }
const char *block_format(const struct block *b) { return b->drv->name; }
const char *block_name(const struct block *b) { return b->name; }
struct block *block_backing(const struct block *b) { return b->backing; }

int block_close(struct block *b)
{
	if (!b)
		return 0;
	int err = b->readonly ? 0 : b->drv->flush(b, true);
	if (err)
		log_error("%s: flushing at close failed: %s", b->name, strerror(-err));
	struct block *backing = b->backing;
	b->drv->close(b);
	if (backing)
		block_close(backing);
	return err;
}

int block_zero_run(struct block *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	if (check_range(b, offset, len) || !len)
		return -EINVAL;
	if (!b->drv->status) {
		*run = len;
		return 0;
	}
	int st = b->drv->status(b, offset, len, run);
	if (st < 0)
		return st;
	if (*run == 0 || *run > len)
		*run = len;
	return st == BLOCK_ZERO;
}

int block_get_info(struct block *b, struct block_info *info)
{
	memset(info, 0, sizeof(*info));
	info->format = b->drv->name;
	info->virtual_size = b->size;
	return b->drv->info ? b->drv->info(b, info) : 0;
}

int block_check(struct block *b, struct block_check *res, bool repair, FILE *out)
{
	memset(res, 0, sizeof(*res));
	if (repair && b->readonly)
		return -EROFS;
	if (!b->readonly) {
		int err = b->drv->flush(b, true);
		if (err)
			return err;
	}
	return b->drv->check ? b->drv->check(b, res, repair, out) : 0;
}

int block_create(const char *path, struct block_create_opts *o)
{
	const char *fmt = o->format ? format_name(o->format) : "raw";
	if (o->backing) {
		/* The backing file must open now, as the new image will name it. */
		struct block *bk;
		char *bpath = block_resolve_backing(path, o->backing);
		if (!bpath)
			return -ENOMEM;
		int err = open_file(&bk, bpath, o->backing_format, true,
				    BLOCK_CACHE_WRITEBACK, NULL);
		free(bpath);
		if (err)
			return err;
		if (!o->size)
			o->size = bk->size;
		bool vhd_parent = !strcmp(bk->drv->name, "vhd");
		block_close(bk);
		if (!strcmp(fmt, "vhd") && !vhd_parent) {
			log_error("%s: a VHD's parent must be a VHD; %s is not", path, o->backing);
			return -EINVAL;
		}
	}
	if (!strcmp(fmt, "raw")) {
		if (o->backing) {
			log_error("%s: raw images have no backing file; use qcow2 or vhd", path);
			return -EINVAL;
		}
		return raw_create(path, o);
	}
	if (!strcmp(fmt, "qcow2"))
		return qcow2_create(path, o);
	if (!strcmp(fmt, "vhd"))
		return vhd_create(path, o);
	log_error("%s: unknown format '%s'; use raw, qcow2 or vhd", path, o->format);
	return -EINVAL;
}

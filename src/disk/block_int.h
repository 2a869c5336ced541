/*
 * What a block format driver implements, and the helpers the drivers share:
 * file I/O that honours cache=none (O_DIRECT with aligned bounce buffers),
 * big-endian field access, backing-file opening with loop detection, and
 * one-line error reporting that names the file at fault. Each driver embeds
 * struct block first in its own state.
 */
#ifndef PCVM_DISK_BLOCK_INT_H
#define PCVM_DISK_BLOCK_INT_H

#include "block.h"

#include <stdio.h>
#include <sys/types.h>

struct block_driver {
	const char *name;
	int (*read)(struct block *b, uint64_t offset, void *buf, size_t len);
	int (*write)(struct block *b, uint64_t offset, const void *buf, size_t len);
	/* Writes back cached metadata in a crash-safe order; when sync, also
	 * makes it and all data durable (fdatasync). */
	int (*flush)(struct block *b, bool sync);
	void (*close)(struct block *b); /* frees b; flushed before */
	/* Optional. */
	int (*info)(struct block *b, struct block_info *info);
	int (*check)(struct block *b, struct block_check *res, bool repair, FILE *out);
	/* How [offset, offset+len) reads: BLOCK_ZERO if known all zero, else
	 * BLOCK_DATA; *run gets the length (>0) with that status. */
	int (*status)(struct block *b, uint64_t offset, uint64_t len, uint64_t *run);
};

struct block {
	const struct block_driver *drv;
	char *name;
	uint64_t size;
	bool readonly;
	bool probed_raw;        /* raw by probing: refuse writes that change that */
	enum block_cache cache;
	struct block *backing;  /* owned; closed with this image */
};

enum { BLOCK_DATA = 0, BLOCK_ZERO = 1 };

/* A file opened for image I/O. With cache=none, aligned transfers go
 * through an O_DIRECT descriptor and everything else through the buffered
 * one (Linux keeps the two coherent). */
struct bfile {
	int fd;          /* buffered */
	int dfd;         /* O_DIRECT, or -1 */
	void *bounce;
	size_t bounce_size;
};

int bfile_open(struct bfile *f, const char *path, bool readonly, enum block_cache cache);
int bfile_from_fd(struct bfile *f, int fd);
void bfile_close(struct bfile *f);
/* Reads past the end of the file give zeros. */
int bfile_pread(struct bfile *f, uint64_t off, void *buf, size_t len);
int bfile_pwrite(struct bfile *f, uint64_t off, const void *buf, size_t len);
int bfile_sync(struct bfile *f);
int bfile_size(struct bfile *f, uint64_t *size);
/* Bytes the file occupies on the host (st_blocks). */
uint64_t bfile_usage(struct bfile *f);

/* State carried down a backing chain while it is opened. */
struct block_chain {
	dev_t dev;
	ino_t ino;
	const char *path;
	const struct block_chain *child; /* the image this one backs, or NULL */
	int depth;
};

#define BLOCK_MAX_CHAIN 64

/* "path: message" or, inside a chain, "top: backing file path: message". */
void block_err(const struct block_chain *chain, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens the backing file `name` (as recorded in the image `child_path`:
 * relative names are resolved against that image's directory) read-only,
 * with `format` or probed. Refuses loops and chains deeper than
 * BLOCK_MAX_CHAIN. */
int block_open_backing(struct block **out, const struct block_chain *chain,
		       const char *child_path, const char *name, const char *format,
		       enum block_cache cache);
/* Resolves a backing name relative to child_path's directory (malloc'd). */
char *block_resolve_backing(const char *child_path, const char *name);

/* Format probing, from the first 512 bytes and the last 512 bytes. */
bool qcow2_probe(const uint8_t *head, size_t len);
bool vhd_probe(const uint8_t *head, size_t hlen, const uint8_t *tail, size_t tlen);

int raw_open(struct block **out, const char *path, struct bfile *f, bool readonly);
int qcow2_open(struct block **out, const char *path, struct bfile *f, bool readonly,
	       enum block_cache cache, const struct block_chain *chain);
int vhd_open(struct block **out, const char *path, struct bfile *f, bool readonly,
	     enum block_cache cache, const struct block_chain *chain);
int memdisk_open(struct block **out, const void *data, uint64_t size,
		 const char *name);
int overlay_open(struct block **out, struct block *base);

int raw_create(const char *path, const struct block_create_opts *o);
int qcow2_create(const char *path, const struct block_create_opts *o);
int vhd_create(const char *path, const struct block_create_opts *o);

/* Reads through the backing image, with zeros past its end. */
int block_read_backing(struct block *backing, uint64_t offset, void *buf, size_t len);

static inline uint16_t get_be16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t get_be32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint64_t get_be64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}
static inline void put_be16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}
static inline void put_be32(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}
static inline void put_be64(void *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32((uint8_t *)p + 4, (uint32_t)v);
}

bool block_all_zero(const void *buf, size_t len);

#endif

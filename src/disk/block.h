/*
 * Block images behind one interface: raw files, qcow2, VHD and the
 * copy-on-write overlay of snapshot mode. The format is probed from the
 * content, never from the file name, unless the caller names it.
 *
 * All offsets and lengths are in bytes; the device models use 512-byte
 * sectors (BLOCK_SECTOR) and the CD-ROM 2048-byte blocks on top of this.
 * Functions return 0 or a negative errno; -EINVAL on open means the file is
 * not a valid image of the requested/probed format (reported already, one
 * line naming the file and the problem).
 */
#ifndef PCVM_DISK_BLOCK_H
#define PCVM_DISK_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_SECTOR 512u

enum block_cache {
	BLOCK_CACHE_WRITEBACK, /* flush when the guest flushes, and at exit */
	BLOCK_CACHE_NONE,      /* O_DIRECT where possible, flush as writeback */
	BLOCK_CACHE_UNSAFE,    /* guest flushes ignored; still flushed at exit */
};

struct block_open_opts {
	const char *format;    /* "raw", "qcow2", "vhd" or NULL to probe */
	bool readonly;         /* never write the file */
	bool snapshot;         /* guest writes go to a temporary overlay */
	enum block_cache cache;
};

struct block;

int block_open(struct block **out, const char *path,
	       const struct block_open_opts *opts);
/* An image held in memory (the built-in demo disk): writes change only the
 * in-memory copy. */
int block_open_memory(struct block **out, const void *data, uint64_t size,
		      const char *name);
int block_read(struct block *b, uint64_t offset, void *buf, size_t len);
int block_write(struct block *b, uint64_t offset, const void *buf, size_t len);
int block_flush(struct block *b);
uint64_t block_size(const struct block *b);
bool block_readonly(const struct block *b);
const char *block_format(const struct block *b);
const char *block_name(const struct block *b);
/* Flushes and closes; leaves the image consistent. */
int block_close(struct block *b);

#endif

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
#include <stdio.h>

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

/* ---- Image management (pcvm img, tests). ---- */

/* 1 if [offset, offset+len) is known to read as zeros (unallocated with no
 * backing data, a zero cluster, a hole), 0 if it may hold data; *run gets
 * how many bytes from offset (at least 1, at most len) share that answer.
 * Negative errno on error. */
int block_zero_run(struct block *b, uint64_t offset, uint64_t len, uint64_t *run);
/* The image this one reads unwritten areas from, or NULL. */
struct block *block_backing(const struct block *b);

struct block_info {
	const char *format;        /* "raw", "qcow2", "vhd", "memory" */
	uint64_t virtual_size;
	uint64_t disk_usage;       /* bytes the file occupies on the host */
	uint32_t cluster_size;     /* qcow2 cluster or VHD block; 0 if none */
	int version;               /* qcow2: 2 or 3; 0 otherwise */
	const char *subformat;     /* vhd: "fixed", "dynamic", "differencing" */
	bool dirty, corrupt;       /* qcow2 header bits */
	int snapshots;             /* qcow2 internal snapshots */
	char backing_file[1024];   /* as recorded in the image; "" if none */
	char backing_format[16];   /* as recorded; "" if to be probed */
};
int block_get_info(struct block *b, struct block_info *info);

struct block_check {
	uint64_t corruptions;      /* metadata that is wrong (data at risk) */
	uint64_t leaks;            /* space marked used that nothing uses */
	uint64_t repaired;         /* problems fixed by a repairing check */
	uint64_t check_errors;     /* could not be checked (I/O errors) */
};
/* Checks metadata consistency, describing each problem as one line on
 * out; with repair (image opened writable), fixes leaks and refcounts.
 * Formats without metadata (raw) have nothing to find. */
int block_check(struct block *b, struct block_check *res, bool repair, FILE *out);

struct block_create_opts {
	const char *format;        /* "raw", "qcow2" or "vhd" */
	uint64_t size;             /* 0 with a backing file: the backing file's */
	const char *backing;       /* recorded as given; relative to the new file */
	const char *backing_format;/* NULL: probed when opened */
	uint32_t cluster_size;     /* qcow2; 0: 64 KiB */
	int qcow2_version;         /* 2 or 3; 0: 3 */
	bool vhd_fixed;            /* vhd: fixed instead of dynamic */
	uint32_t vhd_block_size;   /* vhd dynamic; 0: 2 MiB */
	uint64_t final_size;       /* out: the size made (VHD rounds up to CHS) */
};
/* Creates (or truncates and rewrites) an empty image. Checks every option,
 * and the backing file, before touching path. */
int block_create(const char *path, struct block_create_opts *o);

#endif

/*
 * Disk image throughput through the block interface: sequential and random
 * (4 KiB) reads and writes on raw, qcow2 and VHD images, against plain
 * pread/pwrite on a file. The images live in one scratch directory; the
 * host page cache is not dropped, so the figures show what the block layer
 * itself costs on top of the file system. Prints MB/s; never fails.
 *   bench-disk DIR [SIZE_MIB]
 */
#include "../../src/disk/block.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define SMALL 4096u

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct target {
	const char *name;
	struct block *b; /* NULL: the plain file */
	int fd;
};

static int t_rw(struct target *t, bool wr, uint64_t off, void *buf, size_t len)
{
	if (t->b)
		return wr ? block_write(t->b, off, buf, len) : block_read(t->b, off, buf, len);
	ssize_t n = wr ? pwrite(t->fd, buf, len, (off_t)off) : pread(t->fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -1;
}

static int t_flush(struct target *t)
{
	return t->b ? block_flush(t->b) : fdatasync(t->fd);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* MB/s of one pass; random passes move `total` bytes in 4 KiB pieces. */
static double pass(struct target *t, bool wr, bool random, uint64_t size, uint64_t total,
		   uint8_t *buf)
{
	double t0 = now();
	uint64_t moved = 0;
	if (!random) {
		for (uint64_t off = 0; off < size; off += CHUNK, moved += CHUNK)
			if (t_rw(t, wr, off, buf, CHUNK))
				return -1;
	} else {
		for (; moved < total; moved += SMALL) {
			uint64_t off = next() % (size / SMALL) * SMALL;
			if (t_rw(t, wr, off, buf + (moved % CHUNK), SMALL))
				return -1;
		}
	}
	if (wr && t_flush(t))
		return -1;
	return (double)moved / (now() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-disk DIR [SIZE_MIB]\n");
		return 2;
	}
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 0) : 256) << 20;
	uint64_t rtotal = size / 4;
	uint8_t *buf = malloc(CHUNK + SMALL);
	for (size_t i = 0; i < CHUNK + SMALL; i++)
		buf[i] = (uint8_t)(next() | 1);
	const char *formats[] = { "file", "raw", "qcow2", "vhd" };
	printf("  disk: %llu MiB images, 1 MiB sequential and 4 KiB random I/O, MB/s "
	       "(page cache warm)\n", (unsigned long long)(size >> 20));
	printf("  %-6s %10s %10s %10s %10s %12s\n", "format", "seq-write", "seq-read",
	       "rand-read", "rand-write", "alloc-4K-wr");
	for (int f = 0; f < 4; f++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/bench.%s", argv[1], formats[f]);
		struct block_create_opts co = { .format = f == 0 ? "raw" : formats[f], .size = size };
		if (block_create(path, &co))
			return 1;
		struct target t = { .name = formats[f], .fd = -1 };
		struct block_open_opts oo = { .format = co.format };
		if (f == 0)
			t.fd = open(path, O_RDWR);
		else if (block_open(&t.b, path, &oo))
			return 1;
		/* allocating random writes first, on the fresh image */
		double alloc = pass(&t, true, true, size, rtotal / 4, buf);
		double sw = pass(&t, true, false, size, 0, buf);
		double sr = pass(&t, false, false, size, 0, buf);
		double rr = pass(&t, false, true, size, rtotal, buf);
		double rw = pass(&t, true, true, size, rtotal, buf);
		printf("  %-6s %10.0f %10.0f %10.0f %10.0f %12.0f\n", formats[f], sw, sr, rr, rw, alloc);
		if (t.b)
			block_close(t.b);
		else
			close(t.fd);
		unlink(path);
	}
	free(buf);
	return 0;
}

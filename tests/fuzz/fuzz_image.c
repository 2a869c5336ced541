/*
 * libFuzzer target for the qcow2 and VHD parsers (built once per format,
 * FUZZ_FORMAT naming it): the input is an image file, held in a memfd and
 * opened through the block layer like any image; if it opens, a few reads,
 * writes, a flush, a status query and a metadata check run against it.
 * Any crash, sanitizer report or hang is a bug: bad images must only ever
 * be refused.
 */
#include "../../src/disk/block.h"
#include "../../src/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT "qcow2"
#endif

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (8u << 20))
		return 0;
	int fd = memfd_create("pcvm-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct block_open_opts o = { .format = FUZZ_FORMAT };
	struct block *b;
	if (!block_open(&b, path, &o)) {
		uint64_t dsize = block_size(b);
		static uint8_t buf[1 << 17];
		uint64_t seed = size;
		for (size_t i = 0; i < size && i < 64; i++)
			seed = seed * 131 + data[i];
		for (int i = 0; i < 6 && dsize; i++) {
			seed = mix(seed + (uint64_t)i);
			uint64_t off = (seed >> 3) % dsize;
			size_t len = (size_t)(mix(seed) % sizeof(buf)) + 1;
			if (len > dsize - off)
				len = (size_t)(dsize - off);
			if (i < 4) {
				block_read(b, off, buf, len);
			} else {
				memset(buf, (int)i, len);
				block_write(b, off, buf, len);
			}
			uint64_t run;
			block_zero_run(b, off, len, &run);
		}
		block_flush(b);
		struct block_check r;
		block_check(b, &r, false, NULL);
		struct block_info info;
		block_get_info(b, &info);
		block_close(b);
	}
	close(fd);
	return 0;
}

/*
 * The guest-physical address space: a sorted set of non-overlapping regions.
 * A region serves reads from host memory `rd` and writes to host memory `wr`
 * when those are set, and passes the rest to its handler `fn` (MMIO). So RAM
 * is rd == wr, ROM is rd only (writes dropped), MMIO is fn only, and the
 * PC's shadowed BIOS area switches rd/wr between RAM and ROM at run time.
 * Addresses no region covers read as all ones and ignore writes.
 *
 * Backends cache what they learn from here (the software CPU's TLB, KVM's
 * memory slots); every change to the map bumps the generation and calls the
 * listeners, so those caches are rebuilt.
 */
#ifndef PCVM_MEM_H
#define PCVM_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "ioport.h"

struct mem_region {
	uint64_t base;
	uint64_t size;
	uint8_t *rd;        /* host memory serving reads, or NULL */
	uint8_t *wr;        /* host memory taking writes, or NULL */
	io_handler_fn fn;   /* accesses not served above; NULL: ignored/ones */
	void *opaque;
	const char *name;
};

struct mem;

int mem_create(struct mem **out);
void mem_destroy(struct mem *m);

/* Adds a region (copied). -EEXIST if it overlaps another, -EINVAL if empty
 * or wrapping past 2^64. */
int mem_map(struct mem *m, const struct mem_region *r);
/* Removes the region that starts at base. */
int mem_unmap(struct mem *m, uint64_t base);
/* Changes where the region at base reads from and writes to. */
int mem_set_access(struct mem *m, uint64_t base, uint8_t *rd, uint8_t *wr);

/* The region containing addr, or NULL. */
const struct mem_region *mem_find(const struct mem *m, uint64_t addr);
/* Region i in address order (for backends building their own maps). */
const struct mem_region *mem_region_at(const struct mem *m, unsigned i);
unsigned mem_region_count(const struct mem *m);

/* Bumped by every map change. */
uint64_t mem_generation(const struct mem *m);
/* Called after every map change. Up to a few listeners. */
int mem_add_listener(struct mem *m, void (*fn)(void *opaque), void *opaque);
void mem_remove_listener(struct mem *m, void (*fn)(void *opaque), void *opaque);
/* Called when a device (DMA, a firmware loader) writes guest RAM, so the
 * software CPU can drop code it translated from those bytes. */
void mem_set_write_hook(struct mem *m,
			void (*fn)(void *opaque, uint64_t addr, uint64_t len),
			void *opaque);

/* Single accesses of 1, 2, 4 or 8 bytes, little-endian; an access crossing
 * a region boundary is split into bytes. */
uint64_t mem_read(struct mem *m, uint64_t addr, unsigned size);
void mem_write(struct mem *m, uint64_t addr, uint64_t val, unsigned size);

/* Bulk copies for DMA and loaders; they go through the regions like the
 * guest would (ROM ignores writes, unmapped reads as 0xff). */
void mem_read_bytes(struct mem *m, uint64_t addr, void *buf, size_t len);
void mem_write_bytes(struct mem *m, uint64_t addr, const void *buf,
		     size_t len);

/* A host pointer to [addr, addr+len) when the whole range lies in one region
 * whose reads and writes both go to the same host memory, else NULL. A
 * caller that writes through it must call mem_notify_write afterwards. */
uint8_t *mem_ram_ptr(struct mem *m, uint64_t addr, uint64_t len);
void mem_notify_write(struct mem *m, uint64_t addr, uint64_t len);

#endif

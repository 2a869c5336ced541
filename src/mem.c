/*
 * Guest-physical address space: a sorted array of regions searched by
 * bisection. Lookups are off the hot path (the software CPU caches host
 * pointers per page in its TLB; KVM maps RAM into slots), so clarity wins.
 */
#include "mem.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAX_LISTENERS 4

struct mem {
	struct mem_region *r;
	unsigned n, cap;
	uint64_t generation;
	struct {
		void (*fn)(void *opaque);
		void *opaque;
	} listeners[MEM_MAX_LISTENERS];
	unsigned nlisteners;
	void (*write_hook)(void *opaque, uint64_t addr, uint64_t len);
	void *write_hook_opaque;
};

int mem_create(struct mem **out)
{
	struct mem *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

void mem_destroy(struct mem *m)
{
	if (!m)
		return;
	free(m->r);
	free(m);
}

static void changed(struct mem *m)
{
	m->generation++;
	for (unsigned i = 0; i < m->nlisteners; i++)
		m->listeners[i].fn(m->listeners[i].opaque);
}

/* Index of the first region whose end is above addr. */
static unsigned lower_bound(const struct mem *m, uint64_t addr)
{
	unsigned lo = 0, hi = m->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct mem_region *r = &m->r[mid];
		if (r->base + r->size - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int mem_map(struct mem *m, const struct mem_region *nr)
{
	if (!nr->size || nr->base + nr->size - 1 < nr->base)
		return -EINVAL;
	unsigned i = lower_bound(m, nr->base);
	if (i < m->n && m->r[i].base <= nr->base + nr->size - 1) {
		log_error("memory region %s [%#llx-%#llx] overlaps %s [%#llx-%#llx]",
			  nr->name ? nr->name : "?",
			  (unsigned long long)nr->base,
			  (unsigned long long)(nr->base + nr->size - 1),
			  m->r[i].name ? m->r[i].name : "?",
			  (unsigned long long)m->r[i].base,
			  (unsigned long long)(m->r[i].base + m->r[i].size - 1));
		return -EEXIST;
	}
	if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 16;
		struct mem_region *p = realloc(m->r, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->r = p;
		m->cap = cap;
	}
	memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
	m->r[i] = *nr;
	m->n++;
	changed(m);
	return 0;
}

static struct mem_region *find_base(struct mem *m, uint64_t base)
{
	unsigned i = lower_bound(m, base);
	if (i < m->n && m->r[i].base == base)
		return &m->r[i];
	return NULL;
}

int mem_unmap(struct mem *m, uint64_t base)
{
	struct mem_region *r = find_base(m, base);
	if (!r)
		return -ENOENT;
	unsigned i = (unsigned)(r - m->r);
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
	m->n--;
	changed(m);
	return 0;
}

int mem_set_access(struct mem *m, uint64_t base, uint8_t *rd, uint8_t *wr)
{
	struct mem_region *r = find_base(m, base);
	if (!r)
		return -ENOENT;
	if (r->rd == rd && r->wr == wr)
		return 0;
	r->rd = rd;
	r->wr = wr;
	changed(m);
	return 0;
}

const struct mem_region *mem_find(const struct mem *m, uint64_t addr)
{
	unsigned i = lower_bound(m, addr);
	if (i < m->n && m->r[i].base <= addr)
		return &m->r[i];
	return NULL;
}

const struct mem_region *mem_region_at(const struct mem *m, unsigned i)
{
	return i < m->n ? &m->r[i] : NULL;
}

unsigned mem_region_count(const struct mem *m) { return m->n; }
uint64_t mem_generation(const struct mem *m) { return m->generation; }

int mem_add_listener(struct mem *m, void (*fn)(void *opaque), void *opaque)
{
	if (m->nlisteners == MEM_MAX_LISTENERS)
		return -ENOMEM;
	m->listeners[m->nlisteners].fn = fn;
	m->listeners[m->nlisteners].opaque = opaque;
	m->nlisteners++;
	return 0;
}

void mem_remove_listener(struct mem *m, void (*fn)(void *opaque), void *opaque)
{
	for (unsigned i = 0; i < m->nlisteners; i++) {
		if (m->listeners[i].fn == fn && m->listeners[i].opaque == opaque) {
			memmove(&m->listeners[i], &m->listeners[i + 1],
				(m->nlisteners - i - 1) * sizeof(m->listeners[0]));
			m->nlisteners--;
			return;
		}
	}
}

void mem_set_write_hook(struct mem *m,
			void (*fn)(void *opaque, uint64_t addr, uint64_t len),
			void *opaque)
{
	m->write_hook = fn;
	m->write_hook_opaque = opaque;
}

void mem_notify_write(struct mem *m, uint64_t addr, uint64_t len)
{
	if (m->write_hook && len)
		m->write_hook(m->write_hook_opaque, addr, len);
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, p, size); /* the host is little-endian x86 */
	return v;
}

static uint8_t read_byte(struct mem *m, uint64_t addr)
{
	const struct mem_region *r = mem_find(m, addr);
	if (!r)
		return 0xff;
	if (r->rd)
		return r->rd[addr - r->base];
	if (r->fn)
		return (uint8_t)r->fn(r->opaque, addr, 0, 1, 0);
	return 0xff;
}

static void write_byte(struct mem *m, uint64_t addr, uint8_t v)
{
	const struct mem_region *r = mem_find(m, addr);
	if (!r)
		return;
	if (r->wr) {
		r->wr[addr - r->base] = v;
		mem_notify_write(m, addr, 1);
	} else if (r->fn) {
		r->fn(r->opaque, addr, v, 1, 1);
	}
}

uint64_t mem_read(struct mem *m, uint64_t addr, unsigned size)
{
	const struct mem_region *r = mem_find(m, addr);
	if (r && addr - r->base + size <= r->size) {
		if (r->rd)
			return load_le(r->rd + (addr - r->base), size);
		if (r->fn)
			return r->fn(r->opaque, addr, 0, size, 0);
		return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)read_byte(m, addr + i) << (8 * i);
	return v;
}

void mem_write(struct mem *m, uint64_t addr, uint64_t val, unsigned size)
{
	const struct mem_region *r = mem_find(m, addr);
	if (r && addr - r->base + size <= r->size) {
		if (r->wr) {
			memcpy(r->wr + (addr - r->base), &val, size);
			mem_notify_write(m, addr, size);
		} else if (r->fn) {
			r->fn(r->opaque, addr, val, size, 1);
		}
		return;
	}
	for (unsigned i = 0; i < size; i++)
		write_byte(m, addr + i, (uint8_t)(val >> (8 * i)));
}

/* The region containing addr or, failing that, the next one above it. */
static const struct mem_region *find_at_or_after(const struct mem *m,
						 uint64_t addr)
{
	unsigned i = lower_bound(m, addr);
	return i < m->n ? &m->r[i] : NULL;
}

void mem_read_bytes(struct mem *m, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		const struct mem_region *r = find_at_or_after(m, addr);
		size_t chunk = len;
		if (r && r->base <= addr) {
			uint64_t left = r->size - (addr - r->base);
			if (chunk > left)
				chunk = (size_t)left;
			if (r->rd) {
				memcpy(out, r->rd + (addr - r->base), chunk);
			} else {
				for (size_t i = 0; i < chunk; i++)
					out[i] = r->fn ? (uint8_t)r->fn(r->opaque, addr + i, 0, 1, 0)
						       : 0xff;
			}
		} else {
			/* a hole: up to the next region */
			if (r && r->base - addr < chunk)
				chunk = (size_t)(r->base - addr);
			memset(out, 0xff, chunk);
		}
		out += chunk;
		addr += chunk;
		len -= chunk;
	}
}

void mem_write_bytes(struct mem *m, uint64_t addr, const void *buf,
		     size_t len)
{
	const uint8_t *in = buf;
	while (len) {
		const struct mem_region *r = find_at_or_after(m, addr);
		size_t chunk = len;
		if (r && r->base <= addr) {
			uint64_t left = r->size - (addr - r->base);
			if (chunk > left)
				chunk = (size_t)left;
			if (r->wr) {
				memcpy(r->wr + (addr - r->base), in, chunk);
				mem_notify_write(m, addr, chunk);
			} else if (r->fn) {
				for (size_t i = 0; i < chunk; i++)
					r->fn(r->opaque, addr + i, in[i], 1, 1);
			}
		} else if (r && r->base - addr < chunk) {
			chunk = (size_t)(r->base - addr);
		}
		in += chunk;
		addr += chunk;
		len -= chunk;
	}
}

uint8_t *mem_ram_ptr(struct mem *m, uint64_t addr, uint64_t len)
{
	const struct mem_region *r = mem_find(m, addr);
	if (!r || !r->rd || r->rd != r->wr)
		return NULL;
	if (len > r->size || addr - r->base > r->size - len)
		return NULL;
	return r->rd + (addr - r->base);
}

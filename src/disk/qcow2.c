/*
 * qcow2 images, versions 2 and 3, as QEMU's docs/interop/qcow2.txt
 * specifies them: header and extensions, two-level L1/L2 cluster tables,
 * refcount table and blocks of 1 to 64 bits, cluster allocation on write,
 * backing files, zero clusters, compressed clusters (raw deflate, read
 * through zlib), the dirty and corrupt bits, and internal snapshots (kept
 * intact: shared clusters and tables are copied before they are written).
 *
 * Metadata lives in write-back caches (L2 tables, refcount blocks) and in
 * memory (L1 table, refcount table). It reaches the file only in this order,
 * with an fdatasync between steps unless cache=unsafe: new refcounts (and
 * any relocated refcount table), then L2 tables, then L1 entries, and last
 * the refcount decrements of clusters that are no longer referenced. So a
 * process killed at any point leaves at worst clusters whose refcount is
 * too high (leaks), never a reference to a cluster counted as free.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define QCOW2_MAGIC 0x514649fbu
#define OFFSET_MASK 0x00fffffffffffe00ull
#define RT_OFFSET_MASK 0xfffffffffffffe00ull
#define E_COPIED (1ull << 63)
#define E_COMPRESSED (1ull << 62)
#define E_ZERO 1ull
#define MAX_L1_BYTES (32u << 20)
#define MAX_RT_BYTES (8u << 20)
#define MAX_SNAPSHOTS 65536u
#define MAX_HOST_OFFSET (1ull << 56)

#define INCOMPAT_DIRTY 1ull
#define INCOMPAT_CORRUPT 2ull
#define INCOMPAT_KNOWN (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)

#define EXT_END 0u
#define EXT_BACKING_FORMAT 0xe2792acau

#define HDR_REFTABLE_OFFSET 48
#define HDR_INCOMPAT 72
#define HDR_AUTOCLEAR 88

struct qcache {
	uint32_t n, size;
	uint64_t *off;   /* host offset of the table in each slot; 0: empty */
	uint8_t **data;  /* tables in file byte order, allocated on first use */
	bool *dirty;
	uint64_t *lru;
	uint64_t tick;
	uint32_t *hint;  /* nhint buckets: slot + 1 of a recent table */
	uint32_t nhint;
};

struct qcow2 {
	struct block b;
	struct bfile f;
	const struct block_chain *chain;
	int version;
	uint32_t cluster_bits, cluster_size, l2_entries;
	uint32_t refcount_order, rb_entries;
	uint64_t refcount_max;
	uint64_t incompat, compat, autoclear;
	uint32_t header_length;
	uint32_t csize_shift;
	uint64_t csize_mask, coff_mask;

	uint64_t *l1;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint32_t l1_dmin, l1_dmax; /* dirty range, dmin > dmax: clean */

	uint64_t *rt;        /* refcount table, in memory, may outgrow the file's */
	uint64_t rt_size;    /* entries in memory */
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint64_t rt_dmin, rt_dmax;

	struct qcache l2c, rbc;
	uint64_t free_hint;  /* cluster index below which nothing is free */
	uint64_t alloc_end;  /* bytes: the file's end or past the last allocation */
	uint64_t *frees;     /* clusters to decrement once the tables are durable */
	size_t nfrees, frees_cap;

	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	char backing_file[1024];
	char backing_format[16];

	bool broken;         /* corruption seen: no more writes */
	uint8_t *cbuf;       /* compressed data */
	uint8_t *dbuf;       /* decompressed cluster */
	uint64_t dbuf_entry; /* L2 entry dbuf holds, or 0 */
	uint8_t *wbuf;
	size_t wbuf_size;
	uint8_t *tbuf;       /* one cluster, for table copies */
	z_stream zs;
	bool zs_ready;
};

/* ---- caches ---- */

static int cache_init(struct qcache *c, uint32_t n, uint32_t size)
{
	c->n = n;
	c->size = size;
	c->nhint = 1;
	while (c->nhint < 2 * n)
		c->nhint <<= 1;
	c->off = calloc(n, sizeof(*c->off));
	c->dirty = calloc(n, sizeof(*c->dirty));
	c->lru = calloc(n, sizeof(*c->lru));
	c->hint = calloc(c->nhint, sizeof(*c->hint));
	c->data = calloc(n, sizeof(*c->data));
	return c->off && c->dirty && c->lru && c->hint && c->data ? 0 : -ENOMEM;
}

static void cache_free(struct qcache *c)
{
	free(c->off);
	free(c->dirty);
	free(c->lru);
	free(c->hint);
	for (uint32_t i = 0; c->data && i < c->n; i++)
		free(c->data[i]);
	free(c->data);
}

static uint32_t hint_of(const struct qcache *c, uint64_t off)
{
	return (uint32_t)((off >> 9) * 0x9e3779b97f4a7c15ull >> 40) & (c->nhint - 1);
}

static int cache_find(struct qcache *c, uint64_t off)
{
	if (!off) /* the header's cluster is never a table */
		return -1;
	uint32_t h = c->hint[hint_of(c, off)];
	if (h && c->off[h - 1] == off)
		return (int)h - 1;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->off[i] == off) {
			c->hint[hint_of(c, off)] = i + 1;
			return (int)i;
		}
	return -1;
}

static uint8_t *slot_data(struct qcache *c, int slot)
{
	return c->data[slot];
}

static int write_table(struct qcow2 *s, struct qcache *c, int slot)
{
	int err = bfile_pwrite(&s->f, c->off[slot], slot_data(c, slot), c->size);
	if (!err)
		c->dirty[slot] = false;
	return err;
}

static int writeback(struct qcow2 *s, bool sync);
static int corrupt(struct qcow2 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The table at host offset off, read from the file unless fresh (then
 * zeroed). Pointers into one cache stay valid until the next cache_get on
 * that cache. */
static int cache_get(struct qcow2 *s, struct qcache *c, uint64_t off, bool fresh,
		     int *slotp)
{
	if (!off)
		return corrupt(s, "a table points at the header cluster");
	int slot = cache_find(c, off);
	if (slot < 0) {
		uint32_t v = 0;
		for (uint32_t i = 0; i < c->n; i++) {
			if (!c->off[i]) {
				v = i;
				break;
			}
			if (c->lru[i] < c->lru[v])
				v = i;
		}
		if (c->off[v] && c->dirty[v]) {
			/* an L2 table may reach the file only after the refcounts
			 * it depends on: the ordered write-back does that */
			int err = c == &s->l2c ? writeback(s, s->b.cache != BLOCK_CACHE_UNSAFE)
					       : write_table(s, c, (int)v);
			if (err)
				return err;
		}
		c->off[v] = 0;
		slot = (int)v;
		if (!c->data[slot] && !(c->data[slot] = malloc(c->size)))
			return -ENOMEM;
		if (fresh) {
			memset(slot_data(c, slot), 0, c->size);
		} else {
			int err = bfile_pread(&s->f, off, slot_data(c, slot), c->size);
			if (err)
				return err;
		}
		c->off[slot] = off;
		c->dirty[slot] = false;
		c->hint[hint_of(c, off)] = (uint32_t)slot + 1;
	} else if (fresh) {
		memset(slot_data(c, slot), 0, c->size);
	}
	c->lru[slot] = ++c->tick;
	*slotp = slot;
	return 0;
}

/* A freed cluster may come back as another table: forget its old one. */
static void cache_drop(struct qcache *c, uint64_t off)
{
	int slot = cache_find(c, off);
	if (slot >= 0) {
		c->off[slot] = 0;
		c->dirty[slot] = false;
		c->lru[slot] = 0;
	}
}

/* ---- corruption ---- */

static int corrupt(struct qcow2 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(struct qcow2 *s, const char *fmt, ...)
{
	if (s->broken) /* said once already */
		return -EIO;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	{
		log_error("%s: qcow2 metadata is corrupt (%s)%s; check it with "
			  "'pcvm img check'", s->b.name, msg,
			  s->b.readonly || s->version < 3 ? "" : "; marked corrupt");
		/* Version 3 has a bit that keeps everyone from writing it further. */
		if (!s->b.readonly && s->version >= 3) {
			uint8_t v[8];
			put_be64(v, s->incompat | INCOMPAT_CORRUPT);
			if (!bfile_pwrite(&s->f, HDR_INCOMPAT, v, 8))
				s->incompat |= INCOMPAT_CORRUPT;
			bfile_sync(&s->f);
		}
	}
	s->broken = true;
	return -EIO;
}

/* ---- refcounts ---- */

static uint64_t rb_get(const struct qcow2 *s, const uint8_t *blk, uint64_t i)
{
	switch (s->refcount_order) {
	case 0: case 1: case 2: {
		uint32_t bits = 1u << s->refcount_order;
		uint64_t bit = i * bits;
		return (uint64_t)(blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	case 3: return blk[i];
	case 4: return get_be16(blk + 2 * i);
	case 5: return get_be32(blk + 4 * i);
	default: return get_be64(blk + 8 * i);
	}
}

static void rb_set(const struct qcow2 *s, uint8_t *blk, uint64_t i, uint64_t v)
{
	switch (s->refcount_order) {
	case 0: case 1: case 2: {
		uint32_t bits = 1u << s->refcount_order;
		uint64_t bit = i * bits;
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
		blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
		break;
	}
	case 3: blk[i] = (uint8_t)v; break;
	case 4: put_be16(blk + 2 * i, (uint16_t)v); break;
	case 5: put_be32(blk + 4 * i, (uint32_t)v); break;
	default: put_be64(blk + 8 * i, v); break;
	}
}

static int rt_grow(struct qcow2 *s, uint64_t need)
{
	if (need <= s->rt_size)
		return 0;
	if (need > MAX_RT_BYTES / 8)
		return -EFBIG;
	uint64_t n = s->rt_size * 2 > need ? s->rt_size * 2 : need;
	if (n > MAX_RT_BYTES / 8)
		n = MAX_RT_BYTES / 8;
	uint64_t *rt = realloc(s->rt, n * 8);
	if (!rt)
		return -ENOMEM;
	memset(rt + s->rt_size, 0, (n - s->rt_size) * 8);
	s->rt = rt;
	s->rt_size = n;
	return 0;
}

static void rt_dirty(struct qcow2 *s, uint64_t k)
{
	if (s->rt_dmin > s->rt_dmax) {
		s->rt_dmin = s->rt_dmax = k;
	} else {
		if (k < s->rt_dmin)
			s->rt_dmin = k;
		if (k > s->rt_dmax)
			s->rt_dmax = k;
	}
}

/* The refcount block covering cluster c; *slot -1 if there is none. */
static int rb_lookup(struct qcow2 *s, uint64_t c, int *slot)
{
	uint64_t k = c / s->rb_entries;
	*slot = -1;
	if (k >= s->rt_size || !(s->rt[k] & RT_OFFSET_MASK))
		return 0;
	uint64_t off = s->rt[k] & RT_OFFSET_MASK;
	if (off & (s->cluster_size - 1) || off >= MAX_HOST_OFFSET)
		return corrupt(s, "refcount block %" PRIu64 " at unaligned offset %#" PRIx64, k, off);
	return cache_get(s, &s->rbc, off, false, slot);
}

static int refcount_get(struct qcow2 *s, uint64_t c, uint64_t *val)
{
	int slot;
	int err = rb_lookup(s, c, &slot);
	if (err)
		return err;
	*val = slot < 0 ? 0 : rb_get(s, slot_data(&s->rbc, slot), c % s->rb_entries);
	return 0;
}

static int refcount_set(struct qcow2 *s, uint64_t c, uint64_t val)
{
	int slot;
	int err = rb_lookup(s, c, &slot);
	if (err)
		return err;
	if (slot < 0)
		return corrupt(s, "no refcount block for cluster %" PRIu64, c);
	rb_set(s, slot_data(&s->rbc, slot), c % s->rb_entries, val);
	s->rbc.dirty[slot] = true;
	if (!val && c < s->free_hint)
		s->free_hint = c;
	return 0;
}

static bool in_range(uint64_t c, uint64_t off, uint64_t bytes, uint32_t cb)
{
	return bytes && c >= off >> cb && c <= (off + bytes - 1) >> cb;
}

/* Is cluster c free for allocation? Where no refcount block covers it, one
 * is made there and then, placed at c itself (counting itself), so
 * allocating never needs to recurse. */
static int cluster_free(struct qcow2 *s, uint64_t c, bool *is_free)
{
	uint64_t k = c / s->rb_entries;
	if (k >= s->rt_size || !(s->rt[k] & RT_OFFSET_MASK)) {
		int err = rt_grow(s, k + 1);
		if (err)
			return err;
		int slot;
		uint64_t off = c << s->cluster_bits;
		err = cache_get(s, &s->rbc, off, true, &slot);
		if (err)
			return err;
		rb_set(s, slot_data(&s->rbc, slot), c % s->rb_entries, 1);
		s->rbc.dirty[slot] = true;
		s->rt[k] = off;
		rt_dirty(s, k);
		if (off + s->cluster_size > s->alloc_end)
			s->alloc_end = off + s->cluster_size;
		*is_free = false;
		return 0;
	}
	if (c << s->cluster_bits >= s->alloc_end) {
		/* past everything: only leaks of a crash can be counted there,
		 * and scanning a corrupt table's claims could take forever */
		*is_free = true;
		return 0;
	}
	uint64_t v;
	int err = refcount_get(s, c, &v);
	if (err)
		return err;
	*is_free = v == 0;
	if (*is_free && (c == 0 || in_range(c, s->l1_offset, (uint64_t)s->l1_size * 8, s->cluster_bits) ||
			 in_range(c, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits, s->cluster_bits)))
		return corrupt(s, "cluster %" PRIu64 " holds metadata but has refcount 0", c);
	return 0;
}

/* n contiguous new clusters, refcount 1 each; returns the host offset. */
static int alloc_clusters(struct qcow2 *s, uint64_t n, uint64_t *offp)
{
	uint64_t c = s->free_hint, start = c, len = 0;
	bool first_gap = true;
	while (len < n) {
		if ((c + 1) << s->cluster_bits >= MAX_HOST_OFFSET)
			return -EFBIG;
		bool fr;
		int err = cluster_free(s, c, &fr);
		if (err)
			return err;
		if (fr) {
			if (!len)
				start = c;
			len++;
		} else {
			if (first_gap && !len)
				s->free_hint = c + 1;
			else
				first_gap = false;
			len = 0;
		}
		c++;
	}
	for (uint64_t i = 0; i < n; i++) {
		int err = refcount_set(s, start + i, 1);
		if (err)
			return err;
	}
	if (s->free_hint == start)
		s->free_hint = start + n;
	if ((start + n) << s->cluster_bits > s->alloc_end)
		s->alloc_end = (start + n) << s->cluster_bits;
	*offp = start << s->cluster_bits;
	return 0;
}

static int queue_free(struct qcow2 *s, uint64_t c)
{
	if (s->nfrees == s->frees_cap) {
		size_t cap = s->frees_cap ? 2 * s->frees_cap : 64;
		uint64_t *f = realloc(s->frees, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		s->frees = f;
		s->frees_cap = cap;
	}
	s->frees[s->nfrees++] = c;
	return 0;
}

/* The host clusters a compressed L2 entry's data touches. */
static void compressed_range(const struct qcow2 *s, uint64_t e, uint64_t *off, uint64_t *bytes)
{
	uint64_t coff = e & s->coff_mask;
	uint64_t nsec = ((e >> s->csize_shift) & s->csize_mask) + 1;
	*off = coff & ~511ull;
	*bytes = nsec * 512;
}

/* Drops the reference an L2 entry held, once the tables are durable. */
static int release_entry(struct qcow2 *s, uint64_t e)
{
	if (e & E_COMPRESSED) {
		uint64_t off, bytes;
		compressed_range(s, e, &off, &bytes);
		for (uint64_t c = off >> s->cluster_bits; c <= (off + bytes - 1) >> s->cluster_bits; c++) {
			int err = queue_free(s, c);
			if (err)
				return err;
		}
		return 0;
	}
	if (e & OFFSET_MASK)
		return queue_free(s, (e & OFFSET_MASK) >> s->cluster_bits);
	return 0;
}

/* ---- write-back ---- */

static int maybe_sync(struct qcow2 *s, bool sync)
{
	return sync ? bfile_sync(&s->f) : 0;
}

static int write_dirty(struct qcow2 *s, struct qcache *c, bool *wrote)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->off[i] && c->dirty[i]) {
			int err = write_table(s, c, (int)i);
			if (err)
				return err;
			*wrote = true;
		}
	return 0;
}

static int write_rt_range(struct qcow2 *s, uint64_t off, uint64_t first, uint64_t count)
{
	/* whole 512-byte sectors, built from the in-memory table */
	uint64_t a = first / 64 * 64, e = (first + count + 63) / 64 * 64;
	uint64_t cap = (uint64_t)s->rt_clusters * s->cluster_size / 8;
	if (off != s->rt_offset)
		cap = e;
	if (e > cap)
		e = cap;
	uint8_t *buf = malloc((size_t)(e - a) * 8);
	if (!buf)
		return -ENOMEM;
	for (uint64_t i = a; i < e; i++)
		put_be64(buf + (i - a) * 8, i < s->rt_size ? s->rt[i] : 0);
	int err = bfile_pwrite(&s->f, off + a * 8, buf, (size_t)(e - a) * 8);
	free(buf);
	return err;
}

/* The refcount table outgrew its clusters: write a bigger copy elsewhere,
 * switch the header to it, and free the old one afterwards. */
static int relocate_rt(struct qcow2 *s, bool sync)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t want = s->rt_size * 2 + 64;
		uint64_t clusters = (want * 8 + s->cluster_size - 1) >> s->cluster_bits;
		if (clusters * s->cluster_size > MAX_RT_BYTES)
			clusters = MAX_RT_BYTES >> s->cluster_bits;
		uint64_t off;
		int err = alloc_clusters(s, clusters, &off);
		if (err)
			return err;
		if (s->rt_size > clusters * s->cluster_size / 8) {
			for (uint64_t i = 0; i < clusters; i++) /* never published */
				refcount_set(s, (off >> s->cluster_bits) + i, 0);
			continue;
		}
		bool wrote = false;
		err = write_dirty(s, &s->rbc, &wrote);
		if (!err)
			err = maybe_sync(s, sync);
		if (!err) {
			uint64_t old_off = s->rt_offset, old_clusters = s->rt_clusters;
			s->rt_offset = off;
			s->rt_clusters = (uint32_t)clusters;
			err = write_rt_range(s, off, 0, clusters * s->cluster_size / 8);
			if (!err)
				err = maybe_sync(s, sync);
			uint8_t h[12];
			put_be64(h, off);
			put_be32(h + 8, (uint32_t)clusters);
			if (!err)
				err = bfile_pwrite(&s->f, HDR_REFTABLE_OFFSET, h, 12);
			if (!err)
				err = maybe_sync(s, sync);
			if (err) {
				s->rt_offset = old_off;
				s->rt_clusters = (uint32_t)old_clusters;
				return err;
			}
			for (uint64_t i = 0; i < old_clusters; i++) {
				err = queue_free(s, (old_off >> s->cluster_bits) + i);
				if (err)
					return err;
			}
			s->rt_dmin = 1;
			s->rt_dmax = 0;
		}
		return err;
	}
	return -EFBIG;
}

static int write_l1(struct qcow2 *s)
{
	uint32_t a = s->l1_dmin / 64 * 64, e = (s->l1_dmax / 64 + 1) * 64;
	/* the L1 table owns whole clusters, so whole sectors stay inside it */
	uint8_t *buf = malloc((size_t)(e - a) * 8);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = a; i < e; i++)
		put_be64(buf + (size_t)(i - a) * 8, i < s->l1_size ? s->l1[i] : 0);
	int err = bfile_pwrite(&s->f, s->l1_offset + (uint64_t)a * 8, buf, (size_t)(e - a) * 8);
	free(buf);
	if (!err) {
		s->l1_dmin = 1;
		s->l1_dmax = 0;
	}
	return err;
}

static int writeback(struct qcow2 *s, bool sync)
{
	bool wrote = false;
	int err;
	/* 1: refcounts up (new clusters are counted before anything uses them) */
	if ((err = write_dirty(s, &s->rbc, &wrote)))
		return err;
	if (s->rt_size > (uint64_t)s->rt_clusters * s->cluster_size / 8) {
		if ((err = relocate_rt(s, sync)))
			return err;
		wrote = true;
	} else if (s->rt_dmin <= s->rt_dmax) {
		if ((err = maybe_sync(s, sync)) ||
		    (err = write_rt_range(s, s->rt_offset, s->rt_dmin, s->rt_dmax - s->rt_dmin + 1)))
			return err;
		s->rt_dmin = 1;
		s->rt_dmax = 0;
		wrote = true;
	}
	bool tables = s->l1_dmin <= s->l1_dmax;
	for (uint32_t i = 0; i < s->l2c.n && !tables; i++)
		tables = s->l2c.off[i] && s->l2c.dirty[i];
	if (tables) {
		/* 2: L2 tables, 3: the L1 entries that point to new ones */
		if ((wrote && (err = maybe_sync(s, sync))) ||
		    (err = write_dirty(s, &s->l2c, &wrote)))
			return err;
		if (s->l1_dmin <= s->l1_dmax &&
		    ((err = maybe_sync(s, sync)) || (err = write_l1(s))))
			return err;
		wrote = true;
	}
	/* 4: what nothing references any more may now be counted free */
	if (s->nfrees) {
		if ((err = maybe_sync(s, sync)))
			return err;
		for (size_t i = 0; i < s->nfrees; i++) {
			uint64_t v;
			if ((err = refcount_get(s, s->frees[i], &v)))
				return err;
			if (v && (err = refcount_set(s, s->frees[i], v - 1)))
				return err;
			if (v == 1) {
				cache_drop(&s->l2c, s->frees[i] << s->cluster_bits);
				cache_drop(&s->rbc, s->frees[i] << s->cluster_bits);
			}
		}
		s->nfrees = 0;
		if ((err = write_dirty(s, &s->rbc, &wrote)))
			return err;
	}
	return wrote ? maybe_sync(s, sync) : 0;
}

static int q_flush(struct block *b, bool sync)
{
	struct qcow2 *s = (struct qcow2 *)b;
	int err = writeback(s, sync);
	if (!err && sync)
		err = bfile_sync(&s->f);
	return err;
}

/* ---- reading ---- */

static int check_l2_offset(struct qcow2 *s, uint64_t l1i, uint64_t *off)
{
	*off = s->l1[l1i] & OFFSET_MASK;
	if (*off & (s->cluster_size - 1))
		return corrupt(s, "L1 entry %" PRIu64 " points to unaligned offset %#" PRIx64, l1i, *off);
	return 0;
}

static int decompress(struct qcow2 *s, uint64_t e)
{
	if (s->dbuf_entry == e)
		return 0;
	uint64_t coff = e & s->coff_mask;
	uint64_t nsec = ((e >> s->csize_shift) & s->csize_mask) + 1;
	size_t clen = (size_t)(nsec * 512 - (coff & 511));
	if (!s->cbuf && !(s->cbuf = malloc(2 * (size_t)s->cluster_size + 512)))
		return -ENOMEM;
	if (!s->dbuf && !(s->dbuf = malloc(s->cluster_size)))
		return -ENOMEM;
	int err = bfile_pread(&s->f, coff, s->cbuf, clen);
	if (err)
		return err;
	if (!s->zs_ready) {
		if (inflateInit2(&s->zs, -15) != Z_OK)
			return -ENOMEM;
		s->zs_ready = true;
	} else if (inflateReset(&s->zs) != Z_OK) {
		return -EIO;
	}
	s->zs.next_in = s->cbuf;
	s->zs.avail_in = (uInt)clen;
	s->zs.next_out = s->dbuf;
	s->zs.avail_out = s->cluster_size;
	int ret = inflate(&s->zs, Z_FINISH);
	/* the data is followed by the rest of its last sector: a stream that
	 * filled the cluster is complete even if zlib wants more input */
	if (!((ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK) && s->zs.avail_out == 0)) {
		s->dbuf_entry = 0;
		return corrupt(s, "compressed cluster at %#" PRIx64 " does not inflate", coff);
	}
	s->dbuf_entry = e;
	return 0;
}

enum ekind { K_UNALLOC, K_ZERO, K_COMPRESSED, K_NORMAL };

static enum ekind kind_of(uint64_t e)
{
	if (e & E_COMPRESSED)
		return K_COMPRESSED;
	if (e & E_ZERO)
		return K_ZERO;
	return e & OFFSET_MASK ? K_NORMAL : K_UNALLOC;
}

/* Reads what guest cluster-aligned range [gofs, gofs+n) holds according
 * to L2 entry e (n within one cluster). */
static int read_entry(struct qcow2 *s, uint64_t e, uint64_t gofs, uint8_t *p, size_t n)
{
	switch (kind_of(e)) {
	case K_UNALLOC:
		return block_read_backing(s->b.backing, gofs, p, n);
	case K_ZERO:
		memset(p, 0, n);
		return 0;
	case K_COMPRESSED: {
		int err = decompress(s, e);
		if (!err)
			memcpy(p, s->dbuf + (gofs & (s->cluster_size - 1)), n);
		return err;
	}
	default: {
		uint64_t host = e & OFFSET_MASK;
		if (host & (s->cluster_size - 1))
			return corrupt(s, "L2 entry points to unaligned offset %#" PRIx64, host);
		return bfile_pread(&s->f, host + (gofs & (s->cluster_size - 1)), p, n);
	}
	}
}

static int q_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	struct qcow2 *s = (struct qcow2 *)b;
	uint8_t *p = buf;
	uint32_t cb = s->cluster_bits, cs = s->cluster_size;
	while (len) {
		uint64_t gc = offset >> cb;
		uint64_t l1i = gc / s->l2_entries;
		uint32_t l2i = (uint32_t)(gc % s->l2_entries);
		uint64_t in = offset & (cs - 1);
		size_t n = cs - in < len ? (size_t)(cs - in) : len;
		uint64_t l2off;
		int err = check_l2_offset(s, l1i, &l2off);
		if (err)
			return err;
		if (!l2off) {
			/* the whole L2 range is unallocated */
			uint64_t end = (l1i + 1) * s->l2_entries << cb;
			n = end - offset < len ? (size_t)(end - offset) : len;
			if ((err = block_read_backing(s->b.backing, offset, p, n)))
				return err;
		} else {
			int slot;
			if ((err = cache_get(s, &s->l2c, l2off, false, &slot)))
				return err;
			const uint8_t *l2 = slot_data(&s->l2c, slot);
			uint64_t e = get_be64(l2 + 8 * l2i);
			enum ekind k = kind_of(e);
			if (k != K_COMPRESSED) {
				/* extend over following entries of the same kind and,
				 * for data, contiguous in the file */
				uint64_t next = (e & OFFSET_MASK) + cs;
				while (n < len && l2i + 1 < s->l2_entries) {
					uint64_t f = get_be64(l2 + 8 * (l2i + 1));
					if (kind_of(f) != k || (k == K_NORMAL && (f & OFFSET_MASK) != next))
						break;
					l2i++;
					next += cs;
					n += cs < len - n ? cs : len - n;
				}
			}
			if (k == K_NORMAL) {
				uint64_t host = e & OFFSET_MASK;
				if (host & (cs - 1))
					return corrupt(s, "L2 entry points to unaligned offset %#" PRIx64, host);
				err = bfile_pread(&s->f, host + in, p, n);
			} else if (k == K_COMPRESSED) {
				err = read_entry(s, e, offset, p, n);
			} else if (k == K_ZERO) {
				memset(p, 0, n);
			} else {
				err = block_read_backing(s->b.backing, offset, p, n);
			}
			if (err)
				return err;
		}
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

/* ---- writing ---- */

static int start_writing(struct qcow2 *s)
{
	if (s->broken)
		return -EIO;
	if (s->autoclear) {
		/* features we do not maintain (e.g. dirty bitmaps) must be
		 * marked stale before the first change */
		uint8_t z[8] = {0};
		int err = bfile_pwrite(&s->f, HDR_AUTOCLEAR, z, 8);
		if (!err)
			err = bfile_sync(&s->f);
		if (err)
			return err;
		s->autoclear = 0;
	}
	return 0;
}

static void l1_set(struct qcow2 *s, uint64_t l1i, uint64_t v)
{
	s->l1[l1i] = v;
	if (s->l1_dmin > s->l1_dmax) {
		s->l1_dmin = s->l1_dmax = (uint32_t)l1i;
	} else {
		if (l1i < s->l1_dmin)
			s->l1_dmin = (uint32_t)l1i;
		if (l1i > s->l1_dmax)
			s->l1_dmax = (uint32_t)l1i;
	}
}

/* The L2 table for l1i, made private to the active image (allocated, or
 * copied away from a snapshot sharing it). */
static int l2_writable(struct qcow2 *s, uint64_t l1i, int *slotp)
{
	uint64_t l2off;
	int err = check_l2_offset(s, l1i, &l2off);
	if (err)
		return err;
	if (l2off && (s->l1[l1i] & E_COPIED)) {
		if (l2off >= s->alloc_end)
			return corrupt(s, "L1 entry %" PRIu64 " points past the end of the file", l1i);
		return cache_get(s, &s->l2c, l2off, false, slotp);
	}
	if (!s->tbuf && !(s->tbuf = malloc(s->cluster_size)))
		return -ENOMEM;
	if (l2off) {
		int slot;
		if ((err = cache_get(s, &s->l2c, l2off, false, &slot)))
			return err;
		memcpy(s->tbuf, slot_data(&s->l2c, slot), s->cluster_size);
	}
	uint64_t noff;
	if ((err = alloc_clusters(s, 1, &noff)))
		return err;
	if ((err = cache_get(s, &s->l2c, noff, true, slotp)))
		return err;
	if (l2off) {
		memcpy(slot_data(&s->l2c, *slotp), s->tbuf, s->cluster_size);
		if ((err = queue_free(s, l2off >> s->cluster_bits)))
			return err;
	}
	s->l2c.dirty[*slotp] = true;
	l1_set(s, l1i, noff | E_COPIED);
	return 0;
}

static bool in_place(uint64_t e)
{
	return (e & E_COPIED) && kind_of(e) == K_NORMAL;
}

static int q_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	struct qcow2 *s = (struct qcow2 *)b;
	const uint8_t *p = buf;
	uint32_t cb = s->cluster_bits, cs = s->cluster_size;
	int err = start_writing(s);
	if (err)
		return err;
	s->dbuf_entry = 0;
	while (len) {
		uint64_t gc = offset >> cb;
		uint64_t l1i = gc / s->l2_entries;
		uint32_t l2i = (uint32_t)(gc % s->l2_entries);
		uint64_t in = offset & (cs - 1);
		int slot;
		if ((err = l2_writable(s, l1i, &slot)))
			return err;
		uint8_t *l2 = slot_data(&s->l2c, slot);
		uint64_t e = get_be64(l2 + 8 * l2i);
		size_t n = cs - in < len ? (size_t)(cs - in) : len;
		if (in_place(e)) {
			uint64_t host = e & OFFSET_MASK, next = host + cs;
			if (host & (cs - 1))
				return corrupt(s, "L2 entry points to unaligned offset %#" PRIx64, host);
			if (host >= s->alloc_end) /* nothing valid lies there */
				return corrupt(s, "L2 entry points past the end of the file (%#" PRIx64 ")", host);
			while (n < len && l2i + 1 < s->l2_entries) {
				uint64_t f = get_be64(l2 + 8 * (l2i + 1));
				if (!in_place(f) || (f & OFFSET_MASK) != next)
					break;
				l2i++;
				next += cs;
				n += cs < len - n ? cs : len - n;
			}
			if ((err = bfile_pwrite(&s->f, host + in, p, n)))
				return err;
		} else {
			/* a run of clusters that all need new space */
			uint32_t m = 1;
			uint32_t maxm = (2u << 20) >> cb ? (2u << 20) >> cb : 1;
			while (n < len && l2i + m < s->l2_entries && m < maxm &&
			       !in_place(get_be64(l2 + 8 * (l2i + m)))) {
				n += cs < len - n ? cs : len - n;
				m++;
			}
			size_t need = (size_t)m << cb;
			if (need > s->wbuf_size) {
				uint8_t *w = realloc(s->wbuf, need);
				if (!w)
					return -ENOMEM;
				s->wbuf = w;
				s->wbuf_size = need;
			}
			uint64_t cstart = gc << cb;
			if (in) /* keep the head of the first cluster */
				err = read_entry(s, e, cstart, s->wbuf, in);
			uint64_t tail = in + n;
			if (!err && tail < need) {
				uint64_t le = get_be64(l2 + 8 * (l2i + m - 1));
				err = read_entry(s, le, cstart + tail, s->wbuf + tail, need - tail);
			}
			if (err)
				return err;
			memcpy(s->wbuf + in, p, n);
			uint64_t noff;
			if ((err = alloc_clusters(s, m, &noff)) ||
			    (err = bfile_pwrite(&s->f, noff, s->wbuf, need)))
				return err;
			for (uint32_t i = 0; i < m; i++) {
				uint64_t old = get_be64(l2 + 8 * (l2i + i));
				put_be64(l2 + 8 * (l2i + i), (noff + ((uint64_t)i << cb)) | E_COPIED);
				if ((err = release_entry(s, old)))
					return err;
			}
			s->l2c.dirty[slot] = true;
		}
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

/* ---- status for convert ---- */

static int q_status(struct block *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct qcow2 *s = (struct qcow2 *)b;
	uint32_t cb = s->cluster_bits, cs = s->cluster_size;
	uint64_t gc = offset >> cb;
	uint64_t l1i = gc / s->l2_entries;
	uint32_t l2i = (uint32_t)(gc % s->l2_entries);
	uint64_t l2off;
	int err = check_l2_offset(s, l1i, &l2off);
	if (err)
		return err;
	enum ekind k = K_UNALLOC;
	uint64_t n;
	if (!l2off) {
		n = ((l1i + 1) * s->l2_entries << cb) - offset;
	} else {
		int slot;
		if ((err = cache_get(s, &s->l2c, l2off, false, &slot)))
			return err;
		const uint8_t *l2 = slot_data(&s->l2c, slot);
		k = kind_of(get_be64(l2 + 8 * l2i));
		n = cs - (offset & (cs - 1));
		while (n < len && l2i + 1 < s->l2_entries &&
		       kind_of(get_be64(l2 + 8 * (l2i + 1))) == k) {
			l2i++;
			n += cs;
		}
	}
	if (n > len)
		n = len;
	*run = n;
	if (k == K_ZERO)
		return BLOCK_ZERO;
	if (k != K_UNALLOC)
		return BLOCK_DATA;
	struct block *bk = s->b.backing;
	if (!bk || offset >= bk->size)
		return BLOCK_ZERO;
	if (n > bk->size - offset)
		*run = n = bk->size - offset;
	if (!bk->drv->status)
		return BLOCK_DATA;
	return bk->drv->status(bk, offset, n, run);
}

/* ---- check ---- */

struct checker {
	struct qcow2 *s;
	uint32_t *refs;
	uint64_t nclusters;  /* clusters in the file */
	struct block_check *res;
	FILE *out;
	uint64_t budget;     /* L2 tables left to read: corrupt tables can
			      * make a walk endless */
};

static void report(struct checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct checker *k, const char *fmt, ...)
{
	if (!k->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(k->out, fmt, ap);
	va_end(ap);
	fputc('\n', k->out);
}

static void count_range(struct checker *k, uint64_t off, uint64_t bytes, const char *what)
{
	if (!bytes)
		return;
	for (uint64_t c = off >> k->s->cluster_bits; c <= (off + bytes - 1) >> k->s->cluster_bits; c++) {
		if (c >= k->nclusters) {
			report(k, "ERROR %s at %#" PRIx64 " is past the end of the file", what, off);
			k->res->corruptions++;
			return;
		}
		if (k->refs[c] < UINT32_MAX)
			k->refs[c]++;
	}
}

static bool aligned_ok(struct checker *k, uint64_t off, const char *what)
{
	if (off & (k->s->cluster_size - 1)) {
		report(k, "ERROR %s at unaligned offset %#" PRIx64, what, off);
		k->res->corruptions++;
		return false;
	}
	return true;
}

/* Counts the references of one L1 table (active or a snapshot's). */
static int check_l1(struct checker *k, const uint64_t *l1, uint64_t l1_size, bool active)
{
	struct qcow2 *s = k->s;
	uint8_t *l2 = malloc(s->cluster_size);
	if (!l2)
		return -ENOMEM;
	for (uint64_t i = 0; i < l1_size; i++) {
		uint64_t l2off = l1[i] & OFFSET_MASK;
		if (!l2off || !aligned_ok(k, l2off, "L2 table"))
			continue;
		count_range(k, l2off, s->cluster_size, "L2 table");
		if ((l2off >> s->cluster_bits) >= k->nclusters)
			continue;
		if (active) {
			uint64_t rc;
			if (!refcount_get(s, l2off >> s->cluster_bits, &rc) &&
			    ((rc == 1) != !!(l1[i] & E_COPIED))) {
				report(k, "ERROR OFLAG_COPIED L2 cluster: l1_index=%" PRIu64
				       " l1_entry=%" PRIx64 " refcount=%" PRIu64, i, l1[i], rc);
				k->res->corruptions++;
			}
		}
		if (!k->budget) {
			report(k, "ERROR the L1 tables reference more L2 tables than the "
			       "file could hold; stopped walking them");
			k->res->corruptions++;
			break;
		}
		k->budget--;
		if (bfile_pread(&s->f, l2off, l2, s->cluster_size)) {
			k->res->check_errors++;
			continue;
		}
		for (uint32_t j = 0; j < s->l2_entries; j++) {
			uint64_t e = get_be64(l2 + 8 * j);
			if (e & E_COMPRESSED) {
				uint64_t off, bytes;
				compressed_range(s, e, &off, &bytes);
				count_range(k, off, bytes, "compressed cluster");
				continue;
			}
			if ((e & E_ZERO) && s->version < 3) {
				report(k, "ERROR zero cluster in a version 2 image (L2 entry %" PRIx64 ")", e);
				k->res->corruptions++;
			}
			uint64_t off = e & OFFSET_MASK;
			if (!off || !aligned_ok(k, off, "data cluster"))
				continue;
			count_range(k, off, s->cluster_size, "data cluster");
			if (active && (off >> s->cluster_bits) < k->nclusters) {
				uint64_t rc;
				if (!refcount_get(s, off >> s->cluster_bits, &rc) &&
				    ((rc == 1) != !!(e & E_COPIED))) {
					report(k, "ERROR OFLAG_COPIED data cluster: l2_entry=%" PRIx64
					       " refcount=%" PRIu64, e, rc);
					k->res->corruptions++;
				}
			}
		}
	}
	free(l2);
	return 0;
}

/* Walks the snapshot table: its own clusters, and each snapshot's L1. */
static int check_snapshots(struct checker *k)
{
	struct qcow2 *s = k->s;
	uint64_t pos = s->snapshots_offset, fsize = k->nclusters << s->cluster_bits;
	for (uint32_t i = 0; i < s->nb_snapshots; i++) {
		uint8_t h[40];
		if (pos + 40 > fsize || bfile_pread(&s->f, pos, h, 40)) {
			report(k, "ERROR snapshot table entry %u is past the end of the file", i);
			k->res->corruptions++;
			return 0;
		}
		uint64_t l1off = get_be64(h);
		uint32_t l1n = get_be32(h + 8);
		uint64_t len = 40 + get_be32(h + 36) + get_be16(h + 12) + get_be16(h + 14);
		len = (len + 7) & ~7ull;
		count_range(k, pos, len, "snapshot table");
		pos += len;
		if ((uint64_t)l1n * 8 > MAX_L1_BYTES || !aligned_ok(k, l1off, "snapshot L1 table")) {
			k->res->corruptions++;
			continue;
		}
		count_range(k, l1off, (uint64_t)l1n * 8, "snapshot L1 table");
		uint64_t *l1 = malloc((size_t)l1n * 8 + 8);
		if (!l1)
			return -ENOMEM;
		if (bfile_pread(&s->f, l1off, l1, (size_t)l1n * 8)) {
			k->res->check_errors++;
		} else {
			for (uint32_t j = 0; j < l1n; j++)
				l1[j] = get_be64(&l1[j]);
			check_l1(k, l1, l1n, false);
		}
		free(l1);
	}
	return 0;
}

static int q_check(struct block *b, struct block_check *res, bool repair, FILE *out)
{
	struct qcow2 *s = (struct qcow2 *)b;
	uint64_t fsize;
	int err = bfile_size(&s->f, &fsize);
	if (err)
		return err;
	struct checker k = { .s = s, .res = res, .out = out };
	k.nclusters = (fsize + s->cluster_size - 1) >> s->cluster_bits;
	k.budget = (s->nb_snapshots + 1ull) * (k.nclusters + 16);
	if (k.nclusters > (1ull << 28))
		return -EFBIG;
	k.refs = calloc(k.nclusters + 1, sizeof(*k.refs));
	if (!k.refs)
		return -ENOMEM;
	count_range(&k, 0, s->cluster_size, "header");
	count_range(&k, s->l1_offset, (uint64_t)s->l1_size * 8, "L1 table");
	count_range(&k, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits, "refcount table");
	for (uint64_t i = 0; i < s->rt_size; i++) {
		uint64_t off = s->rt[i] & RT_OFFSET_MASK;
		if (off && aligned_ok(&k, off, "refcount block"))
			count_range(&k, off, s->cluster_size, "refcount block");
	}
	if ((err = check_snapshots(&k)) || (err = check_l1(&k, s->l1, s->l1_size, true))) {
		free(k.refs);
		return err;
	}
	/* every cluster of the file, then whatever refcount blocks say about
	 * clusters past its end (crash leaks, or corruption) */
	uint64_t last = k.nclusters, blocks_past = 0;
	for (uint64_t i = 0; i < s->rt_size; i++)
		if (s->rt[i] & RT_OFFSET_MASK && (i + 1) * s->rb_entries > last)
			last = (i + 1) * s->rb_entries;
	for (uint64_t c = 0; c < last; c++) {
		uint64_t rc;
		if (c >= k.nclusters) {
			uint64_t i = c / s->rb_entries;
			if (c % s->rb_entries == 0 || c == k.nclusters) {
				if (i >= s->rt_size || !(s->rt[i] & RT_OFFSET_MASK)) {
					c = (i + 1) * s->rb_entries - 1;
					continue;
				}
				if (++blocks_past > 8) {
					report(&k, "ERROR refcount blocks describe too many clusters "
					       "past the end of the file; stopped there");
					res->corruptions++;
					break;
				}
			}
			int slot;
			if (rb_lookup(s, c, &slot) || slot < 0) {
				res->check_errors++;
				c = (i + 1) * s->rb_entries - 1;
				continue;
			}
			if (c % s->rb_entries == 0 &&
			    block_all_zero(slot_data(&s->rbc, slot), s->cluster_size)) {
				c = (i + 1) * s->rb_entries - 1;
				continue;
			}
			rc = rb_get(s, slot_data(&s->rbc, slot), c % s->rb_entries);
			if (!rc)
				continue;
		} else if (refcount_get(s, c, &rc)) {
			res->check_errors++;
			continue;
		}
		uint64_t ref = c < k.nclusters ? k.refs[c] : 0;
		if (rc == ref)
			continue;
		bool leak = rc > ref;
		report(&k, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
		       leak ? "Leaked" : "ERROR", c, rc, ref);
		if (leak)
			res->leaks++;
		else
			res->corruptions++;
		int slot = -1;
		if (repair && ref <= s->refcount_max && !rb_lookup(s, c, &slot) && slot >= 0) {
			/* only where a refcount block exists: making new ones
			 * would need the allocator this check distrusts */
			rb_set(s, slot_data(&s->rbc, slot), c % s->rb_entries, ref);
			s->rbc.dirty[slot] = true;
			res->repaired++;
			if (leak)
				res->leaks--;
			else
				res->corruptions--;
		}
	}
	free(k.refs);
	if (repair && res->repaired) {
		err = writeback(s, true);
		if (!err)
			report(&k, "Repaired %" PRIu64 " refcount(s)", res->repaired);
	}
	return err;
}

/* ---- info, close ---- */

static int q_info(struct block *b, struct block_info *info)
{
	struct qcow2 *s = (struct qcow2 *)b;
	info->disk_usage = bfile_usage(&s->f);
	info->cluster_size = s->cluster_size;
	info->version = s->version;
	info->dirty = s->incompat & INCOMPAT_DIRTY;
	info->corrupt = s->incompat & INCOMPAT_CORRUPT;
	info->snapshots = (int)s->nb_snapshots;
	snprintf(info->backing_file, sizeof(info->backing_file), "%s", s->backing_file);
	snprintf(info->backing_format, sizeof(info->backing_format), "%s", s->backing_format);
	return 0;
}

static void q_free(struct qcow2 *s)
{
	cache_free(&s->l2c);
	cache_free(&s->rbc);
	free(s->l1);
	free(s->rt);
	free(s->frees);
	free(s->cbuf);
	free(s->dbuf);
	free(s->wbuf);
	free(s->tbuf);
	if (s->zs_ready)
		inflateEnd(&s->zs);
	free(s->b.name);
	free(s);
}

static void q_close(struct block *b)
{
	struct qcow2 *s = (struct qcow2 *)b;
	bfile_close(&s->f);
	q_free(s);
}

static const struct block_driver qcow2_driver = {
	.name = "qcow2",
	.read = q_read,
	.write = q_write,
	.flush = q_flush,
	.close = q_close,
	.info = q_info,
	.check = q_check,
	.status = q_status,
};

/* ---- open ---- */

bool qcow2_probe(const uint8_t *head, size_t len)
{
	return head && len >= 4 && get_be32(head) == QCOW2_MAGIC;
}

static const char *incompat_name(int bit)
{
	switch (bit) {
	case 2: return "external data file";
	case 3: return "zstd compression";
	case 4: return "extended L2 entries";
	default: return NULL;
	}
}

/* Header extensions: the backing file's format is the one we use. */
static int parse_extensions(struct qcow2 *s, const uint8_t *hdr, uint64_t end,
			    const char *path, const struct block_chain *chain)
{
	uint64_t pos = s->header_length;
	while (pos + 8 <= end) {
		uint32_t type = get_be32(hdr + pos), len = get_be32(hdr + pos + 4);
		pos += 8;
		if (type == EXT_END)
			return 0;
		if (len > end - pos) {
			block_err(chain, path, "qcow2 header extension %#x runs past the "
				  "header cluster; the image is corrupt", type);
			return -EINVAL;
		}
		if (type == EXT_BACKING_FORMAT) {
			if (len >= sizeof(s->backing_format)) {
				block_err(chain, path, "qcow2 backing format name is too long");
				return -EINVAL;
			}
			memcpy(s->backing_format, hdr + pos, len);
			s->backing_format[len] = 0;
		}
		pos += (len + 7) & ~7u;
	}
	return 0;
}

#define BAD(...) do { block_err(chain, path, __VA_ARGS__); goto fail; } while (0)

int qcow2_open(struct block **out, const char *path, struct bfile *f, bool readonly,
	       enum block_cache cache, const struct block_chain *chain)
{
	uint64_t fsize;
	int err = bfile_size(f, &fsize);
	if (err)
		return err;
	struct qcow2 *s = calloc(1, sizeof(*s));
	uint8_t *hdr = NULL;
	if (!s)
		return -ENOMEM;
	s->f.fd = -1;
	s->f.dfd = -1;
	uint8_t h[112] = {0};
	if ((err = bfile_pread(f, 0, h, sizeof(h))))
		BAD("cannot read the qcow2 header: %s", strerror(-err));
	s->version = (int)get_be32(h + 4);
	if (s->version != 2 && s->version != 3)
		BAD("qcow2 version %d is not supported (2 and 3 are); convert it "
		    "with a tool that reads it", s->version);
	s->header_length = s->version == 2 ? 72 : get_be32(h + 100);
	if (fsize < (s->version == 2 ? 72u : 104u))
		BAD("truncated qcow2 header (%" PRIu64 " bytes)", fsize);
	s->cluster_bits = get_be32(h + 20);
	if (s->cluster_bits < 9 || s->cluster_bits > 21)
		BAD("qcow2 cluster size 2^%u is out of range (2^9 to 2^21)", s->cluster_bits);
	s->cluster_size = 1u << s->cluster_bits;
	s->l2_entries = s->cluster_size / 8;
	if (s->version == 3) {
		if (s->header_length < 104 || s->header_length > s->cluster_size || s->header_length % 8)
			BAD("qcow2 header length %u is invalid", s->header_length);
		s->incompat = get_be64(h + 72);
		s->compat = get_be64(h + 80);
		s->autoclear = get_be64(h + 88);
		s->refcount_order = get_be32(h + 96);
		if (s->refcount_order > 6)
			BAD("qcow2 refcount width 2^%u bits is invalid (at most 64)", s->refcount_order);
		for (int bit = 0; bit < 64; bit++) {
			if (!(s->incompat >> bit & 1) || (INCOMPAT_KNOWN >> bit & 1))
				continue;
			const char *name = incompat_name(bit);
			if (name)
				BAD("uses qcow2 feature '%s', which pcvm does not support; "
				    "convert it to a plain qcow2 or raw image", name);
			BAD("uses unknown incompatible qcow2 feature bit %d", bit);
		}
	} else {
		s->refcount_order = 4;
	}
	s->refcount_max = s->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << s->refcount_order)) - 1;
	s->rb_entries = (uint32_t)((uint64_t)s->cluster_size * 8 >> s->refcount_order);
	if (get_be32(h + 32))
		BAD("is an encrypted qcow2 image, which pcvm does not support");
	uint64_t size = get_be64(h + 24);
	if (size > (1ull << 60) || size % BLOCK_SECTOR)
		BAD("qcow2 virtual size %" PRIu64 " is impossible", size);
	s->l1_size = get_be32(h + 36);
	s->l1_offset = get_be64(h + 40);
	uint64_t per_l2 = (uint64_t)s->l2_entries << s->cluster_bits;
	uint64_t l1_need = (size + per_l2 - 1) / per_l2;
	if ((uint64_t)s->l1_size * 8 > MAX_L1_BYTES)
		BAD("qcow2 L1 table of %u entries is too large", s->l1_size);
	if (s->l1_size < l1_need)
		BAD("qcow2 L1 table (%u entries) is too small for the disk size", s->l1_size);
	if (s->l1_offset & (s->cluster_size - 1) || (s->l1_size && !s->l1_offset))
		BAD("qcow2 L1 table offset %#" PRIx64 " is invalid", s->l1_offset);
	if (s->l1_offset > fsize || (uint64_t)s->l1_size * 8 > fsize - s->l1_offset)
		BAD("qcow2 L1 table at %#" PRIx64 " lies past the end of the file", s->l1_offset);
	s->rt_offset = get_be64(h + 48);
	s->rt_clusters = get_be32(h + 56);
	if (!s->rt_clusters || (uint64_t)s->rt_clusters << s->cluster_bits > MAX_RT_BYTES ||
	    s->rt_offset & (s->cluster_size - 1) || !s->rt_offset)
		BAD("qcow2 refcount table (%u clusters at %#" PRIx64 ") is invalid",
		    s->rt_clusters, s->rt_offset);
	if (s->rt_offset >= fsize || ((uint64_t)s->rt_clusters << s->cluster_bits) > fsize - s->rt_offset)
		BAD("qcow2 refcount table at %#" PRIx64 " lies past the end of the file", s->rt_offset);
	s->nb_snapshots = get_be32(h + 60);
	s->snapshots_offset = get_be64(h + 64);
	if (s->nb_snapshots > MAX_SNAPSHOTS)
		BAD("qcow2 snapshot count %u is impossible", s->nb_snapshots);
	if (s->nb_snapshots && (s->snapshots_offset & 7 || s->snapshots_offset >= fsize))
		BAD("qcow2 snapshot table at %#" PRIx64 " lies outside the file", s->snapshots_offset);
	if (!readonly && (s->incompat & INCOMPAT_CORRUPT))
		BAD("is marked corrupt; open it read-only (readonly=on or snapshot=on) "
		    "and copy the data out with 'pcvm img convert'");
	if (!readonly && (s->incompat & INCOMPAT_DIRTY))
		BAD("was not closed cleanly (dirty, lazy refcounts); open it read-only "
		    "(readonly=on or snapshot=on), or repair it with 'qemu-img check -r all'");

	/* header cluster: extensions and the backing file name */
	uint64_t hlen = s->cluster_size < fsize ? s->cluster_size : fsize;
	hdr = malloc(s->cluster_size);
	if (!hdr || (err = bfile_pread(f, 0, hdr, (size_t)hlen)))
		BAD("cannot read the qcow2 header cluster");
	if ((err = parse_extensions(s, hdr, hlen, path, chain)))
		goto fail;
	uint64_t bofs = get_be64(h + 8);
	uint32_t blen = get_be32(h + 16);
	if (bofs) {
		if (!blen || blen >= sizeof(s->backing_file) || bofs > hlen || blen > hlen - bofs)
			BAD("qcow2 backing file name (%u bytes at %#" PRIx64 ") is invalid", blen, bofs);
		memcpy(s->backing_file, hdr + bofs, blen);
		s->backing_file[blen] = 0;
		if (strlen(s->backing_file) != blen)
			BAD("qcow2 backing file name contains a NUL byte");
	}
	free(hdr);
	hdr = NULL;

	s->csize_shift = 62 - (s->cluster_bits - 8);
	s->csize_mask = (1ull << (s->cluster_bits - 8)) - 1;
	s->coff_mask = (1ull << s->csize_shift) - 1;

	s->l1 = malloc((size_t)s->l1_size * 8 + 8);
	s->rt_size = (uint64_t)s->rt_clusters * s->cluster_size / 8;
	s->rt = malloc((size_t)s->rt_size * 8);
	if (!s->l1 || !s->rt)
		BAD("out of memory for the qcow2 tables");
	if ((err = bfile_pread(f, s->l1_offset, s->l1, (size_t)s->l1_size * 8)) ||
	    (err = bfile_pread(f, s->rt_offset, s->rt, (size_t)s->rt_size * 8)))
		BAD("cannot read the qcow2 tables: %s", strerror(-err));
	for (uint32_t i = 0; i < s->l1_size; i++)
		s->l1[i] = get_be64(&s->l1[i]);
	for (uint64_t i = 0; i < s->rt_size; i++)
		s->rt[i] = get_be64(&s->rt[i]);
	s->l1_dmin = s->rt_dmin = 1;
	s->l1_dmax = s->rt_dmax = 0;

	uint32_t l2n = (8u << 20) >> s->cluster_bits;
	l2n = l2n < 16 ? 16 : l2n > 1024 ? 1024 : l2n;
	uint32_t rbn = (1u << 20) >> s->cluster_bits;
	rbn = rbn < 8 ? 8 : rbn > 256 ? 256 : rbn;
	if (cache_init(&s->l2c, l2n, s->cluster_size) || cache_init(&s->rbc, rbn, s->cluster_size))
		BAD("out of memory for the qcow2 caches");

	s->alloc_end = (fsize + s->cluster_size - 1) & ~(uint64_t)(s->cluster_size - 1);
	s->f = *f;
	s->chain = chain;
	s->b.drv = &qcow2_driver;
	s->b.name = strdup(path);
	s->b.size = size;
	s->b.readonly = readonly;
	s->b.cache = cache;
	if (s->backing_file[0]) {
		err = block_open_backing(&s->b.backing, chain, path, s->backing_file,
					 s->backing_format[0] ? s->backing_format : NULL, cache);
		if (err) {
			q_free(s); /* the caller closes f */
			return -EINVAL;
		}
	}
	s->chain = NULL; /* it lived on the opener's stack */
	*out = &s->b;
	return 0;
fail:
	free(hdr);
	q_free(s);
	return -EINVAL;
}

/* ---- create ---- */

int qcow2_create(const char *path, const struct block_create_opts *o)
{
	uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
	int version = o->qcow2_version ? o->qcow2_version : 3;
	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1))) {
		log_error("%s: qcow2 cluster size %u is invalid; give a power of two "
			  "from 512 to 2M", path, cs);
		return -EINVAL;
	}
	if (version != 2 && version != 3) {
		log_error("%s: qcow2 version %d is invalid; give 2 or 3", path, version);
		return -EINVAL;
	}
	uint32_t cb = (uint32_t)__builtin_ctz(cs);
	uint64_t size = (o->size + 511) & ~511ull;
	if (size > (1ull << 60)) {
		log_error("%s: size %" PRIu64 " is too large for qcow2", path, size);
		return -EINVAL;
	}
	uint64_t per_l2 = (uint64_t)(cs / 8) << cb;
	uint64_t l1n = (size + per_l2 - 1) / per_l2;
	if (l1n * 8 > MAX_L1_BYTES) {
		log_error("%s: size %" PRIu64 " needs too large an L1 table with %u-byte "
			  "clusters; use larger clusters", path, size, cs);
		return -EINVAL;
	}
	uint64_t l1c = (l1n * 8 + cs - 1) / cs;
	if (!l1c)
		l1c = 1;
	uint64_t rb_entries = (uint64_t)cs * 8 / 16;
	uint64_t nb = 1, rtc = 1;
	for (int i = 0; i < 16; i++) { /* tables counting themselves: a fixpoint */
		uint64_t total = 1 + rtc + nb + l1c;
		nb = (total + rb_entries - 1) / rb_entries;
		rtc = (nb * 8 + cs - 1) / cs;
	}
	uint64_t total = 1 + rtc + nb + l1c;
	if ((total << cb) > (256u << 20)) {
		log_error("%s: qcow2 metadata for this size would exceed 256 MiB; use "
			  "larger clusters", path);
		return -EINVAL;
	}
	uint8_t *img = calloc(total, cs);
	if (!img)
		return -ENOMEM;
	uint64_t rt_off = (uint64_t)cs, rb_off = (1 + rtc) * cs, l1_off = (1 + rtc + nb) * cs;
	put_be32(img, QCOW2_MAGIC);
	put_be32(img + 4, (uint32_t)version);
	put_be32(img + 20, cb);
	put_be64(img + 24, size);
	put_be32(img + 36, (uint32_t)l1n);
	put_be64(img + 40, l1_off);
	put_be64(img + 48, rt_off);
	put_be32(img + 56, (uint32_t)rtc);
	uint32_t pos = 72;
	if (version == 3) {
		put_be32(img + 96, 4);
		put_be32(img + 100, 104);
		pos = 104;
	}
	if (o->backing) {
		if (o->backing_format) {
			const char *bf = !strcmp(o->backing_format, "vhd") ? "vpc" : o->backing_format;
			uint32_t n = (uint32_t)strlen(bf);
			put_be32(img + pos, EXT_BACKING_FORMAT);
			put_be32(img + pos + 4, n);
			memcpy(img + pos + 8, bf, n);
			pos += 8 + ((n + 7) & ~7u);
		}
		pos += 8; /* end of extensions */
		size_t n = strlen(o->backing);
		if (n >= 1024 || pos + n > cs) {
			log_error("%s: backing file name is too long", path);
			free(img);
			return -EINVAL;
		}
		memcpy(img + pos, o->backing, n);
		put_be64(img + 8, pos);
		put_be32(img + 16, (uint32_t)n);
	}
	for (uint64_t i = 0; i < nb; i++)
		put_be64(img + rt_off + 8 * i, rb_off + i * cs);
	for (uint64_t c = 0; c < total; c++)
		put_be16(img + rb_off + 2 * c, 1);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		free(img);
		return -EINVAL;
	}
	struct bfile f;
	bfile_from_fd(&f, fd);
	int err = bfile_pwrite(&f, 0, img, total * cs);
	if (!err)
		err = bfile_sync(&f);
	if (err)
		log_error("%s: %s", path, strerror(-err));
	bfile_close(&f);
	free(img);
	((struct block_create_opts *)o)->final_size = size;
	return err;
}

/*
 * VHD images (Microsoft's "Virtual Hard Disk Image Format Specification",
 * version 1.0): fixed disks (the data, then a 512-byte footer), dynamic
 * disks (footer copy, dynamic disk header, block allocation table, blocks of
 * a sector bitmap followed by data, footer) and differencing disks (the
 * same, with a parent found through the header's parent locators). Footer
 * and header checksums are verified; sizes follow the spec's CHS geometry
 * where the creator relies on it, as Virtual PC did.
 *
 * A new block is laid out where the footer was: the footer is first written
 * again past the new block, then the block's bitmap, then its BAT entry, so
 * an interrupted allocation leaves at worst an unused block in the file.
 * Sector bitmaps are set after the data they describe is written.
 */
#include "block_int.h"
#include "../log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FOOTER_SIZE 512u
#define DYN_SIZE 1024u
#define TYPE_FIXED 2u
#define TYPE_DYNAMIC 3u
#define TYPE_DIFF 4u
#define BAT_FREE 0xffffffffu
#define VHD_EPOCH 946684800 /* 2000-01-01T00:00:00Z */
#define VHD_MAX_SIZE (2040ull << 30)
#define CHS_MAX_SECTORS (65535ull * 16 * 255)
#define PLAT_W2RU 0x57327275u
#define PLAT_W2KU 0x57326b75u
#define PLAT_MACX 0x4d616358u
#define NBITMAPS 64u

struct bitmap_slot {
	uint32_t block; /* BAT_FREE: empty */
	uint8_t *data;
};

struct vhd {
	struct block b;
	struct bfile f;
	uint32_t type;
	uint8_t footer[FOOTER_SIZE];
	uint8_t dyn[DYN_SIZE];
	uint64_t end;          /* where the footer is: new blocks go there */
	uint64_t bat_offset;
	uint32_t max_entries;
	uint32_t block_size, spb, bitmap_size;
	uint32_t *bat;
	struct bitmap_slot bm[NBITMAPS];
	uint8_t *sbuf;         /* one sector-aligned span for partial writes */
	char parent_path[1024];
};

static uint32_t checksum(const uint8_t *p, size_t len, size_t skip)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < skip || i >= skip + 4)
			sum += p[i];
	return ~sum;
}

static bool footer_valid(const uint8_t *f)
{
	return !memcmp(f, "conectix", 8) && checksum(f, FOOTER_SIZE, 64) == get_be32(f + 64);
}

bool vhd_probe(const uint8_t *head, size_t hlen, const uint8_t *tail, size_t tlen)
{
	if (head && hlen >= 8 && !memcmp(head, "conectix", 8))
		return true;
	/* a fixed disk is raw data with a footer: believe only a valid one */
	return tail && tlen >= FOOTER_SIZE && footer_valid(tail);
}

/* The geometry algorithm of the spec's appendix. */
static void chs_of(uint64_t sectors, uint32_t *cyl, uint32_t *heads, uint32_t *spt)
{
	uint64_t cth;
	if (sectors > CHS_MAX_SECTORS)
		sectors = CHS_MAX_SECTORS;
	if (sectors >= 65535ull * 16 * 63) {
		*spt = 255;
		*heads = 16;
		cth = sectors / *spt;
	} else {
		*spt = 17;
		cth = sectors / *spt;
		*heads = (uint32_t)((cth + 1023) / 1024);
		if (*heads < 4)
			*heads = 4;
		if (cth >= *heads * 1024ull || *heads > 16) {
			*spt = 31;
			*heads = 16;
			cth = sectors / *spt;
		}
		if (cth >= *heads * 1024ull) {
			*spt = 63;
			*heads = 16;
			cth = sectors / *spt;
		}
	}
	*cyl = (uint32_t)(cth / *heads);
}

/* ---- bitmaps ---- */

static int bitmap_get(struct vhd *v, uint32_t bi, uint8_t **out)
{
	struct bitmap_slot *s = &v->bm[bi % NBITMAPS];
	if (s->block != bi) {
		int err = bfile_pread(&v->f, (uint64_t)v->bat[bi] * 512, s->data, v->bitmap_size);
		if (err) {
			s->block = BAT_FREE;
			return err;
		}
		s->block = bi;
	}
	*out = s->data;
	return 0;
}

static bool bit(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] >> (7 - i % 8) & 1;
}

/* ---- reading ---- */

static int read_parent(struct vhd *v, uint64_t off, uint8_t *p, size_t n)
{
	return block_read_backing(v->b.backing, off, p, n);
}

static int v_read(struct block *b, uint64_t offset, void *buf, size_t len)
{
	struct vhd *v = (struct vhd *)b;
	uint8_t *p = buf;
	if (v->type == TYPE_FIXED)
		return bfile_pread(&v->f, offset, p, len);
	while (len) {
		uint32_t bi = (uint32_t)(offset / v->block_size);
		uint64_t in = offset % v->block_size;
		size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;
		int err;
		if (v->bat[bi] == BAT_FREE) {
			err = read_parent(v, offset, p, n);
		} else {
			uint8_t *bm;
			if ((err = bitmap_get(v, bi, &bm)))
				return err;
			uint64_t data = (uint64_t)v->bat[bi] * 512 + v->bitmap_size;
			/* runs of sectors with the same bitmap bit */
			size_t done = 0;
			while (done < n && !err) {
				uint32_t sec = (uint32_t)((in + done) / 512);
				bool set = bit(bm, sec);
				size_t run = 512 - (in + done) % 512;
				while (done + run < n && bit(bm, sec + 1) == set) {
					sec++;
					run += 512;
				}
				if (done + run > n)
					run = n - done;
				if (set)
					err = bfile_pread(&v->f, data + in + done, p + done, run);
				else
					err = read_parent(v, offset + done, p + done, run);
				done += run;
			}
		}
		if (err)
			return err;
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

/* ---- writing ---- */

static void footer_seal(uint8_t *f)
{
	put_be32(f + 64, 0);
	put_be32(f + 64, checksum(f, FOOTER_SIZE, 64));
}

static int alloc_block(struct vhd *v, uint32_t bi)
{
	bool sync = v->b.cache != BLOCK_CACHE_UNSAFE;
	uint64_t at = v->end;
	uint64_t new_end = at + v->bitmap_size + v->block_size;
	int err = bfile_pwrite(&v->f, new_end, v->footer, FOOTER_SIZE);
	if (err)
		return err;
	/* Without a parent, every sector of a block is this disk's (and reads
	 * as zeros until written), as other implementations expect. */
	struct bitmap_slot *s = &v->bm[bi % NBITMAPS];
	memset(s->data, v->type == TYPE_DIFF ? 0 : 0xff, v->bitmap_size);
	s->block = BAT_FREE;
	if ((err = bfile_pwrite(&v->f, at, s->data, v->bitmap_size)))
		return err;
	if (sync && (err = bfile_sync(&v->f)))
		return err;
	uint8_t e[4];
	put_be32(e, (uint32_t)(at / 512));
	if ((err = bfile_pwrite(&v->f, v->bat_offset + 4ull * bi, e, 4)))
		return err;
	v->bat[bi] = (uint32_t)(at / 512);
	v->end = new_end;
	s->block = bi;
	return 0;
}

static int set_bits(struct vhd *v, uint32_t bi, uint32_t first, uint32_t count)
{
	uint8_t *bm;
	int err = bitmap_get(v, bi, &bm);
	if (err)
		return err;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t i = first; i < first + count; i++) {
		uint8_t m = (uint8_t)(0x80 >> (i % 8));
		if (!(bm[i / 8] & m)) {
			bm[i / 8] |= m;
			if (i / 8 < lo)
				lo = i / 8;
			hi = i / 8;
		}
	}
	if (lo == UINT32_MAX)
		return 0;
	uint32_t a = lo / 512 * 512, e = (hi / 512 + 1) * 512;
	err = bfile_pwrite(&v->f, (uint64_t)v->bat[bi] * 512 + a, bm + a, e - a);
	if (err)
		v->bm[bi % NBITMAPS].block = BAT_FREE;
	return err;
}

static int write_aligned(struct vhd *v, uint64_t offset, const uint8_t *p, size_t len)
{
	while (len) {
		uint32_t bi = (uint32_t)(offset / v->block_size);
		uint64_t in = offset % v->block_size;
		size_t n = v->block_size - in < len ? (size_t)(v->block_size - in) : len;
		int err = 0;
		if (v->bat[bi] == BAT_FREE)
			err = alloc_block(v, bi);
		if (!err)
			err = bfile_pwrite(&v->f, (uint64_t)v->bat[bi] * 512 + v->bitmap_size + in, p, n);
		if (!err)
			err = set_bits(v, bi, (uint32_t)(in / 512), (uint32_t)(n / 512));
		if (err)
			return err;
		p += n;
		offset += n;
		len -= n;
	}
	return 0;
}

static int v_write(struct block *b, uint64_t offset, const void *buf, size_t len)
{
	struct vhd *v = (struct vhd *)b;
	if (v->type == TYPE_FIXED)
		return bfile_pwrite(&v->f, offset, buf, len);
	const uint8_t *p = buf;
	/* bitmaps count whole sectors: complete partial ones first */
	if (offset % 512 || len % 512) {
		uint64_t a = offset / 512 * 512, e = (offset + len + 511) / 512 * 512;
		while (a < e) {
			size_t chunk = e - a < (1u << 20) ? (size_t)(e - a) : (1u << 20);
			int err = v_read(b, a, v->sbuf, chunk);
			if (err)
				return err;
			uint64_t s = offset > a ? offset : a;
			uint64_t t = offset + len < a + chunk ? offset + len : a + chunk;
			memcpy(v->sbuf + (s - a), p + (s - offset), (size_t)(t - s));
			if ((err = write_aligned(v, a, v->sbuf, chunk)))
				return err;
			a += chunk;
		}
		return 0;
	}
	return write_aligned(v, offset, p, len);
}

static int v_flush(struct block *b, bool sync)
{
	return sync ? bfile_sync(&((struct vhd *)b)->f) : 0;
}

static int v_status(struct block *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct vhd *v = (struct vhd *)b;
	*run = len;
	if (v->type == TYPE_FIXED)
		return BLOCK_DATA;
	uint32_t bi = (uint32_t)(offset / v->block_size);
	uint64_t n = v->block_size - offset % v->block_size;
	bool free_ = v->bat[bi] == BAT_FREE;
	while (n < len && bi + 1 < v->max_entries && (v->bat[bi + 1] == BAT_FREE) == free_) {
		bi++;
		n += v->block_size;
	}
	*run = n < len ? n : len;
	if (!free_)
		return BLOCK_DATA;
	struct block *bk = v->b.backing;
	if (!bk || offset >= bk->size)
		return BLOCK_ZERO;
	if (*run > bk->size - offset)
		*run = bk->size - offset;
	return bk->drv->status ? bk->drv->status(bk, offset, *run, run) : BLOCK_DATA;
}

static const char *type_name(uint32_t t)
{
	return t == TYPE_FIXED ? "fixed" : t == TYPE_DYNAMIC ? "dynamic" : "differencing";
}

static int v_info(struct block *b, struct block_info *info)
{
	struct vhd *v = (struct vhd *)b;
	info->disk_usage = bfile_usage(&v->f);
	info->subformat = type_name(v->type);
	info->cluster_size = v->type == TYPE_FIXED ? 0 : v->block_size;
	if (v->type == TYPE_DIFF) {
		snprintf(info->backing_file, sizeof(info->backing_file), "%s", v->parent_path);
		snprintf(info->backing_format, sizeof(info->backing_format), "vhd");
	}
	return 0;
}

static void report(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(FILE *out, const char *fmt, ...)
{
	if (!out)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int v_check(struct block *b, struct block_check *res, bool repair, FILE *out)
{
	struct vhd *v = (struct vhd *)b;
	(void)repair;
	uint64_t fsize;
	int err = bfile_size(&v->f, &fsize);
	if (err)
		return err;
	uint8_t f[FOOTER_SIZE];
	if (fsize < FOOTER_SIZE || bfile_pread(&v->f, fsize - FOOTER_SIZE, f, FOOTER_SIZE) ||
	    !footer_valid(f)) {
		report(out, "ERROR the footer at the end of the file is missing or its checksum is wrong");
		res->corruptions++;
	}
	if (v->type == TYPE_FIXED)
		return 0;
	if (bfile_pread(&v->f, 0, f, FOOTER_SIZE) || !footer_valid(f)) {
		report(out, "ERROR the footer copy at the start of the file is missing or its checksum is wrong");
		res->corruptions++;
	}
	uint8_t d[DYN_SIZE];
	uint64_t doff = get_be64(v->footer + 16);
	if (bfile_pread(&v->f, doff, d, DYN_SIZE) || memcmp(d, "cxsparse", 8) ||
	    checksum(d, DYN_SIZE, 36) != get_be32(d + 36)) {
		report(out, "ERROR the dynamic disk header checksum is wrong");
		res->corruptions++;
	}
	uint32_t *sorted = malloc(sizeof(uint32_t) * (v->max_entries + 1));
	if (!sorted)
		return -ENOMEM;
	uint32_t n = 0;
	uint64_t meta_end = v->bat_offset + (((uint64_t)v->max_entries * 4 + 511) & ~511ull);
	for (uint32_t i = 0; i < v->max_entries; i++) {
		if (v->bat[i] == BAT_FREE)
			continue;
		uint64_t at = (uint64_t)v->bat[i] * 512;
		if (at + v->bitmap_size + v->block_size > fsize - FOOTER_SIZE) {
			report(out, "ERROR block %u at %#" PRIx64 " runs past the end of the file", i, at);
			res->corruptions++;
		} else if (at < meta_end) {
			report(out, "ERROR block %u at %#" PRIx64 " overlaps the headers or the BAT", i, at);
			res->corruptions++;
		}
		sorted[n++] = v->bat[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	uint64_t span = (uint64_t)(v->bitmap_size + v->block_size) / 512;
	for (uint32_t i = 1; i < n; i++)
		if (sorted[i] - sorted[i - 1] < span) {
			report(out, "ERROR blocks at sectors %u and %u overlap", sorted[i - 1], sorted[i]);
			res->corruptions++;
		}
	free(sorted);
	return 0;
}

static void v_close(struct block *b)
{
	struct vhd *v = (struct vhd *)b;
	bfile_close(&v->f);
	for (unsigned i = 0; i < NBITMAPS; i++)
		free(v->bm[i].data);
	free(v->bat);
	free(v->sbuf);
	free(b->name);
	free(v);
}

static const struct block_driver vhd_driver = {
	.name = "vhd",
	.read = v_read,
	.write = v_write,
	.flush = v_flush,
	.close = v_close,
	.info = v_info,
	.check = v_check,
	.status = v_status,
};

/* ---- parent locators ---- */

static void utf8_put(char **o, char *end, uint32_t c)
{
	char tmp[4];
	int n;
	if (c < 0x80) { tmp[0] = (char)c; n = 1; }
	else if (c < 0x800) { tmp[0] = (char)(0xc0 | c >> 6); tmp[1] = (char)(0x80 | (c & 0x3f)); n = 2; }
	else if (c < 0x10000) { tmp[0] = (char)(0xe0 | c >> 12); tmp[1] = (char)(0x80 | (c >> 6 & 0x3f)); tmp[2] = (char)(0x80 | (c & 0x3f)); n = 3; }
	else { tmp[0] = (char)(0xf0 | c >> 18); tmp[1] = (char)(0x80 | (c >> 12 & 0x3f)); tmp[2] = (char)(0x80 | (c >> 6 & 0x3f)); tmp[3] = (char)(0x80 | (c & 0x3f)); n = 4; }
	if (*o + n < end) {
		memcpy(*o, tmp, (size_t)n);
		*o += n;
	}
}

/* UTF-16 (either byte order) to UTF-8, stopping at a NUL. */
static void utf16_to_utf8(const uint8_t *in, size_t len, bool be, char *out, size_t osize)
{
	char *o = out, *end = out + osize - 1;
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t c = be ? (uint32_t)(in[i] << 8 | in[i + 1]) : (uint32_t)(in[i + 1] << 8 | in[i]);
		if (!c)
			break;
		if (c >= 0xd800 && c < 0xdc00 && i + 3 < len) {
			uint32_t d = be ? (uint32_t)(in[i + 2] << 8 | in[i + 3]) : (uint32_t)(in[i + 3] << 8 | in[i + 2]);
			if (d >= 0xdc00 && d < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
				i += 2;
			}
		}
		utf8_put(&o, end, c);
	}
	*o = 0;
}

/* UTF-8 to UTF-16; returns bytes written. */
static size_t utf8_to_utf16(const char *in, bool be, uint8_t *out, size_t osize)
{
	size_t n = 0;
	const uint8_t *p = (const uint8_t *)in;
	while (*p && n + 4 <= osize) {
		uint32_t c = *p++;
		if (c >= 0xf0 && p[0] && p[1] && p[2]) { c = (c & 7) << 18 | (p[0] & 0x3fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu); p += 3; }
		else if (c >= 0xe0 && p[0] && p[1]) { c = (c & 15) << 12 | (p[0] & 0x3fu) << 6 | (p[1] & 0x3fu); p += 2; }
		else if (c >= 0xc0 && p[0]) { c = (c & 31) << 6 | (p[0] & 0x3fu); p += 1; }
		uint16_t u[2];
		int k = 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			u[0] = (uint16_t)(0xd800 + (c >> 10));
			u[1] = (uint16_t)(0xdc00 + (c & 0x3ff));
			k = 2;
		} else {
			u[0] = (uint16_t)c;
		}
		for (int i = 0; i < k; i++, n += 2) {
			out[n + !be] = (uint8_t)(u[i] >> 8);
			out[n + be] = (uint8_t)u[i];
		}
	}
	return n;
}

/* Windows paths to ours: separators, and a leading .\ */
static void unwindows(char *s)
{
	for (char *c = s; *c; c++)
		if (*c == '\\')
			*c = '/';
}

static int find_parent(struct vhd *v, const char *path, uint64_t fsize,
		       const struct block_chain *chain)
{
	static const uint32_t order[] = { PLAT_W2RU, PLAT_W2KU, PLAT_MACX };
	char tried[512] = "";
	for (unsigned o = 0; o < 4; o++) {
		for (unsigned i = 0; i < 8; i++) {
			char name[1024] = "";
			if (o < 3) {
				const uint8_t *e = v->dyn + 576 + 24 * i;
				if (get_be32(e) != order[o])
					continue;
				uint32_t len = get_be32(e + 8);
				uint64_t off = get_be64(e + 16);
				if (!len || len > 4096 || off > fsize || len > fsize - off)
					continue;
				uint8_t *raw = malloc(len);
				if (!raw || bfile_pread(&v->f, off, raw, len)) {
					free(raw);
					continue;
				}
				if (order[o] == PLAT_MACX) {
					size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
					memcpy(name, raw, n);
					name[n] = 0;
					if (!strncmp(name, "file://", 7))
						memmove(name, name + 7, strlen(name + 7) + 1);
					if (!strncmp(name, "localhost/", 10))
						memmove(name, name + 9, strlen(name + 9) + 1);
				} else {
					utf16_to_utf8(raw, len, false, name, sizeof(name));
					unwindows(name);
				}
				free(raw);
			} else {
				if (i)
					break;
				utf16_to_utf8(v->dyn + 64, 512, true, name, sizeof(name));
				unwindows(name);
			}
			if (!name[0] || (name[1] == ':' && name[0] != '.'))
				continue; /* a Windows drive letter means nothing here */
			char *rel = name;
			while (!strncmp(rel, "./", 2))
				rel += 2;
			char *full = block_resolve_backing(path, rel);
			if (!full)
				return -ENOMEM;
			struct stat st;
			bool found = stat(full, &st) == 0;
			if (!found && strlen(tried) + strlen(full) + 3 < sizeof(tried)) {
				if (tried[0])
					strcat(tried, ", ");
				strcat(tried, full);
			}
			free(full);
			if (found) {
				snprintf(v->parent_path, sizeof(v->parent_path), "%s", rel);
				return 0;
			}
		}
	}
	block_err(chain, path, "cannot find the parent of this differencing VHD "
		  "(looked for: %s); put it back where the disk expects it",
		  tried[0] ? tried : "no usable parent locator");
	return -EINVAL;
}

/* ---- open ---- */

#define BAD(...) do { block_err(chain, path, __VA_ARGS__); goto fail; } while (0)

int vhd_open(struct block **out, const char *path, struct bfile *f, bool readonly,
	     enum block_cache cache, const struct block_chain *chain)
{
	uint64_t fsize;
	int err = bfile_size(f, &fsize);
	if (err)
		return err;
	struct vhd *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (fsize < FOOTER_SIZE || (err = bfile_pread(f, fsize - FOOTER_SIZE, v->footer, FOOTER_SIZE)))
		BAD("truncated VHD: no footer at the end of the file");
	if (memcmp(v->footer, "conectix", 8))
		BAD("truncated or damaged VHD: no footer at the end of the file");
	uint32_t sum = checksum(v->footer, FOOTER_SIZE, 64);
	if (sum != get_be32(v->footer + 64))
		BAD("VHD footer checksum is wrong (stored %#x, computed %#x); the "
		    "image is corrupt", get_be32(v->footer + 64), sum);
	if (get_be32(v->footer + 12) >> 16 != 1)
		BAD("VHD format version %#x is not supported", get_be32(v->footer + 12));
	v->type = get_be32(v->footer + 60);
	if (v->type != TYPE_FIXED && v->type != TYPE_DYNAMIC && v->type != TYPE_DIFF)
		BAD("VHD disk type %u is not supported (fixed, dynamic and "
		    "differencing are)", v->type);
	uint64_t size = get_be64(v->footer + 48);
	uint16_t cyl = get_be16(v->footer + 56);
	uint8_t heads = v->footer[58], spt = v->footer[59];
	uint64_t chs = (uint64_t)cyl * heads * spt;
	/* Virtual PC sized its disks by the geometry; Hyper-V and most others
	 * by the size field. The maximum geometry means "too big for CHS". */
	if ((!memcmp(v->footer + 28, "vpc ", 4) || !memcmp(v->footer + 28, "qemu", 4)) &&
	    chs && chs < CHS_MAX_SECTORS && chs * 512 <= size)
		size = chs * 512;
	if (!size || size % 512 || size > (1ull << 48))
		BAD("VHD disk size %" PRIu64 " is impossible", size);
	v->end = (fsize - FOOTER_SIZE) & ~511ull;

	if (v->type == TYPE_FIXED) {
		if (fsize - FOOTER_SIZE < size)
			BAD("fixed VHD is shorter (%" PRIu64 " bytes) than its disk size "
			    "(%" PRIu64 "); the file is truncated", fsize - FOOTER_SIZE, size);
	} else {
		uint64_t doff = get_be64(v->footer + 16);
		if (doff > fsize || fsize - doff < DYN_SIZE)
			BAD("VHD dynamic header offset %#" PRIx64 " lies past the end of the file", doff);
		if ((err = bfile_pread(f, doff, v->dyn, DYN_SIZE)))
			BAD("cannot read the VHD dynamic header");
		if (memcmp(v->dyn, "cxsparse", 8))
			BAD("VHD dynamic header is missing (bad cookie); the image is corrupt");
		sum = checksum(v->dyn, DYN_SIZE, 36);
		if (sum != get_be32(v->dyn + 36))
			BAD("VHD dynamic header checksum is wrong (stored %#x, computed %#x); "
			    "the image is corrupt", get_be32(v->dyn + 36), sum);
		if (get_be32(v->dyn + 24) >> 16 != 1)
			BAD("VHD dynamic header version %#x is not supported", get_be32(v->dyn + 24));
		v->bat_offset = get_be64(v->dyn + 16);
		v->max_entries = get_be32(v->dyn + 28);
		v->block_size = get_be32(v->dyn + 32);
		if (v->block_size < 512 || v->block_size > (256u << 20) ||
		    (v->block_size & (v->block_size - 1)))
			BAD("VHD block size %u is invalid", v->block_size);
		if ((uint64_t)v->max_entries * v->block_size < size)
			BAD("VHD block table (%u blocks of %u bytes) is too small for the "
			    "disk size", v->max_entries, v->block_size);
		if (v->max_entries > (1u << 26))
			BAD("VHD block table of %u entries is too large", v->max_entries);
		if (v->bat_offset % 512 || v->bat_offset > fsize ||
		    (uint64_t)v->max_entries * 4 > fsize - v->bat_offset)
			BAD("VHD block table at %#" PRIx64 " lies outside the file", v->bat_offset);
		v->spb = v->block_size / 512;
		v->bitmap_size = ((v->spb + 7) / 8 + 511) & ~511u;
		v->bat = malloc((size_t)v->max_entries * 4 + 4);
		v->sbuf = malloc(1u << 20);
		if (!v->bat || !v->sbuf)
			BAD("out of memory");
		for (unsigned i = 0; i < NBITMAPS; i++) {
			v->bm[i].block = BAT_FREE;
			if (!(v->bm[i].data = malloc(v->bitmap_size)))
				BAD("out of memory");
		}
		if ((err = bfile_pread(f, v->bat_offset, v->bat, (size_t)v->max_entries * 4)))
			BAD("cannot read the VHD block table");
		uint64_t meta_end = v->bat_offset + (uint64_t)v->max_entries * 4;
		for (uint32_t i = 0; i < v->max_entries; i++) {
			v->bat[i] = get_be32(&v->bat[i]);
			if (v->bat[i] == BAT_FREE)
				continue;
			uint64_t at = (uint64_t)v->bat[i] * 512;
			if (at >= fsize)
				BAD("VHD block %u at %#" PRIx64 " lies past the end of the file", i, at);
			if (at + v->bitmap_size + v->block_size > v->end)
				v->end = at + v->bitmap_size + v->block_size;
		}
		if (meta_end > v->end)
			v->end = (meta_end + 511) & ~511ull;
		for (unsigned i = 0; i < 8; i++) { /* never put blocks over locators */
			const uint8_t *e = v->dyn + 576 + 24 * i;
			uint64_t lend = get_be64(e + 16) + get_be32(e + 8);
			if (get_be32(e) && get_be32(e + 8) && lend <= fsize && lend > v->end)
				v->end = (lend + 511) & ~511ull;
		}
		if (v->type == TYPE_DIFF && (err = find_parent(v, path, fsize, chain)))
			goto fail;
	}
	v->f = *f;
	v->b.drv = &vhd_driver;
	v->b.name = strdup(path);
	v->b.size = size;
	v->b.readonly = readonly;
	v->b.cache = cache;
	if (v->type == TYPE_DIFF) {
		err = block_open_backing(&v->b.backing, chain, path, v->parent_path, "vhd", cache);
		if (err) {
			v->f.fd = v->f.dfd = -1; /* the caller closes f */
			v->f.bounce = NULL;
			v_close(&v->b);
			return -EINVAL;
		}
		struct vhd *parent = (struct vhd *)v->b.backing;
		if (memcmp(parent->footer + 68, v->dyn + 40, 16)) {
			block_err(chain, path, "parent %s is not the disk this differencing "
				  "VHD was made from (its unique id differs)", v->parent_path);
			v->f.fd = v->f.dfd = -1;
			v->f.bounce = NULL;
			block_close(v->b.backing);
			v->b.backing = NULL;
			v_close(&v->b);
			return -EINVAL;
		}
	}
	*out = &v->b;
	return 0;
fail:
	v->f.fd = v->f.dfd = -1;
	v_close(&v->b);
	return -EINVAL;
}

/* ---- create ---- */

static void make_footer(uint8_t *f, uint32_t type, uint64_t size, uint64_t data_offset)
{
	memset(f, 0, FOOTER_SIZE);
	memcpy(f, "conectix", 8);
	put_be32(f + 8, 2);
	put_be32(f + 12, 0x00010000);
	put_be64(f + 16, data_offset);
	put_be32(f + 24, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + 28, "pcvm", 4);
	put_be32(f + 32, 0x00010000);
	memcpy(f + 36, "Wi2k", 4);
	put_be64(f + 40, size);
	put_be64(f + 48, size);
	uint32_t cyl, heads, spt;
	chs_of(size / 512, &cyl, &heads, &spt);
	put_be16(f + 56, (uint16_t)cyl);
	f[58] = (uint8_t)heads;
	f[59] = (uint8_t)spt;
	put_be32(f + 60, type);
	if (getrandom(f + 68, 16, 0) != 16) {
		uint64_t t = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
		memcpy(f + 68, &t, 8);
		memcpy(f + 76, &f, sizeof(void *));
	}
	f[68 + 6] = (uint8_t)((f[68 + 6] & 0x0f) | 0x40); /* a random (v4) UUID */
	f[68 + 8] = (uint8_t)((f[68 + 8] & 0x3f) | 0x80);
	footer_seal(f);
}

/* Sizes below the CHS limit are rounded up to whole cylinders, so readers
 * that size the disk by its geometry see the same size. */
static uint64_t vhd_round(uint64_t size)
{
	uint64_t sectors = (size + 511) / 512;
	if (sectors >= CHS_MAX_SECTORS)
		return sectors * 512;
	for (uint64_t s = sectors; s < CHS_MAX_SECTORS; s++) {
		uint32_t cyl, heads, spt;
		chs_of(s, &cyl, &heads, &spt);
		uint64_t chs = (uint64_t)cyl * heads * spt;
		if (chs >= sectors)
			return chs * 512;
	}
	return sectors * 512;
}

int vhd_create(const char *path, const struct block_create_opts *o)
{
	uint64_t size = vhd_round(o->size);
	uint32_t bs = o->vhd_block_size ? o->vhd_block_size : (2u << 20);
	if (!size || size > VHD_MAX_SIZE) {
		log_error("%s: VHD size must be from 512 bytes to 2040 GiB", path);
		return -EINVAL;
	}
	if (bs < 512 || bs > (256u << 20) || (bs & (bs - 1))) {
		log_error("%s: VHD block size %u is invalid; give a power of two from "
			  "512 to 256M", path, bs);
		return -EINVAL;
	}
	if (o->backing && o->vhd_fixed) {
		log_error("%s: a fixed VHD cannot have a parent; leave out the backing file", path);
		return -EINVAL;
	}
	uint8_t parent_footer[FOOTER_SIZE];
	char *parent_abs = NULL;
	if (o->backing) {
		char *bpath = block_resolve_backing(path, o->backing);
		int fd = bpath ? open(bpath, O_RDONLY | O_CLOEXEC) : -1;
		struct stat st;
		bool ok = fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= FOOTER_SIZE &&
			  pread(fd, parent_footer, FOOTER_SIZE, st.st_size - FOOTER_SIZE) == FOOTER_SIZE;
		if (fd >= 0)
			close(fd);
		parent_abs = bpath ? realpath(bpath, NULL) : NULL;
		free(bpath);
		if (!ok || !parent_abs) {
			log_error("%s: cannot read the parent %s", path, o->backing);
			free(parent_abs);
			return -EINVAL;
		}
	}
	uint32_t type = o->vhd_fixed ? TYPE_FIXED : o->backing ? TYPE_DIFF : TYPE_DYNAMIC;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("%s: %s", path, strerror(errno));
		free(parent_abs);
		return -EINVAL;
	}
	struct bfile f;
	bfile_from_fd(&f, fd);
	uint8_t footer[FOOTER_SIZE];
	int err = 0;
	if (type == TYPE_FIXED) {
		make_footer(footer, type, size, UINT64_MAX);
		err = bfile_pwrite(&f, size, footer, FOOTER_SIZE);
	} else {
		uint32_t entries = (uint32_t)((size + bs - 1) / bs);
		uint64_t bat_bytes = ((uint64_t)entries * 4 + 511) & ~511ull;
		uint64_t pos = 1536 + bat_bytes;
		make_footer(footer, type, size, 512);
		uint8_t dyn[DYN_SIZE] = {0};
		memcpy(dyn, "cxsparse", 8);
		put_be64(dyn + 8, UINT64_MAX);
		put_be64(dyn + 16, 1536);
		put_be32(dyn + 24, 0x00010000);
		put_be32(dyn + 28, entries);
		put_be32(dyn + 32, bs);
		uint8_t loc[2][1024];
		size_t loclen[2] = {0, 0};
		if (type == TYPE_DIFF) {
			memcpy(dyn + 40, parent_footer + 68, 16);
			put_be32(dyn + 56, get_be32(parent_footer + 24));
			const char *base = strrchr(parent_abs, '/') ? strrchr(parent_abs, '/') + 1 : parent_abs;
			utf8_to_utf16(base, true, dyn + 64, 512);
			/* W2ru: the name as given (relative to this disk), with
			 * Windows separators; W2ku: the absolute path */
			char rel[1024];
			snprintf(rel, sizeof(rel), "%s%s", o->backing[0] == '/' ? "" : ".\\", o->backing);
			for (char *c = rel; *c; c++)
				if (*c == '/')
					*c = '\\';
			loclen[0] = utf8_to_utf16(rel, false, loc[0], sizeof(loc[0]));
			loclen[1] = utf8_to_utf16(parent_abs, false, loc[1], sizeof(loc[1]));
			const uint32_t codes[2] = { PLAT_W2RU, PLAT_W2KU };
			for (int i = 0; i < 2; i++) {
				uint8_t *e = dyn + 576 + 24 * i;
				uint32_t space = (uint32_t)((loclen[i] + 511) & ~511ull);
				put_be32(e, codes[i]);
				put_be32(e + 4, space);
				put_be32(e + 8, (uint32_t)loclen[i]);
				put_be64(e + 16, pos);
				if (!err)
					err = bfile_pwrite(&f, pos, loc[i], loclen[i]);
				pos += space;
			}
		}
		put_be32(dyn + 36, checksum(dyn, DYN_SIZE, 36));
		uint8_t *bat = malloc(bat_bytes);
		if (!bat) {
			err = -ENOMEM;
		} else {
			memset(bat, 0xff, bat_bytes);
			if (!err)
				err = bfile_pwrite(&f, 1536, bat, bat_bytes);
			free(bat);
		}
		if (!err)
			err = bfile_pwrite(&f, 0, footer, FOOTER_SIZE);
		if (!err)
			err = bfile_pwrite(&f, 512, dyn, DYN_SIZE);
		if (!err)
			err = bfile_pwrite(&f, pos, footer, FOOTER_SIZE);
	}
	if (!err)
		err = bfile_sync(&f);
	if (err)
		log_error("%s: %s", path, strerror(-err));
	bfile_close(&f);
	free(parent_abs);
	((struct block_create_opts *)o)->final_size = size;
	return err;
}

/*
 * PNG encoding with libpng (the PNG specification, ISO/IEC 15948): 8-bit
 * RGB, no interlace, every row filtered with the same fixed filter choice and
 * zlib at a fixed level, no tIME or tEXt chunks. Identical pixels therefore
 * give identical files, which the golden-screenshot tests and users' CI
 * comparisons rely on.
 */
#include "png.h"
#include "writefile.h"
#include "../log.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct membuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
	struct membuf *b = png_get_io_ptr(png);
	if (b->failed)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

static void on_error(png_structp png, png_const_charp msg)
{
	log_error("PNG encoder: %s", msg);
	png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	log_debug("PNG encoder: %s", msg);
}

int ui_png_encode(const uint32_t *pix, unsigned w, unsigned h,
		  uint8_t **out, size_t *len)
{
	if (!w || !h || w > 65535 || h > 65535)
		return -EINVAL;
	struct membuf buf = { 0 };
	uint8_t *row = malloc((size_t)w * 3);
	if (!row)
		return -ENOMEM;
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL,
						  on_error, on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, &info);
		free(row);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		free(buf.p);
		return -EIO;
	}
	png_set_write_fn(png, &buf, mem_write, mem_flush);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 6);
	png_set_compression_strategy(png, 0 /* Z_DEFAULT_STRATEGY */);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
	png_write_info(png, info);
	for (unsigned y = 0; y < h; y++) {
		const uint32_t *s = pix + (size_t)y * w;
		for (unsigned x = 0; x < w; x++) {
			row[3 * x] = (uint8_t)(s[x] >> 16);
			row[3 * x + 1] = (uint8_t)(s[x] >> 8);
			row[3 * x + 2] = (uint8_t)s[x];
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	if (buf.failed) {
		free(buf.p);
		return -ENOMEM;
	}
	*out = buf.p;
	*len = buf.len;
	return 0;
}

int ui_png_write(const char *path, const uint32_t *pix, unsigned w, unsigned h)
{
	uint8_t *data;
	size_t len;
	int err = ui_png_encode(pix, w, h, &data, &len);
	if (err) {
		log_error("cannot encode the screenshot %s: %s", path, strerror(-err));
		return err;
	}
	err = ui_write_file(path, data, len);
	free(data);
	return err;
}

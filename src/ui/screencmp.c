/*
 * expect-screen's comparison. Reference pictures come through libpng's
 * simplified reading API (libpng 1.6, png.h "simplified API"), which turns
 * every PNG colour type and bit depth into 8-bit RGB; pcvm's own
 * screenshots are 8-bit RGB already, so a screenshot saved as a reference
 * compares equal to the screen it came from.
 */
#include "screencmp.h"

#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Larger than any VBE mode the adapter offers; bounds the allocation. */
#define MAX_SIDE 8192u

int screencmp_load_png(const char *path, struct screencmp_image *img, const char **why)
{
	png_image p;
	memset(&p, 0, sizeof(p));
	p.version = PNG_IMAGE_VERSION;
	img->w = img->h = 0;
	img->pix = NULL;
	if (!png_image_begin_read_from_file(&p, path)) {
		*why = "cannot read it as a PNG file";
		return -EINVAL;
	}
	if (!p.width || !p.height || p.width > MAX_SIDE || p.height > MAX_SIDE) {
		png_image_free(&p);
		*why = "its size is not that of a screen (1 to 8192 pixels a side)";
		return -EINVAL;
	}
	p.format = PNG_FORMAT_RGB;
	size_t n = (size_t)p.width * p.height;
	uint8_t *buf = malloc(n * 3);
	uint32_t *pix = malloc(n * sizeof(*pix));
	if (!buf || !pix) {
		free(buf);
		free(pix);
		png_image_free(&p);
		*why = "out of memory";
		return -ENOMEM;
	}
	png_color black = { 0, 0, 0 };
	if (!png_image_finish_read(&p, &black, buf, 0, NULL)) {
		free(buf);
		free(pix);
		*why = "it is damaged (libpng could not decode it)";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		pix[i] = (uint32_t)buf[3 * i] << 16 | (uint32_t)buf[3 * i + 1] << 8 | buf[3 * i + 2];
	free(buf);
	img->w = p.width;
	img->h = p.height;
	img->pix = pix;
	return 0;
}

void screencmp_free(struct screencmp_image *img)
{
	free(img->pix);
	img->pix = NULL;
	img->w = img->h = 0;
}

static bool ignored(unsigned x, unsigned y, const struct screencmp_rect *r, int n)
{
	for (int i = 0; i < n; i++)
		if (x >= r[i].x && x - r[i].x < r[i].w && y >= r[i].y && y - r[i].y < r[i].h)
			return true;
	return false;
}

static uint32_t dim_grey(uint32_t rgb)
{
	unsigned l = (((rgb >> 16) & 0xff) * 3 + ((rgb >> 8) & 0xff) * 6 + (rgb & 0xff)) / 10;
	l = 40 + l / 4;
	return l << 16 | l << 8 | l;
}

uint64_t screencmp_compare(const uint32_t *got, const uint32_t *ref, unsigned w, unsigned h,
			   const struct screencmp_rect *ignore, int nignore,
			   uint32_t *diff, uint64_t *compared)
{
	uint64_t differ = 0, seen = 0;
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			size_t i = (size_t)y * w + x;
			if (nignore && ignored(x, y, ignore, nignore)) {
				if (diff)
					diff[i] = 0x000040 | (dim_grey(ref[i]) & 0x3f3f3f);
				continue;
			}
			seen++;
			bool d = (got[i] & 0xffffff) != (ref[i] & 0xffffff);
			differ += d;
			if (diff)
				diff[i] = d ? 0xff0000 : dim_grey(ref[i]);
		}
	}
	*compared = seen;
	return differ;
}

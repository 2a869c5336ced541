/*
 * Screen comparison for the script's expect-screen: reference PNGs read with
 * libpng's simplified API (PNG spec, any bit depth and colour type, reduced
 * to 8-bit RGB; transparency composed on black), pixel-exact comparison with
 * rectangles left out, and a difference picture for people to look at.
 */
#ifndef PCVM_UI_SCREENCMP_H
#define PCVM_UI_SCREENCMP_H

#include <stdint.h>

struct screencmp_image {
	unsigned w, h;
	uint32_t *pix; /* 0xRRGGBB, row-major; free with screencmp_free */
};

struct screencmp_rect {
	unsigned x, y, w, h;
};

/* 0, or -EINVAL with *why set (not a PNG, unreadable, too large). */
int screencmp_load_png(const char *path, struct screencmp_image *img, const char **why);
void screencmp_free(struct screencmp_image *img);

/* Compares two pictures of w x h pixels outside the ignore rectangles:
 * returns how many pixels differ and sets *compared to how many were
 * compared. With diff non-NULL (w x h), draws there what differs in red on
 * a dimmed grey copy of the reference, the ignored parts in dark blue. */
uint64_t screencmp_compare(const uint32_t *got, const uint32_t *ref, unsigned w, unsigned h,
			   const struct screencmp_rect *ignore, int nignore,
			   uint32_t *diff, uint64_t *compared);

#endif

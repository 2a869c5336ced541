/*
 * PNG output of RGB screens (libpng). Encoding is deterministic: fixed
 * compression level, filter and strategy, and no time or text chunks, so the
 * same pixels always give the same bytes with the same libpng and zlib.
 */
#ifndef PCVM_UI_PNG_H
#define PCVM_UI_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Encodes w x h pixels (0xRRGGBB) as an 8-bit RGB PNG into a malloc'd
 * buffer. 0 or a negative errno. */
int ui_png_encode(const uint32_t *pix, unsigned w, unsigned h,
		  uint8_t **out, size_t *len);

/* Encodes and writes path atomically. 0 or a negative errno (logged). */
int ui_png_write(const char *path, const uint32_t *pix, unsigned w, unsigned h);

#endif

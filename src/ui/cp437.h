/*
 * Code page 437 (the VGA ROM font's character set) to Unicode, by glyph.
 */
#ifndef PCVM_UI_CP437_H
#define PCVM_UI_CP437_H

#include <stdint.h>

/* The Unicode code point that looks like CP437 byte c (all in the BMP). */
extern const uint16_t cp437_unicode[256];

/* Writes the UTF-8 encoding of byte c's glyph to out; returns its length
 * (1 to 3). */
int cp437_utf8(uint8_t c, char out[4]);

#endif

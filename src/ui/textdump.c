/*
 * Text-screen dumps: the character cells of a VGA text mode written as
 * UTF-8 lines. Attributes are dropped; the characters are mapped by glyph
 * (ui/cp437.c), so box drawing and the ROM font's pictures survive.
 */
#include "textdump.h"
#include "cp437.h"
#include "writefile.h"
#include "../chipset/vga.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *textdump_format(const struct vga_text *t)
{
	/* at most 3 bytes per cell plus a newline per row */
	size_t cap = (size_t)t->rows * (t->cols * 3 + 1) + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = 0;
	for (unsigned r = 0; r < t->rows; r++) {
		size_t keep = n;
		for (unsigned c = 0; c < t->cols; c++) {
			uint8_t ch = t->cell[(size_t)r * t->cols + c].ch;
			n += (size_t)cp437_utf8(ch, out + n);
			if (ch != 0x00 && ch != 0x20 && ch != 0xff)
				keep = n;
		}
		n = keep;
		out[n++] = '\n';
	}
	out[n] = '\0';
	return out;
}

int textdump_write(struct vga *v, const char *path)
{
	struct vga_text t = { 0 };
	int err = vga_get_text(v, &t);
	if (err == -ENOTSUP) {
		vga_text_free(&t);
		return ui_write_file(path, "", 0);
	}
	if (err) {
		vga_text_free(&t);
		return err;
	}
	char *s = textdump_format(&t);
	vga_text_free(&t);
	if (!s)
		return -ENOMEM;
	err = ui_write_file(path, s, strlen(s));
	free(s);
	return err;
}

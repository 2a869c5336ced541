/*
 * Writes an initramfs archive: the "newc" cpio format the Linux kernel
 * unpacks into its root file system (the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst): per entry a
 * 110-byte ASCII header ("070701" and thirteen 8-digit hex fields), the
 * NUL-terminated name padded to 4 bytes, the data padded to 4 bytes, and a
 * last entry named "TRAILER!!!". The tests build their initramfs with it
 * because cpio is not installed on a fresh machine.
 *
 * Input (a file, or standard input): one entry a line, '#' starts a comment.
 *   dir   NAME MODE
 *   file  NAME MODE HOST-PATH
 *   slink NAME TARGET
 *   nod   NAME MODE c|b MAJOR MINOR
 * MODE in octal, owner root. The archive goes to standard output.
 *
 * Usage: mkinitramfs [LIST]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_DIR 0040000u
#define S_REG 0100000u
#define S_LNK 0120000u
#define S_CHR 0020000u
#define S_BLK 0060000u

struct out {
	FILE *f;
	uint64_t pos;
	uint32_t ino;
};

static int put(struct out *o, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, o->f) != n)
		return -1;
	o->pos += n;
	return 0;
}

static int pad4(struct out *o)
{
	static const char zero[4];
	return put(o, zero, (4 - o->pos % 4) % 4);
}

static int entry(struct out *o, const char *name, uint32_t mode, uint32_t nlink,
		 uint32_t rmaj, uint32_t rmin, const void *data, uint32_t size)
{
	char hdr[111];
	uint32_t namesize = (uint32_t)strlen(name) + 1;
	/* fields: ino mode uid gid nlink mtime filesize devmajor devminor
	 * rdevmajor rdevminor namesize check */
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 o->ino++, mode, 0u, 0u, nlink, 0u, size, 0u, 0u, rmaj, rmin,
		 namesize, 0u);
	if (put(o, hdr, 110) || put(o, name, namesize) || pad4(o) ||
	    put(o, data, size) || pad4(o))
		return -1;
	return 0;
}

static int add_file(struct out *o, const char *name, uint32_t mode, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "mkinitramfs: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > 0x7fffffff) {
		fprintf(stderr, "mkinitramfs: %s: not a regular file under 2 GiB\n", path);
		fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n ? n : 1);
	int rc = -1;
	if (buf && fread(buf, 1, n, f) == n)
		rc = entry(o, name, S_REG | mode, 1, 0, 0, buf, (uint32_t)n);
	else
		fprintf(stderr, "mkinitramfs: %s: read failed\n", path);
	free(buf);
	fclose(f);
	return rc;
}

/* One list line; returns 0, or -1 after saying what is wrong. */
static int line(struct out *o, char *s, const char *list, int lineno)
{
	char *hash = strchr(s, '#');
	if (hash)
		*hash = 0;
	char *tok[7];
	int n = 0;
	for (char *t = strtok(s, " \t\r\n"); t && n < 7; t = strtok(NULL, " \t\r\n"))
		tok[n++] = t;
	if (n == 0)
		return 0;
	const char *name = tok[1];
	while (n > 1 && *name == '/') /* names in the archive are relative */
		name++;
	char *end = NULL;
	unsigned long mode = n > 2 ? strtoul(tok[2], &end, 8) : 0;
	int mode_ok = end && !*end && mode <= 07777;
	if (!strcmp(tok[0], "dir") && n == 3 && mode_ok)
		return entry(o, name, S_DIR | (uint32_t)mode, 2, 0, 0, NULL, 0);
	if (!strcmp(tok[0], "file") && n == 4 && mode_ok)
		return add_file(o, name, (uint32_t)mode, tok[3]);
	if (!strcmp(tok[0], "slink") && n == 3)
		return entry(o, name, S_LNK | 0777, 1, 0, 0, tok[2], (uint32_t)strlen(tok[2]));
	if (!strcmp(tok[0], "nod") && n == 6 && mode_ok &&
	    (!strcmp(tok[3], "c") || !strcmp(tok[3], "b"))) {
		uint32_t type = tok[3][0] == 'c' ? S_CHR : S_BLK;
		return entry(o, name, type | (uint32_t)mode, 1,
			     (uint32_t)strtoul(tok[4], NULL, 0),
			     (uint32_t)strtoul(tok[5], NULL, 0), NULL, 0);
	}
	fprintf(stderr, "mkinitramfs: %s:%d: expected 'dir NAME MODE', 'file NAME MODE PATH', "
			"'slink NAME TARGET' or 'nod NAME MODE c|b MAJOR MINOR'\n",
		list, lineno);
	return -1;
}

int main(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: mkinitramfs [LIST] > archive.cpio\n");
		return 2;
	}
	const char *list = argc == 2 ? argv[1] : "<stdin>";
	FILE *in = argc == 2 ? fopen(argv[1], "r") : stdin;
	if (!in) {
		fprintf(stderr, "mkinitramfs: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	struct out o = { stdout, 0, 1 };
	char buf[4096];
	int lineno = 0;
	while (fgets(buf, sizeof(buf), in)) {
		if (line(&o, buf, list, ++lineno))
			return 1;
	}
	if (entry(&o, "TRAILER!!!", 0, 1, 0, 0, NULL, 0) || fflush(stdout)) {
		fprintf(stderr, "mkinitramfs: write failed\n");
		return 1;
	}
	return 0;
}

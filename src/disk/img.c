/*
 * `pcvm img`: create, inspect, convert and check disk images with pcvm's
 * own block layer, so users need no second tool. The commands and their
 * habits (-f, -O, -b, -F, -o key=value, exit statuses of check) follow
 * those of QEMU's qemu-img that users already know; the formats are the
 * ones src/disk implements.
 */
#include "img.h"
#include "block_int.h"
#include "../cli.h"
#include "../log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_LEAKS 3

static const char help_text[] =
	"Usage: pcvm img COMMAND [OPTION...] ARGUMENTS\n"
	"Create, inspect, convert and check disk images: raw, qcow2 (versions 2\n"
	"and 3) and vhd (fixed, dynamic, differencing).\n"
	"\n"
	"Commands:\n"
	"  create [-f FMT] [-o OPTS] [-b BACKING [-F BFMT]] FILE [SIZE]\n"
	"        Make an empty image of SIZE bytes (K, M, G, T suffixes; rounded\n"
	"        up to 512 bytes, and for vhd to whole cylinders). With -b, SIZE\n"
	"        defaults to the backing file's. An existing FILE is replaced.\n"
	"  info [-f FMT] [--json] FILE\n"
	"        Format, virtual size, disk usage, format details and the\n"
	"        backing chain.\n"
	"  convert [-f FMT] [-O FMT] [-o OPTS] [-p] SOURCE DEST\n"
	"        Copy SOURCE, read through its backing chain, into a new image\n"
	"        DEST. Areas that read as zeros are not written, so DEST stays\n"
	"        sparse. Progress goes to stderr when it is a terminal.\n"
	"  check [-f FMT] [-r] FILE\n"
	"        Verify the metadata: qcow2 refcounts, L1/L2 tables and copied\n"
	"        flags; VHD checksums and block table. Raw images have none.\n"
	"\n"
	"Options:\n"
	"  -f FMT      format of the input: raw, qcow2 or vhd (default: probed\n"
	"              from the content)\n"
	"  -O FMT      format of the output of convert (default raw)\n"
	"  -b FILE     backing file (qcow2) or parent disk (vhd, must be a vhd);\n"
	"              a relative name is relative to the new image's directory\n"
	"  -F FMT      format of the backing file (default: probed when opened)\n"
	"  -o OPTS     comma-separated format options:\n"
	"                cluster_size=SIZE   qcow2 cluster, 512 to 2M (default 64K)\n"
	"                compat=v2|v3        qcow2 version (also 0.10|1.1; default v3)\n"
	"                subformat=dynamic|fixed   vhd kind (default dynamic)\n"
	"                block_size=SIZE     vhd dynamic block (default 2M)\n"
	"  -p          show convert's progress even when stderr is no terminal\n"
	"  -r          repair what check finds in refcounts (leaks and errors)\n"
	"  --json      info as one JSON object\n"
	"  -h, --help  this text\n"
	"\n"
	"Exit status: 0 success (check: no problems); 1 runtime error (check:\n"
	"could not finish); 2 usage error or bad image (check: corruption found);\n"
	"3 check found only leaked clusters (wasted space, data safe).\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

static bool valid_format(const char *f)
{
	return !strcmp(f, "raw") || !strcmp(f, "qcow2") || !strcmp(f, "vhd");
}

static int parse_size(const char *what, const char *s, uint64_t *out)
{
	if (cli_parse_size(s, 1, out))
		return usage("%s '%s': not a size; give bytes with an optional K, M, "
			     "G or T suffix (e.g. 10G)", what, s);
	return 0;
}

/* -o cluster_size=...,compat=...,subformat=...,block_size=... */
static int parse_o(char *opts, struct block_create_opts *o)
{
	enum { O_CLUSTER, O_COMPAT, O_SUBFORMAT, O_BLOCK };
	char *const keys[] = { "cluster_size", "compat", "subformat", "block_size", NULL };
	while (*opts) {
		char *val;
		char *start = opts;
		int k = getsubopt(&opts, keys, &val);
		if (k < 0)
			return usage("-o '%s': unknown option; use cluster_size, compat, "
				     "subformat or block_size", start);
		if (!val)
			return usage("-o %s: needs a value (%s=...)", keys[k], keys[k]);
		uint64_t v;
		switch (k) {
		case O_CLUSTER:
		case O_BLOCK:
			if (parse_size(keys[k], val, &v))
				return EXIT_USAGE;
			if (!v || v > (256u << 20) || (v & (v - 1)))
				return usage("-o %s=%s: give a power of two (e.g. 64K)", keys[k], val);
			if (k == O_CLUSTER)
				o->cluster_size = (uint32_t)v;
			else
				o->vhd_block_size = (uint32_t)v;
			break;
		case O_COMPAT:
			if (!strcmp(val, "v2") || !strcmp(val, "0.10") || !strcmp(val, "2"))
				o->qcow2_version = 2;
			else if (!strcmp(val, "v3") || !strcmp(val, "1.1") || !strcmp(val, "3"))
				o->qcow2_version = 3;
			else
				return usage("-o compat=%s: use v2 or v3", val);
			break;
		case O_SUBFORMAT:
			if (!strcmp(val, "fixed"))
				o->vhd_fixed = true;
			else if (!strcmp(val, "dynamic"))
				o->vhd_fixed = false;
			else
				return usage("-o subformat=%s: use dynamic or fixed", val);
			break;
		}
	}
	return 0;
}

/* Options that only one format understands must not be silently ignored. */
static int check_o_fits(const char *fmt, const struct block_create_opts *o)
{
	bool q = !strcmp(fmt, "qcow2"), v = !strcmp(fmt, "vhd");
	if ((o->cluster_size || o->qcow2_version) && !q)
		return usage("-o cluster_size/compat apply to qcow2, not %s", fmt);
	if ((o->vhd_fixed || o->vhd_block_size) && !v)
		return usage("-o subformat/block_size apply to vhd, not %s", fmt);
	return 0;
}

static void human(uint64_t n, char *buf, size_t size)
{
	static const char *units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, size, "%" PRIu64 " bytes", n);
	else
		snprintf(buf, size, "%.3g %s", v, units[u]);
}

static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'J' },
	{ "progress", no_argument, NULL, 'p' },
	{ "repair", no_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *fmt, *out_fmt, *backing, *backing_fmt;
	bool json, progress, repair, help;
	char *o;
	int nrest;
	char **rest;
};

/* Parses a command's options; `allowed` lists its short options. */
static int parse_args(const char *cmd, int argc, char **argv, const char *allowed,
		      struct args *a)
{
	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+f:O:b:F:o:prh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			a->help = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			if (optopt && strchr("fObFo", optopt))
				return usage("img %s: option '-%c' needs a value; see 'pcvm img --help'",
					     cmd, optopt);
			if (optopt)
				return usage("img %s: unknown option '-%c'; see 'pcvm img --help'",
					     cmd, optopt);
			return usage("img %s: unknown option '%s'; see 'pcvm img --help'", cmd,
				     argv[optind - 1]);
		}
		if (!strchr(allowed, c))
			return usage("img %s: option '%s' does not apply here; see "
				     "'pcvm img --help'", cmd, argv[optind - 1]);
		switch (c) {
		case 'f': a->fmt = optarg; break;
		case 'O': a->out_fmt = optarg; break;
		case 'b': a->backing = optarg; break;
		case 'F': a->backing_fmt = optarg; break;
		case 'o': a->o = optarg; break;
		case 'p': a->progress = true; break;
		case 'r': a->repair = true; break;
		case 'J': a->json = true; break;
		}
	}
	for (const char *f = a->fmt; f; f = NULL)
		if (!valid_format(f))
			return usage("img %s: -f '%s': unknown format; use raw, qcow2 or vhd", cmd, f);
	if (a->out_fmt && !valid_format(a->out_fmt))
		return usage("img %s: -O '%s': unknown format; use raw, qcow2 or vhd", cmd, a->out_fmt);
	if (a->backing_fmt && !valid_format(a->backing_fmt))
		return usage("img %s: -F '%s': unknown format; use raw, qcow2 or vhd", cmd, a->backing_fmt);
	a->rest = argv + optind;
	a->nrest = argc - optind;
	return 0;
}

static int open_image(struct block **b, const char *path, const char *fmt, bool writable)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return usage("%s: %s; check the path", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return usage("%s: is a directory; give an image file", path);
	struct block_open_opts opts = { .format = fmt, .readonly = !writable };
	return block_open(b, path, &opts) ? EXIT_USAGE : 0;
}

/* ---- create ---- */

static int cmd_create(int argc, char **argv)
{
	struct args a;
	int st = parse_args("create", argc, argv, "fbFo", &a);
	if (st || a.help) {
		if (a.help)
			fputs(help_text, stdout);
		return st;
	}
	if (a.nrest < 1 || a.nrest > 2)
		return usage("img create: give FILE and SIZE (e.g. 'pcvm img create -f "
			     "qcow2 disk.qcow2 10G')");
	struct block_create_opts o = {
		.format = a.fmt ? a.fmt : "raw",
		.backing = a.backing,
		.backing_format = a.backing_fmt,
	};
	if (a.backing_fmt && !a.backing)
		return usage("img create: -F needs -b");
	if (a.o && (st = parse_o(a.o, &o)))
		return st;
	if ((st = check_o_fits(o.format, &o)))
		return st;
	const char *file = a.rest[0];
	if (a.nrest == 2) {
		if (parse_size("img create: size", a.rest[1], &o.size))
			return EXIT_USAGE;
		if (o.size < 512)
			return usage("img create: size '%s' is too small; give at least 512 bytes",
				     a.rest[1]);
	} else if (!a.backing) {
		return usage("img create: give the size of %s (e.g. 10G)", file);
	}
	if (!*file)
		return usage("img create: empty file name");
	struct stat sst;
	if (!stat(file, &sst) && S_ISDIR(sst.st_mode))
		return usage("img create: %s is a directory; give a file name", file);
	if (block_create(file, &o))
		return EXIT_USAGE;
	char h[32];
	human(o.final_size, h, sizeof(h));
	printf("Created %s: %s, %s (%" PRIu64 " bytes)%s%s\n", file, o.format, h,
	       o.final_size, a.backing ? ", backing file " : "", a.backing ? a.backing : "");
	return 0;
}

/* ---- info ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static int cmd_info(int argc, char **argv)
{
	struct args a;
	int st = parse_args("info", argc, argv, "fJ", &a);
	if (st || a.help) {
		if (a.help)
			fputs(help_text, stdout);
		return st;
	}
	if (a.nrest != 1)
		return usage("img info: give one image file");
	struct block *b;
	if ((st = open_image(&b, a.rest[0], a.fmt, false)))
		return st;
	struct block_info in;
	int err = block_get_info(b, &in);
	if (err) {
		block_close(b);
		log_error("%s: %s", a.rest[0], strerror(-err));
		return EXIT_RUNTIME;
	}
	if (a.json) {
		printf("{\"filename\": ");
		json_str(a.rest[0]);
		printf(", \"format\": \"%s\", \"virtual-size\": %" PRIu64 ", \"actual-size\": %" PRIu64,
		       in.format, in.virtual_size, in.disk_usage);
		if (in.cluster_size)
			printf(", \"cluster-size\": %u", in.cluster_size);
		if (in.version)
			printf(", \"format-version\": %d, \"dirty\": %s, \"corrupt\": %s, \"snapshots\": %d",
			       in.version, in.dirty ? "true" : "false", in.corrupt ? "true" : "false",
			       in.snapshots);
		if (in.subformat)
			printf(", \"subformat\": \"%s\"", in.subformat);
		if (in.backing_file[0]) {
			printf(", \"backing-filename\": ");
			json_str(in.backing_file);
			if (in.backing_format[0]) {
				printf(", \"backing-format\": ");
				json_str(in.backing_format);
			}
		}
		printf(", \"backing-chain\": [");
		bool first = true;
		for (struct block *c = block_backing(b); c; c = block_backing(c)) {
			printf("%s{\"filename\": ", first ? "" : ", ");
			json_str(block_name(c));
			printf(", \"format\": \"%s\", \"virtual-size\": %" PRIu64 "}",
			       block_format(c), block_size(c));
			first = false;
		}
		printf("]}\n");
	} else {
		char h[32], u[32];
		human(in.virtual_size, h, sizeof(h));
		human(in.disk_usage, u, sizeof(u));
		printf("image: %s\nfile format: %s\nvirtual size: %s (%" PRIu64 " bytes)\n"
		       "disk size: %s\n", a.rest[0], in.format, h, in.virtual_size, u);
		if (in.subformat)
			printf("vhd type: %s\n", in.subformat);
		if (in.cluster_size)
			printf("%s: %u\n", strcmp(in.format, "vhd") ? "cluster size" : "block size",
			       in.cluster_size);
		if (in.version)
			printf("format version: %d\nsnapshots: %d\ndirty: %s\ncorrupt: %s\n",
			       in.version, in.snapshots, in.dirty ? "yes" : "no",
			       in.corrupt ? "yes" : "no");
		if (in.backing_file[0]) {
			printf("backing file: %s", in.backing_file);
			if (in.backing_format[0])
				printf(" (format %s)", in.backing_format);
			printf("\n");
			for (struct block *c = block_backing(b); c; c = block_backing(c)) {
				human(block_size(c), h, sizeof(h));
				printf("  backed by %s: %s, %s\n", block_name(c), block_format(c), h);
			}
		}
	}
	block_close(b);
	return 0;
}

/* ---- convert ---- */

static void progress(bool show, uint64_t done, uint64_t total, int *last)
{
	if (!show)
		return;
	int pm = total ? (int)(done * 1000 / total) : 1000;
	if (pm == *last)
		return;
	*last = pm;
	fprintf(stderr, "\r    (%d.%d/100%%)", pm / 10, pm % 10);
	if (done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static int cmd_convert(int argc, char **argv)
{
	struct args a;
	int st = parse_args("convert", argc, argv, "fOop", &a);
	if (st || a.help) {
		if (a.help)
			fputs(help_text, stdout);
		return st;
	}
	if (a.nrest != 2)
		return usage("img convert: give SOURCE and DEST");
	const char *src = a.rest[0], *dst = a.rest[1];
	struct block_create_opts o = { .format = a.out_fmt ? a.out_fmt : "raw" };
	if (a.o && (st = parse_o(a.o, &o)))
		return st;
	if ((st = check_o_fits(o.format, &o)))
		return st;
	struct stat ss, ds;
	if (!stat(src, &ss) && !stat(dst, &ds) && ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)
		return usage("img convert: %s and %s are the same file", src, dst);
	if (!stat(dst, &ds) && S_ISDIR(ds.st_mode))
		return usage("img convert: %s is a directory; give a file name", dst);
	struct block *in;
	if ((st = open_image(&in, src, a.fmt, false)))
		return st;
	uint64_t size = block_size(in);
	o.size = size;
	if (block_create(dst, &o)) {
		block_close(in);
		return EXIT_USAGE;
	}
	struct block *out;
	struct block_open_opts oo = { .format = o.format, .cache = BLOCK_CACHE_UNSAFE };
	int err = block_open(&out, dst, &oo);
	if (err) {
		block_close(in);
		unlink(dst);
		return EXIT_RUNTIME;
	}
	if (block_size(out) < size) {
		log_error("%s: made %" PRIu64 " bytes instead of %" PRIu64, dst, block_size(out), size);
		err = -EIO;
	}
	const size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	if (!buf)
		err = -ENOMEM;
	bool show = a.progress || isatty(STDERR_FILENO);
	int last = -1;
	const char *where = src;
	for (uint64_t off = 0; off < size && !err;) {
		uint64_t n = size - off < chunk - off % chunk ? size - off : chunk - off % chunk;
		uint64_t run;
		int z = block_zero_run(in, off, n, &run);
		if (z < 0) {
			err = z;
			break;
		}
		if (!z) {
			if ((err = block_read(in, off, buf, (size_t)run)))
				break;
			if (!block_all_zero(buf, (size_t)run) &&
			    (err = block_write(out, off, buf, (size_t)run))) {
				where = dst;
				break;
			}
		}
		off += run;
		progress(show, off, size, &last);
	}
	if (!size)
		progress(show, 0, 0, &last);
	free(buf);
	block_close(in);
	int cerr = block_close(out);
	if (!err && cerr) {
		err = cerr;
		where = dst;
	}
	if (err) {
		if (show)
			fputc('\n', stderr);
		log_error("%s: %s; %s was removed", where, strerror(-err), dst);
		unlink(dst);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* ---- check ---- */

static int cmd_check(int argc, char **argv)
{
	struct args a;
	int st = parse_args("check", argc, argv, "fr", &a);
	if (st || a.help) {
		if (a.help)
			fputs(help_text, stdout);
		return st;
	}
	if (a.nrest != 1)
		return usage("img check: give one image file");
	struct block *b;
	if ((st = open_image(&b, a.rest[0], a.fmt, a.repair)))
		return st;
	struct block_check r;
	int err = block_check(b, &r, a.repair, stdout);
	int cerr = block_close(b);
	if (err || cerr) {
		log_error("%s: the check could not finish: %s", a.rest[0], strerror(-(err ? err : cerr)));
		return EXIT_RUNTIME;
	}
	if (r.repaired)
		printf("%" PRIu64 " problem(s) repaired.\n", r.repaired);
	if (r.check_errors)
		printf("%" PRIu64 " area(s) could not be read; the check is incomplete.\n",
		       r.check_errors);
	if (r.corruptions) {
		printf("%" PRIu64 " error(s) found: data may be corrupted, and writing "
		       "the image may corrupt more.\n", r.corruptions);
		if (r.leaks)
			printf("%" PRIu64 " leaked cluster(s) found too.\n", r.leaks);
		return EXIT_USAGE;
	}
	if (r.check_errors)
		return EXIT_RUNTIME;
	if (r.leaks) {
		printf("%" PRIu64 " leaked cluster(s) found: wasted space, no harm to the "
		       "data; 'pcvm img check -r' reclaims it.\n", r.leaks);
		return EXIT_LEAKS;
	}
	printf("No errors were found on %s.\n", a.rest[0]);
	return 0;
}

int img_main(int argc, char **argv)
{
	if (argc < 2)
		return usage("img: give a command (create, info, convert or check); "
			     "see 'pcvm img --help'");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(help_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "create"))
		return cmd_create(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return cmd_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return cmd_check(argc - 1, argv + 1);
	return usage("img: unknown command '%s'; use create, info, convert or check", cmd);
}

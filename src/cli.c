/*
 * Command-line parsing with glibc's argp (on top of getopt_long). The option
 * table below is the single source of the --help text. argp's own error
 * printing is switched off so that every usage error is exactly one line
 * that names the option or file at fault and how to fix it.
 */
#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "vcpu/accel.h"
#include "ui/display.h"
#include "ui/script.h"
#include "ui/writefile.h"

#include <argp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PCVM_VERSION
#define PCVM_VERSION "0.1"
#endif

enum {
	OPT_BIOS = 0x100,
	OPT_HDA,
	OPT_DRIVE,
	OPT_SNAPSHOT,
	OPT_DISPLAY,
	OPT_SERIAL,
	OPT_TIMEOUT,
	OPT_DEBUGCON,
	OPT_DEBUG_EXIT,
	OPT_ACCEL_INFO,
	OPT_FDA,
	OPT_NO_REBOOT,
	OPT_HELP,
	OPT_USAGE,
	OPT_HDB,
	OPT_HDC,
	OPT_HDD,
	OPT_CDROM,
	OPT_BOOT,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_APPEND,
};

/* Automation options (src/ui/automation.c). */
enum {
	OPT_UNTIL_SERIAL = 0x300,
	OPT_UNTIL_SCREEN,
	OPT_UNTIL_STABLE,
	OPT_SCRIPT,
	OPT_REPORT,
	OPT_DETERMINISTIC,
	OPT_RTC_BASE,
};

/* Display options (src/ui/display.c). */
enum {
	OPT_SCREENSHOT = 0x200,
	OPT_SCREENSHOT_EVERY,
	OPT_SCREEN_TEXT,
};

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "Machine:", 1 },
	{ "memory", 'm', "SIZE", 0,
	  "Guest RAM (K, M, G suffixes; a bare number is MiB). Default 128M", 1 },
	{ "accel", 'a', "KIND", 0,
	  "Execution backend: kvm (Linux KVM), emu (software CPU), auto "
	  "(default: KVM with hardware virtualization, else emu), or help "
	  "(what this host offers)", 1 },
	{ "bios", OPT_BIOS, "FILE", 0,
	  "Firmware image mapped below 4 GiB (default " CFG_DEFAULT_BIOS ")", 1 },
	{ NULL, 0, NULL, 0, "Disks:", 2 },
	{ "hda", OPT_HDA, "FILE", 0,
	  "First IDE hard disk (also: a bare FILE argument)", 2 },
	{ "drive", OPT_DRIVE, "SPEC", 0,
	  "A disk or CD-ROM from sub-options: file=FILE (required), "
	  "format=raw|qcow2|vhd (default: probed from the content), "
	  "media=disk|cdrom, if=ide, index=0-3 (IDE position; default: the "
	  "first free one), snapshot=on|off, readonly=on|off, "
	  "cache=writeback|none|unsafe (default writeback: guest flushes reach "
	  "the host disk; none: also bypass the host page cache; unsafe: "
	  "ignore guest flushes)", 2 },
	{ "snapshot", OPT_SNAPSHOT, NULL, 0,
	  "Guest writes go to temporary overlays that vanish at exit; the "
	  "image files are only read", 2 },
	{ "hdb", OPT_HDB, "FILE", 0, "IDE primary slave hard disk", 2 },
	{ "hdc", OPT_HDC, "FILE", 0,
	  "IDE secondary master hard disk (instead of the CD-ROM drive)", 2 },
	{ "hdd", OPT_HDD, "FILE", 0, "IDE secondary slave hard disk", 2 },
	{ "cdrom", OPT_CDROM, "FILE", 0,
	  "CD/DVD image (ISO) in the CD-ROM drive, the IDE secondary master; "
	  "read-only", 2 },
	{ NULL, 0, NULL, 0, "Boot:", 5 },
	{ "boot", OPT_BOOT, "ORDER", 0,
	  "Boot device order: letters a (floppy), c (first hard disk), d (CD-ROM); "
	  "default cad", 5 },
	{ "kernel", OPT_KERNEL, "FILE", 0,
	  "Boot this Linux bzImage directly, without firmware", 5 },
	{ "initrd", OPT_INITRD, "FILE", 0, "Initial ramdisk for --kernel", 5 },
	{ "append", OPT_APPEND, "TEXT", 0, "Kernel command line for --kernel", 5 },
	{ "fda", OPT_FDA, "FILE", 0,
	  "Floppy disk image for drive A (720 KB, 1.2 MB, 1.44 MB or 2.88 MB; "
	  "write-protected if the file is read-only)", 2 },
	{ NULL, 0, NULL, 0, "Display and I/O:", 3 },
	{ "display", OPT_DISPLAY, "KIND", 0,
	  "none, or curses (default: curses when standard input and output are a "
	  "terminal and --serial is not stdio, none otherwise)", 3 },
	{ "serial", OPT_SERIAL, "WHERE", 0,
	  "COM1 to stdio, none or file:PATH (default: stdio with --display "
	  "none, none otherwise)", 3 },
	{ "debugcon", OPT_DEBUGCON, "WHERE", 0,
	  "Debug console (ports 0xE9 and 0x402) to stdio, stderr or file:PATH", 3 },
	{ "debug-exit", OPT_DEBUG_EXIT, "PORT", OPTION_ARG_OPTIONAL,
	  "I/O port (default 0xf4) whose written value becomes pcvm's exit "
	  "status", 3 },
	{ "screenshot", OPT_SCREENSHOT, "FILE", 0,
	  "Write the screen as PNG to FILE when pcvm ends", 3 },
	{ "screenshot-every", OPT_SCREENSHOT_EVERY, "SPEC", 0,
	  "SPEC is SECONDS:PATTERN: write the screen as PNG every SECONDS of guest "
	  "time to files named by PATTERN with one number, e.g. 2:shots/%04d.png "
	  "(shot 1 at SECONDS)", 3 },
	{ "screen-text", OPT_SCREEN_TEXT, "FILE", 0,
	  "Write the text screen as UTF-8 to FILE when pcvm ends (empty in graphics "
	  "modes); with --screenshot-every also beside each shot, as .txt", 3 },
	{ NULL, 0, NULL, 0, "Running:", 4 },
	{ "timeout", OPT_TIMEOUT, "SECONDS", 0,
	  "End after this many seconds (of guest time under --deterministic) with "
	  "exit status 3, saying what was still awaited", 4 },
	{ "no-reboot", OPT_NO_REBOOT, NULL, 0,
	  "End when the guest resets the machine (exit status 4, or 5 for a "
	  "triple fault) instead of rebooting it", 4 },
	{ "quiet", 'q', NULL, 0, "Print only errors", 4 },
	{ "verbose", 'v', NULL, 0, "Say more (repeat for debug output)", 4 },
	{ NULL, 0, NULL, 0, "Automation (CI checks, install timing):", 6 },
	{ "until-serial", OPT_UNTIL_SERIAL, "REGEX", 0,
	  "End with status 0 once COM1's output matches REGEX (POSIX extended, line "
	  "by line), whatever --serial says", 6 },
	{ "until-screen", OPT_UNTIL_SCREEN, "REGEX", 0,
	  "End with status 0 once the text screen matches REGEX (the text "
	  "--screen-text writes)", 6 },
	{ "until-stable", OPT_UNTIL_STABLE, "SECONDS", 0,
	  "End with status 0 once the screen shows something and has not changed "
	  "for SECONDS of guest time", 6 },
	{ "script", OPT_SCRIPT, "FILE", 0,
	  "Run FILE's commands (- for standard input) against the guest: "
	  "wait-serial, wait-screen, wait-stable, type, key, sleep, screenshot, "
	  "screen-text, expect-screen, mark, swap-cdrom, eject, poweroff, "
	  "wait-poweroff, quit; "
	  "status 0 when it ends, 6 when a step fails (see the manual)", 6 },
	{ "report", OPT_REPORT, "FILE", 0,
	  "Write a JSON timing report to FILE when pcvm ends: milestones with host "
	  "and guest times, instructions executed", 6 },
	{ "deterministic", OPT_DETERMINISTIC, NULL, 0,
	  "Software CPU only: guest time counts instructions and the RTC starts at a "
	  "fixed date, so the same guest and script give the same screens on every run", 6 },
	{ "rtc-base", OPT_RTC_BASE, "DATE", 0,
	  "Start the RTC at DATE, UTC (2024-01-01, 2024-01-01T12:00:00 or @SECONDS) "
	  "instead of the host's time (--deterministic: 2024-01-01)", 6 },
	{ NULL, 0, NULL, 0, "Information:", -1 },
	{ "help", OPT_HELP, NULL, 0, "Give this help list", -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print the program version", -1 },
	{ "accel-info", OPT_ACCEL_INFO, NULL, 0,
	  "Print what this host offers for running guests (KVM, hardware "
	  "virtualization) and which backend auto takes", -1 },
	{ 0 }
};

static const char doc[] =
	"pcvm -- boot an x86 PC virtual machine from one command line."
	"\vWith no DISK, pcvm boots its built-in demo guest.\n\n"
	"Exit status:\n"
	"  0  the guest powered off, an --until condition was met or the script ended\n"
	"  1  runtime error\n"
	"  2  usage error (bad option, size or file)\n"
	"  3  --timeout expired\n"
	"  4  the guest reset the machine under --no-reboot\n"
	"  5  the guest's CPU triple-faulted under --no-reboot\n"
	"  6  a --script step failed (a wait timed out, a screen differed, ...)\n"
	"  7  the guest powered off while an --until condition or the script waited\n"
	"  N  the value the guest wrote to the --debug-exit port\n"
	"  128+N  ended by signal N (Ctrl-A x in the terminal display: 130)\n";

static const char args_doc[] = "[DISK]";

struct parse_state {
	struct vm_config *cfg;
	const char *script_path;
	bool done;
	bool reported; /* a usage error was already printed */
	bool snapshot; /* --snapshot: every drive gets snapshot=on */
	const struct argp *argp;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	return EINVAL;
}

int cli_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	uint64_t unit = default_unit;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'B': unit = 1; break;
		case 'K': unit = 1ull << 10; break;
		case 'M': unit = 1ull << 20; break;
		case 'G': unit = 1ull << 30; break;
		case 'T': unit = 1ull << 40; break;
		default: return -EINVAL;
		}
		end++;
		/* accept K, KB, KiB spellings */
		if (unit != 1) {
			if (*end == 'i')
				end++;
			if (toupper((unsigned char)*end) == 'B')
				end++;
		}
		if (*end)
			return -EINVAL;
	}
	if (v && unit > UINT64_MAX / v)
		return -ERANGE;
	*out = v * unit;
	return 0;
}

int cli_parse_date(const char *s, int64_t *out)
{
	if (*s == '@') {
		char *end;
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || !isdigit((unsigned char)s[1]))
			return -EINVAL;
		*out = v;
		return 0;
	}
	struct tm tm = { 0 };
	int used = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3 ||
	    used != 10)
		return -EINVAL;
	const char *p = s + used;
	if (*p == 'T' || *p == ' ') {
		used = 0;
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 3 ||
		    used != 8)
			return -EINVAL;
		p += 1 + used;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -EINVAL;
	if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		return -EINVAL;
	int mday = tm.tm_mday, mon = tm.tm_mon;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	/* timegm normalizes 2023-02-30 to March: refuse dates that do not exist */
	if (tm.tm_mday != mday || tm.tm_mon != mon - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

static int check_regex(const char *opt, const char *re)
{
	regex_t r;
	if (!*re)
		return usage_error("%s: empty REGEX; give the text to wait for", opt);
	int rc = regcomp(&r, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
	if (rc) {
		char msg[256];
		regerror(rc, &r, msg, sizeof(msg));
		return usage_error("%s '%s': bad regular expression (%s); write a POSIX "
				   "extended regular expression", opt, re, msg);
	}
	regfree(&r);
	return 0;
}

static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || psize <= 0)
		return UINT64_MAX;
	return (uint64_t)pages * (uint64_t)psize;
}

/* A file the guest will read: it must exist, be readable and be a regular
 * file or a block device. */
static int check_input_file(const char *opt, const char *path, bool want_write)
{
	struct stat st;
	if (!*path)
		return usage_error("%s: empty file name; give the path of an image file", opt);
	if (stat(path, &st) < 0)
		return usage_error("%s %s: %s; check the path", opt, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return usage_error("%s %s: is a directory; give an image file", opt, path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return usage_error("%s %s: not a regular file or block device", opt, path);
	if (access(path, want_write ? R_OK | W_OK : R_OK) < 0)
		return usage_error("%s %s: %s; fix its permissions%s", opt, path,
				   strerror(errno),
				   want_write ? " (the guest writes to it)" : "");
	return 0;
}

static int add_drive(struct vm_config *cfg, const char *opt, struct drive_config d)
{
	if (d.index < 0)
		for (d.index = 0; d.index < CFG_MAX_DRIVES; d.index++) {
			bool taken = false;
			for (int i = 0; i < cfg->ndrives; i++)
				taken |= cfg->drives[i].index == d.index;
			if (!taken)
				break;
		}
	for (int i = 0; i < cfg->ndrives; i++)
		if (cfg->drives[i].index == d.index)
			return usage_error("%s: IDE position %d is already taken by %s; "
					   "give each disk once", opt, d.index,
					   cfg->drives[i].file);
	if (cfg->ndrives == CFG_MAX_DRIVES || d.index >= CFG_MAX_DRIVES)
		return usage_error("%s: too many drives (at most %d)", opt, CFG_MAX_DRIVES);
	/* Write access is checked once --snapshot, which may come later, is known. */
	int err = check_input_file(opt, d.file, false);
	if (err)
		return err;
	d.opt = opt;
	cfg->drives[cfg->ndrives++] = d;
	return 0;
}

static int on_off(const char *key, const char *val, bool *out)
{
	if (!strcmp(val, "on"))
		*out = true;
	else if (!strcmp(val, "off"))
		*out = false;
	else
		return usage_error("--drive: %s=%s: use %s=on or %s=off", key, val, key, key);
	return 0;
}

/* --drive file=F,format=...,media=...,if=ide,index=N,snapshot=..,readonly=..,cache=..
 * The values stay in argv, which getsubopt cuts into pieces. */
static int parse_drive(struct vm_config *cfg, char *spec)
{
	enum { D_FILE, D_FORMAT, D_MEDIA, D_IF, D_INDEX, D_SNAPSHOT, D_READONLY, D_CACHE };
	char *const keys[] = { "file", "format", "media", "if", "index", "snapshot",
			       "readonly", "cache", NULL };
	struct drive_config d = { .media = DRIVE_DISK, .index = -1 };
	bool ro_set = false;
	if (!*spec)
		return usage_error("--drive: empty; give at least file=FILE");
	while (*spec) {
		char *val, *start = spec;
		int k = getsubopt(&spec, keys, &val);
		if (k < 0)
			return usage_error("--drive: unknown sub-option '%.*s'; use file, format, "
					   "media, if, index, snapshot, readonly or cache",
					   (int)strcspn(start, "="), start);
		if (!val || (!*val && k != D_FILE))
			return usage_error("--drive: sub-option '%s' needs a value (%s=...)",
					   keys[k], keys[k]);
		int err = 0;
		switch (k) {
		case D_FILE:
			d.file = val;
			break;
		case D_FORMAT:
			if (strcmp(val, "raw") && strcmp(val, "qcow2") && strcmp(val, "vhd"))
				return usage_error("--drive: format=%s: use raw, qcow2 or vhd", val);
			d.format = val;
			break;
		case D_MEDIA:
			if (!strcmp(val, "disk"))
				d.media = DRIVE_DISK;
			else if (!strcmp(val, "cdrom"))
				d.media = DRIVE_CDROM;
			else
				return usage_error("--drive: media=%s: use disk or cdrom", val);
			break;
		case D_IF:
			if (strcmp(val, "ide"))
				return usage_error("--drive: if=%s: only if=ide is available", val);
			break;
		case D_INDEX: {
			char *end;
			long i = strtol(val, &end, 10);
			if (*end || end == val || i < 0 || i > 3)
				return usage_error("--drive: index=%s: give an IDE position from 0 "
						   "to 3 (0-1 primary, 2-3 secondary)", val);
			d.index = (int)i;
			break;
		}
		case D_SNAPSHOT:
			err = on_off("snapshot", val, &d.snapshot);
			break;
		case D_READONLY:
			err = on_off("readonly", val, &d.readonly);
			ro_set = true;
			break;
		case D_CACHE:
			if (!strcmp(val, "writeback"))
				d.cache = BLOCK_CACHE_WRITEBACK;
			else if (!strcmp(val, "none"))
				d.cache = BLOCK_CACHE_NONE;
			else if (!strcmp(val, "unsafe"))
				d.cache = BLOCK_CACHE_UNSAFE;
			else
				return usage_error("--drive: cache=%s: use writeback, none or unsafe", val);
			break;
		}
		if (err)
			return err;
	}
	if (!d.file)
		return usage_error("--drive: file=FILE is missing; name the image");
	if (d.media == DRIVE_CDROM) {
		if (ro_set && !d.readonly)
			return usage_error("--drive %s: a CD-ROM is read-only; leave out "
					   "readonly=off", d.file);
		d.readonly = true;
	}
	return add_drive(cfg, "--drive", d);
}

/* The CD-ROM drive at IDE position 2: read-only media. */
static int add_cdrom(struct vm_config *cfg, const char *file)
{
	return add_drive(cfg, "--cdrom", (struct drive_config){
		.file = file, .media = DRIVE_CDROM, .index = 2, .readonly = true,
	});
}

static int check_boot_order(const char *order)
{
	if (!*order)
		return usage_error("--boot: empty order; give letters a, c or d (e.g. dc)");
	for (const char *c = order; *c; c++) {
		if (!strchr("acd", *c))
			return usage_error("--boot %s: unknown device '%c'; use a (floppy), "
					   "c (hard disk) or d (CD-ROM)", order, *c);
		if (strchr(c + 1, *c))
			return usage_error("--boot %s: device '%c' given twice; give each "
					   "once", order, *c);
	}
	return 0;
}

static const struct argp_option *find_long(const char *name, size_t len, int *hits)
{
	const struct argp_option *hit = NULL;
	*hits = 0;
	for (const struct argp_option *o = options; o->name || o->key || o->doc; o++) {
		if (!o->name || strncmp(o->name, name, len))
			continue;
		if (strlen(o->name) == len) {
			*hits = 1;
			return o;
		}
		(*hits)++;
		hit = o;
	}
	return hit;
}

static const struct argp_option *find_short(int key)
{
	for (const struct argp_option *o = options; o->name || o->key || o->doc; o++)
		if (o->key == key && key < 0x100)
			return o;
	return NULL;
}

/* With ARGP_NO_ERRS, argp reports only that getopt failed, not where. Walk
 * argv the way getopt does and say in one line what is wrong. */
static void report_bad_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "--"))
			break;
		if (!strncmp(arg, "--", 2)) {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			int hits;
			const struct argp_option *o = find_long(name, len, &hits);
			if (!o) {
				usage_error("unknown option '--%.*s'; see 'pcvm --help' for the list",
					    (int)len, name);
				return;
			}
			if (hits > 1) {
				usage_error("option '--%.*s' is ambiguous; spell it out "
					    "(see 'pcvm --help')", (int)len, name);
				return;
			}
			if (!o->arg && eq) {
				usage_error("option '--%s' takes no value; see 'pcvm --help'", o->name);
				return;
			}
			if (o->arg && !eq && ++i >= argc) {
				usage_error("option '--%s' needs a value (%s); see 'pcvm --help'",
					    o->name, o->arg);
				return;
			}
			continue;
		}
		if (arg[0] != '-' || !arg[1])
			continue;
		for (const char *c = arg + 1; *c; c++) {
			const struct argp_option *o = find_short((unsigned char)*c);
			if (!o) {
				usage_error("unknown option '-%c'; see 'pcvm --help' for the list", *c);
				return;
			}
			if (o->arg) {
				if (!c[1] && ++i >= argc) {
					usage_error("option '-%c' needs a value (%s); see 'pcvm --help'",
						    *c, o->arg);
					return;
				}
				break;
			}
		}
	}
	usage_error("bad command line; see 'pcvm --help'");
}

static error_t parse_opt1(int key, char *arg, struct argp_state *state);

/* --accel help and --accel-info: report and end with status 0. */
static error_t print_accel_info(struct parse_state *ps)
{
	struct accel_host h;
	accel_probe(&h, true);
	accel_print_info(&h, stdout);
	ps->done = true;
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	error_t err = parse_opt1(key, arg, state);
	if (err && err != ARGP_ERR_UNKNOWN)
		ps->reported = true;
	return err;
}

static error_t parse_opt1(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct vm_config *cfg = ps->cfg;
	int err;

	switch (key) {
	case 'm': {
		uint64_t size;
		err = cli_parse_size(arg, 1ull << 20, &size);
		if (err)
			return usage_error("--memory '%s': not a size; give a number with "
					   "an optional K, M or G suffix (e.g. 512M)", arg);
		if (size < (1ull << 20))
			return usage_error("--memory %s: too small; give at least 1M", arg);
		uint64_t host = host_ram_bytes();
		if (size > host)
			return usage_error("--memory %s: more than this host's %llu MiB of "
					   "RAM; give a smaller size", arg,
					   (unsigned long long)(host >> 20));
		cfg->mem_size = (size + 4095) & ~4095ull;
		return 0;
	}
	case 'a':
		if (!strcmp(arg, "auto"))
			cfg->accel = ACCEL_AUTO;
		else if (!strcmp(arg, "emu"))
			cfg->accel = ACCEL_EMU;
		else if (!strcmp(arg, "kvm"))
			cfg->accel = ACCEL_KVM;
		else if (!strcmp(arg, "help"))
			return print_accel_info(ps);
		else
			return usage_error("--accel '%s': unknown backend; use kvm, emu, "
					   "auto or help", arg);
		return 0;
	case OPT_ACCEL_INFO:
		return print_accel_info(ps);
	case OPT_BIOS:
		cfg->bios = arg;
		return 0;
	case OPT_HDA:
		return add_drive(cfg, "--hda", (struct drive_config){ .file = arg, .index = 0 });
	case OPT_DRIVE:
		return parse_drive(cfg, arg);
	case OPT_SNAPSHOT:
		ps->snapshot = true;
		return 0;
	case OPT_HDB:
		return add_drive(cfg, "--hdb", (struct drive_config){ .file = arg, .index = 1 });
	case OPT_HDC:
		return add_drive(cfg, "--hdc", (struct drive_config){ .file = arg, .index = 2 });
	case OPT_HDD:
		return add_drive(cfg, "--hdd", (struct drive_config){ .file = arg, .index = 3 });
	case OPT_CDROM:
		return add_cdrom(cfg, arg);
	case OPT_BOOT:
		cfg->boot_order = arg;
		return check_boot_order(arg);
	case OPT_KERNEL:
		cfg->kernel = arg;
		return check_input_file("--kernel", arg, false);
	case OPT_INITRD:
		cfg->initrd = arg;
		return check_input_file("--initrd", arg, false);
	case OPT_APPEND:
		cfg->append = arg;
		return 0;
	case OPT_FDA:
		if (cfg->fda)
			return usage_error("--fda: drive A already has %s; give one floppy "
					   "image", cfg->fda);
		if ((err = check_input_file("--fda", arg, false)))
			return err;
		cfg->fda = arg;
		return 0;
	case OPT_NO_REBOOT:
		cfg->no_reboot = true;
		return 0;
	case OPT_DISPLAY:
		if (!strcmp(arg, "none"))
			cfg->display = DISPLAY_NONE;
		else if (!strcmp(arg, "curses"))
			cfg->display = DISPLAY_CURSES;
		else
			return usage_error("--display '%s': unknown display; use none or curses", arg);
		return 0;
	case OPT_SERIAL:
		if (!strcmp(arg, "stdio")) {
			cfg->serial = SERIAL_STDIO;
		} else if (!strcmp(arg, "none")) {
			cfg->serial = SERIAL_NONE;
		} else if (!strncmp(arg, "file:", 5) && arg[5]) {
			cfg->serial = SERIAL_FILE;
			cfg->serial_path = arg + 5;
		} else {
			return usage_error("--serial '%s': use stdio, none or file:PATH", arg);
		}
		return 0;
	case OPT_DEBUGCON:
		if (!strcmp(arg, "stdio") || !strcmp(arg, "stderr"))
			cfg->debugcon = arg;
		else if (!strncmp(arg, "file:", 5) && arg[5])
			cfg->debugcon = arg + 5;
		else
			return usage_error("--debugcon '%s': use stdio, stderr or file:PATH", arg);
		return 0;
	case OPT_DEBUG_EXIT: {
		cfg->debug_exit_port = 0xf4;
		if (arg) {
			char *end;
			errno = 0;
			unsigned long port = strtoul(arg, &end, 0);
			if (errno || end == arg || *end || port > 0xfffc)
				return usage_error("--debug-exit=%s: give an I/O port number "
						   "up to 0xfffc (e.g. 0xf4)", arg);
			cfg->debug_exit_port = (int)port;
		}
		return 0;
	}
	case OPT_SCREENSHOT:
	case OPT_SCREEN_TEXT: {
		const char *why, *opt = key == OPT_SCREENSHOT ? "--screenshot" : "--screen-text";
		if (ui_check_writable(arg, &why))
			return usage_error("%s %s: %s; give a file in a writable directory",
					   opt, arg, why);
		if (key == OPT_SCREENSHOT)
			cfg->screenshot = arg;
		else
			cfg->screen_text = arg;
		return 0;
	}
	case OPT_SCREENSHOT_EVERY: {
		char *end;
		const char *why;
		errno = 0;
		double t = strtod(arg, &end);
		if (errno || end == arg || *end != ':' || !(t >= 0.001) || t > 1e6)
			return usage_error("--screenshot-every '%s': give SECONDS:PATTERN with "
					   "SECONDS from 0.001 to 1000000, e.g. 2:shots/%%04d.png", arg);
		const char *pattern = end + 1;
		if (display_check_pattern(pattern, &why))
			return usage_error("--screenshot-every pattern '%s': %s", pattern, why);
		char first[4096];
		display_format_shot(pattern, 1, first, sizeof(first));
		if (ui_check_writable(first, &why))
			return usage_error("--screenshot-every %s: %s; create the directory or "
					   "give another pattern", first, why);
		cfg->shot_every = t;
		cfg->shot_pattern = pattern;
		return 0;
	}
	case OPT_TIMEOUT: {
		char *end;
		errno = 0;
		double t = strtod(arg, &end);
		if (errno || end == arg || *end || !(t > 0) || t > 1e7)
			return usage_error("--timeout '%s': give a positive number of seconds", arg);
		cfg->timeout = t;
		return 0;
	}
	case OPT_UNTIL_SERIAL:
	case OPT_UNTIL_SCREEN:
		if ((err = check_regex(key == OPT_UNTIL_SERIAL ? "--until-serial"
							       : "--until-screen", arg)))
			return err;
		if (key == OPT_UNTIL_SERIAL)
			cfg->until_serial = arg;
		else
			cfg->until_screen = arg;
		return 0;
	case OPT_UNTIL_STABLE: {
		char *end;
		errno = 0;
		double t = strtod(arg, &end);
		if (errno || end == arg || *end || !(t >= 0.001) || t > 1e6)
			return usage_error("--until-stable '%s': give seconds from 0.001 to "
					   "1000000", arg);
		cfg->until_stable = t;
		return 0;
	}
	case OPT_SCRIPT:
		if (ps->script_path)
			return usage_error("--script %s: already given (%s); give one script",
					   arg, ps->script_path);
		ps->script_path = arg;
		return 0;
	case OPT_REPORT: {
		const char *why;
		if (ui_check_writable(arg, &why))
			return usage_error("--report %s: %s; give a file in a writable directory",
					   arg, why);
		cfg->report = arg;
		return 0;
	}
	case OPT_DETERMINISTIC:
		cfg->deterministic = true;
		return 0;
	case OPT_RTC_BASE:
		if (cli_parse_date(arg, &cfg->rtc_base))
			return usage_error("--rtc-base '%s': give a date and time in UTC as "
					   "2024-01-01, 2024-01-01T12:00:00 or @SECONDS", arg);
		cfg->rtc_fixed = true;
		return 0;
	case 'q':
		cfg->verbosity = -1;
		return 0;
	case 'v':
		if (cfg->verbosity < 0)
			cfg->verbosity = 0;
		cfg->verbosity++;
		return 0;
	case 'V':
		printf("pcvm %s\n", PCVM_VERSION);
		ps->done = true;
		return 0;
	case OPT_HELP:
		argp_help(ps->argp, stdout, ARGP_HELP_STD_HELP & ~ARGP_HELP_EXIT_OK, "pcvm");
		ps->done = true;
		return 0;
	case OPT_USAGE:
		argp_help(ps->argp, stdout, ARGP_HELP_USAGE, "pcvm");
		ps->done = true;
		return 0;
	case ARGP_KEY_ARG:
		for (int i = 0; i < cfg->ndrives; i++)
			if (cfg->drives[i].index == 0)
				return usage_error("disk '%s': --hda is already %s; give one "
						   "first disk", arg, cfg->drives[i].file);
		return add_drive(cfg, "disk", (struct drive_config){ .file = arg, .index = 0 });
	case ARGP_KEY_ERROR:
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, bool *done)
{
	*cfg = (struct vm_config){
		.mem_size = CFG_DEFAULT_MEM,
		.accel = ACCEL_AUTO,
		.bios = CFG_DEFAULT_BIOS,
		.display = DISPLAY_AUTO,
		.serial = SERIAL_AUTO,
		.debug_exit_port = -1,
	};
	static const struct argp argp_def = { options, parse_opt, args_doc, doc,
					      NULL, NULL, NULL };
	struct parse_state ps = { .cfg = cfg, .argp = &argp_def };
	*done = false;

	/* Parse once with argp's error output off; on failure, argp has left
	 * us only an error code, so find the culprit ourselves. */
	error_t err = argp_parse(&argp_def, argc, argv,
				 ARGP_NO_ERRS | ARGP_NO_HELP | ARGP_NO_EXIT,
				 NULL, &ps);
	if (err) {
		if (!ps.reported)
			report_bad_arg(argc, argv);
		return PCVM_EXIT_USAGE;
	}
	if (ps.done) {
		*done = true;
		return PCVM_EXIT_OK;
	}
	for (int i = 0; i < cfg->ndrives; i++) {
		struct drive_config *d = &cfg->drives[i];
		d->snapshot |= ps.snapshot;
		if (!d->readonly && !d->snapshot && access(d->file, R_OK | W_OK) < 0) {
			usage_error("%s %s: %s; fix its permissions (the guest writes to it), "
				    "or use --snapshot or readonly=on", d->opt, d->file,
				    strerror(errno));
			return PCVM_EXIT_USAGE;
		}
	}
	cfg->fda_snapshot = ps.snapshot;
	/* The terminal display needs the terminal to itself: no serial port or
	 * debug console on stdio beside it. */
	bool stdio_taken = cfg->serial == SERIAL_STDIO ||
			   (cfg->debugcon && !strcmp(cfg->debugcon, "stdio"));
	if (cfg->display == DISPLAY_AUTO)
		cfg->display = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && !stdio_taken
				       ? DISPLAY_CURSES : DISPLAY_NONE;
	if (cfg->display == DISPLAY_CURSES) {
		if (cfg->serial == SERIAL_STDIO) {
			usage_error("--serial stdio: the terminal belongs to --display curses; "
				    "use --serial file:PATH or --display none");
			return PCVM_EXIT_USAGE;
		}
		if (cfg->debugcon && !strcmp(cfg->debugcon, "stdio")) {
			usage_error("--debugcon stdio: the terminal belongs to --display curses; "
				    "use --debugcon file:PATH or --display none");
			return PCVM_EXIT_USAGE;
		}
		if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
			usage_error("--display curses: standard input and output must be a "
				    "terminal; use --display none");
			return PCVM_EXIT_USAGE;
		}
	}
	if (cfg->serial == SERIAL_AUTO)
		cfg->serial = cfg->display == DISPLAY_NONE ? SERIAL_STDIO : SERIAL_NONE;
	if (cfg->bios && check_input_file("--bios", cfg->bios, false))
		return PCVM_EXIT_USAGE;
	if ((cfg->initrd || cfg->append) && !cfg->kernel) {
		usage_error("%s needs --kernel; give the kernel to boot",
			    cfg->initrd ? "--initrd" : "--append");
		return PCVM_EXIT_USAGE;
	}
	if (cfg->deterministic) {
		if (cfg->accel == ACCEL_KVM) {
			usage_error("--deterministic needs the software CPU (instructions are "
				    "counted there); use --accel emu or leave out --accel");
			return PCVM_EXIT_USAGE;
		}
		cfg->accel = ACCEL_EMU;
		if (!cfg->rtc_fixed) {
			cfg->rtc_fixed = true;
			cfg->rtc_base = CFG_DETERMINISTIC_RTC_BASE;
		}
	}
	if (cfg->verbosity < 0)
		log_set_level(LOG_ERROR);
	else
		log_set_level((enum log_level)(LOG_WARN + (cfg->verbosity > 3 ? 3 : cfg->verbosity)));
	/* Last, so no other check can fail after it: the machine takes the
	 * parsed script over and frees it. */
	if (ps.script_path && script_load(ps.script_path, &cfg->script))
		return PCVM_EXIT_USAGE;
	return PCVM_EXIT_OK;
}

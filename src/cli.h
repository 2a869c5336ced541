/*
 * The command line, parsed with glibc's argp into one struct vm_config.
 * Nothing here touches the machine: cli_parse validates what can be
 * validated without starting one (sizes, files, combinations).
 */
#ifndef PCVM_CLI_H
#define PCVM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "disk/block.h"

struct script;

enum accel_kind { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };
enum display_kind { DISPLAY_AUTO, DISPLAY_NONE, DISPLAY_CURSES };
enum serial_kind { SERIAL_AUTO, SERIAL_NONE, SERIAL_STDIO, SERIAL_FILE };
enum drive_media { DRIVE_DISK, DRIVE_CDROM };

struct drive_config {
	const char *file;
	const char *format;    /* NULL: probed from the content */
	enum drive_media media;
	int index;             /* IDE position 0-3 (hda-hdd) */
	bool readonly;         /* the guest may not write (always for CD-ROMs) */
	bool snapshot;         /* guest writes go to a temporary overlay */
	enum block_cache cache;
	const char *opt;       /* the option that gave it, for messages */
};

#define CFG_MAX_DRIVES 4

struct vm_config {
	uint64_t mem_size;
	enum accel_kind accel;
	const char *bios;
	struct drive_config drives[CFG_MAX_DRIVES];
	int ndrives;
	enum display_kind display;
	enum serial_kind serial;
	const char *serial_path;
	double timeout;        /* seconds of virtual time (the host's, unless
				* --deterministic); 0: none */
	const char *debugcon;  /* NULL: dropped; "stdio", "stderr" or a path */
	int debug_exit_port;   /* -1: none */
	const char *boot_order; /* --boot: letters a, c, d; NULL: "cad" */
	const char *kernel;    /* --kernel: direct Linux boot */
	const char *initrd;
	const char *append;
	const char *fda;       /* floppy image for drive A, or NULL */
	bool fda_snapshot;     /* --snapshot: the floppy's writes go to an overlay */
	bool no_reboot;        /* a guest reset ends pcvm (exit status 4 or 5) */
	int verbosity;         /* -1 quiet, 0 normal, 1.. verbose */
	/* Display (src/ui/display.c) */
	const char *screenshot;       /* PNG written when pcvm ends, or NULL */
	const char *screen_text;      /* text screen written when pcvm ends */
	double shot_every;            /* seconds of virtual time; 0: none */
	const char *shot_pattern;     /* printf pattern with one integer */
	/* Automation (src/ui/automation.c) */
	const char *until_serial;     /* POSIX extended regexes, or NULL */
	const char *until_screen;
	double until_stable;          /* seconds; 0: none */
	struct script *script;        /* --script, parsed; the machine frees it */
	const char *report;           /* --report FILE.json, or NULL */
	bool deterministic;           /* instruction-count clock, fixed RTC */
	bool rtc_fixed;               /* the RTC starts at rtc_base ... */
	int64_t rtc_base;             /* ... seconds since 1970 UTC */
};

#define CFG_DEFAULT_MEM (128ull << 20)
#define CFG_DEFAULT_BIOS "/usr/share/seabios/bios-256k.bin"
/* Where the RTC starts under --deterministic without --rtc-base:
 * 2024-01-01 00:00:00 UTC. */
#define CFG_DETERMINISTIC_RTC_BASE 1704067200ll

/* Parses argv into cfg. Returns 0, or the exit status to end with after a
 * message was printed (2 for usage errors; 0 after --help or --version,
 * signalled by *done). */
int cli_parse(int argc, char **argv, struct vm_config *cfg, bool *done);

/* "512M", "1G", "64k", "1048576B"; a bare number counts default_unit
 * bytes. 0 or -EINVAL (malformed) / -ERANGE (overflow). */
int cli_parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/* --rtc-base: "2024-01-01", "2024-01-01T12:00:00" (also with a blank for
 * the T, and a trailing Z; always UTC), or "@SECONDS" since 1970. 0 or
 * -EINVAL. */
int cli_parse_date(const char *s, int64_t *out);

#endif

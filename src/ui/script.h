/*
 * The --script language: one command a line, read and checked whole before
 * the guest starts (regular expressions compiled, reference PNGs loaded,
 * keys looked up, output paths checked), so a mistake costs a line-numbered
 * message instead of a half-run install. src/ui/automation.c runs the
 * steps; pcvm(1), section SCRIPTS, is the reference for users.
 *
 * Lines are split into words at blanks; a word may be quoted with '...' or
 * "..." (taken literally: no escapes at this level, so regular expressions
 * keep their backslashes). Blank lines and lines starting with # are skipped.
 */
#ifndef PCVM_UI_SCRIPT_H
#define PCVM_UI_SCRIPT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "screencmp.h"

enum script_cmd {
	SCRIPT_WAIT_SERIAL,   /* wait-serial REGEX [TIMEOUT] */
	SCRIPT_WAIT_SCREEN,   /* wait-screen REGEX [TIMEOUT] */
	SCRIPT_WAIT_STABLE,   /* wait-stable SECONDS [TIMEOUT] */
	SCRIPT_TYPE,          /* type TEXT */
	SCRIPT_KEY,           /* key CHORD... */
	SCRIPT_SLEEP,         /* sleep SECONDS */
	SCRIPT_SCREENSHOT,    /* screenshot FILE.png */
	SCRIPT_SCREEN_TEXT,   /* screen-text FILE */
	SCRIPT_EXPECT_SCREEN, /* expect-screen FILE.png [TOLERANCE] [ignore=X,Y,W,H]... */
	SCRIPT_MARK,          /* mark NAME */
	SCRIPT_SWAP_CDROM,    /* swap-cdrom FILE [force] */
	SCRIPT_EJECT,         /* eject [force] */
	SCRIPT_POWEROFF,      /* poweroff [TIMEOUT] */
	SCRIPT_WAIT_POWEROFF, /* wait-poweroff [TIMEOUT] */
	SCRIPT_QUIT,          /* quit STATUS */
};

/* A key event: a scancode set 1 make code (0xE0xx extended), as
 * vm_key_event takes it. */
struct script_key {
	uint16_t code;
	bool down;
};

#define SCRIPT_MAX_IGNORE 16

struct script_step {
	enum script_cmd cmd;
	int line;
	char *arg;               /* the first argument as written (regex, text,
				  * chord, name, file), NULL if none */
	char *path;              /* files: resolved path */
	regex_t re;              /* wait-serial, wait-screen */
	bool has_re;
	uint64_t ns;             /* wait-stable and sleep: the duration */
	uint64_t timeout_ns;     /* waits and poweroff: 0 for none */
	struct script_key *keys; /* type, key */
	int nkeys;
	struct screencmp_image ref;   /* expect-screen */
	double tolerance;        /* differing pixels allowed (a count) ... */
	bool tolerance_pct;      /* ... or a percentage of those compared */
	struct screencmp_rect ignore[SCRIPT_MAX_IGNORE];
	int nignore;
	char *actual_path, *diff_path; /* expect-screen: written on a mismatch */
	bool force;              /* swap-cdrom, eject: even if the tray is locked */
	int status;              /* quit */
};

struct script {
	char *name;              /* as given to --script ("-": standard input) */
	struct script_step *step;
	int n;
};

/* Reads and checks a script: path is a file, or "-" for standard input.
 * Input files the script names (references, discs) are relative to the
 * script's directory; output files to the current one. 0, or -EINVAL after
 * one line "--script NAME:LINE: what is wrong; what to do". */
int script_load(const char *path, struct script **out);
/* The same from memory: name is what messages call it, refdir the
 * directory input files are relative to (NULL: the current one). */
int script_parse(const char *text, size_t len, const char *name, const char *refdir,
		 struct script **out);
void script_free(struct script *s);

const char *script_cmd_name(enum script_cmd cmd);

/* Key chords: modifiers and a key joined by '-', e.g. ctrl-alt-delete,
 * alt-f2, shift-tab, f12, ctrl-c. Fills out with the presses and releases
 * (modifiers first, released last). Returns the number of events, or
 * -EINVAL with *why set. */
int script_parse_chord(const char *chord, struct script_key *out, int max,
		       const char **why);
/* type's TEXT: printable ASCII, and \n or \r (Enter), \t (Tab), \e (Esc),
 * \b (Backspace), \\, \' and \". Returns the number of events written to out
 * (at most max), or -EINVAL with *why set; call with out NULL to count. */
int script_parse_text(const char *text, struct script_key *out, int max,
		      const char **why);
/* "30", "1.5", "250ms", "2s", "10m", "1h" -> nanoseconds. 0 or -EINVAL. */
int script_parse_duration(const char *s, uint64_t *ns);

#endif

/*
 * The timing report (--report FILE.json): milestones of a run, each with
 * the host's wall time since power-on and the guest's virtual time, and how
 * the run ended. pcvm(1), section REPORT, documents the format.
 */
#ifndef PCVM_UI_REPORT_H
#define PCVM_UI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu_stat;

struct report_milestone {
	char *event;      /* "first-instruction", "boot-sector", "mark", ... */
	char *detail;     /* mark name, the regex met, ...; NULL if none */
	int line;         /* script line; 0 if none */
	uint64_t host_ns; /* host monotonic time since report_start */
	uint64_t guest_ns;
};

struct report {
	bool started;
	int64_t start_wall_sec;  /* CLOCK_REALTIME at power-on */
	long start_wall_nsec;
	uint64_t start_host;     /* CLOCK_MONOTONIC ns at power-on */
	struct report_milestone *m;
	size_t n, cap;
};

/* How the run ended, for the report's "end" and the counters. */
struct report_end {
	const char *reason;      /* "poweroff", "condition", "timeout", ... */
	int status;              /* pcvm's exit status */
	const char *message;     /* what was awaited, what failed; or NULL */
	uint64_t host_ns, guest_ns;
	const char *backend;
	bool deterministic;
	bool have_icount;
	uint64_t icount;
	const struct vcpu_stat *stats;
	int nstats;
};

/* Power-on: the origin of host times. */
void report_start(struct report *r);
/* Host nanoseconds since report_start. */
uint64_t report_host_ns(const struct report *r);
/* Appends a milestone that happens now. 0 or -ENOMEM. */
int report_add(struct report *r, const char *event, const char *detail, int line,
	       uint64_t guest_ns);
void report_free(struct report *r);

/* The report as JSON text (malloc'd, NUL-terminated), or NULL. */
char *report_json(const struct report *r, const struct report_end *e);
/* Writes it to path atomically. 0 or a negative errno (logged). */
int report_write(const struct report *r, const struct report_end *e, const char *path);

#endif

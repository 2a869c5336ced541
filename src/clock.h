/*
 * The machine's one virtual clock (nanoseconds since power-on) and its one
 * timer queue. Devices embed a struct timer, arm it for a deadline and get a
 * callback once virtual time passes it; the run loop asks for the earliest
 * deadline and runs the CPU up to it.
 *
 * Real-time mode follows the host's monotonic clock. Instruction-count mode
 * (deterministic runs on the software CPU) derives time from the number of
 * instructions executed, plus whatever time the machine skipped while halted,
 * so the same guest sees the same times on every run.
 */
#ifndef PCVM_CLOCK_H
#define PCVM_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCK_NEVER UINT64_MAX
#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
#define NS_PER_US 1000ull

enum clock_mode {
	CLOCK_MODE_REALTIME,
	CLOCK_MODE_ICOUNT,
};

struct clock;

struct timer {
	uint64_t deadline;
	void (*cb)(void *opaque);
	void *opaque;
	const char *name;
	struct clock *clock;
	struct timer *next;
	bool armed;
};

int clock_create(struct clock **out, enum clock_mode mode);
void clock_destroy(struct clock *c);
enum clock_mode clock_get_mode(const struct clock *c);

/* Virtual nanoseconds since the clock was created. */
uint64_t clock_now(struct clock *c);

/* Instruction-count mode: the CPU supplies its instruction counter, and each
 * instruction counts ns_per_insn nanoseconds. */
void clock_set_icount_source(struct clock *c, uint64_t (*icount)(void *opaque),
			     void *opaque, uint64_t ns_per_insn);
uint64_t clock_ns_per_insn(const struct clock *c);
/* Instruction-count mode: move time forward while the CPU sleeps (HLT). */
void clock_skip_to(struct clock *c, uint64_t t);

/* Called when a timer is armed earlier than every other armed timer, so a
 * CPU running towards the old deadline can be stopped in time. */
void clock_set_earlier_hook(struct clock *c, void (*fn)(void *opaque), void *opaque);

void timer_init(struct timer *t, struct clock *c, void (*cb)(void *opaque),
		void *opaque, const char *name);
/* Arms (or re-arms) t for the absolute virtual time deadline. */
void timer_mod(struct timer *t, uint64_t deadline);
void timer_del(struct timer *t);
static inline bool timer_pending(const struct timer *t) { return t->armed; }

/* Earliest armed deadline, or CLOCK_NEVER. */
uint64_t clock_next_deadline(const struct clock *c);
/* Fires every timer whose deadline has passed, in deadline order (ties in
 * arming order). A callback may re-arm its own or other timers. Returns the
 * number fired. */
int clock_run_timers(struct clock *c);

#endif

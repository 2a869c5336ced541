/*
 * Virtual clock and timer queue. A PC has a handful of timers (PIT channels,
 * RTC, UART, display refresh), so a sorted singly linked list is both the
 * simplest and the fastest structure here.
 */
#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct clock {
	enum clock_mode mode;
	uint64_t host_start;
	uint64_t (*icount)(void *opaque);
	void *icount_opaque;
	uint64_t ns_per_insn;
	uint64_t skipped; /* icount mode: time added while halted */
	uint64_t last;    /* monotonic guard */
	struct timer *head;
	void (*earlier)(void *opaque);
	void *earlier_opaque;
};

void clock_set_earlier_hook(struct clock *c, void (*fn)(void *opaque), void *opaque)
{
	c->earlier = fn;
	c->earlier_opaque = opaque;
}

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int clock_create(struct clock **out, enum clock_mode mode)
{
	struct clock *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mode = mode;
	c->host_start = host_ns();
	c->ns_per_insn = 1;
	*out = c;
	return 0;
}

void clock_destroy(struct clock *c) { free(c); }
enum clock_mode clock_get_mode(const struct clock *c) { return c->mode; }

uint64_t clock_now(struct clock *c)
{
	uint64_t t;
	if (c->mode == CLOCK_MODE_REALTIME)
		t = host_ns() - c->host_start;
	else
		t = (c->icount ? c->icount(c->icount_opaque) * c->ns_per_insn : 0) +
		    c->skipped;
	if (t < c->last)
		t = c->last;
	c->last = t;
	return t;
}

void clock_set_icount_source(struct clock *c, uint64_t (*icount)(void *opaque),
			     void *opaque, uint64_t ns_per_insn)
{
	c->icount = icount;
	c->icount_opaque = opaque;
	c->ns_per_insn = ns_per_insn ? ns_per_insn : 1;
}

uint64_t clock_ns_per_insn(const struct clock *c) { return c->ns_per_insn; }

void clock_skip_to(struct clock *c, uint64_t t)
{
	if (c->mode != CLOCK_MODE_ICOUNT)
		return;
	uint64_t now = clock_now(c);
	if (t > now)
		c->skipped += t - now;
}

void timer_init(struct timer *t, struct clock *c, void (*cb)(void *opaque),
		void *opaque, const char *name)
{
	t->deadline = CLOCK_NEVER;
	t->cb = cb;
	t->opaque = opaque;
	t->name = name;
	t->clock = c;
	t->next = NULL;
	t->armed = false;
}

void timer_del(struct timer *t)
{
	if (!t->armed)
		return;
	struct timer **pp = &t->clock->head;
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	t->next = NULL;
	t->armed = false;
}

void timer_mod(struct timer *t, uint64_t deadline)
{
	timer_del(t);
	t->deadline = deadline;
	struct clock *c = t->clock;
	if (c->earlier && (!c->head || deadline < c->head->deadline))
		c->earlier(c->earlier_opaque);
	struct timer **pp = &c->head;
	while (*pp && (*pp)->deadline <= deadline)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = true;
}

uint64_t clock_next_deadline(const struct clock *c)
{
	return c->head ? c->head->deadline : CLOCK_NEVER;
}

int clock_run_timers(struct clock *c)
{
	int fired = 0;
	uint64_t now = clock_now(c);
	/* Bound the work so a timer that keeps re-arming itself in the past
	 * cannot hang the machine. */
	while (c->head && c->head->deadline <= now && fired < 10000) {
		struct timer *t = c->head;
		c->head = t->next;
		t->next = NULL;
		t->armed = false;
		t->cb(t->opaque);
		fired++;
	}
	return fired;
}

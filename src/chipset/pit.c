/*
 * The 8254 programmable interval timer, after the Intel 8254 datasheet
 * ("Modes of operation", "Read operations", "Read-back command"), and the
 * PIIX3's NMI status and control register at port 0x61, which gates
 * channel 2, shows its OUT pin and a refresh toggle bit BIOSes use to
 * measure short delays.
 *
 * Nothing ticks: a channel remembers the clock tick at which its counting
 * element was loaded, and counter values and OUT levels are computed from
 * the virtual clock when read. As in the datasheet, a count written takes
 * effect on the following input clock, so mode 0's OUT rises N + 1 clocks
 * after the write. The only timer is channel 0's, armed for the next rising
 * edge of its OUT (IRQ0), and only while one will come.
 *
 * A new count written to a running mode 3 channel is taken at the end of
 * the current full period rather than the current half period.
 */
#include "pit.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* IRQ0 edges come at least this far apart (closer ones merge), so a guest
 * programming a tiny count cannot flood the timer queue. */
#define PIT_MIN_IRQ_NS (10 * NS_PER_US)
/* The PIIX's refresh request period, seen as bit 4 of port 0x61 toggling. */
#define REFRESH_NS 15085u

struct pit_channel {
	uint8_t ctrl;       /* RW, mode and BCD bits of the last control word */
	int mode;           /* 0-5 */
	int rw;             /* 1: LSB only, 2: MSB only, 3: LSB then MSB */
	bool bcd;
	bool gate;
	bool have_count;    /* a count was written since the control word */
	bool armed;         /* the counting element is (to be) loaded */
	bool paused;        /* modes 0 and 4 with the gate low */
	int64_t paused_d;   /* clocks counted before the pause */
	uint32_t n;         /* the count in use: 1..65536 (or 10000 in BCD) */
	int64_t load_tick;  /* clock at which the counting element holds n */
	bool pending;       /* a new count waits (modes 1, 2, 3, 5) */
	uint32_t pending_n;
	int64_t pending_at; /* modes 2 and 3: the period end that takes it */
	uint16_t ce_frozen; /* what the counting element shows while not counting */
	bool wr_msb;        /* the next written byte is the MSB */
	uint8_t wr_lsb;
	bool rd_msb;        /* the next read byte is the MSB */
	bool count_latched;
	uint16_t latched;
	bool status_latched;
	uint8_t status;
};

struct pit {
	struct vm *vm;
	struct pit_channel ch[3];
	struct timer irq_timer;
	int irq_level;
	uint64_t last_edge_ns; /* when the timer last delivered an edge */
	bool speaker;
	uint8_t port61_rw;  /* bits 2-3: parity and IOCHK enables */
};

static int64_t now_tick(struct pit *p)
{
	uint64_t ns = clock_now(p->vm->clock);
	return (int64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_SEC);
}

static uint64_t tick_ns(int64_t k)
{
	if (k <= 0)
		return 0;
	unsigned __int128 x = (unsigned __int128)k * NS_PER_SEC;
	return (uint64_t)((x + PIT_HZ - 1) / PIT_HZ);
}

static uint32_t modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 65536;
}

/* Modes 2 and 3 take a new count at the end of the current period. */
static void catch_up(struct pit_channel *c, int64_t t)
{
	if (c->pending && c->armed && (c->mode == 2 || c->mode == 3) &&
	    t >= c->pending_at) {
		c->n = c->pending_n;
		c->load_tick = c->pending_at;
		c->pending = false;
	}
}

/* Clocks counted since the load, or false while not counting. */
static bool elapsed(const struct pit_channel *c, int64_t t, int64_t *d)
{
	if (!c->armed)
		return false;
	*d = c->paused ? c->paused_d : t - c->load_tick;
	return true;
}

static uint16_t value_at(const struct pit_channel *c, int64_t t)
{
	int64_t d;
	if (!elapsed(c, t, &d) || d < 0)
		return c->ce_frozen;
	int64_t n = c->n, m = modulus(c), v;
	switch (c->mode) {
	case 2:
		v = n - d % n;
		break;
	case 3: {
		int64_t per = d % n;
		if (!(n & 1)) {
			v = n - 2 * (per % (n / 2));
		} else {
			int64_t high = (n + 1) / 2;
			v = per < high ? (n - 1) - 2 * per : (n - 1) - 2 * (per - high);
		}
		break;
	}
	default: /* 0, 1, 4, 5: count down through zero and wrap */
		v = ((n - d) % m + m) % m;
		break;
	}
	return (uint16_t)(v % m);
}

static bool out_at(const struct pit_channel *c, int64_t t)
{
	int64_t d;
	/* Before the count is loaded OUT holds its initial level: low in
	 * mode 0, high in every other mode. */
	if (!elapsed(c, t, &d) || d < 0)
		return c->mode != 0;
	int64_t n = c->n;
	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return n == 1 || d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default: /* 4, 5 */
		return d != n;
	}
}

/* The clock of OUT's next rising edge after t, or -1. */
static int64_t next_rise(const struct pit_channel *c, int64_t t)
{
	int64_t d;
	if (!elapsed(c, t, &d) || c->paused)
		return -1;
	int64_t n = c->n;
	switch (c->mode) {
	case 0:
	case 1:
		return d < n ? c->load_tick + n : -1;
	case 2:
	case 3:
		if (n == 1)
			return -1;
		return c->load_tick + (d < 0 ? 1 : d / n + 1) * n;
	default:
		return d <= n ? c->load_tick + n + 1 : -1;
	}
}

static void arm_irq_timer(struct pit *p, int64_t t)
{
	int64_t k = next_rise(&p->ch[0], t);
	if (k < 0) {
		timer_del(&p->irq_timer);
		return;
	}
	uint64_t when = tick_ns(k);
	uint64_t min = p->last_edge_ns ? p->last_edge_ns + PIT_MIN_IRQ_NS : 0;
	timer_mod(&p->irq_timer, when > min ? when : min);
}

/* Channel 0 changed: drive IRQ0 to OUT's level and plan the next edge. */
static void update_irq(struct pit *p, int64_t t)
{
	int level = out_at(&p->ch[0], t);
	if (level != p->irq_level) {
		p->irq_level = level;
		irq_set(&p->vm->isa_irq[0], level);
	}
	arm_irq_timer(p, t);
}

static void irq_timer_cb(void *opaque)
{
	struct pit *p = opaque;
	int64_t t = now_tick(p);
	p->last_edge_ns = clock_now(p->vm->clock);
	catch_up(&p->ch[0], t);
	/* The edge may lie a little in the past and OUT may already have
	 * fallen again (mode 2 holds it low for one clock): deliver the
	 * edge, then settle on the present level. */
	if (p->irq_level)
		irq_set(&p->vm->isa_irq[0], 0);
	irq_set(&p->vm->isa_irq[0], 1);
	p->irq_level = 1;
	update_irq(p, t);
}

static void channel_changed(struct pit *p, int i, int64_t t)
{
	if (i == 0)
		update_irq(p, t);
}

static void freeze(struct pit_channel *c, int64_t t)
{
	c->ce_frozen = value_at(c, t);
}

static void load_count(struct pit_channel *c, uint32_t raw, int64_t t)
{
	uint32_t v = raw;
	if (c->bcd)
		v = (raw >> 12 & 0xf) * 1000 + (raw >> 8 & 0xf) * 100 +
		    (raw >> 4 & 0xf) * 10 + (raw & 0xf);
	uint32_t n = v ? v : modulus(c);
	if (n > modulus(c))
		n = modulus(c);
	freeze(c, t);
	c->have_count = true;
	switch (c->mode) {
	case 0:
	case 4:
		c->n = n;
		c->armed = true;
		c->load_tick = t + 1;
		c->paused = !c->gate;
		c->paused_d = 0;
		c->pending = false;
		break;
	case 1:
	case 5:
		/* Used from the next trigger on. */
		c->pending = true;
		c->pending_n = n;
		break;
	default: { /* 2, 3 */
		int64_t d;
		if (elapsed(c, t, &d) && d >= 0) {
			c->pending = true;
			c->pending_n = n;
			c->pending_at = c->load_tick + (d / c->n + 1) * (int64_t)c->n;
		} else {
			c->n = n;
			c->pending = false;
			if (c->gate) {
				c->armed = true;
				c->load_tick = t + 1;
			}
		}
		break;
	}
	}
}

static void set_gate(struct pit *p, int i, bool gate)
{
	struct pit_channel *c = &p->ch[i];
	int64_t t = now_tick(p);
	catch_up(c, t);
	if (gate == c->gate)
		return;
	c->gate = gate;
	switch (c->mode) {
	case 0:
	case 4:
		if (!c->armed)
			break;
		if (!gate && !c->paused) {
			int64_t d = t - c->load_tick;
			c->paused_d = d > 0 ? d : 0;
			c->paused = true;
		} else if (gate && c->paused) {
			c->load_tick = t - c->paused_d;
			c->paused = false;
		}
		break;
	case 1:
	case 5:
		if (gate && c->have_count) { /* trigger */
			freeze(c, t);
			if (c->pending) {
				c->n = c->pending_n;
				c->pending = false;
			}
			c->armed = true;
			c->paused = false;
			c->load_tick = t + 1;
		}
		break;
	default: /* 2, 3: low stops counting with OUT high, high reloads */
		if (!c->have_count)
			break;
		freeze(c, t);
		if (gate) {
			if (c->pending) {
				c->n = c->pending_n;
				c->pending = false;
			}
			c->armed = true;
			c->load_tick = t + 1;
		} else {
			c->armed = false;
		}
		break;
	}
	channel_changed(p, i, t);
}

static uint8_t status_of(const struct pit_channel *c, int64_t t)
{
	int64_t d;
	bool null = !c->have_count || c->pending ||
		    !elapsed(c, t, &d) || (!c->paused && d < 0);
	return (uint8_t)((out_at(c, t) ? 0x80 : 0) | (null ? 0x40 : 0) | c->ctrl);
}

static uint16_t to_bcd(uint16_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 |
			  (v / 10 % 10) << 4 | (v % 10));
}

static void latch_count(struct pit_channel *c, int64_t t)
{
	if (c->count_latched)
		return;
	uint16_t v = value_at(c, t);
	c->latched = c->bcd ? to_bcd(v) : v;
	c->count_latched = true;
	c->rd_msb = false;
}

static void write_control(struct pit *p, uint8_t v)
{
	int64_t t = now_tick(p);
	int sel = v >> 6;
	if (sel == 3) { /* read-back */
		for (int i = 0; i < 3; i++) {
			if (!(v & (2 << i)))
				continue;
			struct pit_channel *c = &p->ch[i];
			catch_up(c, t);
			if (!(v & 0x20))
				latch_count(c, t);
			if (!(v & 0x10) && !c->status_latched) {
				c->status = status_of(c, t);
				c->status_latched = true;
			}
		}
		return;
	}
	struct pit_channel *c = &p->ch[sel];
	catch_up(c, t);
	if (!(v & 0x30)) { /* counter latch */
		latch_count(c, t);
		return;
	}
	freeze(c, t);
	c->ctrl = v & 0x3f;
	c->rw = (v >> 4) & 3;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;
	c->bcd = v & 1;
	c->have_count = false;
	c->armed = false;
	c->paused = false;
	c->pending = false;
	c->wr_msb = false;
	c->rd_msb = false;
	c->count_latched = false;
	c->status_latched = false;
	channel_changed(p, sel, t);
}

static void write_counter(struct pit *p, int i, uint8_t v)
{
	struct pit_channel *c = &p->ch[i];
	int64_t t = now_tick(p);
	catch_up(c, t);
	switch (c->rw) {
	case 1:
		load_count(c, v, t);
		break;
	case 2:
		load_count(c, (uint32_t)v << 8, t);
		break;
	default:
		if (!c->wr_msb) {
			c->wr_lsb = v;
			c->wr_msb = true;
			/* Mode 0 stops counting, OUT low, until the count is
			 * complete. */
			if (c->mode == 0 && c->armed) {
				freeze(c, t);
				c->armed = false;
			}
			break;
		}
		c->wr_msb = false;
		load_count(c, c->wr_lsb | (uint32_t)v << 8, t);
		break;
	}
	channel_changed(p, i, t);
}

static uint8_t read_counter(struct pit *p, int i)
{
	struct pit_channel *c = &p->ch[i];
	int64_t t = now_tick(p);
	catch_up(c, t);
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v;
	if (c->count_latched) {
		v = c->latched;
	} else {
		v = value_at(c, t);
		if (c->bcd)
			v = to_bcd(v);
	}
	uint8_t r;
	switch (c->rw) {
	case 1:
		r = (uint8_t)v;
		c->count_latched = false;
		break;
	case 2:
		r = (uint8_t)(v >> 8);
		c->count_latched = false;
		break;
	default:
		r = c->rd_msb ? (uint8_t)(v >> 8) : (uint8_t)v;
		if (c->rd_msb)
			c->count_latched = false;
		c->rd_msb = !c->rd_msb;
		break;
	}
	return r;
}

static uint64_t pit_io(void *opaque, uint64_t addr, uint64_t val,
		       unsigned size, int is_write)
{
	struct pit *p = opaque;
	int reg = (int)(addr - 0x40);
	(void)size;
	if (is_write) {
		if (reg == 3)
			write_control(p, (uint8_t)val);
		else
			write_counter(p, reg, (uint8_t)val);
		return 0;
	}
	if (reg == 3)
		return 0xff; /* the control word register cannot be read */
	return read_counter(p, reg);
}

static uint64_t port61_io(void *opaque, uint64_t addr, uint64_t val,
			  unsigned size, int is_write)
{
	struct pit *p = opaque;
	(void)addr;
	(void)size;
	if (is_write) {
		p->speaker = val & 2;
		p->port61_rw = (uint8_t)(val & 0x0c);
		set_gate(p, 2, val & 1);
		return 0;
	}
	uint64_t now = clock_now(p->vm->clock);
	int64_t t = now_tick(p);
	catch_up(&p->ch[2], t);
	return (p->ch[2].gate ? 0x01 : 0) | (p->speaker ? 0x02 : 0) | p->port61_rw |
	       ((now / REFRESH_NS) & 1 ? 0x10 : 0) |
	       (out_at(&p->ch[2], t) ? 0x20 : 0);
}

bool pit_get_out(struct pit *p, int ch)
{
	if (ch < 0 || ch > 2)
		return false;
	int64_t t = now_tick(p);
	catch_up(&p->ch[ch], t);
	return out_at(&p->ch[ch], t);
}

static void pit_reset(void *opaque)
{
	struct pit *p = opaque;
	for (int i = 0; i < 3; i++) {
		struct pit_channel *c = &p->ch[i];
		memset(c, 0, sizeof(*c));
		c->rw = 3;
		c->ctrl = 0x30;
		c->gate = i != 2; /* channel 2's gate is port 0x61 bit 0 */
		c->n = 65536;
	}
	p->speaker = false;
	p->port61_rw = 0;
	p->last_edge_ns = 0;
	timer_del(&p->irq_timer);
	update_irq(p, now_tick(p));
}

static void pit_free(void *opaque)
{
	struct pit *p = opaque;
	timer_del(&p->irq_timer);
	free(p);
}

int pit_create(struct vm *vm, struct pit **out)
{
	struct pit *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, pit_free, p);
	if (err) {
		free(p);
		return err;
	}
	p->vm = vm;
	timer_init(&p->irq_timer, vm->clock, irq_timer_cb, p, "pit-irq0");
	if ((err = ioport_register(vm->io, 0x40, 4, pit_io, p, IOPORT_F_BYTE, "pit")) ||
	    (err = ioport_register(vm->io, 0x61, 1, port61_io, p, IOPORT_F_BYTE, "port61")) ||
	    (err = vm_add_reset_hook(vm, pit_reset, p)))
		return err;
	pit_reset(p);
	*out = p;
	return 0;
}

/*
 * The MC146818A real-time clock with its CMOS RAM, after the Motorola
 * MC146818A datasheet (registers A-D, "Update cycle", "Interrupts",
 * periodic rates for a 32.768 kHz time base), plus the CMOS layout the
 * PC/AT BIOS and SeaBIOS on QEMU-style machines use (memory sizes at
 * 0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d, CPU count at 0x5f, floppy
 * types at 0x10, boot order at 0x38/0x3d, century at 0x32).
 *
 * Nothing ticks. The time is a count of seconds that advances at the
 * divider's second boundaries, computed from the virtual clock when read;
 * the PF, AF and UF flags of register C are worked out for the interval
 * since they were last folded in. A timer is armed only while an enabled
 * interrupt source will set a flag and IRQ8 is not already asserted.
 *
 * UIP rises 244 us before the update cycle starts and stays up for the
 * cycle's 1984 us; the new time (and UF) appear when UIP falls. With SET
 * the registers hold whatever the guest writes and are read back as
 * written, and the clock restarts from them when SET is cleared. The
 * divider runs only when register A selects the 32.768 kHz time base
 * (DV = 010); leaving any other setting starts the first update half a
 * second later. The daylight-saving bit (DSE) is kept but has no effect.
 */
#include "rtc.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d

#define A_UIP 0x80
#define A_DV_MASK 0x70
#define A_DV_NORMAL 0x20
#define A_RS_MASK 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM 0x04      /* binary, not BCD */
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

#define SEC_NS ((int64_t)NS_PER_SEC)
#define HALF_SEC_NS (SEC_NS / 2)
#define UIP_NS (244000 + 1984000)

struct rtc {
	struct vm *vm;
	uint8_t cmos[128];
	uint8_t index;
	bool nmi_masked;
	/* The divider chain started at div_origin; second boundaries fall at
	 * div_origin + k s - 0.5 s (k >= 1). */
	int64_t div_origin;
	int64_t secs;       /* the time at secs_ref */
	int64_t secs_ref;
	int dow_offset;     /* guest's day of week minus the calendar's */
	uint8_t flags;      /* PF/AF/UF up to acc_ns */
	int64_t acc_ns;
	bool irq;
	struct timer timer;
};

static int64_t now_ns(struct rtc *r)
{
	return (int64_t)clock_now(r->vm->clock);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool divider_running(const struct rtc *r)
{
	return (r->cmos[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

static bool updating(const struct rtc *r)
{
	return divider_running(r) && !(r->cmos[REG_B] & B_SET);
}

/* Second boundaries in (div_origin - 0.5 s, t]. */
static int64_t boundaries(const struct rtc *r, int64_t t)
{
	return floor_div(t - r->div_origin + HALF_SEC_NS, SEC_NS);
}

static int64_t boundary_time(const struct rtc *r, int64_t k)
{
	return r->div_origin + k * SEC_NS - HALF_SEC_NS;
}

static int64_t secs_at(const struct rtc *r, int64_t t)
{
	if (!updating(r))
		return r->secs;
	return r->secs + boundaries(r, t) - boundaries(r, r->secs_ref);
}

/* The periodic interrupt's period in 32.768 kHz clocks, 0 for none. */
static int64_t periodic_clocks(const struct rtc *r)
{
	int rs = r->cmos[REG_A] & A_RS_MASK;
	if (!rs)
		return 0;
	if (rs < 3)
		rs += 7;
	return (int64_t)1 << (rs - 1);
}

static int64_t periodic_edges(const struct rtc *r, int64_t t, int64_t per)
{
	int64_t clocks = (int64_t)((__int128)(t - r->div_origin) * 32768 / SEC_NS);
	return floor_div(clocks, per);
}

static int64_t periodic_edge_time(const struct rtc *r, int64_t m, int64_t per)
{
	__int128 x = (__int128)m * per * SEC_NS;
	return r->div_origin + (int64_t)((x + 32767) / 32768);
}

/* Register formats. */
static bool binary(const struct rtc *r) { return r->cmos[REG_B] & B_DM; }

static uint8_t to_reg(const struct rtc *r, int v)
{
	return binary(r) ? (uint8_t)v : (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

static int from_reg(const struct rtc *r, uint8_t v)
{
	return binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_to_reg(const struct rtc *r, int h)
{
	if (r->cmos[REG_B] & B_24H)
		return to_reg(r, h);
	int h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(to_reg(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return from_reg(r, v);
	int h = from_reg(r, v & 0x7f) % 12;
	return h + (v & 0x80 ? 12 : 0);
}

static void break_down(int64_t secs, struct tm *tm)
{
	time_t t = (time_t)secs;
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

/* What time register idx reads for the time secs. */
static uint8_t time_reg(const struct rtc *r, unsigned idx, int64_t secs)
{
	struct tm tm;
	break_down(secs, &tm);
	int year = tm.tm_year + 1900;
	switch (idx) {
	case 0: return to_reg(r, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case 2: return to_reg(r, tm.tm_min);
	case 4: return hour_to_reg(r, tm.tm_hour);
	case 6: return to_reg(r, ((tm.tm_wday + r->dow_offset) % 7 + 7) % 7 + 1);
	case 7: return to_reg(r, tm.tm_mday);
	case 8: return to_reg(r, tm.tm_mon + 1);
	case 9: return to_reg(r, ((year % 100) + 100) % 100);
	default: return to_reg(r, year / 100); /* RTC_CMOS_CENTURY */
	}
}

static bool is_time_reg(unsigned idx)
{
	switch (idx) {
	case 0: case 2: case 4: case 6: case 7: case 8: case 9:
	case RTC_CMOS_CENTURY:
		return true;
	default:
		return false;
	}
}

/* The time the registers 0-9 and the century byte spell. */
static int64_t secs_from_regs(struct rtc *r, const uint8_t *regs)
{
	struct tm tm = { 0 };
	tm.tm_sec = from_reg(r, regs[0]);
	tm.tm_min = from_reg(r, regs[2]);
	tm.tm_hour = hour_from_reg(r, regs[4]);
	tm.tm_mday = from_reg(r, regs[7]);
	tm.tm_mon = from_reg(r, regs[8]) - 1;
	tm.tm_year = from_reg(r, regs[RTC_CMOS_CENTURY]) * 100 +
		     from_reg(r, regs[9]) - 1900;
	time_t t = timegm(&tm);
	int dow = from_reg(r, regs[6]) - 1;
	r->dow_offset = ((dow - tm.tm_wday) % 7 + 7) % 7;
	return (int64_t)t;
}

/* The alarm byte as a value, or -1 for "don't care". */
static int alarm_field(const struct rtc *r, unsigned idx, bool hours)
{
	uint8_t v = r->cmos[idx];
	if ((v & 0xc0) == 0xc0)
		return -1;
	return hours ? hour_from_reg(r, v) : from_reg(r, v);
}

/* The first second after s whose time of day matches the alarm, or
 * INT64_MAX if none can. */
static int64_t next_alarm(const struct rtc *r, int64_t s)
{
	int ah = alarm_field(r, 5, true), am = alarm_field(r, 3, false),
	    as = alarm_field(r, 1, false);
	if (ah >= 24 || am >= 60 || as >= 60)
		return INT64_MAX;
	int64_t day = floor_div(s, 86400) * 86400;
	int start = (int)(s - day) + 1; /* earliest second of the day allowed */
	for (int d = 0; d < 2; d++, day += 86400, start = 0) {
		int sh = start / 3600, sm = start / 60 % 60, ss = start % 60;
		for (int h = ah < 0 ? sh : ah; h < 24; h++) {
			int m0 = am >= 0 ? am : (h == sh ? sm : 0);
			for (int m = m0; m < 60; m++) {
				int s0 = as >= 0 ? as : (h == sh && m == sm ? ss : 0);
				for (int sec = s0; sec < 60; sec++) {
					int x = h * 3600 + m * 60 + sec;
					if (x >= start)
						return day + x;
					if (as >= 0)
						break;
				}
				if (am >= 0)
					break;
			}
			if (ah >= 0)
				break;
		}
	}
	return INT64_MAX;
}

/* Adds the flags events set in (acc_ns, t] and moves acc_ns to t. */
static void fold(struct rtc *r, int64_t t)
{
	if (t <= r->acc_ns)
		return;
	if (divider_running(r)) {
		int64_t per = periodic_clocks(r);
		if (per && periodic_edges(r, t, per) > periodic_edges(r, r->acc_ns, per))
			r->flags |= C_PF;
	}
	if (updating(r)) {
		int64_t a = secs_at(r, r->acc_ns), b = secs_at(r, t);
		if (b > a) {
			r->flags |= C_UF;
			if (next_alarm(r, a) <= b)
				r->flags |= C_AF;
		}
	}
	r->acc_ns = t;
}

/* Fixes the running time into secs (before anything that changes how it
 * advances). */
static void freeze(struct rtc *r, int64_t t)
{
	r->secs = secs_at(r, t);
	r->secs_ref = t;
}

static void arm_timer(struct rtc *r, int64_t t)
{
	uint8_t en = r->cmos[REG_B] & (B_PIE | B_AIE | B_UIE) & ~r->flags;
	if (r->irq || !en) {
		timer_del(&r->timer);
		return;
	}
	int64_t when = INT64_MAX;
	if ((en & B_PIE) && divider_running(r)) {
		int64_t per = periodic_clocks(r);
		if (per)
			when = periodic_edge_time(r, periodic_edges(r, t, per) + 1, per);
	}
	if (updating(r)) {
		int64_t k = boundaries(r, t) + 1;
		if ((en & B_UIE) && boundary_time(r, k) < when)
			when = boundary_time(r, k);
		if (en & B_AIE) {
			int64_t cur = secs_at(r, t), a = next_alarm(r, cur);
			if (a != INT64_MAX && a - cur < INT64_MAX / SEC_NS - k) {
				int64_t at = boundary_time(r, k + (a - cur - 1));
				if (at < when)
					when = at;
			}
		}
	}
	if (when == INT64_MAX)
		timer_del(&r->timer);
	else
		timer_mod(&r->timer, (uint64_t)when);
}

static void update_irq(struct rtc *r, int64_t t)
{
	bool irqf = r->flags & r->cmos[REG_B] & (C_PF | C_AF | C_UF);
	if (irqf && !r->irq) {
		r->irq = true;
		irq_set(&r->vm->isa_irq[8], 1);
	}
	arm_timer(r, t);
}

static void timer_cb(void *opaque)
{
	struct rtc *r = opaque;
	int64_t t = now_ns(r);
	fold(r, t);
	update_irq(r, t);
}

static bool uip(const struct rtc *r, int64_t t)
{
	if (!updating(r))
		return false;
	return boundary_time(r, boundaries(r, t) + 1) - t <= UIP_NS;
}

static void write_a(struct rtc *r, uint8_t v, int64_t t)
{
	bool was = divider_running(r);
	freeze(r, t);
	r->cmos[REG_A] = v & 0x7f;
	bool is = divider_running(r);
	if (is && !was) /* the first update comes half a second later */
		r->div_origin = t;
}

static void write_b(struct rtc *r, uint8_t v, int64_t t)
{
	uint8_t old = r->cmos[REG_B];
	if ((v & B_SET) && !(old & B_SET)) {
		/* The registers now hold what the guest may edit. */
		freeze(r, t);
		for (unsigned i = 0; i < 128; i++)
			if (is_time_reg(i))
				r->cmos[i] = time_reg(r, i, r->secs);
		v &= (uint8_t)~B_UIE;
		r->cmos[REG_B] = v;
		return;
	}
	if (!(v & B_SET) && (old & B_SET)) {
		r->cmos[REG_B] = v;
		r->secs = secs_from_regs(r, r->cmos);
		r->secs_ref = t;
		return;
	}
	freeze(r, t);
	r->cmos[REG_B] = v;
}

static void write_time_reg(struct rtc *r, unsigned idx, uint8_t v, int64_t t)
{
	if (r->cmos[REG_B] & B_SET) {
		r->cmos[idx] = v;
		return;
	}
	/* The clock keeps running: rebuild the time with this field. */
	uint8_t regs[128];
	int64_t cur = secs_at(r, t);
	for (unsigned i = 0; i < 128; i++)
		regs[i] = is_time_reg(i) ? time_reg(r, i, cur) : 0;
	regs[idx] = v;
	r->secs = secs_from_regs(r, regs);
	r->secs_ref = t;
}

static uint8_t read_reg(struct rtc *r, unsigned idx)
{
	int64_t t = now_ns(r);
	switch (idx) {
	case REG_A:
		return (uint8_t)(r->cmos[REG_A] | (uip(r, t) ? A_UIP : 0));
	case REG_B:
		return r->cmos[REG_B];
	case REG_C: {
		fold(r, t);
		uint8_t v = r->flags;
		if (v & r->cmos[REG_B] & (C_PF | C_AF | C_UF))
			v |= C_IRQF;
		r->flags = 0;
		if (r->irq) {
			r->irq = false;
			irq_set(&r->vm->isa_irq[8], 0);
		}
		arm_timer(r, t);
		return v;
	}
	case REG_D:
		return D_VRT;
	default:
		if (is_time_reg(idx) && !(r->cmos[REG_B] & B_SET))
			return time_reg(r, idx, secs_at(r, t));
		return r->cmos[idx];
	}
}

static void write_reg(struct rtc *r, unsigned idx, uint8_t v)
{
	int64_t t = now_ns(r);
	switch (idx) {
	case REG_A:
	case REG_B:
		fold(r, t);
		if (idx == REG_A)
			write_a(r, v, t);
		else
			write_b(r, v, t);
		update_irq(r, t);
		return;
	case REG_C:
	case REG_D:
		return; /* read-only */
	default:
		if (is_time_reg(idx)) {
			fold(r, t);
			write_time_reg(r, idx, v, t);
			update_irq(r, t);
			return;
		}
		r->cmos[idx] = v;
		if (idx == 1 || idx == 3 || idx == 5) { /* alarm */
			fold(r, t);
			update_irq(r, t);
		}
		return;
	}
}

static uint64_t rtc_io(void *opaque, uint64_t addr, uint64_t val,
		       unsigned size, int is_write)
{
	struct rtc *r = opaque;
	(void)size;
	if (addr == 0x70) {
		if (is_write) {
			r->index = (uint8_t)val & 0x7f;
			r->nmi_masked = val & 0x80;
			return 0;
		}
		return 0xff; /* the index register is write-only */
	}
	if (is_write) {
		write_reg(r, r->index, (uint8_t)val);
		return 0;
	}
	return read_reg(r, r->index);
}

static void checksum(struct rtc *r)
{
	unsigned sum = 0;
	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += r->cmos[i];
	r->cmos[0x2e] = (uint8_t)(sum >> 8);
	r->cmos[0x2f] = (uint8_t)sum;
}

void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t val)
{
	if (index < 0x0e || index > 0x7f)
		return;
	if (is_time_reg(index)) {
		write_reg(r, index, val);
		return;
	}
	r->cmos[index] = val;
	if (index >= 0x10 && index <= 0x2d)
		checksum(r);
}

uint8_t rtc_cmos_get(struct rtc *r, unsigned index)
{
	if (index > 0x7f)
		return 0xff;
	if (index == REG_C) { /* without the read's side effects */
		fold(r, now_ns(r));
		return (uint8_t)(r->flags |
				 (r->flags & r->cmos[REG_B] & 0x70 ? C_IRQF : 0));
	}
	return read_reg(r, index);
}

int rtc_set_boot_order(struct rtc *r, const char *order, bool check_floppy_sig)
{
	unsigned codes[3] = { 0 };
	size_t n = strlen(order);
	if (n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		switch (order[i]) {
		case 'a': case 'b': codes[i] = 1; break;
		case 'c': codes[i] = 2; break;
		case 'd': codes[i] = 3; break;
		case 'n': codes[i] = 4; break;
		default: return -EINVAL;
		}
	}
	rtc_cmos_set(r, RTC_CMOS_BOOT2, (uint8_t)(codes[1] << 4 | codes[0]));
	rtc_cmos_set(r, RTC_CMOS_BOOT1, (uint8_t)(codes[2] << 4 | (check_floppy_sig ? 0 : 1)));
	return 0;
}

void rtc_set_floppy_types(struct rtc *r, int drive_a, int drive_b)
{
	int n = (drive_a > 0) + (drive_b > 0);
	uint8_t eq = r->cmos[RTC_CMOS_EQUIPMENT] & 0x3e;
	if (n)
		eq |= (uint8_t)((n - 1) << 6 | 0x01);
	rtc_cmos_set(r, RTC_CMOS_FLOPPY, (uint8_t)((drive_a & 0xf) << 4 | (drive_b & 0xf)));
	rtc_cmos_set(r, RTC_CMOS_EQUIPMENT, eq);
}

int64_t rtc_get_time(struct rtc *r)
{
	if (r->cmos[REG_B] & B_SET)
		return r->secs;
	return secs_at(r, now_ns(r));
}

bool rtc_nmi_masked(const struct rtc *r) { return r->nmi_masked; }

static void fill_memory_bytes(struct rtc *r)
{
	uint64_t below = r->vm->ram_below_4g, above = r->vm->ram_above_4g;
	uint64_t base = below < 0xa0000 ? below : 0xa0000;
	uint64_t ext = below > (1u << 20) ? (below - (1u << 20)) >> 10 : 0;
	uint64_t ext2 = below > (16u << 20) ? (below - (16u << 20)) >> 16 : 0;
	uint64_t high = above >> 16;
	if (ext > 0xffff)
		ext = 0xffff;
	if (ext2 > 0xffff)
		ext2 = 0xffff;
	if (high > 0xffffff)
		high = 0xffffff;
	r->cmos[0x15] = (uint8_t)(base >> 10);
	r->cmos[0x16] = (uint8_t)(base >> 18);
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext >> 8);
	r->cmos[0x34] = (uint8_t)ext2;
	r->cmos[0x35] = (uint8_t)(ext2 >> 8);
	r->cmos[0x5b] = (uint8_t)high;
	r->cmos[0x5c] = (uint8_t)(high >> 8);
	r->cmos[0x5d] = (uint8_t)(high >> 16);
}

static void rtc_reset(void *opaque)
{
	struct rtc *r = opaque;
	int64_t t = now_ns(r);
	/* RESET clears the interrupt enables and flags; the time, the
	 * divider and the RAM are battery backed. */
	fold(r, t);
	r->cmos[REG_B] &= (uint8_t)~(B_PIE | B_AIE | B_UIE | B_SQWE);
	r->flags = 0;
	if (r->irq) {
		r->irq = false;
		irq_set(&r->vm->isa_irq[8], 0);
	}
	arm_timer(r, t);
}

static void rtc_free(void *opaque)
{
	struct rtc *r = opaque;
	timer_del(&r->timer);
	free(r);
}

int rtc_create(struct vm *vm, int64_t base_time, struct rtc **out)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, rtc_free, r);
	if (err) {
		free(r);
		return err;
	}
	r->vm = vm;
	timer_init(&r->timer, vm->clock, timer_cb, r, "rtc");
	int64_t t = now_ns(r), frac = 0;
	if (base_time == RTC_BASE_HOST) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		base_time = ts.tv_sec;
		frac = ts.tv_nsec;
	}
	/* Power-on state as a BIOS leaves it: 32.768 kHz divider running,
	 * 1024 Hz periodic rate, BCD, 24-hour mode. The next second starts
	 * when the host's (or base time's) next second does. */
	r->cmos[REG_A] = A_DV_NORMAL | 0x06;
	r->cmos[REG_B] = B_24H;
	r->div_origin = t - HALF_SEC_NS - frac;
	r->secs = base_time;
	r->secs_ref = t;
	r->acc_ns = t;
	r->cmos[RTC_CMOS_EQUIPMENT] = 0x06; /* FPU and PS/2 mouse present */
	fill_memory_bytes(r);
	r->cmos[RTC_CMOS_SMP_COUNT] = 0;
	checksum(r);
	if ((err = ioport_register(vm->io, 0x70, 2, rtc_io, r, IOPORT_F_BYTE, "rtc")) ||
	    (err = vm_add_reset_hook(vm, rtc_reset, r)))
		return err;
	*out = r;
	return 0;
}

/*
 * The PC/AT keyboard controller (Intel 8042 with IBM's firmware) and the
 * PS/2 keyboard and mouse behind it, after the IBM PC/AT and PS/2 technical
 * references ("Keyboard controller": status register, command byte,
 * controller commands, output port; "Keyboard" and "Pointing device":
 * device commands and responses, scancode sets 1 and 2, typematic rates,
 * mouse data packets) and the PIIX3 datasheet's "Port 92h" register.
 *
 * The controller has one output byte. Its own replies come first, then
 * keyboard bytes (through the set 2 to set 1 translation when the command
 * byte asks for it), then mouse bytes, each only while that interface is
 * enabled. IRQ1 and IRQ12 are levels that follow "output buffer full" for
 * the matching source, as the 8042's pins do. Transfers take no time: the
 * next byte moves into the output buffer as soon as the guest reads one.
 *
 * The keyboard speaks sets 1 and 2 and refuses set 3 (a NAK, as keyboards
 * without set 3 answer). The mouse is a standard PS/2 mouse that becomes an
 * IntelliMouse (ID 3, wheel) or IntelliMouse Explorer (ID 4, wheel and two
 * more buttons) after the usual sample-rate knocks; it sends a packet as
 * soon as the host reports a change and there is room, not paced by its
 * sample rate.
 */
#include "kbc.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08    /* the last write went to port 0x64 */
#define ST_UNLOCKED 0x10
#define ST_AUX 0x20

#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS 0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE 0x40

#define OUT_RESET 0x01 /* 0 holds the CPU in reset */
#define OUT_A20 0x02

#define ACK 0xfa
#define RESEND 0xfe

#define QUEUE_SIZE 64

struct ps2_queue {
	uint8_t buf[QUEUE_SIZE];
	unsigned head, count;
};

struct ps2_kbd {
	struct ps2_queue q;
	bool scanning;
	int set;
	uint8_t leds;
	uint8_t typematic;
	uint8_t expect;      /* command waiting for its parameter, or 0 */
	uint8_t last;        /* for Resend */
	unsigned held;       /* key repeating, 0 for none */
	struct timer repeat;
};

struct ps2_mouse {
	struct ps2_queue q;
	uint8_t expect;
	bool reporting, remote, wrap, scale21;
	uint8_t rate, resolution, id;
	uint8_t rates[3];    /* the last sample rates set, newest last */
	int dx, dy, dz;
	unsigned buttons;
	bool dirty;          /* something to report */
	uint8_t last;
};

struct kbc {
	struct vm *vm;
	uint8_t status;
	uint8_t ram[32];     /* ram[0] is the command byte */
	uint8_t outport;
	uint8_t out;
	uint8_t pending;     /* controller command waiting for a data byte */
	bool xlate_break;    /* translation saw 0xF0 */
	struct ps2_queue ctl; /* controller replies: byte | 0x100 if aux */
	uint16_t ctl_src[QUEUE_SIZE];
	bool irq1, irq12;
	uint8_t port92;
	struct ps2_kbd kbd;
	struct ps2_mouse mouse;
	uint8_t xlate[256];  /* set 2 to set 1, as the 8042 translates */
};

/*
 * Set 1 make codes to set 2, for the keys without an E0 prefix and for the
 * low byte of E0 keys alike (the 8042's translation maps both through one
 * table, so one inverse serves both). 0 = no such key.
 */
static const uint8_t set1_to_set2[0x80] = {
	[0x01] = 0x76, [0x02] = 0x16, [0x03] = 0x1e, [0x04] = 0x26,
	[0x05] = 0x25, [0x06] = 0x2e, [0x07] = 0x36, [0x08] = 0x3d,
	[0x09] = 0x3e, [0x0a] = 0x46, [0x0b] = 0x45, [0x0c] = 0x4e,
	[0x0d] = 0x55, [0x0e] = 0x66, [0x0f] = 0x0d, [0x10] = 0x15,
	[0x11] = 0x1d, [0x12] = 0x24, [0x13] = 0x2d, [0x14] = 0x2c,
	[0x15] = 0x35, [0x16] = 0x3c, [0x17] = 0x43, [0x18] = 0x44,
	[0x19] = 0x4d, [0x1a] = 0x54, [0x1b] = 0x5b, [0x1c] = 0x5a,
	[0x1d] = 0x14, [0x1e] = 0x1c, [0x1f] = 0x1b, [0x20] = 0x23,
	[0x21] = 0x2b, [0x22] = 0x34, [0x23] = 0x33, [0x24] = 0x3b,
	[0x25] = 0x42, [0x26] = 0x4b, [0x27] = 0x4c, [0x28] = 0x52,
	[0x29] = 0x0e, [0x2a] = 0x12, [0x2b] = 0x5d, [0x2c] = 0x1a,
	[0x2d] = 0x22, [0x2e] = 0x21, [0x2f] = 0x2a, [0x30] = 0x32,
	[0x31] = 0x31, [0x32] = 0x3a, [0x33] = 0x41, [0x34] = 0x49,
	[0x35] = 0x4a, [0x36] = 0x59, [0x37] = 0x7c, [0x38] = 0x11,
	[0x39] = 0x29, [0x3a] = 0x58, [0x3b] = 0x05, [0x3c] = 0x06,
	[0x3d] = 0x04, [0x3e] = 0x0c, [0x3f] = 0x03, [0x40] = 0x0b,
	[0x41] = 0x83, [0x42] = 0x0a, [0x43] = 0x01, [0x44] = 0x09,
	[0x45] = 0x77, [0x46] = 0x7e, [0x47] = 0x6c, [0x48] = 0x75,
	[0x49] = 0x7d, [0x4a] = 0x7b, [0x4b] = 0x6b, [0x4c] = 0x73,
	[0x4d] = 0x74, [0x4e] = 0x79, [0x4f] = 0x69, [0x50] = 0x72,
	[0x51] = 0x7a, [0x52] = 0x70, [0x53] = 0x71, [0x54] = 0x84,
	[0x56] = 0x61, [0x57] = 0x78, [0x58] = 0x07, [0x59] = 0x0f,
	[0x5b] = 0x1f, [0x5c] = 0x27, [0x5d] = 0x2f, [0x5e] = 0x37,
	[0x5f] = 0x3f, [0x63] = 0x5e, [0x64] = 0x08, [0x65] = 0x10,
	[0x66] = 0x18, [0x67] = 0x20, [0x68] = 0x28, [0x69] = 0x30,
	[0x6a] = 0x38, [0x6b] = 0x40, [0x6c] = 0x48, [0x6d] = 0x50,
	[0x6e] = 0x57, [0x70] = 0x13, [0x73] = 0x51, [0x76] = 0x5f,
	[0x79] = 0x64, [0x7b] = 0x67, [0x7d] = 0x6a,
};

#define KEY_PRTSC 0xe037

/* Queues. */

static bool q_push(struct ps2_queue *q, uint8_t v)
{
	if (q->count == QUEUE_SIZE)
		return false;
	q->buf[(q->head + q->count++) % QUEUE_SIZE] = v;
	return true;
}

static uint8_t q_pop(struct ps2_queue *q)
{
	uint8_t v = q->buf[q->head];
	q->head = (q->head + 1) % QUEUE_SIZE;
	q->count--;
	return v;
}

static unsigned q_room(const struct ps2_queue *q)
{
	return QUEUE_SIZE - q->count;
}

static void q_clear(struct ps2_queue *q)
{
	q->head = q->count = 0;
}

/* The controller's output buffer and IRQ pins. */

static void update_irqs(struct kbc *k)
{
	bool full = k->status & ST_OBF, aux = k->status & ST_AUX;
	bool irq1 = full && !aux && (k->ram[0] & CTR_KBD_INT);
	bool irq12 = full && aux && (k->ram[0] & CTR_AUX_INT);
	if (irq1 != k->irq1) {
		k->irq1 = irq1;
		irq_set(&k->vm->isa_irq[1], irq1);
	}
	if (irq12 != k->irq12) {
		k->irq12 = irq12;
		irq_set(&k->vm->isa_irq[12], irq12);
	}
}

static void mouse_flush(struct kbc *k);

/* Moves the next waiting byte into the empty output buffer. */
static void fill(struct kbc *k)
{
	if (k->status & ST_OBF) {
		update_irqs(k);
		return;
	}
	if (!k->mouse.q.count)
		mouse_flush(k);
	bool aux = false, have = false;
	uint8_t v = 0;
	if (k->ctl.count) {
		unsigned slot = k->ctl.head;
		aux = k->ctl_src[slot];
		v = q_pop(&k->ctl);
		have = true;
	} else if (!(k->ram[0] & CTR_KBD_DIS) && k->kbd.q.count) {
		while (k->kbd.q.count) {
			v = q_pop(&k->kbd.q);
			if (!(k->ram[0] & CTR_XLATE)) {
				have = true;
				break;
			}
			if (v == 0xf0) {
				k->xlate_break = true;
				continue;
			}
			v = k->xlate[v] | (k->xlate_break ? 0x80 : 0);
			k->xlate_break = false;
			have = true;
			break;
		}
	} else if (!(k->ram[0] & CTR_AUX_DIS) && k->mouse.q.count) {
		v = q_pop(&k->mouse.q);
		aux = true;
		have = true;
	}
	if (have) {
		k->out = v;
		k->status = (uint8_t)((k->status & ~ST_AUX) | ST_OBF | (aux ? ST_AUX : 0));
	}
	update_irqs(k);
}

static void ctl_reply(struct kbc *k, uint8_t v, bool aux)
{
	unsigned slot = (k->ctl.head + k->ctl.count) % QUEUE_SIZE;
	if (q_push(&k->ctl, v))
		k->ctl_src[slot] = aux;
	fill(k);
}

static void update_a20(struct kbc *k)
{
	vm_set_a20(k->vm, (k->outport & OUT_A20) || (k->port92 & 0x02));
}

/* The keyboard. */

static void kbd_send(struct kbc *k, uint8_t v)
{
	k->kbd.last = v;
	q_push(&k->kbd.q, v);
}

static void kbd_defaults(struct ps2_kbd *kb)
{
	kb->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
	kb->set = 2;
	kb->expect = 0;
}

static void kbd_stop_repeat(struct kbc *k)
{
	k->kbd.held = 0;
	timer_del(&k->kbd.repeat);
}

/* The bytes one key event sends in the current set; 0 if none. */
static unsigned key_bytes(const struct kbc *k, unsigned key, bool down, uint8_t *b)
{
	unsigned n = 0;
	bool ext = (key >> 8) == 0xe0;
	uint8_t code = key & 0x7f;
	if (key == KBC_KEY_PAUSE) {
		if (!down)
			return 0;
		static const uint8_t s1[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 };
		static const uint8_t s2[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
		const uint8_t *s = k->kbd.set == 1 ? s1 : s2;
		n = k->kbd.set == 1 ? sizeof(s1) : sizeof(s2);
		memcpy(b, s, n);
		return n;
	}
	if ((key >> 8) && !ext)
		return 0;
	if (key & 0x80)
		return 0;
	if (k->kbd.set == 1) {
		if (key == KEY_PRTSC) {
			static const uint8_t mk[] = { 0xe0, 0x2a, 0xe0, 0x37 };
			static const uint8_t br[] = { 0xe0, 0xb7, 0xe0, 0xaa };
			memcpy(b, down ? mk : br, 4);
			return 4;
		}
		if (ext)
			b[n++] = 0xe0;
		b[n++] = (uint8_t)(code | (down ? 0 : 0x80));
		return n;
	}
	uint8_t s2 = set1_to_set2[code];
	if (!s2)
		return 0;
	if (key == KEY_PRTSC) {
		static const uint8_t mk[] = { 0xe0, 0x12, 0xe0, 0x7c };
		static const uint8_t br[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
		memcpy(b, down ? mk : br, down ? 4 : 6);
		return down ? 4 : 6;
	}
	if (ext)
		b[n++] = 0xe0;
	if (!down)
		b[n++] = 0xf0;
	b[n++] = s2;
	return n;
}

static void kbd_emit(struct kbc *k, unsigned key, bool down)
{
	uint8_t b[8];
	unsigned n = key_bytes(k, key, down, b);
	if (!n) {
		log_debug("keyboard: no scancode for key %#x", key);
		return;
	}
	if (q_room(&k->kbd.q) < n) {
		/* Overrun: the keyboard sends its overrun code if it can. */
		if (q_room(&k->kbd.q))
			kbd_send(k, k->kbd.set == 1 ? 0xff : 0x00);
	} else {
		for (unsigned i = 0; i < n; i++)
			kbd_send(k, b[i]);
	}
	fill(k);
}

static uint64_t typematic_delay_ns(uint8_t t)
{
	return (uint64_t)(((t >> 5) & 3) + 1) * 250 * NS_PER_MS;
}

static uint64_t typematic_period_ns(uint8_t t)
{
	/* (8 + A) * 2^B * 4.17 ms, A = bits 0-2, B = bits 3-4 */
	return (uint64_t)(8 + (t & 7)) * (1u << ((t >> 3) & 3)) * 4170 * NS_PER_US;
}

static void repeat_cb(void *opaque)
{
	struct kbc *k = opaque;
	if (!k->kbd.held || !k->kbd.scanning)
		return;
	kbd_emit(k, k->kbd.held, true);
	timer_mod(&k->kbd.repeat, clock_now(k->vm->clock) +
		  typematic_period_ns(k->kbd.typematic));
}

void kbc_key_event(struct kbc *k, unsigned key, bool down)
{
	if (!k->kbd.scanning)
		return;
	kbd_emit(k, key, down);
	if (down && key != KBC_KEY_PAUSE) {
		k->kbd.held = key;
		timer_mod(&k->kbd.repeat, clock_now(k->vm->clock) +
			  typematic_delay_ns(k->kbd.typematic));
	} else if (!down && key == k->kbd.held) {
		kbd_stop_repeat(k);
	}
}

static void key_event(void *opaque, unsigned key, bool down)
{
	kbc_key_event(opaque, key, down);
}

static void kbd_command(struct kbc *k, uint8_t v)
{
	struct ps2_kbd *kb = &k->kbd;
	uint8_t expect = kb->expect;
	kb->expect = 0;
	switch (expect) {
	case 0xed: /* LEDs */
		kb->leds = v & 7;
		kbd_send(k, ACK);
		return;
	case 0xf0: /* scancode set */
		if (v == 0) {
			kbd_send(k, ACK);
			kbd_send(k, (uint8_t)kb->set);
		} else if (v == 1 || v == 2) {
			kb->set = v;
			kbd_send(k, ACK);
		} else {
			kbd_send(k, RESEND);
		}
		return;
	case 0xf3: /* typematic rate and delay */
		kb->typematic = v & 0x7f;
		kbd_send(k, ACK);
		return;
	case 0xfb: /* set 3 key type lists: key codes until a command */
		if (v < 0xed) {
			kb->expect = 0xfb;
			kbd_send(k, ACK);
			return;
		}
		break;
	default:
		break;
	}
	switch (v) {
	case 0xed:
	case 0xf0:
	case 0xf3:
		kb->expect = v;
		kbd_send(k, ACK);
		break;
	case 0xee: /* echo */
		kbd_send(k, 0xee);
		break;
	case 0xf2: /* identify: an MF2 keyboard */
		kbd_send(k, ACK);
		kbd_send(k, 0xab);
		kbd_send(k, 0x83);
		break;
	case 0xf4: /* enable */
		q_clear(&kb->q);
		kb->scanning = true;
		kbd_send(k, ACK);
		break;
	case 0xf5: /* default and disable */
	case 0xf6: /* set default */
		q_clear(&kb->q);
		kbd_stop_repeat(k);
		kbd_defaults(kb);
		kb->scanning = v == 0xf6;
		kbd_send(k, ACK);
		break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa:
		kbd_send(k, ACK); /* set 3 key types for all keys */
		break;
	case 0xfb: case 0xfc: case 0xfd:
		kb->expect = 0xfb;
		kbd_send(k, ACK);
		break;
	case 0xfe: /* resend */
		q_push(&kb->q, kb->last);
		break;
	case 0xff: /* reset and self-test */
		q_clear(&kb->q);
		kbd_stop_repeat(k);
		kbd_defaults(kb);
		kb->leds = 0;
		kb->scanning = true;
		kbd_send(k, ACK);
		kbd_send(k, 0xaa);
		break;
	default:
		kbd_send(k, RESEND);
		break;
	}
}

/* The mouse. */

static void mouse_send(struct kbc *k, uint8_t v)
{
	k->mouse.last = v;
	q_push(&k->mouse.q, v);
}

static void mouse_defaults(struct ps2_mouse *m)
{
	m->rate = 100;
	m->resolution = 2;
	m->scale21 = false;
	m->remote = false;
	m->reporting = false;
	m->expect = 0;
}

static int scale(const struct ps2_mouse *m, int d)
{
	if (!m->scale21)
		return d;
	static const int small[] = { 0, 1, 1, 3, 6, 9 };
	int a = d < 0 ? -d : d;
	int s = a <= 5 ? small[a] : 2 * a;
	return d < 0 ? -s : s;
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Sends one movement packet from the accumulated motion. */
static void mouse_packet(struct kbc *k)
{
	struct ps2_mouse *m = &k->mouse;
	int dx = clamp(m->dx, -256, 255), dy = clamp(m->dy, -256, 255);
	int dz = clamp(m->dz, -8, 7);
	m->dx -= dx;
	m->dy -= dy;
	m->dz -= dz;
	int sx = clamp(scale(m, dx), -256, 255), sy = clamp(scale(m, dy), -256, 255);
	mouse_send(k, (uint8_t)(0x08 | (m->buttons & 7) | (sx < 0 ? 0x10 : 0) |
				(sy < 0 ? 0x20 : 0)));
	mouse_send(k, (uint8_t)sx);
	mouse_send(k, (uint8_t)sy);
	if (m->id == 3)
		mouse_send(k, (uint8_t)dz);
	else if (m->id == 4)
		mouse_send(k, (uint8_t)((dz & 0x0f) | (m->buttons & 0x18) << 1));
	m->dirty = m->dx || m->dy || m->dz;
}

/* In stream mode, sends what the host reported while there is room. */
static void mouse_flush(struct kbc *k)
{
	struct ps2_mouse *m = &k->mouse;
	unsigned size = m->id ? 4 : 3;
	while (m->dirty && m->reporting && !m->remote && !m->wrap &&
	       q_room(&m->q) >= size)
		mouse_packet(k);
}

void kbc_mouse_event(struct kbc *k, int dx, int dy, int dz, unsigned buttons)
{
	struct ps2_mouse *m = &k->mouse;
	/* Keep the sums bounded: the guest may not read for a long time. */
	m->dx = clamp(m->dx + clamp(dx, -65536, 65536), -65536, 65536);
	m->dy = clamp(m->dy + clamp(dy, -65536, 65536), -65536, 65536);
	m->dz = clamp(m->dz + clamp(dz, -256, 256), -256, 256);
	if (dx || dy || dz || buttons != m->buttons)
		m->dirty = true;
	m->buttons = buttons & 0x1f;
	mouse_flush(k);
	fill(k);
}

static void mouse_command(struct kbc *k, uint8_t v)
{
	struct ps2_mouse *m = &k->mouse;
	if (m->wrap && v != 0xec && v != 0xff) {
		mouse_send(k, v);
		return;
	}
	uint8_t expect = m->expect;
	m->expect = 0;
	if (expect == 0xe8) {
		m->resolution = v & 3;
		mouse_send(k, ACK);
		return;
	}
	if (expect == 0xf3) {
		m->rate = v;
		m->rates[0] = m->rates[1];
		m->rates[1] = m->rates[2];
		m->rates[2] = v;
		if (m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80 && m->id == 0)
			m->id = 3;
		else if (m->rates[0] == 200 && m->rates[1] == 200 && m->rates[2] == 80 && m->id == 3)
			m->id = 4;
		mouse_send(k, ACK);
		return;
	}
	switch (v) {
	case 0xe6:
		m->scale21 = false;
		mouse_send(k, ACK);
		break;
	case 0xe7:
		m->scale21 = true;
		mouse_send(k, ACK);
		break;
	case 0xe8:
	case 0xf3:
		m->expect = v;
		mouse_send(k, ACK);
		break;
	case 0xe9: /* status request */
		mouse_send(k, ACK);
		mouse_send(k, (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
					(m->scale21 ? 0x10 : 0) | (m->buttons & 1 ? 0x04 : 0) |
					(m->buttons & 4 ? 0x02 : 0) | (m->buttons & 2 ? 0x01 : 0)));
		mouse_send(k, m->resolution);
		mouse_send(k, m->rate);
		break;
	case 0xea:
		m->remote = false;
		mouse_send(k, ACK);
		break;
	case 0xeb: /* read data */
		mouse_send(k, ACK);
		mouse_packet(k);
		break;
	case 0xec:
		m->wrap = false;
		mouse_send(k, ACK);
		break;
	case 0xee:
		m->wrap = true;
		mouse_send(k, ACK);
		break;
	case 0xf0:
		m->remote = true;
		mouse_send(k, ACK);
		break;
	case 0xf2:
		mouse_send(k, ACK);
		mouse_send(k, m->id);
		break;
	case 0xf4: /* enable reporting; the movement counters restart */
	case 0xf5:
		m->reporting = v == 0xf4;
		m->dx = m->dy = m->dz = 0;
		m->dirty = false;
		mouse_send(k, ACK);
		break;
	case 0xf6:
		mouse_defaults(m);
		mouse_send(k, ACK);
		break;
	case 0xfe:
		q_push(&m->q, m->last);
		break;
	case 0xff:
		q_clear(&m->q);
		mouse_defaults(m);
		m->wrap = false;
		m->id = 0;
		m->dx = m->dy = m->dz = 0;
		m->dirty = false;
		mouse_send(k, ACK);
		mouse_send(k, 0xaa);
		mouse_send(k, 0x00);
		break;
	default:
		mouse_send(k, RESEND);
		break;
	}
}

/* The controller. */

static void write_ctr(struct kbc *k, uint8_t v)
{
	k->ram[0] = v;
	k->status = (uint8_t)((k->status & ~ST_SYS) | (v & CTR_SYS ? ST_SYS : 0));
	fill(k);
}

static void write_outport(struct kbc *k, uint8_t v)
{
	k->outport = v;
	update_a20(k);
	if (!(v & OUT_RESET)) {
		log_info("8042: reset through the output port");
		vm_request_reset(k->vm);
	}
}

static void controller_command(struct kbc *k, uint8_t cmd)
{
	if (cmd >= 0x20 && cmd <= 0x3f) {
		ctl_reply(k, k->ram[cmd & 0x1f], false);
		return;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || cmd == 0xd1 || cmd == 0xd2 ||
	    cmd == 0xd3 || cmd == 0xd4 || cmd == 0xa5) {
		k->pending = cmd;
		return;
	}
	if (cmd >= 0xf0) {
		/* Pulse output port bits 0-3 low where the command has 0s. */
		if (!(cmd & 1)) {
			log_info("8042: reset pulse (command %#x)", cmd);
			vm_request_reset(k->vm);
		}
		return;
	}
	switch (cmd) {
	case 0xa4: /* password installed? */
		ctl_reply(k, 0xf1, false);
		break;
	case 0xa6: /* enable password: none is installed */
		break;
	case 0xa7:
		write_ctr(k, k->ram[0] | CTR_AUX_DIS);
		break;
	case 0xa8:
		write_ctr(k, k->ram[0] & ~CTR_AUX_DIS);
		break;
	case 0xa9: /* auxiliary interface test: no error */
	case 0xab: /* keyboard interface test: no error */
		ctl_reply(k, 0x00, false);
		break;
	case 0xaa: /* self-test */
		write_ctr(k, k->ram[0] | CTR_SYS);
		ctl_reply(k, 0x55, false);
		break;
	case 0xad:
		write_ctr(k, k->ram[0] | CTR_KBD_DIS);
		break;
	case 0xae:
		write_ctr(k, k->ram[0] & ~CTR_KBD_DIS);
		break;
	case 0xc0: /* input port: keyboard not inhibited */
		ctl_reply(k, 0x80, false);
		break;
	case 0xd0: {
		uint8_t v = k->outport & ~0x30;
		if (k->status & ST_OBF)
			v |= k->status & ST_AUX ? 0x20 : 0x10;
		ctl_reply(k, v, false);
		break;
	}
	case 0xdd: /* A20 off */
		write_outport(k, k->outport & ~OUT_A20);
		break;
	case 0xdf: /* A20 on */
		write_outport(k, k->outport | OUT_A20);
		break;
	case 0xe0: /* test inputs */
		ctl_reply(k, 0x00, false);
		break;
	default:
		log_debug("8042: command %#x not supported", cmd);
		break;
	}
}

static void data_write(struct kbc *k, uint8_t v)
{
	uint8_t cmd = k->pending;
	k->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		if (cmd == 0x60)
			write_ctr(k, v);
		else
			k->ram[cmd & 0x1f] = v;
		return;
	}
	switch (cmd) {
	case 0xd1:
		write_outport(k, v);
		return;
	case 0xd2:
		ctl_reply(k, v, false);
		return;
	case 0xd3:
		ctl_reply(k, v, true);
		return;
	case 0xd4:
		mouse_command(k, v);
		fill(k);
		return;
	case 0xa5: /* password bytes up to a 0 */
		if (v)
			k->pending = 0xa5;
		return;
	default:
		kbd_command(k, v);
		fill(k);
		return;
	}
}

static uint64_t kbc_io(void *opaque, uint64_t addr, uint64_t val,
		       unsigned size, int is_write)
{
	struct kbc *k = opaque;
	(void)size;
	if (addr == 0x64) {
		if (is_write) {
			k->status |= ST_CMD;
			k->pending = 0;
			controller_command(k, (uint8_t)val);
			return 0;
		}
		return k->status;
	}
	if (is_write) {
		k->status &= (uint8_t)~ST_CMD;
		data_write(k, (uint8_t)val);
		return 0;
	}
	uint8_t v = k->out;
	/* The IRQ pin drops with OBF; a byte waiting behind this one raises
	 * it again, a fresh edge for the PIC. */
	k->status &= (uint8_t)~(ST_OBF | ST_AUX);
	update_irqs(k);
	fill(k);
	return v;
}

static uint64_t port92_io(void *opaque, uint64_t addr, uint64_t val,
			  unsigned size, int is_write)
{
	struct kbc *k = opaque;
	(void)addr;
	(void)size;
	if (!is_write)
		return k->port92;
	uint8_t old = k->port92;
	k->port92 = (uint8_t)val & 0x0b;
	update_a20(k);
	if ((val & 1) && !(old & 1)) {
		log_info("port 0x92: fast reset");
		vm_request_reset(k->vm);
	}
	return 0;
}

uint8_t kbc_get_leds(const struct kbc *k) { return k->kbd.leds; }

static void kbc_reset(void *opaque)
{
	struct kbc *k = opaque;
	k->status = ST_UNLOCKED;
	memset(k->ram, 0, sizeof(k->ram));
	k->ram[0] = CTR_KBD_INT | CTR_AUX_INT | CTR_XLATE;
	k->outport = 0xcf;
	k->port92 = 0;
	k->pending = 0;
	k->xlate_break = false;
	q_clear(&k->ctl);
	q_clear(&k->kbd.q);
	kbd_stop_repeat(k);
	kbd_defaults(&k->kbd);
	k->kbd.leds = 0;
	k->kbd.scanning = true;
	q_clear(&k->mouse.q);
	mouse_defaults(&k->mouse);
	k->mouse.wrap = false;
	k->mouse.id = 0;
	k->mouse.dx = k->mouse.dy = k->mouse.dz = 0;
	k->mouse.dirty = false;
	update_irqs(k);
	update_a20(k);
}

static void kbc_free(void *opaque)
{
	struct kbc *k = opaque;
	timer_del(&k->kbd.repeat);
	if (k->vm->key_opaque == k) {
		k->vm->key_event = NULL;
		k->vm->key_opaque = NULL;
	}
	free(k);
}

int kbc_create(struct vm *vm, struct kbc **out)
{
	struct kbc *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, kbc_free, k);
	if (err) {
		free(k);
		return err;
	}
	k->vm = vm;
	timer_init(&k->kbd.repeat, vm->clock, repeat_cb, k, "typematic");
	for (int i = 0; i < 256; i++)
		k->xlate[i] = (uint8_t)i;
	for (int c = 0; c < 0x80; c++)
		if (set1_to_set2[c])
			k->xlate[set1_to_set2[c]] = (uint8_t)c;
	k->xlate[0x00] = 0xff; /* overrun */
	k->xlate[0x02] = 0x41; /* what "set 2" reads as through translation */
	if ((err = ioport_register(vm->io, 0x60, 1, kbc_io, k, IOPORT_F_BYTE, "i8042")) ||
	    (err = ioport_register(vm->io, 0x64, 1, kbc_io, k, IOPORT_F_BYTE, "i8042")) ||
	    (err = ioport_register(vm->io, 0x92, 1, port92_io, k, IOPORT_F_BYTE, "port92")) ||
	    (err = vm_add_reset_hook(vm, kbc_reset, k)))
		return err;
	kbc_reset(k);
	vm->key_event = key_event;
	vm->key_opaque = k;
	*out = k;
	return 0;
}

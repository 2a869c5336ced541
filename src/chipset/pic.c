/*
 * The two cascaded 8259A programmable interrupt controllers of the PC/AT
 * and the PIIX3's edge/level control registers (ELCR), following the Intel
 * 8259A datasheet (initialization and operation command words, priority
 * modes, poll command) and the PIIX3 datasheet's "Interrupt Controller"
 * section. As in the PIIX3, ICW1's LTIM bit has no effect: each line is
 * edge or level triggered as its ELCR bit says. IR2 of the master is the
 * slave's INT output.
 *
 * IRR holds latched rising edges for edge-triggered lines and follows the
 * input for level-triggered ones; a request that goes away before the CPU
 * acknowledges it yields the spurious IRQ7 (or IRQ15) vector, as on the
 * real part.
 */
#include "pic.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t input;        /* current levels of the IR inputs */
	uint8_t elcr;         /* 1: level triggered */
	uint8_t elcr_mask;    /* lines whose trigger mode can be changed */
	uint8_t vector_base;  /* ICW2 & 0xf8 */
	uint8_t icw3;
	uint8_t lowest;       /* the level with the lowest priority */
	uint8_t init_step;    /* 0: operating; 2, 3, 4: expecting that ICW */
	bool need_icw4, single;
	bool auto_eoi, rotate_aeoi, sfnm, special_mask;
	bool read_isr, poll;
	bool warned_mcs80;
};

struct pic {
	struct vm *vm;
	struct pic_chip c[2];
	bool intr;
};

static int priority(const struct pic_chip *c, int irq)
{
	return (irq - c->lowest - 1) & 7;
}

/* The highest-priority level set in bits, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
	if (!bits)
		return -1;
	for (int p = 0; p < 8; p++) {
		int irq = (c->lowest + 1 + p) & 7;
		if (bits & (1u << irq))
			return irq;
	}
	return -1;
}

/* The level this controller would present to the CPU now, or -1. */
static int pending_irq(const struct pic_chip *c, bool master)
{
	int irq = highest(c, c->irr & ~c->imr);
	if (irq < 0)
		return -1;
	uint8_t in_service = c->isr;
	/* Special mask mode lets masked in-service levels stop blocking; in
	 * special fully nested mode the master lets the cascade through so
	 * the slave can rank its own requests. */
	if (c->special_mask)
		in_service &= (uint8_t)~c->imr;
	if (master && c->sfnm)
		in_service &= (uint8_t)~(1u << 2);
	int cur = highest(c, in_service);
	if (cur >= 0 && priority(c, irq) >= priority(c, cur))
		return -1;
	return irq;
}

static void set_input(struct pic_chip *c, int irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);
	if (level) {
		if (!(c->input & bit) || (c->elcr & bit))
			c->irr |= bit;
		c->input |= bit;
	} else {
		c->input &= (uint8_t)~bit;
		if (c->elcr & bit)
			c->irr &= (uint8_t)~bit;
	}
}

static void update(struct pic *p)
{
	set_input(&p->c[0], 2, pending_irq(&p->c[1], false) >= 0);
	bool intr = pending_irq(&p->c[0], true) >= 0;
	if (intr != p->intr) {
		p->intr = intr;
		vm_set_intr(p->vm, intr);
	}
}

static void set_irq(void *opaque, int n, int level)
{
	struct pic *p = opaque;
	if (n < 0 || n > 15)
		return;
	set_input(&p->c[n >> 3], n & 7, level);
	update(p);
}

/* The acknowledge of one controller: IRR to ISR. */
static void ack_chip(struct pic_chip *c, int irq)
{
	uint8_t bit = (uint8_t)(1u << irq);
	if (!(c->elcr & bit))
		c->irr &= (uint8_t)~bit;
	if (c->auto_eoi) {
		if (c->rotate_aeoi)
			c->lowest = (uint8_t)irq;
	} else {
		c->isr |= bit;
	}
}

int pic_intr_ack(struct pic *p)
{
	struct pic_chip *m = &p->c[0], *s = &p->c[1];
	int vector;
	int irq = pending_irq(m, true);
	if (irq < 0) {
		vector = m->vector_base | 7;
	} else {
		ack_chip(m, irq);
		if (irq == 2 && !m->single) {
			int irq2 = pending_irq(s, false);
			if (irq2 < 0) {
				vector = s->vector_base | 7;
			} else {
				ack_chip(s, irq2);
				vector = s->vector_base + irq2;
			}
			/* The slave's INT drops during the acknowledge; a
			 * request still waiting there raises it again, which
			 * the master sees as a new edge. */
			m->input &= (uint8_t)~(1u << 2);
		} else {
			vector = m->vector_base + irq;
		}
	}
	update(p);
	return vector;
}

static int intr_ack(void *opaque)
{
	return pic_intr_ack(opaque);
}

static uint8_t poll_chip(struct pic *p, int chip)
{
	struct pic_chip *c = &p->c[chip];
	c->poll = false;
	int irq = pending_irq(c, chip == 0);
	if (irq < 0)
		return 0;
	ack_chip(c, irq);
	if (chip == 0 && irq == 2)
		c->input &= (uint8_t)~(1u << 2);
	update(p);
	return (uint8_t)(0x80 | irq);
}

static void write_command(struct pic *p, int chip, uint8_t v)
{
	struct pic_chip *c = &p->c[chip];
	if (v & 0x10) { /* ICW1 */
		c->init_step = 2;
		c->need_icw4 = v & 0x01;
		c->single = v & 0x02;
		c->imr = 0;
		c->isr = 0;
		/* The edge sense circuit restarts: an edge-triggered line
		 * needs a fresh low-to-high transition. */
		c->irr = c->input & c->elcr;
		c->lowest = 7;
		c->special_mask = false;
		c->read_isr = false;
		c->poll = false;
		c->auto_eoi = false;
		c->rotate_aeoi = false;
		c->sfnm = false;
	} else if (v & 0x08) { /* OCW3 */
		if (v & 0x04)
			c->poll = true;
		if (v & 0x02)
			c->read_isr = v & 0x01;
		if (v & 0x40)
			c->special_mask = v & 0x20;
	} else { /* OCW2 */
		int level = v & 7;
		int irq;
		switch (v >> 5) {
		case 0: /* rotate in automatic EOI mode: clear */
			c->rotate_aeoi = false;
			break;
		case 4: /* rotate in automatic EOI mode: set */
			c->rotate_aeoi = true;
			break;
		case 1: /* non-specific EOI */
		case 5: /* rotate on non-specific EOI */
			irq = highest(c, c->isr);
			if (irq >= 0) {
				c->isr &= (uint8_t)~(1u << irq);
				if (v >> 5 == 5)
					c->lowest = (uint8_t)irq;
			}
			break;
		case 3: /* specific EOI */
			c->isr &= (uint8_t)~(1u << level);
			break;
		case 7: /* rotate on specific EOI */
			c->isr &= (uint8_t)~(1u << level);
			c->lowest = (uint8_t)level;
			break;
		case 6: /* set priority */
			c->lowest = (uint8_t)level;
			break;
		default: /* 2: no operation */
			break;
		}
	}
	update(p);
}

static void write_data(struct pic *p, int chip, uint8_t v)
{
	struct pic_chip *c = &p->c[chip];
	switch (c->init_step) {
	case 2:
		c->vector_base = v & 0xf8;
		c->init_step = c->single ? (c->need_icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->icw3 = v;
		c->init_step = c->need_icw4 ? 4 : 0;
		break;
	case 4:
		if (!(v & 0x01) && !c->warned_mcs80) {
			c->warned_mcs80 = true;
			log_warn("8259 %s: MCS-80/85 mode requested in ICW4; "
				 "interrupts keep using 8086 vectors",
				 chip ? "slave" : "master");
		}
		c->auto_eoi = v & 0x02;
		c->sfnm = v & 0x10;
		c->init_step = 0;
		break;
	default:
		c->imr = v;
		break;
	}
	update(p);
}

static uint64_t pic_io(void *opaque, uint64_t addr, uint64_t val,
		       unsigned size, int is_write)
{
	struct pic *p = opaque;
	int chip = addr >= 0xa0;
	bool data = addr & 1;
	struct pic_chip *c = &p->c[chip];
	(void)size;
	if (is_write) {
		if (data)
			write_data(p, chip, (uint8_t)val);
		else
			write_command(p, chip, (uint8_t)val);
		return 0;
	}
	if (data)
		return c->imr;
	if (c->poll)
		return poll_chip(p, chip);
	return c->read_isr ? c->isr : c->irr;
}

static uint64_t elcr_io(void *opaque, uint64_t addr, uint64_t val,
			unsigned size, int is_write)
{
	struct pic *p = opaque;
	struct pic_chip *c = &p->c[addr & 1];
	(void)size;
	if (!is_write)
		return c->elcr;
	c->elcr = (uint8_t)val & c->elcr_mask;
	/* A line that became level triggered requests while it is high. */
	c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->input & c->elcr));
	update(p);
	return 0;
}

static void pic_reset(void *opaque)
{
	struct pic *p = opaque;
	for (int i = 0; i < 2; i++) {
		struct pic_chip *c = &p->c[i];
		uint8_t input = c->input, mask = c->elcr_mask;
		memset(c, 0, sizeof(*c));
		c->input = input;
		c->elcr_mask = mask;
		c->imr = 0xff;
		c->lowest = 7;
	}
	/* INTR follows from the cleared state; tell the CPU even if our
	 * cached level already says low, since the CPU was reset too. */
	p->intr = false;
	vm_set_intr(p->vm, false);
	update(p);
}

uint8_t pic_get_irr(struct pic *p, int chip) { return p->c[chip & 1].irr; }
uint8_t pic_get_isr(struct pic *p, int chip) { return p->c[chip & 1].isr; }
uint8_t pic_get_imr(struct pic *p, int chip) { return p->c[chip & 1].imr; }

int pic_create(struct vm *vm, struct pic **out)
{
	struct pic *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, free, p);
	if (err) {
		free(p);
		return err;
	}
	p->vm = vm;
	/* IRQ0-2 (timer, keyboard, cascade), IRQ8 (RTC) and IRQ13 (FPU)
	 * are always edge triggered on the PIIX3. */
	p->c[0].elcr_mask = 0xf8;
	p->c[1].elcr_mask = 0xde;
	if ((err = ioport_register(vm->io, 0x20, 2, pic_io, p, IOPORT_F_BYTE, "pic-master")) ||
	    (err = ioport_register(vm->io, 0xa0, 2, pic_io, p, IOPORT_F_BYTE, "pic-slave")) ||
	    (err = ioport_register(vm->io, 0x4d0, 2, elcr_io, p, IOPORT_F_BYTE, "elcr")) ||
	    (err = vm_add_reset_hook(vm, pic_reset, p)))
		return err;
	for (int i = 0; i < 16; i++)
		vm->isa_irq[i] = (struct irq_line){ i == 2 ? NULL : set_irq, p, i };
	vm->intr_ack = intr_ack;
	vm->intr_opaque = p;
	pic_reset(p);
	*out = p;
	return 0;
}

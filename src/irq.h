/*
 * An interrupt line: a device holds one and raises or lowers it; whoever
 * receives it (PIC input, I/O APIC pin) supplied the callback. Levels, not
 * pulses: an edge-triggered receiver sees the 0->1 transition.
 */
#ifndef PCVM_IRQ_H
#define PCVM_IRQ_H

struct irq_line {
	void (*set)(void *opaque, int n, int level);
	void *opaque;
	int n;
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l && l->set)
		l->set(l->opaque, l->n, level);
}

static inline void irq_pulse(const struct irq_line *l)
{
	irq_set(l, 1);
	irq_set(l, 0);
}

#endif

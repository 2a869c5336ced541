/*
 * The software x86 CPU: vcpu_ops glue. (Being written: this first version
 * only exists so the machine links; run() reports that it cannot run.)
 */
#include "../vcpu.h"
#include "../../log.h"
#include "../../vm.h"

#include <errno.h>
#include <stdlib.h>

struct emu {
	struct vcpu vcpu;
	volatile int kicked;
};

static int emu_create(struct vm *vm, struct vcpu **out)
{
	struct emu *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->vcpu.ops = &emu_vcpu_ops;
	e->vcpu.vm = vm;
	*out = &e->vcpu;
	return 0;
}

static void emu_destroy(struct vcpu *cpu) { free(cpu); }
static void emu_reset(struct vcpu *cpu) { (void)cpu; }
static enum vcpu_exit emu_run(struct vcpu *cpu, uint64_t deadline)
{
	(void)cpu;
	(void)deadline;
	log_error("the software CPU cannot run guests yet");
	return VCPU_EXIT_ERROR;
}
static void emu_set_intr(struct vcpu *cpu, bool level) { (void)cpu; (void)level; }
static void emu_nmi(struct vcpu *cpu) { (void)cpu; }
static void emu_set_a20(struct vcpu *cpu, bool en) { (void)cpu; (void)en; }
static void emu_kick(struct vcpu *cpu) { ((struct emu *)cpu)->kicked = 1; }
static int emu_get_state(struct vcpu *cpu, struct x86_state *st) { (void)cpu; (void)st; return -ENOSYS; }
static int emu_set_state(struct vcpu *cpu, const struct x86_state *st) { (void)cpu; (void)st; return -ENOSYS; }
static uint64_t emu_icount(struct vcpu *cpu) { (void)cpu; return 0; }

const struct vcpu_ops emu_vcpu_ops = {
	.name = "emu",
	.create = emu_create,
	.destroy = emu_destroy,
	.reset = emu_reset,
	.run = emu_run,
	.set_intr = emu_set_intr,
	.nmi = emu_nmi,
	.set_a20 = emu_set_a20,
	.kick = emu_kick,
	.get_state = emu_get_state,
	.set_state = emu_set_state,
	.icount = emu_icount,
};

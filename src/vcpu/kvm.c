/*
 * The KVM backend: one vCPU on /dev/kvm (API 12) running the same machine
 * model as the software CPU. It follows the kernel's
 * Documentation/virt/kvm/api.rst: guest RAM and ROM are user memory slots
 * (4.35 KVM_SET_USER_MEMORY_REGION, ROM with KVM_MEM_READONLY so writes
 * exit as MMIO), everything else exits to us (5. "The kvm_run structure":
 * KVM_EXIT_IO, KVM_EXIT_MMIO) and goes to ioport_* / mem_*. There is no
 * in-kernel irqchip: the machine's own PIC drives INTR, and we inject its
 * vector with KVM_INTERRUPT when kvm_run says the guest can take one,
 * asking for an interrupt window otherwise (4.16, and
 * request_interrupt_window in section 5). Timer deadlines kick KVM_RUN out
 * with a signal plus immediate_exit (section 5, "immediate_exit").
 *
 * The power-on state is the one of Intel's SDM Vol. 3A, 10.1.1 (Table 10-1,
 * "IA-32 and Intel 64 Processor States Following Power-up, Reset, or INIT"):
 * CS:IP F000:FFF0 with CS base FFFF0000.
 *
 * CPUID is what KVM_GET_SUPPORTED_CPUID offers minus what this machine does
 * not have: no local APIC (so no x2APIC, TSC-deadline timer, ARAT,
 * performance-monitoring interrupts or APIC topology leaves), one logical
 * processor, no VMX/SVM/SMX, no MONITOR/MWAIT, and no hypervisor bit or
 * KVM paravirtual leaves, so a guest sees the same plain PC under either
 * backend. Instruction-set features (SSE*, AVX, ...) are left as KVM offers
 * them; get_state/set_state carry the x87/SSE state only (struct x86_fpu),
 * so AVX register upper halves do not move between backends. With no local
 * APIC, IA32_APIC_BASE keeps its enable bits clear (KVM derives the CPUID
 * APIC bit from them). KVM has no A20 gate: disabling it is accepted and
 * logged once at debug level.
 *
 * Memory slots are brought in line with the memory map before every
 * KVM_RUN whose map generation moved, rather than from a mem listener: a
 * listener cannot be removed and would outlive a destroyed vCPU. The PAM
 * switches of the i440FX change the map while the guest runs.
 */
#include "vcpu.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel.h"
#include "kvm.h"

#define PAGE_MASK_4K 0xfffull

/* Where KVM on VT-x without unrestricted guest keeps its real-mode TSS (3
 * pages) and EPT identity map (1 page): guest-physical pages no RAM, ROM
 * or device uses, below the largest firmware image we map (16 MiB under
 * 4 GiB). */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull
#define KVM_TSS_ADDR 0xfeffd000ull

/* CPUID bits the machine does not have (Intel SDM Vol. 2A, CPUID; AMD APM
 * Vol. 3, E.3). */
#define CPUID_1_ECX_MONITOR (1u << 3)
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_SMX (1u << 6)
#define CPUID_1_ECX_PDCM (1u << 15)
#define CPUID_1_ECX_X2APIC (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_APIC (1u << 9)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define CPUID_80000001_ECX_EXT_APIC (1u << 3)
#define CPUID_80000001_ECX_PERFCTR_CORE (1u << 23)
/* IA32_APIC_BASE: global enable (11) and x2APIC mode (10). */
#define APIC_BASE_ENABLES ((1ull << 11) | (1ull << 10))

/* One KVM memory slot, indexed by slot id in struct kvm_cpu. */
struct kvm_slot {
	uint64_t gpa, size;
	uint8_t *host;
	uint32_t flags;
	bool used;
};

/* The MSRs struct x86_msrs holds (APIC base travels in the sregs). */
struct msr_field {
	uint32_t index;
	size_t offset; /* into struct x86_msrs */
};

#define MSR_F(idx, field) { idx, offsetof(struct x86_msrs, field) }
static const struct msr_field msr_fields[] = {
	MSR_F(0x10, tsc),
	MSR_F(0x174, sysenter_cs), MSR_F(0x175, sysenter_esp), MSR_F(0x176, sysenter_eip),
	MSR_F(0x277, pat),
	MSR_F(0x1a0, misc_enable),
	MSR_F(0x2ff, mtrr_def_type),
	MSR_F(0x250, mtrr_fixed[0]), MSR_F(0x258, mtrr_fixed[1]), MSR_F(0x259, mtrr_fixed[2]),
	MSR_F(0x268, mtrr_fixed[3]), MSR_F(0x269, mtrr_fixed[4]), MSR_F(0x26a, mtrr_fixed[5]),
	MSR_F(0x26b, mtrr_fixed[6]), MSR_F(0x26c, mtrr_fixed[7]), MSR_F(0x26d, mtrr_fixed[8]),
	MSR_F(0x26e, mtrr_fixed[9]), MSR_F(0x26f, mtrr_fixed[10]),
	MSR_F(0x200, mtrr_var[0]), MSR_F(0x201, mtrr_var[1]), MSR_F(0x202, mtrr_var[2]),
	MSR_F(0x203, mtrr_var[3]), MSR_F(0x204, mtrr_var[4]), MSR_F(0x205, mtrr_var[5]),
	MSR_F(0x206, mtrr_var[6]), MSR_F(0x207, mtrr_var[7]), MSR_F(0x208, mtrr_var[8]),
	MSR_F(0x209, mtrr_var[9]), MSR_F(0x20a, mtrr_var[10]), MSR_F(0x20b, mtrr_var[11]),
	MSR_F(0x20c, mtrr_var[12]), MSR_F(0x20d, mtrr_var[13]), MSR_F(0x20e, mtrr_var[14]),
	MSR_F(0x20f, mtrr_var[15]),
	MSR_F(0xc0000081, star), MSR_F(0xc0000082, lstar), MSR_F(0xc0000083, cstar),
	MSR_F(0xc0000084, fmask), MSR_F(0xc0000102, kernel_gs_base),
	MSR_F(0xc0000103, tsc_aux),
};
#define NMSR_FIELDS (sizeof(msr_fields) / sizeof(msr_fields[0]))

struct kvm_cpu {
	struct vcpu vcpu;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint32_t signature;         /* CPUID.1:EAX, EDX after reset */
	size_t xsave_size;          /* KVM_GET_XSAVE buffer; 0: use KVM_GET_FPU */
	bool xsave2;                /* KVM_GET_XSAVE2 (buffers over 4 KiB) */
	bool has_xcrs;              /* KVM_SET_XCRS (XCR0) */

	/* Which entries of msr_fields this KVM can read and write. */
	bool msr_ok[NMSR_FIELDS];

	struct kvm_slot *slots;     /* indexed by KVM slot id */
	unsigned nslots;            /* ids in use are < nslots */
	unsigned max_slots;
	uint64_t mem_gen;           /* mem generation the slots reflect */
	bool slots_valid;

	/* Set by kick (possibly from a signal handler). */
	volatile sig_atomic_t kicked;
	volatile sig_atomic_t in_run;
	pthread_t thread;

	bool intr_level;            /* the INTR pin */
	bool nmi_pending;           /* raised, not yet handed to KVM */
	bool halted;                /* HLT exit, nothing delivered since */
	bool io_pending;            /* an IO/MMIO exit awaits KVM_RUN to finish */
	/* VM exits by reason, for --report */
	uint64_t n_exit_io, n_exit_mmio, n_exit_hlt, n_exit_window, n_exit_intr,
		 n_exit_other, n_run_eintr;
	bool a20_logged;
	bool software_kvm;          /* kvm_pvm: see refused_paging() */
};

static struct kvm_cpu *to_kvm(struct vcpu *cpu)
{
	return (struct kvm_cpu *)cpu;
}

/* ---- memory slots ---- */

static int set_slot(struct kvm_cpu *k, unsigned id, const struct kvm_slot *s,
		    bool remove)
{
	struct kvm_userspace_memory_region r = {
		.slot = id,
		.flags = s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = remove ? 0 : s->size,
		.userspace_addr = (uint64_t)(uintptr_t)s->host,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int err = errno;
		log_error("kvm: cannot %s memory slot [%#llx-%#llx]: %s",
			  remove ? "remove" : "map", (unsigned long long)s->gpa,
			  (unsigned long long)(s->gpa + s->size - 1), strerror(err));
		return -err;
	}
	return 0;
}

static bool same_slot(const struct kvm_slot *a, const struct kvm_slot *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->host == b->host &&
	       a->flags == b->flags;
}

/* The slots the memory map calls for: every region with host memory behind
 * its reads. A region that also writes to that same memory is RAM; any
 * other (ROM, or the PAM "read ROM, write RAM" setting) is a read-only slot
 * whose writes exit as MMIO and reach mem_write, which sends them where the
 * region says. Adjacent slots with contiguous host memory are merged. */
static int wanted_slots(struct kvm_cpu *k, struct kvm_slot **out, unsigned *nout)
{
	struct mem *m = k->vcpu.vm->mem;
	unsigned n = mem_region_count(m), nw = 0;
	struct kvm_slot *w = calloc(n ? n : 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct mem_region *r = mem_region_at(m, i);
		if (!r->rd)
			continue;
		if ((r->base | r->size | (uintptr_t)r->rd) & PAGE_MASK_4K) {
			log_debug("kvm: region %s [%#llx+%#llx] is not page-aligned; "
				  "its accesses exit to the device model",
				  r->name ? r->name : "?", (unsigned long long)r->base,
				  (unsigned long long)r->size);
			continue;
		}
		uint32_t flags = r->wr == r->rd ? 0 : KVM_MEM_READONLY;
		struct kvm_slot *prev = nw ? &w[nw - 1] : NULL;
		if (prev && prev->flags == flags && prev->gpa + prev->size == r->base &&
		    prev->host + prev->size == r->rd) {
			prev->size += r->size;
			continue;
		}
		w[nw++] = (struct kvm_slot){ .gpa = r->base, .size = r->size,
					     .host = r->rd, .flags = flags, .used = true };
	}
	*out = w;
	*nout = nw;
	return 0;
}

/* Brings KVM's slots in line with the memory map: removes the slots that
 * changed first (KVM refuses overlapping slots), then adds the new ones. */
static int sync_slots(struct kvm_cpu *k)
{
	struct kvm_slot *w;
	unsigned nw;
	int err = wanted_slots(k, &w, &nw);
	if (err)
		return err;
	bool *keep = calloc(nw ? nw : 1, sizeof(*keep));
	if (!keep) {
		free(w);
		return -ENOMEM;
	}
	for (unsigned id = 0; id < k->nslots && !err; id++) {
		struct kvm_slot *s = &k->slots[id];
		if (!s->used)
			continue;
		bool found = false;
		for (unsigned j = 0; j < nw && !found; j++)
			if (!keep[j] && same_slot(s, &w[j]))
				keep[j] = found = true;
		if (!found) {
			err = set_slot(k, id, s, true);
			s->used = false;
		}
	}
	for (unsigned j = 0; j < nw && !err; j++) {
		if (keep[j])
			continue;
		unsigned id = 0;
		while (id < k->nslots && k->slots[id].used)
			id++;
		if (id == k->nslots) {
			if (k->nslots == k->max_slots) {
				log_error("kvm: the memory map needs more than the %u memory "
					  "slots KVM offers", k->max_slots);
				err = -ENOSPC;
				break;
			}
			struct kvm_slot *p = realloc(k->slots, (k->nslots + 1) * sizeof(*p));
			if (!p) {
				err = -ENOMEM;
				break;
			}
			k->slots = p;
			k->slots[k->nslots++].used = false;
		}
		if (!(err = set_slot(k, id, &w[j], false)))
			k->slots[id] = w[j];
	}
	free(keep);
	free(w);
	if (!err) {
		k->mem_gen = mem_generation(k->vcpu.vm->mem);
		k->slots_valid = true;
	}
	return err;
}

static int handle_io(struct kvm_cpu *k);
static int handle_mmio(struct kvm_cpu *k);

/* KVM finishes an I/O or MMIO instruction only on the next KVM_RUN
 * (api.rst, section 5, on KVM_EXIT_IO and KVM_EXIT_MMIO); until then the
 * registers do not show its effect. immediate_exit makes that entry return
 * as soon as the instruction is done. */
static int flush_pending_io(struct kvm_cpu *k)
{
	for (int tries = 0; k->io_pending && tries < 64; tries++) {
		k->run->immediate_exit = 1;
		int r = ioctl(k->vcpu_fd, KVM_RUN, 0);
		int err = errno;
		if (!k->kicked)
			k->run->immediate_exit = 0;
		k->io_pending = false;
		if (r < 0 && (err == EINTR || err == EAGAIN))
			return 0;
		if (r < 0) {
			log_error("kvm: finishing an I/O instruction failed: %s", strerror(err));
			return -err;
		}
		/* The instruction needed more (a split MMIO access). */
		if (k->run->exit_reason == KVM_EXIT_IO)
			r = handle_io(k);
		else if (k->run->exit_reason == KVM_EXIT_MMIO)
			r = handle_mmio(k);
		else
			r = -EIO;
		if (r)
			return r;
		k->io_pending = true;
	}
	return k->io_pending ? -EIO : 0;
}

/* ---- state conversion ---- */

static void seg_to_kvm(const struct x86_seg *s, struct kvm_segment *o)
{
	*o = (struct kvm_segment){
		.base = s->base,
		.limit = s->limit,
		.selector = s->sel,
		.type = s->attr & X86_SEG_ATTR_TYPE,
		.s = !!(s->attr & X86_SEG_ATTR_S),
		.dpl = (s->attr >> X86_SEG_ATTR_DPL_SHIFT) & 3,
		.present = !!(s->attr & X86_SEG_ATTR_P),
		.avl = !!(s->attr & X86_SEG_ATTR_AVL),
		.l = !!(s->attr & X86_SEG_ATTR_L),
		.db = !!(s->attr & X86_SEG_ATTR_DB),
		.g = !!(s->attr & X86_SEG_ATTR_G),
		.unusable = s->unusable,
	};
}

static void seg_from_kvm(const struct kvm_segment *s, struct x86_seg *o)
{
	o->sel = s->selector;
	o->base = s->base;
	o->limit = s->limit;
	o->attr = (uint16_t)((s->type & 0xf) | (s->s ? X86_SEG_ATTR_S : 0) |
			     ((s->dpl & 3) << X86_SEG_ATTR_DPL_SHIFT) |
			     (s->present ? X86_SEG_ATTR_P : 0) |
			     (s->avl ? X86_SEG_ATTR_AVL : 0) | (s->l ? X86_SEG_ATTR_L : 0) |
			     (s->db ? X86_SEG_ATTR_DB : 0) | (s->g ? X86_SEG_ATTR_G : 0));
	o->unusable = s->unusable;
}

static struct kvm_segment *sreg_slot(struct kvm_sregs *s, enum x86_sreg r)
{
	switch (r) {
	case X86_ES: return &s->es;
	case X86_CS: return &s->cs;
	case X86_SS: return &s->ss;
	case X86_DS: return &s->ds;
	case X86_FS: return &s->fs;
	case X86_GS: default: return &s->gs;
	}
}

/* kvm_regs lists the GPRs in its own order. */
static uint64_t *gpr_slot(struct kvm_regs *r, int i)
{
	uint64_t *map[16] = {
		(uint64_t *)&r->rax, (uint64_t *)&r->rcx, (uint64_t *)&r->rdx,
		(uint64_t *)&r->rbx, (uint64_t *)&r->rsp, (uint64_t *)&r->rbp,
		(uint64_t *)&r->rsi, (uint64_t *)&r->rdi, (uint64_t *)&r->r8,
		(uint64_t *)&r->r9, (uint64_t *)&r->r10, (uint64_t *)&r->r11,
		(uint64_t *)&r->r12, (uint64_t *)&r->r13, (uint64_t *)&r->r14,
		(uint64_t *)&r->r15,
	};
	return map[i];
}

static int vcpu_ioctl(struct kvm_cpu *k, unsigned long req, void *arg,
		      const char *what)
{
	if (ioctl(k->vcpu_fd, req, arg) < 0) {
		int err = errno;
		log_error("kvm: %s failed: %s", what, strerror(err));
		return -err;
	}
	return 0;
}

static int get_msrs(struct kvm_cpu *k, struct x86_msrs *out)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[NMSR_FIELDS];
	} m;
	memset(&m, 0, sizeof(m));
	unsigned n = 0;
	for (unsigned i = 0; i < NMSR_FIELDS; i++)
		if (k->msr_ok[i])
			m.e[n++].index = msr_fields[i].index;
	m.hdr.nmsrs = n;
	int got = ioctl(k->vcpu_fd, KVM_GET_MSRS, &m);
	if (got < 0 || (unsigned)got != n) {
		log_error("kvm: reading the MSRs failed after %d of %u", got, n);
		return -EIO;
	}
	n = 0;
	for (unsigned i = 0; i < NMSR_FIELDS; i++)
		if (k->msr_ok[i])
			memcpy((char *)out + msr_fields[i].offset, &m.e[n++].data,
			       sizeof(uint64_t));
	return 0;
}

static int set_msrs(struct kvm_cpu *k, const struct x86_msrs *in)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[NMSR_FIELDS];
	} m;
	memset(&m, 0, sizeof(m));
	unsigned n = 0;
	for (unsigned i = 0; i < NMSR_FIELDS; i++) {
		if (!k->msr_ok[i])
			continue;
		m.e[n].index = msr_fields[i].index;
		memcpy(&m.e[n].data, (const char *)in + msr_fields[i].offset,
		       sizeof(uint64_t));
		n++;
	}
	m.hdr.nmsrs = n;
	int done = ioctl(k->vcpu_fd, KVM_SET_MSRS, &m);
	if (done < 0 || (unsigned)done != n) {
		unsigned bad = done < 0 ? 0 : (unsigned)done;
		log_error("kvm: KVM refused MSR %#x = %#llx", m.e[bad].index,
			  (unsigned long long)m.e[bad].data);
		return -EINVAL;
	}
	return 0;
}

/* x87/SSE state. KVM_GET_FPU and KVM_SET_FPU leave MXCSR out (the kernel
 * copies every other field), so the XSAVE area is used where KVM has it:
 * its first 512 bytes are FXSAVE's layout (SDM Vol. 1, 10.5.1, Table
 * 10-2) and the header's XSTATE_BV says which parts hold state rather than
 * their initial values (13.4.2). */
#define XS_FCW 0
#define XS_FSW 2
#define XS_FTW 4
#define XS_FOP 6
#define XS_FIP 8
#define XS_FDP 16
#define XS_MXCSR 24
#define XS_ST 32
#define XS_XMM 160
#define XS_XSTATE_BV 512
#define XSTATE_FP 1ull
#define XSTATE_SSE 2ull

static int get_xsave(struct kvm_cpu *k, uint8_t *buf)
{
	return vcpu_ioctl(k, k->xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, buf,
			  "KVM_GET_XSAVE");
}

static int get_fpu(struct kvm_cpu *k, struct x86_fpu *f)
{
	memset(f, 0, sizeof(*f));
	if (!k->xsave_size) {
		struct kvm_fpu fpu;
		int err = vcpu_ioctl(k, KVM_GET_FPU, &fpu, "KVM_GET_FPU");
		if (err)
			return err;
		f->fcw = fpu.fcw;
		f->fsw = fpu.fsw;
		f->ftw = fpu.ftwx;
		f->fop = fpu.last_opcode;
		f->fip = fpu.last_ip;
		f->fdp = fpu.last_dp;
		for (int i = 0; i < 8; i++)
			memcpy(f->st[i], fpu.fpr[i], 10);
		f->mxcsr = fpu.mxcsr ? fpu.mxcsr : 0x1f80;
		memcpy(f->xmm, fpu.xmm, sizeof(f->xmm));
		return 0;
	}
	uint8_t *x = calloc(1, k->xsave_size);
	if (!x)
		return -ENOMEM;
	int err = get_xsave(k, x);
	if (!err) {
		uint64_t bv;
		memcpy(&bv, x + XS_XSTATE_BV, 8);
		if (bv & XSTATE_FP) {
			memcpy(&f->fcw, x + XS_FCW, 2);
			memcpy(&f->fsw, x + XS_FSW, 2);
			f->ftw = x[XS_FTW];
			memcpy(&f->fop, x + XS_FOP, 2);
			memcpy(&f->fip, x + XS_FIP, 8);
			memcpy(&f->fdp, x + XS_FDP, 8);
			for (int i = 0; i < 8; i++)
				memcpy(f->st[i], x + XS_ST + 16 * i, 10);
		} else {
			f->fcw = 0x37f; /* FNINIT's state */
		}
		if (bv & XSTATE_SSE)
			memcpy(f->xmm, x + XS_XMM, sizeof(f->xmm));
		memcpy(&f->mxcsr, x + XS_MXCSR, 4);
	}
	free(x);
	return err;
}

/* reset: every XSAVE component beyond x87/SSE goes back to its initial
 * state too, and XCR0 to x87 only (SDM Vol. 3A, Table 10-1). */
static int set_fpu(struct kvm_cpu *k, const struct x86_fpu *f, bool reset)
{
	if (!k->xsave_size) {
		struct kvm_fpu fpu;
		memset(&fpu, 0, sizeof(fpu));
		fpu.fcw = f->fcw;
		fpu.fsw = f->fsw;
		fpu.ftwx = f->ftw;
		fpu.last_opcode = f->fop;
		fpu.last_ip = f->fip;
		fpu.last_dp = f->fdp;
		for (int i = 0; i < 8; i++)
			memcpy(fpu.fpr[i], f->st[i], 10);
		fpu.mxcsr = f->mxcsr;
		memcpy(fpu.xmm, f->xmm, sizeof(fpu.xmm));
		return vcpu_ioctl(k, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
	}
	/* Start from KVM's area so state beyond SSE (AVX upper halves)
	 * stays as it was. */
	uint8_t *x = calloc(1, k->xsave_size);
	if (!x)
		return -ENOMEM;
	int err = reset ? 0 : get_xsave(k, x);
	if (!err) {
		memcpy(x + XS_FCW, &f->fcw, 2);
		memcpy(x + XS_FSW, &f->fsw, 2);
		x[XS_FTW] = f->ftw;
		memcpy(x + XS_FOP, &f->fop, 2);
		memcpy(x + XS_FIP, &f->fip, 8);
		memcpy(x + XS_FDP, &f->fdp, 8);
		for (int i = 0; i < 8; i++) {
			memset(x + XS_ST + 16 * i, 0, 16);
			memcpy(x + XS_ST + 16 * i, f->st[i], 10);
		}
		memcpy(x + XS_MXCSR, &f->mxcsr, 4);
		memcpy(x + XS_XMM, f->xmm, sizeof(f->xmm));
		uint64_t bv;
		memcpy(&bv, x + XS_XSTATE_BV, 8);
		bv |= XSTATE_FP | XSTATE_SSE;
		memcpy(x + XS_XSTATE_BV, &bv, 8);
		err = vcpu_ioctl(k, KVM_SET_XSAVE, x, "KVM_SET_XSAVE");
	}
	free(x);
	if (!err && reset && k->has_xcrs) {
		struct kvm_xcrs xcrs;
		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = XSTATE_FP;
		err = vcpu_ioctl(k, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS");
	}
	return err;
}

static int kvm_get_state(struct vcpu *cpu, struct x86_state *st)
{
	struct kvm_cpu *k = to_kvm(cpu);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	int err;
	if ((err = flush_pending_io(k)) ||
	    (err = vcpu_ioctl(k, KVM_GET_REGS, &regs, "KVM_GET_REGS")) ||
	    (err = vcpu_ioctl(k, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS")) ||
	    (err = vcpu_ioctl(k, KVM_GET_DEBUGREGS, &dbg, "KVM_GET_DEBUGREGS")) ||
	    (err = vcpu_ioctl(k, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS")))
		return err;
	/* An interrupt or exception KVM has started to deliver has no place
	 * in x86_state; the caller runs the CPU a little and asks again. */
	if (ev.interrupt.injected || ev.exception.injected || ev.exception.pending)
		return -EBUSY;

	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 16; i++)
		st->gpr[i] = *gpr_slot(&regs, i);
	st->rip = regs.rip;
	st->rflags = regs.rflags;
	for (int s = X86_ES; s <= X86_GS; s++)
		seg_from_kvm(sreg_slot(&sregs, (enum x86_sreg)s), &st->seg[s]);
	seg_from_kvm(&sregs.ldt, &st->ldtr);
	seg_from_kvm(&sregs.tr, &st->tr);
	st->gdtr = (struct x86_dtable){ sregs.gdt.base, sregs.gdt.limit };
	st->idtr = (struct x86_dtable){ sregs.idt.base, sregs.idt.limit };
	st->cr0 = sregs.cr0;
	st->cr2 = sregs.cr2;
	st->cr3 = sregs.cr3;
	st->cr4 = sregs.cr4;
	st->cr8 = sregs.cr8;
	st->efer = sregs.efer;
	st->msr.apic_base = sregs.apic_base;
	for (int i = 0; i < 4; i++)
		st->dr[i] = dbg.db[i];
	st->dr[6] = dbg.dr6;
	st->dr[7] = dbg.dr7;
	if ((err = get_msrs(k, &st->msr)))
		return err;

	if ((err = get_fpu(k, &st->fpu)))
		return err;

	st->halted = k->halted;
	st->a20 = cpu->vm->a20;
	st->intr_shadow = (ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI) ? 1
			  : (ev.interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS) ? 2 : 0;
	st->nmi_pending = k->nmi_pending || ev.nmi.pending || ev.nmi.injected;
	return 0;
}

static int load_state(struct kvm_cpu *k, const struct x86_state *st, bool reset);

static int kvm_set_state(struct vcpu *cpu, const struct x86_state *st)
{
	return load_state(to_kvm(cpu), st, false);
}

static int load_state(struct kvm_cpu *k, const struct x86_state *st, bool reset)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	int err;
	if ((err = flush_pending_io(k)))
		return err;

	memset(&sregs, 0, sizeof(sregs));
	for (int s = X86_ES; s <= X86_GS; s++)
		seg_to_kvm(&st->seg[s], sreg_slot(&sregs, (enum x86_sreg)s));
	seg_to_kvm(&st->ldtr, &sregs.ldt);
	seg_to_kvm(&st->tr, &sregs.tr);
	sregs.gdt.base = st->gdtr.base;
	sregs.gdt.limit = st->gdtr.limit;
	sregs.idt.base = st->idtr.base;
	sregs.idt.limit = st->idtr.limit;
	sregs.cr0 = st->cr0;
	sregs.cr2 = st->cr2;
	sregs.cr3 = st->cr3;
	sregs.cr4 = st->cr4;
	sregs.cr8 = st->cr8;
	sregs.efer = st->efer;
	/* No local APIC: its enable bits stay clear (KVM would otherwise
	 * show the APIC in CPUID again). */
	sregs.apic_base = st->msr.apic_base & ~APIC_BASE_ENABLES;
	if ((err = vcpu_ioctl(k, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS (segments, "
			      "control registers, EFER)")))
		return err;

	memset(&regs, 0, sizeof(regs));
	for (int i = 0; i < 16; i++)
		*gpr_slot(&regs, i) = st->gpr[i];
	regs.rip = st->rip;
	regs.rflags = st->rflags;
	if ((err = vcpu_ioctl(k, KVM_SET_REGS, &regs, "KVM_SET_REGS")))
		return err;

	if ((err = set_fpu(k, &st->fpu, reset)))
		return err;

	memset(&dbg, 0, sizeof(dbg));
	for (int i = 0; i < 4; i++)
		dbg.db[i] = st->dr[i];
	dbg.dr6 = st->dr[6];
	dbg.dr7 = st->dr[7];
	if ((err = vcpu_ioctl(k, KVM_SET_DEBUGREGS, &dbg, "KVM_SET_DEBUGREGS")))
		return err;

	if ((err = set_msrs(k, &st->msr)))
		return err;

	/* Nothing half-delivered survives a state load; NMI blocking is not
	 * part of x86_state, so NMIs start unmasked. */
	memset(&ev, 0, sizeof(ev));
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
	ev.interrupt.shadow = st->intr_shadow == 1 ? KVM_X86_SHADOW_INT_STI
			      : st->intr_shadow == 2 ? KVM_X86_SHADOW_INT_MOV_SS : 0;
	if ((err = vcpu_ioctl(k, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS")))
		return err;
	k->nmi_pending = st->nmi_pending;
	k->halted = st->halted;
	/* run() decides about injection from kvm_run's view of the guest,
	 * which the next KVM_RUN refreshes; until then, derive it. */
	k->run->if_flag = !!(st->rflags & (1u << 9));
	k->run->ready_for_interrupt_injection = k->run->if_flag && !st->intr_shadow;
	if (!st->a20 && !k->a20_logged) {
		log_debug("kvm: the A20 gate is not emulated; addresses keep bit 20");
		k->a20_logged = true;
	}
	return 0;
}

/* Power-on state, SDM Vol. 3A Table 10-1. */
static void power_on_state(struct x86_state *st, uint32_t signature)
{
	memset(st, 0, sizeof(*st));
	st->gpr[X86_RDX] = signature;
	st->rip = 0xfff0;
	st->rflags = 0x2;
	for (int s = X86_ES; s <= X86_GS; s++)
		st->seg[s] = (struct x86_seg){ .sel = 0, .base = 0, .limit = 0xffff,
					       .attr = X86_SEG_ATTR_P | X86_SEG_ATTR_S | 0x3 };
	st->seg[X86_CS] = (struct x86_seg){ .sel = 0xf000, .base = 0xffff0000,
					    .limit = 0xffff,
					    .attr = X86_SEG_ATTR_P | X86_SEG_ATTR_S | 0xb };
	st->ldtr = (struct x86_seg){ .limit = 0xffff, .attr = X86_SEG_ATTR_P | 0x2 };
	st->tr = (struct x86_seg){ .limit = 0xffff, .attr = X86_SEG_ATTR_P | 0xb };
	st->gdtr.limit = 0xffff;
	st->idtr.limit = 0xffff;
	st->cr0 = 0x60000010;
	st->dr[6] = 0xffff0ff0;
	st->dr[7] = 0x400;
	st->msr.apic_base = 0xfee00100; /* BSP; no local APIC to enable */
	st->msr.pat = 0x0007040600070406ull;
	st->msr.misc_enable = 1; /* fast strings */
	st->fpu.fcw = 0x40;
	st->fpu.mxcsr = 0x1f80;
	st->a20 = true;
}

/* ---- CPUID and MSRs ---- */

static int setup_cpuid(struct kvm_cpu *k)
{
	struct kvm_cpuid2 *c = NULL;
	for (unsigned n = 64; n <= 4096; n *= 2) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG) {
			int err = errno;
			log_error("kvm: KVM_GET_SUPPORTED_CPUID failed: %s", strerror(err));
			free(c);
			return -err;
		}
		c->nent = 0;
	}
	if (!c->nent) {
		log_error("kvm: KVM_GET_SUPPORTED_CPUID returned nothing");
		free(c);
		return -EIO;
	}
	unsigned out = 0;
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 e = c->entries[i];
		if (e.function >= 0x40000000 && e.function <= 0x4fffffff)
			continue; /* KVM's paravirtual interface */
		switch (e.function) {
		case 1:
			k->signature = e.eax;
			e.ebx = (e.ebx & 0xffff) | (1u << 16); /* APIC ID 0, 1 logical CPU */
			e.ecx &= ~(CPUID_1_ECX_MONITOR | CPUID_1_ECX_VMX | CPUID_1_ECX_SMX |
				   CPUID_1_ECX_PDCM | CPUID_1_ECX_X2APIC |
				   CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_HYPERVISOR);
			e.edx &= ~(CPUID_1_EDX_APIC | CPUID_1_EDX_HTT);
			break;
		case 5:    /* MONITOR/MWAIT */
		case 6:    /* thermal and power: ARAT is a local APIC timer property */
		case 0xa:  /* performance monitoring: its interrupt is an APIC LVT */
		case 0xb:  /* x2APIC topology */
		case 0x1f:
		case 0x8000001e: /* AMD extended APIC ID */
			e.eax = e.ebx = e.ecx = e.edx = 0;
			break;
		case 0x80000001:
			e.ecx &= ~(CPUID_80000001_ECX_CMP_LEGACY | CPUID_80000001_ECX_SVM |
				   CPUID_80000001_ECX_EXT_APIC |
				   CPUID_80000001_ECX_PERFCTR_CORE);
			break;
		default:
			break;
		}
		c->entries[out++] = e;
	}
	c->nent = out;
	int err = 0;
	if (ioctl(k->vcpu_fd, KVM_SET_CPUID2, c) < 0) {
		err = -errno;
		log_error("kvm: KVM_SET_CPUID2 failed: %s", strerror(-err));
	}
	free(c);
	return err;
}

/* Which MSRs of x86_msrs this KVM (with our CPUID) lets us read and
 * write: the others are left out of get_state/set_state. */
static void probe_msrs(struct kvm_cpu *k)
{
	/* KVM_GET_MSRS and KVM_SET_MSRS stop at the first MSR they refuse
	 * and return how many they did, so a batch costs one ioctl per
	 * refusal rather than one per MSR. */
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[NMSR_FIELDS];
	} m;
	unsigned idx[NMSR_FIELDS];
	for (unsigned i = 0; i < NMSR_FIELDS; i++)
		k->msr_ok[i] = true;
	for (int pass = 0; pass < 2; pass++) { /* 0: readable, 1: writable */
		unsigned n = 0;
		memset(&m, 0, sizeof(m));
		for (unsigned i = 0; i < NMSR_FIELDS; i++) {
			if (!k->msr_ok[i])
				continue;
			idx[n] = i;
			m.e[n++].index = msr_fields[i].index;
		}
		if (pass == 1) { /* write back what was read */
			m.hdr.nmsrs = n;
			if (ioctl(k->vcpu_fd, KVM_GET_MSRS, &m) != (int)n)
				n = 0;
		}
		for (unsigned done = 0; done < n;) {
			struct {
				struct kvm_msrs hdr;
				struct kvm_msr_entry e[NMSR_FIELDS];
			} b;
			memset(&b.hdr, 0, sizeof(b.hdr));
			b.hdr.nmsrs = n - done;
			memcpy(b.e, &m.e[done], (n - done) * sizeof(b.e[0]));
			int r = ioctl(k->vcpu_fd, pass ? KVM_SET_MSRS : KVM_GET_MSRS, &b);
			unsigned ok = r < 0 ? 0 : (unsigned)r;
			if (ok < n - done)
				k->msr_ok[idx[done + ok]] = false;
			done += ok + (ok < n - done);
		}
	}
	if (log_enabled(LOG_DEBUG))
		for (unsigned i = 0; i < NMSR_FIELDS; i++)
			if (!k->msr_ok[i])
				log_debug("kvm: MSR %#x is not carried in the CPU state (KVM "
					  "refuses it)", msr_fields[i].index);
}

/* ---- life cycle ---- */

static void kvm_destroy(struct vcpu *cpu)
{
	struct kvm_cpu *k = to_kvm(cpu);
	if (!k)
		return;
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k->slots);
	free(k);
}

int kvm_vcpu_open(struct vm *vm, struct vcpu **out, char *why, size_t len)
{
	struct kvm_cpu *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	k->vcpu.ops = &kvm_vcpu_ops;
	k->vcpu.vm = vm;
	k->kvm_fd = k->vm_fd = k->vcpu_fd = -1;
	int err = -ENODEV;
	/* What went wrong, in the terms accel_kvm_problem() explains. */
	struct accel_host h = { .open_err = -1, .api_version = -1,
				.vm_err = -1, .vcpu_err = -1 };
	snprintf(h.device, sizeof(h.device), "%s", accel_kvm_device());
	k->software_kvm = accel_software_kvm_loaded();

	if ((k->kvm_fd = open(h.device, O_RDWR | O_CLOEXEC)) < 0) {
		h.open_err = errno;
		goto problem;
	}
	h.open_err = 0;
	if ((h.api_version = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0)) < 0) {
		h.open_err = errno == EINVAL ? ENOTTY : errno;
		goto problem;
	}
	if (h.api_version != KVM_API_VERSION ||
	    (h.missing_cap = accel_kvm_missing_cap(k->kvm_fd)))
		goto problem;
	int nslots = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	k->max_slots = nslots > 0 ? (unsigned)nslots : 32;
	h.vm_tested = true;
	if ((k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0)) < 0) {
		h.vm_err = errno;
		goto problem;
	}
	h.vm_err = 0;
	/* Only KVM on VT-x without unrestricted guest uses these; elsewhere
	 * they are accepted and ignored, or the capability is absent. They
	 * must come before the vCPU. */
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		uint64_t a = KVM_IDENTITY_MAP_ADDR;
		if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &a) < 0)
			log_debug("kvm: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	}
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		log_debug("kvm: KVM_SET_TSS_ADDR: %s", strerror(errno));
	if ((k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
		h.vcpu_err = errno;
		goto problem;
	}

	int sz = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run)) {
		err = -EIO;
		snprintf(why, len, "KVM_GET_VCPU_MMAP_SIZE returned %d", sz);
		goto fail;
	}
	k->run_size = (size_t)sz;
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		err = -errno;
		snprintf(why, len, "cannot map the vCPU's kvm_run area: %s", strerror(-err));
		goto fail;
	}
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		int xs2 = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		k->xsave2 = xs2 > 0;
		k->has_xcrs = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
		k->xsave_size = xs2 > (int)sizeof(struct kvm_xsave) ? (size_t)xs2
								     : sizeof(struct kvm_xsave);
	}
	if ((err = setup_cpuid(k))) {
		snprintf(why, len, "setting the vCPU's CPUID failed (%s)", strerror(-err));
		goto fail;
	}
	probe_msrs(k);
	if ((err = sync_slots(k))) {
		snprintf(why, len, "mapping guest memory failed (%s)", strerror(-err));
		goto fail;
	}
	struct x86_state st;
	power_on_state(&st, k->signature);
	if ((err = load_state(k, &st, true))) {
		snprintf(why, len, "loading the power-on state failed (%s)", strerror(-err));
		goto fail;
	}
	*out = &k->vcpu;
	return 0;
problem:
	accel_kvm_problem(&h, why, len);
fail:
	kvm_destroy(&k->vcpu);
	return err;
}

static int kvm_create(struct vm *vm, struct vcpu **out)
{
	char why[400];
	int err = kvm_vcpu_open(vm, out, why, sizeof(why));
	if (err)
		log_error("kvm: %s", why);
	return err;
}

static void kvm_reset(struct vcpu *cpu)
{
	struct kvm_cpu *k = to_kvm(cpu);
	struct x86_state st;
	power_on_state(&st, k->signature);
	k->intr_level = cpu->vm->intr_level;
	if (load_state(k, &st, true))
		log_error("kvm: could not reset the vCPU");
	k->nmi_pending = false;
}

/* ---- running ---- */

static void log_guest_failure(struct kvm_cpu *k, const char *what)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(k->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(k->vcpu_fd, KVM_GET_SREGS, &sregs) < 0) {
		log_error("kvm: %s; try --accel emu", what);
		return;
	}
	log_error("kvm: %s at CS:RIP %04x:%llx (linear %#llx, CR0 %#llx); try "
		  "--accel emu", what, sregs.cs.selector, (unsigned long long)regs.rip,
		  (unsigned long long)(sregs.cs.base + regs.rip),
		  (unsigned long long)sregs.cr0);
}

/* kvm_pvm answers a MOV to CR0 that turns on 32-bit (non-PAE) paging with
 * a shutdown, which would otherwise reset the machine over and over. Spot
 * that instruction (0F 22 /r with CR0 as destination, paging still off so
 * CS:RIP is a physical address) and say so. */
static bool refused_paging(struct kvm_cpu *k)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (!k->software_kvm || ioctl(k->vcpu_fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(k->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return false;
	if ((sregs.cr0 & (1ull << 31)) || (sregs.cr4 & (1ull << 5)) || !(sregs.cr0 & 1))
		return false;
	uint64_t at = (sregs.cs.base + regs.rip) & 0xffffffffull;
	uint8_t b[3];
	for (int i = 0; i < 3; i++)
		b[i] = (uint8_t)mem_read(k->vcpu.vm->mem, at + (uint64_t)i, 1);
	if (b[0] != 0x0f || b[1] != 0x22 || (b[2] & 0xf8) != 0xc0)
		return false;
	uint64_t src = *gpr_slot(&regs, b[2] & 7);
	if (!(src & (1ull << 31)))
		return false;
	log_error("kvm: the guest turns on 32-bit paging at CS:RIP %04x:%llx, which "
		  "this host's software KVM (kvm_pvm) refuses; use --accel emu",
		  sregs.cs.selector, (unsigned long long)regs.rip);
	return true;
}

static void internal_error(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	char what[160];
	switch (run->internal.suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: {
		int n = snprintf(what, sizeof(what), "KVM cannot emulate the guest's "
				 "instruction (not in RAM or ROM, or unsupported)");
		if ((run->emulation_failure.flags &
		     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
		    run->emulation_failure.ndata >= 3) {
			unsigned len = run->emulation_failure.insn_size;
			if (len > 15)
				len = 15;
			n += snprintf(what + n, sizeof(what) - (size_t)n, ", bytes");
			for (unsigned i = 0; i < len && n < (int)sizeof(what) - 4; i++)
				n += snprintf(what + n, sizeof(what) - (size_t)n, " %02x",
					      run->emulation_failure.insn_bytes[i]);
		}
		break;
	}
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		snprintf(what, sizeof(what), "KVM hit an exception while delivering "
			 "another (internal error 2)");
		break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		snprintf(what, sizeof(what), "KVM could not deliver an interrupt or "
			 "exception (internal error 3)");
		break;
	default:
		snprintf(what, sizeof(what), "KVM internal error %u", run->internal.suberror);
		break;
	}
	log_guest_failure(k, what);
}

static void trace_exit(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	struct kvm_regs regs;
	unsigned long long rip = ioctl(k->vcpu_fd, KVM_GET_REGS, &regs) == 0 ? regs.rip : ~0ull;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		log_trace("kvm: rip %#llx: %s port %#x size %u count %u", rip,
			  run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			  run->io.port, run->io.size, run->io.count);
		break;
	case KVM_EXIT_MMIO:
		log_trace("kvm: rip %#llx: mmio %s %#llx len %u", rip,
			  run->mmio.is_write ? "write" : "read",
			  (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	default: {
		struct kvm_sregs sr;
		if (ioctl(k->vcpu_fd, KVM_GET_SREGS, &sr) == 0)
			log_trace("kvm: cs %04x base %#llx rip %#llx cr0 %#llx: exit %u",
				  sr.cs.selector, (unsigned long long)sr.cs.base, rip,
				  (unsigned long long)sr.cr0, run->exit_reason);
		else
			log_trace("kvm: rip %#llx: exit %u", rip, run->exit_reason);
		break;
	}
	}
}

static int handle_io(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	unsigned size = run->io.size;
	uint64_t len = (uint64_t)size * run->io.count;
	if ((size != 1 && size != 2 && size != 4) || run->io.data_offset > k->run_size ||
	    len > k->run_size - run->io.data_offset) {
		log_error("kvm: malformed port I/O exit (port %#x, size %u, count %u)",
			  run->io.port, size, run->io.count);
		return -EIO;
	}
	struct ioport *io = k->vcpu.vm->io;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, p += size) {
		uint32_t v = 0;
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, p, size);
			ioport_write(io, run->io.port, v, size);
		} else {
			v = ioport_read(io, run->io.port, size);
			memcpy(p, &v, size);
		}
	}
	return 0;
}

static int handle_mmio(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	struct mem *m = k->vcpu.vm->mem;
	uint64_t addr = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	if (!len || len > 8) {
		log_error("kvm: malformed MMIO exit (address %#llx, length %u)",
			  (unsigned long long)addr, len);
		return -EIO;
	}
	bool natural = len == 1 || len == 2 || len == 4 || len == 8;
	if (run->mmio.is_write) {
		if (natural) {
			uint64_t v = 0;
			memcpy(&v, run->mmio.data, len);
			mem_write(m, addr, v, len);
		} else {
			for (unsigned i = 0; i < len; i++)
				mem_write(m, addr + i, run->mmio.data[i], 1);
		}
	} else if (natural) {
		uint64_t v = mem_read(m, addr, len);
		memcpy(run->mmio.data, &v, len);
	} else {
		for (unsigned i = 0; i < len; i++)
			run->mmio.data[i] = (uint8_t)mem_read(m, addr + i, 1);
	}
	return 0;
}

/* Hands the PIC's interrupt to KVM when the guest can take it now, else
 * asks KVM to exit as soon as it can. The vector is acknowledged only at
 * the moment of injection, as a real CPU's INTA cycle would. */
static int prepare_interrupt(struct kvm_cpu *k)
{
	struct kvm_run *run = k->run;
	if (!k->intr_level) {
		run->request_interrupt_window = 0;
		return 0;
	}
	/* A halted CPU has finished its HLT, so no interrupt shadow is left
	 * and IF alone decides. */
	if (run->if_flag && (run->ready_for_interrupt_injection || k->halted)) {
		int vec = vm_intr_ack(k->vcpu.vm);
		if (vec < 0) {
			/* Nobody answered the acknowledge cycle: nothing to
			 * deliver, and asking for a window would only spin. */
			run->request_interrupt_window = 0;
			return 0;
		}
		struct kvm_interrupt irq = { .irq = (uint32_t)vec & 0xff };
		if (ioctl(k->vcpu_fd, KVM_INTERRUPT, &irq) < 0) {
			int err = errno;
			log_error("kvm: KVM_INTERRUPT (vector %#x) failed: %s",
				  irq.irq, strerror(err));
			return -err;
		}
		k->halted = false;
		/* The PIC may still hold INTR up for another request; one
		 * injection per entry, then KVM exits when the guest can take
		 * the next. */
		run->request_interrupt_window = k->intr_level;
		return 0;
	}
	run->request_interrupt_window = 1;
	return 0;
}

/* Finishes a run slice: forget the kick. kicked is cleared before
 * immediate_exit, so a kick landing in between leaves kicked set and the
 * next run() returns at once rather than losing it. */
static enum vcpu_exit end_slice(struct kvm_cpu *k, enum vcpu_exit why)
{
	k->kicked = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	k->run->immediate_exit = 0;
	k->in_run = 0;
	if (why == VCPU_EXIT_DEADLINE && k->vcpu.vm->stop_requested)
		why = VCPU_EXIT_STOP;
	return why;
}

static enum vcpu_exit kvm_run_cpu(struct vcpu *cpu, uint64_t deadline)
{
	struct kvm_cpu *k = to_kvm(cpu);
	struct vm *vm = cpu->vm;
	struct kvm_run *run = k->run;
	k->thread = pthread_self();
	k->in_run = 1;

	for (;;) {
		bool stop = k->kicked || vm->stop_requested ||
			    (deadline != CLOCK_NEVER && clock_now(vm->clock) >= deadline);
		if (stop && !k->io_pending)
			return end_slice(k, VCPU_EXIT_DEADLINE);
		if (stop) {
			/* KVM finishes the pending I/O instruction, then sees
			 * immediate_exit and returns without running more. */
			run->immediate_exit = 1;
		} else {
			if ((!k->slots_valid || mem_generation(vm->mem) != k->mem_gen) &&
			    sync_slots(k))
				return end_slice(k, VCPU_EXIT_ERROR);
			if (k->nmi_pending) {
				if (ioctl(k->vcpu_fd, KVM_NMI) < 0) {
					log_error("kvm: KVM_NMI failed: %s", strerror(errno));
					return end_slice(k, VCPU_EXIT_ERROR);
				}
				k->nmi_pending = false;
				k->halted = false;
			}
			if (k->halted && !(k->intr_level && run->if_flag))
				return end_slice(k, VCPU_EXIT_HALT);
			if (prepare_interrupt(k))
				return end_slice(k, VCPU_EXIT_ERROR);
			if (k->halted) /* INTR is up but the window is not open */
				return end_slice(k, VCPU_EXIT_HALT);
		}

		int r = ioctl(k->vcpu_fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				k->n_run_eintr++;
				k->io_pending = false;
				/* A signal other than our kick: the guest may go on. */
				if (!k->kicked)
					run->immediate_exit = 0;
				continue;
			}
			log_guest_failure(k, "KVM_RUN failed");
			return end_slice(k, VCPU_EXIT_ERROR);
		}
		k->io_pending = false;
		if (log_enabled(LOG_TRACE))
			trace_exit(k);
		switch (run->exit_reason) {
		case KVM_EXIT_IO: k->n_exit_io++; break;
		case KVM_EXIT_MMIO: k->n_exit_mmio++; break;
		case KVM_EXIT_HLT: k->n_exit_hlt++; break;
		case KVM_EXIT_IRQ_WINDOW_OPEN: k->n_exit_window++; break;
		case KVM_EXIT_INTR: k->n_exit_intr++; break;
		default: k->n_exit_other++; break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (handle_io(k))
				return end_slice(k, VCPU_EXIT_ERROR);
			k->io_pending = true;
			break;
		case KVM_EXIT_MMIO:
			if (handle_mmio(k))
				return end_slice(k, VCPU_EXIT_ERROR);
			k->io_pending = true;
			break;
		case KVM_EXIT_HLT:
			k->halted = true;
			break;
		case KVM_EXIT_IRQ_WINDOW_OPEN:
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			k->halted = false;
			if (refused_paging(k))
				return end_slice(k, VCPU_EXIT_ERROR);
			return end_slice(k, VCPU_EXIT_SHUTDOWN);
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				return end_slice(k, VCPU_EXIT_SHUTDOWN);
			if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
				vm_request_stop(vm, VM_END_POWEROFF, 0);
				return end_slice(k, VCPU_EXIT_STOP);
			}
			log_guest_failure(k, "KVM reported a guest crash");
			return end_slice(k, VCPU_EXIT_ERROR);
		case KVM_EXIT_FAIL_ENTRY: {
			char what[96];
			snprintf(what, sizeof(what), "KVM could not enter the guest "
				 "(hardware reason %#llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			log_guest_failure(k, what);
			return end_slice(k, VCPU_EXIT_ERROR);
		}
		case KVM_EXIT_INTERNAL_ERROR:
			internal_error(k);
			return end_slice(k, VCPU_EXIT_ERROR);
		default: {
			char what[64];
			snprintf(what, sizeof(what), "unexpected KVM exit %u", run->exit_reason);
			log_guest_failure(k, what);
			return end_slice(k, VCPU_EXIT_ERROR);
		}
		}
	}
}

static void kvm_set_intr(struct vcpu *cpu, bool level)
{
	to_kvm(cpu)->intr_level = level;
}

static void kvm_nmi(struct vcpu *cpu)
{
	to_kvm(cpu)->nmi_pending = true;
}

static void kvm_set_a20(struct vcpu *cpu, bool enabled)
{
	struct kvm_cpu *k = to_kvm(cpu);
	if (!enabled && !k->a20_logged) {
		log_debug("kvm: the guest disabled the A20 gate, which KVM cannot "
			  "emulate; addresses keep bit 20");
		k->a20_logged = true;
	}
}

/* Async-signal-safe. A signal that interrupts KVM_RUN makes it return
 * EINTR by itself; immediate_exit covers the window just before KVM_RUN is
 * entered. A kick from another thread is passed on as SIGALRM to the vCPU
 * thread, when the run loop has a handler for it, so KVM_RUN returns. */
static void kvm_kick(struct vcpu *cpu)
{
	struct kvm_cpu *k = to_kvm(cpu);
	k->kicked = 1;
	if (k->run)
		k->run->immediate_exit = 1;
	if (k->in_run && !pthread_equal(pthread_self(), k->thread)) {
		struct sigaction sa;
		if (sigaction(SIGALRM, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN)
			pthread_kill(k->thread, SIGALRM);
	}
}

static uint64_t kvm_icount(struct vcpu *cpu)
{
	(void)cpu;
	return 0;
}

static int kvm_stats(struct vcpu *cpu, struct vcpu_stat *out, int max)
{
	struct kvm_cpu *k = (struct kvm_cpu *)cpu;
	const struct vcpu_stat all[] = {
		{ "exit.io", k->n_exit_io },
		{ "exit.mmio", k->n_exit_mmio },
		{ "exit.hlt", k->n_exit_hlt },
		{ "exit.irq_window", k->n_exit_window },
		{ "exit.intr", k->n_exit_intr },
		{ "exit.other", k->n_exit_other },
		{ "run_interrupted", k->n_run_eintr },
	};
	int n = 0;
	for (; n < max && n < (int)(sizeof(all) / sizeof(all[0])); n++)
		out[n] = all[n];
	return n;
}

const struct vcpu_ops kvm_vcpu_ops = {
	.name = "kvm",
	.create = kvm_create,
	.destroy = kvm_destroy,
	.reset = kvm_reset,
	.run = kvm_run_cpu,
	.set_intr = kvm_set_intr,
	.nmi = kvm_nmi,
	.set_a20 = kvm_set_a20,
	.kick = kvm_kick,
	.get_state = kvm_get_state,
	.set_state = kvm_set_state,
	.icount = kvm_icount,
	.stats = kvm_stats,
};

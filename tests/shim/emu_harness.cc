// The emulator side of the differential tests (see emu_harness.h). Builds
// the descriptor tables of a protected-mode machine by hand (Intel SDM vol.
// 3A 3.4.5 segment descriptors, 6.11 IDT gate descriptors, 7.2.1 the 32-bit
// TSS) and hands the initial state to the backend through set_state, so the
// test needs nothing from the emulator but the vcpu_ops contract.
#include "emu_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "pcvm.h"
extern "C" {
#include "vm.h"
#include "vcpu/vcpu.h"
}

namespace {

// System area (guest-physical, below the test's pages).
constexpr uint32_t SYS_SIZE = 0x10000;
constexpr uint32_t REC = 0x0800;      // the stubs' record
constexpr uint32_t REC_VEC = REC + 0, REC_ERR = REC + 4, REC_EIP = REC + 8,
		   REC_CS = REC + 12, REC_EFL = REC + 16, REC_ESP = REC + 20,
		   REC_SS = REC + 24;
constexpr uint32_t FLATSEL = 0x0900;  // word: ring-0 data selector
constexpr uint32_t GDT = 0x1000, GDT_ENTRIES = 8;
constexpr uint32_t LDT = 0x1100, LDT_ENTRIES = 2;
constexpr uint32_t TSS = 0x1200, TSS_LIMIT = 0x67;
constexpr uint32_t IDT = 0x2000;
constexpr uint32_t STUBS = 0x3000;
constexpr uint32_t STACK0 = 0xF000;
constexpr uint32_t NO_VECTOR = 0xffffffffu;

constexpr uint16_t SEL_CODE0 = 0x08, SEL_DATA0 = 0x10, SEL_TSS = 0x18,
		   SEL_LDT = 0x30;

// Access byte (descriptor bits 40-47) and flags nibble (bits 52-55).
uint64_t make_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	uint64_t d = 0;
	d |= limit & 0xffffull;
	d |= (uint64_t)(base & 0xffffff) << 16;
	d |= (uint64_t)access << 40;
	d |= (uint64_t)((limit >> 16) & 0xf) << 48;
	d |= (uint64_t)(flags & 0xf) << 52;
	d |= (uint64_t)(base >> 24) << 56;
	return d;
}

x86_seg make_seg(uint16_t sel, uint32_t base, uint32_t limit, uint8_t access,
		 uint8_t flags)
{
	x86_seg s = {};
	s.sel = sel;
	s.base = base;
	s.limit = limit;
	s.attr = (uint16_t)(access | ((flags & 0xf) << 12));
	s.unusable = false;
	return s;
}

void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

uint64_t icount_thunk(void *opaque)
{
	auto *cpu = static_cast<struct vcpu *>(opaque);
	return cpu->ops->icount(cpu);
}

struct machine {
	struct vm vm;
	struct vm_config cfg;
	std::vector<uint8_t> sys;  // system area at 0, or the bare RAM
	std::vector<uint8_t> test; // code + data at CPUD_CODE_BASE, or ROM
};

int machine_init(machine *m)
{
	memset(&m->vm, 0, sizeof(m->vm));
	memset(&m->cfg, 0, sizeof(m->cfg));
	m->cfg.mem_size = m->sys.size();
	m->cfg.accel = ACCEL_EMU;
	m->cfg.debug_exit_port = -1;
	m->vm.cfg = &m->cfg;
	m->vm.a20 = true;
	m->vm.ram = m->sys.data();
	m->vm.ram_size = m->sys.size();
	m->vm.ram_below_4g = m->sys.size();
	int err;
	if ((err = mem_create(&m->vm.mem)) || (err = ioport_create(&m->vm.io)) ||
	    (err = clock_create(&m->vm.clock, CLOCK_MODE_ICOUNT))) {
		log_error("emu harness: cannot build the machine: %s", strerror(-err));
		return err;
	}
	return 0;
}

int machine_map(machine *m, uint64_t base, uint64_t size, uint8_t *p,
		bool rom, const char *name)
{
	mem_region r = {};
	r.base = base;
	r.size = size;
	r.rd = p;
	r.wr = rom ? nullptr : p;
	r.name = name;
	int err = mem_map(m->vm.mem, &r);
	if (err)
		log_error("emu harness: cannot map %s at %#llx: %s", name,
			  (unsigned long long)base, strerror(-err));
	return err;
}

int machine_start_cpu(machine *m)
{
	int err = emu_vcpu_ops.create(&m->vm, &m->vm.cpu);
	if (err) {
		log_error("emu harness: the emu backend did not start: %s",
			  strerror(-err));
		m->vm.cpu = nullptr;
		return err;
	}
	// Time is the instruction count, one nanosecond each, so a deadline
	// is an instruction budget.
	clock_set_icount_source(m->vm.clock, icount_thunk, m->vm.cpu, 1);
	return 0;
}

void machine_fini(machine *m)
{
	if (m->vm.cpu)
		m->vm.cpu->ops->destroy(m->vm.cpu);
	if (m->vm.clock)
		clock_destroy(m->vm.clock);
	if (m->vm.io)
		ioport_destroy(m->vm.io);
	if (m->vm.mem)
		mem_destroy(m->vm.mem);
	m->vm.cpu = nullptr;
	m->vm.clock = nullptr;
	m->vm.io = nullptr;
	m->vm.mem = nullptr;
}

} // namespace

struct emuh {
	machine m;
	enum emuh_priv priv;
	uint64_t last_icount;
	x86_state base; // what the backend reported after create
};

const char *emuh_status_name(enum emuh_status s)
{
	switch (s) {
	case EMUH_OK: return "ok";
	case EMUH_BUDGET: return "instruction budget exhausted";
	case EMUH_SHUTDOWN: return "triple fault";
	case EMUH_BACKEND: return "backend error";
	case EMUH_STRAY_HALT: return "halted outside the sequence";
	}
	return "?";
}

static void build_system_area(struct emuh *h)
{
	uint8_t *s = h->m.sys.data();
	memset(s, 0, SYS_SIZE);
	unsigned dpl = h->priv == EMUH_CPL3 ? 3 : 0;
	uint8_t d = (uint8_t)(dpl << 5);
	uint64_t *gdt = reinterpret_cast<uint64_t *>(s + GDT);
	put64((uint8_t *)&gdt[0], 0);
	put64((uint8_t *)&gdt[1], make_desc(0, 0xfffff, 0x9b, 0xc));
	put64((uint8_t *)&gdt[2], make_desc(0, 0xfffff, 0x93, 0xc));
	put64((uint8_t *)&gdt[3], make_desc(TSS, TSS_LIMIT, 0x8b, 0x0));
	put64((uint8_t *)&gdt[4], make_desc(0, 0xfffff, 0x9b | d, 0xc));
	put64((uint8_t *)&gdt[5], make_desc(0, 0xfffff, 0x93 | d, 0xc));
	put64((uint8_t *)&gdt[6], make_desc(LDT, LDT_ENTRIES * 8 - 1, 0x82, 0x0));
	uint64_t *ldt = reinterpret_cast<uint64_t *>(s + LDT);
	// AVL clear: LAR on the host's LDT entries shows it clear.
	put64((uint8_t *)&ldt[0], make_desc(CPUD_CODE_BASE, 0xffff, 0x9b | d, 0x0));
	put64((uint8_t *)&ldt[1], make_desc(CPUD_DATA_BASE, 0xffff, 0x93 | d, 0x0));
	put32(s + TSS + 4, STACK0);    // ESP0
	put32(s + TSS + 8, SEL_DATA0); // SS0
	put32(s + TSS + 0x64, (uint32_t)(TSS_LIMIT + 1) << 16); // no I/O bitmap
	s[FLATSEL] = SEL_DATA0;

	// One stub per vector; see emu_harness.h for what it records.
	uint8_t *p = s + STUBS;
	for (unsigned v = 0; v < 256; v++) {
		uint32_t addr = (uint32_t)(p - s);
		uint64_t gate = (addr & 0xffff) | ((uint64_t)SEL_CODE0 << 16);
		// 32-bit interrupt gate; INT3 and INTO are allowed from user
		// mode (DPL 3) as in Linux's IDT, every other INT n is #GP.
		uint8_t gdpl = (v == 3 || v == 4) ? 3 : 0;
		gate |= (uint64_t)(0x8e | (gdpl << 5)) << 40;
		gate |= (uint64_t)(addr >> 16) << 48;
		put64(s + IDT + 8 * v, gate);
		auto abs32 = [&](uint32_t a) { put32(p, a); p += 4; };
		*p++ = 0x2e; *p++ = 0x8e; *p++ = 0x1d; abs32(FLATSEL); // mov ds,cs:[FLATSEL]
		*p++ = 0xc7; *p++ = 0x05; abs32(REC_VEC); abs32(v);    // mov dword [VEC],v
		if (cpud_has_error_code((int)v)) {
			*p++ = 0x8f; *p++ = 0x05; abs32(REC_ERR);      // pop dword [ERR]
		}
		*p++ = 0x8f; *p++ = 0x05; abs32(REC_EIP);
		*p++ = 0x8f; *p++ = 0x05; abs32(REC_CS);
		*p++ = 0x8f; *p++ = 0x05; abs32(REC_EFL);
		*p++ = 0xf6; *p++ = 0x05; abs32(REC_CS); *p++ = 0x03;  // test byte [CS],3
		*p++ = 0x74; *p++ = 12;                                 // jz over the pops
		*p++ = 0x8f; *p++ = 0x05; abs32(REC_ESP);
		*p++ = 0x8f; *p++ = 0x05; abs32(REC_SS);
		*p++ = 0xf4;                                            // hlt
		*p++ = 0xeb; *p++ = 0xfd;                               // jmp to the hlt
	}
}

int emuh_create(struct emuh **out, enum emuh_priv priv)
{
	auto *h = new emuh();
	h->priv = priv;
	h->m.sys.assign(SYS_SIZE, 0);
	h->m.test.assign(CPUD_CODE_SIZE + CPUD_DATA_SIZE, 0);
	int err;
	if ((err = machine_init(&h->m)) ||
	    (err = machine_map(&h->m, 0, SYS_SIZE, h->m.sys.data(), false,
			       "harness system area")) ||
	    (err = machine_map(&h->m, CPUD_CODE_BASE, h->m.test.size(),
			       h->m.test.data(), false, "test code and data")) ||
	    (err = machine_start_cpu(&h->m))) {
		emuh_destroy(h);
		return err;
	}
	err = h->m.vm.cpu->ops->get_state(h->m.vm.cpu, &h->base);
	if (err) {
		log_error("emu harness: get_state failed: %s", strerror(-err));
		emuh_destroy(h);
		return err;
	}
	build_system_area(h);
	*out = h;
	return 0;
}

void emuh_destroy(struct emuh *h)
{
	if (!h)
		return;
	machine_fini(&h->m);
	delete h;
}

uint64_t emuh_last_icount(const struct emuh *h) { return h->last_icount; }

static void fill_state(struct emuh *h, enum cpud_mode mode,
		       const struct cpud_regs *in, x86_state *st)
{
	*st = h->base;
	bool cpl3 = h->priv == EMUH_CPL3;
	uint8_t d = cpl3 ? 0x60 : 0;
	uint16_t rpl = cpl3 ? 3 : 0;
	for (int i = 0; i < 16; i++)
		st->gpr[i] = i < 8 ? (in->gpr[i] & 0xffffffffu) : 0;
	st->rip = mode == CPUD_MODE16 ? 0 : CPUD_CODE_BASE;
	st->rflags = (in->eflags & (CPUD_ARITH | CPUD_DF | CPUD_AC | CPUD_ID)) |
		     0x2 | (cpl3 ? CPUD_IF : 0);
	x86_seg code, data;
	if (mode == CPUD_MODE16) {
		code = make_seg((uint16_t)(0x04 | rpl), CPUD_CODE_BASE, 0xffff,
				0x9b | d, 0x0);
		data = make_seg((uint16_t)(0x0c | rpl), CPUD_DATA_BASE, 0xffff,
				0x93 | d, 0x0);
	} else {
		code = make_seg((uint16_t)(0x20 | rpl), 0, 0xffffffff, 0x9b | d, 0xc);
		data = make_seg((uint16_t)(0x28 | rpl), 0, 0xffffffff, 0x93 | d, 0xc);
	}
	st->seg[X86_CS] = code;
	st->seg[X86_SS] = data;
	st->seg[X86_DS] = data;
	st->seg[X86_ES] = data;
	// FS and GS as a 64-bit Linux process leaves them: null.
	x86_seg null = {};
	null.unusable = true;
	st->seg[X86_FS] = null;
	st->seg[X86_GS] = null;
	st->ldtr = make_seg(SEL_LDT, LDT, LDT_ENTRIES * 8 - 1, 0x82, 0x0);
	st->tr = make_seg(SEL_TSS, TSS, TSS_LIMIT, 0x8b, 0x0);
	st->gdtr.base = GDT;
	st->gdtr.limit = GDT_ENTRIES * 8 - 1;
	st->idtr.base = IDT;
	st->idtr.limit = 256 * 8 - 1;
	// PE, ET, NE, and AM as Linux sets it (so EFLAGS.AC means #AC at
	// CPL 3 in both); paging off.
	st->cr0 = 0x00040031;
	st->cr2 = 0;
	st->cr3 = 0;
	st->cr4 = 0;
	st->efer = 0;
	st->halted = false;
	st->a20 = true;
	st->intr_shadow = 0;
	st->nmi_pending = false;
}

enum emuh_status emuh_run(struct emuh *h, enum cpud_mode mode,
			  const uint8_t *code, size_t len,
			  const struct cpud_regs *in, const uint8_t *data,
			  struct cpud_result *out, uint64_t max_insns)
{
	struct vcpu *cpu = h->m.vm.cpu;
	struct mem *mem = h->m.vm.mem;
	h->last_icount = 0;
	if (mode == CPUD_MODE64 || len + 1 > CPUD_CODE_SIZE)
		return EMUH_BACKEND;
	uint8_t *t = h->m.test.data();
	memcpy(t, code, len);
	t[len] = 0xf4; // hlt
	memcpy(t + CPUD_CODE_SIZE, data, CPUD_DATA_SIZE);
	put32(h->m.sys.data() + REC_VEC, NO_VECTOR);
	mem_notify_write(mem, CPUD_CODE_BASE, len + 1);
	mem_notify_write(mem, CPUD_DATA_BASE, CPUD_DATA_SIZE);
	mem_notify_write(mem, REC, 4);

	x86_state st;
	fill_state(h, mode, in, &st);
	int err = cpu->ops->set_state(cpu, &st);
	if (err) {
		log_error("emu harness: set_state failed: %s", strerror(-err));
		return EMUH_BACKEND;
	}
	uint64_t start = cpu->ops->icount(cpu);
	enum emuh_status status = EMUH_BUDGET;
	for (;;) {
		uint64_t done = cpu->ops->icount(cpu) - start;
		if (done >= max_insns)
			break;
		uint64_t deadline = clock_now(h->m.vm.clock) + (max_insns - done);
		enum vcpu_exit ex = cpu->ops->run(cpu, deadline);
		if (ex == VCPU_EXIT_HALT) {
			status = EMUH_OK;
			break;
		}
		if (ex == VCPU_EXIT_SHUTDOWN) {
			status = EMUH_SHUTDOWN;
			break;
		}
		if (ex == VCPU_EXIT_ERROR) {
			status = EMUH_BACKEND;
			break;
		}
		// DEADLINE or STOP: nothing in this machine asks to stop, so
		// just go on until the budget is spent.
	}
	h->last_icount = cpu->ops->icount(cpu) - start;
	if (status != EMUH_OK)
		return status;
	if ((err = cpu->ops->get_state(cpu, &st))) {
		log_error("emu harness: get_state failed: %s", strerror(-err));
		return EMUH_BACKEND;
	}

	const uint8_t *s = h->m.sys.data();
	uint32_t vec = get32(s + REC_VEC);
	uint16_t test_cs = (uint16_t)(mode == CPUD_MODE16
		? (0x04 | (h->priv == EMUH_CPL3 ? 3 : 0))
		: (0x20 | (h->priv == EMUH_CPL3 ? 3 : 0)));
	for (int i = 0; i < 8; i++)
		out->regs.gpr[i] = st.gpr[i] & 0xffffffffu;
	uint64_t end = mode == CPUD_MODE16 ? len : CPUD_CODE_BASE + len;
	if (vec == NO_VECTOR) {
		// CPL 0: the final HLT; RIP is past it.
		if (st.seg[X86_CS].sel != test_cs || st.rip != end + 1)
			return EMUH_STRAY_HALT;
		out->regs.eip = end;
		out->regs.eflags = (uint32_t)st.rflags;
		out->vector = CPUD_NO_EXCEPTION;
		out->error_code = 0;
	} else {
		uint32_t rec_cs = get32(s + REC_CS) & 0xffff;
		uint32_t eip = get32(s + REC_EIP);
		if (rec_cs & 3) // came from CPL 3: ESP was switched
			out->regs.gpr[4] = get32(s + REC_ESP);
		out->regs.eflags = get32(s + REC_EFL);
		out->regs.eip = eip;
		if (vec > 255)
			return EMUH_STRAY_HALT;
		bool at_end = h->priv == EMUH_CPL3 && vec == 13 &&
			      rec_cs == test_cs && eip == end &&
			      get32(s + REC_ERR) == 0;
		if (at_end) {
			out->vector = CPUD_NO_EXCEPTION;
			out->error_code = 0;
		} else {
			out->vector = (int)vec;
			out->error_code = cpud_has_error_code((int)vec)
						  ? get32(s + REC_ERR) : 0;
		}
	}
	out->regs.eflags &= ~CPUD_RF;
	memcpy(out->data, t + CPUD_CODE_SIZE, CPUD_DATA_SIZE);
	return EMUH_OK;
}

// ---- the bare machine for random guests ----

struct emuh_bare {
	machine m;
};

int emuh_bare_create(struct emuh_bare **out, uint64_t ram_size)
{
	if (ram_size < 0x100000 || ram_size > (256u << 20))
		return -EINVAL;
	auto *b = new emuh_bare();
	b->m.sys.assign(ram_size, 0);
	b->m.test.assign(0x10000, 0);
	int err;
	if ((err = machine_init(&b->m)) ||
	    (err = machine_map(&b->m, 0, 0xF0000, b->m.sys.data(), false, "low RAM")) ||
	    (ram_size > 0x100000 &&
	     (err = machine_map(&b->m, 0x100000, ram_size - 0x100000,
				b->m.sys.data() + 0x100000, false, "RAM"))) ||
	    (err = machine_map(&b->m, 0xF0000, 0x10000, b->m.test.data(), true,
			       "BIOS")) ||
	    (err = machine_map(&b->m, 0xFFFF0000ull, 0x10000, b->m.test.data(),
			       true, "BIOS (high)")) ||
	    (err = machine_start_cpu(&b->m))) {
		emuh_bare_destroy(b);
		return err;
	}
	*out = b;
	return 0;
}

void emuh_bare_destroy(struct emuh_bare *b)
{
	if (!b)
		return;
	machine_fini(&b->m);
	delete b;
}

uint8_t *emuh_bare_ram(struct emuh_bare *b) { return b->m.sys.data(); }
uint8_t *emuh_bare_rom(struct emuh_bare *b) { return b->m.test.data(); }
struct vcpu *emuh_bare_cpu(struct emuh_bare *b) { return b->m.vm.cpu; }
struct vm *emuh_bare_vm(struct emuh_bare *b) { return &b->m.vm; }

void emuh_bare_notify(struct emuh_bare *b)
{
	mem_notify_write(b->m.vm.mem, 0, b->m.sys.size());
	mem_notify_write(b->m.vm.mem, 0xF0000, 0x10000);
	mem_notify_write(b->m.vm.mem, 0xFFFF0000ull, 0x10000);
}

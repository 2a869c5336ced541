// Differential tests of the x87 FPU (src/vcpu/emu/fpu.c) against the host
// CPU's own x87. Each case sets a full FPU state, runs one ESC instruction
// natively (generated code: FLDENV + FXRSTOR to set the state, the
// instruction, FXSAVE + FNSTENV to capture it) and through fpu_exec, and
// compares control, status and tag words, the eight registers, FOP, the
// instruction and data pointers, the memory operand, EFLAGS and AX. A
// waiting instruction with an unmasked exception pending raises SIGFPE
// natively (#MF) and must give FPU_MF; an invalid encoding raises SIGILL and
// must give FPU_UD.
//
// make test runs a bounded systematic set plus a few random cases per form;
// PCVM_FPU_FUZZ=N runs N more random cases per form (PCVM_FPU_SEED picks the
// seed), which is what `make fuzz-fpu` does.
#include <gtest/gtest.h>

#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <sys/mman.h>
#include <vector>

#include "pcvm.h"

namespace {

struct F80 {
	uint64_t sig;
	uint16_t se;
};

// Register values worth trying: zeros, ones, ordinary numbers, the extremes
// of every format, denormals, infinities, NaNs, and the encodings the 387
// and later treat as unsupported.
const F80 specials80[] = {
	{ 0, 0 },                                  // +0
	{ 0, 0x8000 },                             // -0
	{ 1ull << 63, 0x3fff },                    // 1
	{ 1ull << 63, 0xbfff },                    // -1
	{ 0xc000000000000000ull, 0x4000 },         // 3
	{ 0xa000000000000000ull, 0xc000 },         // -2.5
	{ 0xc000000000000000ull, 0x3ffe },         // 0.75
	{ 0xc90fdaa22168c235ull, 0x4000 },         // pi
	{ 0xc90fdaa22168c235ull, 0x403f },         // pi * 2^63: trig out of range
	{ 0xaaaaaaaaaaaaaaabull, 0x3ffd },         // 1/3 rounded
	{ 0x8000000000000001ull, 0x3fff },         // 1 + ulp
	{ 0xfffffffffffffffful, 0x403d },          // just under 2^63
	{ 1ull << 63, 0x403e },                    // 2^63
	{ 0xffffffffffffffffull, 0x7ffe },         // max
	{ 0xffffffffffffffffull, 0xfffe },         // -max
	{ 0xfffff80000000000ull, 0x43fe },         // near double max
	{ 0xffffff0000000000ull, 0x407e },         // float max
	{ 1ull << 63, 0x3c01 },                    // double min normal
	{ 1ull << 63, 0x3f81 },                    // float min normal
	{ 0x8000000000000400ull, 0x3bcc },         // double denormal range
	{ 1ull << 63, 0x0001 },                    // min normal
	{ 1, 0 },                                  // min denormal
	{ 0x7fffffffffffffffull, 0x8000 },         // -max denormal
	{ 1ull << 63, 0 },                         // pseudo-denormal
	{ 1ull << 63, 0x7fff },                    // +inf
	{ 1ull << 63, 0xffff },                    // -inf
	{ 0xc000000000000000ull, 0xffff },         // indefinite
	{ 0xc000000000000001ull, 0x7fff },         // QNaN
	{ 0xa000000000000000ull, 0x7fff },         // SNaN
	{ 0x8000000000000001ull, 0xffff },         // -SNaN
	{ 0x4000000000000000ull, 0x3fff },         // unnormal
	{ 0, 0x7fff },                             // pseudo-infinity
	{ 0x4000000000000000ull, 0x7fff },         // pseudo-NaN
	{ 0xb504f333f9de6484ull, 0x3fff },         // sqrt(2)
	{ 0xd6bf94d5e57a42bcull, 0x4016 },         // 7e6 and change
	{ 0x8000000000000000ull, 0x400e },         // 32768
};
const int n80 = sizeof(specials80) / sizeof(specials80[0]);

const uint32_t specials32[] = {
	0, 0x80000000, 0x3f800000, 0xbf800000, 0x40490fdb, 0x00000001, 0x807fffff,
	0x00800000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001,
	0x7fa00000, 0x3eaaaaab, 0x5f000000,
};
const uint64_t specials64[] = {
	0, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
	0x400921fb54442d18ull, 1, 0x800fffffffffffffull, 0x0010000000000000ull,
	0x7fefffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
	0x7ff8000000000000ull, 0xfff8000000000001ull, 0x7ff4000000000000ull,
	0x3fd5555555555555ull, 0x43e0000000000000ull,
};
const uint64_t specials_int[] = {
	0, 1, ~0ull, 2, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0x7fffffffffffffffull,
	0x8000000000000000ull, 12345, ~12344ull, 0x123456789abcdefull, 0xffff, 0xffffffff,
	0x100000001ull,
};

uint64_t rng = 1;
uint64_t rnd()
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}
unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

F80 random80()
{
	F80 v;
	switch (rndn(6)) {
	case 0:
	case 1:
		return specials80[rndn(n80)];
	case 2: // ordinary numbers near 1
		v.sig = rnd() | 1ull << 63;
		v.se = (uint16_t)(0x3fff - 40 + rndn(80));
		break;
	case 3: // any normal
		v.sig = rnd() | 1ull << 63;
		v.se = (uint16_t)(1 + rndn(0x7ffe));
		break;
	case 4: // a few significant bits: exact results, ties
		v.sig = (rnd() & 0xffff000000000000ull) | 1ull << 63;
		v.se = (uint16_t)(0x3fff + rndn(70) - 4);
		break;
	default:
		v.sig = rnd();
		v.se = (uint16_t)rnd();
		return v;
	}
	if (rnd() & 1)
		v.se |= 0x8000;
	return v;
}

uint16_t random_cw()
{
	uint16_t cw = (uint16_t)(0x40 | (rndn(4) << 8) | (rndn(4) << 10));
	switch (rndn(4)) {
	case 0:
	case 1: cw |= 0x3f; break;
	case 2: cw |= (uint16_t)(rnd() & 0x3f); break;
	default: break;
	}
	if (rndn(8) == 0)
		cw |= 0x1000; // IC
	return cw;
}

enum class Mem { None, M32, M64, I16, I32, I64, BCD, M80, Env, State, Word, Out };

struct Form {
	uint8_t opcode, modrm;
	bool o16;
	Mem mem;
};

Mem mem_kind(uint8_t opcode, unsigned reg)
{
	switch (opcode) {
	case 0xd8: return Mem::M32;
	case 0xda: return Mem::I32;
	case 0xdc: return Mem::M64;
	case 0xde: return Mem::I16;
	case 0xd9: {
		const Mem k[8] = { Mem::M32, Mem::None, Mem::Out, Mem::Out, Mem::Env, Mem::Word, Mem::Out, Mem::Out };
		return k[reg];
	}
	case 0xdb: {
		const Mem k[8] = { Mem::I32, Mem::None, Mem::Out, Mem::Out, Mem::None, Mem::M80, Mem::None, Mem::Out };
		return k[reg];
	}
	case 0xdd: {
		const Mem k[8] = { Mem::M64, Mem::None, Mem::Out, Mem::Out, Mem::State, Mem::None, Mem::Out, Mem::Out };
		return k[reg];
	}
	default: {
		const Mem k[8] = { Mem::I16, Mem::None, Mem::Out, Mem::Out, Mem::BCD, Mem::I64, Mem::Out, Mem::Out };
		return k[reg];
	}
	}
}

// Every register form and every memory form, except FISTTP (SSE3: the host
// has it, a P6 does not; the unit tests check it is #UD).
std::vector<Form> all_forms()
{
	std::vector<Form> v;
	for (unsigned op = 0xd8; op <= 0xdf; op++) {
		for (unsigned reg = 0; reg < 8; reg++) {
			if (reg == 1 && (op == 0xdb || op == 0xdd || op == 0xdf))
				continue;
			Mem k = mem_kind((uint8_t)op, reg);
			v.push_back({ (uint8_t)op, (uint8_t)(reg << 3 | 6), false, k });
			if (k == Mem::Env || k == Mem::State || (op == 0xd9 && reg == 6) ||
			    (op == 0xdd && reg == 6))
				v.push_back({ (uint8_t)op, (uint8_t)(reg << 3 | 6), true, k });
		}
		for (unsigned m = 0xc0; m <= 0xff; m++)
			v.push_back({ (uint8_t)op, (uint8_t)m, false, Mem::None });
	}
	return v;
}

struct Input {
	Form form;
	uint16_t cw, sw;
	uint8_t ftw;
	uint16_t fop;
	uint32_t fip, fdp;
	F80 st[8]; // stack order
	uint8_t mem[112];
	uint64_t rflags;
};

struct Output {
	int kind; // 0 ran, 1 #UD, 2 #MF
	uint8_t before[160]; // emulated only: the state fpu_exec started from
	uint8_t img[160];
	uint8_t env[28];
	uint8_t mem[112];
	uint64_t rflags;
	uint16_t ax;
};

void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void fill_mem(Input &in)
{
	uint8_t *m = in.mem;
	for (auto &b : in.mem)
		b = (uint8_t)rnd();
	switch (in.form.mem) {
	case Mem::M32:
		if (rndn(2))
			put32(m, specials32[rndn(16)]);
		break;
	case Mem::M64:
		if (rndn(2))
			put64(m, specials64[rndn(16)]);
		break;
	case Mem::I16:
	case Mem::I32:
	case Mem::I64:
		if (rndn(2))
			put64(m, specials_int[rndn(16)]);
		else if (rndn(2))
			put64(m, rnd() >> rndn(64));
		break;
	case Mem::BCD:
		if (rndn(4)) { // valid digits
			for (int i = 0; i < 9; i++)
				m[i] = (uint8_t)(rndn(10) << 4 | rndn(10));
			m[9] = rndn(2) ? 0x80 : 0;
			if (rndn(3) == 0)
				memset(m, 0, 9 - rndn(9));
		}
		break;
	case Mem::M80: {
		F80 v = random80();
		put64(m, v.sig);
		put16(m + 8, v.se);
		break;
	}
	case Mem::Word:
		put16(m, rndn(2) ? random_cw() : (uint16_t)rnd());
		break;
	case Mem::Env:
	case Mem::State: {
		// A plausible environment, in the 14- or 28-byte protected-mode
		// layout, with a state's eight registers after it.
		unsigned n = in.form.o16 ? 2 : 4;
		uint16_t tw = 0;
		for (int i = 0; i < 8; i++)
			tw = (uint16_t)(tw | (rndn(3) ? rndn(3) : 3) << (2 * i));
		put16(m, rndn(4) ? random_cw() : (uint16_t)rnd());
		put16(m + n, rndn(4) ? (uint16_t)(rnd() & 0x387f) : (uint16_t)rnd());
		put16(m + 2 * n, rndn(8) ? tw : (uint16_t)rnd());
		if (in.form.mem == Mem::State) {
			unsigned base = in.form.o16 ? 14 : 28;
			for (int i = 0; i < 8; i++) {
				F80 v = random80();
				put64(m + base + 10 * i, v.sig);
				put16(m + base + 10 * i + 8, v.se);
			}
		}
		break;
	}
	default:
		break;
	}
}

// A random state: a stack of some depth with holes now and then, flags,
// condition codes, control word.
Input random_input(const Form &form)
{
	Input in{};
	in.form = form;
	in.cw = random_cw();
	unsigned top = rndn(8);
	uint16_t flags = rndn(3) ? (uint16_t)(rnd() & 0x7f & ~(~in.cw & 0x3f)) : (uint16_t)(rnd() & 0x7f);
	if (!(flags & 1))
		flags &= (uint16_t)~0x40;
	in.sw = (uint16_t)(flags | (rnd() & 0x4700) | top << 11);
	if (in.sw & ~in.cw & 0x3f)
		in.sw |= 0x8080;
	unsigned depth = rndn(10);
	in.ftw = 0;
	for (unsigned i = 0; i < 8; i++) {
		in.st[i] = random80();
		bool valid = i < depth ? rndn(12) != 0 : rndn(12) == 0;
		if (valid)
			in.ftw = (uint8_t)(in.ftw | 1u << ((top + i) & 7));
	}
	if (rndn(16) == 0) // what FXRSTOR may load: anything
		in.cw = (uint16_t)rnd();
	if (rndn(16) == 0)
		in.sw = (uint16_t)rnd();
	in.fop = (uint16_t)(rnd() & 0x7ff);
	in.fip = (uint32_t)rnd();
	in.fdp = (uint32_t)rnd();
	in.rflags = rnd() & 0x8d5;
	fill_mem(in);
	return in;
}

void build_image(const Input &in, uint8_t *img)
{
	memset(img, 0, 512);
	put16(img + 0, in.cw);
	put16(img + 2, in.sw);
	img[4] = in.ftw;
	put16(img + 6, in.fop);
	put32(img + 8, in.fip);
	put16(img + 12, 0);
	put32(img + 16, in.fdp);
	put16(img + 20, 0);
	put32(img + 24, 0x1f80);
	for (int i = 0; i < 8; i++) {
		put64(img + 32 + 16 * i, in.st[i].sig);
		put16(img + 40 + 16 * i, in.st[i].se);
	}
}

// FLDENV's 28-byte protected-mode image of the same state (tags only
// empty/not empty: the FPU derives the rest).
void build_env(const Input &in, uint8_t *env)
{
	uint16_t tw = 0;
	for (int p = 0; p < 8; p++)
		if (!(in.ftw & (1 << p)))
			tw = (uint16_t)(tw | 3 << (2 * p));
	put32(env + 0, 0xffff0000u | in.cw);
	put32(env + 4, 0xffff0000u | in.sw);
	put32(env + 8, 0xffff0000u | tw);
	put32(env + 12, in.fip);
	put32(env + 16, (uint32_t)in.fop << 16);
	put32(env + 20, in.fdp);
	put32(env + 24, 0xffff0000u);
}

// ---- native ----

uint8_t *code;
sigjmp_buf jump;
volatile sig_atomic_t caught;
alignas(64) uint8_t native_area[1024]; // FXSAVE image, env out at 512, env in at 544
alignas(16) uint8_t native_mem[128];
uint64_t native_regs[2]; // rflags, rax
unsigned insn_offset;
uint16_t host_cs, host_ds;

void on_signal(int sig, siginfo_t *, void *)
{
	caught = sig;
	siglongjmp(jump, 1);
}

struct SignalGuard {
	struct sigaction old_fpe, old_ill;
	SignalGuard()
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigaction(SIGFPE, &sa, &old_fpe);
		sigaction(SIGILL, &sa, &old_ill);
	}
	~SignalGuard()
	{
		sigaction(SIGFPE, &old_fpe, nullptr);
		sigaction(SIGILL, &old_ill, nullptr);
	}
};

bool native_setup()
{
	if (code)
		return true;
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	code = static_cast<uint8_t *>(p);
	__asm__ volatile("mov %%cs, %0" : "=r"(host_cs));
	__asm__ volatile("mov %%ds, %0" : "=r"(host_ds));
	return true;
}

__attribute__((noinline)) void native_once()
{
	caught = 0;
	if (sigsetjmp(jump, 1) == 0)
		reinterpret_cast<void (*)(void *, void *, void *)>(code)(native_area, native_mem, native_regs);
}

// One native run into out.
void run_native_once(const Input &in, Output &out)
{
	build_image(in, native_area);
	memcpy(native_mem, in.mem, sizeof(in.mem));
	native_regs[0] = in.rflags | 2;
	native_regs[1] = 0x5a5a5a5a5a5a5a5aull;
	native_once();
	if (caught) {
		__asm__ volatile("fninit");
		out.kind = caught == SIGILL ? 1 : 2;
		return;
	}
	out.kind = 0;
	memcpy(out.img, native_area, 160);
	memcpy(out.env, native_area + 512, 28);
	memcpy(out.mem, native_mem, sizeof(out.mem));
	out.rflags = native_regs[0] & 0x8d5;
	out.ax = (uint16_t)native_regs[1];
}

bool same_outcome(const Output &a, const Output &b)
{
	return a.kind == b.kind && !memcmp(a.img, b.img, sizeof(a.img)) && !memcmp(a.env, b.env, sizeof(a.env)) &&
	       !memcmp(a.mem, b.mem, sizeof(a.mem)) && a.rflags == b.rflags && a.ax == b.ax;
}

void run_native(const Input &in, Output &out)
{
	static const uint8_t pre[] = {
		0xdb, 0xe3,                         // fninit
		0xd9, 0xa7, 0x20, 0x02, 0, 0,       // fldenv [rdi+544]
		0x0f, 0xae, 0x0f,                   // fxrstor [rdi]
		0x48, 0x8b, 0x42, 0x08,             // mov rax, [rdx+8]
		0xff, 0x32,                         // push qword [rdx]
		0x9d,                               // popfq
	};
	static const uint8_t post[] = {
		0x9c,                               // pushfq
		0x8f, 0x02,                         // pop qword [rdx]
		0x48, 0x89, 0x42, 0x08,             // mov [rdx+8], rax
		0x0f, 0xae, 0x07,                   // fxsave [rdi]
		0xd9, 0xb7, 0x00, 0x02, 0, 0,       // fnstenv [rdi+512]
		0xdb, 0xe3,                         // fninit
		0xc3,                               // ret
	};
	unsigned n = 0;
	memcpy(code, pre, sizeof(pre));
	n = sizeof(pre);
	insn_offset = n;
	if (in.form.o16)
		code[n++] = 0x66;
	code[n++] = in.form.opcode;
	code[n++] = in.form.modrm; // memory forms use [rsi]
	memcpy(code + n, post, sizeof(post));
	build_env(in, native_area + 544);

	// A context switch inside the sequence loses part of the pointer
	// state on this host (the kernel saves it with XSAVE64, which keeps no
	// FCS/FDS, and without an exception pending AMD parts keep no FIP, FDP
	// or FOP at all): run until two runs agree.
	Output again;
	run_native_once(in, out);
	for (int attempt = 0; attempt < 6; attempt++) {
		run_native_once(in, again);
		if (same_outcome(out, again))
			break;
		out = again;
	}
}

// ---- emulated ----

void run_emu(const Input &in, Output &out, struct fpu *after)
{
	alignas(16) uint8_t img[512];
	struct fpu f;
	build_image(in, img);
	fpu_fxrstor(&f, img, false);
	// FLDENV then FXRSTOR natively: the pointers come from both alike.
	f.fcs = 0;
	f.fds = 0;
	fpu_fxsave(&f, img, false);
	memcpy(out.before, img, 160);

	unsigned rlen, wlen;
	int rc = fpu_mem_operand(in.form.opcode, in.form.modrm, !in.form.o16, &rlen, &wlen);
	uint8_t buf[128];
	memset(buf, 0xcc, sizeof(buf)); // what the core did not read is garbage
	memcpy(buf, in.mem, rlen);
	struct fpu_insn insn;
	memset(&insn, 0, sizeof(insn));
	insn.opcode = in.form.opcode;
	insn.modrm = in.form.modrm;
	insn.o32 = !in.form.o16;
	insn.pmode = true;
	insn.mem = in.form.modrm < 0xc0 ? buf : nullptr;
	insn.fip = (uint32_t)(uintptr_t)(code + insn_offset);
	insn.fcs = host_cs;
	insn.fdp = (uint32_t)(uintptr_t)native_mem;
	insn.fds = host_ds;
	insn.eflags = (uint32_t)in.rflags | 2;
	if (rc == FPU_OK)
		rc = fpu_exec(&f, &insn);
	*after = f;
	out.kind = rc == FPU_UD ? 1 : rc == FPU_MF ? 2 : 0;
	fpu_fxsave(&f, img, false);
	memcpy(out.img, img, 160);

	struct fpu g = f;
	uint8_t env[28];
	struct fpu_insn st;
	memset(&st, 0, sizeof(st));
	st.opcode = 0xd9;
	st.modrm = 0x30;
	st.o32 = true;
	st.pmode = true;
	st.mem = env;
	fpu_exec(&g, &st);
	memcpy(out.env, env, 28);

	memcpy(out.mem, in.mem, sizeof(out.mem));
	if (insn.store)
		memcpy(out.mem, buf, wlen);
	out.rflags = (rc == FPU_SET_EFLAGS ? insn.eflags : in.rflags) & 0x8d5;
	out.ax = rc == FPU_SET_AX ? insn.ax : 0x5a5a;
}

std::string hex(const uint8_t *p, unsigned n)
{
	std::string s;
	char b[4];
	for (unsigned i = 0; i < n; i++) {
		snprintf(b, sizeof(b), "%02x", p[i]);
		s += b;
	}
	return s;
}

std::string describe(const Input &in)
{
	char b[256];
	snprintf(b, sizeof(b), "%s%02x %02x: cw=%04x sw=%04x ftw=%02x rflags=%03llx st:", in.form.o16 ? "66 " : "",
		 in.form.opcode, in.form.modrm, in.cw, in.sw, in.ftw, (unsigned long long)in.rflags);
	std::string s = b;
	for (int i = 0; i < 8; i++) {
		snprintf(b, sizeof(b), " %04x:%016llx", in.st[i].se, (unsigned long long)in.st[i].sig);
		s += b;
	}
	if (in.form.modrm < 0xc0)
		s += " mem=" + hex(in.mem, 16);
	return s;
}

// Differences between the two outcomes, empty when they agree.
std::string compare(const Output &n, const Output &e)
{
	std::string d;
	char b[160];
	if (n.kind != e.kind) {
		snprintf(b, sizeof(b), " kind native=%d emu=%d", n.kind, e.kind);
		return b;
	}
	if (n.kind)
		return d;
	if (memcmp(n.img, e.img, 6))
		d += " fxsave[0:6] native=" + hex(n.img, 6) + " emu=" + hex(e.img, 6);
	for (int i = 0; i < 8; i++)
		if (memcmp(n.img + 32 + 16 * i, e.img + 32 + 16 * i, 16)) {
			snprintf(b, sizeof(b), " st%d", i);
			d += b + std::string(" native=") + hex(n.img + 32 + 16 * i, 10) + " emu=" +
			     hex(e.img + 32 + 16 * i, 10);
		}
	if (memcmp(n.env, e.env, 28))
		d += " env native=" + hex(n.env, 28) + " emu=" + hex(e.env, 28);
	if (memcmp(n.mem, e.mem, sizeof(n.mem)))
		d += " mem native=" + hex(n.mem, 16) + " emu=" + hex(e.mem, 16);
	if (n.rflags != e.rflags) {
		snprintf(b, sizeof(b), " rflags native=%03llx emu=%03llx", (unsigned long long)n.rflags,
			 (unsigned long long)e.rflags);
		d += b;
	}
	if (n.ax != e.ax) {
		snprintf(b, sizeof(b), " ax native=%04x emu=%04x", n.ax, e.ax);
		d += b;
	}
	return d;
}

// Where this host (AMD) and the SDM disagree, the FPU follows the SDM and
// the native outcome is turned into the SDM's before comparing:
// FLD m32/m64 of a denormal with the denormal exception unmasked. SDM vol. 1
// 8.5.2: "The top-of-stack pointer (TOP) and source operands remain
// unchanged"; this host pushes the value anyway. Everything else (flags,
// ES, C1, pointers) must still agree.
bool sdm_adjust(const Input &in, Output &n)
{
	if (n.kind != 0 || in.form.modrm >= 0xc0 || (in.form.modrm & 0x38) ||
	    (in.form.opcode != 0xd9 && in.form.opcode != 0xdd) || (in.cw & 2))
		return false;
	bool denormal;
	if (in.form.opcode == 0xd9) {
		uint32_t v;
		memcpy(&v, in.mem, 4);
		denormal = !(v & 0x7f800000) && (v & 0x007fffff);
	} else {
		uint64_t v;
		memcpy(&v, in.mem, 8);
		denormal = !(v & 0x7ff0000000000000ull) && (v & 0x000fffffffffffffull);
	}
	unsigned top = in.sw >> 11 & 7, pushed = (top - 1) & 7;
	uint16_t sw;
	memcpy(&sw, n.img + 2, 2);
	// Only where the host did push (a host that follows the SDM here
	// needs no correction).
	if (!denormal || (in.ftw & (1u << pushed)) || (sw >> 11 & 7) != pushed)
		return false;
	sw = (uint16_t)((sw & ~0x3800) | top << 11);
	memcpy(n.img + 2, &sw, 2);
	memcpy(n.env + 4, &sw, 2);
	n.img[4] &= (uint8_t)~(1u << pushed);
	uint16_t tw;
	memcpy(&tw, n.env + 8, 2);
	tw = (uint16_t)(tw | 3u << (2 * pushed));
	memcpy(n.env + 8, &tw, 2);
	memmove(n.img + 32, n.img + 48, 7 * 16);
	memset(n.img + 32 + 7 * 16, 0, 16);
	memcpy(n.img + 32 + 7 * 16, &in.st[7].sig, 8);
	memcpy(n.img + 40 + 7 * 16, &in.st[7].se, 2);
	return true;
}

struct Stats {
	unsigned long cases = 0, failures = 0, adjusted = 0;
	std::vector<std::string> shown;
	std::map<unsigned, unsigned> shown_per_form; // at most two per form
};

void check(const Input &in, Stats &s)
{
	Output n, e;
	struct fpu after;
	memset(&n, 0, sizeof(n));
	memset(&e, 0, sizeof(e));
	run_native(in, n);
	run_emu(in, e, &after);
	s.cases++;
	if (sdm_adjust(in, n))
		s.adjusted++;
	std::string d = compare(n, e);
	if (d.empty() && n.kind == 2) {
		// #MF: the instruction must not have touched anything.
		if (memcmp(e.before, e.img, 160))
			d = " state changed despite FPU_MF";
	}
	if (!d.empty()) {
		s.failures++;
		unsigned &k = s.shown_per_form[in.form.opcode << 8 | in.form.modrm];
		if (s.shown.size() < 40 && k++ < 2)
			s.shown.push_back(describe(in) + "\n   ->" + d);
	}
}

void report(const char *what, const Stats &s)
{
	printf("[ fpu-diff ] %s: %lu cases, %lu differ", what, s.cases, s.failures);
	if (s.adjusted)
		printf(" (%lu compared with the host's result corrected to the SDM's)", s.adjusted);
	printf("\n");
	for (const auto &x : s.shown)
		printf("  %s\n", x.c_str());
}

// Two operands (ST(0) and ST(i), or ST(0) and memory) over the specials in
// several precision/rounding/mask settings.
const uint16_t systematic_cws[] = { 0x037f, 0x047f, 0x0a7f, 0x0f40, 0x0360, 0x1e7f };

struct FpuDiff : ::testing::Test {
	SignalGuard guard;
	void SetUp() override
	{
		ASSERT_TRUE(native_setup()) << "cannot map an executable page for the native runs";
		rng = 0x9e3779b97f4a7c15ull;
	}
};

Input pair_input(const Form &form, const F80 &a, const F80 &b, unsigned i, uint16_t cw, unsigned top)
{
	Input in{};
	in.form = form;
	in.cw = cw;
	in.sw = (uint16_t)(top << 11);
	in.st[0] = a;
	in.st[i] = b;
	for (unsigned k = 0; k < 8; k++)
		if (k != 0 && k != i)
			in.st[k] = specials80[(k * 7) % n80];
	in.ftw = (uint8_t)(1u << top | 1u << ((top + i) & 7));
	in.rflags = (top & 1 ? 0x41 : 0) | (top & 2 ? 0x04 : 0) | (top & 4 ? 0x800 : 0);
	in.fop = 0x123;
	in.fip = 0x11223344;
	in.fdp = 0x55667788;
	fill_mem(in);
	return in;
}

bool two_operand_reg(uint8_t op, uint8_t modrm)
{
	unsigned reg = (modrm >> 3) & 7;
	switch (op) {
	case 0xd8:
	case 0xdc:
		return true;
	case 0xde:
		return reg != 3 || modrm == 0xd9;
	case 0xd9:
		return modrm >= 0xe0 || modrm < 0xd0;
	case 0xda:
		return modrm < 0xe0 || modrm == 0xe9;
	case 0xdb:
		return modrm < 0xe0 || (modrm >= 0xe8 && modrm < 0xf8);
	case 0xdd:
		return modrm >= 0xc8 && modrm < 0xf0;
	default:
		return modrm >= 0xe8 && modrm < 0xf8;
	}
}

TEST_F(FpuDiff, RegisterFormsOnSpecials)
{
	Stats s;
	for (const Form &form : all_forms()) {
		if (form.modrm < 0xc0 || !two_operand_reg(form.opcode, form.modrm))
			continue;
		unsigned i = form.modrm & 7;
		// Every pair for ST(1), and a stride through the pairs for the
		// other registers.
		if (i == 0 || i == 1)
			i = 1;
		unsigned stride = (form.modrm & 7) <= 1 ? 1 : 7;
		unsigned k = 0;
		for (int a = 0; a < n80; a++)
			for (int b = 0; b < n80; b++, k++) {
				if (k % stride)
					continue;
				uint16_t cw = systematic_cws[k % 6];
				check(pair_input(form, specials80[a], specials80[b], i, cw, k & 7), s);
			}
	}
	report("register forms, operand pairs", s);
	EXPECT_EQ(0u, s.failures);
}

TEST_F(FpuDiff, MemoryFormsOnSpecials)
{
	Stats s;
	for (const Form &form : all_forms()) {
		if (form.modrm >= 0xc0 || form.mem == Mem::None)
			continue;
		unsigned k = 0;
		for (int a = 0; a < n80; a++)
			for (int b = 0; b < 16; b++, k++) {
				Input in = pair_input(form, specials80[a], specials80[(a + b) % n80], 1,
						      systematic_cws[k % 6], k & 7);
				uint8_t *m = in.mem;
				switch (form.mem) {
				case Mem::M32: put32(m, specials32[b]); break;
				case Mem::M64: put64(m, specials64[b]); break;
				case Mem::I16:
				case Mem::I32:
				case Mem::I64: put64(m, specials_int[b]); break;
				default: break;
				}
				check(in, s);
			}
	}
	report("memory forms, operand pairs", s);
	EXPECT_EQ(0u, s.failures);
}

// Empty, nearly empty, nearly full and full stacks for every form, with
// stack faults masked and unmasked.
TEST_F(FpuDiff, StackFaults)
{
	Stats s;
	const uint8_t layouts[] = { 0x00, 0x01, 0x02, 0x03, 0x7f, 0xfe, 0xff, 0x80, 0xfd };
	for (const Form &form : all_forms())
		for (uint8_t layout : layouts)
			for (unsigned v = 0; v < 4; v++) {
				Input in = random_input(form);
				unsigned top = in.sw >> 11 & 7;
				in.cw = v & 1 ? 0x037e : 0x037f;
				in.sw &= 0x7f00 & ~0x80;
				in.ftw = 0;
				for (unsigned i = 0; i < 8; i++)
					if (layout & 1 << i)
						in.ftw = (uint8_t)(in.ftw | 1u << ((top + i) & 7));
				check(in, s);
			}
	report("stack faults", s);
	EXPECT_EQ(0u, s.failures);
}

// Streams of instructions with every exception masked (so none traps
// natively midway): the state the FPU threads from one instruction to the
// next, and the arithmetic kernel's fast path, which relies on the host's
// x87 still holding the previous instruction's condition codes and flags.
bool sequence_form_ok(const Form &f)
{
	if (f.mem == Mem::Env || f.mem == Mem::State || f.mem == Mem::Word)
		return false; // would load arbitrary control words
	unsigned r, w;
	return fpu_mem_operand(f.opcode, f.modrm, !f.o16, &r, &w) == FPU_OK;
}

TEST_F(FpuDiff, InstructionSequences)
{
	std::vector<Form> forms;
	for (const Form &f : all_forms())
		if (sequence_form_ok(f))
			forms.push_back(f);
	unsigned long n = 5000, compared = 0, failures = 0;
	const char *env = getenv("PCVM_FPU_FUZZ");
	if (env)
		n += strtoul(env, nullptr, 0) * 10;
	std::vector<std::string> shown;
	for (unsigned long k = 0; k < n; k++) {
		const unsigned len = 1 + rndn(24);
		std::vector<Form> seq;
		for (unsigned j = 0; j < len; j++)
			seq.push_back(forms[rndn((unsigned)forms.size())]);
		Input in = random_input(seq[0]);
		in.cw = (uint16_t)((in.cw & 0x0f00) | 0x7f);
		in.sw &= 0x7f7f & ~0x80;

		// Native: all the instructions in a row.
		unsigned off[24], n_code = 0;
		static const uint8_t pre[] = { 0xdb, 0xe3, 0xd9, 0xa7, 0x20, 0x02, 0, 0, 0x0f, 0xae, 0x0f,
					       0x48, 0x8b, 0x42, 0x08, 0xff, 0x32, 0x9d };
		static const uint8_t post[] = { 0x9c, 0x8f, 0x02, 0x48, 0x89, 0x42, 0x08, 0x0f, 0xae, 0x07,
						0xd9, 0xb7, 0x00, 0x02, 0, 0, 0xdb, 0xe3, 0xc3 };
		memcpy(code, pre, sizeof(pre));
		n_code = sizeof(pre);
		for (unsigned j = 0; j < len; j++) {
			off[j] = n_code;
			if (seq[j].o16)
				code[n_code++] = 0x66;
			code[n_code++] = seq[j].opcode;
			code[n_code++] = seq[j].modrm;
		}
		memcpy(code + n_code, post, sizeof(post));
		build_env(in, native_area + 544);
		Output nat, again;
		memset(&nat, 0, sizeof(nat));
		memset(&again, 0, sizeof(again));
		run_native_once(in, nat);
		for (int attempt = 0; attempt < 6; attempt++) {
			run_native_once(in, again);
			if (same_outcome(nat, again))
				break;
			nat = again;
		}

		// Emulated: the same stream, memory written back as a core would.
		Output emu;
		memset(&emu, 0, sizeof(emu));
		alignas(16) uint8_t img[512];
		struct fpu f;
		build_image(in, img);
		fpu_fxrstor(&f, img, false);
		f.fcs = f.fds = 0;
		uint8_t memory[112];
		memcpy(memory, in.mem, sizeof(memory));
		uint32_t eflags = (uint32_t)in.rflags | 2;
		int rc = FPU_OK;
		for (unsigned j = 0; j < len && rc != FPU_MF && rc != FPU_UD; j++) {
			const Form &fm = seq[j];
			unsigned rlen, wlen;
			fpu_mem_operand(fm.opcode, fm.modrm, !fm.o16, &rlen, &wlen);
			uint8_t buf[128];
			memset(buf, 0xcc, sizeof(buf));
			memcpy(buf, memory, rlen);
			struct fpu_insn insn;
			memset(&insn, 0, sizeof(insn));
			insn.opcode = fm.opcode;
			insn.modrm = fm.modrm;
			insn.o32 = !fm.o16;
			insn.pmode = true;
			insn.mem = fm.modrm < 0xc0 ? buf : nullptr;
			insn.fip = (uint32_t)(uintptr_t)(code + off[j]);
			insn.fcs = host_cs;
			insn.fdp = (uint32_t)(uintptr_t)native_mem;
			insn.fds = host_ds;
			insn.eflags = eflags;
			rc = fpu_exec(&f, &insn);
			if (rc == FPU_SET_EFLAGS)
				eflags = (eflags & ~0x8d5u) | (insn.eflags & 0x8d5u);
			if (insn.store)
				memcpy(memory, buf, wlen);
		}
		if (rc == FPU_MF || rc == FPU_UD || nat.kind)
			continue; // cannot happen with exceptions masked; counted below if it does
		fpu_fxsave(&f, img, false);
		memcpy(emu.img, img, 160);
		struct fpu g = f;
		uint8_t envb[28];
		struct fpu_insn st;
		memset(&st, 0, sizeof(st));
		st.opcode = 0xd9;
		st.modrm = 0x30;
		st.o32 = st.pmode = true;
		st.mem = envb;
		fpu_exec(&g, &st);
		memcpy(emu.env, envb, 28);
		memcpy(emu.mem, memory, sizeof(emu.mem));
		emu.rflags = eflags & 0x8d5;
		emu.ax = nat.ax;
		compared++;
		std::string d = compare(nat, emu);
		if (!d.empty()) {
			failures++;
			if (shown.size() < 10) {
				std::string forms_text;
				char b[16];
				for (const Form &fm : seq) {
					snprintf(b, sizeof(b), " %s%02x%02x", fm.o16 ? "66" : "", fm.opcode, fm.modrm);
					forms_text += b;
				}
				shown.push_back(describe(in) + "\n   seq:" + forms_text + "\n   ->" + d);
			}
		}
	}
	printf("[ fpu-diff ] instruction sequences: %lu of %lu compared, %lu differ\n", compared, n, failures);
	for (const auto &x : shown)
		printf("  %s\n", x.c_str());
	EXPECT_EQ(0u, failures);
	EXPECT_GT(compared, n * 9 / 10);
}

TEST_F(FpuDiff, RandomStates)
{
	Stats s;
	unsigned long n = 48;
	const char *env = getenv("PCVM_FPU_FUZZ");
	if (env)
		n += strtoul(env, nullptr, 0);
	const char *seed = getenv("PCVM_FPU_SEED");
	if (seed)
		rng = strtoull(seed, nullptr, 0) | 1;
	std::vector<Form> forms = all_forms();
	for (const Form &form : forms)
		for (unsigned long k = 0; k < n; k++)
			check(random_input(form), s);
	char what[64];
	snprintf(what, sizeof(what), "random states, %zu forms", forms.size());
	report(what, s);
	EXPECT_EQ(0u, s.failures);
}

} // namespace

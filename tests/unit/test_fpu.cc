// Unit tests of the x87 FPU module: reset state, decoding, the FSTENV/FSAVE
// layouts of SDM vol. 1 figures 8-9 to 8-12 byte by byte (the real-mode ones
// cannot be run natively here), FXSAVE, pointer recording, pending
// exceptions, and the places where the FPU follows the SDM rather than this
// host. Behaviour shared with the host CPU is covered exhaustively by
// test_fpu_diff.cc.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "pcvm.h"

namespace {

struct fpu_f80 f80(uint64_t sig, uint16_t se) { return { sig, se }; }
const struct fpu_f80 one = f80(1ull << 63, 0x3fff);
const struct fpu_f80 two = f80(1ull << 63, 0x4000);

uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

// Runs one instruction; mem (if any) must hold what the core would read.
int exec(struct fpu *f, uint8_t opcode, uint8_t modrm, uint8_t *mem = nullptr, bool o32 = true,
	 bool pmode = true, struct fpu_insn *out = nullptr)
{
	struct fpu_insn in;
	memset(&in, 0, sizeof(in));
	in.opcode = opcode;
	in.modrm = modrm;
	in.o32 = o32;
	in.pmode = pmode;
	in.mem = mem;
	in.fip = 0x1000;
	in.fcs = 0x08;
	in.fdp = 0x2000;
	in.fds = 0x10;
	int rc = fpu_exec(f, &in);
	if (out)
		*out = in;
	return rc;
}

unsigned top(const struct fpu *f) { return f->sw >> 11 & 7; }

// A fresh FNINIT state with values pushed (the last one ends up in ST(0)).
struct fpu with_stack(std::vector<struct fpu_f80> vals)
{
	struct fpu f;
	fpu_reset(&f);
	fpu_init(&f);
	for (const auto &v : vals) {
		uint8_t m[10];
		memcpy(m, &v.sig, 8);
		memcpy(m + 8, &v.se, 2);
		EXPECT_EQ(FPU_OK, exec(&f, 0xdb, 0x28, m)); // FLD m80
	}
	return f;
}

struct fpu_f80 st(const struct fpu *f, unsigned i) { return f->r[(top(f) + i) & 7]; }
bool same(struct fpu_f80 a, struct fpu_f80 b) { return a.sig == b.sig && a.se == b.se; }

void expect_same_fpu(const struct fpu &a, const struct fpu &b)
{
	EXPECT_EQ(a.cw, b.cw);
	EXPECT_EQ(a.sw, b.sw);
	EXPECT_EQ(a.ftw, b.ftw);
	EXPECT_EQ(a.fop, b.fop);
	EXPECT_EQ(a.fip, b.fip);
	EXPECT_EQ(a.fdp, b.fdp);
	EXPECT_EQ(a.fcs, b.fcs);
	EXPECT_EQ(a.fds, b.fds);
	for (int p = 0; p < 8; p++)
		EXPECT_TRUE(same(a.r[p], b.r[p])) << "R" << p;
}

TEST(Fpu, ResetState)
{
	struct fpu f;
	memset(&f, 0xa5, sizeof(f));
	fpu_reset(&f);
	EXPECT_EQ(0x0040, f.cw);
	EXPECT_EQ(0x0000, f.sw);
	EXPECT_EQ(0x5555, fpu_tag_word(&f));
	EXPECT_EQ(0u, f.fip + f.fdp + f.fop + f.fcs + f.fds);
	for (int i = 0; i < 8; i++)
		EXPECT_TRUE(same(f.r[i], f80(0, 0)));
	EXPECT_FALSE(fpu_error_pending(&f));
}

TEST(Fpu, InitKeepsRegisters)
{
	struct fpu f = with_stack({ one, two });
	f.fip = 5;
	f.fdp = 6;
	f.fop = 7;
	fpu_init(&f);
	EXPECT_EQ(0x037f, f.cw);
	EXPECT_EQ(0, f.sw);
	EXPECT_EQ(0xffff, fpu_tag_word(&f));
	EXPECT_EQ(0u, f.fip + f.fdp + f.fop);
	EXPECT_TRUE(same(f.r[7], one));
	EXPECT_TRUE(same(f.r[6], two));
}

TEST(Fpu, MemoryOperandLengths)
{
	struct Row {
		uint8_t op, reg;
		int rc;
		unsigned r16, w16, r32, w32;
	};
	const Row rows[] = {
		{ 0xd8, 0, FPU_OK, 4, 0, 4, 0 }, { 0xd8, 7, FPU_OK, 4, 0, 4, 0 },
		{ 0xd9, 0, FPU_OK, 4, 0, 4, 0 }, { 0xd9, 1, FPU_UD, 0, 0, 0, 0 },
		{ 0xd9, 2, FPU_OK, 0, 4, 0, 4 }, { 0xd9, 3, FPU_OK, 0, 4, 0, 4 },
		{ 0xd9, 4, FPU_OK, 14, 0, 28, 0 }, { 0xd9, 5, FPU_OK, 2, 0, 2, 0 },
		{ 0xd9, 6, FPU_OK, 0, 14, 0, 28 }, { 0xd9, 7, FPU_OK, 0, 2, 0, 2 },
		{ 0xda, 3, FPU_OK, 4, 0, 4, 0 },
		{ 0xdb, 0, FPU_OK, 4, 0, 4, 0 }, { 0xdb, 1, FPU_UD, 0, 0, 0, 0 },
		{ 0xdb, 2, FPU_OK, 0, 4, 0, 4 }, { 0xdb, 3, FPU_OK, 0, 4, 0, 4 },
		{ 0xdb, 4, FPU_UD, 0, 0, 0, 0 }, { 0xdb, 5, FPU_OK, 10, 0, 10, 0 },
		{ 0xdb, 6, FPU_UD, 0, 0, 0, 0 }, { 0xdb, 7, FPU_OK, 0, 10, 0, 10 },
		{ 0xdc, 5, FPU_OK, 8, 0, 8, 0 },
		{ 0xdd, 0, FPU_OK, 8, 0, 8, 0 }, { 0xdd, 1, FPU_UD, 0, 0, 0, 0 },
		{ 0xdd, 2, FPU_OK, 0, 8, 0, 8 }, { 0xdd, 3, FPU_OK, 0, 8, 0, 8 },
		{ 0xdd, 4, FPU_OK, 94, 0, 108, 0 }, { 0xdd, 5, FPU_UD, 0, 0, 0, 0 },
		{ 0xdd, 6, FPU_OK, 0, 94, 0, 108 }, { 0xdd, 7, FPU_OK, 0, 2, 0, 2 },
		{ 0xde, 6, FPU_OK, 2, 0, 2, 0 },
		{ 0xdf, 0, FPU_OK, 2, 0, 2, 0 }, { 0xdf, 1, FPU_UD, 0, 0, 0, 0 },
		{ 0xdf, 2, FPU_OK, 0, 2, 0, 2 }, { 0xdf, 3, FPU_OK, 0, 2, 0, 2 },
		{ 0xdf, 4, FPU_OK, 10, 0, 10, 0 }, { 0xdf, 5, FPU_OK, 8, 0, 8, 0 },
		{ 0xdf, 6, FPU_OK, 0, 10, 0, 10 }, { 0xdf, 7, FPU_OK, 0, 8, 0, 8 },
	};
	for (const Row &row : rows) {
		unsigned r, w;
		for (uint8_t mod : { 0x00, 0x40, 0x80 }) {
			uint8_t modrm = (uint8_t)(mod | row.reg << 3 | 5);
			EXPECT_EQ(row.rc, fpu_mem_operand(row.op, modrm, false, &r, &w)) << std::hex << +row.op << " /" << +row.reg;
			EXPECT_EQ(row.r16, r);
			EXPECT_EQ(row.w16, w);
			EXPECT_EQ(row.rc, fpu_mem_operand(row.op, modrm, true, &r, &w));
			EXPECT_EQ(row.r32, r);
			EXPECT_EQ(row.w32, w);
		}
	}
	unsigned r, w;
	EXPECT_EQ(FPU_UD, fpu_mem_operand(0x9b, 0x00, true, &r, &w));
}

TEST(Fpu, InvalidRegisterForms)
{
	// The register forms a P6 rejects (SDM vol. 2 appendix A.4 with the
	// aliases real parts accept); everything else is executed.
	auto ud = [](uint8_t op, uint8_t m) {
		switch (op) {
		case 0xd9: return (m >= 0xd1 && m <= 0xd7) || m == 0xe2 || m == 0xe3 || m == 0xe6 || m == 0xe7 || m == 0xef;
		case 0xda: return m >= 0xe0 && m != 0xe9;
		case 0xdb: return (m >= 0xe5 && m <= 0xe7) || m >= 0xf8;
		case 0xdd: return m >= 0xf0;
		case 0xde: return m >= 0xd8 && m <= 0xdf && m != 0xd9;
		case 0xdf: return (m >= 0xe1 && m <= 0xe7) || m >= 0xf8;
		default: return false;
		}
	};
	for (unsigned op = 0xd8; op <= 0xdf; op++)
		for (unsigned m = 0xc0; m <= 0xff; m++) {
			struct fpu f = with_stack({ one, two });
			struct fpu before = f;
			int rc = exec(&f, (uint8_t)op, (uint8_t)m);
			if (ud((uint8_t)op, (uint8_t)m)) {
				EXPECT_EQ(FPU_UD, rc) << std::hex << op << " " << m;
				EXPECT_EQ(0, memcmp(&before, &f, sizeof(f)));
			} else {
				EXPECT_NE(FPU_UD, rc) << std::hex << op << " " << m;
			}
		}
}

TEST(Fpu, FisttpIsNotP6)
{
	struct fpu f = with_stack({ one });
	struct fpu before = f;
	uint8_t m[8] = {};
	EXPECT_EQ(FPU_UD, exec(&f, 0xdb, 0x08, m));
	EXPECT_EQ(FPU_UD, exec(&f, 0xdd, 0x08, m));
	EXPECT_EQ(FPU_UD, exec(&f, 0xdf, 0x08, m));
	EXPECT_EQ(0, memcmp(&before, &f, sizeof(f)));
}

// A state that exercises every field of the environment.
struct fpu env_state()
{
	struct fpu f;
	fpu_reset(&f);
	fpu_init(&f);
	f.cw = 0x0b72; // RC up, PC 53; IE, ZE, OE unmasked
	f.sw = (uint16_t)(0x4000 | 5 << 11 | 0x0100 | 0x0020); // C3, TOP 5, C0, PE (masked)
	f.ftw = 0;
	const struct fpu_f80 vals[4] = { one, f80(0, 0x8000), f80(1, 0), f80(1ull << 63, 0x7fff) };
	for (int i = 0; i < 4; i++) { // valid, zero, special (denormal), special (inf)
		f.r[(5 + i) & 7] = vals[i];
		f.ftw = (uint8_t)(f.ftw | 1 << ((5 + i) & 7));
	}
	f.fip = 0x12345678;
	f.fcs = 0x001b;
	f.fop = 0x05a5;
	f.fdp = 0x9abcdef0;
	f.fds = 0x0023;
	return f;
}

TEST(Fpu, TagWordFromContents)
{
	struct fpu f = env_state();
	// R5 valid 00, R6 zero 01, R7 denormal 10, R0 inf 10, R1-R4 empty 11.
	EXPECT_EQ((uint16_t)(0x2 << 0 | 0x3 << 2 | 0x3 << 4 | 0x3 << 6 | 0x3 << 8 | 0x0 << 10 | 0x1 << 12 | 0x2 << 14),
		  fpu_tag_word(&f));
	f.r[1] = f80(0x4000000000000000ull, 0x3fff); // unnormal: special
	f.r[2] = f80(0xc000000000000000ull, 0xffff); // NaN: special
	f.r[3] = f80(1ull << 63, 0);                 // pseudo-denormal: special
	f.ftw = 0xff;
	EXPECT_EQ(0x2, fpu_tag_word(&f) >> 2 & 3);
	EXPECT_EQ(0x2, fpu_tag_word(&f) >> 4 & 3);
	EXPECT_EQ(0x2, fpu_tag_word(&f) >> 6 & 3);
}

// FNSTENV in the four layouts, byte by byte per SDM vol. 1 figures 8-9
// (32-bit protected), 8-10 (32-bit real), 8-11 (16-bit protected) and 8-12
// (16-bit real). The reserved upper halves of the 32-bit layouts store as
// ones, as the host's FNSTENV does.
TEST(Fpu, EnvironmentLayouts)
{
	const struct fpu e = env_state();
	const uint16_t tw = fpu_tag_word(&e);
	const uint16_t cw = 0x0b72, sw = (uint16_t)(0x4000 | 5 << 11 | 0x0100 | 0x0020);
	uint8_t m[28];

	struct fpu f = env_state();
	memset(m, 0xcc, sizeof(m));
	struct fpu_insn in;
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m, true, true, &in));
	EXPECT_TRUE(in.store);
	EXPECT_EQ(0xffff0000u | cw, get32(m + 0));
	EXPECT_EQ(0xffff0000u | sw, get32(m + 4));
	EXPECT_EQ(0xffff0000u | tw, get32(m + 8));
	EXPECT_EQ(0x12345678u, get32(m + 12));
	EXPECT_EQ(0x001bu | 0x05a5u << 16, get32(m + 16));
	EXPECT_EQ(0x9abcdef0u, get32(m + 20));
	EXPECT_EQ(0xffff0023u, get32(m + 24));
	EXPECT_EQ(cw | 0x3f, f.cw); // FSTENV masks all exceptions afterwards

	f = env_state();
	memset(m, 0xcc, sizeof(m));
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m, true, false));
	EXPECT_EQ(0xffff0000u | cw, get32(m + 0));
	EXPECT_EQ(0xffff0000u | sw, get32(m + 4));
	EXPECT_EQ(0xffff0000u | tw, get32(m + 8));
	EXPECT_EQ(0xffff5678u, get32(m + 12));
	EXPECT_EQ(0x1234u << 12 | 0x05a5u, get32(m + 16)); // bits 31-28 and 11 zero
	EXPECT_EQ(0xffffdef0u, get32(m + 20));
	EXPECT_EQ(0x9abcu << 12, get32(m + 24));

	f = env_state();
	memset(m, 0xcc, sizeof(m));
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m, false, true));
	EXPECT_EQ(cw, get16(m + 0));
	EXPECT_EQ(sw, get16(m + 2));
	EXPECT_EQ(tw, get16(m + 4));
	EXPECT_EQ(0x5678, get16(m + 6));
	EXPECT_EQ(0x001b, get16(m + 8));
	EXPECT_EQ(0xdef0, get16(m + 10));
	EXPECT_EQ(0x0023, get16(m + 12));
	EXPECT_EQ(0xcc, m[14]); // 14 bytes only

	f = env_state();
	memset(m, 0xcc, sizeof(m));
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m, false, false));
	EXPECT_EQ(cw, get16(m + 0));
	EXPECT_EQ(sw, get16(m + 2));
	EXPECT_EQ(tw, get16(m + 4));
	EXPECT_EQ(0x5678, get16(m + 6));
	EXPECT_EQ(0x4 << 12 | 0x05a5, get16(m + 8)); // pointer bits 19-16, 0, opcode
	EXPECT_EQ(0xdef0, get16(m + 10));
	EXPECT_EQ(0xc << 12, get16(m + 12));
	EXPECT_EQ(0xcc, m[14]);
}

TEST(Fpu, EnvironmentRoundTrip)
{
	for (int o32 = 0; o32 < 2; o32++)
		for (int pmode = 0; pmode < 2; pmode++) {
			struct fpu f = env_state(), g;
			uint8_t m[28];
			ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m, o32, pmode));
			fpu_reset(&g);
			fpu_init(&g);
			ASSERT_EQ(FPU_OK, exec(&g, 0xd9, 0x20, m, o32, pmode));
			struct fpu e = env_state();
			SCOPED_TRACE(testing::Message() << "o32=" << o32 << " pmode=" << pmode);
			EXPECT_EQ(e.cw, g.cw); // stored before FSTENV masks
			EXPECT_EQ(e.sw, g.sw);
			EXPECT_EQ(e.ftw, g.ftw);
			if (pmode) {
				EXPECT_EQ(o32 ? e.fip : e.fip & 0xffff, g.fip);
				EXPECT_EQ(o32 ? e.fdp : e.fdp & 0xffff, g.fdp);
				EXPECT_EQ(e.fcs, g.fcs);
				EXPECT_EQ(e.fds, g.fds);
				EXPECT_EQ(o32 ? e.fop : 0, g.fop); // no room in the 16-bit layout
			} else {
				// Linear pointers: 32 bits, or 20 in the 16-bit layout.
				EXPECT_EQ(o32 ? e.fip : e.fip & 0xfffff, g.fip);
				EXPECT_EQ(o32 ? e.fdp : e.fdp & 0xfffff, g.fdp);
				EXPECT_EQ(0, g.fcs);
				EXPECT_EQ(0, g.fds);
				EXPECT_EQ(e.fop, g.fop);
			}
		}
}

// FLDENV keeps only "empty or not" of the tag word; the rest follows the
// register contents.
TEST(Fpu, LoadedTagsAreRederived)
{
	struct fpu f = with_stack({ one });
	uint8_t m[28];
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, m));
	m[8] = 0x55; // claim "zero" for R0-R3
	m[9] = 0x55; // R4-R7 "zero", R7 holding 1.0 included
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x20, m));
	EXPECT_EQ(0xff, f.ftw);
	EXPECT_EQ(0u, fpu_tag_word(&f) >> 14); // R7: valid, whatever was loaded
}

TEST(Fpu, SaveAndRestoreState)
{
	for (int o32 = 0; o32 < 2; o32++) {
		struct fpu f = env_state();
		uint8_t m[108];
		memset(m, 0xcc, sizeof(m));
		struct fpu_insn in;
		ASSERT_EQ(FPU_OK, exec(&f, 0xdd, 0x30, m, o32, true, &in));
		EXPECT_TRUE(in.store);
		unsigned base = o32 ? 28 : 14;
		struct fpu e = env_state();
		for (unsigned i = 0; i < 8; i++) { // stack order: ST(0) first
			struct fpu_f80 v = e.r[(5 + i) & 7];
			EXPECT_EQ(v.sig, get64(m + base + 10 * i));
			EXPECT_EQ(v.se, get16(m + base + 10 * i + 8));
		}
		if (!o32) {
			EXPECT_EQ(0xcc, m[94]);
		}
		// FSAVE ends with FNINIT.
		EXPECT_EQ(0x037f, f.cw);
		EXPECT_EQ(0, f.sw);
		EXPECT_EQ(0, f.ftw);
		EXPECT_EQ(0u, f.fip);

		struct fpu g;
		fpu_reset(&g);
		ASSERT_EQ(FPU_OK, exec(&g, 0xdd, 0x20, m, o32, true));
		EXPECT_EQ(e.sw, g.sw);
		EXPECT_EQ(e.ftw, g.ftw);
		for (int p = 0; p < 8; p++)
			EXPECT_TRUE(same(e.r[p], g.r[p])) << p;
	}
}

TEST(Fpu, PointersRecordedByNonControlInstructions)
{
	struct fpu f = with_stack({ one, two });
	uint8_t m4[4] = { 0, 0, 0x80, 0x3f };
	struct fpu_insn in;
	memset(&in, 0, sizeof(in));
	in.opcode = 0xd8;
	in.modrm = 0x46; // FADD dword [bp+disp8]
	in.o32 = true;
	in.pmode = true;
	in.mem = m4;
	in.fip = 0x1111;
	in.fcs = 0x18;
	in.fdp = 0x2222;
	in.fds = 0x20;
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_EQ(0x1111u, f.fip);
	EXPECT_EQ(0x18, f.fcs);
	EXPECT_EQ(0x2222u, f.fdp);
	EXPECT_EQ(0x20, f.fds);
	EXPECT_EQ(0x046, f.fop);

	in.opcode = 0xdc;
	in.modrm = 0xc1; // FADD ST(1), ST(0): no memory operand
	in.mem = nullptr;
	in.fip = 0x3333;
	in.fdp = 0x4444;
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_EQ(0x3333u, f.fip);
	EXPECT_EQ(0x2222u, f.fdp); // kept
	EXPECT_EQ(0x4c1, f.fop);

	uint8_t cw[2] = { 0x7f, 0x03 };
	in.opcode = 0xd9;
	in.modrm = 0x2e; // FLDCW: control, records nothing
	in.mem = cw;
	in.fip = 0x5555;
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_EQ(0x3333u, f.fip);
	EXPECT_EQ(0x4c1, f.fop);
}

TEST(Fpu, UnmaskedExceptionPendsUntilTheNextWaitingInstruction)
{
	struct fpu f = with_stack({ one, f80(0, 0) }); // ST(0) = 0, ST(1) = 1
	uint8_t cw[2] = { 0x7b, 0x03 };               // unmask ZE
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	ASSERT_EQ(FPU_OK, exec(&f, 0xdc, 0xf9)); // FDIV ST(1), ST(0): 1 / 0
	EXPECT_EQ(0x8084, f.sw & 0x80ff);        // B, ES, ZE
	EXPECT_TRUE(same(st(&f, 1), one));      // destination untouched
	EXPECT_TRUE(fpu_error_pending(&f));
	EXPECT_EQ(FPU_MF, fpu_wait(&f));

	struct fpu before = f;
	EXPECT_EQ(FPU_MF, exec(&f, 0xd8, 0xc1)); // FADD: waiting
	EXPECT_EQ(FPU_MF, exec(&f, 0xd9, 0x28, cw)); // FLDCW: waiting too
	EXPECT_EQ(0, memcmp(&before, &f, sizeof(f)));

	// With IGNNE# (CR0.NE=0 after the IRQ13 handler's write to port F0h)
	// the instruction runs and the error stays pending.
	struct fpu g = f;
	struct fpu_insn ign;
	memset(&ign, 0, sizeof(ign));
	ign.opcode = 0xd9;
	ign.modrm = 0xe8; // FLD1
	ign.ignne = true;
	EXPECT_EQ(FPU_OK, fpu_exec(&g, &ign));
	EXPECT_EQ(top(&f) - 1, top(&g));
	EXPECT_TRUE(fpu_error_pending(&g));

	struct fpu_insn in;
	EXPECT_EQ(FPU_SET_AX, exec(&f, 0xdf, 0xe0, nullptr, true, true, &in)); // FNSTSW AX
	EXPECT_EQ(f.sw, in.ax);
	EXPECT_EQ(FPU_OK, exec(&f, 0xdb, 0xe2)); // FNCLEX
	EXPECT_FALSE(fpu_error_pending(&f));
	EXPECT_EQ(FPU_OK, fpu_wait(&f));
	EXPECT_EQ(FPU_OK, exec(&f, 0xd8, 0xc1));
}

TEST(Fpu, ControlWordLoadRederivesErrorSummary)
{
	struct fpu f = with_stack({ f80(0, 0), one });
	ASSERT_EQ(FPU_OK, exec(&f, 0xd8, 0xf1)); // 1/0 masked: ZE set, no ES
	EXPECT_FALSE(fpu_error_pending(&f));
	uint8_t cw[2] = { 0x7b, 0x03 };
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	EXPECT_TRUE(fpu_error_pending(&f)); // now unmasked, hence pending
	EXPECT_EQ(0x8000, f.sw & 0x8000);
	EXPECT_EQ(FPU_MF, fpu_wait(&f));
	// FLDCW is waiting, so masking again takes the no-wait FNSTENV path.
	uint8_t env[28];
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x30, env));
	EXPECT_FALSE(fpu_error_pending(&f));
}

TEST(Fpu, ReservedControlWordBits)
{
	struct fpu f;
	fpu_reset(&f);
	uint8_t cw[2] = { 0xff, 0xff };
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	EXPECT_EQ(0x1f7f, f.cw);
	cw[0] = cw[1] = 0;
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	EXPECT_EQ(0x0040, f.cw);
}

// SDM vol. 1 8.5.2: an unmasked denormal-operand exception leaves TOP alone,
// FLD m32/m64 included (this host pushes anyway; the differential test
// corrects for that).
TEST(Fpu, UnmaskedDenormalLoadDoesNotPush)
{
	struct fpu f = with_stack({ one });
	uint8_t cw[2] = { 0x7d, 0x03 }; // unmask DE
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	uint8_t m[4] = { 1, 0, 0, 0 }; // smallest single denormal
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x00, m));
	EXPECT_EQ(7u, top(&f));
	EXPECT_EQ(0x80, f.ftw);
	EXPECT_EQ(0x8082, f.sw & 0x80ff);
	// Masked, it loads (normalised).
	struct fpu g = with_stack({ one });
	ASSERT_EQ(FPU_OK, exec(&g, 0xd9, 0x00, m));
	EXPECT_EQ(6u, top(&g));
	EXPECT_TRUE(same(st(&g, 0), f80(1ull << 63, 0x3fff - 149)));
	EXPECT_EQ(0x0002, g.sw & 0x80ff);
}

// An unmasked overflow on a store to memory stores nothing and does not pop.
TEST(Fpu, UnmaskedOverflowSuppressesStore)
{
	struct fpu f = with_stack({ f80(1ull << 63, 0x7000) });
	uint8_t cw[2] = { 0x77, 0x03 }; // unmask OE
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	uint8_t m[4] = { 0xaa, 0xbb, 0xcc, 0xdd };
	struct fpu_insn in;
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x18, m, true, true, &in)); // FSTP m32
	EXPECT_FALSE(in.store);
	EXPECT_EQ(7u, top(&f));
	EXPECT_TRUE(f.sw & 0x0008);
	EXPECT_TRUE(fpu_error_pending(&f));
}

TEST(Fpu, StackUnderflowMaskedResponse)
{
	struct fpu f;
	fpu_reset(&f);
	fpu_init(&f);
	uint8_t m[4];
	struct fpu_insn in;
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x18, m, true, true, &in)); // FSTP m32 of an empty ST(0)
	EXPECT_TRUE(in.store);
	EXPECT_EQ(0xffc00000u, get32(m)); // single-precision QNaN indefinite
	EXPECT_EQ(0x0041, f.sw & 0x02ff); // IE, SF, C1 = 0 (underflow)
	EXPECT_EQ(1u, top(&f));

	fpu_init(&f);
	ASSERT_EQ(FPU_OK, exec(&f, 0xd8, 0xc1)); // FADD ST(0), ST(1) on an empty stack
	EXPECT_TRUE(same(st(&f, 0), f80(0xc000000000000000ull, 0xffff)));
	EXPECT_EQ(0x01, f.ftw);
}

TEST(Fpu, StackOverflowMaskedResponse)
{
	struct fpu f = with_stack({ one, one, one, one, one, one, one, one });
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0xe8)); // FLD1 onto a full stack
	EXPECT_EQ(0x0241, f.sw & 0x02ff);        // IE, SF, C1 = 1 (overflow)
	EXPECT_TRUE(same(st(&f, 0), f80(0xc000000000000000ull, 0xffff)));
}

TEST(Fpu, CompareIntoEflags)
{
	struct fpu f = with_stack({ two, one }); // ST(0) = 1, ST(1) = 2
	struct fpu_insn in;
	memset(&in, 0, sizeof(in));
	in.opcode = 0xdb;
	in.modrm = 0xf1; // FCOMI ST(0), ST(1)
	in.eflags = 0x8d5 | 0x200;
	ASSERT_EQ(FPU_SET_EFLAGS, fpu_exec(&f, &in));
	EXPECT_EQ(0x201u | 0x000, in.eflags); // CF (less), OF/SF/AF/ZF/PF cleared, IF kept
	in.modrm = 0xc0 | 0x28 | 0; // FUCOMI ST(0), ST(0): equal
	in.eflags = 0;
	ASSERT_EQ(FPU_SET_EFLAGS, fpu_exec(&f, &in));
	EXPECT_EQ(0x40u, in.eflags);
	in.opcode = 0xdf;
	in.modrm = 0xf1; // FCOMIP
	ASSERT_EQ(FPU_SET_EFLAGS, fpu_exec(&f, &in));
	EXPECT_EQ(7u, top(&f));
}

TEST(Fpu, ConditionalMoveReadsEflags)
{
	EXPECT_TRUE(fpu_reads_eflags(0xda, 0xc1));
	EXPECT_TRUE(fpu_reads_eflags(0xdb, 0xdf));
	EXPECT_FALSE(fpu_reads_eflags(0xda, 0xe9));
	EXPECT_FALSE(fpu_reads_eflags(0xdb, 0xe8));
	EXPECT_FALSE(fpu_reads_eflags(0xda, 0x01));

	struct fpu f = with_stack({ two, one });
	struct fpu_insn in;
	memset(&in, 0, sizeof(in));
	in.opcode = 0xda;
	in.modrm = 0xc1; // FCMOVB ST(0), ST(1)
	in.eflags = 0;
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_TRUE(same(st(&f, 0), one));
	in.eflags = 1; // CF
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_TRUE(same(st(&f, 0), two));
	in.opcode = 0xdb;
	in.modrm = 0xd9; // FCMOVNU: PF clear
	f = with_stack({ two, one });
	in.eflags = 4;
	ASSERT_EQ(FPU_OK, fpu_exec(&f, &in));
	EXPECT_TRUE(same(st(&f, 0), one));
}

TEST(Fpu, PackedBcd)
{
	struct fpu f;
	fpu_reset(&f);
	fpu_init(&f);
	// -123456789012345678
	uint8_t bcd[10] = { 0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80 };
	ASSERT_EQ(FPU_OK, exec(&f, 0xdf, 0x20, bcd)); // FBLD
	uint8_t i64[8];
	ASSERT_EQ(FPU_OK, exec(&f, 0xdf, 0x38, i64)); // FISTP m64
	EXPECT_EQ((uint64_t)-123456789012345678ll, get64(i64));

	// 2.5 rounds to even, -0.5 to -0 (with its sign byte), 1e18 is invalid.
	struct { struct fpu_f80 v; uint8_t out[10]; uint16_t flags; } cases[] = {
		{ f80(0xa000000000000000ull, 0x4000), { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 0x20 },
		{ f80(1ull << 63, 0xbffe), { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80 }, 0x20 },
		{ f80(0xde0b6b3a76400000ull, 0x403a), { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff }, 0x01 },
	};
	for (auto &c : cases) {
		f = with_stack({ c.v });
		uint8_t m[10];
		struct fpu_insn in;
		ASSERT_EQ(FPU_OK, exec(&f, 0xdf, 0x30, m, true, true, &in)); // FBSTP
		EXPECT_TRUE(in.store);
		EXPECT_EQ(0, memcmp(c.out, m, 10));
		EXPECT_EQ(c.flags, f.sw & 0x3f);
		EXPECT_EQ(0, f.ftw);
	}
}

TEST(Fpu, FxsaveLayout)
{
	struct fpu f = env_state();
	uint8_t a[512];
	memset(a, 0xcc, sizeof(a));
	fpu_fxsave(&f, a, false);
	EXPECT_EQ(0x0b72, get16(a + 0));
	EXPECT_EQ(f.sw, get16(a + 2));
	EXPECT_EQ(f.ftw, a[4]);
	EXPECT_EQ(0, a[5]);
	EXPECT_EQ(0x05a5, get16(a + 6));
	EXPECT_EQ(0x12345678u, get32(a + 8));
	EXPECT_EQ(0x001b, get16(a + 12));
	EXPECT_EQ(0, get16(a + 14));
	EXPECT_EQ(0x9abcdef0u, get32(a + 16));
	EXPECT_EQ(0x0023, get16(a + 20));
	EXPECT_EQ(0, get16(a + 22));
	EXPECT_EQ(0xccccccccccccccccull, get64(a + 24)); // MXCSR is the core's
	for (unsigned i = 0; i < 8; i++) {
		struct fpu_f80 v = f.r[(5 + i) & 7];
		EXPECT_EQ(v.sig, get64(a + 32 + 16 * i));
		EXPECT_EQ(v.se, get16(a + 40 + 16 * i));
		for (int k = 10; k < 16; k++)
			EXPECT_EQ(0, a[32 + 16 * i + k]);
	}
	EXPECT_EQ(0xcc, a[160]);

	f.fip = 0x1122334455667788ull;
	f.fdp = 0x99aabbccddeeff00ull;
	fpu_fxsave(&f, a, true);
	EXPECT_EQ(f.fip, get64(a + 8));
	EXPECT_EQ(f.fdp, get64(a + 16));

	struct fpu g;
	fpu_reset(&g);
	fpu_fxrstor(&g, a, true);
	g.fcs = f.fcs; // not in the 64-bit layout
	g.fds = f.fds;
	expect_same_fpu(f, g);
}

TEST(Fpu, CommonStateRoundTrip)
{
	struct fpu f = env_state(), g;
	struct x86_fpu s;
	memset(&s, 0, sizeof(s));
	s.mxcsr = 0x1f80;
	fpu_get_state(&f, &s);
	EXPECT_EQ(0x1f80u, s.mxcsr);
	EXPECT_EQ(f.ftw, s.ftw);
	EXPECT_EQ(one.sig, get64(s.st[0])); // ST(0) first
	EXPECT_EQ(0x8000, get16(s.st[1] + 8));
	fpu_reset(&g);
	fpu_set_state(&g, &s);
	expect_same_fpu(f, g);
}

TEST(Fpu, StatusWordToMemoryAndEnvironmentNoWait)
{
	struct fpu f = with_stack({ one, f80(0, 0) });
	uint8_t cw[2] = { 0x7b, 0x03 };
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x28, cw));
	ASSERT_EQ(FPU_OK, exec(&f, 0xdc, 0xf9)); // pending #Z
	uint8_t m[108];
	struct fpu_insn in;
	ASSERT_EQ(FPU_OK, exec(&f, 0xdd, 0x38, m, true, true, &in)); // FNSTSW m16
	EXPECT_EQ(f.sw, get16(m));
	ASSERT_EQ(FPU_OK, exec(&f, 0xd9, 0x38, m, true, true, &in)); // FNSTCW
	EXPECT_EQ(0x037b, get16(m));
	ASSERT_EQ(FPU_OK, exec(&f, 0xdb, 0xe0)); // FNENI: a no-op since the 387
	ASSERT_EQ(FPU_OK, exec(&f, 0xdd, 0x30, m, true, true, &in)); // FNSAVE
	EXPECT_FALSE(fpu_error_pending(&f));
	EXPECT_EQ(0x8084, get16(m + 4) & 0x80ff);
}

} // namespace

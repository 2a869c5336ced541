// The native side of the CPU differential tests (tests/shim/native.h and
// the generators in tests/cpudiff/): sequences with known results in 64-,
// 32- and 16-bit code, faults reported as the right vector at the right
// instruction, and the whole generated set running on the host without
// touching memory outside the test area, the same way twice.
#include <gtest/gtest.h>

#include <string.h>

#include <memory>

#include "cpudiff.h"

namespace {

struct NativeTest : ::testing::Test {
	std::unique_ptr<uint8_t[]> data{new uint8_t[CPUD_DATA_SIZE]()};
	std::unique_ptr<cpud_result> r{new cpud_result()};
	cpud_regs in = {};
	void SetUp() override
	{
		ASSERT_EQ(0, native_init());
		for (int i = 0; i < 8; i++)
			in.gpr[i] = 0x11111111u * (unsigned)(i + 1);
	}
	void run(cpud_mode m, std::vector<uint8_t> code)
	{
		ASSERT_EQ(0, native_run(m, code.data(), code.size(), &in,
					data.get(), r.get()));
	}
};

TEST_F(NativeTest, Add32AndPush)
{
	in.gpr[4] = CPUD_DATA_BASE + 0x8000;
	in.eflags = CPUD_CF;
	run(CPUD_MODE32, {0x01, 0xc8, 0x50, 0x43}); // add eax,ecx; push eax; inc ebx
	EXPECT_EQ(CPUD_NO_EXCEPTION, r->vector);
	EXPECT_EQ(0x33333333u, r->regs.gpr[0]);
	EXPECT_EQ(0x44444445u, r->regs.gpr[3]);
	EXPECT_EQ(CPUD_DATA_BASE + 0x7ffcu, r->regs.gpr[4]);
	uint32_t pushed;
	memcpy(&pushed, r->data + 0x7ffc, 4);
	EXPECT_EQ(0x33333333u, pushed);
	EXPECT_EQ(CPUD_CODE_BASE + 4u, r->regs.eip);
	// INC leaves CF as the ADD set it (no carry); PF of 0x45 is odd.
	EXPECT_EQ(0u, r->regs.eflags & (CPUD_CF | CPUD_PF | CPUD_ZF));
}

TEST_F(NativeTest, SixteenBitDefaults)
{
	in.gpr[4] = 0x8000;
	run(CPUD_MODE16, {0x01, 0xc8, 0x50}); // add ax,cx; push ax
	EXPECT_EQ(CPUD_NO_EXCEPTION, r->vector);
	EXPECT_EQ(0x11113333u, r->regs.gpr[0]); // upper half kept
	EXPECT_EQ(0x7ffeu, r->regs.gpr[4]);
	EXPECT_EQ(0x33, r->data[0x7ffe]);
	EXPECT_EQ(3u, r->regs.eip);
	// 16-bit addressing wraps: [bx+0xffff] with bx=2 is offset 1.
	in.gpr[3] = 2;
	data[1] = 0x5a;
	data[2] = 0xa5;
	run(CPUD_MODE16, {0x8b, 0x87, 0xff, 0xff});
	EXPECT_EQ(CPUD_NO_EXCEPTION, r->vector);
	EXPECT_EQ(0xa55au, r->regs.gpr[0] & 0xffff);
}

TEST_F(NativeTest, SixteenBitLimitFaults)
{
	in.gpr[3] = 0x10000;
	in.gpr[5] = 0x10000;
	run(CPUD_MODE16, {0x67, 0x8b, 0x03}); // mov ax,[ebx]: past the limit
	EXPECT_EQ(13, r->vector);
	EXPECT_EQ(0u, r->regs.eip);
	run(CPUD_MODE16, {0x90, 0x67, 0x8b, 0x45, 0x00}); // mov ax,[ebp+0]: SS
	EXPECT_EQ(12, r->vector);
	EXPECT_EQ(1u, r->regs.eip);
}

TEST_F(NativeTest, FaultsAndTraps)
{
	in.gpr[4] = CPUD_DATA_BASE + 0x8000;
	run(CPUD_MODE32, {0x31, 0xc9, 0xf7, 0xf1}); // xor ecx,ecx; div ecx
	EXPECT_EQ(0, r->vector);
	EXPECT_EQ(CPUD_CODE_BASE + 2u, r->regs.eip);
	EXPECT_EQ(0u, r->regs.gpr[1]);
	run(CPUD_MODE32, {0x90, 0x0f, 0x0b}); // ud2
	EXPECT_EQ(6, r->vector);
	EXPECT_EQ(CPUD_CODE_BASE + 1u, r->regs.eip);
	run(CPUD_MODE32, {0x90, 0xcc, 0x90}); // int3: a trap, EIP after it
	EXPECT_EQ(3, r->vector);
	EXPECT_EQ(CPUD_CODE_BASE + 2u, r->regs.eip);
	run(CPUD_MODE32, {0xb0, 0x7f, 0x04, 0x01, 0xce}); // OF set; into
	EXPECT_EQ(4, r->vector);
	run(CPUD_MODE32, {0xcd, 0x41}); // int 0x41: DPL 0 gate
	EXPECT_EQ(13, r->vector);
	EXPECT_EQ(0x41u * 8 + 2, r->error_code);
	run(CPUD_MODE32, {0xfa}); // cli at CPL 3, IOPL 0
	EXPECT_EQ(13, r->vector);
	in.eflags = CPUD_AC; // alignment check: Linux sets CR0.AM
	in.gpr[1] = CPUD_DATA_BASE;
	run(CPUD_MODE32, {0x8b, 0x41, 0x01});
	EXPECT_EQ(17, r->vector);
	in.eflags = 0;
	in.gpr[1] = 0; // [0] is unmapped: a page fault
	run(CPUD_MODE32, {0x8b, 0x01});
	EXPECT_EQ(14, r->vector);
}

TEST_F(NativeTest, SelectorsAsTheEmulatorHarnessUsesThem)
{
	in.gpr[4] = CPUD_DATA_BASE + 0x8000;
	run(CPUD_MODE32, {0x0e, 0x58, 0x8c, 0xd9}); // push cs; pop eax; mov ecx,ds
	EXPECT_EQ((uint64_t)CPUD_SEL_CODE32, r->regs.gpr[0]);
	EXPECT_EQ((uint64_t)CPUD_SEL_DATA32, r->regs.gpr[1] & 0xffff);
	in.gpr[4] = 0x8000;
	run(CPUD_MODE16, {0x0e, 0x58, 0x8c, 0xd9});
	EXPECT_EQ((uint64_t)CPUD_SEL_CODE16, r->regs.gpr[0] & 0xffff);
	EXPECT_EQ((uint64_t)CPUD_SEL_DATA16, r->regs.gpr[1] & 0xffff);
}

TEST_F(NativeTest, SixtyFourBit)
{
	in.gpr[0] = 0x1122334455667788ull;
	in.gpr[4] = CPUD_DATA_BASE + 0x8000;
	run(CPUD_MODE64, {0x48, 0x01, 0xc8, 0x50}); // add rax,rcx; push rax
	EXPECT_EQ(CPUD_NO_EXCEPTION, r->vector);
	EXPECT_EQ(0x11223344778899aaull, r->regs.gpr[0]);
	EXPECT_EQ(CPUD_DATA_BASE + 0x7ff8u, r->regs.gpr[4]);
}

// Every generated case runs natively, never faults outside the test area
// (#PF would mean a generator put an operand outside it), and gives the
// same result twice: nothing leaks from one run into the next.
TEST(NativeGenerated, SystematicAndStreamsRunCleanly)
{
	ASSERT_EQ(0, native_init());
	std::vector<std::string> forms;
	auto cases = cd_systematic(3, 4, &forms);
	auto streams = cd_random_streams(5, 500, 24);
	cases.insert(cases.end(), streams.begin(), streams.end());
	EXPECT_GT(forms.size(), 900u);
	std::unique_ptr<cpud_result> a(new cpud_result()), b(new cpud_result());
	unsigned faults = 0, ends = 0;
	for (const cd_case &c : cases) {
		ASSERT_EQ(0, cd_native(c, a.get())) << c.name;
		ASSERT_NE(14, a->vector) << cd_describe_case(c);
		ASSERT_EQ(0, cd_native(c, b.get()));
		ASSERT_EQ(a->vector, b->vector) << c.name;
		ASSERT_EQ(0, memcmp(&a->regs, &b->regs, sizeof(a->regs))) << c.name;
		ASSERT_EQ(0, memcmp(a->data, b->data, CPUD_DATA_SIZE)) << c.name;
		(a->vector == CPUD_NO_EXCEPTION ? ends : faults)++;
	}
	// Most cases complete; the fault forms (#DE, #UD, #GP, #BR...)
	// are there too.
	EXPECT_GT(ends, cases.size() * 9 / 10);
	EXPECT_GT(faults, 100u);
}

// The path markers of the branch cases: a taken JMP skips them.
TEST(NativeGenerated, BranchCasesTakeTheirPaths)
{
	ASSERT_EQ(0, native_init());
	auto cases = cd_systematic(11, 6, nullptr);
	std::unique_ptr<cpud_result> a(new cpud_result());
	unsigned checked = 0;
	for (const cd_case &c : cases) {
		if (c.name.rfind("JMP rel8 ", 0) != 0)
			continue;
		ASSERT_EQ(0, cd_native(c, a.get()));
		ASSERT_EQ(CPUD_NO_EXCEPTION, a->vector) << c.name;
		// EB rel8, skipped INCs, then the trailing INCs that count.
		size_t at = c.code[0] == 0x66 ? 1 : 0;
		unsigned skip = c.code[at + 1];
		unsigned after = (unsigned)(c.code.size() - at - 2 - skip);
		// The markers are INC AX in 16-bit code (the 66h belongs to the JMP).
		uint32_t mask = c.mode == CPUD_MODE16 ? 0xffff : 0xffffffff;
		EXPECT_EQ((c.in.gpr[0] + after) & mask, a->regs.gpr[0] & mask) << c.name;
		checked++;
	}
	EXPECT_GT(checked, 10u);
}

} // namespace

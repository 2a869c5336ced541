// Differential testing of the software CPU against the host CPU: test
// cases (instruction bytes, initial registers and memory, and what of the
// result is architecturally undefined), the generators that make them (a
// systematic one per opcode and operand form, and random streams from a
// seed), and the comparison of a native run with an emulated one.
//
// Undefined flags and results follow the Intel SDM vol. 2 instruction pages
// (and Sandpile.org's notes where the SDM is silent); the host here is an
// AMD CPU, whose undefined flags differ from a P6's, so everything the SDM
// calls undefined is masked rather than compared.
#ifndef PCVM_TEST_CPUDIFF_H
#define PCVM_TEST_CPUDIFF_H

#include <stdint.h>

#include <string>
#include <utility>
#include <vector>

#include "native.h"
#include "emu_harness.h"

// A data-area offset where generated memory operands live, and the region
// kept for the stack (both in the data area, CPUD_DATA_BASE based).
#define CD_OPND_LO 0x0100u
#define CD_OPND_HI 0x7f00u
#define CD_STACK_LO 0x9000u
#define CD_STACK_HI 0xf000u

struct cd_case {
	enum cpud_mode mode = CPUD_MODE32;
	std::string name;               // form, e.g. "ADD r/m32, r32"
	std::vector<uint8_t> code;
	struct cpud_regs in = {};
	// Patches on top of the common background pattern of the data area.
	std::vector<std::pair<uint32_t, std::vector<uint8_t>>> mem;
	uint32_t undef_flags = 0;       // EFLAGS bits not compared
	uint32_t undef_bits[8] = {};    // GPR bits not compared
	// For sequences: the undefined flags at each instruction start (code
	// offset, flags), used instead of undef_flags when both sides fault
	// at that instruction.
	std::vector<std::pair<uint32_t, uint32_t>> undef_at;
	bool needs_cpl3 = false;        // meaningless with EMUH_CPL0
};

// The data area a case starts with.
void cd_fill_data(const cd_case &c, uint8_t *data);

// How a comparison came out.
struct cd_outcome {
	bool ok = true;
	std::string report;             // readable mismatch description
};

// Runs c natively and in the emulator and compares. An emulator that fails
// to finish counts as a mismatch.
cd_outcome cd_compare(struct emuh *h, enum emuh_priv priv, const cd_case &c);

// Runs c natively only; returns the native result.
int cd_native(const cd_case &c, struct cpud_result *out);

// Human-readable rendering of a case and of a result.
std::string cd_describe_case(const cd_case &c);
std::string cd_describe_result(const struct cpud_result &r, const cd_case &c);

// Deterministic PRNG (xorshift64*), so a seed reproduces a run.
struct cd_rng {
	uint64_t s;
	explicit cd_rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
	uint64_t next()
	{
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		return s * 0x2545F4914F6CDD1Dull;
	}
	uint32_t u32() { return (uint32_t)(next() >> 32); }
	uint32_t below(uint32_t n) { return n ? (uint32_t)((next() >> 33) % n) : 0; }
	bool chance(unsigned percent) { return below(100) < percent; }
};

// The systematic set: every form in the table, in each code size and
// operand size, with `per_form` value sets each (interesting values first,
// then random ones from the seed). Fills `forms` with the distinct form
// names covered.
std::vector<cd_case> cd_systematic(uint64_t seed, unsigned per_form,
				   std::vector<std::string> *forms);

// Random instruction streams: `count` cases of up to max_insns
// instructions drawn from the table, with undefined flags tracked so no
// instruction reads one.
std::vector<cd_case> cd_random_streams(uint64_t seed, unsigned count,
				       unsigned max_insns);

// Number of distinct forms (opcode + operand form + size) in the table.
unsigned cd_form_count(void);

#endif

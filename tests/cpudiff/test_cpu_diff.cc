// Differential tests of the software CPU against the host CPU: the
// systematic set (every form of the table in 16- and 32-bit code) and
// random streams from a seed, each run natively and in the emulator, with
// registers, defined flags, exceptions and memory compared.
//
// Environment: CPUDIFF_PRIV=cpl0 runs the emulator side at CPL 0 (see
// emu_harness.h); CPUDIFF_SEED / CPUDIFF_COUNT drive the long fuzz run
// (make fuzz-cpu); CPUDIFF_VERBOSE=1 prints every mismatch.
#include <gtest/gtest.h>

#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <string>

#include "cpudiff.h"

namespace {

enum emuh_priv env_priv()
{
	const char *p = getenv("CPUDIFF_PRIV");
	return p && !strcmp(p, "cpl0") ? EMUH_CPL0 : EMUH_CPL3;
}

uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, nullptr, 0) : def;
}

// Strips the per-case suffixes so mismatches group by form.
std::string form_of(const std::string &name)
{
	size_t p = name.find(']');
	return p == std::string::npos ? name : name.substr(0, p + 1);
}

struct tally {
	unsigned run = 0, skipped = 0, bad = 0;
	std::map<std::string, unsigned> bad_forms;
	std::string shown;
	unsigned nshown = 0;
};

void run_cases(const std::vector<cd_case> &cases, tally &t, bool group_forms)
{
	ASSERT_EQ(0, native_init());
	enum emuh_priv priv = env_priv();
	struct emuh *h = nullptr;
	ASSERT_EQ(0, emuh_create(&h, priv));
	bool verbose = env_u64("CPUDIFF_VERBOSE", 0) != 0;
	std::map<std::string, unsigned> shown_per_form;
	for (const cd_case &c : cases) {
		if (c.needs_cpl3 && priv != EMUH_CPL3) {
			t.skipped++;
			continue;
		}
		t.run++;
		cd_outcome o = cd_compare(h, priv, c);
		if (o.ok)
			continue;
		t.bad++;
		std::string key = group_forms ? form_of(c.name) : c.name;
		t.bad_forms[key]++;
		if (verbose || (shown_per_form[key]++ < 1 && t.nshown < 60)) {
			t.shown += o.report + "\n";
			t.nshown++;
		}
	}
	emuh_destroy(h);
}

void report(const char *what, const tally &t)
{
	printf("%s: %u cases compared, %u skipped, %u differ", what, t.run,
	       t.skipped, t.bad);
	if (!t.bad_forms.empty())
		printf(" in %zu forms", t.bad_forms.size());
	printf("\n");
	if (t.bad) {
		printf("%s", t.shown.c_str());
		printf("forms that differ (cases):\n");
		for (auto &f : t.bad_forms)
			printf("  %5u  %s\n", f.second, f.first.c_str());
	}
}

TEST(CpuDiff, Systematic)
{
	std::vector<std::string> forms;
	auto cases = cd_systematic(env_u64("CPUDIFF_SEED", 1),
				   (unsigned)env_u64("CPUDIFF_PER_FORM", 24), &forms);
	printf("systematic set: %zu forms (table rows x code size x operand size)\n",
	       forms.size());
	tally t;
	run_cases(cases, t, true);
	report("systematic", t);
	EXPECT_EQ(0u, t.bad);
}

TEST(CpuDiff, RandomStreams)
{
	auto cases = cd_random_streams(env_u64("CPUDIFF_SEED", 1) + 1000, 3000, 24);
	tally t;
	run_cases(cases, t, false);
	report("random streams", t);
	EXPECT_EQ(0u, t.bad);
}

// make fuzz-cpu SEED=n COUNT=n: random streams and systematic cases with
// fresh values, in batches so memory stays small.
TEST(CpuDiff, DISABLED_Fuzz)
{
	uint64_t seed = env_u64("CPUDIFF_SEED", 1);
	uint64_t count = env_u64("CPUDIFF_COUNT", 100000);
	tally t;
	uint64_t done = 0;
	for (uint64_t batch = 0; done < count; batch++) {
		unsigned n = (unsigned)std::min<uint64_t>(5000, count - done);
		auto cases = cd_random_streams(seed * 1000003u + batch, n, 32);
		if (batch % 4 == 3) {
			auto sys = cd_systematic(seed * 7919u + batch, 2, nullptr);
			cases.insert(cases.end(), sys.begin(), sys.end());
		}
		run_cases(cases, t, false);
		done += n;
	}
	report("fuzz", t);
	printf("seed %llu, %llu streams\n", (unsigned long long)seed,
	       (unsigned long long)count);
	EXPECT_EQ(0u, t.bad);
}

} // namespace

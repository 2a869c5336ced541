// The execution backends as a user meets them: --accel kvm/auto/help,
// --accel-info, the one-line errors of --accel kvm when the KVM device is
// missing, not KVM, or not readable (named through PCVM_KVM_DEVICE), and the
// accel_* guests (tests/guests) giving the output and exit status they must
// under KVM and under the software CPU alike. Tests that need a working KVM skip, saying why,
// where it has none.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "run.h"

namespace {

// What `pcvm --accel-info` says about KVM: "" when it works, else why not.
std::string kvm_problem()
{
	static std::string cached = "?";
	if (cached != "?")
		return cached;
	RunResult r = run_pcvm({"--accel-info"}, 30);
	size_t at = r.out.find("KVM device:");
	if (r.status != 0 || at == std::string::npos) {
		cached = "pcvm --accel-info failed";
		return cached;
	}
	std::string line = r.out.substr(at, r.out.find('\n', at) - at);
	cached = line.find(" works (") != std::string::npos ? "" : line;
	return cached;
}

// --accel-info says the KVM here is a software one (kvm_pvm).
bool software_kvm()
{
	RunResult r = run_pcvm({"--accel-info"}, 30);
	return r.out.find("Virtualization: software KVM") != std::string::npos;
}

#define REQUIRE_KVM()                                                          \
	do {                                                                   \
		std::string why_ = kvm_problem();                              \
		if (!why_.empty())                                             \
			GTEST_SKIP() << "KVM cannot run guests here: " << why_; \
	} while (0)

RunResult run_with_device(const std::string &device, const std::vector<std::string> &args)
{
	std::vector<std::string> argv{"env", "PCVM_KVM_DEVICE=" + device, pcvm_path()};
	argv.insert(argv.end(), args.begin(), args.end());
	return run_cmd(argv, 30);
}

void expect_one_error_line(const RunResult &r, const std::string &what)
{
	EXPECT_EQ(1, r.status) << r.err;
	EXPECT_EQ(1, std::count(r.err.begin(), r.err.end(), '\n')) << r.err;
	EXPECT_EQ(0u, r.err.find("pcvm: error: --accel kvm: ")) << r.err;
	EXPECT_NE(std::string::npos, r.err.find(what)) << r.err;
	EXPECT_NE(std::string::npos, r.err.find("--accel emu")) << r.err;
	EXPECT_EQ("", r.out);
}

TEST(Accel, HelpDescribesTheHostAndExits0)
{
	RunResult r = run_pcvm({"--accel", "help"});
	EXPECT_EQ(0, r.status);
	EXPECT_EQ("", r.err);
	for (const char *key : {"CPU:", "CPU flags:", "KVM modules:", "KVM device:",
				"Virtualization:", "Backends:", "--accel auto:"})
		EXPECT_NE(std::string::npos, r.out.find(key)) << key << "\n" << r.out;
	RunResult info = run_pcvm({"--accel-info"});
	EXPECT_EQ(0, info.status);
	EXPECT_EQ(r.out, info.out);
}

TEST(Accel, HelpNamesTheDeviceItProbed)
{
	RunResult r = run_with_device("/nonexistent/kvm", {"--accel", "help"});
	EXPECT_EQ(0, r.status);
	EXPECT_NE(std::string::npos,
		  r.out.find("KVM device:     /nonexistent/kvm does not exist")) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("kvm: not usable")) << r.out;
	EXPECT_NE(std::string::npos, r.out.find("--accel auto:   emu: no usable KVM")) << r.out;
}

TEST(Accel, KvmWithoutTheDeviceFailsWithOneLine)
{
	RunResult r = run_with_device("/nonexistent/kvm",
				      {"--accel", "kvm", "--bios", guest_path("accel_real.bin")});
	expect_one_error_line(r, "/nonexistent/kvm does not exist");
}

TEST(Accel, KvmOnSomethingElseFailsWithOneLine)
{
	RunResult r = run_with_device("/dev/null",
				      {"--accel", "kvm", "--bios", guest_path("accel_real.bin")});
	expect_one_error_line(r, "/dev/null is not a KVM device");
}

TEST(Accel, KvmWithoutPermissionSuggestsTheKvmGroup)
{
	std::string dir = temp_dir();
	chmod(dir.c_str(), 0755);
	std::string dev = dir + "/kvm";
	write_file(dev, "");
	chmod(dev.c_str(), 0);
	std::vector<std::string> argv;
	if (geteuid() == 0) {
		// root opens anything: drop to nobody for the run
		if (access("/usr/bin/setpriv", X_OK) != 0)
			GTEST_SKIP() << "running as root without setpriv to drop privileges";
		argv = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
	}
	for (const std::string &a : {std::string("env"), "PCVM_KVM_DEVICE=" + dev, pcvm_path(),
				     std::string("--accel"), std::string("kvm"),
				     std::string("--bios"), guest_path("accel_real.bin")})
		argv.push_back(a);
	RunResult r = run_cmd(argv, 30);
	if (r.err.find("Permission denied") != std::string::npos &&
	    r.err.find("--bios") != std::string::npos)
		GTEST_SKIP() << "the unprivileged user cannot read the test guest: " << r.err;
	expect_one_error_line(r, "cannot open " + dev + ": permission denied");
	EXPECT_NE(std::string::npos, r.err.find("kvm group")) << r.err;
}

TEST(Accel, AutoSaysWhichAndWhyWithVerbose)
{
	RunResult info = run_pcvm({"--accel-info"});
	size_t at = info.out.find("--accel auto:   ");
	ASSERT_NE(std::string::npos, at) << info.out;
	std::string why = info.out.substr(at + 16, info.out.find('\n', at) - at - 16);
	// the same backend; the reason may be worded from a later step (the
	// info creates a trial VM, auto leaves that to the KVM backend)
	std::string backend = why.substr(0, why.find(": ") + 2);
	ASSERT_TRUE(backend == "kvm: " || backend == "emu: ") << why;
	RunResult r = run_pcvm({"-v", "--bios", guest_path("accel_real.bin"),
				"--debug-exit", "--timeout", "20"}, 30);
	EXPECT_NE(std::string::npos, r.err.find("pcvm: accel auto: " + backend)) << r.err;
	EXPECT_NE(std::string::npos, r.err.find("pcvm: backend: " + backend.substr(0, 3))) << r.err;
	EXPECT_EQ(42, r.status) << r.err;

	r = run_with_device("/nonexistent/kvm", {"-v", "--bios", guest_path("accel_real.bin"),
						 "--debug-exit", "--timeout", "20"});
	EXPECT_NE(std::string::npos,
		  r.err.find("pcvm: accel auto: emu: no usable KVM (/nonexistent/kvm does not exist"))
		<< r.err;
	EXPECT_NE(std::string::npos, r.err.find("backend: emu")) << r.err;
	EXPECT_EQ(42, r.status) << r.err;
}

// The guests' LCG: x = x * 1103515245 + 12345; acc = rol(acc + x, 1).
std::string lcg32_hex(int rounds)
{
	uint32_t x = 1, acc = 0;
	for (int i = 0; i < rounds; i++) {
		x = x * 1103515245u + 12345u;
		acc += x;
		acc = acc << 1 | acc >> 31;
	}
	char buf[16];
	snprintf(buf, sizeof(buf), "%08x", acc);
	return buf;
}

std::string lcg64_hex(int rounds)
{
	uint64_t x = 1, acc = 0;
	for (int i = 0; i < rounds; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		acc += x;
		acc = acc << 1 | acc >> 63;
	}
	char buf[24];
	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)acc);
	return buf;
}

RunResult run_guest(const std::string &accel, const std::string &guest)
{
	return run_pcvm({"--accel", accel, "--bios", guest_path(guest), "--debugcon", "stdio",
			 "--debug-exit", "--display", "none", "--serial", "none",
			 "--timeout", "60"}, 90);
}

std::string expected_real()
{
	return "real: hello\n"
	       "real: lcg " + lcg32_hex(1000) + "\n"
	       "real: in e9 e9e9e9e9\n"
	       "real: ram 23456789\n"
	       "real: rom aa beef\n"
	       "real: int 00001234\n"
	       "real: bye\n";
}

std::string expected_pm32()
{
	return "pm32: hello\n"
	       "pm32: lcg " + lcg32_hex(1000) + "\n"
	       "pm32: ram cafef00d\n"
	       "pm32: alias mismatches 00000000\n"
	       "pm32: rom 01 aa\n"
	       "pm32: hole ffffffff ffffffff\n"
	       "pm32: bye\n";
}

std::string expected_long()
{
	std::string image = read_file(guest_path("accel_long.bin"));
	EXPECT_EQ(65536u, image.size());
	uint64_t reset = 0;
	if (image.size() == 65536)
		for (int i = 7; i >= 0; i--)
			reset = reset << 8 | (uint8_t)image[0xfff0 + i];
	char buf[24];
	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)reset);
	return "long: hello\n"
	       "long: lcg " + lcg64_hex(1000) + "\n"
	       "long: reset vector " + buf + "\n"
	       "long: bye\n";
}

TEST(KvmGuests, RealMode)
{
	REQUIRE_KVM();
	RunResult r = run_guest("kvm", "accel_real.bin");
	EXPECT_EQ(expected_real(), r.out);
	EXPECT_EQ(42, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(KvmGuests, ProtectedMode32)
{
	REQUIRE_KVM();
	RunResult r = run_guest("kvm", "accel_pm32.bin");
	EXPECT_EQ(expected_pm32(), r.out);
	EXPECT_EQ(51, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(KvmGuests, LongMode)
{
	REQUIRE_KVM();
	RunResult r = run_guest("kvm", "accel_long.bin");
	EXPECT_EQ(expected_long(), r.out);
	EXPECT_EQ(60, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

const char expected_irq[] = "irq: ticks with IF clear 0000\n"
			    "irq: ticks counted 000a\n";

// The machine's PIC and PIT interrupting a guest that sleeps in HLT.
TEST(KvmGuests, TimerInterruptsWakeAHaltedGuest)
{
	REQUIRE_KVM();
	RunResult r = run_guest("kvm", "accel_irq.bin");
	EXPECT_EQ(expected_irq, r.out);
	EXPECT_EQ(43, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(EmuGuests, TimerInterruptsWakeAHaltedGuest)
{
	RunResult r = run_guest("emu", "accel_irq.bin");
	EXPECT_EQ(expected_irq, r.out);
	EXPECT_EQ(43, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

const char expected_pg32[] = "pg32: paging on, 0x400000 holds 600df00d\n";

TEST(KvmGuests, Paging32OrWhyNot)
{
	REQUIRE_KVM();
	RunResult r = run_guest("kvm", "accel_pg32.bin");
	if (software_kvm()) {
		EXPECT_EQ("", r.out);
		EXPECT_EQ(1, r.status);
		EXPECT_EQ("pcvm: error: kvm: the guest turns on 32-bit paging at CS:RIP "
			  "0008:f0084, which this host's software KVM (kvm_pvm) refuses; "
			  "use --accel emu\n", r.err);
		return;
	}
	EXPECT_EQ(expected_pg32, r.out);
	EXPECT_EQ(52, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

// The software CPU gives the same; the kvm half needs KVM.
TEST(EmuGuests, RealMode)
{
	RunResult r = run_guest("emu", "accel_real.bin");
	EXPECT_EQ(expected_real(), r.out);
	EXPECT_EQ(42, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(EmuGuests, ProtectedMode32)
{
	RunResult r = run_guest("emu", "accel_pm32.bin");
	EXPECT_EQ(expected_pm32(), r.out);
	EXPECT_EQ(51, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(EmuGuests, Paging32)
{
	RunResult r = run_guest("emu", "accel_pg32.bin");
	EXPECT_EQ(expected_pg32, r.out);
	EXPECT_EQ(52, r.status) << r.err;
	EXPECT_EQ("", r.err);
}

TEST(BothBackends, GiveTheSameOutputAndStatus)
{
	REQUIRE_KVM();
	std::vector<const char *> guests{"accel_real.bin", "accel_pm32.bin", "accel_irq.bin"};
	if (!software_kvm())
		guests.push_back("accel_pg32.bin");
	for (const char *guest : guests) {
		RunResult k = run_guest("kvm", guest), e = run_guest("emu", guest);
		EXPECT_EQ(k.out, e.out) << guest;
		EXPECT_EQ(k.status, e.status) << guest;
		EXPECT_NE(0u, k.out.size()) << guest;
	}
}

// SeaBIOS (the default firmware) boots a disk whose boot sector reads its
// second sector through INT 13h and reports on COM1: the whole PC, from
// reset through PCI, IDE and BIOS interrupts, under both backends. Under
// kvm_pvm this takes seconds.
TEST(BothBackends, SeaBiosBootsTheSameDisk)
{
	REQUIRE_KVM();
	std::string dir = temp_dir();
	std::string disk = dir + "/boot.img";
	std::string image = read_file(guest_path("accel_boot.bin"));
	ASSERT_EQ(1024u, image.size());
	image.resize(1 << 20, '\0');
	write_file(disk, image);
	const char expected[] = "boot: from drive 80\n"
				"boot: sector 2 read through INT 13h\n";
	for (const char *accel : {"kvm", "emu"}) {
		RunResult r = run_pcvm({"--accel", accel, "--hda", disk, "--serial", "stdio",
					"--display", "none", "--debug-exit", "--timeout", "120"},
				       150);
		EXPECT_EQ(expected, r.out) << accel;
		EXPECT_EQ(33, r.status) << accel << ": " << r.err;
		EXPECT_EQ("", r.err) << accel;
	}
}

TEST(KvmGuests, VerboseNamesTheBackend)
{
	REQUIRE_KVM();
	RunResult r = run_pcvm({"-v", "--accel", "kvm", "--bios", guest_path("accel_real.bin"),
				"--debug-exit", "--timeout", "60"}, 90);
	EXPECT_EQ(42, r.status) << r.err;
	EXPECT_NE(std::string::npos, r.err.find("pcvm: accel: kvm, as --accel kvm asks")) << r.err;
	EXPECT_NE(std::string::npos, r.err.find("pcvm: backend: kvm,")) << r.err;
}

} // namespace

// The direct Linux loader on synthetic bzImages: what lands in guest RAM,
// the boot_params it builds, the CPU state it starts, and the errors.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <vector>
#include "pci_fixture.h"

namespace {

struct Image {
	uint16_t version = 0x020f;
	uint8_t setup_sects = 4;
	uint8_t loadflags = 0x01;
	uint32_t init_size = 8u << 20;
	uint64_t pref = 16u << 20;
	uint32_t cmdline_size = 2047;
	uint32_t initrd_max = 0x7fffffff;
	size_t pm_size = 64 * 1024;
	bool magic = true;

	std::vector<uint8_t> build() const
	{
		size_t setup = (setup_sects + 1) * 512u;
		std::vector<uint8_t> f(setup + pm_size, 0);
		auto put16 = [&](size_t o, uint16_t v) { memcpy(&f[o], &v, 2); };
		auto put32 = [&](size_t o, uint32_t v) { memcpy(&f[o], &v, 4); };
		f[0x1f1] = setup_sects;
		put16(0x1fe, 0xaa55);
		f[0x200] = 0xeb;
		f[0x201] = 0x6a; // header ends at 0x26c
		if (magic)
			memcpy(&f[0x202], "HdrS", 4);
		put16(0x206, version);
		f[0x211] = loadflags;
		put32(0x214, 0x100000);
		put32(0x22c, initrd_max);
		put32(0x230, 2u << 20);
		f[0x234] = 1;
		put32(0x238, cmdline_size);
		memcpy(&f[0x258], &pref, 8);
		put32(0x260, init_size);
		for (size_t i = 0; i < pm_size; i++)
			f[setup + i] = (uint8_t)(i * 31 + 7);
		return f;
	}
};

struct LinuxbootTest : ::testing::Test {
	PciFixture fx{64ull << 20};
	std::string dir;
	void SetUp() override
	{
		char tmpl[] = "/tmp/pcvm-lb-XXXXXX";
		ASSERT_NE(nullptr, mkdtemp(tmpl));
		dir = tmpl;
	}
	void TearDown() override
	{
		for (const char *n : {"/bzImage", "/initrd"})
			unlink((dir + n).c_str());
		rmdir(dir.c_str());
	}
	std::string write(const char *name, const std::vector<uint8_t> &data)
	{
		std::string p = dir + name;
		int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		EXPECT_GE(fd, 0);
		EXPECT_EQ((ssize_t)data.size(), ::write(fd, data.data(), data.size()));
		close(fd);
		return p;
	}
	uint32_t rd32(uint64_t a) { uint32_t v; memcpy(&v, fx.ram(a), 4); return v; }
	uint16_t rd16(uint64_t a) { uint16_t v; memcpy(&v, fx.ram(a), 2); return v; }
	// Runs the loader, returning its result and what it printed.
	int load(const std::string &k, const char *initrd, const char *append, std::string *err)
	{
		testing::internal::CaptureStderr();
		int r = linuxboot_load(fx.vm, k.c_str(), initrd, append);
		*err = testing::internal::GetCapturedStderr();
		return r;
	}
};

TEST_F(LinuxbootTest, LoadsKernelInitrdAndCommandLine)
{
	Image img;
	auto k = img.build();
	std::string kp = write("/bzImage", k);
	std::vector<uint8_t> rd(300000, 0x42);
	std::string ip = write("/initrd", rd);
	std::string err;
	ASSERT_EQ(0, load(kp, ip.c_str(), "console=ttyS0 quiet", &err)) << err;

	// the protected-mode kernel at 1 MiB
	EXPECT_EQ(0, memcmp(fx.ram(0x100000), k.data() + 5 * 512, img.pm_size));
	// boot_params: the header copied, the loader's fields filled
	uint64_t bp = LINUXBOOT_PARAMS;
	EXPECT_EQ(0, memcmp(fx.ram(bp + 0x202), "HdrS", 4));
	EXPECT_EQ(0x020f, rd16(bp + 0x206));
	EXPECT_EQ(0xff, fx.ram(bp)[0x210]) << "type_of_loader";
	EXPECT_EQ(0x81, fx.ram(bp)[0x211]) << "LOADED_HIGH | CAN_USE_HEAP";
	EXPECT_EQ(0xde00, rd16(bp + 0x224)) << "heap_end_ptr";
	EXPECT_EQ((uint32_t)LINUXBOOT_CMDLINE, rd32(bp + 0x228));
	EXPECT_STREQ("console=ttyS0 quiet", (const char *)fx.ram(LINUXBOOT_CMDLINE));
	EXPECT_EQ(0, fx.ram(bp)[0x1ef]) << "sentinel";
	// the initrd at the top of RAM, page-aligned, above the kernel's area
	uint32_t ri = rd32(bp + 0x218), rs = rd32(bp + 0x21c);
	EXPECT_EQ(rd.size(), rs);
	EXPECT_EQ(0u, ri & 0xfff);
	EXPECT_LE(ri + rs, 64u << 20);
	EXPECT_GT(ri + rs, (64u << 20) - 4096);
	EXPECT_GE(ri, (16u + 8u) << 20) << "above pref_address + init_size";
	EXPECT_EQ(0x42, fx.ram(ri)[0]);
	EXPECT_EQ(0x42, fx.ram(ri)[rs - 1]);
	// e820: low RAM, EBDA, firmware shadow, RAM from 1 MiB, the flash
	ASSERT_EQ(5, fx.ram(bp)[0x1e8]);
	auto e820 = [&](int i, int f) {
		uint64_t v = 0;
		memcpy(&v, fx.ram(bp + 0x2d0 + 20 * i + 8 * f), f == 2 ? 4 : 8);
		return v;
	};
	EXPECT_EQ(0u, e820(0, 0));
	EXPECT_EQ(0x9fc00u, e820(0, 1));
	EXPECT_EQ(1u, e820(0, 2));
	EXPECT_EQ(0x100000u, e820(3, 0));
	EXPECT_EQ((64u << 20) - 0x100000, e820(3, 1));
	EXPECT_EQ(1u, e820(3, 2));
	EXPECT_EQ((1ull << 32) - 128 * 1024, e820(4, 0));
	EXPECT_EQ(2u, e820(4, 2));
	// 80x25 VGA text
	EXPECT_EQ(3, fx.ram(bp)[0x06]);
	EXPECT_EQ(80, fx.ram(bp)[0x07]);
	EXPECT_EQ(25, fx.ram(bp)[0x0e]);
	EXPECT_EQ(1, fx.ram(bp)[0x0f]);
	EXPECT_EQ(16, rd16(bp + 0x10));

	// the CPU at the 32-bit entry
	ASSERT_EQ(1, fx.set_state_calls);
	const x86_state &st = fx.cpu_state;
	EXPECT_EQ(0x100000u, st.rip);
	EXPECT_EQ((uint64_t)LINUXBOOT_PARAMS, st.gpr[X86_RSI]);
	EXPECT_EQ(0u, st.gpr[X86_RBP]);
	EXPECT_EQ(0u, st.gpr[X86_RDI]);
	EXPECT_EQ(0u, st.gpr[X86_RBX]);
	EXPECT_EQ(0u, st.rflags & 0x200) << "interrupts off";
	EXPECT_EQ(1u, st.cr0 & 0x80000001u) << "protected mode, no paging";
	EXPECT_EQ(0x10, st.seg[X86_CS].sel);
	EXPECT_EQ(0xffffffffu, st.seg[X86_CS].limit);
	EXPECT_EQ(0xc09b, st.seg[X86_CS].attr);
	for (int s : {X86_DS, X86_ES, X86_SS}) {
		EXPECT_EQ(0x18, st.seg[s].sel);
		EXPECT_EQ(0u, st.seg[s].base);
		EXPECT_EQ(0xc093, st.seg[s].attr);
	}
	EXPECT_EQ((uint64_t)LINUXBOOT_GDT, st.gdtr.base);
	uint64_t code, data;
	memcpy(&code, fx.ram(LINUXBOOT_GDT + 0x10), 8);
	memcpy(&data, fx.ram(LINUXBOOT_GDT + 0x18), 8);
	EXPECT_EQ(0x00cf9b000000ffffull, code);
	EXPECT_EQ(0x00cf93000000ffffull, data);
}

TEST_F(LinuxbootTest, AcpiTablesForPowerOff)
{
	std::string err;
	ASSERT_EQ(0, load(write("/bzImage", Image().build()), nullptr, nullptr, &err)) << err;
	auto sum = [&](uint64_t a, size_t n) {
		uint8_t s = 0;
		for (size_t i = 0; i < n; i++)
			s = (uint8_t)(s + fx.ram(a)[i]);
		return s;
	};
	uint64_t rsdp = 0;
	memcpy(&rsdp, fx.ram(LINUXBOOT_PARAMS + 0x70), 8);
	ASSERT_EQ((uint64_t)LINUXBOOT_ACPI, rsdp) << "boot_params.acpi_rsdp_addr";
	EXPECT_EQ(LINUXBOOT_ACPI >> 4, rd16(0x40e)) << "the EBDA pointer leads there too";
	EXPECT_EQ(0, memcmp(fx.ram(rsdp), "RSD PTR ", 8));
	EXPECT_EQ(0, sum(rsdp, 20));
	uint32_t rsdt = rd32(rsdp + 16);
	EXPECT_EQ(0, memcmp(fx.ram(rsdt), "RSDT", 4));
	EXPECT_EQ(0, sum(rsdt, rd32(rsdt + 4)));
	uint32_t fadt = rd32(rsdt + 36);
	ASSERT_EQ(0, memcmp(fx.ram(fadt), "FACP", 4));
	EXPECT_EQ(116u, rd32(fadt + 4));
	EXPECT_EQ(0, sum(fadt, 116));
	EXPECT_EQ(9, rd16(fadt + 46)) << "SCI on IRQ 9";
	EXPECT_EQ(0u, rd32(fadt + 48)) << "no SMI_CMD: ACPI mode from the start";
	EXPECT_EQ((uint32_t)ACPI_PM_BASE, rd32(fadt + 56));
	EXPECT_EQ((uint32_t)ACPI_PM_BASE + 4, rd32(fadt + 64));
	EXPECT_EQ((uint32_t)ACPI_PM_BASE + 8, rd32(fadt + 76));
	EXPECT_EQ((uint32_t)ACPI_GPE0_BASE, rd32(fadt + 80));
	uint32_t facs = rd32(fadt + 36);
	EXPECT_EQ(0u, facs & 63);
	EXPECT_EQ(0, memcmp(fx.ram(facs), "FACS", 4));
	uint32_t dsdt = rd32(fadt + 40);
	ASSERT_EQ(0, memcmp(fx.ram(dsdt), "DSDT", 4));
	uint32_t dlen = rd32(dsdt + 4);
	EXPECT_EQ(0, sum(dsdt, dlen));
	static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0};
	EXPECT_EQ(0, memcmp(fx.ram(dsdt + 36), s5, sizeof(s5)));
	EXPECT_LE(dsdt + dlen, 0xa0000u) << "inside the reserved area";

	// Then Scope (\_SB_) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03"))
	// ... } } reaching exactly to the table's end: an ACPI kernel scans no
	// PCI bus it is not told about.
	const uint8_t *a = fx.ram(dsdt + 48);
	auto pkglen = [](const uint8_t *p, unsigned *bytes) {
		unsigned follow = p[0] >> 6;
		*bytes = follow + 1;
		if (!follow)
			return (unsigned)(p[0] & 0x3f);
		unsigned v = p[0] & 0x0f;
		for (unsigned i = 1; i <= follow; i++)
			v |= (unsigned)p[i] << (4 + 8 * (i - 1));
		return v;
	};
	ASSERT_EQ(0x10, a[0]) << "ScopeOp";
	unsigned lb, lb_scope;
	unsigned scope_len = pkglen(a + 1, &lb_scope);
	EXPECT_EQ(dlen - 48 - 1, scope_len) << "the scope ends with the table";
	const uint8_t *q = a + 1 + lb_scope;
	ASSERT_EQ(0, memcmp(q, "\\_SB_", 5));
	q += 5;
	ASSERT_EQ(0x5b, q[0]);
	ASSERT_EQ(0x82, q[1]) << "DeviceOp";
	unsigned dev_len = pkglen(q + 2, &lb);
	EXPECT_EQ(scope_len, lb_scope + 5 + 2 + dev_len) << "the device fills the scope";
	q += 2 + lb;
	ASSERT_EQ(0, memcmp(q, "PCI0", 4));
	static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03};
	EXPECT_EQ(0, memcmp(q + 4, hid, sizeof(hid)));
	// _CRS ends with the end tag, right at the end of the table.
	EXPECT_EQ(0x79, *fx.ram(dsdt + dlen - 2));
}

TEST_F(LinuxbootTest, NoInitrdNoAppend)
{
	std::string err;
	ASSERT_EQ(0, load(write("/bzImage", Image().build()), nullptr, nullptr, &err)) << err;
	EXPECT_EQ(0u, rd32(LINUXBOOT_PARAMS + 0x218));
	EXPECT_EQ(0u, rd32(LINUXBOOT_PARAMS + 0x21c));
	EXPECT_EQ(0, fx.ram(LINUXBOOT_CMDLINE)[0]);
}

struct BadCase {
	const char *name;
	Image img;
	size_t initrd; // 0: none
	std::string append;
	const char *message;
};

TEST_F(LinuxbootTest, ErrorsAreOneLineAndLoadNothing)
{
	std::vector<BadCase> cases;
	Image i;
	i.magic = false;
	cases.push_back({"no header", i, 0, "", "not a Linux bzImage"});
	i = Image();
	i.version = 0x0206;
	cases.push_back({"old protocol", i, 0, "", "boot protocol 2.06 is older than 2.07"});
	i = Image();
	i.loadflags = 0;
	cases.push_back({"zImage", i, 0, "", "zImage"});
	i = Image();
	i.init_size = 60u << 20; // 16 MiB + 60 MiB > 64 MiB
	cases.push_back({"too big", i, 0, "", "needs 76 MiB of RAM below 4 GiB"});
	i = Image();
	cases.push_back({"initrd too big", i, 50u << 20, "", "does not fit"});
	i = Image();
	i.initrd_max = (20u << 20) - 1; // below the kernel's end
	cases.push_back({"initrd limit", i, 4096, "", "--initrd"});
	i = Image();
	i.cmdline_size = 10;
	cases.push_back({"long command line", i, 0, "root=/dev/sda1", "at most 10"});
	i = Image();
	i.setup_sects = 200;
	i.pm_size = 16;
	cases.push_back({"inconsistent sizes", i, 0, "", "inconsistent"});

	for (const auto &c : cases) {
		std::string kp = write("/bzImage", c.img.build());
		std::string ip;
		if (c.initrd)
			ip = write("/initrd", std::vector<uint8_t>(c.initrd, 1));
		std::string err;
		int r = load(kp, c.initrd ? ip.c_str() : nullptr,
			     c.append.empty() ? nullptr : c.append.c_str(), &err);
		EXPECT_EQ(-EINVAL, r) << c.name;
		EXPECT_NE(std::string::npos, err.find(c.message)) << c.name << ": " << err;
		EXPECT_EQ(1, std::count(err.begin(), err.end(), '\n')) << c.name << ": " << err;
		EXPECT_EQ(0, fx.ram(0x100000)[0]) << c.name << ": nothing loaded";
		EXPECT_EQ(0, fx.set_state_calls) << c.name;
	}
	std::string err;
	EXPECT_EQ(-EINVAL, load(dir + "/missing", nullptr, nullptr, &err));
	EXPECT_NE(std::string::npos, err.find("No such file")) << err;
}

TEST_F(LinuxbootTest, BackendThatCannotTakeState)
{
	fx.get_state_result = -ENOSYS;
	std::string err;
	EXPECT_EQ(-ENOSYS, load(write("/bzImage", Image().build()), nullptr, nullptr, &err));
	EXPECT_NE(std::string::npos, err.find("cannot start a kernel directly")) << err;
}

TEST_F(LinuxbootTest, NonRelocatableOldLayout)
{
	// protocol 2.07: no init_size or pref_address; the file size decides
	Image img;
	img.version = 0x0207;
	img.pm_size = 200000;
	std::string err;
	ASSERT_EQ(0, load(write("/bzImage", img.build()), nullptr, nullptr, &err)) << err;
	EXPECT_EQ(0x0207, rd16(LINUXBOOT_PARAMS + 0x206));
}

} // namespace

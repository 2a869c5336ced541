// The PIIX4 power-management function: PM base decoding, the PM timer's
// frequency and overflow, the SCI, ACPI mode switching, power-off, and the
// fixed blocks SeaBIOS's ACPI tables point at.
#include <gtest/gtest.h>
#include "pci_fixture.h"

namespace {

constexpr int PM = 1 << 3 | 3; // 00:01.3
constexpr uint16_t BASE = 0xb000;

struct AcpiTest : ::testing::Test {
	PciFixture fx;
	struct pci_bus *bus = nullptr;
	struct acpi_pm *pm = nullptr;
	void SetUp() override
	{
		ASSERT_EQ(0, pci_bus_create(fx.vm, &bus));
		ASSERT_EQ(0, piix3_create(fx.vm, bus, 1, nullptr));
		ASSERT_EQ(0, acpi_pm_create(fx.vm, bus, 1, 3, &pm));
	}
	// What SeaBIOS's piix4_pm_setup does.
	void enable()
	{
		fx.cfg_write(PM, PCI_INTERRUPT_LINE, 9, 1);
		fx.cfg_write(PM, ACPI_PMBA, BASE | 1);
		fx.cfg_write(PM, ACPI_PMREGMISC, 0x01, 1);
		fx.cfg_write(PM, 0x90, (BASE + 0x100) | 1);
		fx.cfg_write(PM, 0xd2, 0x09, 1);
		fx.cfg_write(PM, PCI_COMMAND, PCI_COMMAND_IO, 2);
	}
	uint32_t timer() { return fx.in(BASE + 8, 4); }
};

TEST_F(AcpiTest, Identity)
{
	EXPECT_EQ(0x71138086u, fx.cfg_read(PM, 0));
	EXPECT_EQ(0x0680u, fx.cfg_read(PM, PCI_CLASS_DEVICE, 2));
	EXPECT_EQ(0x02u, fx.cfg_read(PM, 0x5b, 1)) << "APMC_EN: no SMM to set up";
	EXPECT_EQ(0x08u, fx.cfg_read(PM, 0x67, 1)) << "COM1 present for the DSDT";
	EXPECT_EQ(1u, fx.cfg_read(PM, ACPI_PMBA) & 1) << "PMBA is an I/O address";
}

TEST_F(AcpiTest, PmBlockDecodesOnlyWhenEnabled)
{
	EXPECT_EQ(0xffffffffu, fx.in(BASE + 8, 4));
	fx.cfg_write(PM, ACPI_PMBA, BASE | 1);
	EXPECT_EQ(0xffffffffu, fx.in(BASE + 8, 4)) << "PMIOSE still clear";
	fx.cfg_write(PM, ACPI_PMREGMISC, 1, 1);
	EXPECT_EQ(0u, fx.in(BASE + 4, 2));
	EXPECT_EQ(BASE | 1u, fx.cfg_read(PM, ACPI_PMBA));
	// move it; the low six bits are not an address
	fx.cfg_write(PM, ACPI_PMBA, 0x6ff);
	EXPECT_EQ(0x6c1u, fx.cfg_read(PM, ACPI_PMBA));
	EXPECT_EQ(0xffffu, fx.in(BASE + 4, 2));
	EXPECT_EQ(0u, fx.in(0x6c4, 2));
	fx.reset();
	EXPECT_EQ(0xffffu, fx.in(0x6c4, 2));
}

TEST_F(AcpiTest, TimerRunsAt3579545Hz)
{
	enable();
	fx.advance_ns(123456789);
	uint32_t t0 = timer();
	EXPECT_EQ(0u, t0 >> 24) << "24 bits";
	fx.advance_ns(NS_PER_SEC);
	uint32_t t1 = timer();
	EXPECT_EQ(3579545u, (t1 - t0) & 0xffffff);
	fx.advance_ns(10 * NS_PER_MS);
	EXPECT_NEAR(35795.45, (double)((timer() - t1) & 0xffffff), 1.0);
	// byte reads see the same counter
	uint32_t b = fx.in(BASE + 8) | fx.in(BASE + 9) << 8 | fx.in(BASE + 10) << 16;
	EXPECT_EQ(timer(), b);
	EXPECT_EQ(0u, fx.in(BASE + 11));
	fx.out(BASE + 8, 0, 4);
	EXPECT_EQ(b, timer()) << "read-only";
}

TEST_F(AcpiTest, TimerOverflowStatusAndSci)
{
	enable();
	EXPECT_EQ(0u, fx.in(BASE, 2) & 1);
	// bit 23 toggles every 2^23 ticks, about 2.34 s
	fx.advance_ns(2400 * NS_PER_MS);
	EXPECT_EQ(1u, fx.in(BASE, 2) & 1) << "TMROF_STS";
	fx.out(BASE, 1, 2);
	EXPECT_EQ(0u, fx.in(BASE, 2) & 1) << "write one to clear";
	EXPECT_EQ(0, fx.irq[9]) << "not enabled";
	// enable the event and ACPI mode: the timer wakes at the next toggle
	fx.out(BASE + 2, 1, 2);
	fx.out(ACPI_SMI_CMD, ACPI_ENABLE_CMD);
	EXPECT_EQ(1u, fx.in(BASE + 4, 2) & 1) << "SCI_EN";
	uint64_t next = clock_next_deadline(fx.vm->clock);
	ASSERT_NE(CLOCK_NEVER, next);
	EXPECT_NEAR(2 * 2343.5 * NS_PER_MS, (double)next, 1.0 * NS_PER_MS);
	fx.icount = next;
	clock_run_timers(fx.vm->clock);
	EXPECT_EQ(1, fx.irq[9]);
	fx.out(BASE, 1, 2);
	EXPECT_EQ(0, fx.irq[9]);
	// ACPI off: no SCI even with status set
	fx.out(ACPI_SMI_CMD, ACPI_DISABLE_CMD);
	fx.advance_ns(3 * NS_PER_SEC);
	EXPECT_EQ(1u, fx.in(BASE, 2) & 1);
	EXPECT_EQ(0, fx.irq[9]);
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(fx.vm->clock));
}

TEST_F(AcpiTest, PowerButton)
{
	enable();
	acpi_pm_power_button(pm);
	EXPECT_EQ(0x100u, fx.in(BASE, 2) & 0x100);
	EXPECT_EQ(0, fx.irq[9]) << "guest not in ACPI mode";
	fx.out(ACPI_SMI_CMD, ACPI_ENABLE_CMD);
	fx.out(BASE + 2, 0x100, 2);
	EXPECT_EQ(1, fx.irq[9]);
	fx.out(BASE, 0x100, 2);
	EXPECT_EQ(0, fx.irq[9]);
	EXPECT_EQ(0u, fx.in(BASE, 2) & 0x100);
}

TEST_F(AcpiTest, SoftOff)
{
	enable();
	// sleep types other than S5 are not offered: ignored
	fx.out(BASE + 4, 0x2400, 2);
	EXPECT_EQ(VM_END_NONE, fx.vm->end);
	EXPECT_EQ(0x0400u, fx.in(BASE + 4, 2)) << "SLP_EN reads as zero";
	// S5 (type 0) with SLP_EN, as SeaBIOS's \_S5 and apm_shutdown write it
	fx.out(BASE + 4, 0x2000, 2);
	EXPECT_EQ(VM_END_POWEROFF, fx.vm->end);
	EXPECT_EQ(0, fx.vm->end_status);
	EXPECT_TRUE(fx.vm->stop_requested);
}

TEST_F(AcpiTest, SoftOffByteWrites)
{
	enable();
	fx.out(BASE + 4, 0x01);
	fx.out(BASE + 5, 0x20);
	EXPECT_EQ(VM_END_POWEROFF, fx.vm->end);
}

TEST_F(AcpiTest, FixedBlocks)
{
	EXPECT_EQ(0u, fx.in(ACPI_GPE0_BASE, 4));
	fx.out(ACPI_GPE0_BASE + 2, 0xffff, 2);
	EXPECT_EQ(0xffffu, fx.in(ACPI_GPE0_BASE + 2, 2)) << "GPE enables are storage";
	EXPECT_EQ(0u, fx.in(ACPI_GPE0_BASE, 2));
	EXPECT_EQ(0, fx.irq[9]);
	EXPECT_EQ(0u, fx.in(0xae00, 4)) << "no PCI slot came up";
	EXPECT_EQ(0u, fx.in(0xae0c, 4)) << "no slot is removable";
	EXPECT_EQ(1u, fx.in(0xaf00, 4)) << "CPU 0 present";
	EXPECT_EQ(0u, fx.in(0xaf04, 4));
	fx.out(0xb3, 0x5a);
	EXPECT_EQ(0x5au, fx.in(0xb3));
}

TEST_F(AcpiTest, SmbusHasNoDevices)
{
	enable();
	uint16_t smb = BASE + 0x100;
	EXPECT_EQ(0u, fx.in(smb));
	fx.out(smb + 4, 0xa1);     // address 0x50, read
	fx.out(smb + 2, 0x48);     // start a byte-data transaction
	EXPECT_EQ(0x04u, fx.in(smb) & 0x04) << "DEV_ERR: nobody acknowledged";
	EXPECT_EQ(0x08u, fx.in(smb + 2)) << "START reads as zero";
	fx.out(smb, 0x1e);
	EXPECT_EQ(0u, fx.in(smb));
	fx.cfg_write(PM, 0xd2, 0x08, 1);
	EXPECT_EQ(0xffu, fx.in(smb)) << "host disabled";
}

} // namespace

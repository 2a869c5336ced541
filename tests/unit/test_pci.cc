// PCI configuration mechanism #1, BAR sizing and moving, the i440FX's PAM
// and SMRAM registers, the PIIX3's PIRQ routing and reset control.
#include <gtest/gtest.h>
#include <cstring>
#include <vector>
#include "pci_fixture.h"

namespace {

constexpr int HOST = 0;          // 00:00.0
constexpr int ISA = 1 << 3;      // 00:01.0

struct Access {
	uint64_t addr;
	uint64_t val;
	unsigned size;
	int is_write;
};

// A device with an I/O BAR, a memory BAR and an expansion ROM, all backed
// by test memory, recording every access and every bar_map call.
struct TestDev {
	struct pci_device dev = {};
	std::vector<Access> io;
	std::vector<uint8_t> mem = std::vector<uint8_t>(4096, 0x5a);
	std::vector<uint8_t> rom = std::vector<uint8_t>(2048, 0xa5);
	struct Map { int bar; uint64_t old, addr; };
	std::vector<Map> maps;

	static uint64_t io_fn(void *opaque, uint64_t addr, uint64_t val, unsigned size,
			      int is_write)
	{
		auto *t = static_cast<TestDev *>(opaque);
		t->io.push_back({addr, val, size, is_write});
		return 0x77;
	}
	static void bar_map(struct pci_device *d, int i, uint64_t old, uint64_t addr)
	{
		static_cast<TestDev *>(d->opaque)->maps.push_back({i, old, addr});
	}
	TestDev(uint16_t device_id = 0x1111)
	{
		dev.name = "testdev";
		dev.opaque = this;
		dev.bar_map = bar_map;
		pci_set_ids(&dev, 0x1234, device_id, 1, 0x030000);
		dev.wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		dev.w1cmask[PCI_STATUS + 1] = 0xf8;
		dev.config[PCI_INTERRUPT_PIN] = 1;
		dev.wmask[PCI_INTERRUPT_LINE] = 0xff;
		pci_set_bar(&dev, 0, PCI_BAR_IO, 16, false);
		dev.bar[0].fn = io_fn;
		dev.bar[0].opaque = this;
		pci_set_bar(&dev, 1, PCI_BAR_MEM32, 4096, true);
		dev.bar[1].host = mem.data();
		pci_set_bar(&dev, PCI_ROM_BAR, PCI_BAR_ROM, 2048, false);
		dev.bar[PCI_ROM_BAR].host = rom.data();
	}
};

struct PciTest : ::testing::Test {
	PciFixture fx;
	struct pci_bus *bus = nullptr;
	void SetUp() override
	{
		ASSERT_EQ(0, pci_bus_create(fx.vm, &bus));
		ASSERT_EQ(bus, fx.vm->pci);
		ASSERT_EQ(0, i440fx_create(fx.vm, bus, nullptr));
		ASSERT_EQ(0, piix3_create(fx.vm, bus, 1, nullptr));
	}
	uint8_t peek(uint64_t a) { return (uint8_t)mem_read(fx.vm->mem, a, 1); }
	void poke(uint64_t a, uint8_t v) { mem_write(fx.vm->mem, a, v, 1); }
};

TEST_F(PciTest, ConfigMechanismOneAllWidths)
{
	EXPECT_EQ(0x12378086u, fx.cfg_read(HOST, 0));
	EXPECT_EQ(0x86u, fx.cfg_read(HOST, 0, 1));
	EXPECT_EQ(0x12u, fx.cfg_read(HOST, 3, 1));
	EXPECT_EQ(0x1237u, fx.cfg_read(HOST, 2, 2));
	EXPECT_EQ(0x70008086u, fx.cfg_read(ISA, 0));
	EXPECT_EQ(0x80u, fx.cfg_read(ISA, PCI_HEADER_TYPE, 1)) << "PIIX3 is multi-function";
	EXPECT_EQ(0x0601u, fx.cfg_read(ISA, PCI_CLASS_DEVICE, 2));
	// SeaBIOS checks this to recognise the board and use fw_cfg
	EXPECT_EQ(0x11001af4u, fx.cfg_read(HOST, PCI_SUBSYSTEM_VENDOR_ID));

	// CONFIG_ADDRESS reads back; its low two bits are always zero
	fx.out(0xcf8, 0x80000003u, 4);
	EXPECT_EQ(0x80000000u, fx.in(0xcf8, 4));
	// enable bit clear: no configuration cycle
	fx.out(0xcf8, 0x00000000u, 4);
	EXPECT_EQ(0xffffffffu, fx.in(0xcfc, 4));
	// absent device, other bus
	EXPECT_EQ(0xffffffffu, fx.cfg_read(5 << 3, 0));
	fx.out(0xcf8, 0x80010000u, 4);
	EXPECT_EQ(0xffffffffu, fx.in(0xcfc, 4));
	// byte accesses to 0xcf8 do not touch CONFIG_ADDRESS
	fx.out(0xcf8, 0x80000800u, 4);
	fx.out(0xcf8, 0x12, 1);
	EXPECT_EQ(0x80000800u, fx.in(0xcf8, 4));
}

TEST_F(PciTest, ReadOnlyAndWriteOneToClear)
{
	fx.cfg_write(HOST, 0, 0xffffffffu);
	EXPECT_EQ(0x12378086u, fx.cfg_read(HOST, 0)) << "IDs are read-only";
	TestDev t;
	t.dev.config[PCI_STATUS + 1] = 0xa2; // two error bits set, one fixed bit
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	fx.cfg_write(2 << 3, PCI_STATUS, 0x8000, 2);
	EXPECT_EQ(0x22u, fx.cfg_read(2 << 3, PCI_STATUS + 1, 1));
	fx.cfg_write(2 << 3, PCI_INTERRUPT_LINE, 0xab, 1);
	EXPECT_EQ(0xabu, fx.cfg_read(2 << 3, PCI_INTERRUPT_LINE, 1));
	fx.cfg_write(2 << 3, PCI_INTERRUPT_PIN, 0x04, 1);
	EXPECT_EQ(1u, fx.cfg_read(2 << 3, PCI_INTERRUPT_PIN, 1));
	EXPECT_EQ(-EEXIST, pci_add_device(bus, &t.dev, 2, 0));
}

TEST_F(PciTest, BarSizing)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	int d = 2 << 3;
	EXPECT_EQ(0x1u, fx.cfg_read(d, 0x10)) << "I/O BAR type bit";
	EXPECT_EQ(0x8u, fx.cfg_read(d, 0x14)) << "prefetchable memory";
	fx.cfg_write(d, 0x10, 0xffffffffu);
	EXPECT_EQ(0xfffffff1u, fx.cfg_read(d, 0x10));
	fx.cfg_write(d, 0x14, 0xffffffffu);
	EXPECT_EQ(0xfffff008u, fx.cfg_read(d, 0x14));
	fx.cfg_write(d, 0x30, 0xfffffffeu);
	EXPECT_EQ(0xfffff800u, fx.cfg_read(d, 0x30));
	// unused BARs stay zero
	fx.cfg_write(d, 0x18, 0xffffffffu);
	EXPECT_EQ(0u, fx.cfg_read(d, 0x18));
	// an address keeps only the bits above the size
	fx.cfg_write(d, 0x10, 0xc00fu);
	EXPECT_EQ(0xc001u, fx.cfg_read(d, 0x10));
	// byte-wise writes build the same value
	fx.cfg_write(d, 0x14, 0x00, 1);
	fx.cfg_write(d, 0x15, 0x10, 1);
	fx.cfg_write(d, 0x16, 0x00, 1);
	fx.cfg_write(d, 0x17, 0xe0, 1);
	EXPECT_EQ(0xe0001008u, fx.cfg_read(d, 0x14));
	EXPECT_TRUE(t.maps.empty()) << "nothing decodes while the command register is off";
}

TEST_F(PciTest, IoBarDecodesAndMoves)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	int d = 2 << 3;
	fx.cfg_write(d, 0x10, 0xc000);
	EXPECT_EQ(0xffu, fx.in(0xc004)) << "I/O decode is off";
	fx.cfg_write(d, PCI_COMMAND, PCI_COMMAND_IO, 2);
	EXPECT_EQ(0x77u, fx.in(0xc004));
	ASSERT_EQ(1u, t.io.size());
	EXPECT_EQ(0xc004u, t.io[0].addr);
	ASSERT_EQ(1u, t.maps.size());
	EXPECT_EQ(0, t.maps[0].bar);
	EXPECT_EQ(PCI_BAR_UNMAPPED, t.maps[0].old);
	EXPECT_EQ(0xc000u, t.maps[0].addr);

	fx.cfg_write(d, 0x10, 0xd010);
	EXPECT_EQ(0xffu, fx.in(0xc004)) << "the old place is free again";
	EXPECT_EQ(0x77u, fx.in(0xd01f));
	ASSERT_EQ(2u, t.maps.size());
	EXPECT_EQ(0xc000u, t.maps[1].old);
	EXPECT_EQ(0xd010u, t.maps[1].addr);
	EXPECT_EQ(0xd010u, t.dev.bar[0].addr);

	fx.cfg_write(d, PCI_COMMAND, 0, 2);
	EXPECT_EQ(0xffu, fx.in(0xd010));
	EXPECT_EQ(PCI_BAR_UNMAPPED, t.dev.bar[0].addr);
	EXPECT_EQ(PCI_BAR_UNMAPPED, t.maps.back().addr);
}

TEST_F(PciTest, MemoryAndRomBars)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	int d = 2 << 3;
	fx.cfg_write(d, 0x14, 0xe0000000u);
	fx.cfg_write(d, 0x30, 0xe0010000u); // address, enable bit still clear
	fx.cfg_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	EXPECT_EQ(0x5au, peek(0xe0000010));
	poke(0xe0000010, 0x11);
	EXPECT_EQ(0x11, t.mem[0x10]);
	EXPECT_EQ(0xffu, peek(0xe0010000)) << "ROM decodes only with its enable bit";
	fx.cfg_write(d, 0x30, 0xe0010001u);
	EXPECT_EQ(0xa5u, peek(0xe0010000));
	poke(0xe0010000, 0);
	EXPECT_EQ(0xa5, t.rom[0]) << "ROM is read-only";
	// moving the memory BAR
	fx.cfg_write(d, 0x14, 0xe0100000u);
	EXPECT_EQ(0xffu, peek(0xe0000010));
	EXPECT_EQ(0x11u, peek(0xe0100010));
}

TEST_F(PciTest, OverlappingBarDoesNotDecode)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	int d = 2 << 3;
	fx.ram(0x200000)[0] = 0x42;
	fx.cfg_write(d, 0x14, 0x200000);
	fx.cfg_write(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	EXPECT_EQ(0x42u, peek(0x200000)) << "RAM stays where the BAR was put";
	EXPECT_EQ(PCI_BAR_UNMAPPED, t.dev.bar[1].addr);
	EXPECT_TRUE(t.dev.bar[1].warned);
	fx.cfg_write(d, 0x14, 0xf0000000u);
	EXPECT_EQ(0x5au, peek(0xf0000000u));
	// an I/O BAR over the PCI configuration ports
	fx.cfg_write(d, 0x10, 0xcf0);
	EXPECT_EQ(PCI_BAR_UNMAPPED, t.dev.bar[0].addr);
	EXPECT_EQ(0x12378086u, fx.cfg_read(HOST, 0));
}

TEST_F(PciTest, ResetRestoresConfigAndUnmaps)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	int d = 2 << 3;
	fx.cfg_write(d, 0x10, 0xc000);
	fx.cfg_write(d, PCI_COMMAND, PCI_COMMAND_IO, 2);
	fx.cfg_write(d, PCI_INTERRUPT_LINE, 9, 1);
	ASSERT_EQ(0x77u, fx.in(0xc000));
	fx.reset();
	EXPECT_EQ(0xffu, fx.in(0xc000));
	EXPECT_EQ(0x1u, fx.cfg_read(d, 0x10));
	EXPECT_EQ(0u, fx.cfg_read(d, PCI_COMMAND, 2));
	EXPECT_EQ(0u, fx.cfg_read(d, PCI_INTERRUPT_LINE, 1));
	EXPECT_EQ(0x12378086u, fx.cfg_read(HOST, 0));
}

TEST_F(PciTest, DmaNeedsBusMasterAndMemory)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	uint8_t buf[4] = { 1, 2, 3, 4 };
	EXPECT_EQ(-EPERM, pci_dma_write(&t.dev, 0x1000, buf, 4));
	fx.cfg_write(2 << 3, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	EXPECT_EQ(0, pci_dma_write(&t.dev, 0x2000, buf, 4));
	EXPECT_EQ(3, fx.ram(0x2000)[2]);
}

TEST_F(PciTest, DmaBounds)
{
	TestDev t;
	ASSERT_EQ(0, pci_add_device(bus, &t.dev, 2, 0));
	fx.cfg_write(2 << 3, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8] = {};
	EXPECT_EQ(0, pci_dma_write(&t.dev, 0x1000, buf, 8));
	EXPECT_EQ(0, memcmp(fx.ram(0x1000), buf, 8));
	EXPECT_EQ(0, pci_dma_read(&t.dev, 0x1000, back, 8));
	EXPECT_EQ(0, memcmp(back, buf, 8));
	EXPECT_EQ(-EFAULT, pci_dma_write(&t.dev, 0x9fffc, buf, 8)) << "runs into the VGA hole";
	EXPECT_EQ(-EFAULT, pci_dma_write(&t.dev, 0xf0000000u, buf, 8));
	EXPECT_EQ(-EFAULT, pci_dma_write(&t.dev, 0xfffffffffffffffcull, buf, 8));
	EXPECT_EQ(-EFAULT, pci_dma_write(&t.dev, 0xf0000, buf, 8)) << "ROM takes no writes";
	EXPECT_EQ(0, pci_dma_read(&t.dev, 0xf0000, back, 8)) << "but can be read";
	EXPECT_EQ(0xf4, back[0]);
}

// ---- i440FX ----

TEST_F(PciTest, PamReadAndWriteEnables)
{
	// power-on: 0xF0000 reads the firmware, writes are dropped
	EXPECT_EQ(0xf4u, peek(0xf0000));
	poke(0xf0000, 0x11);
	EXPECT_EQ(0xf4u, peek(0xf0000));
	EXPECT_EQ(0, fx.ram(0xf0000)[0]);

	// write enable only: reads still from ROM, writes land in RAM
	fx.cfg_write(HOST, I440FX_PAM0, 0x20, 1);
	poke(0xf0000, 0x22);
	EXPECT_EQ(0xf4u, peek(0xf0000));
	EXPECT_EQ(0x22, fx.ram(0xf0000)[0]);
	// read and write: RAM
	fx.cfg_write(HOST, I440FX_PAM0, 0x30, 1);
	EXPECT_EQ(0x22u, peek(0xf0000));
	poke(0xf0001, 0x33);
	EXPECT_EQ(0x33u, peek(0xf0001));
	// read only: RAM, writes dropped
	fx.cfg_write(HOST, I440FX_PAM0, 0x10, 1);
	poke(0xf0001, 0x44);
	EXPECT_EQ(0x33u, peek(0xf0001));
	EXPECT_EQ(0x10u, fx.cfg_read(HOST, I440FX_PAM0, 1));
	fx.cfg_write(HOST, I440FX_PAM0, 0xff, 1);
	EXPECT_EQ(0x30u, fx.cfg_read(HOST, I440FX_PAM0, 1)) << "only bits 5:4 exist";
}

TEST_F(PciTest, PamSegmentsAreIndependent)
{
	// PAM1 high nibble is 0xC4000-0xC7FFF; the low nibble 0xC0000
	fx.cfg_write(HOST, 0x5a, 0x30, 1);
	poke(0xc4000, 0x55);
	EXPECT_EQ(0x55u, peek(0xc4000));
	EXPECT_EQ(0xffu, peek(0xc0000)) << "0xC0000 still on the PCI side";
	poke(0xc0000, 0x66);
	EXPECT_EQ(0, fx.ram(0xc0000)[0]);
	// PAM6 high nibble: 0xEC000
	fx.cfg_write(HOST, 0x5f, 0x03, 1);
	poke(0xe8000, 0x77);
	EXPECT_EQ(0x77u, peek(0xe8000));
	EXPECT_EQ(0xf4u, peek(0xec000));
	// SeaBIOS's dword accesses at 0x58 and 0x5C
	fx.cfg_write(HOST, 0x58, 0x33333000u);
	fx.cfg_write(HOST, 0x5c, 0x33333333u);
	for (uint64_t a = 0xc0000; a < 0xf0000; a += 0x4000) {
		poke(a + 1, 0x99);
		EXPECT_EQ(0x99u, peek(a + 1)) << std::hex << a;
	}
	// machine reset returns everything to ROM/PCI
	fx.reset();
	EXPECT_EQ(0u, fx.cfg_read(HOST, 0x5c));
	EXPECT_EQ(0xffu, peek(0xc4001));
	EXPECT_EQ(0xf4u, peek(0xe8000));
}

TEST_F(PciTest, SmramLock)
{
	EXPECT_EQ(0x02u, fx.cfg_read(HOST, I440FX_SMRAM, 1));
	fx.cfg_write(HOST, I440FX_SMRAM, 0x4a, 1);
	EXPECT_EQ(0x4au, fx.cfg_read(HOST, I440FX_SMRAM, 1));
	fx.cfg_write(HOST, I440FX_SMRAM, 0x5a, 1); // lock: D_OPEN drops
	EXPECT_EQ(0x1au, fx.cfg_read(HOST, I440FX_SMRAM, 1));
	fx.cfg_write(HOST, I440FX_SMRAM, 0x40, 1);
	EXPECT_EQ(0x1au, fx.cfg_read(HOST, I440FX_SMRAM, 1)) << "locked until reset";
	fx.reset();
	EXPECT_EQ(0x02u, fx.cfg_read(HOST, I440FX_SMRAM, 1));
	fx.cfg_write(HOST, I440FX_SMRAM, 0x4a, 1);
	EXPECT_EQ(0x4au, fx.cfg_read(HOST, I440FX_SMRAM, 1));
}

// ---- PIIX3 ----

TEST_F(PciTest, PirqRouting)
{
	TestDev a, b;
	b.dev.config[PCI_INTERRUPT_PIN] = 1;
	ASSERT_EQ(0, pci_add_device(bus, &a.dev, 2, 0)); // slot 2 INTA -> PIRQB
	ASSERT_EQ(0, pci_add_device(bus, &b.dev, 4, 0)); // slot 4 INTA -> PIRQD
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0x80u, fx.cfg_read(ISA, PIIX_PIRQRC + i, 1)) << "routing off at reset";
	pci_set_irq(&a.dev, 1);
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(0, fx.irq[i]);

	fx.cfg_write(ISA, PIIX_PIRQRC + 1, 11, 1);
	EXPECT_EQ(1, fx.irq[11]);
	pci_set_irq(&a.dev, 0);
	EXPECT_EQ(0, fx.irq[11]);

	// two PIRQs sharing IRQ 10
	fx.cfg_write(ISA, PIIX_PIRQRC, 0x0a0a0a0au); // SeaBIOS writes bytes; dwords work too
	pci_set_irq(&a.dev, 1);
	pci_set_irq(&b.dev, 1);
	EXPECT_EQ(1, fx.irq[10]);
	pci_set_irq(&a.dev, 0);
	EXPECT_EQ(1, fx.irq[10]) << "b still holds the shared line";
	pci_set_irq(&b.dev, 0);
	EXPECT_EQ(0, fx.irq[10]);

	// rerouting an asserted PIRQ moves the level
	pci_set_irq(&a.dev, 1);
	fx.cfg_write(ISA, PIIX_PIRQRC + 1, 5, 1);
	EXPECT_EQ(0, fx.irq[10]);
	EXPECT_EQ(1, fx.irq[5]);
	// reserved IRQ numbers and the disable bit route nowhere
	fx.cfg_write(ISA, PIIX_PIRQRC + 1, 8, 1);
	EXPECT_EQ(0, fx.irq[5]);
	EXPECT_EQ(0, fx.irq[8]);
	fx.cfg_write(ISA, PIIX_PIRQRC + 1, 0x8b, 1);
	EXPECT_EQ(0, fx.irq[11]);
	fx.cfg_write(ISA, PIIX_PIRQRC + 1, 0x0b, 1);
	EXPECT_EQ(1, fx.irq[11]);
	// machine reset: routing off, line low
	fx.reset();
	EXPECT_EQ(0, fx.irq[11]);
	EXPECT_EQ(0, a.dev.irq_level);
}

TEST_F(PciTest, ResetControlRegister)
{
	fx.out(0xcf9, 0x02);
	EXPECT_FALSE(fx.vm->reset_requested);
	EXPECT_EQ(0x02u, fx.in(0xcf9));
	fx.out(0xcf9, 0x06);
	EXPECT_TRUE(fx.vm->reset_requested);
	fx.reset();
	EXPECT_EQ(0u, fx.in(0xcf9));
	// configuration cycles still work around it
	EXPECT_EQ(0x12378086u, fx.cfg_read(HOST, 0));
}

} // namespace

// The 8259A pair: initialization, priority, EOI kinds, masks, ELCR level
// mode, poll, cascade, spurious vectors, rotation and special modes.
#include <gtest/gtest.h>
#include "pcvm.h"
#include "vm_fixture.h"

namespace {

struct PicTest : ::testing::Test {
	VmFixture f;
	struct pic *pic = nullptr;

	void SetUp() override
	{
		ASSERT_EQ(0, pic_create(f.vm, &pic));
		init(0x08, 0x70, 0x01);
	}
	// The BIOS's initialization: ICW1-4 on both, everything unmasked.
	void init(uint8_t base0, uint8_t base1, uint8_t icw4)
	{
		f.outb(0x20, 0x11);
		f.outb(0x21, base0);
		f.outb(0x21, 0x04);
		f.outb(0x21, icw4);
		f.outb(0xa0, 0x11);
		f.outb(0xa1, base1);
		f.outb(0xa1, 0x02);
		f.outb(0xa1, icw4);
		f.outb(0x21, 0x00);
		f.outb(0xa1, 0x00);
	}
	void raise(int n) { irq_set(&f.vm->isa_irq[n], 1); }
	void lower(int n) { irq_set(&f.vm->isa_irq[n], 0); }
	void pulse(int n) { irq_pulse(&f.vm->isa_irq[n]); }
	bool intr() { return f.vm->intr_level; }
	int ack() { return vm_intr_ack(f.vm); }
	void eoi_master() { f.outb(0x20, 0x20); }
	void eoi_slave() { f.outb(0xa0, 0x20); }
};

TEST_F(PicTest, InstallsItselfOnTheMachine)
{
	EXPECT_NE(nullptr, f.vm->intr_ack);
	EXPECT_EQ(nullptr, f.vm->isa_irq[2].set) << "IR2 is the cascade";
	EXPECT_NE(nullptr, f.vm->isa_irq[9].set);
	EXPECT_STREQ("pic-master", ioport_owner(f.vm->io, 0x21));
	EXPECT_STREQ("elcr", ioport_owner(f.vm->io, 0x4d1));
}

TEST_F(PicTest, EdgeRequestGivesItsVectorOnce)
{
	EXPECT_FALSE(intr());
	pulse(1);
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x02, pic_get_irr(pic, 0));
	EXPECT_EQ(0x09, ack());
	EXPECT_FALSE(intr());
	EXPECT_EQ(0x00, pic_get_irr(pic, 0));
	EXPECT_EQ(0x02, pic_get_isr(pic, 0));
	eoi_master();
	EXPECT_EQ(0x00, pic_get_isr(pic, 0));
	EXPECT_FALSE(intr());
}

TEST_F(PicTest, HeldEdgeLineNeedsANewEdge)
{
	raise(3);
	EXPECT_EQ(0x0b, ack());
	eoi_master();
	EXPECT_FALSE(intr()) << "still high, but no new edge";
	raise(3);
	EXPECT_FALSE(intr());
	lower(3);
	raise(3);
	EXPECT_TRUE(intr());
}

TEST_F(PicTest, FixedPriorityAndNesting)
{
	pulse(5);
	pulse(3);
	EXPECT_EQ(0x0b, ack()); // IRQ3 beats IRQ5
	EXPECT_FALSE(intr()) << "IRQ5 waits while the higher IRQ3 is in service";
	pulse(0);
	EXPECT_TRUE(intr()) << "IRQ0 may nest into IRQ3";
	EXPECT_EQ(0x08, ack());
	EXPECT_EQ(0x09, pic_get_isr(pic, 0));
	eoi_master(); // non-specific: clears the highest, IRQ0
	EXPECT_EQ(0x08, pic_get_isr(pic, 0));
	EXPECT_FALSE(intr());
	eoi_master();
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x0d, ack());
}

TEST_F(PicTest, SpecificEoiClearsTheNamedLevel)
{
	pulse(4);
	ack();
	pulse(1);
	ack();
	EXPECT_EQ(0x12, pic_get_isr(pic, 0));
	f.outb(0x20, 0x60 | 4); // specific EOI for IRQ4
	EXPECT_EQ(0x02, pic_get_isr(pic, 0));
}

TEST_F(PicTest, MaskHoldsRequestsInIrr)
{
	f.outb(0x21, 0x02);
	EXPECT_EQ(0x02, f.inb(0x21));
	pulse(1);
	EXPECT_FALSE(intr());
	EXPECT_EQ(0x02, f.inb(0x20)) << "OCW3 defaults to reading IRR";
	f.outb(0x21, 0x00);
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x09, ack());
	f.outb(0x20, 0x0b); // OCW3: read ISR
	EXPECT_EQ(0x02, f.inb(0x20));
	f.outb(0x20, 0x0a); // OCW3: read IRR
	EXPECT_EQ(0x00, f.inb(0x20));
}

TEST_F(PicTest, CascadeDeliversSlaveVectors)
{
	pulse(12);
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x74, ack());
	EXPECT_EQ(0x04, pic_get_isr(pic, 0)) << "master IR2 in service";
	EXPECT_EQ(0x10, pic_get_isr(pic, 1));
	pulse(8);
	EXPECT_FALSE(intr()) << "the master blocks IR2 while IR2 is in service";
	eoi_slave();
	eoi_master();
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x70, ack());
}

TEST_F(PicTest, SlaveMaskedWithPendingRequests)
{
	pulse(9);
	pulse(14);
	EXPECT_EQ(0x71, ack());
	eoi_slave();
	eoi_master();
	EXPECT_TRUE(intr()) << "IRQ14 still waits on the slave";
	EXPECT_EQ(0x76, ack());
}

TEST_F(PicTest, SpuriousWhenTheRequestWentAway)
{
	f.outb(0x4d0, 0x08); // ELCR: IRQ3 level
	raise(3);
	EXPECT_TRUE(intr());
	lower(3);
	EXPECT_FALSE(intr());
	EXPECT_EQ(0x0f, ack()) << "spurious IRQ7";
	EXPECT_EQ(0x00, pic_get_isr(pic, 0)) << "a spurious IRQ7 sets no ISR bit";

	// The same on the slave: the master's IR2 edge stays latched.
	f.outb(0x4d1, 0x02); // IRQ9 level
	raise(9);
	EXPECT_TRUE(intr());
	lower(9);
	EXPECT_TRUE(intr()) << "master IRR2 latched the slave's INT edge";
	EXPECT_EQ(0x77, ack()) << "spurious IRQ15";
	EXPECT_EQ(0x04, pic_get_isr(pic, 0)) << "the master still needs its EOI";
	EXPECT_EQ(0x00, pic_get_isr(pic, 1));
}

TEST_F(PicTest, LevelModeThroughElcr)
{
	f.outb(0x4d0, 0xff);
	EXPECT_EQ(0xf8, f.inb(0x4d0)) << "IRQ0-2 are edge only";
	f.outb(0x4d1, 0xff);
	EXPECT_EQ(0xde, f.inb(0x4d1)) << "IRQ8 and IRQ13 are edge only";
	f.outb(0x4d0, 0x00);
	f.outb(0x4d1, 0x08); // IRQ11 level
	raise(11);
	EXPECT_EQ(0x73, ack());
	eoi_slave();
	eoi_master();
	EXPECT_TRUE(intr()) << "a level line still high requests again after EOI";
	EXPECT_EQ(0x73, ack());
	lower(11);
	eoi_slave();
	eoi_master();
	EXPECT_FALSE(intr());
	EXPECT_EQ(0x00, pic_get_irr(pic, 1));
}

TEST_F(PicTest, PollMode)
{
	f.outb(0x21, 0xff); // masked lines are not polled
	pulse(6);
	f.outb(0x20, 0x0c);
	EXPECT_EQ(0x00, f.inb(0x20));
	f.outb(0x21, 0x00);
	f.outb(0x20, 0x0c);
	EXPECT_EQ(0x86, f.inb(0x20));
	EXPECT_EQ(0x40, pic_get_isr(pic, 0)) << "a poll acknowledges";
	EXPECT_EQ(0x00, f.inb(0x20)) << "one poll per OCW3";
	eoi_master();
	pulse(10);
	f.outb(0x20, 0x0c);
	EXPECT_EQ(0x82, f.inb(0x20)) << "the master reports the cascade";
	f.outb(0xa0, 0x0c);
	EXPECT_EQ(0x82, f.inb(0xa0)) << "the slave reports IRQ10";
}

TEST_F(PicTest, AutoEoi)
{
	init(0x08, 0x70, 0x03);
	pulse(4);
	EXPECT_EQ(0x0c, ack());
	EXPECT_EQ(0x00, pic_get_isr(pic, 0));
	pulse(5);
	EXPECT_TRUE(intr()) << "nothing in service blocks IRQ5";
	pulse(12);
	pulse(13);
	EXPECT_EQ(0x74, ack());
	EXPECT_EQ(0x75, ack()) << "the slave's next request reaches the master";
}

TEST_F(PicTest, RotateOnNonSpecificEoi)
{
	pulse(3);
	ack();
	f.outb(0x20, 0xa0); // rotate on non-specific EOI: IRQ3 lowest
	pulse(1);
	pulse(4);
	EXPECT_EQ(0x0c, ack()) << "IRQ4 is now highest";
	f.outb(0x20, 0x60 | 4);
	f.outb(0x20, 0xc0 | 7); // set priority: IRQ7 lowest again
	EXPECT_EQ(0x09, ack());
}

TEST_F(PicTest, SpecialMaskMode)
{
	pulse(2 + 1); // IRQ3
	EXPECT_EQ(0x0b, ack());
	pulse(5);
	EXPECT_FALSE(intr());
	f.outb(0x21, 0x08);     // mask the in-service IRQ3
	f.outb(0x20, 0x68);     // OCW3: set special mask mode
	EXPECT_TRUE(intr()) << "lower levels are enabled in special mask mode";
	EXPECT_EQ(0x0d, ack());
	f.outb(0x20, 0x48);     // reset special mask mode
	f.outb(0x20, 0x65);     // specific EOI IRQ5
	f.outb(0x20, 0x63);     // specific EOI IRQ3
	EXPECT_EQ(0x00, pic_get_isr(pic, 0));
}

TEST_F(PicTest, SpecialFullyNestedLetsHigherSlaveRequestsThrough)
{
	init(0x08, 0x70, 0x11);
	pulse(12);
	EXPECT_EQ(0x74, ack());
	pulse(9);
	EXPECT_TRUE(intr());
	EXPECT_EQ(0x71, ack());
}

TEST_F(PicTest, Icw1ResetsMaskAndEdgeSense)
{
	f.outb(0x21, 0xff);
	raise(4);
	init(0x20, 0x28, 0x01);
	EXPECT_FALSE(intr()) << "a line already high needs a new edge";
	EXPECT_EQ(0x00, f.inb(0x21));
	lower(4);
	raise(4);
	EXPECT_EQ(0x24, ack()) << "new vector base";
}

TEST_F(PicTest, MachineResetMasksEverything)
{
	pulse(1);
	EXPECT_TRUE(intr());
	f.outb(0x4d1, 0x08);
	f.reset();
	EXPECT_FALSE(intr());
	EXPECT_EQ(0xff, f.inb(0x21));
	EXPECT_EQ(0x00, f.inb(0x4d1));
}

} // namespace

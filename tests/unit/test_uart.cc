// The 16550A: transmit, THRE interrupt behaviour, OUT2 gating, loopback,
// FIFOs and trigger levels, the character timeout, IIR priorities, line
// and modem status, the divisor latch, host input and output.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>
#include <string>
#include "pcvm.h"
#include "run.h"
#include "vm_fixture.h"

namespace {

const uint16_t COM1 = 0x3f8;
enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct UartTest : ::testing::Test {
	VmFixture f;
	struct uart *u = nullptr;
	int out[2] = {-1, -1};
	std::string tapped;

	void SetUp() override
	{
		ASSERT_EQ(0, uart_create(f.vm, COM1, 4, &u));
		ASSERT_EQ(0, pipe2(out, O_NONBLOCK));
		ASSERT_EQ(0, uart_attach_fds(u, -1, out[1]));
		uart_set_tap(u, [](void *o, uint8_t b) {
			static_cast<UartTest *>(o)->tapped += (char)b;
		}, this);
	}
	void TearDown() override
	{
		close(out[0]);
		close(out[1]);
	}
	uint8_t in(int reg) { return f.inb((uint16_t)(COM1 + reg)); }
	void outp(int reg, uint8_t v) { f.outb((uint16_t)(COM1 + reg), v); }
	std::string output()
	{
		char buf[256];
		ssize_t n = read(out[0], buf, sizeof(buf));
		return n > 0 ? std::string(buf, (size_t)n) : std::string();
	}
	void type(const std::string &s) { uart_input(u, s.data(), s.size()); }
};

TEST_F(UartTest, SeaBiosDetectsThePort)
{
	outp(IER, 0x02);
	EXPECT_EQ(0x02, in(IER));
	EXPECT_EQ(0x02, in(IIR) & 0x3f) << "THRE pending as soon as it is enabled";
	outp(IER, 0x00);
	EXPECT_EQ(0x01, in(IIR));
}

TEST_F(UartTest, LinuxThreRetest)
{
	// serial8250's check for UARTs that do not re-assert THRE.
	outp(IER, 0x02);
	EXPECT_EQ(0x02, in(IIR) & 0x0f);
	EXPECT_EQ(0x01, in(IIR) & 0x0f) << "reading IIR cleared it";
	outp(IER, 0x00);
	outp(IER, 0x02);
	EXPECT_EQ(0x02, in(IIR) & 0x0f) << "re-enabling re-asserts it";
	EXPECT_EQ(0x60, in(LSR) & 0x60) << "THRE and TEMT";
}

TEST_F(UartTest, TransmitGoesToOutputAndTap)
{
	for (char c : std::string("hi\n"))
		outp(RBR, (uint8_t)c);
	EXPECT_EQ("hi\n", output());
	EXPECT_EQ("hi\n", tapped);
	EXPECT_EQ(0x60, in(LSR) & 0x60) << "already sent";
}

TEST_F(UartTest, ThreInterruptAfterEveryWrite)
{
	outp(MCR, 0x08); // OUT2
	outp(IER, 0x02);
	EXPECT_EQ(1, f.level[4]);
	EXPECT_EQ(0x02, in(IIR) & 0x0f);
	EXPECT_EQ(0, f.level[4]) << "cleared by the IIR read";
	f.clear_edges();
	outp(RBR, 'a');
	outp(RBR, 'b');
	EXPECT_EQ(2, f.edges[4]) << "THR empties again after each byte";
	EXPECT_EQ(1, f.level[4]);
	outp(IER, 0x00);
	EXPECT_EQ(0, f.level[4]);
}

TEST_F(UartTest, Out2GatesTheIrq)
{
	outp(IER, 0x02);
	EXPECT_EQ(0, f.level[4]) << "OUT2 off";
	EXPECT_EQ(0x02, in(IIR) & 0x0f) << "but the interrupt is pending";
	outp(IER, 0x00);
	outp(IER, 0x02);
	outp(MCR, 0x08);
	EXPECT_EQ(1, f.level[4]);
	outp(MCR, 0x18); // loopback holds OUT2 inactive
	EXPECT_EQ(0, f.level[4]);
}

TEST_F(UartTest, LoopbackAndModemStatus)
{
	outp(MCR, 0x10);
	in(MSR);
	outp(MCR, 0x1a); // loop, OUT2, RTS: Linux's autoconfig check
	EXPECT_EQ(0x90, in(MSR) & 0xf0) << "DCD from OUT2, CTS from RTS";
	outp(MCR, 0x1f);
	uint8_t msr = in(MSR);
	EXPECT_EQ(0xf0, msr & 0xf0);
	EXPECT_EQ(0x02, msr & 0x0f) << "DSR changed";
	outp(MCR, 0x1b); // RI (OUT1) falls
	EXPECT_EQ(0x04, in(MSR) & 0x0f) << "trailing edge of RI";
	EXPECT_EQ(0x00, in(MSR) & 0x0f) << "deltas clear on read";
	outp(RBR, 'x');
	EXPECT_EQ("", output()) << "nothing leaves in loopback";
	EXPECT_EQ("", tapped);
	EXPECT_EQ(0x01, in(LSR) & 0x01);
	EXPECT_EQ('x', in(RBR));
	outp(RBR, '1');
	outp(RBR, '2');
	EXPECT_EQ(0x03, in(LSR) & 0x03) << "overrun in 16450 mode";
	EXPECT_EQ('2', in(RBR)) << "the new byte overwrote the old";
	outp(MCR, 0x00);
	EXPECT_EQ(0xb0, in(MSR) & 0xf0) << "the host line: DCD, DSR, CTS";
}

TEST_F(UartTest, FifoTriggerLevelAndTimeout)
{
	outp(MCR, 0x08);
	outp(LCR, 0x83);
	outp(RBR, 1); // 115200 baud: 86.8 us a character at 8N1
	outp(IER, 0x00);
	outp(LCR, 0x03);
	outp(FCR, 0xc7); // FIFO on, cleared, trigger 14
	outp(IER, 0x01);
	type("0123456789");
	EXPECT_EQ(0xc1, in(IIR)) << "below the trigger level: no interrupt yet";
	EXPECT_EQ(0x01, in(LSR) & 0x01);
	uint64_t timeout = 4 * 868055;
	f.advance(timeout / 10 - 1);
	EXPECT_EQ(0, f.level[4]);
	f.advance(2);
	EXPECT_EQ(1, f.level[4]);
	EXPECT_EQ(0xcc, in(IIR)) << "character timeout";
	EXPECT_EQ('0', in(RBR));
	EXPECT_EQ(0xc1, in(IIR)) << "cleared by reading a byte; the timer starts over";
	EXPECT_EQ(0, f.level[4]);
	type("abcdef");
	EXPECT_EQ(0xc4, in(IIR)) << "15 bytes: over the trigger level";
	std::string got;
	while (in(LSR) & 1)
		got += (char)in(RBR);
	EXPECT_EQ("123456789abcdef", got);
	EXPECT_EQ(0xc1, in(IIR));
	EXPECT_EQ(CLOCK_NEVER, clock_next_deadline(f.vm->clock)) << "no timer with the FIFO empty";
}

TEST_F(UartTest, TriggerLevels)
{
	outp(IER, 0x01);
	const int levels[4] = {1, 4, 8, 14};
	for (int i = 0; i < 4; i++) {
		outp(FCR, (uint8_t)(i << 6 | 0x03));
		type(std::string((size_t)levels[i] - 1, 'x'));
		EXPECT_NE(0x04, in(IIR) & 0x0f) << levels[i];
		type("y");
		EXPECT_EQ(0x04, in(IIR) & 0x0f) << levels[i];
	}
}

TEST_F(UartTest, HostBytesWaitForTheGuest)
{
	outp(MCR, 0x08);
	outp(IER, 0x01); // no FIFO: one byte at a time
	type("abc");
	EXPECT_EQ(0x04, in(IIR));
	f.clear_edges();
	EXPECT_EQ('a', in(RBR));
	EXPECT_EQ(1, f.edges[4]) << "the next byte arrives as a new interrupt";
	EXPECT_EQ('b', in(RBR));
	EXPECT_EQ('c', in(RBR));
	EXPECT_EQ(0, in(LSR) & 1);
	EXPECT_EQ(0, f.level[4]);
	outp(FCR, 0x01);
	type(std::string(40, 'z'));
	int n = 0;
	while (in(LSR) & 1) {
		in(RBR);
		n++;
	}
	EXPECT_EQ(40, n) << "nothing lost: the host side waits";
}

TEST_F(UartTest, InterruptPriorities)
{
	outp(FCR, 0x01);
	outp(MCR, 0x10); // loopback to make errors and modem changes
	in(MSR);
	in(LSR);
	for (int i = 0; i < 17; i++)
		outp(RBR, (uint8_t)i); // the 17th overruns
	outp(MCR, 0x12); // CTS changes
	outp(IER, 0x0f);
	EXPECT_EQ(0x06, in(IIR) & 0x0f) << "line status first";
	EXPECT_EQ(0x03, in(LSR) & 0x03) << "overrun";
	EXPECT_EQ(0x04, in(IIR) & 0x0f) << "then received data";
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(i, in(RBR));
	EXPECT_EQ(0x02, in(IIR) & 0x0f) << "then THRE (cleared by this read)";
	EXPECT_EQ(0x00, in(IIR) & 0x0f) << "then modem status";
	in(MSR);
	EXPECT_EQ(0x01, in(IIR) & 0x0f);
}

TEST_F(UartTest, DivisorLatchAndScratch)
{
	outp(LCR, 0x80);
	outp(0, 0x34);
	outp(1, 0x12);
	EXPECT_EQ(0x34, in(0));
	EXPECT_EQ(0x12, in(1));
	outp(LCR, 0x03);
	EXPECT_EQ(0x00, in(IER)) << "IER again once DLAB is off";
	EXPECT_EQ(0x03, in(LCR));
	outp(SCR, 0x5a);
	EXPECT_EQ(0x5a, in(SCR));
}

TEST_F(UartTest, FcrClearsTheReceiver)
{
	outp(FCR, 0x01);
	type("abc");
	EXPECT_EQ(0xc1, in(IIR) | 0x01);
	outp(FCR, 0x03);
	EXPECT_EQ(0, in(LSR) & 1);
}

TEST_F(UartTest, InputFromAFileDescriptorUntilEof)
{
	int in_pipe[2];
	ASSERT_EQ(0, pipe(in_pipe));
	ASSERT_EQ(0, uart_attach_fds(u, in_pipe[0], out[1]));
	ASSERT_EQ(1, f.vm->nfds);
	ASSERT_EQ(3, write(in_pipe[1], "ok\n", 3));
	f.vm->fds[0].fn(f.vm->fds[0].opaque);
	EXPECT_EQ('o', in(RBR));
	EXPECT_EQ('k', in(RBR));
	EXPECT_EQ('\n', in(RBR));
	close(in_pipe[1]);
	f.vm->fds[0].fn(f.vm->fds[0].opaque);
	EXPECT_EQ(-1, f.vm->fds[0].fd) << "no longer polled after end of file";
	close(in_pipe[0]);
}

TEST_F(UartTest, OutputToAFile)
{
	std::string dir = temp_dir();
	ASSERT_EQ(0, uart_open_file(u, (dir + "/serial.txt").c_str()));
	outp(RBR, 'Z');
	EXPECT_EQ("Z", read_file(dir + "/serial.txt"));
	EXPECT_EQ(-EINVAL, uart_open_file(u, (dir + "/no/such/dir").c_str()));
}

TEST_F(UartTest, ResetClearsRegistersButKeepsTheDivisor)
{
	outp(LCR, 0x80);
	outp(0, 0x01);
	outp(LCR, 0x03);
	outp(IER, 0x0f);
	outp(MCR, 0x0b);
	outp(FCR, 0x01);
	type("x");
	f.reset();
	EXPECT_EQ(0x00, in(IER));
	EXPECT_EQ(0x01, in(IIR));
	EXPECT_EQ(0x00, in(MCR));
	EXPECT_EQ(0x00, in(LCR));
	outp(LCR, 0x80);
	EXPECT_EQ(0x01, in(0));
	EXPECT_EQ(0, f.level[4]);
}

} // namespace

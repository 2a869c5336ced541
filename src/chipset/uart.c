/*
 * The National Semiconductor PC16550D UART, after its datasheet (register
 * map, "FIFO interrupt mode operation", table of interrupt priorities,
 * loopback mode), as wired on the PC: the interrupt pin reaches the ISA
 * IRQ line only while MCR's OUT2 is set, and not in loopback mode, where
 * the 16550 holds its OUT pins inactive.
 *
 * Transmission takes no time: a byte written to THR leaves at once, so THR
 * and the transmitter are empty again by the next access, and the THRE
 * interrupt comes back (a fresh edge on the IRQ line) after every write,
 * as it does on the chip once the byte has moved on. Received bytes fill
 * the receive FIFO from a host-side buffer as fast as the guest empties it;
 * the character timeout is timed on the virtual clock at the programmed
 * baud rate and only armed while it can fire. The modem status inputs of a
 * port connected to the host read as DCD, DSR and CTS asserted.
 */
#include "uart.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define RX_FIFO 16
#define HOST_BUF (64 * 1024)
#define UART_HZ 115200u /* 1.8432 MHz / 16 */

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI */
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart {
	struct vm *vm;
	uint16_t base;
	int irq;
	uint8_t ier, lcr, mcr, fcr, scr;
	uint16_t divisor;
	uint8_t lsr_err;     /* OE/PE/FE/BI until LSR is read */
	uint8_t msr_lines;   /* the modem status inputs' levels (bits 4-7) */
	uint8_t msr_delta;   /* bits 0-3 until MSR is read */
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
	uint8_t last_rx;
	bool thr_ipending;   /* THRE interrupt latched */
	bool timeout_ipending;
	bool irq_level;
	struct timer timeout;
	int in_fd, out_fd;
	bool out_failed;
	int owned_fd;        /* a file we opened and close */
	bool tty_raw;
	struct termios tty_saved;
	void (*tap)(void *opaque, uint8_t byte);
	void *tap_opaque;
	uint8_t *host;       /* bytes on their way in */
	unsigned host_head, host_count;
	bool warned_drop;
};

static unsigned rx_capacity(const struct uart *u)
{
	return u->fcr & FCR_ENABLE ? RX_FIFO : 1;
}

static unsigned rx_trigger(const struct uart *u)
{
	static const unsigned level[4] = { 1, 4, 8, 14 };
	return u->fcr & FCR_ENABLE ? level[u->fcr >> 6] : 1;
}

/* The pending interrupt of highest priority, as IIR bits 0-3. */
static uint8_t pending_id(const struct uart *u)
{
	if ((u->ier & IER_RLSI) && (u->lsr_err & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count) {
		if (u->rx_count >= rx_trigger(u))
			return IIR_RDI;
		if (u->timeout_ipending)
			return IIR_CTI;
	}
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && (u->msr_delta & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	bool level = pending_id(u) != IIR_NONE && (u->mcr & MCR_OUT2) &&
		     !(u->mcr & MCR_LOOP);
	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->vm->isa_irq[u->irq], level);
	}
}

/* The time n characters take on the line. */
static uint64_t chars_ns(const struct uart *u, unsigned n)
{
	unsigned data = 5 + (u->lcr & 3);
	/* In half bits: start, data, parity, and 1, 1.5 or 2 stop bits. */
	unsigned half = 2 * (1 + data + (u->lcr & 0x08 ? 1 : 0)) +
			(u->lcr & 0x04 ? (data == 5 ? 3 : 4) : 2);
	uint64_t div = u->divisor ? u->divisor : 65536;
	return (uint64_t)half * n * div * NS_PER_SEC / (2 * UART_HZ);
}

/* The character timeout restarts whenever a byte enters or leaves the
 * receive FIFO, and runs only while it could interrupt. */
static void restart_timeout(struct uart *u)
{
	if ((u->fcr & FCR_ENABLE) && (u->ier & IER_RDI) && u->rx_count &&
	    !u->timeout_ipending)
		timer_mod(&u->timeout, clock_now(u->vm->clock) + chars_ns(u, 4));
	else
		timer_del(&u->timeout);
}

static void timeout_cb(void *opaque)
{
	struct uart *u = opaque;
	if (u->rx_count) {
		u->timeout_ipending = true;
		update_irq(u);
	}
}

/* A byte arrives at the receiver. */
static void receive(struct uart *u, uint8_t v)
{
	if (u->rx_count == rx_capacity(u)) {
		/* Overrun: the FIFO keeps its bytes and loses the new one; a
		 * 16450-mode RBR is overwritten. */
		u->lsr_err |= LSR_OE;
		if (!(u->fcr & FCR_ENABLE))
			u->rx[u->rx_head] = v;
		return;
	}
	u->rx[(u->rx_head + u->rx_count++) % RX_FIFO] = v;
}

/* Moves host bytes into the receiver while it has room (the line is cut
 * off from the receiver in loopback). */
static void refill(struct uart *u)
{
	bool moved = false;
	while (!(u->mcr & MCR_LOOP) && u->host_count && u->rx_count < rx_capacity(u)) {
		receive(u, u->host[u->host_head]);
		u->host_head = (u->host_head + 1) % HOST_BUF;
		u->host_count--;
		moved = true;
	}
	if (moved)
		restart_timeout(u);
}

static void clear_rx(struct uart *u)
{
	u->rx_head = u->rx_count = 0;
	u->timeout_ipending = false;
}

static void write_out(struct uart *u, uint8_t v)
{
	if (u->out_fd < 0 || u->out_failed)
		return;
	for (;;) {
		ssize_t n = write(u->out_fd, &v, 1);
		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = u->out_fd, .events = POLLOUT };
			poll(&p, 1, 100);
			continue;
		}
		if (!(n < 0 && errno == EPIPE))
			log_warn("serial port %#x: output failed (%s); dropping what "
				 "the guest writes from now on", u->base,
				 n < 0 ? strerror(errno) : "short write");
		u->out_failed = true;
		return;
	}
}

static void transmit(struct uart *u, uint8_t v)
{
	if (u->mcr & MCR_LOOP) {
		receive(u, v);
		restart_timeout(u);
		return;
	}
	if (u->tap)
		u->tap(u->tap_opaque, v);
	write_out(u, v);
}

static uint8_t modem_lines(const struct uart *u)
{
	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (uint8_t)((u->mcr & MCR_DTR ? MSR_DSR : 0) | (u->mcr & MCR_RTS ? MSR_CTS : 0) |
			 (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0));
}

static void update_modem_lines(struct uart *u)
{
	uint8_t now = modem_lines(u), old = u->msr_lines;
	uint8_t changed = now ^ old;
	if (changed & MSR_CTS)
		u->msr_delta |= 0x01;
	if (changed & MSR_DSR)
		u->msr_delta |= 0x02;
	if ((old & MSR_RI) && !(now & MSR_RI)) /* trailing edge of RI */
		u->msr_delta |= 0x04;
	if (changed & MSR_DCD)
		u->msr_delta |= 0x08;
	u->msr_lines = now;
}

static uint8_t read_rbr(struct uart *u)
{
	if (!u->rx_count)
		return u->last_rx;
	u->last_rx = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % RX_FIFO;
	u->rx_count--;
	u->timeout_ipending = false;
	/* The request drops with the byte; one arriving behind it raises it
	 * again as a new edge. */
	update_irq(u);
	refill(u);
	restart_timeout(u);
	return u->last_rx;
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t id = pending_id(u);
	if (id == IIR_THRI)
		u->thr_ipending = false;
	return (uint8_t)(id | (u->fcr & FCR_ENABLE ? IIR_FIFO : 0));
}

static void write_fcr(struct uart *u, uint8_t v)
{
	if ((v ^ u->fcr) & FCR_ENABLE) {
		/* Switching the FIFOs on or off empties them. */
		clear_rx(u);
		u->thr_ipending = true;
	}
	if (v & FCR_CLEAR_RX)
		clear_rx(u);
	if (v & FCR_CLEAR_TX)
		u->thr_ipending = true;
	u->fcr = v & (FCR_ENABLE | 0x08 | 0xc0);
	if (!(u->fcr & FCR_ENABLE))
		u->fcr = 0;
	refill(u);
	restart_timeout(u);
}

static uint64_t uart_io(void *opaque, uint64_t addr, uint64_t val,
			unsigned size, int is_write)
{
	struct uart *u = opaque;
	unsigned reg = (unsigned)(addr - u->base);
	uint8_t v = (uint8_t)val, r = 0xff;
	bool dlab = u->lcr & LCR_DLAB;
	(void)size;
	if (is_write) {
		switch (reg) {
		case 0:
			if (dlab) {
				u->divisor = (uint16_t)((u->divisor & 0xff00) | v);
				break;
			}
			u->thr_ipending = false;
			update_irq(u);
			transmit(u, v);
			u->thr_ipending = true; /* THR is empty again */
			break;
		case 1:
			if (dlab) {
				u->divisor = (uint16_t)((u->divisor & 0x00ff) | v << 8);
				break;
			}
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thr_ipending = true;
			u->ier = v & 0x0f;
			restart_timeout(u);
			break;
		case 2:
			write_fcr(u, v);
			break;
		case 3:
			u->lcr = v;
			break;
		case 4: {
			bool was_loop = u->mcr & MCR_LOOP;
			u->mcr = v & 0x1f;
			update_modem_lines(u);
			if (was_loop && !(u->mcr & MCR_LOOP))
				refill(u);
			break;
		}
		case 7:
			u->scr = v;
			break;
		default: /* LSR and MSR: factory test only */
			break;
		}
		update_irq(u);
		return 0;
	}
	switch (reg) {
	case 0:
		r = dlab ? (uint8_t)u->divisor : read_rbr(u);
		break;
	case 1:
		r = dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
		break;
	case 2:
		r = read_iir(u);
		break;
	case 3:
		r = u->lcr;
		break;
	case 4:
		r = u->mcr;
		break;
	case 5:
		r = (uint8_t)((u->rx_count ? LSR_DR : 0) | u->lsr_err | LSR_THRE | LSR_TEMT);
		u->lsr_err = 0;
		break;
	case 6:
		r = (uint8_t)(u->msr_lines | u->msr_delta);
		u->msr_delta = 0;
		break;
	case 7:
		r = u->scr;
		break;
	}
	update_irq(u);
	return r;
}

size_t uart_input(struct uart *u, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;
	while (n < len && u->host_count < HOST_BUF) {
		u->host[(u->host_head + u->host_count++) % HOST_BUF] = p[n++];
	}
	refill(u);
	update_irq(u);
	return n;
}

static void input_ready(void *opaque)
{
	struct uart *u = opaque;
	uint8_t buf[4096];
	struct pollfd p = { .fd = u->in_fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return;
	ssize_t n = read(u->in_fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		/* End of input: the line stays idle from now on. */
		vm_unwatch_fd(u->vm, u->in_fd);
		u->in_fd = -1;
		return;
	}
	if (n < 0)
		return;
	size_t took = uart_input(u, buf, (size_t)n);
	if (took < (size_t)n && !u->warned_drop) {
		u->warned_drop = true;
		log_warn("serial port %#x: the guest is not reading its input; "
			 "dropping what does not fit", u->base);
	}
}

int uart_attach_fds(struct uart *u, int in_fd, int out_fd)
{
	u->out_fd = out_fd;
	if (in_fd >= 0) {
		int err = vm_watch_fd(u->vm, in_fd, input_ready, u);
		if (err)
			return err;
		u->in_fd = in_fd;
	}
	return 0;
}

int uart_open_stdio(struct uart *u)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &u->tty_saved) == 0) {
		struct termios t = u->tty_saved;
		t.c_iflag &= (tcflag_t)~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
					 IGNCR | ICRNL | IXON);
		t.c_lflag &= (tcflag_t)~(ECHO | ECHONL | ICANON | IEXTEN);
		t.c_cflag = (t.c_cflag & (tcflag_t)~(CSIZE | PARENB)) | CS8;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		/* Only Ctrl-C stays a signal (ending pcvm, which restores the
		 * terminal); Ctrl-\ and Ctrl-Z go to the guest instead of
		 * killing or stopping pcvm with the terminal left raw. */
		t.c_cc[VQUIT] = _POSIX_VDISABLE;
		t.c_cc[VSUSP] = _POSIX_VDISABLE;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
			u->tty_raw = true;
	}
	/* A closed standard input would poll as invalid forever. */
	int in = fcntl(STDIN_FILENO, F_GETFD) >= 0 ? STDIN_FILENO : -1;
	return uart_attach_fds(u, in, STDOUT_FILENO);
}

int uart_open_file(struct uart *u, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("--serial file:%s: %s; check the path", path, strerror(errno));
		return -EINVAL;
	}
	u->owned_fd = fd;
	return uart_attach_fds(u, -1, fd);
}

void uart_set_tap(struct uart *u, void (*fn)(void *opaque, uint8_t byte),
		  void *opaque)
{
	u->tap = fn;
	u->tap_opaque = opaque;
}

static void uart_reset(void *opaque)
{
	struct uart *u = opaque;
	/* The 16550's MR pin: registers cleared except the divisor latch,
	 * SCR and the receive and transmit buffers' contents. */
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->fcr = 0;
	u->lsr_err = 0;
	u->msr_delta = 0;
	u->msr_lines = modem_lines(u);
	clear_rx(u);
	u->thr_ipending = false;
	timer_del(&u->timeout);
	update_irq(u);
	refill(u);
}

static void uart_free(void *opaque)
{
	struct uart *u = opaque;
	timer_del(&u->timeout);
	if (u->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &u->tty_saved);
	if (u->owned_fd >= 0)
		close(u->owned_fd);
	free(u->host);
	free(u);
}

int uart_create(struct vm *vm, uint16_t base, int irq, struct uart **out)
{
	if (irq < 0 || irq > 15)
		return -EINVAL;
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->host = malloc(HOST_BUF);
	u->owned_fd = -1;
	int err = u->host ? vm_add_cleanup_hook(vm, uart_free, u) : -ENOMEM;
	if (err) {
		free(u->host);
		free(u);
		return err;
	}
	u->vm = vm;
	u->base = base;
	u->irq = irq;
	u->in_fd = u->out_fd = -1;
	u->divisor = 12; /* 9600 baud until the guest says otherwise */
	timer_init(&u->timeout, vm->clock, timeout_cb, u, "uart-timeout");
	if ((err = ioport_register(vm->io, base, 8, uart_io, u, IOPORT_F_BYTE, "uart")) ||
	    (err = vm_add_reset_hook(vm, uart_reset, u)))
		return err;
	uart_reset(u);
	*out = u;
	return 0;
}

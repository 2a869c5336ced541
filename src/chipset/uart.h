/*
 * A 16550A UART (the PC's COM ports; COM1 is 0x3F8 on IRQ4) connected to
 * the host: output to a file descriptor, input from one, a tap that sees
 * every byte the guest sends, and an API to type into the port.
 */
#ifndef PCVM_CHIPSET_UART_H
#define PCVM_CHIPSET_UART_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct uart;

/* Claims ports base..base+7 and drives vm->isa_irq[irq]. Not connected to
 * anything yet: transmitted bytes go only to the tap. */
int uart_create(struct vm *vm, uint16_t base, int irq, struct uart **out);

/* Connects the port to pcvm's standard input and output. A terminal on
 * standard input is put in raw mode without echo (keeping Ctrl-C as
 * SIGINT) until the machine is destroyed. */
int uart_open_stdio(struct uart *u);
/* Sends the port's output to a new (or truncated) file. -EINVAL with a
 * message naming the file if it cannot be created. */
int uart_open_file(struct uart *u, const char *path);
/* Lower level: output to out_fd and input from in_fd (either -1 for none);
 * the port does not close them. */
int uart_attach_fds(struct uart *u, int in_fd, int out_fd);

/* fn sees every byte the guest transmits (not in loopback), whatever the
 * port is connected to. One tap; NULL removes it. */
void uart_set_tap(struct uart *u, void (*fn)(void *opaque, uint8_t byte),
		  void *opaque);

/* Queues bytes for the guest to receive, as if typed on the line. Returns
 * how many fit in the host-side buffer. */
size_t uart_input(struct uart *u, const void *buf, size_t len);

#endif

/*
 * Port I/O dispatch: the 64 Ki x86 I/O ports, each owned by at most one
 * device. Unclaimed ports read as all ones and ignore writes, as on an ISA
 * bus with nothing answering.
 */
#ifndef PCVM_IOPORT_H
#define PCVM_IOPORT_H

#include <stdint.h>

/*
 * One handler shape serves port I/O and MMIO: addr is the absolute port or
 * guest-physical address, size is 1, 2, 4 (or 8 for MMIO), val is the value
 * written (is_write != 0); the return value is the value read (ignored for
 * writes). Only the low size*8 bits of either are meaningful.
 */
typedef uint64_t (*io_handler_fn)(void *opaque, uint64_t addr, uint64_t val,
				  unsigned size, int is_write);

/* Wider accesses are split into single-byte accesses on consecutive ports,
 * as an 8-bit ISA device sees them. */
#define IOPORT_F_BYTE 1u

struct ioport;

int ioport_create(struct ioport **out);
void ioport_destroy(struct ioport *io);

/* Claims [base, base+len). Returns -EEXIST on overlap, -EINVAL on a bad
 * range, -ENOMEM when the table is full. */
int ioport_register(struct ioport *io, uint16_t base, uint32_t len,
		    io_handler_fn fn, void *opaque, unsigned flags,
		    const char *name);
/* Releases the range registered at base (used when a PCI BAR moves). */
int ioport_unregister(struct ioport *io, uint16_t base);

/* The name of the owner of a port, or NULL. */
const char *ioport_owner(const struct ioport *io, uint16_t port);

uint32_t ioport_read(struct ioport *io, uint16_t port, unsigned size);
void ioport_write(struct ioport *io, uint16_t port, uint32_t val,
		  unsigned size);

#endif

/*
 * Port I/O dispatch. A 64 Ki table maps every port to the index of its
 * owner, so a guest IN/OUT costs one table load and one indirect call.
 * An access that spans two owners, or reaches an 8-bit device, is split into
 * byte accesses like the ISA bus's byte lanes would do it.
 */
#include "ioport.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct io_owner {
	uint16_t base;
	uint32_t len;
	io_handler_fn fn;
	void *opaque;
	unsigned flags;
	const char *name;
	int used;
};

#define IOPORT_MAX_OWNERS 1024

struct ioport {
	uint16_t map[65536]; /* 0 = unclaimed, else owner index + 1 */
	struct io_owner owners[IOPORT_MAX_OWNERS];
};

int ioport_create(struct ioport **out)
{
	struct ioport *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	*out = io;
	return 0;
}

void ioport_destroy(struct ioport *io)
{
	free(io);
}

int ioport_register(struct ioport *io, uint16_t base, uint32_t len,
		    io_handler_fn fn, void *opaque, unsigned flags,
		    const char *name)
{
	if (!len || !fn || (uint32_t)base + len > 65536)
		return -EINVAL;
	for (uint32_t p = base; p < (uint32_t)base + len; p++) {
		if (io->map[p]) {
			log_error("I/O ports %#x-%#x (%s) overlap %s at %#x",
				  base, base + len - 1, name ? name : "?",
				  io->owners[io->map[p] - 1].name, p);
			return -EEXIST;
		}
	}
	int slot = -1;
	for (int i = 0; i < IOPORT_MAX_OWNERS; i++) {
		if (!io->owners[i].used) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return -ENOMEM;
	io->owners[slot] = (struct io_owner){ base, len, fn, opaque, flags,
					      name ? name : "?", 1 };
	for (uint32_t p = base; p < (uint32_t)base + len; p++)
		io->map[p] = (uint16_t)(slot + 1);
	return 0;
}

int ioport_unregister(struct ioport *io, uint16_t base)
{
	uint16_t idx = io->map[base];
	if (!idx || io->owners[idx - 1].base != base)
		return -ENOENT;
	struct io_owner *o = &io->owners[idx - 1];
	for (uint32_t p = o->base; p < o->base + o->len; p++)
		io->map[p] = 0;
	o->used = 0;
	return 0;
}

const char *ioport_owner(const struct ioport *io, uint16_t port)
{
	uint16_t idx = io->map[port];
	return idx ? io->owners[idx - 1].name : NULL;
}

/* Can a size-byte access at port go to one owner in one call? */
static struct io_owner *whole(struct ioport *io, uint16_t port, unsigned size)
{
	uint16_t idx = io->map[port];
	if (!idx)
		return NULL;
	struct io_owner *o = &io->owners[idx - 1];
	if (size == 1)
		return o;
	if (o->flags & IOPORT_F_BYTE)
		return NULL;
	if ((uint32_t)port + size > (uint32_t)o->base + o->len)
		return NULL;
	return o;
}

uint32_t ioport_read(struct ioport *io, uint16_t port, unsigned size)
{
	struct io_owner *o = whole(io, port, size);
	if (o)
		return (uint32_t)o->fn(o->opaque, port, 0, size, 0);
	if (size == 1) {
		log_trace("read from unclaimed I/O port %#x", port);
		return 0xff;
	}
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= ioport_read(io, (uint16_t)(port + i), 1) << (8 * i);
	return v;
}

void ioport_write(struct ioport *io, uint16_t port, uint32_t val,
		  unsigned size)
{
	struct io_owner *o = whole(io, port, size);
	if (o) {
		o->fn(o->opaque, port, val, size, 1);
		return;
	}
	if (size == 1) {
		log_trace("write %#x to unclaimed I/O port %#x", val & 0xff, port);
		return;
	}
	for (unsigned i = 0; i < size; i++)
		ioport_write(io, (uint16_t)(port + i), (val >> (8 * i)) & 0xff, 1);
}

/*
 * The PC/AT's two 8237A DMA controllers (channels 0-3 byte-wide at 0x00,
 * 4-7 word-wide at 0xC0, channel 4 cascading the first), their page
 * registers at 0x80-0x8F (0x80 being the BIOS POST code port), and the
 * device side that ISA devices such as the floppy controller use.
 */
#ifndef PCVM_CHIPSET_DMA_H
#define PCVM_CHIPSET_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct dma;

int dma_create(struct vm *vm, struct dma **out);

/* Whether channel ch (0-7) would transfer now: controller enabled, channel
 * unmasked, and for channels 0-3 the cascade channel 4 too. */
bool dma_ready(struct dma *d, int ch);

/*
 * A device's data transfer on channel ch, as the guest programmed the
 * channel (address, count, page, increment or decrement, auto-init). The
 * device offers len bytes; the channel moves as many as its count allows
 * (all of them, whole words on channels 5-7) and returns that number, 0 if
 * the channel is not ready. *tc tells whether the count ran out (terminal
 * count). Every address goes through the guest's memory map.
 *
 * dma_write_memory: device to memory (the channel should be programmed for
 * a write transfer). dma_read_memory: memory to device (a read transfer).
 * A channel programmed the other way, or for verify, moves its address and
 * count without touching memory; a device reading then sees 0xFF.
 */
size_t dma_write_memory(struct dma *d, int ch, const void *buf, size_t len, bool *tc);
size_t dma_read_memory(struct dma *d, int ch, void *buf, size_t len, bool *tc);

/* The last value written to port 0x80. */
uint8_t dma_post_code(const struct dma *d);

#endif

/*
 * The MC146818-compatible real-time clock and its 128 bytes of CMOS RAM at
 * ports 0x70/0x71, with interrupts on IRQ8 and the configuration bytes
 * SeaBIOS reads on a QEMU-style PC (memory sizes, CPU count, floppy types,
 * boot order).
 */
#ifndef PCVM_CHIPSET_RTC_H
#define PCVM_CHIPSET_RTC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct rtc;

/* base_time for rtc_create: take the host's clock (UTC) at creation. */
#define RTC_BASE_HOST INT64_MIN

/* CMOS bytes the board fills in. */
#define RTC_CMOS_SHUTDOWN 0x0f
#define RTC_CMOS_FLOPPY 0x10     /* drive A type << 4 | drive B type */
#define RTC_CMOS_EQUIPMENT 0x14
#define RTC_CMOS_CENTURY 0x32
#define RTC_CMOS_BOOT1 0x38      /* third boot device << 4 | no floppy check */
#define RTC_CMOS_BOOT2 0x3d      /* second << 4 | first boot device */
#define RTC_CMOS_SMP_COUNT 0x5f  /* CPUs - 1 */

/* Claims ports 0x70-0x71 and drives vm->isa_irq[8]. The clock reads
 * base_time (seconds since 1970-01-01 00:00 UTC; RTC_BASE_HOST for the
 * host's time) at the moment of creation and runs on the virtual clock from
 * there. The memory-size bytes come from vm->ram_below_4g and ram_above_4g;
 * the CPU count is 1 until rtc_cmos_set() says otherwise. */
int rtc_create(struct vm *vm, int64_t base_time, struct rtc **out);

/* Raw CMOS RAM access for the board (index 0x0e-0x7f); keeps the standard
 * checksum at 0x2e/0x2f over 0x10-0x2d. */
void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t val);
uint8_t rtc_cmos_get(struct rtc *r, unsigned index);

/* Boot order for SeaBIOS on QEMU-style machines: up to three of the
 * letters a or b (floppy), c (hard disk), d (CD-ROM), n (network), in
 * order; check_floppy_sig false lets a floppy without the 0x55AA boot
 * signature boot. -EINVAL (nothing changed) for anything else. */
int rtc_set_boot_order(struct rtc *r, const char *order, bool check_floppy_sig);

/* Floppy drive types for CMOS 0x10 (0 none, 1 360K, 2 1.2M, 3 720K,
 * 4 1.44M, 5 2.88M) and the matching equipment bits of 0x14. */
void rtc_set_floppy_types(struct rtc *r, int drive_a, int drive_b);

/* The clock's time now, in seconds since 1970 UTC. */
int64_t rtc_get_time(struct rtc *r);

/* Bit 7 of the last index written to port 0x70: NMIs masked. */
bool rtc_nmi_masked(const struct rtc *r);

#endif

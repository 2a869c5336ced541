/*
 * Function 3 of the Intel 82371AB (PIIX4), power management, after its
 * datasheet (Intel 290562, sections 7 and 11: PCI configuration and
 * power-management I/O registers) and the ACPI 1.0 specification's fixed
 * hardware (section 4.7: PM1 status/enable/control, the PM timer, SCI):
 * - PMBA (0x40) places the 64-byte PM block while PMREGMISC bit 0 is set;
 *   PM1_STS (+0, write one to clear), PM1_EN (+2), PM1_CNT (+4: SCI_EN,
 *   SUS_TYP, SUS_EN) and the 24-bit PM timer (+8) counting at 3.579545 MHz
 *   from the machine's virtual clock, setting TMROF_STS whenever its bit 23
 *   toggles; the rest of the block is storage.
 * - The SCI is ISA IRQ 9, high while SCI_EN is set and an enabled status
 *   bit (PM1 or GPE0) is set.
 * - SUS_EN with sleep type 0, which SeaBIOS's tables give as \_S5, powers
 *   off. S3 and S4 are not offered (fw_cfg tells SeaBIOS so).
 * - pcvm's CPUs have no System Management Mode, so what a BIOS's SMI
 *   handler would do for the APM control port 0xB2 happens here: the
 *   FADT's ACPI_ENABLE/ACPI_DISABLE values (0xF1/0xF0) set or clear
 *   SCI_EN; and DEVACTB's APMC_EN starts set so SeaBIOS skips SMM setup.
 * - The SMBus host at SMBBA has no devices: every transaction ends with
 *   DEV_ERR, as a bus where nobody acknowledges.
 * - SeaBIOS's DSDT reads the GPE0 block at 0xAFE0, PCI hotplug status at
 *   0xAE00-0xAE0F and the CPU-present bitmap at 0xAF00: nothing is ever
 *   hot-plugged, one CPU is present.
 */
#include "acpi.h"
#include "pci.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PM_SIZE 64
#define SMB_SIZE 16

#define STS_TMROF 0x0001
#define STS_BM 0x0010
#define STS_GBL 0x0020
#define STS_PWRBTN 0x0100
#define STS_RTC 0x0400
#define STS_WAK 0x8000
#define EN_MASK (STS_TMROF | STS_GBL | STS_PWRBTN | STS_RTC)
#define CNT_SCI_EN 0x0001
#define CNT_SUS_TYP_SHIFT 10
#define CNT_SUS_EN 0x2000

#define SMBBA 0x90
#define SMBHSTCFG 0xd2
#define DEVACTB 0x58

struct acpi_pm {
	struct pci_device dev;
	struct vm *vm;
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint8_t regs[PM_SIZE];   /* the rest of the PM block */
	uint16_t gpe_sts, gpe_en;
	uint8_t apmc, apms;
	uint8_t smb[SMB_SIZE];
	uint16_t pm_base, smb_base;  /* where the blocks decode; 0: off */
	uint64_t tmr_epoch;          /* timer ticks >> 23 when last checked */
	struct timer ovf;
	int sci;
	bool warned_sleep;
};

static uint64_t ticks(struct acpi_pm *pm)
{
	uint64_t ns = clock_now(pm->vm->clock);
	return (uint64_t)((unsigned __int128)ns * ACPI_PM_FREQ / NS_PER_SEC);
}

/* Notes bit-23 toggles of the timer since the last look. */
static void check_overflow(struct acpi_pm *pm)
{
	uint64_t epoch = ticks(pm) >> 23;
	if (epoch != pm->tmr_epoch) {
		pm->tmr_epoch = epoch;
		pm->pm1_sts |= STS_TMROF;
	}
}

static void update_sci(struct acpi_pm *pm)
{
	int level = (pm->pm1_cnt & CNT_SCI_EN) &&
		    ((pm->pm1_sts & pm->pm1_en & EN_MASK) || (pm->gpe_sts & pm->gpe_en));
	if (level != pm->sci) {
		pm->sci = level;
		irq_set(&pm->vm->isa_irq[9], level);
	}
	/* Wake at the next toggle only when it would raise the SCI. */
	if ((pm->pm1_en & STS_TMROF) && (pm->pm1_cnt & CNT_SCI_EN)) {
		unsigned __int128 next = (unsigned __int128)(pm->tmr_epoch + 1) << 23;
		uint64_t ns = (uint64_t)((next * NS_PER_SEC + ACPI_PM_FREQ - 1) / ACPI_PM_FREQ);
		timer_mod(&pm->ovf, ns);
	} else {
		timer_del(&pm->ovf);
	}
}

static void overflow_cb(void *opaque)
{
	struct acpi_pm *pm = opaque;
	check_overflow(pm);
	update_sci(pm);
}

static void sleep_request(struct acpi_pm *pm, unsigned typ)
{
	if (typ == 0) {
		log_info("the guest powered off (ACPI S5)");
		vm_request_stop(pm->vm, VM_END_POWEROFF, 0);
		return;
	}
	if (!pm->warned_sleep)
		log_warn("the guest asked for ACPI sleep type %u, which this machine "
			 "does not offer; ignored", typ);
	pm->warned_sleep = true;
}

static uint8_t pm_read_byte(struct acpi_pm *pm, unsigned off, uint32_t tmr)
{
	switch (off) {
	case 0: return (uint8_t)pm->pm1_sts;
	case 1: return (uint8_t)(pm->pm1_sts >> 8);
	case 2: return (uint8_t)pm->pm1_en;
	case 3: return (uint8_t)(pm->pm1_en >> 8);
	case 4: return (uint8_t)pm->pm1_cnt;
	case 5: return (uint8_t)(pm->pm1_cnt >> 8);
	case 8: case 9: case 10: case 11:
		return (uint8_t)(tmr >> (8 * (off - 8)));
	case 0x14: case 0x15: /* PLVL2/PLVL3: entering C2/C3 is a no-op */
		return 0;
	default:
		return pm->regs[off];
	}
}

static void pm_write_byte(struct acpi_pm *pm, unsigned off, uint8_t b)
{
	switch (off) {
	case 0: pm->pm1_sts &= (uint16_t)~b; break;
	case 1: pm->pm1_sts &= (uint16_t)~(b << 8); break;
	case 2: pm->pm1_en = (uint16_t)((pm->pm1_en & 0xff00) | (b & EN_MASK)); break;
	case 3: pm->pm1_en = (uint16_t)((pm->pm1_en & 0x00ff) | ((b << 8) & EN_MASK)); break;
	case 4: /* GBL_RLS (bit 2) would signal the BIOS; not stored */
		pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & 0xff00) | (b & 0x03));
		break;
	case 5:
		pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & 0x00ff) | ((b & 0x1c) << 8));
		if (b & (CNT_SUS_EN >> 8))
			sleep_request(pm, (b >> 2) & 7);
		break;
	case 8: case 9: case 10: case 11:
		break;
	default:
		pm->regs[off] = b;
	}
}

static uint64_t pm_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		      int is_write)
{
	struct acpi_pm *pm = opaque;
	unsigned off = (unsigned)(port - pm->pm_base);
	check_overflow(pm);
	uint64_t r = 0;
	uint32_t tmr = (uint32_t)(ticks(pm) & 0xffffff);
	for (unsigned i = 0; i < size && off + i < PM_SIZE; i++) {
		if (is_write)
			pm_write_byte(pm, off + i, (uint8_t)(val >> (8 * i)));
		else
			r |= (uint64_t)pm_read_byte(pm, off + i, tmr) << (8 * i);
	}
	if (is_write)
		update_sci(pm);
	return r;
}

static uint64_t gpe_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct acpi_pm *pm = opaque;
	unsigned off = (unsigned)(port - ACPI_GPE0_BASE);
	uint64_t r = 0;
	for (unsigned i = 0; i < size && off + i < 4; i++) {
		unsigned o = off + i, sh = 8 * (o & 1);
		uint16_t *reg = o < 2 ? &pm->gpe_sts : &pm->gpe_en;
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (is_write && o < 2)
			*reg &= (uint16_t)~(b << sh);
		else if (is_write)
			*reg = (uint16_t)((*reg & ~(0xff << sh)) | b << sh);
		else
			r |= (uint64_t)((*reg >> sh) & 0xff) << (8 * i);
	}
	if (is_write)
		update_sci(pm);
	return r;
}

/* PCIU/PCID/B0EJ/RMV: nothing comes, goes or may be ejected. */
static uint64_t pcihp_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
			 int is_write)
{
	(void)opaque; (void)port; (void)val; (void)size; (void)is_write;
	return 0;
}

/* One bit per present CPU. */
static uint64_t cpuhp_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
			 int is_write)
{
	(void)opaque; (void)val;
	if (is_write)
		return 0;
	uint64_t r = 0;
	for (unsigned i = 0; i < size; i++)
		if (port + i == 0xaf00)
			r |= 1ull << (8 * i);
	return r;
}

static uint64_t apm_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct acpi_pm *pm = opaque;
	uint64_t r = 0;
	for (unsigned i = 0; i < size && port + i <= 0xb3; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (port + i == 0xb2) {
			if (is_write) {
				pm->apmc = b;
				if (b == ACPI_ENABLE_CMD)
					pm->pm1_cnt |= CNT_SCI_EN;
				else if (b == ACPI_DISABLE_CMD)
					pm->pm1_cnt &= (uint16_t)~CNT_SCI_EN;
				update_sci(pm);
			}
			r |= (uint64_t)pm->apmc << (8 * i);
		} else {
			if (is_write)
				pm->apms = b;
			r |= (uint64_t)pm->apms << (8 * i);
		}
	}
	return r;
}

static uint64_t smb_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct acpi_pm *pm = opaque;
	unsigned off = (unsigned)(port - pm->smb_base);
	uint64_t r = 0;
	for (unsigned i = 0; i < size && off + i < SMB_SIZE; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (!is_write) {
			/* HST_CNT's START and KILL bits read as zero */
			uint8_t v = o == 2 ? pm->smb[o] & 0x1d : pm->smb[o];
			r |= (uint64_t)v << (8 * i);
			continue;
		}
		if (o == 0) {             /* HST_STS: write one to clear */
			pm->smb[0] &= (uint8_t)~(b & 0x1e);
		} else if (o == 2) {      /* HST_CNT */
			pm->smb[2] = b;
			if (b & 0x02)          /* KILL */
				pm->smb[0] |= 0x10;
			else if (b & 0x40)     /* START: no device acknowledges */
				pm->smb[0] |= 0x04;
		} else {
			pm->smb[o] = b;
		}
	}
	return r;
}

static void move_block(struct acpi_pm *pm, uint16_t *cur, uint16_t want,
		       uint32_t len, io_handler_fn fn, const char *name)
{
	if (*cur == want)
		return;
	if (*cur)
		ioport_unregister(pm->vm->io, *cur);
	*cur = 0;
	if (!want)
		return;
	if (ioport_register(pm->vm->io, want, len, fn, pm, 0, name)) {
		log_warn("%s: the guest placed it at port %#x over another device; "
			 "not decoding it there", name, want);
		return;
	}
	*cur = want;
}

static void update_decode(struct acpi_pm *pm)
{
	struct pci_device *d = &pm->dev;
	uint16_t pmba = (uint16_t)(pci_get_long(d, ACPI_PMBA) & 0xffc0);
	bool pm_on = d->config[ACPI_PMREGMISC] & 1;
	move_block(pm, &pm->pm_base, pm_on ? pmba : 0, PM_SIZE, pm_io, "acpi-pm");
	uint16_t smba = (uint16_t)(pci_get_long(d, SMBBA) & 0xfff0);
	bool smb_on = (pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_IO) &&
		      (d->config[SMBHSTCFG] & 1);
	move_block(pm, &pm->smb_base, smb_on ? smba : 0, SMB_SIZE, smb_io, "smbus");
}

static void config_write(struct pci_device *d, unsigned off, uint32_t val,
			 unsigned size)
{
	(void)val;
	unsigned end = off + size;
	if ((off < ACPI_PMBA + 4 && end > ACPI_PMBA) ||
	    (off <= ACPI_PMREGMISC && end > ACPI_PMREGMISC) ||
	    (off < SMBBA + 4 && end > SMBBA) ||
	    (off <= SMBHSTCFG && end > SMBHSTCFG) ||
	    (off <= PCI_COMMAND && end > PCI_COMMAND))
		update_decode(d->opaque);
}

static void pm_reset(struct pci_device *d)
{
	struct acpi_pm *pm = d->opaque;
	pm->pm1_sts = pm->pm1_en = pm->pm1_cnt = 0;
	memset(pm->regs, 0, sizeof(pm->regs));
	memset(pm->smb, 0, sizeof(pm->smb));
	pm->gpe_sts = pm->gpe_en = 0;
	pm->apmc = pm->apms = 0;
	pm->tmr_epoch = ticks(pm) >> 23;
	update_decode(pm);
	update_sci(pm);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pm->pm1_sts |= STS_PWRBTN;
	update_sci(pm);
}

static void pm_free(void *opaque)
{
	struct acpi_pm *pm = opaque;
	timer_del(&pm->ovf);
	free(pm);
}

int acpi_pm_create(struct vm *vm, struct pci_bus *bus, int slot, int fn,
		   struct acpi_pm **out)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, pm_free, pm);
	if (err) {
		free(pm);
		return err;
	}
	pm->vm = vm;
	timer_init(&pm->ovf, vm->clock, overflow_cb, pm, "acpi-pm-timer");
	struct pci_device *d = &pm->dev;
	d->name = "piix4-pm";
	d->opaque = pm;
	d->config_write = config_write;
	d->reset = pm_reset;
	pci_set_ids(d, 0x8086, 0x7113, 0x03, 0x068000);
	pci_set_word(d, PCI_STATUS, 0x0280);
	d->wmask[PCI_COMMAND] = PCI_COMMAND_IO;
	d->w1cmask[PCI_STATUS + 1] = 0x38;
	d->config[PCI_INTERRUPT_PIN] = 1;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	memset(d->wmask + 0x44, 0xff, 0x80 - 0x44); /* CNTA .. DEVRES registers */
	d->config[ACPI_PMBA] = 0x01;                /* I/O space indicator */
	d->wmask[ACPI_PMBA] = 0xc0;
	d->wmask[ACPI_PMBA + 1] = 0xff;
	d->wmask[ACPI_PMREGMISC] = 0x01;
	d->config[SMBBA] = 0x01;
	d->wmask[SMBBA] = 0xf0;
	d->wmask[SMBBA + 1] = 0xff;
	d->wmask[SMBHSTCFG] = 0x0f;
	/* No SMM: report the APM-control SMI as already set up. */
	d->config[DEVACTB + 3] = 0x02;
	/* The device resource bits SeaBIOS's DSDT reads: COM1 present, no
	 * LPT, no COM2. */
	d->config[0x5f] = 0x10;
	d->config[0x67] = 0x08;
	if ((err = pci_add_device(bus, d, slot, fn)))
		return err;
	if ((err = ioport_register(vm->io, ACPI_GPE0_BASE, 4, gpe_io, pm, 0, "acpi-gpe0")) ||
	    (err = ioport_register(vm->io, 0xae00, 16, pcihp_io, pm, 0, "acpi-pcihp")) ||
	    (err = ioport_register(vm->io, 0xaf00, 32, cpuhp_io, pm, 0, "acpi-cpuhp")) ||
	    (err = ioport_register(vm->io, ACPI_SMI_CMD, 2, apm_io, pm, 0, "apm")))
		return err;
	pm->tmr_epoch = ticks(pm) >> 23;
	if (out)
		*out = pm;
	return 0;
}

/*
 * The 82441FX PCI and Memory Controller (PMC) of the Intel 440FX PCIset, as
 * its datasheet (Intel 290549, section 3.2: configuration registers)
 * describes it, reduced to what a BIOS and an OS use: identification, the
 * seven Programmable Attribute Map registers 0x59-0x5F (section 3.2.18),
 * which give each 16 KiB segment of 0xC0000-0xEFFFF and the 64 KiB segment
 * at 0xF0000 separate read-enable and write-enable bits, and the SMRAM
 * control register 0x72 with its lock. pcvm's CPUs have no System
 * Management Mode, so SMRAM stays closed: the register keeps its value and
 * the 0xA0000 window always belongs to VGA. The other DRAM controller
 * registers are plain storage; memory sizing comes from fw_cfg.
 */
#include "i440fx.h"
#include "pci.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SMRAM_D_OPEN 0x40
#define SMRAM_D_CLS 0x20
#define SMRAM_D_LCK 0x10
#define SMRAM_G_SMRAME 0x08
#define SMRAM_C_BASE_SEG 0x02 /* 0xA0000, hardwired */

struct i440fx {
	struct pci_device dev;
	struct vm *vm;
	uint8_t smram;
};

/* Segment 0-11 is 0xC0000 + 16 KiB * seg, nibble (seg & 1) of register
 * 0x5A + seg / 2; segment 12 is 0xF0000, the high nibble of PAM0. */
static void apply_pam(struct i440fx *s)
{
	for (int seg = 0; seg < VM_PAM_SEGMENTS; seg++) {
		uint8_t attr = seg == 12 ? s->dev.config[I440FX_PAM0] >> 4
					 : s->dev.config[0x5a + seg / 2] >> (seg & 1 ? 4 : 0);
		vm_pam_set(s->vm, seg, attr & 1, attr & 2);
	}
}

static void config_write(struct pci_device *d, unsigned off, uint32_t val,
			 unsigned size)
{
	(void)val;
	struct i440fx *s = d->opaque;
	if (off <= 0x5f && off + size > I440FX_PAM0)
		apply_pam(s);
	if (off <= I440FX_SMRAM && off + size > I440FX_SMRAM) {
		uint8_t v = d->config[I440FX_SMRAM];
		if (s->smram & SMRAM_D_LCK) {
			/* Locked until reset: only D_CLS still changes. */
			v = (uint8_t)((s->smram & ~SMRAM_D_CLS) | (v & SMRAM_D_CLS));
		} else if (v & SMRAM_D_LCK) {
			v &= (uint8_t)~SMRAM_D_OPEN;
		}
		if ((v & (SMRAM_D_OPEN | SMRAM_D_CLS)) == (SMRAM_D_OPEN | SMRAM_D_CLS))
			v &= (uint8_t)~SMRAM_D_OPEN; /* both set is invalid */
		s->smram = (uint8_t)((v & ~0x07) | SMRAM_C_BASE_SEG);
		d->config[I440FX_SMRAM] = s->smram;
	}
}

static void reset(struct pci_device *d)
{
	struct i440fx *s = d->opaque;
	s->smram = d->config[I440FX_SMRAM];
	apply_pam(s);
}

static void destroy(void *opaque)
{
	free(opaque);
}

static void set_range(struct pci_device *d, unsigned from, unsigned to, uint8_t mask)
{
	memset(d->wmask + from, mask, to - from + 1);
}

int i440fx_create(struct vm *vm, struct pci_bus *bus, struct i440fx **out)
{
	struct i440fx *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct pci_device *d = &s->dev;
	s->vm = vm;
	d->name = "i440fx";
	d->opaque = s;
	d->config_write = config_write;
	d->reset = reset;
	pci_set_ids(d, 0x8086, 0x1237, 0x02, 0x060000);
	pci_set_word(d, PCI_COMMAND, 0x0006); /* memory and bus master: always on */
	pci_set_word(d, PCI_STATUS, 0x0280);
	d->wmask[PCI_COMMAND] = 0x40;      /* parity error response */
	d->wmask[PCI_COMMAND + 1] = 0x01;  /* SERR# enable */
	d->w1cmask[PCI_STATUS + 1] = 0xf9; /* error bits */
	d->wmask[0x0d] = 0xf8;             /* latency timer */
	set_range(d, 0x50, 0x58, 0xff);    /* PMCCFG .. DRAMT */
	d->wmask[I440FX_PAM0] = 0x30;
	set_range(d, 0x5a, 0x5f, 0x33);
	set_range(d, 0x60, 0x68, 0xff);    /* DRB0-7, FDHC */
	memset(d->config + 0x60, 0x01, 8); /* DRB defaults */
	set_range(d, 0x70, 0x71, 0xff);    /* MTT, CLT */
	d->config[I440FX_SMRAM] = SMRAM_C_BASE_SEG;
	d->wmask[I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
	d->wmask[0x90] = 0xff;             /* ERRCMD */
	d->w1cmask[0x91] = 0xff;           /* ERRSTS */
	s->smram = SMRAM_C_BASE_SEG;
	int err = vm_add_cleanup_hook(vm, destroy, s);
	if (err) {
		free(s);
		return err;
	}
	if ((err = pci_add_device(bus, d, 0, 0)))
		return err;
	apply_pam(s);
	if (out)
		*out = s;
	return 0;
}

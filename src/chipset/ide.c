/*
 * The IDE function of the Intel 82371SB (PIIX3) with its ATA and ATAPI
 * drives. The controller follows the PIIX3 datasheet (Intel 290550,
 * sections 2.4-2.6: IDE configuration registers, bus-master IDE I/O
 * registers and the physical region descriptor format) and SFF-8038i (bus
 * master IDE): the legacy channels decode only while the PCI I/O enable and
 * the channel's IDETIM decode-enable bit are set, and a transfer moves
 * through the PRD table, 8-byte entries of address and even byte count
 * (0 meaning 64 KiB) ending at the one with bit 31 set. The drives follow
 * ATA/ATAPI-6 (T13 1410D): the register block, the status and error bits,
 * PIO data-in/data-out/non-data and DMA protocols with their interrupts,
 * software reset and the device signatures, IDENTIFY DEVICE's word layout;
 * the CD-ROM follows MMC-3 (T10 1363-D) and SFF-8020i for the PACKET
 * protocol (interrupt reason in the sector count register, byte count in
 * the cylinder registers) and the commands a BIOS and an OS send to a
 * CD/DVD reader. Commands run to completion when the guest issues them.
 */
#include "ide.h"
#include "pci.h"
#include "../disk/block.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCVM_VERSION
#define PCVM_VERSION "0.1"
#endif

#define SECTOR 512u
#define CD_BLOCK 2048u
#define BUF_SIZE (64u * 1024)
#define MAX_MULT 16
#define PRD_MAX (0x10000 / 8) /* a PRD table cannot cross 64 KiB */
/* Discs larger than this are DVDs (CD-ROM capacity at 90 minutes). */
#define CD_MAX_BLOCKS 405000u

/* Status register */
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DSC 0x10
#define ST_DF 0x20
#define ST_DRDY 0x40
#define ST_BSY 0x80
/* Error register */
#define ER_AMNF 0x01
#define ER_ABRT 0x04
#define ER_IDNF 0x10
#define ER_UNC 0x40
/* Device control register */
#define DC_NIEN 0x02
#define DC_SRST 0x04
#define DC_HOB 0x80
/* Device/head register */
#define DH_LBA 0x40
#define DH_DEV 0x10
/* ATAPI interrupt reason (sector count register) */
#define IR_COD 0x01
#define IR_IO 0x02

/* Bus-master registers */
#define BM_CMD_START 0x01
#define BM_CMD_TO_MEM 0x08
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INTR 0x04

/* SCSI sense keys and additional sense codes */
#define SK_NO_SENSE 0x0
#define SK_NOT_READY 0x2
#define SK_MEDIUM_ERROR 0x3
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_OUT_OF_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_SAVING_NOT_SUPPORTED 0x39
#define ASC_MEDIUM_NOT_PRESENT 0x3a
#define ASC_UNRECOVERED_READ 0x11
#define ASC_REMOVAL_PREVENTED 0x53

/* GET EVENT STATUS NOTIFICATION media event codes */
#define EV_NONE 0
#define EV_EJECT_REQUEST 1
#define EV_NEW_MEDIA 2
#define EV_MEDIA_REMOVAL 3

enum drive_kind { DRV_NONE, DRV_DISK, DRV_CDROM };

enum xfer {
	XF_NONE,
	XF_ATA_IN,     /* PIO data-in: sector reads, IDENTIFY */
	XF_ATA_OUT,    /* PIO data-out: sector writes */
	XF_PACKET,     /* waiting for the 12 command bytes */
	XF_ATAPI_IN,   /* PIO data-in of a packet command */
};

/* Where the data of a DMA or ATAPI data-in transfer comes from. */
enum src { SRC_NONE, SRC_BUF, SRC_DISK, SRC_CD };

struct ide_drive {
	enum drive_kind kind;
	struct block *blk;
	uint64_t nsectors;       /* 512-byte sectors, or 2048-byte CD blocks */
	uint16_t cyls, heads, secs;     /* default geometry */
	uint16_t cur_heads, cur_secs;   /* INITIALIZE DEVICE PARAMETERS */
	uint8_t mult;            /* sectors per READ/WRITE MULTIPLE block */
	bool wcache, lookahead;
	int8_t mdma, udma;       /* selected transfer modes, -1 none */
	uint8_t status, error;
	/* The command block registers: the host writes both devices' copies,
	 * reads the selected one's (an absent device keeps its own, which is
	 * how drivers tell it is not there). */
	uint8_t feature, nsector, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
	bool irq;                /* INTRQ asserted */
	bool warned_ro;
	char serial[21];
	/* ATAPI */
	uint8_t sense_key, asc, ascq;
	bool tray_open, locked, unit_attention;
	uint8_t media_event;
};

struct ide;

struct ide_channel {
	struct ide *ide;
	int n;
	struct ide_drive d[2];
	int cur;
	uint8_t select, devctl;
	int line;
	bool decoding, warned_ports;

	/* The running command. */
	enum xfer xfer;
	uint8_t buf[BUF_SIZE];
	uint32_t pos, end;       /* the current DRQ block is buf[pos, end) */
	uint32_t fill;           /* valid bytes in buf (data-in sources) */
	uint8_t cmd;
	bool lba48;
	uint64_t lba;            /* next sector or CD block to transfer */
	uint64_t left;           /* sectors or blocks still to transfer */
	uint32_t per_drq;        /* sectors per PIO DRQ block */
	uint32_t limit;          /* ATAPI byte count limit */
	enum src src;
	uint64_t dma_total;      /* bytes the pending DMA moves */
	bool dma_pending, dma_to_mem;
	uint64_t err_lba;

	uint8_t bm_cmd, bm_status;
	uint32_t bm_prd;
};

struct ide {
	struct pci_device dev;
	struct vm *vm;
	struct ide_channel ch[2];
};

static const uint16_t legacy_base[2] = { 0x1f0, 0x170 };
static const uint16_t legacy_ctl[2] = { 0x3f6, 0x376 };

static inline struct ide_drive *cur_drive(struct ide_channel *ch)
{
	return &ch->d[ch->cur];
}

static inline bool present(const struct ide_drive *d)
{
	return d->kind != DRV_NONE;
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- interrupts ---- */

static void update_line(struct ide_channel *ch)
{
	struct ide_drive *d = cur_drive(ch);
	int level = present(d) && d->irq && !(ch->devctl & DC_NIEN);
	if (level == ch->line)
		return;
	ch->line = level;
	irq_set(&ch->ide->vm->isa_irq[14 + ch->n], level);
}

static void raise_irq(struct ide_channel *ch, struct ide_drive *d)
{
	d->irq = true;
	ch->bm_status |= BM_ST_INTR;
	update_line(ch);
}

/* ---- task file helpers ---- */

/* The registers after a reset or diagnostic (ATA/ATAPI-6 9.12): a packet
 * device's LBA Mid/High read 14h/EBh, an ATA device's 00h; an absent
 * device's read as a floating bus would. */
static void set_signature(struct ide_drive *d)
{
	d->nsector = 1;
	d->lbal = 1;
	d->lbam = d->kind == DRV_CDROM ? 0x14 : d->kind == DRV_DISK ? 0 : 0xff;
	d->lbah = d->kind == DRV_CDROM ? 0xeb : d->kind == DRV_DISK ? 0 : 0xff;
}

/* Both devices' signatures, device 0 selected. */
static void set_signatures(struct ide_channel *ch)
{
	set_signature(&ch->d[0]);
	set_signature(&ch->d[1]);
	ch->select = 0;
	ch->cur = 0;
}

static void end_xfer(struct ide_channel *ch)
{
	ch->xfer = XF_NONE;
	ch->pos = ch->end = ch->fill = 0;
	ch->src = SRC_NONE;
	ch->dma_pending = false;
}

static void cmd_ok(struct ide_channel *ch, struct ide_drive *d)
{
	end_xfer(ch);
	d->status = ST_DRDY | ST_DSC;
	d->error = 0;
	raise_irq(ch, d);
}

static void cmd_abort(struct ide_channel *ch, struct ide_drive *d, uint8_t err)
{
	end_xfer(ch);
	d->status = ST_DRDY | ST_DSC | ST_ERR;
	d->error = err;
	raise_irq(ch, d);
}

/* The task file after a sector command: the address of the last sector
 * handled (or of the failing one), in the addressing mode used. */
static void tf_set_lba(struct ide_channel *ch, struct ide_drive *d, uint64_t lba)
{
	if (ch->lba48) {
		d->lbal = (uint8_t)lba;
		d->lbam = (uint8_t)(lba >> 8);
		d->lbah = (uint8_t)(lba >> 16);
		d->hob_lbal = (uint8_t)(lba >> 24);
		d->hob_lbam = (uint8_t)(lba >> 32);
		d->hob_lbah = (uint8_t)(lba >> 40);
	} else if (ch->select & DH_LBA) {
		d->lbal = (uint8_t)lba;
		d->lbam = (uint8_t)(lba >> 8);
		d->lbah = (uint8_t)(lba >> 16);
		ch->select = (uint8_t)((ch->select & 0xf0) | ((lba >> 24) & 0x0f));
	} else {
		uint32_t per_cyl = (uint32_t)d->cur_heads * d->cur_secs;
		uint32_t cyl = (uint32_t)(lba / per_cyl);
		uint32_t rest = (uint32_t)(lba % per_cyl);
		d->lbah = (uint8_t)(cyl >> 8);
		d->lbam = (uint8_t)cyl;
		ch->select = (uint8_t)((ch->select & 0xf0) | (rest / d->cur_secs));
		d->lbal = (uint8_t)(rest % d->cur_secs + 1);
	}
}

static void sector_error(struct ide_channel *ch, struct ide_drive *d, uint64_t lba,
			 uint8_t err)
{
	tf_set_lba(ch, d, lba);
	cmd_abort(ch, d, err);
}

/* ---- ATA IDENTIFY ---- */

static void put_str(uint16_t *w, int first, int nwords, const char *s)
{
	size_t len = strlen(s);
	for (int i = 0; i < nwords * 2; i++) {
		uint8_t c = i < (int)len ? (uint8_t)s[i] : ' ';
		if (i & 1)
			w[first + i / 2] |= c;
		else
			w[first + i / 2] = (uint16_t)(c << 8);
	}
}

/* Word 93: which devices the hardware reset found on this cable. */
static uint16_t reset_result(struct ide_channel *ch, struct ide_drive *d)
{
	uint16_t v = 0x6000; /* valid, 80-conductor cable detected */
	if (d == &ch->d[0])
		v |= present(&ch->d[1]) ? 0x3b : 0x4b;
	else
		v |= 0x0b00;
	return v;
}

static void finish_identify(uint16_t *w)
{
	uint8_t sum = 0xa5;
	w[255] = 0;
	for (int i = 0; i < 255; i++)
		sum = (uint8_t)(sum + (w[i] & 0xff) + (w[i] >> 8));
	w[255] = (uint16_t)(0xa5 | (uint8_t)-sum << 8);
}

static uint16_t cur_cyls(const struct ide_drive *d)
{
	uint64_t c = d->nsectors / ((uint32_t)d->cur_heads * d->cur_secs);
	return (uint16_t)(c > 16383 ? 16383 : c);
}

static void identify_disk(struct ide_channel *ch, struct ide_drive *d, uint16_t *w)
{
	memset(w, 0, 512);
	w[0] = 0x0040;            /* fixed device */
	w[1] = d->cyls;
	w[2] = 0xc837;            /* no spin-up needed, IDENTIFY complete */
	w[3] = d->heads;
	w[6] = d->secs;
	put_str(w, 10, 10, d->serial);
	put_str(w, 23, 4, PCVM_VERSION);
	put_str(w, 27, 20, "PCVM HARDDISK");
	w[47] = 0x8000 | MAX_MULT;
	w[48] = 1;                /* 32-bit PIO data transfers */
	w[49] = 0x0f00;           /* IORDY, LBA, DMA */
	w[50] = 0x4000;
	w[51] = w[52] = 0x0200;
	w[53] = 0x0007;           /* words 54-58, 64-70 and 88 valid */
	uint16_t cc = cur_cyls(d);
	w[54] = cc;
	w[55] = d->cur_heads;
	w[56] = d->cur_secs;
	uint32_t cap = (uint32_t)cc * d->cur_heads * d->cur_secs;
	w[57] = (uint16_t)cap;
	w[58] = (uint16_t)(cap >> 16);
	w[59] = d->mult ? 0x0100 | d->mult : 0;
	uint64_t lba28 = d->nsectors < 0x0fffffff ? d->nsectors : 0x0fffffff;
	w[60] = (uint16_t)lba28;
	w[61] = (uint16_t)(lba28 >> 16);
	w[63] = 0x0007 | (d->mdma >= 0 ? 0x100 << d->mdma : 0);
	w[64] = 0x0003;           /* PIO modes 3 and 4 */
	w[65] = w[66] = w[67] = w[68] = 120;
	w[80] = 0x007e;           /* ATA-1 to ATA/ATAPI-6 */
	w[82] = 0x4068;           /* NOP, look-ahead, write cache, power management */
	w[83] = 0x7400;           /* FLUSH CACHE (EXT), 48-bit addresses */
	w[84] = 0x4000;
	w[85] = 0x4008 | (d->wcache ? 0x20 : 0) | (d->lookahead ? 0x40 : 0);
	w[86] = 0x3400;
	w[87] = 0x4000;
	w[88] = 0x003f | (d->udma >= 0 ? 0x100 << d->udma : 0);
	w[93] = reset_result(ch, d);
	for (int i = 0; i < 4; i++)
		w[100 + i] = (uint16_t)(d->nsectors >> (16 * i));
	finish_identify(w);
}

static void identify_cdrom(struct ide_channel *ch, struct ide_drive *d, uint16_t *w)
{
	memset(w, 0, 512);
	w[0] = 0x85c0;            /* ATAPI CD-ROM, removable, 50 us DRQ, 12-byte packets */
	put_str(w, 10, 10, d->serial);
	put_str(w, 23, 4, PCVM_VERSION);
	put_str(w, 27, 20, "PCVM DVD-ROM");
	w[49] = 0x0f00;
	w[50] = 0x4000;
	w[53] = 0x0006;           /* words 64-70 and 88 valid */
	w[63] = 0x0007 | (d->mdma >= 0 ? 0x100 << d->mdma : 0);
	w[64] = 0x0003;
	w[65] = w[66] = w[67] = w[68] = 120;
	w[71] = w[72] = 30;
	w[80] = 0x007e;
	w[82] = 0x4210;           /* NOP, DEVICE RESET, PACKET */
	w[83] = 0x4000;
	w[84] = 0x4000;
	w[85] = 0x4210;
	w[87] = 0x4000;
	w[88] = 0x003f | (d->udma >= 0 ? 0x100 << d->udma : 0);
	w[93] = reset_result(ch, d);
	finish_identify(w);
}

/* ---- PIO data-in and data-out ---- */

/* Starts a DRQ block of len bytes in buf[pos]. */
static void drq_block(struct ide_channel *ch, struct ide_drive *d, enum xfer x,
		      uint32_t pos, uint32_t len, bool irq)
{
	ch->xfer = x;
	ch->pos = pos;
	ch->end = pos + len;
	d->status = ST_DRDY | ST_DSC | ST_DRQ;
	d->error = 0;
	if (irq)
		raise_irq(ch, d);
}

/* Reads the next PIO block of a sector read command into buf. */
static void ata_read_block(struct ide_channel *ch, struct ide_drive *d)
{
	uint32_t n = ch->left < ch->per_drq ? (uint32_t)ch->left : ch->per_drq;
	int err = block_read(d->blk, ch->lba * SECTOR, ch->buf, (size_t)n * SECTOR);
	if (err) {
		log_warn("%s: read error at sector %llu: %s", block_name(d->blk),
			 (unsigned long long)ch->lba, strerror(-err));
		sector_error(ch, d, ch->lba, ER_UNC);
		return;
	}
	drq_block(ch, d, XF_ATA_IN, 0, n * SECTOR, true);
}

static int write_sectors(struct ide_drive *d, uint64_t lba, const uint8_t *p,
			 uint32_t n)
{
	int err = block_write(d->blk, lba * SECTOR, p, (size_t)n * SECTOR);
	if (!err && !d->wcache)
		err = block_flush(d->blk);
	if (err == -EROFS && !d->warned_ro) {
		log_warn("%s: the guest writes to a read-only disk; refusing",
			 block_name(d->blk));
		d->warned_ro = true;
	} else if (err && err != -EROFS) {
		log_warn("%s: write error at sector %llu: %s", block_name(d->blk),
			 (unsigned long long)lba, strerror(-err));
	}
	return err;
}

static void atapi_next_chunk(struct ide_channel *ch, struct ide_drive *d);
static void atapi_packet(struct ide_channel *ch, struct ide_drive *d);
static void maybe_run_dma(struct ide_channel *ch);

/* The guest has read or written the whole current DRQ block. */
static void drq_done(struct ide_channel *ch)
{
	struct ide_drive *d = cur_drive(ch);
	uint32_t n;
	switch (ch->xfer) {
	case XF_ATA_IN:
		if (ch->src != SRC_DISK) { /* IDENTIFY */
			end_xfer(ch);
			d->status = ST_DRDY | ST_DSC;
			return;
		}
		n = ch->per_drq < ch->left ? ch->per_drq : (uint32_t)ch->left;
		ch->lba += n;
		ch->left -= n;
		if (!ch->left) {
			tf_set_lba(ch, d, ch->lba - 1);
			d->nsector = 0;
			end_xfer(ch);
			d->status = ST_DRDY | ST_DSC;
			return;
		}
		ata_read_block(ch, d);
		return;
	case XF_ATA_OUT:
		n = ch->per_drq < ch->left ? ch->per_drq : (uint32_t)ch->left;
		if (write_sectors(d, ch->lba, ch->buf, n)) {
			sector_error(ch, d, ch->lba, ER_ABRT);
			return;
		}
		ch->lba += n;
		ch->left -= n;
		if (!ch->left) {
			tf_set_lba(ch, d, ch->lba - 1);
			d->nsector = 0;
			cmd_ok(ch, d);
			return;
		}
		n = ch->per_drq < ch->left ? ch->per_drq : (uint32_t)ch->left;
		drq_block(ch, d, XF_ATA_OUT, 0, n * SECTOR, true);
		return;
	case XF_PACKET:
		atapi_packet(ch, d);
		return;
	case XF_ATAPI_IN:
		atapi_next_chunk(ch, d);
		return;
	default:
		return;
	}
}

static uint32_t data_read(struct ide_channel *ch, unsigned size)
{
	if (ch->xfer != XF_ATA_IN && ch->xfer != XF_ATAPI_IN)
		return size == 4 ? 0xffffffffu : 0xffff;
	uint32_t v = 0;
	for (unsigned i = 0; i < size && ch->pos < ch->end; i++)
		v |= (uint32_t)ch->buf[ch->pos++] << (8 * i);
	if (ch->pos >= ch->end)
		drq_done(ch);
	return v;
}

static void data_write(struct ide_channel *ch, uint32_t v, unsigned size)
{
	if (ch->xfer != XF_ATA_OUT && ch->xfer != XF_PACKET)
		return;
	for (unsigned i = 0; i < size && ch->pos < ch->end; i++)
		ch->buf[ch->pos++] = (uint8_t)(v >> (8 * i));
	if (ch->pos >= ch->end)
		drq_done(ch);
}

/* ---- data sources shared by DMA and ATAPI PIO ---- */

/* Makes buf[pos, fill) non-empty if more data remains; false on a read
 * error (reported on the drive). */
static bool src_refill(struct ide_channel *ch, struct ide_drive *d)
{
	if (ch->pos < ch->fill || !ch->left || ch->src == SRC_BUF)
		return true;
	uint32_t unit = ch->src == SRC_CD ? CD_BLOCK : SECTOR;
	uint64_t n = BUF_SIZE / unit;
	if (n > ch->left)
		n = ch->left;
	int err = block_read(d->blk, ch->lba * unit, ch->buf, (size_t)(n * unit));
	if (err) {
		log_warn("%s: read error at %s %llu: %s", block_name(d->blk),
			 unit == SECTOR ? "sector" : "block",
			 (unsigned long long)ch->lba, strerror(-err));
		ch->err_lba = ch->lba;
		return false;
	}
	ch->lba += n;
	ch->left -= n;
	ch->pos = 0;
	ch->fill = (uint32_t)(n * unit);
	return true;
}

/* ---- ATAPI ---- */

static void set_sense(struct ide_drive *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
	d->sense_key = key;
	d->asc = asc;
	d->ascq = ascq;
}

static void atapi_done(struct ide_channel *ch, struct ide_drive *d)
{
	end_xfer(ch);
	set_sense(d, SK_NO_SENSE, 0, 0);
	d->status = ST_DRDY | ST_DSC;
	d->error = 0;
	d->nsector = IR_IO | IR_COD;
	raise_irq(ch, d);
}

static void atapi_check(struct ide_channel *ch, struct ide_drive *d, uint8_t key,
			uint8_t asc, uint8_t ascq)
{
	end_xfer(ch);
	set_sense(d, key, asc, ascq);
	d->status = ST_DRDY | ST_ERR;
	d->error = (uint8_t)(key << 4);
	d->nsector = IR_IO | IR_COD;
	raise_irq(ch, d);
}

static bool medium_ready(const struct ide_drive *d)
{
	return d->blk && !d->tray_open;
}

static void not_ready(struct ide_channel *ch, struct ide_drive *d)
{
	atapi_check(ch, d, SK_NOT_READY, ASC_MEDIUM_NOT_PRESENT, d->tray_open ? 2 : 1);
}

/* Offers the guest the next PIO chunk of ATAPI data, or completes. */
static void atapi_next_chunk(struct ide_channel *ch, struct ide_drive *d)
{
	if (!src_refill(ch, d)) {
		atapi_check(ch, d, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
		return;
	}
	uint32_t avail = ch->fill - ch->pos;
	if (!avail) {
		atapi_done(ch, d);
		return;
	}
	uint32_t chunk = avail < ch->limit ? avail : ch->limit;
	ch->xfer = XF_ATAPI_IN;
	ch->end = ch->pos + chunk;
	d->lbam = (uint8_t)chunk;
	d->lbah = (uint8_t)(chunk >> 8);
	d->nsector = IR_IO;
	d->status = ST_DRDY | ST_DSC | ST_DRQ;
	raise_irq(ch, d);
}

/* Starts the data-in phase: from buf[0, len) (a reply) or, with src CD,
 * ch->left blocks from ch->lba. */
static void atapi_send(struct ide_channel *ch, struct ide_drive *d, bool dma)
{
	ch->pos = 0;
	if (ch->src == SRC_BUF && !ch->fill) {
		atapi_done(ch, d);
		return;
	}
	if (ch->src == SRC_CD && !ch->left) {
		atapi_done(ch, d);
		return;
	}
	if (dma) {
		ch->dma_total = ch->src == SRC_CD ? ch->left * CD_BLOCK : ch->fill;
		ch->dma_pending = true;
		ch->dma_to_mem = true;
		ch->xfer = XF_NONE;
		d->status = ST_DRDY | ST_DSC | ST_DRQ;
		maybe_run_dma(ch);
		return;
	}
	atapi_next_chunk(ch, d);
}

static void reply(struct ide_channel *ch, struct ide_drive *d, uint32_t len,
		  uint32_t alloc, bool dma)
{
	ch->src = SRC_BUF;
	ch->fill = len < alloc ? len : alloc;
	ch->left = 0;
	atapi_send(ch, d, dma);
}

static void lba_to_msf(uint8_t *p, uint64_t lba)
{
	lba += 150;
	p[0] = (uint8_t)(lba / (75 * 60) > 255 ? 255 : lba / (75 * 60));
	p[1] = (uint8_t)((lba / 75) % 60);
	p[2] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf) {
		p[0] = 0;
		lba_to_msf(p + 1, lba);
	} else {
		put_be32(p, (uint32_t)lba);
	}
}

/* READ TOC/PMA/ATIP formats 0 (TOC), 1 (session info), 2 (full TOC). */
static int read_toc(struct ide_drive *d, const uint8_t *cdb, uint8_t *out)
{
	bool msf = cdb[1] & 2;
	int format = cdb[2] & 0x0f;
	if (!format)
		format = cdb[9] >> 6; /* the SFF-8020i place */
	int track = cdb[6];
	uint8_t *p = out + 4;
	switch (format) {
	case 0:
		if (track > 1 && track != 0xaa)
			return -1;
		if (track <= 1) {
			p[0] = 0;
			p[1] = 0x14;     /* ADR 1, data track */
			p[2] = 1;
			p[3] = 0;
			put_addr(p + 4, 0, msf);
			p += 8;
		}
		p[0] = 0;
		p[1] = 0x14;
		p[2] = 0xaa;     /* lead-out */
		p[3] = 0;
		put_addr(p + 4, d->nsectors, msf);
		p += 8;
		out[2] = 1;
		out[3] = 1;
		break;
	case 1:
		memset(p, 0, 8);
		p[1] = 0x14;
		p[2] = 1;
		put_addr(p + 4, 0, msf);
		p += 8;
		out[2] = 1;
		out[3] = 1;
		break;
	case 2: {
		static const uint8_t points[] = { 0xa0, 0xa1, 0xa2, 1 };
		for (int i = 0; i < 4; i++, p += 11) {
			memset(p, 0, 11);
			p[0] = 1;        /* session */
			p[1] = 0x14;
			p[3] = points[i];
			if (points[i] == 0xa0)
				p[8] = 1;    /* first track; disc type CD-ROM */
			else if (points[i] == 0xa1)
				p[8] = 1;    /* last track */
			else if (points[i] == 0xa2)
				lba_to_msf(p + 8, d->nsectors);
			else
				lba_to_msf(p + 8, 0);
		}
		out[2] = 1;
		out[3] = 1;
		break;
	}
	default:
		return -1;
	}
	uint32_t len = (uint32_t)(p - out);
	put_be16(out, len - 2);
	return (int)len;
}

static int mode_page(struct ide_drive *d, int page, uint8_t *p)
{
	switch (page) {
	case 0x01: /* read error recovery */
		memset(p, 0, 8);
		p[0] = 0x01;
		p[1] = 0x06;
		p[3] = 5;
		return 8;
	case 0x2a: /* CD/DVD capabilities and mechanical status */
		memset(p, 0, 22);
		p[0] = 0x2a;
		p[1] = 0x14;
		p[2] = 0x3b;     /* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
		p[4] = 0x70;     /* mode 2 form 1 and 2, multisession */
		p[6] = 0x29 | (d->locked ? 0x02 : 0); /* tray, eject, lock */
		put_be16(p + 8, 706);  /* 4x, in kB/s */
		put_be16(p + 12, 512);
		put_be16(p + 14, 706);
		return 22;
	default:
		return 0;
	}
}

static int mode_sense(struct ide_drive *d, const uint8_t *cdb, uint8_t *out,
		      bool ten)
{
	int page = cdb[2] & 0x3f, pc = cdb[2] >> 6;
	if (pc == 3)
		return -ASC_SAVING_NOT_SUPPORTED;
	int hdr = ten ? 8 : 4;
	memset(out, 0, (size_t)hdr);
	int len = hdr;
	if (page == 0x3f) {
		len += mode_page(d, 0x01, out + len);
		len += mode_page(d, 0x2a, out + len);
	} else {
		int n = mode_page(d, page, out + len);
		if (!n)
			return -ASC_INVALID_FIELD;
		len += n;
	}
	if (pc == 1) /* changeable values: none */
		memset(out + hdr, 0, (size_t)(len - hdr));
	/* Medium type: 120 mm data disc, or "door open". */
	uint8_t type = !d->blk || d->tray_open ? 0x71 : 0x01;
	if (ten) {
		put_be16(out, (uint32_t)len - 2);
		out[2] = type;
	} else {
		out[0] = (uint8_t)(len - 1);
		out[1] = type;
	}
	return len;
}

static uint16_t current_profile(const struct ide_drive *d)
{
	if (!medium_ready(d))
		return 0;
	return d->nsectors > CD_MAX_BLOCKS ? 0x0010 : 0x0008;
}

/* One GET CONFIGURATION feature descriptor; returns its length. */
static int feature(const struct ide_drive *d, int num, uint8_t *p, bool *current)
{
	uint16_t prof = current_profile(d);
	memset(p, 0, 16);
	put_be16(p, (uint32_t)num);
	switch (num) {
	case 0x0000: /* profile list */
		*current = true;
		p[2] = 0x03;
		p[3] = 8;
		put_be16(p + 4, 0x0010);
		p[6] = prof == 0x0010;
		put_be16(p + 8, 0x0008);
		p[10] = prof == 0x0008;
		return 12;
	case 0x0001: /* core: ATAPI */
		*current = true;
		p[2] = 0x03;
		p[3] = 8;
		put_be32(p + 4, 2);
		return 12;
	case 0x0002: /* morphing: polled event status */
		*current = true;
		p[2] = 0x07;
		p[3] = 4;
		return 8;
	case 0x0003: /* removable medium: tray, eject, lock */
		*current = true;
		p[2] = 0x03;
		p[3] = 4;
		p[4] = 0x29;
		return 8;
	case 0x0010: /* random readable */
		*current = prof != 0;
		p[2] = *current ? 0x01 : 0;
		p[3] = 8;
		put_be32(p + 4, CD_BLOCK);
		put_be16(p + 8, prof == 0x0010 ? 16 : 1);
		return 12;
	case 0x001e: /* CD read */
		*current = prof == 0x0008;
		p[2] = (uint8_t)(0x08 | (*current ? 1 : 0));
		p[3] = 4;
		return 8;
	case 0x001f: /* DVD read */
		*current = prof == 0x0010;
		p[2] = *current ? 1 : 0;
		p[3] = 4;
		return 8;
	default:
		return 0;
	}
}

static int get_configuration(struct ide_drive *d, const uint8_t *cdb, uint8_t *out)
{
	static const int nums[] = { 0x0000, 0x0001, 0x0002, 0x0003, 0x0010,
				    0x001e, 0x001f };
	int rt = cdb[1] & 3;
	int start = (int)get_be16(cdb + 2);
	if (rt == 3)
		return -1;
	memset(out, 0, 8);
	put_be16(out + 6, current_profile(d));
	int len = 8;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i] < start || (rt == 2 && nums[i] != start))
			continue;
		bool current = false;
		int n = feature(d, nums[i], out + len, &current);
		if (rt == 1 && !current)
			continue;
		len += n;
	}
	put_be32(out, (uint32_t)len - 4);
	return len;
}

static int event_status(struct ide_drive *d, const uint8_t *cdb, uint8_t *out)
{
	if (!(cdb[1] & 1))
		return -1; /* only polled operation */
	memset(out, 0, 8);
	out[3] = 0x10; /* supports the media class */
	if (!(cdb[4] & 0x10)) {
		out[2] = 0x80; /* no event available */
		put_be16(out, 2);
		return 4;
	}
	out[2] = 4;
	out[4] = d->media_event;
	out[5] = (uint8_t)((d->tray_open ? 1 : 0) | (d->blk ? 2 : 0));
	d->media_event = EV_NONE;
	put_be16(out, 6);
	return 8;
}

static void atapi_read(struct ide_channel *ch, struct ide_drive *d, uint64_t lba,
		       uint64_t count, bool dma)
{
	if (lba > d->nsectors || count > d->nsectors - lba) {
		atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return;
	}
	ch->src = SRC_CD;
	ch->lba = lba;
	ch->left = count;
	ch->fill = 0;
	atapi_send(ch, d, dma);
}

/* Commands that do not report a pending unit attention. */
static bool ua_exempt(uint8_t op)
{
	return op == 0x12 || op == 0x03 || op == 0x46 || op == 0x4a;
}

static void atapi_packet(struct ide_channel *ch, struct ide_drive *d)
{
	uint8_t cdb[12];
	memcpy(cdb, ch->buf, sizeof(cdb));
	uint8_t op = cdb[0];
	bool dma = d->feature & 1;
	uint8_t *out = ch->buf;
	int len;
	end_xfer(ch);
	log_trace("ATAPI command %#x", op);

	if (d->unit_attention && !ua_exempt(op)) {
		d->unit_attention = false;
		atapi_check(ch, d, SK_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
		return;
	}
	switch (op) {
	case 0x00: /* TEST UNIT READY */
		if (!medium_ready(d))
			not_ready(ch, d);
		else
			atapi_done(ch, d);
		return;
	case 0x03: { /* REQUEST SENSE */
		memset(out, 0, 18);
		out[0] = 0x70;
		if (d->sense_key == SK_NO_SENSE && d->unit_attention) {
			d->unit_attention = false;
			set_sense(d, SK_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
		}
		out[2] = d->sense_key;
		out[7] = 10;
		out[12] = d->asc;
		out[13] = d->ascq;
		set_sense(d, SK_NO_SENSE, 0, 0);
		reply(ch, d, 18, cdb[4], dma);
		return;
	}
	case 0x12: /* INQUIRY */
		if (cdb[1] & 1) { /* no vital product data pages */
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		memset(out, 0, 36);
		out[0] = 0x05;   /* CD/DVD device */
		out[1] = 0x80;   /* removable */
		out[3] = 0x21;
		out[4] = 31;
		memcpy(out + 8, "PCVM    ", 8);
		memcpy(out + 16, "DVD-ROM         ", 16);
		snprintf((char *)out + 32, 5, "%-4.4s", PCVM_VERSION);
		reply(ch, d, 36, get_be16(cdb + 3), dma);
		return;
	case 0x1a: /* MODE SENSE(6) */
	case 0x5a: /* MODE SENSE(10) */
		len = mode_sense(d, cdb, out, op == 0x5a);
		if (len < 0) {
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, (uint8_t)-len, 0);
			return;
		}
		reply(ch, d, (uint32_t)len, op == 0x5a ? get_be16(cdb + 7) : cdb[4], dma);
		return;
	case 0x1b: { /* START STOP UNIT */
		bool loej = cdb[4] & 2, start = cdb[4] & 1;
		if (loej && !start) {
			if (d->locked) {
				atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 2);
				return;
			}
			d->tray_open = true;
		} else if (loej && start && d->tray_open) {
			d->tray_open = false;
			if (d->blk) {
				d->unit_attention = true;
				d->media_event = EV_NEW_MEDIA;
			}
		}
		atapi_done(ch, d);
		return;
	}
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
		d->locked = cdb[4] & 1;
		atapi_done(ch, d);
		return;
	case 0x25: /* READ CAPACITY */
		if (!medium_ready(d)) {
			not_ready(ch, d);
			return;
		}
		put_be32(out, d->nsectors ? (uint32_t)(d->nsectors - 1) : 0);
		put_be32(out + 4, CD_BLOCK);
		reply(ch, d, 8, 8, dma);
		return;
	case 0x28: /* READ(10) */
	case 0xa8: /* READ(12) */
		if (!medium_ready(d)) {
			not_ready(ch, d);
			return;
		}
		atapi_read(ch, d, get_be32(cdb + 2),
			   op == 0x28 ? get_be16(cdb + 7) : get_be32(cdb + 6), dma);
		return;
	case 0xbe: /* READ CD: user data of 2048-byte sectors only */
		if (!medium_ready(d)) {
			not_ready(ch, d);
			return;
		}
		if (cdb[9] && (cdb[9] & 0xf8) != 0x10) {
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		atapi_read(ch, d, get_be32(cdb + 2),
			   cdb[9] ? (uint32_t)cdb[6] << 16 | get_be16(cdb + 7) : 0, dma);
		return;
	case 0x2b: /* SEEK(10) */
		if (!medium_ready(d))
			not_ready(ch, d);
		else if (get_be32(cdb + 2) >= d->nsectors)
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		else
			atapi_done(ch, d);
		return;
	case 0x43: /* READ TOC/PMA/ATIP */
		if (!medium_ready(d)) {
			not_ready(ch, d);
			return;
		}
		len = read_toc(d, cdb, out);
		if (len < 0) {
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		reply(ch, d, (uint32_t)len, get_be16(cdb + 7), dma);
		return;
	case 0x46: /* GET CONFIGURATION */
		len = get_configuration(d, cdb, out);
		if (len < 0) {
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		reply(ch, d, (uint32_t)len, get_be16(cdb + 7), dma);
		return;
	case 0x4a: /* GET EVENT STATUS NOTIFICATION */
		len = event_status(d, cdb, out);
		if (len < 0) {
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		reply(ch, d, (uint32_t)len, get_be16(cdb + 7), dma);
		return;
	case 0xbb: /* SET CD SPEED */
		atapi_done(ch, d);
		return;
	case 0xbd: /* MECHANISM STATUS */
		memset(out, 0, 8);
		out[1] = d->tray_open ? 0x10 : 0;
		reply(ch, d, 8, get_be16(cdb + 8), dma);
		return;
	default:
		log_debug("ATAPI command %#x not supported", op);
		atapi_check(ch, d, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
}

/* ---- bus-master DMA ---- */

/* Runs the pending DMA transfer through the PRD table. */
static void bm_run(struct ide_channel *ch)
{
	struct ide_drive *d = cur_drive(ch);
	struct pci_device *dev = &ch->ide->dev;
	uint32_t prd = ch->bm_prd;
	uint64_t done = 0, total = ch->dma_total;
	uint32_t addr = 0, entry_left = 0;
	bool eot = false, mem_err = false, dev_err = false;
	int entries = 0;
	uint32_t wfill = 0; /* bytes gathered in buf for a disk write */

	ch->dma_pending = false;
	while (done < total) {
		if (!entry_left) {
			if (eot || entries++ == PRD_MAX)
				break;
			uint8_t e[8];
			if (pci_dma_read(dev, prd, e, sizeof(e))) {
				mem_err = true;
				break;
			}
			prd += 8;
			addr = (uint32_t)e[0] | (uint32_t)e[1] << 8 |
			       (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
			addr &= ~1u;
			entry_left = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & 0xfffe;
			if (!entry_left)
				entry_left = 0x10000;
			eot = e[7] & 0x80;
		}
		uint64_t want = total - done < entry_left ? total - done : entry_left;
		uint32_t n;
		if (ch->dma_to_mem) {
			if (!src_refill(ch, d)) {
				dev_err = true;
				break;
			}
			n = ch->fill - ch->pos;
			if (n > want)
				n = (uint32_t)want;
			if (pci_dma_write(dev, addr, ch->buf + ch->pos, n)) {
				mem_err = true;
				break;
			}
			ch->pos += n;
		} else {
			n = BUF_SIZE - wfill;
			if (n > want)
				n = (uint32_t)want;
			if (pci_dma_read(dev, addr, ch->buf + wfill, n)) {
				mem_err = true;
				break;
			}
			wfill += n;
			if (wfill == BUF_SIZE || done + n == total) {
				uint32_t sectors = wfill / SECTOR;
				if (write_sectors(d, ch->lba, ch->buf, sectors)) {
					ch->err_lba = ch->lba;
					dev_err = true;
					break;
				}
				ch->lba += sectors;
				ch->left -= sectors;
				wfill = 0;
			}
		}
		addr += n;
		entry_left -= n;
		done += n;
	}

	if (mem_err) {
		ch->bm_status = (uint8_t)((ch->bm_status & ~BM_ST_ACTIVE) | BM_ST_ERROR);
		if (d->kind == DRV_CDROM)
			atapi_check(ch, d, SK_ILLEGAL_REQUEST, 0, 0);
		else
			cmd_abort(ch, d, ER_ABRT);
		return;
	}
	if (dev_err) {
		ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
		if (d->kind == DRV_CDROM)
			atapi_check(ch, d, SK_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
		else
			sector_error(ch, d, ch->err_lba, ch->dma_to_mem ? ER_UNC : ER_ABRT);
		return;
	}
	if (done < total) {
		/* The PRDs ran out before the data: the drive keeps waiting
		 * (DRQ) and nothing interrupts; the guest's driver times out
		 * and resets, as on the real controller. */
		ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
		ch->dma_pending = true;
		return;
	}
	if (!entry_left && eot)
		ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
	if (d->kind == DRV_CDROM) {
		atapi_done(ch, d);
	} else {
		tf_set_lba(ch, d, ch->lba - 1);
		d->nsector = 0;
		cmd_ok(ch, d);
	}
}

static void maybe_run_dma(struct ide_channel *ch)
{
	if (ch->dma_pending && (ch->bm_cmd & BM_CMD_START))
		bm_run(ch);
}

/* ---- ATA commands ---- */

/* The command's first sector and sector count from the task file; false
 * (after aborting) when the address is invalid. */
static bool tf_range(struct ide_channel *ch, struct ide_drive *d, bool ext,
		     uint64_t *lba, uint64_t *count)
{
	ch->lba48 = ext;
	if (ext) {
		*lba = (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
		       (uint64_t)d->hob_lbal << 24 | (uint64_t)d->lbah << 16 |
		       (uint64_t)d->lbam << 8 | d->lbal;
		*count = (uint64_t)d->hob_nsector << 8 | d->nsector;
		if (!*count)
			*count = 65536;
	} else {
		*count = d->nsector ? d->nsector : 256;
		if (ch->select & DH_LBA) {
			*lba = (uint64_t)(ch->select & 0x0f) << 24 | (uint64_t)d->lbah << 16 |
			       (uint64_t)d->lbam << 8 | d->lbal;
		} else {
			uint32_t cyl = (uint32_t)d->lbah << 8 | d->lbam;
			uint32_t head = ch->select & 0x0f, sec = d->lbal;
			if (!sec || sec > d->cur_secs || head >= d->cur_heads) {
				cmd_abort(ch, d, ER_IDNF | ER_ABRT);
				return false;
			}
			*lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs + sec - 1;
		}
	}
	if (*lba > d->nsectors || *count > d->nsectors - *lba) {
		cmd_abort(ch, d, ER_IDNF);
		return false;
	}
	return true;
}

static void ata_rw(struct ide_channel *ch, struct ide_drive *d, bool ext,
		   bool write, uint32_t per_drq)
{
	uint64_t lba, count;
	if (!tf_range(ch, d, ext, &lba, &count))
		return;
	ch->lba = lba;
	ch->left = count;
	ch->per_drq = per_drq;
	ch->src = SRC_DISK;
	if (write) {
		uint32_t n = per_drq < count ? per_drq : (uint32_t)count;
		drq_block(ch, d, XF_ATA_OUT, 0, n * SECTOR, false);
	} else {
		ata_read_block(ch, d);
	}
}

static void ata_dma(struct ide_channel *ch, struct ide_drive *d, bool ext, bool write)
{
	uint64_t lba, count;
	if (!tf_range(ch, d, ext, &lba, &count))
		return;
	ch->lba = lba;
	ch->left = count;
	ch->src = SRC_DISK;
	ch->fill = ch->pos = 0;
	ch->dma_total = count * SECTOR;
	ch->dma_to_mem = !write;
	ch->dma_pending = true;
	ch->xfer = XF_NONE;
	d->status = ST_DRDY | ST_DSC | ST_DRQ;
	maybe_run_dma(ch);
}

static void set_features(struct ide_channel *ch, struct ide_drive *d)
{
	bool disk = d->kind == DRV_DISK;
	switch (d->feature) {
	case 0x02:
	case 0x82:
		if (!disk)
			break;
		d->wcache = d->feature == 0x02;
		if (!d->wcache && block_flush(d->blk)) {
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
		cmd_ok(ch, d);
		return;
	case 0xaa:
	case 0x55:
		if (!disk)
			break;
		d->lookahead = d->feature == 0xaa;
		cmd_ok(ch, d);
		return;
	case 0x66:
	case 0xcc:
		cmd_ok(ch, d);
		return;
	case 0x03: { /* set transfer mode */
		uint8_t mode = d->nsector & 7;
		switch (d->nsector >> 3) {
		case 0x00: /* PIO default */
		case 0x01: /* PIO flow control mode n */
			if (d->nsector >= 0x08 && mode > 4)
				break;
			cmd_ok(ch, d);
			return;
		case 0x04: /* multiword DMA */
			if (mode > 2)
				break;
			d->mdma = (int8_t)mode;
			d->udma = -1;
			cmd_ok(ch, d);
			return;
		case 0x08: /* Ultra DMA */
			if (mode > 5)
				break;
			d->udma = (int8_t)mode;
			d->mdma = -1;
			cmd_ok(ch, d);
			return;
		}
		break;
	}
	}
	cmd_abort(ch, d, ER_ABRT);
}

static void reset_drive_state(struct ide_drive *d)
{
	d->status = d->kind == DRV_DISK ? ST_DRDY | ST_DSC : 0;
	d->error = 0x01; /* diagnostics passed */
	d->irq = false;
}

static void exec_diag(struct ide_channel *ch)
{
	end_xfer(ch);
	for (int i = 0; i < 2; i++)
		if (present(&ch->d[i]))
			reset_drive_state(&ch->d[i]);
	set_signatures(ch);
	if (present(&ch->d[0]))
		raise_irq(ch, &ch->d[0]);
}

static void ata_command(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = cur_drive(ch);
	if (cmd == 0x90) { /* EXECUTE DEVICE DIAGNOSTIC: both devices */
		exec_diag(ch);
		return;
	}
	if (!present(d))
		return; /* nobody answers to the absent device */
	d->irq = false;
	update_line(ch);
	end_xfer(ch);
	ch->cmd = cmd;
	ch->lba48 = false;
	log_trace("IDE%d.%d command %#x", ch->n, ch->cur, cmd);
	bool disk = d->kind == DRV_DISK;

	if (!disk) {
		switch (cmd) {
		case 0xa0: /* PACKET */
			if (d->feature & 2) { /* overlapped operation */
				cmd_abort(ch, d, ER_ABRT);
				return;
			}
			ch->limit = (uint32_t)d->lbah << 8 | d->lbam;
			if (ch->limit == 0 || ch->limit == 0xffff)
				ch->limit = 0xfffe;
			else
				ch->limit &= ~1u;
			if (!ch->limit)
				ch->limit = 2;
			d->nsector = IR_COD;
			drq_block(ch, d, XF_PACKET, 0, 12, false);
			return;
		case 0xa1: { /* IDENTIFY PACKET DEVICE */
			uint16_t w[256];
			identify_cdrom(ch, d, w);
			memcpy(ch->buf, w, sizeof(w));
			ch->src = SRC_NONE;
			drq_block(ch, d, XF_ATA_IN, 0, 512, true);
			return;
		}
		case 0x08: /* DEVICE RESET: completes without an interrupt */
			reset_drive_state(d);
			set_signature(d);
			ch->select &= DH_DEV;
			return;
		case 0xec: /* IDENTIFY DEVICE: "I am a packet device" */
			set_signature(d);
			ch->select &= DH_DEV;
			cmd_abort(ch, d, ER_ABRT);
			return;
		case 0xef:
			set_features(ch, d);
			return;
		case 0xe5: /* CHECK POWER MODE */
			d->nsector = 0xff;
			cmd_ok(ch, d);
			return;
		case 0xe0: case 0xe1: case 0xe2: case 0xe3: /* standby/idle */
			cmd_ok(ch, d);
			return;
		default:
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
	}

	switch (cmd) {
	case 0xec: { /* IDENTIFY DEVICE */
		uint16_t w[256];
		identify_disk(ch, d, w);
		memcpy(ch->buf, w, sizeof(w));
		ch->src = SRC_NONE;
		drq_block(ch, d, XF_ATA_IN, 0, 512, true);
		return;
	}
	case 0x20: case 0x21: /* READ SECTORS */
		ata_rw(ch, d, false, false, 1);
		return;
	case 0x24: /* READ SECTORS EXT */
		ata_rw(ch, d, true, false, 1);
		return;
	case 0x30: case 0x31: /* WRITE SECTORS */
		ata_rw(ch, d, false, true, 1);
		return;
	case 0x34: /* WRITE SECTORS EXT */
		ata_rw(ch, d, true, true, 1);
		return;
	case 0xc4: /* READ MULTIPLE */
	case 0x29: /* READ MULTIPLE EXT */
	case 0xc5: /* WRITE MULTIPLE */
	case 0x39: /* WRITE MULTIPLE EXT */
		if (!d->mult) {
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
		ata_rw(ch, d, cmd == 0x29 || cmd == 0x39, cmd == 0xc5 || cmd == 0x39,
		       d->mult);
		return;
	case 0xc8: case 0xc9: /* READ DMA */
		ata_dma(ch, d, false, false);
		return;
	case 0x25: /* READ DMA EXT */
		ata_dma(ch, d, true, false);
		return;
	case 0xca: case 0xcb: /* WRITE DMA */
		ata_dma(ch, d, false, true);
		return;
	case 0x35: /* WRITE DMA EXT */
		ata_dma(ch, d, true, true);
		return;
	case 0x40: case 0x41: /* READ VERIFY SECTORS */
	case 0x42: { /* READ VERIFY SECTORS EXT */
		uint64_t lba, count;
		if (!tf_range(ch, d, cmd == 0x42, &lba, &count))
			return;
		tf_set_lba(ch, d, lba + count - 1);
		d->nsector = 0;
		cmd_ok(ch, d);
		return;
	}
	case 0xc6: /* SET MULTIPLE MODE */
		if (d->nsector > MAX_MULT || (d->nsector & (d->nsector - 1))) {
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
		d->mult = d->nsector;
		cmd_ok(ch, d);
		return;
	case 0x91: /* INITIALIZE DEVICE PARAMETERS */
		if (!d->nsector) {
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
		d->cur_secs = d->nsector;
		d->cur_heads = (uint16_t)((ch->select & 0x0f) + 1);
		cmd_ok(ch, d);
		return;
	case 0xe7: /* FLUSH CACHE */
	case 0xea: /* FLUSH CACHE EXT */
		if (block_flush(d->blk)) {
			log_warn("%s: flush failed", block_name(d->blk));
			cmd_abort(ch, d, ER_ABRT);
			return;
		}
		cmd_ok(ch, d);
		return;
	case 0xef:
		set_features(ch, d);
		return;
	case 0xe5: /* CHECK POWER MODE: always active */
		d->nsector = 0xff;
		cmd_ok(ch, d);
		return;
	case 0xe0: case 0xe1: case 0xe2: case 0xe3: /* standby/idle */
		cmd_ok(ch, d);
		return;
	default:
		if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE */
			d->lbam = d->lbah = 0;
			cmd_ok(ch, d);
			return;
		}
		if ((cmd & 0xf0) == 0x70) { /* SEEK */
			uint64_t lba, count;
			if (tf_range(ch, d, false, &lba, &count))
				cmd_ok(ch, d);
			return;
		}
		log_debug("IDE%d.%d: ATA command %#x aborted: not one a disk takes", ch->n, ch->cur, cmd);
		cmd_abort(ch, d, ER_ABRT);
		return;
	}
}

/* ---- register access ---- */

static void soft_reset(struct ide_channel *ch, bool assert)
{
	end_xfer(ch);
	for (int i = 0; i < 2; i++) {
		struct ide_drive *d = &ch->d[i];
		if (!present(d))
			continue;
		if (assert) {
			d->status = ST_BSY;
			d->irq = false;
		} else {
			reset_drive_state(d);
		}
	}
	if (!assert)
		set_signatures(ch);
	update_line(ch);
}

static uint64_t cmd_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	struct ide_channel *ch = opaque;
	unsigned reg = (unsigned)(port - legacy_base[ch->n]);
	bool any = present(&ch->d[0]) || present(&ch->d[1]);
	struct ide_drive *d = cur_drive(ch);

	if (reg == 0 && size > 1) {
		if (!is_write)
			return any ? data_read(ch, size) : 0;
		if (any)
			data_write(ch, (uint32_t)val, size);
		return 0;
	}
	if (size > 1) { /* a wide access to an 8-bit register: byte lanes */
		uint64_t v = 0;
		for (unsigned i = 0; i < size; i++)
			v |= cmd_io(opaque, port + i, val >> (8 * i), 1, is_write) << (8 * i);
		return v;
	}
	uint8_t b = (uint8_t)val;
	if (is_write) {
		if (reg >= 1 && reg <= 5)
			ch->devctl &= (uint8_t)~DC_HOB;
		for (int i = 0; i < 2 && reg >= 1 && reg <= 5; i++) {
			struct ide_drive *t = &ch->d[i]; /* both devices latch it */
			switch (reg) {
			case 1: t->hob_feature = t->feature; t->feature = b; break;
			case 2: t->hob_nsector = t->nsector; t->nsector = b; break;
			case 3: t->hob_lbal = t->lbal; t->lbal = b; break;
			case 4: t->hob_lbam = t->lbam; t->lbam = b; break;
			case 5: t->hob_lbah = t->lbah; t->lbah = b; break;
			}
		}
		switch (reg) {
		case 6:
			ch->select = b;
			ch->cur = (b & DH_DEV) ? 1 : 0;
			update_line(ch);
			break;
		case 7:
			ata_command(ch, b);
			break;
		}
		return 0;
	}
	if (!any)
		return 0;
	bool hob = ch->devctl & DC_HOB;
	switch (reg) {
	case 0:
		return 0xff;
	case 1:
		return present(d) ? (hob ? 0 : d->error) : 0;
	case 2: return hob ? d->hob_nsector : d->nsector;
	case 3: return hob ? d->hob_lbal : d->lbal;
	case 4: return hob ? d->hob_lbam : d->lbam;
	case 5: return hob ? d->hob_lbah : d->lbah;
	case 6: return ch->select;
	default: /* status: reading it acknowledges the interrupt */
		if (!present(d))
			return 0;
		d->irq = false;
		update_line(ch);
		return d->status;
	}
}

static uint64_t ctl_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		       int is_write)
{
	(void)port;
	(void)size;
	struct ide_channel *ch = opaque;
	if (is_write) {
		uint8_t old = ch->devctl;
		ch->devctl = (uint8_t)val;
		if ((val & DC_SRST) && !(old & DC_SRST))
			soft_reset(ch, true);
		else if (!(val & DC_SRST) && (old & DC_SRST))
			soft_reset(ch, false);
		update_line(ch);
		return 0;
	}
	struct ide_drive *d = cur_drive(ch);
	return present(d) ? d->status : 0;
}

/* ---- bus-master registers (BAR4) ---- */

static uint64_t bm_io(void *opaque, uint64_t port, uint64_t val, unsigned size,
		      int is_write)
{
	struct ide *ide = opaque;
	uint32_t off = (uint32_t)(port - ide->dev.bar[4].addr);
	uint64_t r = 0;
	for (unsigned i = 0; i < size; i++, off++) {
		struct ide_channel *ch = &ide->ch[(off >> 3) & 1];
		unsigned reg = off & 7;
		uint8_t b = (uint8_t)(val >> (8 * i));
		uint8_t v = 0;
		switch (reg) {
		case 0:
			if (is_write) {
				uint8_t old = ch->bm_cmd;
				ch->bm_cmd = b & (BM_CMD_START | BM_CMD_TO_MEM);
				if ((b & BM_CMD_START) && !(old & BM_CMD_START)) {
					ch->bm_status |= BM_ST_ACTIVE;
					maybe_run_dma(ch);
				} else if (!(b & BM_CMD_START)) {
					ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
				}
			}
			v = ch->bm_cmd;
			break;
		case 2:
			if (is_write)
				ch->bm_status = (uint8_t)((ch->bm_status & ~(b & 0x06) & ~0x60) |
							  (b & 0x60));
			v = ch->bm_status;
			break;
		case 4: case 5: case 6: case 7: {
			unsigned sh = 8 * (reg - 4);
			if (is_write) {
				ch->bm_prd = (ch->bm_prd & ~(0xffu << sh)) | (uint32_t)b << sh;
				ch->bm_prd &= ~3u;
			}
			v = (uint8_t)(ch->bm_prd >> sh);
			break;
		}
		default:
			break;
		}
		r |= (uint64_t)v << (8 * i);
	}
	return r;
}

/* ---- PCI function ---- */

#define IDETIM(n) (0x40 + 2 * (n))
#define IDETIM_IDE 0x8000 /* decode enable */

static void update_decode(struct ide *ide)
{
	bool io = pci_get_word(&ide->dev, PCI_COMMAND) & PCI_COMMAND_IO;
	for (int n = 0; n < 2; n++) {
		struct ide_channel *ch = &ide->ch[n];
		bool on = io && (pci_get_word(&ide->dev, IDETIM(n)) & IDETIM_IDE);
		if (on == ch->decoding)
			continue;
		if (!on) {
			ioport_unregister(ide->vm->io, legacy_base[n]);
			ioport_unregister(ide->vm->io, legacy_ctl[n]);
			ch->decoding = false;
			continue;
		}
		int err = ioport_register(ide->vm->io, legacy_base[n], 8, cmd_io, ch, 0,
					  n ? "ide1" : "ide0");
		if (!err) {
			err = ioport_register(ide->vm->io, legacy_ctl[n], 1, ctl_io, ch,
					      0, n ? "ide1-ctl" : "ide0-ctl");
			if (err)
				ioport_unregister(ide->vm->io, legacy_base[n]);
		}
		if (err) {
			if (!ch->warned_ports)
				log_warn("IDE channel %d: ports %#x/%#x are taken; "
					 "the channel stays off", n, legacy_base[n],
					 legacy_ctl[n]);
			ch->warned_ports = true;
			continue;
		}
		ch->decoding = true;
	}
}

static void config_write(struct pci_device *dev, unsigned off, uint32_t val,
			 unsigned size)
{
	(void)val;
	if ((off <= PCI_COMMAND && off + size > PCI_COMMAND) ||
	    (off < 0x44 && off + size > 0x40))
		update_decode(dev->opaque);
}

static void channel_reset(struct ide_channel *ch)
{
	end_xfer(ch);
	ch->devctl = 0;
	ch->bm_cmd = ch->bm_status = 0;
	ch->bm_prd = 0;
	for (int i = 0; i < 2; i++) {
		struct ide_drive *d = &ch->d[i];
		d->feature = d->hob_feature = d->hob_nsector = 0;
		d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
		if (!present(d))
			continue;
		reset_drive_state(d);
		d->cur_heads = d->heads;
		d->cur_secs = d->secs;
		d->mult = MAX_MULT;
		d->wcache = true;
		d->lookahead = true;
		d->mdma = 2;
		d->udma = -1;
		d->locked = false;
		set_sense(d, SK_NO_SENSE, 0, 0);
	}
	set_signatures(ch);
	update_line(ch);
}

static void ide_reset(struct pci_device *dev)
{
	struct ide *ide = dev->opaque;
	update_decode(ide);
	for (int n = 0; n < 2; n++)
		channel_reset(&ide->ch[n]);
}

static void ide_free(void *opaque)
{
	struct ide *ide = opaque;
	for (int n = 0; n < 2; n++) {
		for (int i = 0; i < 2; i++) {
			struct block *b = ide->ch[n].d[i].blk;
			if (b && block_close(b))
				log_error("%s: could not flush the guest's writes", block_name(b));
		}
	}
	free(ide);
}

int ide_create(struct vm *vm, struct pci_bus *bus, int slot, int fn,
	       struct ide **out)
{
	struct ide *ide = calloc(1, sizeof(*ide));
	if (!ide)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, ide_free, ide);
	if (err) {
		free(ide);
		return err;
	}
	ide->vm = vm;
	for (int n = 0; n < 2; n++) {
		ide->ch[n].ide = ide;
		ide->ch[n].n = n;
	}
	struct pci_device *d = &ide->dev;
	d->name = "piix3-ide";
	d->opaque = ide;
	d->config_write = config_write;
	d->reset = ide_reset;
	pci_set_ids(d, 0x8086, 0x7010, 0x00, 0x010180);
	pci_set_word(d, PCI_STATUS, 0x0280);
	d->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MASTER;
	d->w1cmask[PCI_STATUS + 1] = 0x38;
	d->wmask[0x0d] = 0xf0;                    /* latency timer */
	for (unsigned o = 0x40; o < 0x44; o++)    /* IDETIM */
		d->wmask[o] = o & 1 ? 0xf3 : 0xff;
	d->wmask[0x44] = 0xff;                    /* SIDETIM */
	pci_set_bar(d, 4, PCI_BAR_IO, 16, false);
	d->bar[4].fn = bm_io;
	d->bar[4].opaque = ide;
	if ((err = pci_add_device(bus, d, slot, fn)))
		return err;
	for (int n = 0; n < 2; n++)
		channel_reset(&ide->ch[n]);
	if (out)
		*out = ide;
	return 0;
}

static void set_geometry(struct ide_drive *d)
{
	uint64_t per_cyl = 16 * 63;
	uint64_t cyls = d->nsectors / per_cyl;
	/* BIOSes keep the last cylinder back; two is the least that leaves
	 * one to use. */
	d->cyls = (uint16_t)(cyls > 16383 ? 16383 : cyls < 2 ? 2 : cyls);
	d->heads = 16;
	d->secs = 63;
	d->cur_heads = d->heads;
	d->cur_secs = d->secs;
}

static void set_medium(struct ide_drive *d, struct block *b)
{
	d->blk = b;
	d->nsectors = b ? block_size(b) / CD_BLOCK : 0;
}

int ide_attach(struct ide *ide, int index, enum ide_media media,
	       struct block *b)
{
	if (index < 0 || index >= IDE_MAX_DRIVES)
		return -EINVAL;
	struct ide_channel *ch = &ide->ch[index / 2];
	struct ide_drive *d = &ch->d[index % 2];
	if (present(d))
		return -EEXIST;
	if (!b && media != IDE_MEDIA_CDROM)
		return -EINVAL;
	snprintf(d->serial, sizeof(d->serial), "PCVM%016d", index + 1);
	if (media == IDE_MEDIA_CDROM) {
		d->kind = DRV_CDROM;
		set_medium(d, b);
	} else {
		d->kind = DRV_DISK;
		d->blk = b;
		d->nsectors = block_size(b) / SECTOR;
		set_geometry(d);
	}
	channel_reset(ch);
	return 0;
}

static struct ide_drive *cd_at(struct ide *ide, int index)
{
	if (index < 0 || index >= IDE_MAX_DRIVES)
		return NULL;
	struct ide_drive *d = &ide->ch[index / 2].d[index % 2];
	return d->kind == DRV_CDROM ? d : NULL;
}

int ide_cdrom_change(struct ide *ide, int index, struct block *b, bool force)
{
	struct ide_drive *d = cd_at(ide, index);
	if (!d)
		return -ENODEV;
	if (d->locked && !force) {
		d->media_event = EV_EJECT_REQUEST;
		return -EBUSY;
	}
	struct ide_channel *ch = &ide->ch[index / 2];
	if (cur_drive(ch) == d && (ch->xfer != XF_NONE || ch->dma_pending)) {
		/* The disc leaves under a running command: it fails as on a
		 * drive whose tray opens. */
		d->tray_open = true;
		not_ready(ch, d);
	}
	if (d->blk)
		block_close(d->blk);
	set_medium(d, b);
	d->tray_open = false;
	d->locked = false;
	if (b) {
		d->unit_attention = true;
		d->media_event = EV_NEW_MEDIA;
	} else {
		d->unit_attention = false;
		d->media_event = EV_MEDIA_REMOVAL;
	}
	return 0;
}

struct ide *ide_find(struct vm *vm)
{
	for (int slot = 0; vm->pci && slot < 32; slot++) {
		for (int fn = 0; fn < 8; fn++) {
			struct pci_device *d = pci_find_device(vm->pci, slot, fn);
			if (d && d->reset == ide_reset)
				return d->opaque;
		}
	}
	return NULL;
}

bool ide_cdrom_locked(struct ide *ide, int index)
{
	struct ide_drive *d = cd_at(ide, index);
	return d && d->locked;
}

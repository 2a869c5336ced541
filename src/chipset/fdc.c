/*
 * An Intel 82077AA floppy disk controller in PC/AT mode, after its
 * datasheet (register set: DOR, TDR, MSR/DSR, FIFO, DIR/CCR; the command
 * set with its command, execution and result phases; status registers
 * ST0-ST3; reset and drive polling; implied seek, CONFIGURE, LOCK,
 * DUMPREG, PERPENDICULAR MODE), with 3.5" and 5.25" drives whose media
 * format follows from the image size.
 *
 * Commands execute at once: a seek, recalibrate, read or write is done
 * when its last command byte arrives, so its interrupt is already pending
 * when the guest next looks. DMA transfers go through the 8237's channel 2
 * and end at its terminal count (normal termination) or at the end of the
 * track (abnormal, "end of cylinder"); a channel that is not ready is an
 * overrun. Without DMA (SPECIFY's ND bit) the data moves through the FIFO
 * port with MSR's RQM/DIO/NDMA, and INT asks for each byte. The FIFO's
 * threshold and the motor bits change nothing here: drives read whether
 * their motor turns or not. The media holds only what an image can: 512-byte
 * sectors at their standard positions, no deleted-data marks; READ TRACK,
 * READ/WRITE DELETED DATA, VERIFY and the SCAN commands answer as invalid.
 */
#include "fdc.h"
#include "dma.h"
#include "../disk/block.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FDC_DMA_CHANNEL 2
#define SECTOR 512

#define DOR_SEL 0x03
#define DOR_NRESET 0x04
#define DOR_DMA 0x08

#define MSR_RQM 0x80
#define MSR_DIO 0x40
#define MSR_NDMA 0x20
#define MSR_CB 0x10

#define ST0_ABNORMAL 0x40
#define ST0_INVALID 0x80
#define ST0_POLL 0xc0
#define ST0_SE 0x20
#define ST0_EC 0x10
#define ST1_EN 0x80
#define ST1_DE 0x20
#define ST1_OR 0x10
#define ST1_ND 0x04
#define ST1_NW 0x02
#define ST1_MA 0x01
#define ST2_DD 0x20
#define ST2_WC 0x10
#define ST2_BC 0x02

static const struct fdc_media formats[] = {
	{ 737280, 80, 2, 9, 3, 2, "720 KB" },
	{ 1228800, 80, 2, 15, 2, 0, "1.2 MB" },
	{ 1474560, 80, 2, 18, 4, 0, "1.44 MB" },
	{ 2949120, 80, 2, 36, 5, 3, "2.88 MB" },
};

const struct fdc_media *fdc_media_for_size(uint64_t size)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].size == size)
			return &formats[i];
	return NULL;
}

enum phase { PH_COMMAND, PH_PARAMS, PH_EXEC, PH_RESULT };
enum xfer_kind { X_READ, X_WRITE, X_FORMAT };

struct fdc_drive {
	bool present;
	uint8_t type;
	struct block *img;
	const struct fdc_media *media;
	uint8_t track;
	bool changed;       /* the disk-change line */
	bool seek_done;     /* a seek end waits for SENSE INTERRUPT */
	uint8_t seek_st0;
	uint8_t next_id;    /* the sector passing under the head, for READ ID */
};

struct fdc_xfer {
	enum xfer_kind kind;
	int ds, head;
	int st0_head;       /* the head of the last sector moved, for ST0 */
	bool mt;
	uint8_t c, h, r, n, eot;
	uint8_t sc, fill;   /* FORMAT: sectors, filler byte */
	unsigned done;      /* FORMAT: sectors formatted */
	uint8_t buf[SECTOR];
	unsigned pos, len;
};

struct fdc {
	struct vm *vm;
	struct dma *dma;
	struct fdc_drive drv[2];
	uint8_t dor, tdr, rate, precomp;
	enum phase phase;
	uint8_t cmd[10];
	unsigned cmd_len, cmd_need;
	uint8_t res[10];
	unsigned res_len, res_pos;
	bool intr, irq_level;
	unsigned reset_sense;   /* drives still to report after a reset */
	uint8_t srt_hut, hlt_nd;
	bool eis, efifo, poll_off, lock;
	uint8_t fifothr, pretrk, perp, last_eot;
	struct fdc_xfer x;
	bool warned_io;
};

static void update_irq(struct fdc *f)
{
	bool level = f->intr && (f->dor & (DOR_DMA | DOR_NRESET)) == (DOR_DMA | DOR_NRESET);
	if (level != f->irq_level) {
		f->irq_level = level;
		irq_set(&f->vm->isa_irq[6], level);
	}
}

static void set_intr(struct fdc *f, bool on)
{
	f->intr = on;
	update_irq(f);
}

static struct fdc_drive *drive(struct fdc *f, int ds)
{
	return ds < 2 && f->drv[ds].present ? &f->drv[ds] : NULL;
}

static void result(struct fdc *f, const uint8_t *bytes, unsigned n, bool intr)
{
	memcpy(f->res, bytes, n);
	f->res_len = n;
	f->res_pos = 0;
	f->phase = PH_RESULT;
	if (intr)
		set_intr(f, true);
}

static void result_invalid(struct fdc *f)
{
	uint8_t st0 = ST0_INVALID;
	result(f, &st0, 1, false);
}

/* The seven result bytes of a data command. */
static void result_rw(struct fdc *f, uint8_t st0, uint8_t st1, uint8_t st2)
{
	struct fdc_xfer *x = &f->x;
	uint8_t r[7] = { (uint8_t)(st0 | x->st0_head << 2 | x->ds), st1, st2, x->c, x->h, x->r, x->n };
	result(f, r, 7, true);
}

static uint64_t sector_offset(const struct fdc_drive *d, int head, uint8_t r)
{
	const struct fdc_media *m = d->media;
	return (((uint64_t)d->track * m->heads + (uint64_t)head) * m->sectors + (r - 1u)) * SECTOR;
}

/* Can sector r be found on the current track and head? */
static bool sector_exists(const struct fdc_drive *d, int head, uint8_t r)
{
	const struct fdc_media *m = d->media;
	return r >= 1 && r <= m->sectors && d->track < m->tracks && head < m->heads;
}

static bool io_error(struct fdc *f, const char *what, int err)
{
	if (!f->warned_io) {
		f->warned_io = true;
		log_warn("floppy: %s failed: %s; the guest sees a data error", what,
			 strerror(-err));
	}
	return false;
}

static bool read_sector(struct fdc *f, struct fdc_drive *d)
{
	int err = block_read(d->img, sector_offset(d, f->x.head, f->x.r), f->x.buf, SECTOR);
	return err ? io_error(f, "reading the image", err) : true;
}

static bool write_sector(struct fdc *f, struct fdc_drive *d, uint8_t r, const uint8_t *buf)
{
	int err = block_write(d->img, sector_offset(d, f->x.head, r), buf, SECTOR);
	return err ? io_error(f, "writing the image", err) : true;
}

/*
 * One sector of a READ or WRITE is done: step to the next sector ID, as the
 * result phase reports it. Returns false at the end of the track (or of
 * the second side with MT).
 */
static bool next_sector(struct fdc *f)
{
	struct fdc_xfer *x = &f->x;
	if (x->r != x->eot) {
		x->r++;
		return true;
	}
	x->r = 1;
	if (x->mt && !(x->h & 1)) {
		x->h ^= 1;
		x->head = 1;
		return true;
	}
	if (x->mt)
		x->h ^= 1;
	x->c++;
	return false;
}

/* The execution phase of READ DATA / WRITE DATA with DMA. */
static void rw_dma(struct fdc *f, struct fdc_drive *d)
{
	struct fdc_xfer *x = &f->x;
	for (;;) {
		bool tc = false;
		size_t n;
		x->st0_head = x->head;
		if (x->kind == X_READ) {
			if (!read_sector(f, d)) {
				result_rw(f, ST0_ABNORMAL, ST1_DE, ST2_DD);
				return;
			}
			n = dma_write_memory(f->dma, FDC_DMA_CHANNEL, x->buf, SECTOR, &tc);
		} else {
			n = dma_read_memory(f->dma, FDC_DMA_CHANNEL, x->buf, SECTOR, &tc);
			if (n < SECTOR && tc) /* the rest of the sector is written as zeros */
				memset(x->buf + n, 0, SECTOR - n);
			if (n == SECTOR || tc) {
				if (!write_sector(f, d, x->r, x->buf)) {
					result_rw(f, ST0_ABNORMAL, ST1_DE, ST2_DD);
					return;
				}
			}
		}
		if (n < SECTOR && !tc) {
			/* Nobody took (or gave) the data in time. */
			result_rw(f, ST0_ABNORMAL, ST1_OR, 0);
			return;
		}
		bool more = next_sector(f);
		if (tc) {
			result_rw(f, 0, 0, 0);
			return;
		}
		if (!more) {
			result_rw(f, ST0_ABNORMAL, ST1_EN, 0);
			return;
		}
		if (!sector_exists(d, x->head, x->r)) {
			result_rw(f, ST0_ABNORMAL, ST1_ND, 0);
			return;
		}
	}
}

/* Non-DMA: prepares the buffer for the sector at x->r. */
static bool pio_begin_sector(struct fdc *f, struct fdc_drive *d)
{
	struct fdc_xfer *x = &f->x;
	x->pos = 0;
	x->len = x->kind == X_FORMAT ? 4 : SECTOR;
	x->st0_head = x->head;
	if (x->kind == X_READ && !read_sector(f, d)) {
		result_rw(f, ST0_ABNORMAL, ST1_DE, ST2_DD);
		return false;
	}
	f->phase = PH_EXEC;
	set_intr(f, true);
	return true;
}

static void format_sector(struct fdc *f, struct fdc_drive *d, const uint8_t *id);

/* Non-DMA: the guest moved the last byte of the buffer. */
static void pio_sector_done(struct fdc *f)
{
	struct fdc_xfer *x = &f->x;
	struct fdc_drive *d = drive(f, x->ds);
	if (!d || !d->img) {
		result_rw(f, ST0_ABNORMAL, ST1_MA, 0);
		return;
	}
	if (x->kind == X_FORMAT) {
		format_sector(f, d, x->buf);
		if (++x->done == x->sc) {
			result_rw(f, 0, 0, 0);
			return;
		}
		pio_begin_sector(f, d);
		return;
	}
	if (x->kind == X_WRITE && !write_sector(f, d, x->r, x->buf)) {
		result_rw(f, ST0_ABNORMAL, ST1_DE, ST2_DD);
		return;
	}
	if (!next_sector(f)) {
		/* Without DMA there is no terminal count: the command runs to
		 * the end of the track. */
		result_rw(f, ST0_ABNORMAL, ST1_EN, 0);
		return;
	}
	if (!sector_exists(d, x->head, x->r)) {
		result_rw(f, ST0_ABNORMAL, ST1_ND, 0);
		return;
	}
	pio_begin_sector(f, d);
}

static bool dma_mode(const struct fdc *f)
{
	return !(f->hlt_nd & 1);
}

/* Checks shared by the data commands; on failure the result is set. */
static struct fdc_drive *check_media(struct fdc *f, bool mfm)
{
	struct fdc_drive *d = drive(f, f->x.ds);
	if (!d || !d->img || !mfm || f->rate != d->media->rate ||
	    f->x.head >= d->media->heads) {
		/* No disk, or no ID field readable at this rate and mode. */
		result_rw(f, ST0_ABNORMAL, ST1_MA, 0);
		return NULL;
	}
	return d;
}

static void cmd_read_write(struct fdc *f, enum xfer_kind kind)
{
	const uint8_t *p = f->cmd;
	struct fdc_xfer *x = &f->x;
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->ds = p[1] & 3;
	x->head = x->st0_head = (p[1] >> 2) & 1;
	x->mt = p[0] & 0x80;
	x->c = p[2];
	x->h = p[3];
	x->r = p[4];
	x->n = p[5];
	x->eot = p[6];
	f->last_eot = p[6];
	struct fdc_drive *dd = drive(f, x->ds);
	if (dd && f->eis && dd->track != x->c) { /* implied seek */
		dd->track = x->c;
		if (dd->img)
			dd->changed = false;
	}
	struct fdc_drive *d = check_media(f, p[0] & 0x40);
	if (!d)
		return;
	if (d->track != x->c) {
		result_rw(f, ST0_ABNORMAL, ST1_ND, x->c == 0xff ? ST2_BC : ST2_WC);
		return;
	}
	if (x->h != x->head || x->n != 2 || !sector_exists(d, x->head, x->r)) {
		result_rw(f, ST0_ABNORMAL, ST1_ND, 0);
		return;
	}
	if (kind == X_WRITE && block_readonly(d->img)) {
		result_rw(f, ST0_ABNORMAL, ST1_NW, 0);
		return;
	}
	if (dma_mode(f))
		rw_dma(f, d);
	else
		pio_begin_sector(f, d);
}

/* Writes the filler into the sector one FORMAT ID names, if the image can
 * hold it there. */
static void format_sector(struct fdc *f, struct fdc_drive *d, const uint8_t *id)
{
	uint8_t buf[SECTOR];
	if (id[0] != d->track || id[1] != f->x.head || id[3] != 2 ||
	    !sector_exists(d, f->x.head, id[2])) {
		log_debug("floppy: format ID %u/%u/%u/%u does not fit the image's layout",
			  id[0], id[1], id[2], id[3]);
		return;
	}
	memset(buf, f->x.fill, sizeof(buf));
	write_sector(f, d, id[2], buf);
}

static void cmd_format(struct fdc *f)
{
	const uint8_t *p = f->cmd;
	struct fdc_xfer *x = &f->x;
	memset(x, 0, sizeof(*x));
	x->kind = X_FORMAT;
	x->ds = p[1] & 3;
	x->head = x->st0_head = (p[1] >> 2) & 1;
	x->n = p[2];
	x->sc = p[3];
	x->fill = p[5];
	struct fdc_drive *d = check_media(f, p[0] & 0x40);
	if (!d)
		return;
	x->c = d->track;
	x->h = (uint8_t)x->head;
	x->r = 1;
	if (block_readonly(d->img)) {
		result_rw(f, ST0_ABNORMAL, ST1_NW, 0);
		return;
	}
	if (!x->sc) {
		result_rw(f, 0, 0, 0);
		return;
	}
	if (!dma_mode(f)) {
		pio_begin_sector(f, d);
		return;
	}
	for (;;) {
		uint8_t id[4];
		bool tc = false;
		if (dma_read_memory(f->dma, FDC_DMA_CHANNEL, id, 4, &tc) < 4) {
			result_rw(f, ST0_ABNORMAL, ST1_OR, 0);
			return;
		}
		format_sector(f, d, id);
		if (++x->done == x->sc || tc) {
			result_rw(f, 0, 0, 0);
			return;
		}
	}
}

static void cmd_read_id(struct fdc *f)
{
	struct fdc_xfer *x = &f->x;
	memset(x, 0, sizeof(*x));
	x->ds = f->cmd[1] & 3;
	x->head = x->st0_head = (f->cmd[1] >> 2) & 1;
	struct fdc_drive *d = check_media(f, f->cmd[0] & 0x40);
	if (!d)
		return;
	if (d->track >= d->media->tracks) {
		result_rw(f, ST0_ABNORMAL, ST1_MA, 0);
		return;
	}
	/* Successive READ IDs see successive sectors go by. */
	d->next_id = (uint8_t)(d->next_id % d->media->sectors + 1);
	x->c = d->track;
	x->h = (uint8_t)x->head;
	x->r = d->next_id;
	x->n = 2;
	result_rw(f, 0, 0, 0);
}

static void seek_end(struct fdc *f, int ds, uint8_t st0)
{
	if (ds < 2) {
		f->drv[ds].seek_done = true;
		f->drv[ds].seek_st0 = st0;
	}
	f->phase = PH_COMMAND;
	set_intr(f, true);
}

static void cmd_seek(struct fdc *f, int target, bool recal)
{
	int ds = f->cmd[1] & 3, head = (f->cmd[1] >> 2) & 1;
	struct fdc_drive *d = drive(f, ds);
	if (!d) {
		/* No track 0 signal ever comes from a missing drive. */
		seek_end(f, ds, (uint8_t)(recal ? ST0_ABNORMAL | ST0_SE | ST0_EC | ds
					   : ST0_SE | head << 2 | ds));
		return;
	}
	d->track = (uint8_t)(target < 0 ? 0 : target > 255 ? 255 : target);
	if (d->img)
		d->changed = false;
	seek_end(f, ds, (uint8_t)(ST0_SE | (recal ? 0 : head << 2) | ds));
}

static void cmd_sense_interrupt(struct fdc *f)
{
	uint8_t r[2];
	if (f->reset_sense) {
		int ds = 4 - (int)f->reset_sense--;
		r[0] = (uint8_t)(ST0_POLL | ds);
		r[1] = ds < 2 ? f->drv[ds].track : 0;
	} else {
		int ds;
		for (ds = 0; ds < 2 && !f->drv[ds].seek_done; ds++)
			;
		if (ds == 2) {
			result_invalid(f);
			return;
		}
		f->drv[ds].seek_done = false;
		r[0] = f->drv[ds].seek_st0;
		r[1] = f->drv[ds].track;
	}
	bool more = f->reset_sense || f->drv[0].seek_done || f->drv[1].seek_done;
	set_intr(f, more);
	result(f, r, 2, false);
}

static void cmd_sense_drive(struct fdc *f)
{
	int ds = f->cmd[1] & 3, head = (f->cmd[1] >> 2) & 1;
	struct fdc_drive *d = drive(f, ds);
	uint8_t st3 = (uint8_t)(0x28 | head << 2 | ds);
	if (d) {
		if (!d->img || block_readonly(d->img))
			st3 |= 0x40; /* write protected (no disk reads as protected) */
		if (d->track == 0)
			st3 |= 0x10;
	}
	result(f, &st3, 1, false);
}

static void cmd_dumpreg(struct fdc *f)
{
	uint8_t r[10] = {
		f->drv[0].track, f->drv[1].track, 0, 0, f->srt_hut, f->hlt_nd,
		f->last_eot, (uint8_t)((f->lock ? 0x80 : 0) | (f->perp & 0x3f)),
		(uint8_t)((f->eis ? 0x40 : 0) | (f->efifo ? 0x20 : 0) |
			  (f->poll_off ? 0x10 : 0) | (f->fifothr & 0x0f)),
		f->pretrk,
	};
	result(f, r, 10, false);
}

static void execute(struct fdc *f)
{
	const uint8_t *p = f->cmd;
	uint8_t v;
	switch (p[0] & 0x1f) {
	case 0x03: /* SPECIFY */
		f->srt_hut = p[1];
		f->hlt_nd = p[2];
		f->phase = PH_COMMAND;
		return;
	case 0x04:
		cmd_sense_drive(f);
		return;
	case 0x05:
		cmd_read_write(f, X_WRITE);
		return;
	case 0x06:
		cmd_read_write(f, X_READ);
		return;
	case 0x07:
		cmd_seek(f, 0, true);
		return;
	case 0x08:
		cmd_sense_interrupt(f);
		return;
	case 0x0a:
		cmd_read_id(f);
		return;
	case 0x0d:
		cmd_format(f);
		return;
	case 0x0e:
		cmd_dumpreg(f);
		return;
	case 0x0f:
		if (p[0] & 0x80) { /* RELATIVE SEEK: DIR bit 6 steps inward */
			struct fdc_drive *d = drive(f, p[1] & 3);
			int cur = d ? d->track : 0;
			cmd_seek(f, p[0] & 0x40 ? cur + p[2] : cur - p[2], false);
		} else {
			cmd_seek(f, p[2], false);
		}
		return;
	case 0x10: /* VERSION: an enhanced controller */
		v = 0x90;
		result(f, &v, 1, false);
		return;
	case 0x12: /* PERPENDICULAR MODE; OW lets D0-D3 change */
		if (p[1] & 0x80)
			f->perp = p[1] & 0x3f;
		else
			f->perp = (uint8_t)((f->perp & 0x3c) | (p[1] & 0x03));
		f->phase = PH_COMMAND;
		return;
	case 0x13: /* CONFIGURE */
		f->eis = p[2] & 0x40;
		f->efifo = p[2] & 0x20;
		f->poll_off = p[2] & 0x10;
		f->fifothr = p[2] & 0x0f;
		f->pretrk = p[3];
		f->phase = PH_COMMAND;
		return;
	case 0x14: /* LOCK */
		f->lock = p[0] & 0x80;
		v = f->lock ? 0x10 : 0;
		result(f, &v, 1, false);
		return;
	}
	result_invalid(f);
}

/* Total bytes of the command that starts with op, 0 if invalid. */
static unsigned command_length(uint8_t op)
{
	static const struct { uint8_t mask, value, len; } table[] = {
		{ 0xff, 0x03, 3 }, /* SPECIFY */
		{ 0xff, 0x04, 2 }, /* SENSE DRIVE STATUS */
		{ 0x3f, 0x05, 9 }, /* WRITE DATA (MT, MFM) */
		{ 0x1f, 0x06, 9 }, /* READ DATA (MT, MFM, SK) */
		{ 0xff, 0x07, 2 }, /* RECALIBRATE */
		{ 0xff, 0x08, 1 }, /* SENSE INTERRUPT STATUS */
		{ 0xbf, 0x0a, 2 }, /* READ ID (MFM) */
		{ 0xbf, 0x0d, 6 }, /* FORMAT TRACK (MFM) */
		{ 0xff, 0x0e, 1 }, /* DUMPREG */
		{ 0xff, 0x0f, 3 }, /* SEEK */
		{ 0xbf, 0x8f, 3 }, /* RELATIVE SEEK (DIR) */
		{ 0xff, 0x10, 1 }, /* VERSION */
		{ 0xff, 0x12, 2 }, /* PERPENDICULAR MODE */
		{ 0xff, 0x13, 4 }, /* CONFIGURE */
		{ 0x7f, 0x14, 1 }, /* LOCK */
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if ((op & table[i].mask) == table[i].value)
			return table[i].len;
	return 0;
}

static void data_write(struct fdc *f, uint8_t v)
{
	switch (f->phase) {
	case PH_COMMAND:
		f->cmd_need = command_length(v);
		if (!f->cmd_need) {
			result_invalid(f);
			return;
		}
		f->cmd[0] = v;
		f->cmd_len = 1;
		f->phase = PH_PARAMS;
		break;
	case PH_PARAMS:
		f->cmd[f->cmd_len++] = v;
		break;
	case PH_EXEC:
		if (f->x.kind != X_READ && f->x.pos < f->x.len) {
			f->x.buf[f->x.pos++] = v;
			if (f->x.pos == f->x.len)
				pio_sector_done(f);
		}
		return;
	case PH_RESULT:
		return; /* the controller is not listening */
	}
	if (f->cmd_len == f->cmd_need)
		execute(f);
}

static uint8_t data_read(struct fdc *f)
{
	if (f->phase == PH_RESULT) {
		if (f->intr && !f->reset_sense && !f->drv[0].seek_done && !f->drv[1].seek_done)
			set_intr(f, false);
		uint8_t v = f->res[f->res_pos++];
		if (f->res_pos == f->res_len)
			f->phase = PH_COMMAND;
		return v;
	}
	if (f->phase == PH_EXEC && f->x.kind == X_READ && f->x.pos < f->x.len) {
		uint8_t v = f->x.buf[f->x.pos++];
		if (f->x.pos == f->x.len)
			pio_sector_done(f);
		return v;
	}
	return 0xff;
}

static uint8_t msr(const struct fdc *f)
{
	if (!(f->dor & DOR_NRESET))
		return 0;
	switch (f->phase) {
	case PH_COMMAND:
		return MSR_RQM;
	case PH_PARAMS:
		return MSR_RQM | MSR_CB;
	case PH_EXEC:
		return MSR_RQM | MSR_NDMA | MSR_CB | (f->x.kind == X_READ ? MSR_DIO : 0);
	default:
		return MSR_RQM | MSR_DIO | MSR_CB;
	}
}

/* The controller's reset: DOR bit 2 low, or DSR bit 7. */
static void enter_reset(struct fdc *f)
{
	f->phase = PH_COMMAND;
	f->cmd_len = f->cmd_need = 0;
	f->res_len = f->res_pos = 0;
	f->reset_sense = 0;
	f->drv[0].seek_done = f->drv[1].seek_done = false;
	f->eis = false;
	f->poll_off = false;
	f->perp &= 0x3c;
	if (!f->lock) {
		f->efifo = true;
		f->fifothr = 0;
		f->pretrk = 0;
	}
	set_intr(f, false);
}

static void leave_reset(struct fdc *f)
{
	/* Drive polling reports a ready change for all four drives. */
	if (!f->poll_off) {
		f->reset_sense = 4;
		set_intr(f, true);
	}
}

static void write_dor(struct fdc *f, uint8_t v)
{
	uint8_t old = f->dor;
	f->dor = v;
	if ((old & DOR_NRESET) && !(v & DOR_NRESET))
		enter_reset(f);
	else if (!(old & DOR_NRESET) && (v & DOR_NRESET))
		leave_reset(f);
	update_irq(f);
}

static uint64_t fdc_io(void *opaque, uint64_t addr, uint64_t val,
		       unsigned size, int is_write)
{
	struct fdc *f = opaque;
	uint8_t v = (uint8_t)val;
	(void)size;
	switch (addr & 7) {
	case 2:
		if (is_write)
			write_dor(f, v);
		return f->dor;
	case 3:
		if (is_write)
			f->tdr = v & 3;
		return f->tdr;
	case 4:
		if (!is_write)
			return msr(f);
		f->rate = v & 3;
		f->precomp = (v >> 2) & 7;
		if (v & 0x80 && (f->dor & DOR_NRESET)) { /* software reset */
			enter_reset(f);
			leave_reset(f);
		}
		return 0;
	case 5:
		if (!(f->dor & DOR_NRESET))
			return 0xff;
		if (is_write) {
			data_write(f, v);
			return 0;
		}
		return data_read(f);
	case 7: {
		if (is_write) {
			f->rate = v & 3;
			return 0;
		}
		int sel = f->dor & DOR_SEL;
		return sel < 2 && f->drv[sel].present && f->drv[sel].changed ? 0x80 : 0x00;
	}
	}
	return 0xff;
}

int fdc_insert(struct fdc *f, int drv, struct block *b)
{
	if (drv < 0 || drv > 1)
		return -EINVAL;
	const struct fdc_media *m = fdc_media_for_size(block_size(b));
	if (!m)
		return -EINVAL;
	struct fdc_drive *d = &f->drv[drv];
	if (d->img)
		fdc_eject(f, drv);
	if (!d->present) {
		d->present = true;
		d->type = m->cmos_type;
	}
	d->img = b;
	d->media = m;
	d->changed = true;
	return 0;
}

void fdc_eject(struct fdc *f, int drv)
{
	if (drv < 0 || drv > 1 || !f->drv[drv].img)
		return;
	block_close(f->drv[drv].img);
	f->drv[drv].img = NULL;
	f->drv[drv].media = NULL;
	f->drv[drv].changed = true;
}

int fdc_drive_type(const struct fdc *f, int drv)
{
	if (drv < 0 || drv > 1 || !f->drv[drv].present)
		return 0;
	return f->drv[drv].type;
}

static void fdc_reset(void *opaque)
{
	struct fdc *f = opaque;
	f->lock = false;
	enter_reset(f);
	f->dor = 0;
	f->tdr = 0;
	f->rate = 2; /* 250 kb/s */
	f->precomp = 0;
	f->srt_hut = f->hlt_nd = 0;
	f->perp = 0;
	f->last_eot = 0;
	for (int i = 0; i < 2; i++)
		f->drv[i].track = 0;
	update_irq(f);
}

static void fdc_free(void *opaque)
{
	struct fdc *f = opaque;
	fdc_eject(f, 0);
	fdc_eject(f, 1);
	free(f);
}

int fdc_create(struct vm *vm, struct dma *dma, struct fdc **out)
{
	struct fdc *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int err = vm_add_cleanup_hook(vm, fdc_free, f);
	if (err) {
		free(f);
		return err;
	}
	f->vm = vm;
	f->dma = dma;
	if ((err = ioport_register(vm->io, 0x3f2, 4, fdc_io, f, IOPORT_F_BYTE, "fdc")) ||
	    (err = ioport_register(vm->io, 0x3f7, 1, fdc_io, f, IOPORT_F_BYTE, "fdc")) ||
	    (err = vm_add_reset_hook(vm, fdc_reset, f)))
		return err;
	fdc_reset(f);
	*out = f;
	return 0;
}

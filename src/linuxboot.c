/*
 * A boot loader for Linux x86 kernels, after the kernel's
 * Documentation/arch/x86/boot.rst ("The Linux/x86 Boot Protocol") and
 * zero-page.rst: the real-mode header at offset 0x1F1 of a bzImage gives
 * the protocol version, the size of the real-mode part, the loading flags
 * and limits; the protected-mode kernel that follows it goes to 1 MiB
 * (code32_start). The loader fills a zeroed boot_params ("zero page") with
 * a copy of that header plus its own fields (type_of_loader, heap,
 * cmd_line_ptr, the initrd's place, the e820 memory map, screen_info for
 * an 80x25 VGA text console) and enters the kernel through the 32-bit boot
 * protocol: protected mode without paging, a GDT whose selectors 0x10 and
 * 0x18 are flat 4 GiB code and data, CS=0x10, DS=ES=SS=0x18, interrupts
 * off, ESI pointing at boot_params, EBP=EDI=EBX=0. memtest86+'s ia32 and
 * x64 .bin images carry the same header and boot the same way.
 *
 * With no firmware there are no ACPI tables either, so the loader writes
 * the few an OS needs to find the PCI bus and power the machine off (ACPI
 * 1.0b, section 5.2): an RSDP, an RSDT, a revision-1 FADT describing the
 * PIIX4 PM block with SMI_CMD 0 (already in ACPI mode), a FACS and a DSDT
 * holding \_S5 and the PCI root bridge \_SB.PCI0 with its resources.
 * They sit in the reserved 1 KiB below 640 KiB where a BIOS keeps its EBDA;
 * the kernel learns the RSDP's address from boot_params.acpi_rsdp_addr and,
 * for older kernels, by scanning the EBDA the BIOS data area points to.
 */
#include "linuxboot.h"
#include "chipset/acpi.h"
#include "log.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Setup header offsets (in the file and in boot_params). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_RELOCATABLE 0x234
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80

/* boot_params offsets */
#define BP_SCREEN_INFO 0x000
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_ALT_MEM_K 0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128

struct e820 {
	uint64_t addr, len;
	uint32_t type;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static uint64_t mib_up(uint64_t bytes) { return (bytes + (1u << 20) - 1) >> 20; }

/* Reads len bytes at off of fd into guest RAM at gpa. */
static int load_into_ram(struct vm *vm, int fd, const char *opt, const char *path,
			 off_t off, uint64_t gpa, uint64_t len)
{
	uint8_t *dst = vm_ram_ptr(vm, gpa, len);
	if (!dst) {
		log_error("%s %s: guest RAM at %#llx is not contiguous; give more --memory",
			  opt, path, (unsigned long long)gpa);
		return -EINVAL;
	}
	uint64_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, dst + done, len - done, off + (off_t)done);
		if (n <= 0) {
			log_error("%s %s: %s", opt, path,
				  n < 0 ? strerror(errno) : "the file shrank while loading");
			return n < 0 ? -EIO : -EINVAL;
		}
		done += (uint64_t)n;
	}
	mem_notify_write(vm->mem, gpa, len);
	return 0;
}

static int open_file(const char *opt, const char *path, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("%s %s: %s; check the path", opt, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

static void checksum(uint8_t *p, size_t len, uint8_t *sum)
{
	uint8_t s = 0;
	*sum = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	*sum = (uint8_t)-s;
}

static void table_header(uint8_t *t, const char *sig, uint32_t len)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = 1;                      /* revision */
	memcpy(t + 10, "PCVM  ", 6);   /* OEM ID */
	memcpy(t + 16, "PCVMTABL", 8); /* OEM table ID */
	put32(t + 24, 1);              /* OEM revision */
	memcpy(t + 28, "PCVM", 4);     /* creator */
	put32(t + 32, 1);
}

/* AML (ACPI 1.0b, section 16): writes op (one byte, or 0x5Bxx for the
 * extended ones; 0 for none), then PkgLength, then name (4 bytes or NULL)
 * and body. PkgLength counts its own bytes and what follows it: one byte up
 * to 63, two (low nibble with 0x40, then the rest) up to 4095. Returns the
 * bytes written. */
static size_t aml_pkg(uint8_t *out, unsigned op, const char *name, const uint8_t *body,
		      size_t n)
{
	uint8_t *p = out;
	if (op > 0xff)
		*p++ = (uint8_t)(op >> 8);
	if (op)
		*p++ = (uint8_t)op;
	size_t len = n + (name ? strlen(name) : 0);
	if (len + 1 < 64) {
		*p++ = (uint8_t)(len + 1);
	} else {
		*p++ = (uint8_t)(0x40 | ((len + 2) & 0x0f));
		*p++ = (uint8_t)((len + 2) >> 4);
	}
	if (name) {
		memcpy(p, name, strlen(name));
		p += strlen(name);
	}
	memcpy(p, body, n);
	return (size_t)(p + n - out);
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* Scope (\_SB) { Device (PCI0) { _HID PNP0A03, _ADR 0, _UID 0, _CRS } }:
 * the PCI root bridge, without which an ACPI kernel scans no PCI bus (it
 * learns its root buses from the firmware's tables only). _CRS gives the
 * bus range, the configuration ports, the I/O space around them, the VGA
 * window and the hole between RAM and 0xFEC00000 where the kernel may place
 * BARs. No _PRT: the only interrupts in use are the legacy IDE channels'
 * and the SCI, ISA IRQs the devices report themselves. Writes at out (at
 * most 200 bytes); returns the length. */
static size_t aml_pci_root(uint8_t *out, uint64_t ram_below_4g)
{
	uint8_t crs[128], *c = crs;
	/* WordBusNumber: producer, min and max fixed, buses 0-255 */
	static const uint8_t bus[] = { 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0,
				       0xff, 0x00, 0, 0, 0x00, 0x01 };
	memcpy(c, bus, sizeof(bus));
	c += sizeof(bus);
	/* IO (Decode16, 0xCF8, 0xCF8, 1, 8): the configuration mechanism */
	static const uint8_t cfg[] = { 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08 };
	memcpy(c, cfg, sizeof(cfg));
	c += sizeof(cfg);
	/* WordIO windows 0-0xCF7 and 0xD00-0xFFFF: producer, fixed, entire range */
	static const uint16_t io[2][2] = { { 0x0000, 0x0cf7 }, { 0x0d00, 0xffff } };
	for (int i = 0; i < 2; i++) {
		static const uint8_t head[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0 };
		memcpy(c, head, sizeof(head));
		c = put_le(c + sizeof(head), io[i][0], 2);
		c = put_le(c, io[i][1], 2);
		c = put_le(c, 0, 2);
		c = put_le(c, (uint32_t)io[i][1] - io[i][0] + 1, 2);
	}
	/* DWordMemory windows, cacheable read/write: the VGA's, and the hole */
	uint64_t lo = (ram_below_4g + 0xfffff) & ~0xfffffull;
	uint32_t mem[2][2] = { { 0xa0000, 0xbffff }, { (uint32_t)lo, 0xfebfffff } };
	for (int i = 0; i < (lo < 0xfec00000 ? 2 : 1); i++) {
		static const uint8_t head[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0, 0, 0, 0 };
		memcpy(c, head, sizeof(head));
		c = put_le(c + sizeof(head), mem[i][0], 4);
		c = put_le(c, mem[i][1], 4);
		c = put_le(c, 0, 4);
		c = put_le(c, (uint64_t)mem[i][1] - mem[i][0] + 1, 4);
	}
	*c++ = 0x79; /* end tag; checksum 0: none */
	*c++ = 0x00;
	size_t clen = (size_t)(c - crs);

	uint8_t dev[200], *d = dev;
	/* Name (_HID, EisaId ("PNP0A03")), Name (_ADR, 0), Name (_UID, 0) */
	static const uint8_t ids[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03,
				       0x08, '_', 'A', 'D', 'R', 0x00,
				       0x08, '_', 'U', 'I', 'D', 0x00 };
	memcpy(d, ids, sizeof(ids));
	d += sizeof(ids);
	/* Name (_CRS, Buffer (clen) { ... }) */
	uint8_t sized[130] = { 0x0a, (uint8_t)clen };
	memcpy(sized + 2, crs, clen);
	memcpy(d, "\x08_CRS", 5);
	d += 5;
	d += aml_pkg(d, 0x11, NULL, sized, clen + 2);

	uint8_t scope[220];
	size_t n = aml_pkg(scope, 0x5b82, "PCI0", dev, (size_t)(d - dev));
	return aml_pkg(out, 0x10, "\\_SB_", scope, n);
}

/* Writes the tables at LINUXBOOT_ACPI; returns the RSDP's address. */
static uint32_t build_acpi(struct vm *vm)
{
	enum { RSDP = 0, RSDT = 32, FADT = 80, FACS = 256, DSDT = 320, END = 1024 };
	uint8_t *a = vm_ram_ptr(vm, LINUXBOOT_ACPI, END);
	if (!a)
		return 0;
	memset(a, 0, END);
	uint32_t base = LINUXBOOT_ACPI;

	/* DSDT: Name (_S5, Package (4) { 0, 0, 0, 0 }): sleep type 0 is the
	 * PIIX4's soft-off. */
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04,
				      0x00, 0x00, 0x00, 0x00 };
	memcpy(a + DSDT + 36, s5, sizeof(s5));
	size_t dlen = 36 + sizeof(s5);
	dlen += aml_pci_root(a + DSDT + dlen, vm->ram_below_4g);
	table_header(a + DSDT, "DSDT", (uint32_t)dlen);
	checksum(a + DSDT, dlen, a + DSDT + 9);

	memcpy(a + FACS, "FACS", 4);
	put32(a + FACS + 4, 64);

	uint8_t *f = a + FADT;
	table_header(f, "FACP", 116);
	put32(f + 36, base + FACS);
	put32(f + 40, base + DSDT);
	put16(f + 46, 9);                        /* SCI_INT */
	put32(f + 56, ACPI_PM_BASE);             /* PM1a_EVT_BLK */
	put32(f + 64, ACPI_PM_BASE + 4);         /* PM1a_CNT_BLK */
	put32(f + 76, ACPI_PM_BASE + 8);         /* PM_TMR_BLK */
	put32(f + 80, ACPI_GPE0_BASE);           /* GPE0_BLK */
	f[88] = 4;                               /* PM1_EVT_LEN */
	f[89] = 2;                               /* PM1_CNT_LEN */
	f[91] = 4;                               /* PM_TMR_LEN */
	f[92] = 4;                               /* GPE0_BLK_LEN */
	put16(f + 96, 0x0fff);                   /* no C2 */
	put16(f + 98, 0x0fff);                   /* no C3 */
	put32(f + 112, 0x1 | 0x4 | 0x20);        /* WBINVD, C1, no sleep button */
	checksum(f, 116, f + 9);

	table_header(a + RSDT, "RSDT", 40);
	put32(a + RSDT + 36, base + FADT);
	checksum(a + RSDT, 40, a + RSDT + 9);

	memcpy(a + RSDP, "RSD PTR ", 8);
	memcpy(a + RSDP + 9, "PCVM  ", 6);
	put32(a + RSDP + 16, base + RSDT);
	checksum(a + RSDP, 20, a + RSDP + 8);
	mem_notify_write(vm->mem, LINUXBOOT_ACPI, END);

	/* The BIOS data area's EBDA segment, where ACPI 1.0 OSes look first. */
	uint8_t *bda = vm_ram_ptr(vm, 0x40e, 2);
	if (bda) {
		put16(bda, LINUXBOOT_ACPI >> 4);
		mem_notify_write(vm->mem, 0x40e, 2);
	}
	return base + RSDP;
}

static unsigned build_e820(struct vm *vm, struct e820 *e)
{
	unsigned n = 0;
	e[n++] = (struct e820){ 0, 0x9fc00, 1 };
	e[n++] = (struct e820){ 0x9fc00, 0x400, 2 };  /* where a BIOS keeps its EBDA */
	e[n++] = (struct e820){ 0xe0000, 0x20000, 2 }; /* the firmware's shadow */
	if (vm->ram_below_4g > 0x100000)
		e[n++] = (struct e820){ 0x100000, vm->ram_below_4g - 0x100000, 1 };
	if (vm->bios_size)
		e[n++] = (struct e820){ (1ull << 32) - vm->bios_size, vm->bios_size, 2 };
	if (vm->ram_above_4g)
		e[n++] = (struct e820){ 1ull << 32, vm->ram_above_4g, 1 };
	return n;
}

static void set_seg(struct x86_seg *s, uint16_t sel, uint16_t attr)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = attr;
	s->unusable = false;
}

static int enter_kernel(struct vm *vm)
{
	/* null, null, flat code (0x10), flat data (0x18) */
	static const uint64_t gdt[4] = { 0, 0, 0x00cf9b000000ffffull,
					 0x00cf93000000ffffull };
	uint8_t *p = vm_ram_ptr(vm, LINUXBOOT_GDT, sizeof(gdt));
	if (!p)
		return -ENOMEM;
	memcpy(p, gdt, sizeof(gdt));
	mem_notify_write(vm->mem, LINUXBOOT_GDT, sizeof(gdt));

	struct x86_state st;
	int err = vm->cpu->ops->get_state(vm->cpu, &st);
	if (err) {
		log_error("--kernel: the %s backend cannot start a kernel directly "
			  "(%s); boot it from a disk instead", vm->cpu->ops->name,
			  strerror(-err));
		return err;
	}
	memset(st.gpr, 0, sizeof(st.gpr));
	st.gpr[X86_RSI] = LINUXBOOT_PARAMS;
	st.gpr[X86_RSP] = LINUXBOOT_PARAMS;
	st.rip = LINUXBOOT_KERNEL;
	st.rflags = 0x2;
	set_seg(&st.seg[X86_CS], 0x10, 0xc09b);
	for (int s = 0; s < 6; s++)
		if (s != X86_CS)
			set_seg(&st.seg[s], 0x18, 0xc093);
	st.gdtr.base = LINUXBOOT_GDT;
	st.gdtr.limit = sizeof(gdt) - 1;
	st.idtr.base = 0;
	st.idtr.limit = 0;
	st.ldtr = (struct x86_seg){ .attr = 0x0082, .limit = 0xffff, .unusable = true };
	st.tr = (struct x86_seg){ .attr = 0x008b, .limit = 0xffff };
	st.cr0 = 0x11; /* PE, ET */
	st.cr2 = st.cr3 = st.cr4 = st.cr8 = 0;
	st.efer = 0;
	st.halted = false;
	st.a20 = true;
	st.intr_shadow = 0;
	err = vm->cpu->ops->set_state(vm->cpu, &st);
	if (err)
		log_error("--kernel: the %s backend refused the kernel's entry state: %s",
			  vm->cpu->ops->name, strerror(-err));
	return err;
}

int linuxboot_load(struct vm *vm, const char *kernel, const char *initrd,
		   const char *append)
{
	uint64_t ksize;
	int fd = open_file("--kernel", kernel, &ksize);
	if (fd < 0)
		return fd;
	uint8_t hdr[0x8000]; /* the real-mode part: at most 64 sectors */
	int err = -EINVAL;
	int ifd = -1;
	memset(hdr, 0, sizeof(hdr));
	ssize_t got = pread(fd, hdr, sizeof(hdr), 0);
	if (got < 0x300 || le16(hdr + HDR_BOOT_FLAG) != 0xaa55 ||
	    memcmp(hdr + HDR_MAGIC, "HdrS", 4)) {
		log_error("--kernel %s: not a Linux bzImage (no boot protocol header); "
			  "give a bzImage kernel", kernel);
		goto out;
	}
	uint16_t version = le16(hdr + HDR_VERSION);
	if (version < LINUXBOOT_MIN_PROTOCOL) {
		log_error("--kernel %s: boot protocol %u.%02u is older than %u.%02u, the "
			  "first with a documented 32-bit entry; boot it from a disk instead",
			  kernel, version >> 8, version & 0xff, LINUXBOOT_MIN_PROTOCOL >> 8,
			  LINUXBOOT_MIN_PROTOCOL & 0xff);
		goto out;
	}
	if (!(hdr[HDR_LOADFLAGS] & LOADED_HIGH)) {
		log_error("--kernel %s: a zImage (loaded low) kernel; give a bzImage", kernel);
		goto out;
	}
	unsigned setup_sects = hdr[HDR_SETUP_SECTS] ? hdr[HDR_SETUP_SECTS] : 4;
	uint64_t setup_size = (uint64_t)(setup_sects + 1) * 512;
	unsigned hdr_end = 0x202 + hdr[HDR_JUMP + 1];
	if (setup_size > sizeof(hdr) || ksize <= setup_size || hdr_end > 0x290) {
		log_error("--kernel %s: the boot header's sizes are inconsistent; give a "
			  "bzImage kernel", kernel);
		goto out;
	}
	uint64_t pm_size = ksize - setup_size;

	/* What the kernel needs from its runtime start: a relocatable kernel
	 * moves itself up to pref_address before decompressing. */
	uint64_t start = LINUXBOOT_KERNEL, need = pm_size;
	if (version >= 0x020a) {
		uint64_t init_size = le32(hdr + HDR_INIT_SIZE);
		uint64_t pref = le32(hdr + HDR_PREF_ADDRESS) |
				(uint64_t)le32(hdr + HDR_PREF_ADDRESS + 4) << 32;
		if (hdr[HDR_RELOCATABLE] && pref > start)
			start = pref;
		if (init_size > need)
			need = init_size;
	}
	uint64_t kernel_end = start + need;
	if (kernel_end > vm->ram_below_4g) {
		log_error("--kernel %s: needs %llu MiB of RAM below 4 GiB, --memory gives "
			  "%llu MiB; give more --memory", kernel,
			  (unsigned long long)mib_up(kernel_end),
			  (unsigned long long)(vm->ram_below_4g >> 20));
		goto out;
	}

	uint32_t cmdline_max = version >= 0x0206 ? le32(hdr + HDR_CMDLINE_SIZE) : 255;
	if (cmdline_max > 0x7f000 - 1)
		cmdline_max = 0x7f000 - 1;
	size_t cmdlen = append ? strlen(append) : 0;
	if (cmdlen > cmdline_max) {
		log_error("--append: the command line is %zu bytes, this kernel takes at "
			  "most %u; shorten it", cmdlen, cmdline_max);
		goto out;
	}

	uint64_t isize = 0, iaddr = 0;
	if (initrd) {
		ifd = open_file("--initrd", initrd, &isize);
		if (ifd < 0)
			goto out;
		uint64_t limit = le32(hdr + HDR_INITRD_ADDR_MAX) + 1ull;
		if (limit > vm->ram_below_4g)
			limit = vm->ram_below_4g;
		iaddr = limit >= isize ? (limit - isize) & ~0xfffull : 0;
		if (!isize || limit < isize || iaddr < kernel_end) {
			log_error("--initrd %s: %llu MiB does not fit between the kernel "
				  "(up to %llu MiB) and %llu MiB; give more --memory",
				  initrd, (unsigned long long)mib_up(isize),
				  (unsigned long long)mib_up(kernel_end),
				  (unsigned long long)(limit >> 20));
			goto out;
		}
	}

	/* Everything checked: fill guest RAM. */
	if ((err = load_into_ram(vm, fd, "--kernel", kernel, (off_t)setup_size,
				 LINUXBOOT_KERNEL, pm_size)))
		goto out;
	if (initrd && (err = load_into_ram(vm, ifd, "--initrd", initrd, 0, iaddr, isize)))
		goto out;

	uint8_t *bp = vm_ram_ptr(vm, LINUXBOOT_PARAMS, 4096);
	uint8_t *cl = vm_ram_ptr(vm, LINUXBOOT_CMDLINE, cmdlen + 1);
	err = -ENOMEM;
	if (!bp || !cl)
		goto out;
	memcpy(cl, append ? append : "", cmdlen + 1);
	mem_notify_write(vm->mem, LINUXBOOT_CMDLINE, cmdlen + 1);

	memset(bp, 0, 4096);
	memcpy(bp + HDR_SETUP_SECTS, hdr + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
	bp[HDR_TYPE_OF_LOADER] = 0xff; /* no assigned loader ID */
	bp[HDR_LOADFLAGS] = (uint8_t)((hdr[HDR_LOADFLAGS] & LOADED_HIGH) | CAN_USE_HEAP);
	put16(bp + HDR_HEAP_END_PTR, 0xe000 - 0x200);
	put32(bp + HDR_CMD_LINE_PTR, LINUXBOOT_CMDLINE);
	put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)iaddr);
	put32(bp + HDR_RAMDISK_SIZE, (uint32_t)isize);

	struct e820 e[8];
	unsigned n = build_e820(vm, e);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *q = bp + BP_E820_TABLE + 20 * i;
		memcpy(q, &e[i].addr, 8);
		memcpy(q + 8, &e[i].len, 8);
		memcpy(q + 16, &e[i].type, 4);
	}
	uint64_t ext_k = (vm->ram_below_4g - 0x100000) >> 10;
	put32(bp + BP_ALT_MEM_K, (uint32_t)ext_k);
	uint8_t *si = bp + BP_SCREEN_INFO;
	put16(si + 0x02, (uint16_t)(ext_k > 0xffff ? 0xffff : ext_k)); /* ext_mem_k */
	si[0x06] = 3;    /* orig_video_mode: 80x25 colour text */
	si[0x07] = 80;   /* orig_video_cols */
	si[0x0e] = 25;   /* orig_video_lines */
	si[0x0f] = 1;    /* orig_video_isVGA */
	put16(si + 0x10, 16); /* orig_video_points: character height */
	uint32_t rsdp = build_acpi(vm);
	put32(bp + BP_ACPI_RSDP_ADDR, rsdp);
	mem_notify_write(vm->mem, LINUXBOOT_PARAMS, 4096);

	err = enter_kernel(vm);
	if (!err)
		log_info("direct boot: kernel %s (protocol %u.%02u) at %#x%s", kernel,
			 version >> 8, version & 0xff, LINUXBOOT_KERNEL,
			 initrd ? ", initrd loaded" : "");
out:
	close(fd);
	if (ifd >= 0)
		close(ifd);
	return err;
}

/*
 * The compiled-C part of the CPU benchmark set (tests/bench/bench-cpu.sh):
 * three kernels typical of what compiled code asks of a CPU. CRC-32 (the
 * IEEE 802.3 polynomial, reflected, table-driven) over a 256 KiB buffer;
 * heapsort of 256K 32-bit keys; and a mix in the spirit of the classic
 * synthetic integer benchmarks (records in a linked list, string copy and
 * compare, switch dispatch, calls through function pointers, division,
 * two-dimensional arrays), written for this project. The file is built twice:
 * for the guest with `gcc -m32 -ffreestanding -nostdlib` (BENCH_PART picks
 * the kernel of an image; cbench.ld links it at 0x100000 behind the header
 * stub.asm reads, with its data on pages of their own except for part 4,
 * which keeps them in the code's page as firmware often does) and for the host with BENCH_HOST, where bench-expect.c
 * calls the same kernels to compute the checksums the guests must report.
 * Arithmetic is on fixed-width unsigned types so both builds agree.
 */
#include <stddef.h>
#include <stdint.h>

/* Each image keeps only its own kernel; the host build includes this file. */
#define KERNEL static __attribute__((unused)) uint32_t

#define CRC_BYTES (256 * 1024)
#define CRC_ROUNDS 60
#define SORT_N (256 * 1024)
#define SORT_ROUNDS 2
#define MIX_ROUNDS 300000
/* The same mix with its data in the code's page (see bench-cpu.sh): slower
 * wherever stores near code cost extra, so fewer rounds. */
#define MIX_ROUNDS_SHARED 10000

/* xorshift32 (Marsaglia 2003): a cheap deterministic data source. */
static uint32_t rng_next(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* ---- CRC-32 ---- */

static uint32_t crc_table[256];
static uint8_t crc_buf[CRC_BYTES];

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

KERNEL cbench_crc32(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	uint32_t s = 0x2545f491u;
	for (size_t i = 0; i < CRC_BYTES; i += 4) {
		uint32_t v = rng_next(&s);
		crc_buf[i] = (uint8_t)v;
		crc_buf[i + 1] = (uint8_t)(v >> 8);
		crc_buf[i + 2] = (uint8_t)(v >> 16);
		crc_buf[i + 3] = (uint8_t)(v >> 24);
	}
	uint32_t crc = 0;
	for (int r = 0; r < CRC_ROUNDS; r++) {
		/* each round sees the previous result in the data */
		crc_buf[r * 97] ^= (uint8_t)crc;
		crc = crc32_update(crc, crc_buf, CRC_BYTES);
	}
	return crc;
}

/* ---- heapsort ---- */

static uint32_t sort_keys[SORT_N];

static void sift_down(uint32_t *a, size_t root, size_t n)
{
	uint32_t v = a[root];
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			break;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[child] <= v)
			break;
		a[root] = a[child];
		root = child;
	}
	a[root] = v;
}

static void heapsort_u32(uint32_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

KERNEL cbench_sort(void)
{
	uint32_t s = 0x9908b0dfu;
	uint32_t sum = 0;
	for (int r = 0; r < SORT_ROUNDS; r++) {
		for (size_t i = 0; i < SORT_N; i++)
			sort_keys[i] = rng_next(&s) >> (r * 8); /* round 1 has repeats */
		heapsort_u32(sort_keys, SORT_N);
		for (size_t i = 1; i < SORT_N; i++)
			if (sort_keys[i - 1] > sort_keys[i])
				return 0xbad5047u; /* not sorted */
		for (size_t i = 0; i < SORT_N; i += 61)
			sum = (sum << 3 | sum >> 29) + sort_keys[i] * (uint32_t)(i + 1);
	}
	return sum;
}

/* ---- a mix of integer work ---- */

enum kind { K_ADD, K_SCALE, K_NAME, K_SPLIT, K_INVERT, K_COUNT };

struct record {
	struct record *next;
	enum kind kind;
	uint32_t value;
	uint32_t hits;
	char name[24];
};

#define MIX_RECORDS 16

struct mix {
	struct record pool[MIX_RECORDS];
	struct record *head;
	uint32_t grid[8][8];
	char line[48];
	uint32_t acc;
};

static struct mix mix_state;

static size_t str_copy(char *dst, const char *src, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap && src[n]) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = 0;
	return n;
}

static int str_compare(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* Writes v in decimal; returns the length. */
static size_t put_decimal(char *dst, uint32_t v)
{
	char tmp[12];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = 0;
	return n;
}

static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
static uint32_t op_xor(uint32_t a, uint32_t b) { return (a ^ b) + 0x9e37u; }
static uint32_t op_mul(uint32_t a, uint32_t b) { return a * (b | 1); }
static uint32_t op_div(uint32_t a, uint32_t b) { return a / ((b & 0xff) + 1) + a % 7; }

static uint32_t (*const mix_ops[4])(uint32_t, uint32_t) = { op_add, op_xor, op_mul, op_div };

static const char *const mix_words[4] = { "alpha", "bravo", "charlie", "delta-echo" };

static void mix_init(struct mix *m)
{
	for (int i = 0; i < MIX_RECORDS; i++) {
		struct record *r = &m->pool[i];
		r->next = i + 1 < MIX_RECORDS ? &m->pool[i + 1] : NULL;
		r->kind = (enum kind)(i % K_COUNT);
		r->value = (uint32_t)i * 2654435761u;
		r->hits = 0;
		str_copy(r->name, mix_words[i & 3], sizeof(r->name));
	}
	m->head = &m->pool[0];
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++)
			m->grid[y][x] = (uint32_t)(y * 8 + x);
	m->acc = 1;
}

static uint32_t visit(struct mix *m, struct record *r, uint32_t round)
{
	uint32_t v = r->value;
	r->hits++;
	switch (r->kind) {
	case K_ADD:
		v = mix_ops[round & 3](v, round);
		break;
	case K_SCALE: {
		int32_t sv = (int32_t)(v & 0xffff) - 0x8000; /* signed division too */
		v = (uint32_t)(sv / 3) + (v >> 16) * 5;
		break;
	}
	case K_NAME: {
		size_t n = str_copy(m->line, r->name, sizeof(m->line));
		n += put_decimal(m->line + n, round % 1000);
		if (str_compare(m->line, mix_words[round & 3]) > 0)
			v += (uint32_t)n;
		else
			v ^= (uint32_t)n << 4;
		break;
	}
	case K_SPLIT: {
		uint32_t y = v & 7, x = (v >> 3) & 7;
		m->grid[y][x] += round;
		m->grid[x][y] ^= m->grid[y][x] >> 1;
		v = m->grid[(y + 1) & 7][x] + m->grid[y][(x + 1) & 7];
		break;
	}
	case K_INVERT:
	default:
		v = ~v + round;
		break;
	}
	r->value = v;
	return v;
}

KERNEL cbench_mix(uint32_t rounds)
{
	struct mix *m = &mix_state;
	mix_init(m);
	for (uint32_t round = 0; round < rounds; round++) {
		uint32_t sum = 0;
		for (struct record *r = m->head; r; r = r->next)
			sum += visit(m, r, round);
		m->acc = (m->acc << 5 | m->acc >> 27) ^ sum;
		/* move one record to the front: the list order keeps changing */
		struct record *prev = m->head, *r = prev->next;
		for (uint32_t k = sum % (MIX_RECORDS - 1); k && r->next; k--) {
			prev = r;
			r = r->next;
		}
		prev->next = r->next;
		r->next = m->head;
		m->head = r;
	}
	uint32_t h = m->acc;
	for (int i = 0; i < MIX_RECORDS; i++)
		h = h * 31 + m->pool[i].hits + m->pool[i].value;
	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 8; x++)
			h = (h ^ m->grid[y][x]) * 16777619u;
	return h;
}

#ifndef BENCH_HOST

/* What gcc may call even in a freestanding build. Loops here must stay
 * loops: -fno-tree-loop-distribute-patterns keeps gcc from turning them
 * back into calls to themselves. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

__attribute__((optimize("no-tree-loop-distribute-patterns")))
void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

extern char __bss_start[], __bss_end[];

uint32_t cbench_entry(void);

uint32_t cbench_entry(void)
{
	memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
#if BENCH_PART == 1
	return cbench_crc32();
#elif BENCH_PART == 2
	return cbench_sort();
#elif BENCH_PART == 3
	return cbench_mix(MIX_ROUNDS);
#elif BENCH_PART == 4
	return cbench_mix(MIX_ROUNDS_SHARED);
#else
#error "BENCH_PART must be 1 (crc32), 2 (sort), 3 (mix) or 4 (mix, shared page)"
#endif
}

/* The payload header stub.asm expects: magic, the hand-counted instruction
 * count (none: compiled code is counted by QEMU's -icount, see bench-cpu.sh),
 * the entry point, bytes copied (none counted). */
struct bench_header {
	uint32_t magic;
	uint32_t hand_lo, hand_hi;
	uint32_t (*entry)(void);
	uint32_t bytes;
};

__attribute__((section(".header"), used))
static const struct bench_header header = { 0x48434e42u, 0, 0, cbench_entry, 0 };

#endif

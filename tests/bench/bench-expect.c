/*
 * bench-expect: the checksums the CPU benchmark guests must report
 * (tests/bench/bench-cpu.sh), computed on the host without any emulation. The
 * assembly kernels (tests/bench/guests/k-*.asm) are modelled here in C, step
 * by step as the x86 instructions do them (Intel SDM vol. 2 for ROL, ADC,
 * SHR into CF, REP STOSD/MOVSD), with their parameters read from the same
 * %define lines nasm assembles; the C kernels are the guest's own code
 * (guests/cbench.c) compiled for the host.
 *
 *   bench-expect KERNEL [ASMFILE]     prints the checksum as 8 hex digits
 */
#define BENCH_HOST 1
#include "guests/cbench.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEFS 32

struct defs {
	char name[MAX_DEFS][32];
	unsigned long long value[MAX_DEFS];
	int n;
	const char *path;
};

static int read_defs(struct defs *d, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench-expect: cannot open %s\n", path);
		return -1;
	}
	d->path = path;
	char line[256];
	while (fgets(line, sizeof(line), f) && d->n < MAX_DEFS) {
		char name[32];
		char val[64];
		char *end;
		if (sscanf(line, "%%define %31s %63s", name, val) != 2)
			continue;
		unsigned long long v = strtoull(val, &end, 0);
		if (*end)
			continue; /* not a plain number */
		snprintf(d->name[d->n], sizeof(d->name[0]), "%s", name);
		d->value[d->n++] = v;
	}
	fclose(f);
	return 0;
}

static uint32_t def(const struct defs *d, const char *name)
{
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->name[i], name))
			return (uint32_t)d->value[i];
	fprintf(stderr, "bench-expect: %s has no %%define %s\n", d->path, name);
	exit(1);
}

static uint32_t rol32(uint32_t v, unsigned n)
{
	return v << n | v >> (32 - n);
}

static uint32_t model_loop(const struct defs *d)
{
	uint32_t eax = 0;
	for (uint32_t ecx = def(d, "ITER"); ecx; ecx--)
		eax += ecx;
	return eax;
}

static uint32_t model_alu(const struct defs *d)
{
	uint32_t eax = 0, ebx = 0x12345678, edx = 0x9abcdef0, esi = 1, edi = 0x55aa55aa;
	for (uint32_t ecx = def(d, "ITER"); ecx; ecx--) {
		eax += ecx;
		ebx ^= eax;
		ebx = rol32(ebx, 3);
		edx -= ebx;
		esi = esi + edx * 2 + 7;
		uint32_t cf = edi & 1;
		edi >>= 1;
		edi = edi + esi + cf;
	}
	return eax ^ ebx ^ edx ^ esi ^ edi;
}

static uint32_t model_copy(const struct defs *d)
{
	uint32_t n = def(d, "DWORDS");
	uint32_t *a = malloc(n * sizeof(uint32_t)), *b = malloc(n * sizeof(uint32_t));
	if (!a || !b)
		exit(1);
	uint32_t eax = 1;
	for (uint32_t i = 0; i < n; i++) {
		a[i] = eax;
		eax = eax * 0x6c078965u + 12345;
	}
	uint32_t *src = a, *dst = b;
	for (uint32_t pass = def(d, "PASSES"); pass; pass--) {
		for (uint32_t i = 0; i < n; i++)
			dst[i] = src[i] + pass;
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	uint32_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum = rol32(sum, 5) + src[i];
	free(a);
	free(b);
	return sum;
}

static uint32_t model_rep(const struct defs *d)
{
	uint32_t n = def(d, "DWORDS");
	uint32_t *a = malloc(n * sizeof(uint32_t)), *b = calloc(n, sizeof(uint32_t));
	if (!a || !b)
		exit(1);
	uint32_t ebx = 0;
	for (uint32_t pass = def(d, "PASSES"); pass; pass--) {
		uint32_t v = pass * 0x9e3779b9u;
		for (uint32_t i = 0; i < n; i++)
			a[i] = v;
		a[(pass * 4099) & (n - 1)] = pass;
		memcpy(b, a + (pass & 63), (n - 64) * sizeof(uint32_t));
		ebx += b[(pass * 7919) & (n / 2 - 1)];
		ebx = rol32(ebx, 1);
		ebx += b[n - 65];
	}
	free(a);
	free(b);
	return ebx;
}

static uint32_t fib(uint32_t n)
{
	uint32_t a = 0, b = 1;
	while (n--) {
		uint32_t c = a + b;
		a = b;
		b = c;
	}
	return a;
}

static uint32_t model_fib(const struct defs *d)
{
	return def(d, "REPEAT") * fib(def(d, "N"));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-expect KERNEL [ASMFILE]\n");
		return 2;
	}
	const char *k = argv[1];
	uint32_t sum;
	if (!strcmp(k, "c-crc32"))
		sum = cbench_crc32();
	else if (!strcmp(k, "c-sort"))
		sum = cbench_sort();
	else if (!strcmp(k, "c-mix"))
		sum = cbench_mix(MIX_ROUNDS);
	else if (!strcmp(k, "c-mix-shared"))
		sum = cbench_mix(MIX_ROUNDS_SHARED);
	else {
		struct defs d = { .n = 0 };
		if (argc < 3 || read_defs(&d, argv[2]))
			return 2;
		if (!strcmp(k, "null"))
			sum = 0;
		else if (!strcmp(k, "loop"))
			sum = model_loop(&d);
		else if (!strcmp(k, "alu"))
			sum = model_alu(&d);
		else if (!strcmp(k, "copy"))
			sum = model_copy(&d);
		else if (!strcmp(k, "rep"))
			sum = model_rep(&d);
		else if (!strcmp(k, "fib"))
			sum = model_fib(&d);
		else {
			fprintf(stderr, "bench-expect: unknown kernel %s\n", k);
			return 2;
		}
	}
	printf("%08x\n", sum);
	return 0;
}

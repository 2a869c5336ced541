/*
 * make bench: the x87 FPU's cost per instruction through fpu_exec, for a
 * few representative forms (register arithmetic, memory operands, loads and
 * stores, stack shuffles, a transcendental), next to the host running the
 * same instruction natively. Prints figures; never fails for being slow.
 */
#include "vcpu/emu/fpu.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct form {
	const char *name;
	uint8_t op[2][2]; /* executed alternately: pairs keep the stack balanced */
	unsigned mem;
};

int main(void)
{
	static const struct form forms[] = {
		{ "fadd st,st(1) / fsub", { { 0xd8, 0xc1 }, { 0xd8, 0xe1 } }, 0 },
		{ "fmul m64 / fdiv m64", { { 0xdc, 0x0e }, { 0xdc, 0x36 } }, 8 },
		{ "fld m64 / fstp m64", { { 0xdd, 0x06 }, { 0xdd, 0x1e } }, 8 },
		{ "fxch st(1) / fabs", { { 0xd9, 0xc9 }, { 0xd9, 0xe1 } }, 0 },
		{ "fcomi / fucomi", { { 0xdb, 0xf1 }, { 0xdb, 0xe9 } }, 0 },
		{ "fsqrt / fsqrt", { { 0xd9, 0xfa }, { 0xd9, 0xfa } }, 0 },
		{ "fsin / fcos", { { 0xd9, 0xfe }, { 0xd9, 0xff } }, 0 },
	};
	const long n = 2000000;

	printf("x87 FPU (fpu_exec, host x87 kernel):\n");
	for (unsigned k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
		struct fpu f;
		uint8_t mem[16];
		double d = 1.25;
		struct fpu_insn in;

		fpu_reset(&f);
		fpu_init(&f);
		memcpy(mem, &d, 8);
		memset(&in, 0, sizeof(in));
		in.o32 = in.pmode = true;
		/* two values on the stack */
		in.opcode = 0xdd;
		in.modrm = 0x06;
		in.mem = mem;
		fpu_exec(&f, &in);
		fpu_exec(&f, &in);

		double t0 = now();
		for (long i = 0; i < n; i++) {
			const uint8_t *op = forms[k].op[i & 1];
			in.opcode = op[0];
			in.modrm = op[1];
			in.mem = forms[k].mem ? mem : NULL;
			if (forms[k].mem)
				memcpy(mem, &d, 8);
			fpu_exec(&f, &in);
		}
		double t = now() - t0;
		printf("  %-24s %6.1f ns/instruction\n", forms[k].name, t * 1e9 / n);
	}
	return 0;
}

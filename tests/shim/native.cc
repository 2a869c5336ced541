// Native execution of test sequences on the host CPU (see native.h). A
// small trampoline, assembled here and copied to a fixed page below 4 GiB,
// leaves 64-bit mode with a far return to selector 0x23 (Intel SDM vol. 3A
// 5.2.1 and 9.8.5: a code segment with L=0 runs in compatibility mode),
// loads the test's registers and segments, and far-jumps into the code; the
// code ends with a far jump back, and the trampoline saves the registers and
// returns to 64-bit mode with a far jump to selector 0x33. A fault in the
// test code arrives as a signal on an alternate stack; the handler records
// the kernel's trap number and error code from the ucontext and points the
// context at the trampoline's 64-bit exit, so the test process carries on.
#include "native.h"

#include <asm/ldt.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

// The trampoline's pages: code at TB, its context block at TB+0x1000, its
// own stack below TB+0x4000. Constants are shared with the assembly below.
#define TB 0x2FF00000
#define TRAMP_SIZE 0x4000
#define CTX 0x2FF01000
#define STACK_TOP 0x2FF04000
// Context block offsets.
#define C_IN_GPR 0x00    // 8 x 8 bytes
#define C_IN_EFL 0x40
#define C_IN_LSS 0x48    // m16:32 for LSS: ESP, SS
#define C_IN_TARGET 0x50 // m16:32 (16/32-bit) or m64 (64-bit) jump target
#define C_IN_DS 0x58
#define C_IN_ES 0x5a
#define C_FLATSEL 0x5c   // 0x2b, read through CS on the way out
#define C_TR_LSS 0x60    // m16:32: the trampoline's own stack
#define C_OUT_GPR 0x80
#define C_OUT_EFL 0xc0
#define C_OUT_SS 0xc8
#define C_HOST_RSP 0xd0
#define C_HOST_DS 0xd8
#define C_HOST_ES 0xda

#define S_(x) #x
#define S(x) S_(x)

// Assembled into .rodata: these are bytes to copy, not code to run where
// they are. Every jump inside is relative and every data reference an
// absolute address in the fixed pages, so the copy at TB runs as written.
asm(R"(
	.pushsection .rodata
	.balign 16
	.globl native_tramp_start, native_tramp_end
	.set TB, )" S(TB) R"(
	.set CTX, )" S(CTX) R"(
	.set STACK_TOP, )" S(STACK_TOP) R"(
native_tramp_start:
	.code64
	/* offset 0: void enter_compat(void): runs 16- or 32-bit code */
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, CTX+)" S(C_HOST_RSP) R"(
	mov %ds, %ax
	mov %ax, CTX+)" S(C_HOST_DS) R"(
	mov %es, %ax
	mov %ax, CTX+)" S(C_HOST_ES) R"(
	/* A 64-bit process runs with null DS/ES, which compatibility mode
	 * cannot use. */
	mov $0x2b, %eax
	mov %eax, %ds
	mov %eax, %es
	mov $STACK_TOP, %esp
	pushq $0x23
	pushq $(TB + (nt_entry32 - native_tramp_start))
	lretq
	.code32
nt_entry32:
	/* The flags first, while the stack is still the trampoline's: a
	 * push/pop on the test's stack would leave a value below its ESP. */
	pushl CTX+)" S(C_IN_EFL) R"(
	popfl
	movw CTX+)" S(C_IN_ES) R"(, %es
	lss CTX+)" S(C_IN_LSS) R"(, %esp
	mov CTX+)" S(C_IN_GPR) R"(+0*8, %eax
	mov CTX+)" S(C_IN_GPR) R"(+1*8, %ecx
	mov CTX+)" S(C_IN_GPR) R"(+2*8, %edx
	mov CTX+)" S(C_IN_GPR) R"(+3*8, %ebx
	mov CTX+)" S(C_IN_GPR) R"(+5*8, %ebp
	mov CTX+)" S(C_IN_GPR) R"(+6*8, %esi
	mov CTX+)" S(C_IN_GPR) R"(+7*8, %edi
	movw CTX+)" S(C_IN_DS) R"(, %ds
	ljmpl *%cs:CTX+)" S(C_IN_TARGET) R"(
	/* The test code ends with a far jump to 0x23 here. */
	.globl native_tramp_exit32
native_tramp_exit32:
	movw %cs:CTX+)" S(C_FLATSEL) R"(, %ds
	mov %eax, CTX+)" S(C_OUT_GPR) R"(+0*8
	mov %ecx, CTX+)" S(C_OUT_GPR) R"(+1*8
	mov %edx, CTX+)" S(C_OUT_GPR) R"(+2*8
	mov %ebx, CTX+)" S(C_OUT_GPR) R"(+3*8
	mov %esp, CTX+)" S(C_OUT_GPR) R"(+4*8
	mov %ebp, CTX+)" S(C_OUT_GPR) R"(+5*8
	mov %esi, CTX+)" S(C_OUT_GPR) R"(+6*8
	mov %edi, CTX+)" S(C_OUT_GPR) R"(+7*8
	movw %ss, CTX+)" S(C_OUT_SS) R"(
	lss CTX+)" S(C_TR_LSS) R"(, %esp
	pushfl
	popl CTX+)" S(C_OUT_EFL) R"(
	/* DF, AC, TF, NT of the test must not leak into the C code. */
	pushl $0x202
	popfl
	movw CTX+)" S(C_FLATSEL) R"(, %es
	ljmp $0x33, $(TB + (nt_ret64 - native_tramp_start))
	.code64
nt_ret64:
	/* Also where the fault handler resumes. */
	mov CTX+)" S(C_HOST_RSP) R"(, %rsp
	movw CTX+)" S(C_HOST_DS) R"(, %ax
	mov %ax, %ds
	movw CTX+)" S(C_HOST_ES) R"(, %ax
	mov %ax, %es
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	/* void enter64(void): runs 64-bit code */
	.globl native_tramp_enter64
native_tramp_enter64:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, CTX+)" S(C_HOST_RSP) R"(
	mov %ds, %ax
	mov %ax, CTX+)" S(C_HOST_DS) R"(
	mov %es, %ax
	mov %ax, CTX+)" S(C_HOST_ES) R"(
	mov $STACK_TOP, %esp
	pushq CTX+)" S(C_IN_EFL) R"(
	popfq
	mov CTX+)" S(C_IN_GPR) R"(+4*8, %rsp
	mov CTX+)" S(C_IN_GPR) R"(+0*8, %rax
	mov CTX+)" S(C_IN_GPR) R"(+1*8, %rcx
	mov CTX+)" S(C_IN_GPR) R"(+2*8, %rdx
	mov CTX+)" S(C_IN_GPR) R"(+3*8, %rbx
	mov CTX+)" S(C_IN_GPR) R"(+5*8, %rbp
	mov CTX+)" S(C_IN_GPR) R"(+6*8, %rsi
	mov CTX+)" S(C_IN_GPR) R"(+7*8, %rdi
	jmp *CTX+)" S(C_IN_TARGET) R"(
	/* 64-bit test code ends with a near jump here. */
	.globl native_tramp_exit64
native_tramp_exit64:
	mov %rax, CTX+)" S(C_OUT_GPR) R"(+0*8
	mov %rcx, CTX+)" S(C_OUT_GPR) R"(+1*8
	mov %rdx, CTX+)" S(C_OUT_GPR) R"(+2*8
	mov %rbx, CTX+)" S(C_OUT_GPR) R"(+3*8
	mov %rsp, CTX+)" S(C_OUT_GPR) R"(+4*8
	mov %rbp, CTX+)" S(C_OUT_GPR) R"(+5*8
	mov %rsi, CTX+)" S(C_OUT_GPR) R"(+6*8
	mov %rdi, CTX+)" S(C_OUT_GPR) R"(+7*8
	mov $STACK_TOP, %esp
	pushfq
	popq CTX+)" S(C_OUT_EFL) R"(
	pushq $0x202
	popfq
	jmp nt_ret64
	.globl native_tramp_ret64
	.set native_tramp_ret64, nt_ret64
native_tramp_end:
	.popsection
)");

extern "C" const uint8_t native_tramp_start[], native_tramp_end[],
	native_tramp_exit32[], native_tramp_enter64[], native_tramp_exit64[],
	native_tramp_ret64[];

namespace {

// Offset of a trampoline label in the copy at TB.
uint64_t tramp_addr(const uint8_t *label)
{
	return TB + (uint64_t)(label - native_tramp_start);
}

template <typename T> T &ctx_at(unsigned off)
{
	return *reinterpret_cast<T *>((uintptr_t)CTX + off);
}

struct fault_info {
	volatile int active;  // a sequence is running
	volatile int faulted;
	int vector;
	uint32_t error_code;
	struct cpud_regs regs;
};

fault_info g_fault;
bool g_ready;
struct sigaction g_old[32];
const int k_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};

// Whether the context is the test code or the trampoline: the compat
// selectors, or 64-bit code in our pages.
bool fault_is_ours(const greg_t *g)
{
	unsigned cs = (unsigned)g[REG_CSGSFS] & 0xffff;
	uint64_t rip = (uint64_t)g[REG_RIP];
	if (cs == CPUD_SEL_CODE32 || cs == CPUD_SEL_CODE16)
		return true;
	return rip >= TB && rip < (uint64_t)CPUD_DATA_BASE + CPUD_DATA_SIZE;
}

void on_fault(int sig, siginfo_t *si, void *ucv)
{
	(void)si;
	ucontext_t *uc = static_cast<ucontext_t *>(ucv);
	greg_t *g = uc->uc_mcontext.gregs;
	if (!g_fault.active || !fault_is_ours(g)) {
		// Not ours: put the previous handler back and let the
		// instruction fault again into it.
		sigaction(sig, &g_old[sig], nullptr);
		return;
	}
	g_fault.faulted = 1;
	g_fault.vector = (int)g[REG_TRAPNO];
	g_fault.error_code = (uint32_t)g[REG_ERR];
	static const int order[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX,
				     REG_RSP, REG_RBP, REG_RSI, REG_RDI};
	for (int i = 0; i < 8; i++)
		g_fault.regs.gpr[i] = (uint64_t)g[order[i]];
	g_fault.regs.eip = (uint64_t)g[REG_RIP];
	g_fault.regs.eflags = (uint32_t)g[REG_EFL];
	// Resume in 64-bit mode at the trampoline's exit, on its stack; the
	// kernel restores CS and SS from here (arch/x86/kernel/signal_64.c).
	g[REG_RIP] = (greg_t)tramp_addr(native_tramp_ret64);
	g[REG_RSP] = STACK_TOP;
	g[REG_EFL] = 0x202;
	uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
	csgsfs = (csgsfs & 0x0000ffffffff0000ull) | 0x33 |
		 ((uint64_t)CPUD_SEL_DATA32 << 48);
	g[REG_CSGSFS] = (greg_t)csgsfs;
}

int set_ldt_entry(unsigned idx, uint32_t base, bool code)
{
	struct user_desc d;
	memset(&d, 0, sizeof(d));
	d.entry_number = idx;
	d.base_addr = base;
	d.limit = 0xffff;
	d.seg_32bit = 0;
	d.contents = code ? 2 : 0; // MODIFY_LDT_CONTENTS_CODE / _DATA
	d.read_exec_only = 0;      // code: readable; data: writable
	d.limit_in_pages = 0;
	d.seg_not_present = 0;
	d.useable = 1;
	if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)) != 0)
		return -errno;
	return 0;
}

void *map_fixed(uint64_t addr, size_t len)
{
	void *p = mmap((void *)addr, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return nullptr;
	if ((uint64_t)p != addr) {
		munmap(p, len);
		errno = EEXIST;
		return nullptr;
	}
	return p;
}

} // namespace

int native_init(void)
{
	if (g_ready)
		return 0;
	size_t tlen = (size_t)(native_tramp_end - native_tramp_start);
	if (tlen > 0x1000)
		return -E2BIG;
	if (!map_fixed(TB, TRAMP_SIZE))
		return -errno;
	if (!map_fixed(CPUD_CODE_BASE, CPUD_CODE_SIZE + CPUD_DATA_SIZE))
		return -errno;
	memcpy((void *)(uintptr_t)TB, native_tramp_start, tlen);
	ctx_at<uint16_t>(C_FLATSEL) = CPUD_SEL_DATA32;
	ctx_at<uint32_t>(C_TR_LSS) = STACK_TOP;
	ctx_at<uint16_t>(C_TR_LSS + 4) = CPUD_SEL_DATA32;
	int err;
	if ((err = set_ldt_entry(CPUD_SEL_CODE16 >> 3, CPUD_CODE_BASE, true)) ||
	    (err = set_ldt_entry(CPUD_SEL_DATA16 >> 3, CPUD_DATA_BASE, false)))
		return err;

	static uint8_t altstack[1 << 16];
	stack_t ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	if (sigaltstack(&ss, nullptr) != 0)
		return -errno;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (int s : k_signals)
		if (sigaction(s, &sa, &g_old[s]) != 0)
			return -errno;
	g_ready = true;
	return 0;
}

int native_run(enum cpud_mode mode, const uint8_t *code, size_t len,
	       const struct cpud_regs *in, const uint8_t *data,
	       struct cpud_result *out)
{
	int err = native_init();
	if (err)
		return err;
	if (len + CPUD_NATIVE_TAIL > CPUD_CODE_SIZE)
		return -EINVAL;
	uint8_t *cbuf = (uint8_t *)(uintptr_t)CPUD_CODE_BASE;
	uint8_t *dbuf = (uint8_t *)(uintptr_t)CPUD_DATA_BASE;
	memcpy(cbuf, code, len);
	uint8_t *t = cbuf + len;
	uint32_t exit32 = (uint32_t)tramp_addr(native_tramp_exit32);
	switch (mode) {
	case CPUD_MODE16: // jmp far dword 0x23:exit32 (66 EA ptr16:32)
		*t++ = 0x66;
		/* fall through */
	case CPUD_MODE32: // jmp far 0x23:exit32 (EA ptr16:32)
		*t++ = 0xea;
		memcpy(t, &exit32, 4);
		t += 4;
		*t++ = CPUD_SEL_CODE32;
		*t++ = 0;
		break;
	case CPUD_MODE64: { // jmp rel32 to the 64-bit exit
		int32_t rel = (int32_t)((int64_t)tramp_addr(native_tramp_exit64) -
					(int64_t)((uint64_t)(uintptr_t)t + 5));
		*t++ = 0xe9;
		memcpy(t, &rel, 4);
		t += 4;
		break;
	}
	default:
		return -EINVAL;
	}
	memcpy(dbuf, data, CPUD_DATA_SIZE);

	for (int i = 0; i < 8; i++)
		ctx_at<uint64_t>(C_IN_GPR + 8 * i) = in->gpr[i];
	ctx_at<uint64_t>(C_IN_EFL) =
		(in->eflags & (CPUD_ARITH | CPUD_DF | CPUD_AC | CPUD_ID)) | 0x202;
	ctx_at<uint32_t>(C_IN_LSS) = (uint32_t)in->gpr[4];
	bool m16 = mode == CPUD_MODE16;
	uint16_t dsel = m16 ? CPUD_SEL_DATA16 : CPUD_SEL_DATA32;
	ctx_at<uint16_t>(C_IN_LSS + 4) = dsel;
	ctx_at<uint16_t>(C_IN_DS) = dsel;
	ctx_at<uint16_t>(C_IN_ES) = dsel;
	if (mode == CPUD_MODE64) {
		ctx_at<uint64_t>(C_IN_TARGET) = CPUD_CODE_BASE;
	} else {
		ctx_at<uint32_t>(C_IN_TARGET) = m16 ? 0 : CPUD_CODE_BASE;
		ctx_at<uint16_t>(C_IN_TARGET + 4) =
			m16 ? CPUD_SEL_CODE16 : CPUD_SEL_CODE32;
	}

	g_fault.faulted = 0;
	g_fault.active = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (mode == CPUD_MODE64)
		((void (*)(void))tramp_addr(native_tramp_enter64))();
	else
		((void (*)(void))(uintptr_t)TB)();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	g_fault.active = 0;

	if (g_fault.faulted) {
		out->regs = g_fault.regs;
		out->vector = g_fault.vector;
		out->error_code = cpud_has_error_code(g_fault.vector)
					  ? g_fault.error_code : 0;
	} else {
		for (int i = 0; i < 8; i++)
			out->regs.gpr[i] = ctx_at<uint64_t>(C_OUT_GPR + 8 * i);
		out->regs.eflags = (uint32_t)ctx_at<uint64_t>(C_OUT_EFL);
		out->regs.eip = m16 ? len : CPUD_CODE_BASE + len;
		out->vector = CPUD_NO_EXCEPTION;
		out->error_code = 0;
	}
	if (mode != CPUD_MODE64)
		for (int i = 0; i < 8; i++)
			out->regs.gpr[i] &= 0xffffffffu;
	// RF is set in a context that faulted; it is no test result.
	out->regs.eflags &= ~CPUD_RF;
	memcpy(out->data, dbuf, CPUD_DATA_SIZE);
	return 0;
}

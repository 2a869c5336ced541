/*
 * The machine and its run loop. Memory layout follows the PC/i440FX
 * convention QEMU and SeaBIOS share: RAM from 0 to 640 KiB, the VGA window,
 * the shadowable BIOS area 0xC0000-0xFFFFF, RAM again from 1 MiB up to the
 * PCI hole at 3.5 GiB, the rest of RAM above 4 GiB, and the firmware image
 * ending at 4 GiB with its last 128 KiB also visible below 1 MiB.
 *
 * The run loop runs the CPU up to the clock's next timer deadline. In
 * real-time mode a host POSIX timer kicks the CPU when that deadline comes;
 * in instruction-count mode the CPU stops by itself. When the guest halts,
 * the loop sleeps in ppoll() until the deadline, an input fd or a signal.
 */
#include "vm.h"
#include "chipset/pc.h"
#include "ui/automation.h"
#include "exitcode.h"
#include "log.h"
#include "vcpu/accel.h"
#include "vcpu/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIOS_MAX_SIZE (16u << 20)
#define LEGACY_BIOS_SIZE 0x20000u /* 0xE0000-0xFFFFF */

/* Signal handlers need to find the running machine; there is one per
 * process. */
static struct vm *running_vm;
static int wake_pipe[2] = { -1, -1 };

static uint64_t host_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void wake(void)
{
	if (wake_pipe[1] >= 0) {
		char c = 0;
		ssize_t r = write(wake_pipe[1], &c, 1);
		(void)r;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	struct vm *vm = running_vm;
	if (vm && vm->cpu)
		vm->cpu->ops->kick(vm->cpu);
}

static void on_stop_signal(int sig)
{
	struct vm *vm = running_vm;
	if (!vm)
		return;
	vm->signal = sig;
	vm->stop_requested = 1;
	if (vm->cpu)
		vm->cpu->ops->kick(vm->cpu);
	wake();
}

static int load_bios(struct vm *vm, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_error("--bios %s: %s; check the path", path, strerror(errno));
		return -EINVAL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("--bios %s: not a regular file; give a firmware image", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size <= 0 || st.st_size > BIOS_MAX_SIZE || st.st_size % 4096) {
		log_error("--bios %s: size %lld is not a multiple of 4 KiB up to 16 MiB; "
			  "give a firmware image", path, (long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	vm->bios_size = (uint64_t)st.st_size;
	vm->bios = mmap(NULL, vm->bios_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->bios == MAP_FAILED) {
		vm->bios = NULL;
		close(fd);
		return -ENOMEM;
	}
	size_t done = 0;
	while (done < vm->bios_size) {
		ssize_t n = pread(fd, vm->bios + done, vm->bios_size - done, (off_t)done);
		if (n <= 0) {
			log_error("--bios %s: read failed: %s", path,
				  n < 0 ? strerror(errno) : "file shrank");
			close(fd);
			return -EINVAL;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

static uint64_t pam_base(int seg)
{
	return seg < 12 ? 0xC0000ull + (uint64_t)seg * 0x4000 : 0xF0000ull;
}

static uint64_t pam_size(int seg)
{
	return seg < 12 ? 0x4000 : 0x10000;
}

static int map_memory(struct vm *vm)
{
	int err;
	vm->ram_size = vm->cfg->mem_size;
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		log_error("cannot reserve %llu MiB of guest RAM: %s; give a smaller --memory",
			  (unsigned long long)(vm->ram_size >> 20), strerror(errno));
		return -ENOMEM;
	}
	vm->ram_below_4g = vm->ram_size < VM_PCI_HOLE_START ? vm->ram_size
							    : VM_PCI_HOLE_START;
	vm->ram_above_4g = vm->ram_size - vm->ram_below_4g;

	struct mem_region low = { .base = 0, .size = 0xA0000, .rd = vm->ram,
				  .wr = vm->ram, .name = "ram-low" };
	if ((err = mem_map(vm->mem, &low)))
		return err;

	/* The firmware's tail, as the chipset shows it below 1 MiB while the
	 * PAM registers route reads to the ROM side. */
	uint8_t *legacy = mmap(NULL, LEGACY_BIOS_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (legacy == MAP_FAILED)
		return -ENOMEM;
	memset(legacy, 0xff, LEGACY_BIOS_SIZE);
	uint64_t tail = vm->bios_size < LEGACY_BIOS_SIZE ? vm->bios_size : LEGACY_BIOS_SIZE;
	memcpy(legacy + LEGACY_BIOS_SIZE - tail, vm->bios + vm->bios_size - tail, tail);
	for (int seg = 0; seg < VM_PAM_SEGMENTS; seg++) {
		uint64_t base = pam_base(seg);
		vm->pam_rom[seg] = base >= 0xE0000 ? legacy + (base - 0xE0000) : NULL;
		struct mem_region r = { .base = base, .size = pam_size(seg),
					.rd = vm->pam_rom[seg], .name = "bios-shadow" };
		if ((err = mem_map(vm->mem, &r)))
			return err;
	}
	if (vm->ram_below_4g > 0x100000) {
		struct mem_region r = { .base = 0x100000, .size = vm->ram_below_4g - 0x100000,
					.rd = vm->ram + 0x100000, .wr = vm->ram + 0x100000,
					.name = "ram" };
		if ((err = mem_map(vm->mem, &r)))
			return err;
	}
	if (vm->ram_above_4g) {
		struct mem_region r = { .base = 1ull << 32, .size = vm->ram_above_4g,
					.rd = vm->ram + vm->ram_below_4g,
					.wr = vm->ram + vm->ram_below_4g, .name = "ram-high" };
		if ((err = mem_map(vm->mem, &r)))
			return err;
	}
	struct mem_region rom = { .base = (1ull << 32) - vm->bios_size,
				  .size = vm->bios_size, .rd = vm->bios, .name = "bios" };
	return mem_map(vm->mem, &rom);
}

int vm_pam_set(struct vm *vm, int seg, bool read_ram, bool write_ram)
{
	if (seg < 0 || seg >= VM_PAM_SEGMENTS)
		return -EINVAL;
	uint64_t base = pam_base(seg);
	uint8_t *ram = base < vm->ram_size ? vm->ram + base : NULL;
	return mem_set_access(vm->mem, base, read_ram ? ram : vm->pam_rom[seg],
			      write_ram ? ram : NULL);
}

uint8_t *vm_ram_ptr(struct vm *vm, uint64_t gpa, uint64_t len)
{
	return mem_ram_ptr(vm->mem, gpa, len);
}

/* Makes vm->cpu as --accel says. kvm and emu take what they name; kvm fails
 * with one line saying why when KVM cannot run a guest here. auto takes KVM
 * only where it has hardware virtualization behind it (vcpu/accel.c says
 * why a software KVM loses to the software CPU) and a VM and a vCPU can be
 * created, and the software CPU otherwise; -v says which and why. KVM's VM
 * is created once, by the backend itself: a trial VM would cost start-up
 * time. */
static int create_backend(struct vm *vm)
{
	struct accel_host h;
	char why[512], kvm_why[400];
	int err;
	switch (vm->cfg->accel) {
	case ACCEL_KVM:
		if ((err = kvm_vcpu_open(vm, &vm->cpu, kvm_why, sizeof(kvm_why)))) {
			vm->cpu = NULL;
			log_error("--accel kvm: %s", kvm_why);
			/* not a usage error: the command line was fine */
			return err == -EINVAL ? -ENODEV : err;
		}
		if (!log_enabled(LOG_INFO))
			return 0;
		accel_probe(&h, false);
		log_info("accel: kvm, as --accel kvm asks (%s)",
			 accel_kvm_kind(&h) == ACCEL_KVM_HARDWARE ? "hardware virtualization"
			 : accel_kvm_kind(&h) == ACCEL_KVM_SOFTWARE
				 ? "a software KVM: guest kernel and real-mode code is emulated, slowly"
				 : "KVM of unknown kind");
		return 0;
	case ACCEL_AUTO:
		accel_probe(&h, false);
		if (!accel_auto_uses_kvm(&h, why, sizeof(why))) {
			log_info("accel auto: %s", why);
			break;
		}
		if (!kvm_vcpu_open(vm, &vm->cpu, kvm_why, sizeof(kvm_why))) {
			log_info("accel auto: %s", why);
			return 0;
		}
		vm->cpu = NULL;
		log_info("accel auto: emu: %s", kvm_why);
		break;
	case ACCEL_EMU:
	default:
		log_info("accel: emu, as --accel emu asks");
		break;
	}
	if ((err = emu_vcpu_ops.create(vm, &vm->cpu))) {
		vm->cpu = NULL;
		log_error("cannot start the software CPU: %s", strerror(-err));
	}
	return err;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = cfg;
	vm->a20 = true;
	int err;
	if ((err = mem_create(&vm->mem)) || (err = ioport_create(&vm->io)) ||
	    (err = clock_create(&vm->clock, cfg->deterministic ? CLOCK_MODE_ICOUNT
								 : CLOCK_MODE_REALTIME)))
		goto fail;
	/* First: it takes over the parsed --script, which vm_destroy frees. */
	if ((err = automation_create(vm, &vm->automation)))
		goto fail;
	if ((err = load_bios(vm, cfg->bios)))
		goto fail;
	if ((err = map_memory(vm)))
		goto fail;
	if ((err = create_backend(vm)))
		goto fail;
	log_info("backend: %s, %llu MiB RAM", vm->cpu->ops->name,
		 (unsigned long long)(vm->ram_size >> 20));
	if ((err = pc_create(vm)))
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return err;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	for (int i = vm->ncleanup_hooks - 1; i >= 0; i--)
		vm->cleanup_hooks[i].fn(vm->cleanup_hooks[i].opaque);
	if (vm->cpu)
		vm->cpu->ops->destroy(vm->cpu);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->bios)
		munmap(vm->bios, vm->bios_size);
	if (vm->pam_rom[12])
		munmap(vm->pam_rom[12] - 0x10000, LEGACY_BIOS_SIZE);
	clock_destroy(vm->clock);
	ioport_destroy(vm->io);
	mem_destroy(vm->mem);
	free(vm);
}

static int add_hook(struct vm_hook *hooks, int *n, void (*fn)(void *), void *opaque)
{
	if (*n == VM_MAX_HOOKS)
		return -ENOMEM;
	hooks[*n].fn = fn;
	hooks[*n].opaque = opaque;
	(*n)++;
	return 0;
}

int vm_add_reset_hook(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	return add_hook(vm->reset_hooks, &vm->nreset_hooks, fn, opaque);
}

int vm_add_cleanup_hook(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	return add_hook(vm->cleanup_hooks, &vm->ncleanup_hooks, fn, opaque);
}

int vm_add_end_hook(struct vm *vm, void (*fn)(void *opaque, struct vm_result *res),
		    void *opaque)
{
	if (vm->nend_hooks == VM_MAX_HOOKS)
		return -ENOMEM;
	vm->end_hooks[vm->nend_hooks].fn = fn;
	vm->end_hooks[vm->nend_hooks].opaque = opaque;
	vm->nend_hooks++;
	return 0;
}

int vm_watch_fd(struct vm *vm, int fd, void (*fn)(void *opaque), void *opaque)
{
	int i;
	for (i = 0; i < vm->nfds && vm->fds[i].fd >= 0; i++)
		;
	if (i == VM_MAX_FDS)
		return -ENOMEM;
	vm->fds[i].fd = fd;
	vm->fds[i].fn = fn;
	vm->fds[i].opaque = opaque;
	if (i == vm->nfds)
		vm->nfds++;
	return 0;
}

void vm_unwatch_fd(struct vm *vm, int fd)
{
	/* The slot stays, with an fd poll() ignores, so a poll in progress
	 * keeps its entries lined up with vm->fds. */
	for (int i = 0; i < vm->nfds; i++)
		if (vm->fds[i].fd == fd)
			vm->fds[i].fd = -1;
}

void vm_request_stop(struct vm *vm, enum vm_end end, int status)
{
	if (vm->end == VM_END_NONE) {
		vm->end = end;
		vm->end_status = status;
	}
	vm->stop_requested = 1;
	if (vm->cpu)
		vm->cpu->ops->kick(vm->cpu);
}

void vm_request_reset(struct vm *vm)
{
	vm->reset_requested = true;
	vm->stop_requested = 1;
	if (vm->cpu)
		vm->cpu->ops->kick(vm->cpu);
}

void vm_set_intr(struct vm *vm, bool level)
{
	vm->intr_level = level;
	if (vm->cpu)
		vm->cpu->ops->set_intr(vm->cpu, level);
}

int vm_intr_ack(struct vm *vm)
{
	if (!vm->intr_ack)
		return -1;
	return vm->intr_ack(vm->intr_opaque);
}

void vm_set_a20(struct vm *vm, bool enabled)
{
	if (vm->a20 == enabled)
		return;
	vm->a20 = enabled;
	if (vm->cpu)
		vm->cpu->ops->set_a20(vm->cpu, enabled);
}

void vm_key_event(struct vm *vm, unsigned key, bool down)
{
	if (vm->key_event)
		vm->key_event(vm->key_opaque, key, down);
}

static void machine_reset(struct vm *vm)
{
	vm->reset_requested = false;
	log_info("machine reset");
	for (int i = 0; i < vm->nreset_hooks; i++)
		vm->reset_hooks[i].fn(vm->reset_hooks[i].opaque);
	for (int seg = 0; seg < VM_PAM_SEGMENTS; seg++)
		vm_pam_set(vm, seg, false, false);
	vm->cpu->ops->reset(vm->cpu);
	vm_set_a20(vm, true);
}

/* Reads whatever input fds are ready; waits up to timeout_ns (-1: until an
 * fd or a signal). */
static void poll_fds(struct vm *vm, int64_t timeout_ns)
{
	struct pollfd pfd[VM_MAX_FDS + 1];
	int n = 0;
	for (int i = 0; i < vm->nfds; i++)
		pfd[n++] = (struct pollfd){ .fd = vm->fds[i].fd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / (int64_t)NS_PER_SEC;
		ts.tv_nsec = timeout_ns % (int64_t)NS_PER_SEC;
		tsp = &ts;
	}
	if (ppoll(pfd, (nfds_t)n, tsp, NULL) <= 0)
		return;
	for (int i = 0; i < vm->nfds; i++)
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			vm->fds[i].fn(vm->fds[i].opaque);
	if (pfd[n - 1].revents & POLLIN) {
		char buf[64];
		ssize_t r = read(wake_pipe[0], buf, sizeof(buf));
		(void)r;
	}
}

static void arm_host_timer(struct vm *vm, uint64_t deadline)
{
	uint64_t host = 0;
	if (deadline != CLOCK_NEVER && clock_get_mode(vm->clock) == CLOCK_MODE_REALTIME) {
		uint64_t now_v = clock_now(vm->clock);
		host = host_ns() + (deadline > now_v ? deadline - now_v : 0);
	}
	struct itimerspec its = { 0 };
	if (host) {
		its.it_value.tv_sec = (time_t)(host / NS_PER_SEC);
		its.it_value.tv_nsec = (long)(host % NS_PER_SEC);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timer_settime((timer_t)vm->timer_handle, TIMER_ABSTIME, &its, NULL);
}

/* The guest halted: sleep until the next deadline, input or a signal. */
static void sleep_until(struct vm *vm, uint64_t deadline)
{
	if (vm->stop_requested)
		return;
	if (clock_get_mode(vm->clock) == CLOCK_MODE_ICOUNT && deadline != CLOCK_NEVER) {
		poll_fds(vm, 0);
		clock_skip_to(vm->clock, deadline);
		return;
	}
	int64_t wait = -1;
	if (deadline != CLOCK_NEVER) {
		uint64_t now = clock_now(vm->clock);
		wait = deadline > now ? (int64_t)(deadline - now) : 0;
	}
	poll_fds(vm, wait);
}

/* A device armed a timer earlier than the deadline the CPU runs towards:
 * stop the CPU so the loop re-arms for it. */
static void earlier_deadline(void *opaque)
{
	struct vm *vm = opaque;
	if (vm->cpu_running)
		vm->cpu->ops->kick(vm->cpu);
}

struct vm_result vm_run(struct vm *vm)
{
	struct vm_result res = { VM_END_ERROR, PCVM_EXIT_ERROR };
	if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("cannot create a pipe: %s", strerror(errno));
		return res;
	}
	running_vm = vm;
	struct sigaction sa = { 0 }, old_alrm, old_int, old_term, old_hup;
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, &old_alrm);
	sa.sa_handler = on_stop_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	signal(SIGPIPE, SIG_IGN);

	struct sigevent sev = { 0 };
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGALRM;
	timer_t tid;
	if (timer_create(CLOCK_MONOTONIC, &sev, &tid) < 0) {
		log_error("cannot create a host timer: %s", strerror(errno));
		goto out;
	}
	vm->timer_handle = tid;
	clock_set_earlier_hook(vm->clock, earlier_deadline, vm);

	while (vm->end == VM_END_NONE) {
		if (vm->signal)
			break;
		clock_run_timers(vm->clock);
		if (vm->nfds)
			poll_fds(vm, 0);
		if (vm->end != VM_END_NONE || vm->signal)
			break;
		vm->stop_requested = 0;
		if (vm->reset_requested) {
			if (vm->cfg->no_reboot) {
				log_info("the guest reset the machine: ending (--no-reboot)");
				vm_request_stop(vm, VM_END_REBOOT, PCVM_EXIT_REBOOT);
				break;
			}
			machine_reset(vm);
		}
		uint64_t deadline = clock_next_deadline(vm->clock);
		arm_host_timer(vm, deadline);
		vm->cpu_running = true;
		enum vcpu_exit ex = vm->cpu->ops->run(vm->cpu, deadline);
		vm->cpu_running = false;
		switch (ex) {
		case VCPU_EXIT_HALT:
			/* Devices may have armed timers during the slice. */
			sleep_until(vm, clock_next_deadline(vm->clock));
			break;
		case VCPU_EXIT_SHUTDOWN:
			if (vm->cfg->no_reboot) {
				log_info("triple fault: ending (--no-reboot)");
				vm_request_stop(vm, VM_END_TRIPLE_FAULT, PCVM_EXIT_TRIPLE_FAULT);
				break;
			}
			log_info("triple fault: resetting the machine");
			vm->reset_requested = true;
			break;
		case VCPU_EXIT_ERROR:
			vm_request_stop(vm, VM_END_ERROR, PCVM_EXIT_ERROR);
			break;
		default:
			break;
		}
	}
	timer_delete(tid);
	vm->timer_handle = NULL;
	if (vm->signal) {
		res.end = VM_END_SIGNAL;
		res.status = PCVM_EXIT_SIGNAL_BASE + vm->signal;
		log_info("ended by signal %d", (int)vm->signal);
	} else {
		res.end = vm->end;
		res.status = vm->end == VM_END_POWEROFF ? PCVM_EXIT_OK : vm->end_status;
	}
out:
	sigaction(SIGALRM, &old_alrm, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	running_vm = NULL;
	for (int i = 0; i < vm->nend_hooks; i++)
		vm->end_hooks[i].fn(vm->end_hooks[i].opaque, &res);
	return res;
}

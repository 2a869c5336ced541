/*
 * Probing the host for KVM and choosing a backend. The KVM side follows the
 * kernel's Documentation/virt/kvm/api.rst (4.1 KVM_GET_API_VERSION, 4.2
 * KVM_CREATE_VM, 4.4 KVM_CHECK_EXTENSION, 4.7 KVM_CREATE_VCPU); the kind of
 * KVM is read from which vendor module is loaded (/sys/module/kvm_intel,
 * kvm_amd, kvm_pvm) and the CPU's vmx/svm flags in /proc/cpuinfo.
 *
 * Why auto refuses a software KVM: kvm_pvm runs guest user code natively but
 * emulates guest kernel (CPL0), real-mode and 32-bit code at about a
 * microsecond per instruction, refuses 32-bit paging, drops RFLAGS.IOPL and
 * mishandles syscall from user mode; the software CPU is faster for the
 * firmware and kernel code a PC spends its boot in, and correct.
 */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *accel_kvm_device(void)
{
	const char *p = getenv(ACCEL_KVM_DEVICE_ENV);
	return p && *p ? p : ACCEL_KVM_DEVICE_DEFAULT;
}

static const struct {
	int cap;
	const char *name;
} needed_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_READONLY_MEM, "KVM_CAP_READONLY_MEM" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
};

const char *accel_kvm_missing_cap(int kvm_fd)
{
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
			return needed_caps[i].name;
	return NULL;
}

static bool path_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Whole-word search in a space-separated list. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n) {
		bool start = p == list || p[-1] == ' ' || p[-1] == '\t';
		bool end = p[n] == 0 || p[n] == ' ' || p[n] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

static void read_cpuinfo(struct accel_host *h)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return;
	h->cpuinfo = true;
	char *line = NULL;
	size_t cap = 0;
	bool got_flags = false;
	while (getline(&line, &cap, f) > 0 && !got_flags) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		const char *val = colon + 1 + (colon[1] == ' ');
		if (!strncmp(line, "model name", 10) && !h->cpu_model[0]) {
			snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", val);
			h->cpu_model[strcspn(h->cpu_model, "\n")] = 0;
		} else if (!strncmp(line, "flags", 5)) {
			h->cpu_vmx = has_word(val, "vmx");
			h->cpu_svm = has_word(val, "svm");
			h->cpu_hypervisor = has_word(val, "hypervisor");
			got_flags = true;
		}
	}
	free(line);
	fclose(f);
}

static void probe_device(struct accel_host *h, bool create_vm)
{
	int kvm = open(h->device, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		h->open_err = errno;
		return;
	}
	h->open_err = 0;
	h->api_version = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (h->api_version < 0) {
		h->open_err = errno == EINVAL ? ENOTTY : errno;
		goto out;
	}
	if (h->api_version != KVM_API_VERSION)
		goto out;
	if ((h->missing_cap = accel_kvm_missing_cap(kvm)) || !create_vm)
		goto out;
	h->vm_tested = true;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		h->vm_err = errno;
		goto out;
	}
	h->vm_err = 0;
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	h->vcpu_err = vcpu < 0 ? errno : 0;
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
out:
	close(kvm);
}

void accel_probe(struct accel_host *h, bool create_vm)
{
	*h = (struct accel_host){ .open_err = -1, .api_version = -1,
				  .vm_err = -1, .vcpu_err = -1 };
	snprintf(h->device, sizeof(h->device), "%s", accel_kvm_device());
	read_cpuinfo(h);
	h->sysfs = path_exists("/sys/module");
	h->mod_kvm = path_exists("/sys/module/kvm");
	h->mod_kvm_intel = path_exists("/sys/module/kvm_intel");
	h->mod_kvm_amd = path_exists("/sys/module/kvm_amd");
	h->mod_kvm_pvm = path_exists("/sys/module/kvm_pvm");
	probe_device(h, create_vm);
}

bool accel_software_kvm_loaded(void)
{
	return path_exists("/sys/module/kvm_pvm");
}

bool accel_kvm_usable(const struct accel_host *h)
{
	return h->open_err == 0 && h->api_version == KVM_API_VERSION &&
	       !h->missing_cap &&
	       (!h->vm_tested || (h->vm_err == 0 && h->vcpu_err == 0));
}

enum accel_kvm_kind accel_kvm_kind(const struct accel_host *h)
{
	if (!accel_kvm_usable(h))
		return ACCEL_KVM_NONE;
	bool hw_module = h->mod_kvm_intel || h->mod_kvm_amd;
	/* Only one vendor module can serve /dev/kvm; with both kinds loaded
	 * nothing we can read says which one won. */
	if (h->mod_kvm_pvm)
		return hw_module ? ACCEL_KVM_UNKNOWN : ACCEL_KVM_SOFTWARE;
	if (hw_module)
		return ACCEL_KVM_HARDWARE;
	/* No /sys (a container): the CPU flags are the best evidence left. */
	if (!h->sysfs && (h->cpu_vmx || h->cpu_svm))
		return ACCEL_KVM_HARDWARE;
	return ACCEL_KVM_UNKNOWN;
}

void accel_kvm_problem(const struct accel_host *h, char *buf, size_t len)
{
	const char *dev = h->device;
	if (h->open_err == ENOENT) {
		snprintf(buf, len, "%s does not exist: this host offers no KVM "
			 "(on a CPU with VT-x or AMD-V, load kvm_intel or kvm_amd); "
			 "use --accel emu", dev);
	} else if (h->open_err == EACCES || h->open_err == EPERM) {
		snprintf(buf, len, "cannot open %s: permission denied; add your user "
			 "to the kvm group (sudo usermod -aG kvm $USER, then log in "
			 "again) or use --accel emu", dev);
	} else if (h->open_err == ENOTTY) {
		snprintf(buf, len, "%s is not a KVM device; point %s at /dev/kvm "
			 "or use --accel emu", dev, ACCEL_KVM_DEVICE_ENV);
	} else if (h->open_err == ENXIO || h->open_err == ENODEV) {
		snprintf(buf, len, "%s has no KVM driver behind it: load kvm_intel "
			 "or kvm_amd, or use --accel emu", dev);
	} else if (h->open_err > 0) {
		snprintf(buf, len, "cannot open %s: %s; use --accel emu", dev,
			 strerror(h->open_err));
	} else if (h->open_err < 0) {
		snprintf(buf, len, "%s was not probed", dev);
	} else if (h->api_version != KVM_API_VERSION) {
		snprintf(buf, len, "%s speaks KVM API %d, pcvm needs %d; use "
			 "--accel emu", dev, h->api_version, KVM_API_VERSION);
	} else if (h->missing_cap) {
		snprintf(buf, len, "%s lacks %s, which pcvm needs; use a newer "
			 "kernel or --accel emu", dev, h->missing_cap);
	} else if (h->vm_tested && h->vm_err) {
		snprintf(buf, len, "KVM (%s) refused to create a VM: %s; another "
			 "hypervisor may hold VT-x/AMD-V, or a limit was reached; "
			 "use --accel emu", dev, strerror(h->vm_err));
	} else if (h->vm_tested && h->vcpu_err) {
		snprintf(buf, len, "KVM (%s) refused to create a vCPU: %s; use "
			 "--accel emu", dev, strerror(h->vcpu_err));
	} else {
		snprintf(buf, len, "%s works", dev);
	}
}

bool accel_auto_uses_kvm(const struct accel_host *h, char *why, size_t len)
{
	char problem[320];
	switch (accel_kvm_kind(h)) {
	case ACCEL_KVM_HARDWARE:
		snprintf(why, len, "kvm: %s offers hardware virtualization (%s)",
			 h->device, h->mod_kvm_intel ? "kvm_intel, VT-x"
			 : h->mod_kvm_amd ? "kvm_amd, AMD-V" : "the CPU has VT-x/AMD-V");
		return true;
	case ACCEL_KVM_SOFTWARE:
		snprintf(why, len, "emu: %s is a software KVM (kvm_pvm) that emulates "
			 "guest kernel, real-mode and 32-bit code at about 1 us per "
			 "instruction; the software CPU is faster and exact there",
			 h->device);
		return false;
	case ACCEL_KVM_UNKNOWN:
		snprintf(why, len, "emu: %s works, but no kvm_intel or kvm_amd module "
			 "says it has hardware virtualization behind it "
			 "(--accel kvm uses it anyway)", h->device);
		return false;
	case ACCEL_KVM_NONE:
	default:
		accel_kvm_problem(h, problem, sizeof(problem));
		snprintf(why, len, "emu: no usable KVM (%s)", problem);
		return false;
	}
}

void accel_print_info(const struct accel_host *h, FILE *out)
{
	fprintf(out, "CPU:            %s\n", h->cpu_model[0] ? h->cpu_model : "unknown");
	if (h->cpuinfo)
		fprintf(out, "CPU flags:      VT-x (vmx) %s, AMD-V (svm) %s%s\n",
			h->cpu_vmx ? "yes" : "no", h->cpu_svm ? "yes" : "no",
			h->cpu_hypervisor ? ", running under a hypervisor" : "");
	else
		fprintf(out, "CPU flags:      unknown (/proc/cpuinfo unreadable)\n");
	if (h->sysfs) {
		char mods[128] = "";
		size_t n = 0;
		const struct { bool on; const char *name; } m[] = {
			{ h->mod_kvm, "kvm" }, { h->mod_kvm_intel, "kvm_intel" },
			{ h->mod_kvm_amd, "kvm_amd" }, { h->mod_kvm_pvm, "kvm_pvm" },
		};
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			if (m[i].on)
				n += (size_t)snprintf(mods + n, sizeof(mods) - n, "%s%s",
						      n ? ", " : "", m[i].name);
		fprintf(out, "KVM modules:    %s\n", n ? mods : "none loaded");
	} else {
		fprintf(out, "KVM modules:    unknown (/sys/module unreadable)\n");
	}
	if (accel_kvm_usable(h)) {
		fprintf(out, "KVM device:     %s works (API %d%s)\n", h->device,
			h->api_version, h->vm_tested ? "; a VM and a vCPU were created" : "");
	} else {
		char problem[320];
		accel_kvm_problem(h, problem, sizeof(problem));
		fprintf(out, "KVM device:     %s\n", problem);
	}
	switch (accel_kvm_kind(h)) {
	case ACCEL_KVM_HARDWARE:
		fprintf(out, "Virtualization: hardware (%s)\n",
			h->mod_kvm_intel ? "VT-x through kvm_intel"
			: h->mod_kvm_amd ? "AMD-V through kvm_amd" : "VT-x/AMD-V");
		break;
	case ACCEL_KVM_SOFTWARE:
		fprintf(out, "Virtualization: software KVM (kvm_pvm): guest user code "
			"runs natively; guest kernel, real-mode and 32-bit code is "
			"emulated at about 1 us per instruction; 32-bit paging is "
			"refused, RFLAGS.IOPL is dropped and syscall from user mode "
			"is mishandled\n");
		break;
	case ACCEL_KVM_UNKNOWN:
		fprintf(out, "Virtualization: KVM of unknown kind (no kvm_intel or "
			"kvm_amd module%s)\n", h->mod_kvm_pvm ? "; kvm_pvm is loaded too" : "");
		break;
	case ACCEL_KVM_NONE:
		fprintf(out, "Virtualization: none usable\n");
		break;
	}
	fprintf(out, "Backends:       emu (the software CPU): always; kvm: %s\n",
		accel_kvm_usable(h) ? "usable (--accel kvm)" : "not usable");
	char why[400];
	accel_auto_uses_kvm(h, why, sizeof(why));
	fprintf(out, "--accel auto:   %s\n", why);
}

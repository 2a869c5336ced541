/*
 * What the host offers for running guests, and which backend --accel auto
 * takes. Linux KVM comes in two kinds that share /dev/kvm and API 12:
 * hardware virtualization (the kvm_intel or kvm_amd module on a CPU with
 * VT-x or AMD-V), where guest code runs natively, and a software KVM such as
 * kvm_pvm, which runs guest user code natively but emulates guest kernel,
 * real-mode and 32-bit code instruction by instruction. The module names
 * come from /sys/module, the CPU flags from /proc/cpuinfo, and whether KVM
 * works at all from opening the device and creating a VM and a vCPU
 * (Documentation/virt/kvm/api.rst, sections 4.1-4.7).
 */
#ifndef PCVM_ACCEL_H
#define PCVM_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The environment variable that names the KVM device node (tests use it to
 * point pcvm at a missing or unreadable path). */
#define ACCEL_KVM_DEVICE_ENV "PCVM_KVM_DEVICE"
#define ACCEL_KVM_DEVICE_DEFAULT "/dev/kvm"

enum accel_kvm_kind {
	ACCEL_KVM_NONE,     /* no usable KVM */
	ACCEL_KVM_HARDWARE, /* VT-x or AMD-V through kvm_intel / kvm_amd */
	ACCEL_KVM_SOFTWARE, /* a software KVM (kvm_pvm) */
	ACCEL_KVM_UNKNOWN,  /* KVM works, but nothing says which kind */
};

struct accel_host {
	char device[256];       /* the device node probed */
	char cpu_model[96];     /* /proc/cpuinfo "model name", or "" */
	bool cpuinfo;           /* /proc/cpuinfo was readable */
	bool cpu_vmx, cpu_svm, cpu_hypervisor;
	bool sysfs;             /* /sys/module was readable */
	bool mod_kvm, mod_kvm_intel, mod_kvm_amd, mod_kvm_pvm;
	/* 0 or the errno of each step; the later steps are only tried when
	 * the earlier ones worked (-1: not tried). */
	int open_err;
	int api_version;        /* -1 when unknown */
	const char *missing_cap; /* a capability pcvm needs that KVM lacks */
	bool vm_tested;         /* creating a VM and a vCPU was tried */
	int vm_err, vcpu_err;
};

/* The device node: $PCVM_KVM_DEVICE if set and non-empty, else /dev/kvm. */
const char *accel_kvm_device(void);

/* Fills h. With create_vm, also creates (and at once destroys) a VM and a
 * vCPU when the device opens, since only that proves KVM can run a guest;
 * on kvm_pvm that costs a few milliseconds, so the backend choice leaves it
 * to the KVM backend's own creation. */
void accel_probe(struct accel_host *h, bool create_vm);

/* Opening the device, the API version and every capability pcvm needs
 * worked, and so did creating a VM and a vCPU if that was tried. */
bool accel_kvm_usable(const struct accel_host *h);
enum accel_kvm_kind accel_kvm_kind(const struct accel_host *h);

/* When KVM is not usable: one sentence naming the device and saying what to
 * do (for --accel kvm's error line). */
void accel_kvm_problem(const struct accel_host *h, char *buf, size_t len);

/* --accel auto: true to use KVM; why says which and why, for -v. */
bool accel_auto_uses_kvm(const struct accel_host *h, char *why, size_t len);

/* The --accel help / --accel-info report. */
void accel_print_info(const struct accel_host *h, FILE *out);

/* A software KVM (kvm_pvm) is loaded: the KVM backend uses this to explain
 * what such a KVM refuses. */
bool accel_software_kvm_loaded(void);

/* Used by the KVM backend too: the name of the first KVM capability pcvm
 * needs that kvm_fd (an open /dev/kvm) lacks, or NULL. */
const char *accel_kvm_missing_cap(int kvm_fd);

#endif

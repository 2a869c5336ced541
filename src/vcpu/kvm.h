/*
 * The KVM backend's one entry point beyond struct vcpu_ops: creating the
 * vCPU without logging, so the backend choice (vm.c) can say in its own
 * words why KVM is not used, or fall back to the software CPU quietly.
 */
#ifndef PCVM_KVM_H
#define PCVM_KVM_H

#include <stddef.h>

struct vm;
struct vcpu;

/* kvm_vcpu_ops.create, but on failure puts one sentence saying why (and
 * what to do) in why instead of logging it. 0 or a negative errno. */
int kvm_vcpu_open(struct vm *vm, struct vcpu **out, char *why, size_t len);

#endif

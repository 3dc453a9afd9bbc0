/*
 * The KVM backend's low level: a VM with an in-kernel irqchip and one vCPU
 * per simulated CPU, never run. Interrupt messages go to KVM's local APICs
 * with KVM_SIGNAL_MSI or through irqfd and GSI routes; a CPU "accepts" an
 * interrupt by reading its vCPU's IRR with KVM_GET_LAPIC and clearing the
 * bit with KVM_SET_LAPIC. KVM's APIC, not ours, decides which vCPU and
 * vector a message reaches, which makes it the oracle of the cross-check.
 */
#ifndef IMS_BACKEND_KVM_H
#define IMS_BACKEND_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/bus.h"

struct ims_kvm;

#define IMS_KVM_MAX_ROUTES 4096

/*
 * A VM with nr_vcpus vCPUs whose APIC IDs are apic_ids[i] (xAPIC: < 255).
 * -ENODEV, with the reason in ims_last_error(), where /dev/kvm is missing or
 * cannot make such a VM.
 */
int ims__kvm_create(uint32_t nr_vcpus, const uint32_t *apic_ids, struct ims_kvm **out);
void ims__kvm_destroy(struct ims_kvm *k);

/* Send one message; returns how many vCPUs took it (0: blocked/none). */
int ims__kvm_signal_msi(struct ims_kvm *k, uint32_t addr_lo, uint32_t addr_hi, uint32_t data);
/* An APIC-bus sink that composes a compatibility message and signals it. */
int ims__kvm_apic_sink(void *ctx, const struct ims_hw_apic_irq *irq);

/* The vCPU's IRR as four 64-bit words (vector v is bit v % 64 of word v / 64). */
int ims__kvm_irr(struct ims_kvm *k, uint32_t vcpu, uint64_t irr[4]);
/*
 * Accept the highest pending vector of vcpu: clear its IRR bit and return
 * the vector, or -ENOENT if none is pending. Serialized with this backend's
 * own signals so that no message lands between the read and the write.
 */
int ims__kvm_accept(struct ims_kvm *k, uint32_t vcpu);

/*
 * GSI routes with irqfd. Route changes are pushed to KVM in one ioctl at
 * the next fire (KVM replaces its whole table), so a burst of changes costs
 * one update. Routes are made on demand and freed; at most 4096.
 */
int ims__kvm_route_add(struct ims_kvm *k, uint32_t addr_lo, uint32_t addr_hi, uint32_t data);
int ims__kvm_route_set(struct ims_kvm *k, int gsi, uint32_t addr_lo, uint32_t addr_hi, uint32_t data);
int ims__kvm_route_del(struct ims_kvm *k, int gsi);
int ims__kvm_route_fire(struct ims_kvm *k, int gsi);
uint32_t ims__kvm_nr_routes(const struct ims_kvm *k);
/* Routing-table pushes so far (for tests of the batching). */
uint64_t ims__kvm_route_pushes(const struct ims_kvm *k);

#endif

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

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "hw/bus.h"
#include "util/compiler.h"

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

/*
 * Posted messages. A device's interrupt is a posted write: the device does
 * not wait for a CPU to take it. ims__kvm_apic_sink_posted() composes the
 * message as ims__kvm_apic_sink() does and queues it on the calling
 * thread; ims__kvm_flush() signals the thread's queued messages, in the
 * order they were posted, each with its own KVM_SIGNAL_MSI.
 *
 * Why: a system call leaves the CPU's return-address predictor holding the
 * kernel's addresses, so every function the thread then returns through
 * mispredicts (about 6 ns a frame on the benchmark machine; docs/
 * performance.md). Signalling from the sink would put the ioctl under the
 * whole device -> remapping unit -> sink chain; a caller that flushes at
 * the top of its loop keeps it one frame deep.
 *
 * A thread's queue is flushed by ims__kvm_flush() and, first, by every
 * other call on a backend from that thread (signal, IRR, accept, routes,
 * destroy), so that the thread sees its own messages delivered, and when
 * the thread exits. A thread must flush before another thread destroys a
 * backend it posted to. The queue holds IMS_KVM_POSTED messages; posting
 * to a full queue flushes it first.
 */
#define IMS_KVM_POSTED 16
int ims__kvm_apic_sink_posted(void *ctx, const struct ims_hw_apic_irq *irq);
/* Messages this thread has posted and not yet signalled. */
uint32_t ims__kvm_posted(void);

/* This thread's queue. Inside: ims__kvm_flush() is inline so that the
 * ioctl returns straight into its caller's frame. */
struct ims_kvm_posted {
	pthread_mutex_t *lock;		/* the backend's */
	int vm_fd;
	uint32_t addr_lo, data;		/* compatibility format; address_hi is 0 */
};

struct ims_kvm_outbox {
	uint32_t n;
	bool armed;			/* flushed at thread exit */
	struct ims_kvm_posted msg[IMS_KVM_POSTED];
};

extern _Thread_local struct ims_kvm_outbox ims__kvm_outbox __attribute__((tls_model("initial-exec")));
/* Records a failed KVM_SIGNAL_MSI (err: its errno) and returns -err. */
int ims__kvm_signal_failed(int err);

/* 0, or the first error of the messages signalled (every one is tried). */
static inline int ims__kvm_flush(void)
{
	struct ims_kvm_outbox *o = &ims__kvm_outbox;
	int ret = 0;

	for (uint32_t i = 0; i < o->n; i++) {
		struct ims_kvm_posted *p = &o->msg[i];
		struct kvm_msi msi = { .address_lo = p->addr_lo, .data = p->data };
		int r;

		pthread_mutex_lock(p->lock);
		r = ioctl(p->vm_fd, KVM_SIGNAL_MSI, &msi);
		pthread_mutex_unlock(p->lock);
		if (ims_unlikely(r < 0) && !ret)
			ret = ims__kvm_signal_failed(errno);
	}
	o->n = 0;
	return ret;
}

#endif

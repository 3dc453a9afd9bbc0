/*
 * CPU dispatch: the interrupt entry of an x86 CPU. The CPU has taken a
 * vector from its local APIC; the per-CPU vector table names the irq that
 * owns it, and the irq's flow runs. No lock is taken: the table holds irq
 * numbers, not pointers, read inside an RCU read section that lasts until
 * the core has looked the number up. Freeing an irq clears its table
 * entries before it retires the descriptor (an RCU grace period), and the
 * number is handed out again only after that, so an entry read just before
 * it changes finds the freed irq (counted spurious by the core), never the
 * next owner of its number. The first interrupt on the new vector of
 * a move clears the entry's moved bit, which is what tells cleanup that
 * the device now uses the new message.
 *
 * EOI: the vector chip's ack and eoi write the APIC's EOI register of the
 * CPU that is dispatching, found in a per-thread context, so that an
 * interrupt taken on the old vector of a move is ended on the old CPU. A
 * flow that ends without either (simple flow, an irq gone) gets its EOI
 * here, so that the APIC's in-service bit never sticks.
 */
#include <errno.h>

#include "os/x86/vector.h"
#include "util/log.h"
#include "util/rcu.h"

struct dispatch_ctx {
	struct ims_x86_vector_domain *vd;
	uint32_t cpu;
	bool eoi_pending;
};

static _Thread_local struct dispatch_ctx this_dispatch;

static void eoi(struct ims_x86_vector_domain *vd, uint32_t cpu)
{
	vd->apic->write(vd->apic_ctx, cpu, IMS_X86_APIC_EOI, 0);
}

void ims__x86_vector_ack(struct ims_irq_data *d)
{
	struct dispatch_ctx *c = &this_dispatch;

	(void)d;
	/*
	 * Outside dispatch (a software replay from ims_irq_enable) no APIC
	 * has this interrupt in service: there is nothing to end.
	 */
	if (!c->vd || !c->eoi_pending)
		return;
	c->eoi_pending = false;
	eoi(c->vd, c->cpu);
}

IMS_API int ims_x86_vector_dispatch(struct ims_x86_vector_domain *vd, uint32_t cpu, uint8_t vector)
{
	struct dispatch_ctx saved = this_dispatch;
	_Atomic uint64_t *slot;
	uint64_t e;
	int rc;

	if (ims_unlikely(!vd || cpu >= vd->nr_cpus))
		return ims__error(-EINVAL, "x86-vector: dispatch: CPU %u out of range", cpu);
	this_dispatch = (struct dispatch_ctx){ .vd = vd, .cpu = cpu, .eoi_pending = true };
	if (ims_unlikely(vector >= vd->first_system)) {
		ims_x86_sysvec_fn fn = atomic_load_explicit(&vd->sysvec[vector].fn, memory_order_acquire);

		if (fn) {
			fn(atomic_load_explicit(&vd->sysvec[vector].ctx, memory_order_relaxed), cpu, vector);
			rc = 0;
		} else {
			atomic_fetch_add_explicit(&vd->cpu_count[cpu].spurious, 1, memory_order_relaxed);
			rc = -ENOENT;
		}
		goto out;
	}
	slot = ims__vt_entry(vd, cpu, vector);
	/*
	 * Until the core has looked the irq up: a number freed after this
	 * read is not reused before the section ends (the free waits for it).
	 */
	ims__rcu_read_lock();
	e = atomic_load_explicit(slot, memory_order_acquire);
	if (ims_unlikely(!(e & VT_VALID))) {
		ims__rcu_read_unlock();
		atomic_fetch_add_explicit(&vd->cpu_count[cpu].spurious, 1, memory_order_relaxed);
		rc = -ENOENT;
		goto out;
	}
	if (ims_unlikely(e & VT_MOVED)) {
		uint64_t expect = e;

		/* Fails harmlessly if the entry changed (the generation differs). */
		atomic_compare_exchange_strong_explicit(slot, &expect, e & ~VT_MOVED,
							memory_order_acq_rel, memory_order_relaxed);
	}
	if (ims_unlikely(atomic_load_explicit(&vd->test_dispatch_stall, memory_order_relaxed)))
		atomic_load(&vd->test_dispatch_stall)(vd->test_dispatch_stall_ctx, cpu, VT_IRQ(e));
	rc = ims_irq_handle(vd->core, VT_IRQ(e), cpu);
	ims__rcu_read_unlock();
	if (ims_unlikely(rc == -ENOENT))
		atomic_fetch_add_explicit(&vd->cpu_count[cpu].spurious, 1, memory_order_relaxed);
	else	/* one dispatcher per CPU: a plain increment, no locked RMW */
		atomic_store_explicit(&vd->cpu_count[cpu].dispatched,
				      atomic_load_explicit(&vd->cpu_count[cpu].dispatched, memory_order_relaxed) + 1,
				      memory_order_relaxed);
out:
	if (this_dispatch.eoi_pending)
		eoi(vd, cpu);
	this_dispatch = saved;
	return rc;
}

/*
 * Flow handlers: what happens when an interrupt arrives. All three flows
 * share one rule that keeps the invariant "every interrupt raised while the
 * line is enabled is handled at least once": an interrupt that cannot run
 * now (disabled, no handler, or its handler already running on another CPU)
 * is marked pending and masked, and whoever is running or enables it later
 * runs it again. Handlers run with the descriptor lock dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "os/irq/internal.h"
#include "util/log.h"
#include "util/rcu.h"

/* The descriptor whose handlers this thread is running, if any. */
_Thread_local struct ims_irq_desc *ims__irq_current __attribute__((tls_model("initial-exec")));

static void report_storm(struct ims_irq_core *core, struct ims_irq_desc *desc, unsigned int unhandled)
{
	char names[96] = "";
	size_t n = 0;
	struct ims_irq_action *a;

	for (a = atomic_load(&desc->action); a && n < sizeof(names) - 1; a = atomic_load(&a->next))
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? "," : "", a->name);
	ims__warn("irq %u: storm: %u of the last %u interrupts were not handled by any handler "
		  "(%s); disabled", desc->irq, unhandled, core->storm_window,
		  n ? names : "no handlers");
}

/*
 * Storm detection; desc->lock held. clock is the count that this interrupt
 * just advanced: every storm_window interrupts on it, the unhandled ones
 * since the last check are weighed.
 */
static void note_interrupt(struct ims_irq_core *core, struct ims_irq_desc *desc, bool handled,
			   uint32_t clock)
{
	unsigned int st = ims__irqs(desc), unhandled = st >> IMS_IRQS_UNHANDLED_SHIFT;

	if (ims_unlikely(!handled) && unhandled < IMS_IRQS_UNHANDLED_MAX) {
		unhandled++;
		st += IMS_IRQS_UNHANDLED_ONE;
		atomic_store_explicit(&desc->state, st, memory_order_release);
	}
	if (ims_likely(clock % core->storm_window))
		return;
	if (ims_unlikely(unhandled > core->storm_unhandled) && desc->depth < UINT8_MAX) {
		report_storm(core, desc, unhandled);
		ims__irqs_set_locked(desc, IMS_IRQS_STORM | IMS_IRQS_DISABLED);
		desc->depth++;
		ims__irq_mask_locked(desc);
	}
	if (unhandled)
		ims__irqs_clear_locked(desc, IMS_IRQS_UNHANDLED_MAX << IMS_IRQS_UNHANDLED_SHIFT);
}

/*
 * Count one interrupt handled on cpu; desc->lock held, so a plain load and
 * store suffice. The count of the effective CPU is in the descriptor; other
 * CPUs count in its ext. Returns the count advanced.
 */
static uint32_t count_handled(struct ims_irq_core *core, struct ims_irq_desc *desc, uint32_t cpu)
{
	atomic_uint *c;
	uint32_t n;

	if (ims_likely(cpu == desc->effective_cpu)) {
		c = &desc->count;
	} else if (desc->ext) {
		c = &desc->ext->kstat[cpu < desc->ext->nr_kstat ? cpu : 0];
	} else if (desc->effective_cpu == IMS_IRQ_NO_CPU) {
		/* No platform level named a CPU: it runs where it is first
		 * handled. */
		desc->effective_cpu = (uint16_t)cpu;
		c = &desc->count;
	} else {
		atomic_fetch_add_explicit(&core->stray, 1, memory_order_relaxed);
		return 1;
	}
	n = atomic_load_explicit(c, memory_order_relaxed) + 1;
	atomic_store_explicit(c, n, memory_order_relaxed);
	return n;
}

/* Run every handler once; desc->lock held on entry and exit, dropped inside. */
static void run_actions(struct ims_irq_core *core, struct ims_irq_desc *desc, uint32_t cpu)
{
	struct ims_irq_desc *prev = ims__irq_current;
	struct ims_irq_action *a;
	unsigned int ret = IMS_IRQ_NONE;

	ims__irqs_set_locked(desc, IMS_IRQS_INPROGRESS);
	ims__irqs_clear_locked(desc, IMS_IRQS_PENDING);
	ims__spin_unlock(&desc->lock);

	ims__irq_current = desc;
	for (a = atomic_load_explicit(&desc->action, memory_order_acquire); a;
	     a = atomic_load_explicit(&a->next, memory_order_acquire))
		ret |= (unsigned int)a->handler(desc->irq, a->ctx);
	ims__irq_current = prev;

	ims__spin_lock(&desc->lock);
	ims__irqs_clear_locked(desc, IMS_IRQS_INPROGRESS);
	note_interrupt(core, desc, ret & IMS_IRQ_HANDLED, count_handled(core, desc, cpu));
}

void ims__irq_handle_desc(struct ims_irq_core *core, struct ims_irq_desc *desc, uint32_t cpu)
{
	unsigned int flow = ims__irq_desc_flow(desc);
	unsigned int st;

	ims__spin_lock(&desc->lock);
	st = ims__irqs(desc);
	if (ims_unlikely(st & IMS_IRQS_REPLAY))
		ims__irqs_clear_locked(desc, IMS_IRQS_REPLAY);
	if (ims_unlikely((st & (IMS_IRQS_DISABLED | IMS_IRQS_INPROGRESS)) ||
			 !atomic_load_explicit(&desc->action, memory_order_relaxed))) {
		ims__irqs_set_locked(desc, IMS_IRQS_PENDING);
		ims__irq_mask_locked(desc);
		if (flow == IMS_FLOW_EDGE)
			ims__irq_ack_locked(desc);
		else if (flow == IMS_FLOW_FASTEOI)
			ims__irq_eoi_locked(desc);
		ims__spin_unlock(&desc->lock);
		return;
	}
	if (flow == IMS_FLOW_EDGE)
		ims__irq_ack_locked(desc);
	do {
		st = ims__irqs(desc);
		if (!atomic_load_explicit(&desc->action, memory_order_relaxed)) {
			ims__irq_mask_locked(desc);
			break;
		}
		/* Re-running for an edge that came while we ran: it was masked
		 * then, open the line again before running. */
		if ((st & IMS_IRQS_PENDING) && (st & IMS_IRQS_MASKED))
			ims__irq_unmask_locked(desc);
		run_actions(core, desc, cpu);
		st = ims__irqs(desc);
	} while ((st & IMS_IRQS_PENDING) && !(st & IMS_IRQS_DISABLED));
	if (flow == IMS_FLOW_FASTEOI)
		ims__irq_eoi_locked(desc);
	ims__spin_unlock(&desc->lock);
}

IMS_API int ims_irq_handle(struct ims_irq_core *core, unsigned int irq, uint32_t cpu)
{
	struct ims_irq_desc *desc;

	if (ims_unlikely(!core || cpu >= core->nr_cpus))
		return ims__error(-EINVAL, "irq_handle: cpu %u is not a CPU of the machine", cpu);
	ims__rcu_read_lock();
	desc = ims__irq_to_desc(core, irq);
	if (ims_unlikely(!desc || !(atomic_load_explicit(&desc->state, memory_order_acquire) &
				    IMS_IRQS_READY))) {
		ims__rcu_read_unlock();
		atomic_fetch_add_explicit(&core->spurious, 1, memory_order_relaxed);
		return -ENOENT;
	}
	ims__irq_handle_desc(core, desc, cpu);
	ims__rcu_read_unlock();
	return 0;
}

void ims__irq_resend(struct ims_irq_core *core, struct ims_irq_desc *desc)
{
	unsigned int st;
	int cpu;

	ims__spin_lock(&desc->lock);
	st = atomic_load(&desc->state);
	if (!(st & IMS_IRQS_PENDING) || (st & (IMS_IRQS_REPLAY | IMS_IRQS_DISABLED))) {
		ims__spin_unlock(&desc->lock);
		return;
	}
	ims__irqs_set_locked(desc, IMS_IRQS_REPLAY);
	if (ims__irq_retrigger_locked(desc) == 0) {
		ims__spin_unlock(&desc->lock);
		return;
	}
	cpu = desc->effective_cpu != IMS_IRQ_NO_CPU ? desc->effective_cpu : 0;
	ims__spin_unlock(&desc->lock);
	if (core->resend)
		core->resend(core, desc->irq, core->resend_ctx);
	else
		ims__irq_handle_desc(core, desc, (uint32_t)cpu);
}

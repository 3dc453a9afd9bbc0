/*
 * Handlers and the state a driver changes: request and free, enable and
 * disable with nesting, synchronize, affinity, flow choice and the
 * information calls behind /proc/interrupts-style tables.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "os/irq/internal.h"
#include "util/alloc.h"
#include "util/log.h"

static void action_free(struct ims_irq_action *a)
{
	ims__free_str(a->name);
	ims__free(a, sizeof(*a));
}

/* Wait until no handler of desc runs. Must not be called from one of them. */
static void synchronize_desc(struct ims_irq_desc *desc)
{
	for (;;) {
		bool busy;

		while (atomic_load_explicit(&desc->state, memory_order_acquire) & IMS_IRQS_INPROGRESS)
			sched_yield();
		ims__spin_lock(&desc->lock);
		busy = atomic_load(&desc->state) & IMS_IRQS_INPROGRESS;
		ims__spin_unlock(&desc->lock);
		if (!busy)
			return;
	}
}

/* Unlink a, shutting the interrupt down if it was the last handler. */
static void remove_action_locked(struct ims_irq_desc *desc, struct ims_irq_action *a)
{
	_Atomic(struct ims_irq_action *) *link;
	struct ims_irq_action *it;

	ims__assert_spin_held(&desc->lock);
	for (link = &desc->action; (it = atomic_load(link)); link = &it->next) {
		if (it == a) {
			/* A flow walking the list may stand on `a` and follow its
			 * next pointer, valid until a is freed after synchronize. */
			atomic_store_explicit(link, atomic_load(&a->next), memory_order_release);
			break;
		}
	}
	if (!atomic_load(&desc->action))
		ims__irq_shutdown_locked(desc);
}

static int refuse_from_own_handler(struct ims_irq_desc *desc, const char *what)
{
	if (ims__irq_current == desc)
		return ims__error(-EDEADLK, "%s: irq %u: called from its own handler, it would wait "
				  "for itself", what, desc->irq);
	return 0;
}

IMS_API int ims_irq_request(struct ims_irq_core *core, unsigned int irq, ims_irq_handler_t handler,
			    uint32_t flags, const char *name, void *ctx)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_request");
	struct ims_irq_action *a, *old, **tail;
	_Atomic(struct ims_irq_action *) *link;
	bool first;
	int ret;

	if (!desc)
		return -EINVAL;
	if (!handler)
		return ims__error(-EINVAL, "irq_request: irq %u: NULL handler", irq);
	if (!name || !name[0])
		return ims__error(-EINVAL, "irq_request: irq %u: a handler needs a name", irq);
	if (flags & ~(uint32_t)IMS_IRQF_SHARED)
		return ims__error(-EINVAL, "irq_request: irq %u: unknown flags 0x%x", irq, flags);
	a = ims__zalloc(sizeof(*a), "irq_action");
	if (!a)
		return -ENOMEM;
	a->name = ims__strdup(name, "irq_action_name");
	if (!a->name) {
		ims__free(a, sizeof(*a));
		return -ENOMEM;
	}
	a->handler = handler;
	a->ctx = ctx;
	a->flags = flags;
	(void)tail;

	ims__irq_bus_lock(desc);
	ims__spin_lock(&desc->lock);
	old = atomic_load(&desc->action);
	first = !old;
	if (old) {
		struct ims_irq_action *it;

		if (!(old->flags & IMS_IRQF_SHARED) || !(flags & IMS_IRQF_SHARED)) {
			ret = ims__error(-EBUSY, "irq_request: irq %u already has handler '%s' and %s not "
					 "shared", irq, old->name,
					 (old->flags & IMS_IRQF_SHARED) ? "the new one is" : "it is");
			goto unlock_free;
		}
		for (it = old; it; it = atomic_load(&it->next)) {
			if (it->ctx == ctx) {
				ret = ims__error(-EEXIST, "irq_request: irq %u: handler '%s' already "
						 "installed with this context", irq, it->name);
				goto unlock_free;
			}
		}
	}
	/* Install first, then start: an interrupt that comes in between is
	 * held pending (the line is disabled) and replayed below. */
	link = &desc->action;
	while (atomic_load(link))
		link = &atomic_load(link)->next;
	atomic_store_explicit(link, a, memory_order_release);
	if (first) {
		ret = ims__irq_startup_locked(core, desc);
		if (ret) {
			atomic_store(link, NULL);
			goto unlock_free;
		}
	}
	ims__spin_unlock(&desc->lock);
	ret = ims__irq_bus_sync_unlock(desc);
	if (ret < 0) {
		/* The device did not take the new state: take the handler out
		 * again so that nothing half-done remains. */
		ims__irq_bus_lock(desc);
		ims__spin_lock(&desc->lock);
		remove_action_locked(desc, a);
		ims__spin_unlock(&desc->lock);
		ims__irq_bus_sync_unlock(desc);
		synchronize_desc(desc);
		action_free(a);
		return ims__error(ret, "irq_request: irq %u: the device did not take the change", irq);
	}
	ims__irq_resend(core, desc);
	return 0;

unlock_free:
	ims__spin_unlock(&desc->lock);
	ims__irq_bus_sync_unlock(desc);
	action_free(a);
	return ret;
}

IMS_API int ims_irq_free(struct ims_irq_core *core, unsigned int irq, void *ctx)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_free");
	struct ims_irq_action *a;
	int ret;

	if (!desc)
		return -EINVAL;
	ret = refuse_from_own_handler(desc, "irq_free");
	if (ret)
		return ret;
	ims__irq_bus_lock(desc);
	ims__spin_lock(&desc->lock);
	for (a = atomic_load(&desc->action); a; a = atomic_load(&a->next))
		if (a->ctx == ctx)
			break;
	if (!a) {
		ims__spin_unlock(&desc->lock);
		ims__irq_bus_sync_unlock(desc);
		ims__warn_once("irq_free: irq %u: freeing a handler that is not installed", irq);
		return ims__error(-ENOENT, "irq_free: irq %u has no handler with that context", irq);
	}
	remove_action_locked(desc, a);
	ims__spin_unlock(&desc->lock);
	if (ims__irq_bus_sync_unlock(desc) < 0)
		ims__warn("irq_free: irq %u: the device did not take the shutdown; its slot may still "
			  "signal, and such signals are held pending", irq);
	synchronize_desc(desc);
	action_free(a);
	return 0;
}

IMS_API int ims_irq_disable_nosync(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_disable");

	if (!desc)
		return -EINVAL;
	ims__spin_lock(&desc->lock);
	if (!(atomic_load(&desc->state) & IMS_IRQS_STARTED)) {
		ims__spin_unlock(&desc->lock);
		return ims__error(-EINVAL, "irq_disable: irq %u has no handler", irq);
	}
	if (desc->depth == UINT8_MAX) {
		ims__spin_unlock(&desc->lock);
		return ims__error(-EINVAL, "irq_disable: irq %u: disable depth overflow", irq);
	}
	/* Lazy: the line stays unmasked; the flow masks it if an interrupt
	 * comes while disabled, and holds that one pending. */
	if (desc->depth++ == 0)
		ims__irqs_set_locked(desc, IMS_IRQS_DISABLED);
	ims__spin_unlock(&desc->lock);
	return 0;
}

IMS_API int ims_irq_disable(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_disable");
	int ret;

	if (!desc)
		return -EINVAL;
	ret = refuse_from_own_handler(desc, "irq_disable");
	if (ret)
		return ret;
	ret = ims_irq_disable_nosync(core, irq);
	if (!ret)
		synchronize_desc(desc);
	return ret;
}

IMS_API int ims_irq_enable(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_enable");
	bool opened = false;
	int ret;

	if (!desc)
		return -EINVAL;
	ims__irq_bus_lock(desc);
	ims__spin_lock(&desc->lock);
	if (!(atomic_load(&desc->state) & IMS_IRQS_STARTED)) {
		ret = ims__error(-EINVAL, "irq_enable: irq %u has no handler", irq);
		goto unlock;
	}
	if (desc->depth == 0) {
		ims__warn_once("irq_enable: unbalanced enable of irq %u", irq);
		ret = ims__error(-EINVAL, "irq_enable: irq %u is not disabled (unbalanced enable)", irq);
		goto unlock;
	}
	if (--desc->depth == 0) {
		ims__irqs_clear_locked(desc, IMS_IRQS_DISABLED | IMS_IRQS_STORM |
					       IMS_IRQS_UNHANDLED_MAX << IMS_IRQS_UNHANDLED_SHIFT);
		ims__irq_unmask_locked(desc);
		opened = true;
	}
	ims__spin_unlock(&desc->lock);
	ret = ims__irq_bus_sync_unlock(desc);
	if (ret < 0 && opened) {
		/* The device stayed masked: so does the interrupt, disabled. */
		ims__irq_bus_lock(desc);
		ims__spin_lock(&desc->lock);
		desc->depth++;
		ims__irqs_set_locked(desc, IMS_IRQS_DISABLED);
		ims__irq_mask_locked(desc);
		ims__spin_unlock(&desc->lock);
		ims__irq_bus_sync_unlock(desc);
		return ims__error(ret, "irq_enable: irq %u: the device did not take the unmask", irq);
	}
	ims__irq_resend(core, desc);
	return 0;

unlock:
	ims__spin_unlock(&desc->lock);
	ims__irq_bus_sync_unlock(desc);
	return ret;
}

IMS_API int ims_irq_synchronize(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_synchronize");
	int ret;

	if (!desc)
		return -EINVAL;
	ret = refuse_from_own_handler(desc, "irq_synchronize");
	if (ret)
		return ret;
	synchronize_desc(desc);
	return 0;
}

IMS_API int ims_irq_set_flow(struct ims_irq_core *core, unsigned int irq, enum ims_irq_flow flow)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_set_flow");

	if (!desc)
		return -EINVAL;
	if ((unsigned int)flow > IMS_FLOW_SIMPLE)
		return ims__error(-EINVAL, "irq_set_flow: irq %u: unknown flow %d", irq, (int)flow);
	ims__spin_lock(&desc->lock);
	atomic_store_explicit(&desc->state, (ims__irqs(desc) & ~(unsigned int)IMS_IRQS_FLOW_MASK) |
					    (unsigned int)flow << IMS_IRQS_FLOW_SHIFT,
			      memory_order_release);
	ims__spin_unlock(&desc->lock);
	return 0;
}

/* ---- affinity ---- */

/* An ext that holds nothing yet (no mask, no counts). */
static bool ext_unused(const struct ims_irq_ext *ext)
{
	if (ext->affinity)
		return false;
	for (uint32_t i = 0; i < ext->nr_kstat; i++)
		if (atomic_load_explicit(&ext->kstat[i], memory_order_relaxed))
			return false;
	return true;
}

IMS_API int ims_irq_set_affinity(struct ims_irq_core *core, unsigned int irq,
				 const struct ims_cpumask *mask)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_set_affinity");
	struct ims_irq_mask_ref *ref, *old;
	bool made_ext;
	uint32_t n;
	int lvl, ret = 0;

	if (!desc)
		return -EINVAL;
	if (!mask)
		return ims__error(-EINVAL, "irq_set_affinity: irq %u: NULL mask", irq);
	n = IMS_MIN(mask->nbits, core->nr_cpus);
	if (ims__find_next_bit(mask->bits, n, 0) >= n)
		return ims__error(-EINVAL, "irq_set_affinity: irq %u: mask has no CPU of the machine "
				  "(%u CPUs)", irq, core->nr_cpus);
	ref = ims__irq_mask_get(core, mask);
	if (!ref)
		return -ENOMEM;

	ims__irq_bus_lock(desc);
	ims__spin_lock(&desc->lock);
	/* The mask lives in the descriptor's ext: make it first. */
	made_ext = !desc->ext;
	if (made_ext && ims__irq_desc_ext_make(core, desc)) {
		ims__spin_unlock(&desc->lock);
		ims__irq_bus_sync_unlock(desc);
		ims__irq_mask_put(core, ref);
		return -ENOMEM;
	}
	lvl = ims__irq_affinity_level(desc);
	if (lvl >= 0) {
		const struct ims_irq_chip *chip = ims__irq_level_domain(desc, (unsigned int)lvl)->chip;

		ret = chip->irq_set_affinity(&desc->data[lvl], &ref->mask, false);
		if (ret >= 0) {
			ims__spin_unlock(&desc->lock);
			ret = ims__irq_bus_sync_unlock(desc);
			ims__irq_bus_lock(desc);
			ims__spin_lock(&desc->lock);
			if (ret < 0) {
				/* The device kept its message: go back to where it points. */
				struct ims_cpumask *back = desc->ext->affinity ? &desc->ext->affinity->mask
									       : NULL;

				if (back)
					chip->irq_set_affinity(&desc->data[lvl], back, true);
				ims__error(ret, "irq_set_affinity: irq %u: the device did not take the "
					   "new message", irq);
			}
		}
	} else {
		/* No level routes by CPU (a bare descriptor): the first CPU
		 * of the mask is where it is delivered. */
		desc->effective_cpu = (uint16_t)ims__find_next_bit(mask->bits, n, 0);
	}
	if (ret < 0) {
		if (made_ext && ext_unused(desc->ext))
			ims__irq_desc_ext_free(core, desc);
		ims__spin_unlock(&desc->lock);
		ims__irq_bus_sync_unlock(desc);
		ims__irq_mask_put(core, ref);
		return ret;
	}
	old = desc->ext->affinity;
	desc->ext->affinity = ref;
	ims__spin_unlock(&desc->lock);
	ims__irq_bus_sync_unlock(desc);
	ims__irq_mask_put(core, old);
	return 0;
}

IMS_API int ims_irq_get_affinity(struct ims_irq_core *core, unsigned int irq, struct ims_cpumask *out)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_get_affinity");

	if (!desc)
		return -EINVAL;
	if (!out)
		return ims__error(-EINVAL, "irq_get_affinity: irq %u: NULL output mask", irq);
	ims_cpumask_zero(out);
	ims__spin_lock(&desc->lock);
	if (desc->ext && desc->ext->affinity) {
		const struct ims_cpumask *m = &desc->ext->affinity->mask;

		memcpy(out->bits, m->bits, IMS_BITMAP_WORDS(IMS_MIN(out->nbits, m->nbits)) * 8);
		if (out->nbits % 64 && out->nbits < m->nbits)
			out->bits[out->nbits / 64] &= (1ull << (out->nbits % 64)) - 1;
	} else {
		ims__bitmap_set(out->bits, 0, IMS_MIN(out->nbits, core->nr_cpus));
	}
	ims__spin_unlock(&desc->lock);
	return 0;
}

IMS_API int ims_irq_effective_cpu(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_effective_cpu");
	int cpu;

	if (!desc)
		return -EINVAL;
	ims__spin_lock(&desc->lock);
	cpu = desc->effective_cpu == IMS_IRQ_NO_CPU ? -1 : desc->effective_cpu;
	ims__spin_unlock(&desc->lock);
	return cpu < 0 ? -ENODATA : cpu;
}

/* ---- information ---- */

IMS_API int ims_irq_get_info(struct ims_irq_core *core, unsigned int irq, struct ims_irq_info *out)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_get_info");
	struct ims_irq_action *a;
	unsigned int st;
	size_t n = 0;

	if (!desc)
		return -EINVAL;
	if (!out)
		return ims__error(-EINVAL, "irq_get_info: irq %u: NULL output", irq);
	memset(out, 0, sizeof(*out));
	ims__spin_lock(&desc->lock);
	st = atomic_load(&desc->state);
	out->irq = irq;
	out->hwirq = desc->data[0].hwirq;
	out->depth = desc->depth;
	out->effective_cpu = desc->effective_cpu == IMS_IRQ_NO_CPU ? -1 : desc->effective_cpu;
	out->count = atomic_load_explicit(&desc->count, memory_order_relaxed);
	if (desc->ext)
		for (uint32_t i = 0; i < desc->ext->nr_kstat; i++)
			out->count += atomic_load_explicit(&desc->ext->kstat[i], memory_order_relaxed);
	out->unhandled = ims__irq_desc_unhandled(desc);
	out->nr_levels = ims__irq_desc_nlevels(desc);
	out->activated = st & IMS_IRQS_ACTIVATED;
	out->started = st & IMS_IRQS_STARTED;
	out->disabled = st & IMS_IRQS_DISABLED;
	out->masked = st & IMS_IRQS_MASKED;
	out->pending = st & IMS_IRQS_PENDING;
	out->in_progress = st & IMS_IRQS_INPROGRESS;
	out->storm_disabled = st & IMS_IRQS_STORM;
	snprintf(out->chip, sizeof(out->chip), "%s",
		 desc->domain && desc->domain->chip && desc->domain->chip->name
			 ? desc->domain->chip->name : "none");
	snprintf(out->domain, sizeof(out->domain), "%s", desc->domain ? desc->domain->name : "");
	for (a = atomic_load(&desc->action); a; a = atomic_load(&a->next)) {
		out->nr_actions++;
		if (n < sizeof(out->actions) - 1)
			n += (size_t)snprintf(out->actions + n, sizeof(out->actions) - n, "%s%s",
					      n ? "," : "", a->name);
	}
	ims__spin_unlock(&desc->lock);
	return 0;
}

IMS_API uint64_t ims_irq_count_cpu(struct ims_irq_core *core, unsigned int irq, uint32_t cpu)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_count_cpu");
	uint64_t n;

	if (!desc || cpu >= core->nr_cpus || (core->flags & IMS_IRQ_CORE_NO_PERCPU_STATS))
		return 0;
	ims__spin_lock(&desc->lock);
	n = ims__irq_desc_count_cpu(desc, cpu);
	ims__spin_unlock(&desc->lock);
	return n;
}

bool ims__irq_has_action(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_to_desc(core, irq);

	return desc && (atomic_load_explicit(&desc->state, memory_order_acquire) & IMS_IRQS_READY) &&
	       atomic_load_explicit(&desc->action, memory_order_acquire);
}

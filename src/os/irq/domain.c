/*
 * Interrupt domains and hierarchical allocation. A domain's alloc op calls
 * its parent's first and then fills its own level; the core makes the
 * descriptors, publishes them only when every level succeeded, and keeps the
 * per-domain counts that ims__irq_core_check() recounts.
 */
#include <errno.h>
#include <string.h>

#include "os/irq/internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/rcu.h"

#define MAX_DEPTH 8u

struct ims_irq_domain *ims__irq_level_domain(const struct ims_irq_desc *desc, unsigned int level)
{
	struct ims_irq_domain *d = desc->domain;

	while (d && level--)
		d = d->parent;
	return d;
}

IMS_API int ims_irq_domain_create(struct ims_irq_core *core, const struct ims_irq_domain_info *info,
				  struct ims_irq_domain **out)
{
	struct ims_irq_domain *d;
	uint32_t depth;

	if (!core || !info || !out)
		return ims__error(-EINVAL, "irq_domain_create: NULL %s",
				  !core ? "core" : !info ? "info" : "out");
	if (!info->name || !info->name[0])
		return ims__error(-EINVAL, "irq_domain_create: a domain needs a name");
	if (!info->ops || !info->ops->alloc)
		return ims__error(-EINVAL, "irq_domain_create: %s: ops with an alloc op are required",
				  info->name);
	if (info->parent && info->parent->core != core)
		return ims__error(-EINVAL, "irq_domain_create: %s: parent %s belongs to another core",
				  info->name, info->parent->name);
	depth = info->parent ? info->parent->depth + 1 : 1;
	if (depth > MAX_DEPTH)
		return ims__error(-EINVAL, "irq_domain_create: %s: hierarchy deeper than %u levels",
				  info->name, MAX_DEPTH);
	d = ims__zalloc(sizeof(*d), "irq_domain");
	if (!d)
		return -ENOMEM;
	d->name = ims__strdup(info->name, "irq_domain_name");
	if (!d->name) {
		ims__free(d, sizeof(*d));
		return -ENOMEM;
	}
	d->core = core;
	d->parent = info->parent;
	d->ops = info->ops;
	d->chip = info->chip;
	d->host_data = info->host_data;
	d->flags = info->flags;
	d->depth = depth;
	ims__irq_domain_cache_ops(d);

	ims__mutex_lock(&core->lock);
	d->next = core->domains;
	core->domains = d;
	core->nr_domains++;
	if (d->parent)
		d->parent->nr_children++;
	ims__mutex_unlock(&core->lock);
	*out = d;
	return 0;
}

IMS_API int ims_irq_domain_remove(struct ims_irq_domain *d)
{
	struct ims_irq_core *core;
	struct ims_irq_domain **pp;

	if (!d)
		return ims__error(-EINVAL, "irq_domain_remove: NULL domain");
	core = d->core;
	ims__mutex_lock(&core->lock);
	if (d->nr_irqs || d->nr_children) {
		int ret = ims__error(-EBUSY, "irq_domain_remove: %s still has %u irqs and %u child domains",
				     d->name, d->nr_irqs, d->nr_children);
		ims__mutex_unlock(&core->lock);
		return ret;
	}
	for (pp = &core->domains; *pp && *pp != d; pp = &(*pp)->next)
		;
	if (IMS_NEVER(!*pp)) {
		ims__mutex_unlock(&core->lock);
		return ims__error(-EINVAL, "irq_domain_remove: domain not found in its core");
	}
	*pp = d->next;
	core->nr_domains--;
	if (d->parent)
		d->parent->nr_children--;
	ims__mutex_unlock(&core->lock);
	ims__free_str(d->name);
	ims__free(d, sizeof(*d));
	return 0;
}

IMS_API struct ims_irq_core *ims_irq_domain_core(const struct ims_irq_domain *d)
{
	return d->core;
}

IMS_API struct ims_irq_domain *ims_irq_domain_parent(const struct ims_irq_domain *d)
{
	return d->parent;
}

IMS_API const char *ims_irq_domain_name(const struct ims_irq_domain *d)
{
	return d->name;
}

IMS_API void *ims_irq_domain_host_data(const struct ims_irq_domain *d)
{
	return d->host_data;
}

IMS_API const struct ims_irq_chip *ims_irq_domain_chip(const struct ims_irq_domain *d)
{
	return d->chip;
}

IMS_API uint32_t ims_irq_domain_flags(const struct ims_irq_domain *d)
{
	return d->flags;
}

IMS_API unsigned int ims_irq_domain_depth(const struct ims_irq_domain *d)
{
	return d->depth;
}

IMS_API uint32_t ims_irq_domain_nr_irqs(const struct ims_irq_domain *d)
{
	uint32_t n;

	ims__mutex_lock(&d->core->lock);
	n = d->nr_irqs;
	ims__mutex_unlock(&d->core->lock);
	return n;
}

/* ---- allocation ---- */

static void count_levels_locked(struct ims_irq_domain *d, unsigned int nr, int sign)
{
	for (; d; d = d->parent) {
		if (sign > 0)
			d->nr_irqs += nr;
		else
			d->nr_irqs -= nr;
	}
}

/*
 * Allocate nr_irqs irqs of d: numbers, descriptors, every level. With
 * owned, the one descriptor is the caller's (IMS_IRQS_OWNED) and survives
 * a failure as it came, apart from its irq number.
 */
static int alloc_irqs(struct ims_irq_domain *d, int irq_base, unsigned int nr_irqs, void *arg,
		      const struct ims_cpumask *affinity, struct ims_irq_desc *owned)
{
	struct ims_irq_core *core;
	struct ims_irq_mask_ref *ref = NULL;
	unsigned int i, made = 0;
	bool owned_ext = false;
	int virq, ret;

	if (!d)
		return ims__error(-EINVAL, "irq_domain_alloc_irqs: NULL domain");
	core = d->core;
	if (nr_irqs == 0)
		return ims__error(-EINVAL, "irq_domain_alloc_irqs: %s: zero irqs requested", d->name);
	if (affinity) {
		uint32_t n = IMS_MIN(affinity->nbits, core->nr_cpus);

		if (ims__find_next_bit(affinity->bits, n, 0) >= n)
			return ims__error(-EINVAL, "irq_domain_alloc_irqs: %s: affinity has no CPU of "
					  "the machine (%u CPUs)", d->name, core->nr_cpus);
	}

	ims__mutex_lock(&core->lock);
	virq = ims__irq_range_reserve_locked(core, irq_base, nr_irqs);
	if (virq < 0) {
		ret = virq;
		goto unlock;
	}
	if (affinity) {
		ref = ims__irq_mask_get(core, affinity);
		if (!ref) {
			ret = -ENOMEM;
			goto release_range;
		}
	}
	for (made = 0; made < nr_irqs; made++) {
		struct ims_irq_desc *desc = owned;

		if (owned) {
			desc->irq = (unsigned int)virq;
			if (affinity && !desc->ext) {
				if (ims__irq_desc_ext_make(core, desc)) {
					ret = -ENOMEM;
					goto free_descs;
				}
				owned_ext = true;
			}
		} else {
			desc = ims__irq_desc_new(core, (unsigned int)virq + made, d, 0, affinity != NULL);
		}
		if (!desc) {
			ret = -ENOMEM;
			goto free_descs;
		}
		ims__sparse_set(&core->descs, (unsigned int)virq + made, desc);
	}
	ret = d->ops->alloc(d, (unsigned int)virq, nr_irqs, arg);
	if (ret < 0)
		goto free_descs;
	if (IMS_NEVER(ret > 0))
		ret = 0;
	if (ref) {
		/* One reference per descriptor: the one taken above plus nr - 1. */
		ims__spin_lock(&core->mask_lock);
		ref->refs += nr_irqs - 1;
		ims__spin_unlock(&core->mask_lock);
	}
	count_levels_locked(d, nr_irqs, 1);
	for (i = 0; i < nr_irqs; i++) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, (unsigned int)virq + i);

		if (IMS_NEVER(!desc))
			continue;
		if (ref && IMS_ALWAYS(desc->ext))
			desc->ext->affinity = ref;
		atomic_fetch_or_explicit(&desc->state, IMS_IRQS_READY, memory_order_release);
	}
	ims__mutex_unlock(&core->lock);
	return virq;

free_descs:
	ims__irq_descs_retire_locked(core, (unsigned int)virq, made);
	if (owned_ext)
		ims__irq_desc_ext_free(core, owned);
	ims__irq_mask_put(core, ref);
release_range:
	ims__irq_range_release_locked(core, (unsigned int)virq, nr_irqs);
unlock:
	ims__mutex_unlock(&core->lock);
	return ret;
}

IMS_API int ims_irq_domain_alloc_irqs(struct ims_irq_domain *d, int irq_base, unsigned int nr_irqs,
				      void *arg, const struct ims_cpumask *affinity)
{
	return alloc_irqs(d, irq_base, nr_irqs, arg, affinity, NULL);
}

int ims__irq_domain_alloc_owned(struct ims_irq_domain *d, struct ims_irq_desc *desc, void *arg,
				const struct ims_cpumask *affinity)
{
	if (IMS_NEVER(!desc || !(atomic_load(&desc->state) & IMS_IRQS_OWNED) || desc->domain != d))
		return ims__error(-EINVAL, "irq_domain_alloc: bad caller-owned descriptor");
	return alloc_irqs(d, -1, 1, arg, affinity, desc);
}

/* Free the level of d and every level below it. */
static void free_levels(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	while (d && !(d->ops && d->ops->free))
		d = d->parent;
	if (d)
		d->ops->free(d, virq, nr);
}

IMS_API int ims_irq_domain_alloc_irqs_parent(struct ims_irq_domain *d, unsigned int virq,
					     unsigned int nr_irqs, void *arg)
{
	if (!d || !d->parent)
		return ims__error(-EINVAL, "irq_domain_alloc_irqs_parent: %s has no parent",
				  d ? d->name : "(null)");
	ims__assert_mutex_held(&d->core->lock);
	return d->parent->ops->alloc(d->parent, virq, nr_irqs, arg);
}

IMS_API void ims_irq_domain_free_irqs_parent(struct ims_irq_domain *d, unsigned int virq,
					     unsigned int nr_irqs)
{
	if (d && d->parent)
		free_levels(d->parent, virq, nr_irqs);
}

IMS_API int ims_irq_domain_free_irqs(struct ims_irq_core *core, unsigned int virq, unsigned int nr_irqs)
{
	struct ims_irq_domain *top = NULL;
	unsigned int i;
	int ret = 0;

	if (!core)
		return ims__error(-EINVAL, "irq_domain_free_irqs: NULL core");
	if (nr_irqs == 0 || virq >= core->max_irqs || nr_irqs > core->max_irqs - virq)
		return ims__error(-EINVAL, "irq_domain_free_irqs: bad range %u+%u", virq, nr_irqs);
	ims__mutex_lock(&core->lock);
	for (i = 0; i < nr_irqs; i++) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, virq + i);
		unsigned int st = desc ? atomic_load(&desc->state) : 0;
		struct ims_irq_action *act;

		if (!desc || !(st & IMS_IRQS_READY)) {
			ims__warn_once("irq_domain_free_irqs: irq %u is not allocated (double free?)",
				       virq + i);
			ret = ims__error(-EINVAL, "irq_domain_free_irqs: irq %u is not allocated", virq + i);
			goto unlock;
		}
		if (st & IMS_IRQS_BARE) {
			ret = ims__error(-EINVAL, "irq_domain_free_irqs: irq %u has no domain; use "
					 "ims_irq_free_descs", virq + i);
			goto unlock;
		}
		if (top && desc->domain != top) {
			ret = ims__error(-EINVAL, "irq_domain_free_irqs: irq %u is in domain %s, irq %u "
					 "in %s", virq, top->name, virq + i, desc->domain->name);
			goto unlock;
		}
		top = desc->domain;
		act = atomic_load(&desc->action);
		if (act) {
			ret = ims__error(-EBUSY, "irq_domain_free_irqs: irq %u still has handler '%s'",
					 virq + i, act->name);
			goto unlock;
		}
	}
	/* Withdraw from the data path, let running flows finish, then undo. */
	for (i = 0; i < nr_irqs; i++) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, virq + i);

		if (IMS_ALWAYS(desc)) {
			ims__spin_lock(&desc->lock);
			ims__irqs_clear_locked(desc, IMS_IRQS_READY);
			ims__spin_unlock(&desc->lock);
		}
	}
	ims__rcu_synchronize();
	for (i = 0; i < nr_irqs; i++) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, virq + i);

		if (IMS_NEVER(!desc))
			continue;
		ims__spin_lock(&desc->lock);
		if (atomic_load(&desc->state) & IMS_IRQS_ACTIVATED)
			ims__irq_deactivate_locked(desc);
		ims__spin_unlock(&desc->lock);
	}
	free_levels(top, virq, nr_irqs);
	count_levels_locked(top, nr_irqs, -1);
	ims__irq_descs_retire_locked(core, virq, nr_irqs);
	ims__irq_range_release_locked(core, virq, nr_irqs);
unlock:
	ims__mutex_unlock(&core->lock);
	return ret;
}

/* Level of d in desc, or -1 if d is not in desc's hierarchy. */
static int level_of(const struct ims_irq_desc *desc, const struct ims_irq_domain *d)
{
	int level;

	if (!desc->domain || d->depth > desc->domain->depth)
		return -1;
	level = (int)(desc->domain->depth - d->depth);
	return ims__irq_level_domain(desc, (unsigned int)level) == d ? level : -1;
}

IMS_API int ims_irq_domain_set_info(struct ims_irq_domain *d, unsigned int virq, uint32_t hwirq,
				    void *chip_data)
{
	struct ims_irq_data *data = ims_irq_domain_get_irq_data(d, virq);

	if (!data)
		return ims__error(-EINVAL, "irq_domain_set_info: irq %u has no level in %s", virq,
				  d ? d->name : "(null)");
	data->hwirq = hwirq;
	data->chip_data = chip_data;
	return 0;
}

IMS_API struct ims_irq_data *ims_irq_domain_get_irq_data(struct ims_irq_domain *d, unsigned int virq)
{
	struct ims_irq_desc *desc;
	int level;

	if (!d)
		return NULL;
	desc = ims__irq_to_desc(d->core, virq);
	if (!desc)
		return NULL;
	level = level_of(desc, d);
	return level < 0 ? NULL : &desc->data[level];
}

/* ---- activation ---- */

/* Activate levels [from, to] bottom-up (to >= from); unwind on failure. */
static int activate_levels(struct ims_irq_desc *desc, int from, int to)
{
	int level, ret;

	for (level = to; level >= from; level--) {
		struct ims_irq_domain *dom = ims__irq_level_domain(desc, (unsigned int)level);

		if (IMS_NEVER(!dom) || !dom->ops->activate)
			continue;
		ret = dom->ops->activate(dom, &desc->data[level], false);
		if (ret < 0)
			goto unwind;
	}
	return 0;

unwind:
	for (level++; level <= to; level++) {
		struct ims_irq_domain *dom = ims__irq_level_domain(desc, (unsigned int)level);

		if (IMS_ALWAYS(dom) && dom->ops->deactivate)
			dom->ops->deactivate(dom, &desc->data[level]);
	}
	return ret;
}

static void deactivate_levels(struct ims_irq_desc *desc, int from, int to)
{
	int level;

	for (level = from; level <= to; level++) {
		struct ims_irq_domain *dom = ims__irq_level_domain(desc, (unsigned int)level);

		if (IMS_ALWAYS(dom) && dom->ops->deactivate)
			dom->ops->deactivate(dom, &desc->data[level]);
	}
}

int ims__irq_activate_locked(struct ims_irq_desc *desc)
{
	int ret = 0;

	ims__assert_spin_held(&desc->lock);
	if (atomic_load(&desc->state) & IMS_IRQS_ACTIVATED)
		return 0;
	if (desc->domain)
		ret = activate_levels(desc, 0, ims__irq_desc_nlevels(desc) - 1);
	if (!ret)
		ims__irqs_set_locked(desc, IMS_IRQS_ACTIVATED);
	return ret;
}

void ims__irq_deactivate_locked(struct ims_irq_desc *desc)
{
	ims__assert_spin_held(&desc->lock);
	if (!(atomic_load(&desc->state) & IMS_IRQS_ACTIVATED))
		return;
	if (desc->domain)
		deactivate_levels(desc, 0, ims__irq_desc_nlevels(desc) - 1);
	ims__irqs_clear_locked(desc, IMS_IRQS_ACTIVATED);
}

IMS_API int ims_irq_domain_activate_irq(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_domain_activate_irq");
	int ret;

	if (!desc)
		return -EINVAL;
	ims__spin_lock(&desc->lock);
	ret = ims__irq_activate_locked(desc);
	ims__spin_unlock(&desc->lock);
	return ret;
}

IMS_API int ims_irq_domain_deactivate_irq(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_desc *desc = ims__irq_desc_get(core, irq, "irq_domain_deactivate_irq");

	if (!desc)
		return -EINVAL;
	ims__spin_lock(&desc->lock);
	if (atomic_load(&desc->state) & IMS_IRQS_STARTED) {
		ims__spin_unlock(&desc->lock);
		return ims__error(-EBUSY, "irq_domain_deactivate_irq: irq %u is started (has handlers)",
				  irq);
	}
	ims__irq_deactivate_locked(desc);
	ims__spin_unlock(&desc->lock);
	return 0;
}

IMS_API int ims_irq_domain_activate_parent(struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	if (d->level + 1u >= ims__irq_desc_nlevels(desc))
		return 0;
	return activate_levels(desc, d->level + 1, ims__irq_desc_nlevels(desc) - 1);
}

IMS_API void ims_irq_domain_deactivate_parent(struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	if (d->level + 1u < ims__irq_desc_nlevels(desc))
		deactivate_levels(desc, d->level + 1, ims__irq_desc_nlevels(desc) - 1);
}

/* ---- accessors of a level ---- */

IMS_API unsigned int ims_irq_data_irq(const struct ims_irq_data *d)
{
	return ims__irq_data_desc(d)->irq;
}

IMS_API struct ims_irq_data *ims_irq_data_parent(struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	return d->level + 1u < ims__irq_desc_nlevels(desc) ? d + 1 : NULL;
}

IMS_API struct ims_irq_domain *ims_irq_data_domain(const struct ims_irq_data *d)
{
	return ims__irq_level_domain(ims__irq_data_desc(d), d->level);
}

IMS_API const struct ims_irq_chip *ims_irq_data_chip(const struct ims_irq_data *d)
{
	struct ims_irq_domain *dom = ims_irq_data_domain(d);

	return dom ? dom->chip : NULL;
}

IMS_API struct ims_irq_core *ims_irq_data_core(const struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	return desc->domain ? desc->domain->core : NULL;
}

IMS_API const struct ims_cpumask *ims_irq_data_affinity(const struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	return desc->ext && desc->ext->affinity ? &desc->ext->affinity->mask : NULL;
}

/*
 * The CPU the platform now delivers the irq to. Counts of the CPU it left
 * move to the descriptor's ext, made here the first time the irq moves;
 * -ENOMEM then, with nothing changed. desc->lock held (the platform's
 * activate and set_affinity run under it).
 */
IMS_API int ims_irq_data_set_effective_cpu(struct ims_irq_data *d, uint32_t cpu)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);
	struct ims_irq_core *core = desc->domain ? desc->domain->core : NULL;
	uint32_t old = desc->effective_cpu;
	struct ims_irq_ext *ext;

	if (!core || cpu >= core->nr_cpus)
		return ims__error(-EINVAL, "irq %u: effective CPU %u is not a CPU of the machine",
				  desc->irq, cpu);
	if (cpu == old)
		return 0;
	if (old != IMS_IRQ_NO_CPU) {
		if (ims__irq_desc_ext_make(core, desc))
			return -ENOMEM;
		ext = desc->ext;
		atomic_store_explicit(&ext->kstat[old < ext->nr_kstat ? old : 0],
				      atomic_load_explicit(&ext->kstat[old < ext->nr_kstat ? old : 0],
							   memory_order_relaxed) +
					      atomic_load_explicit(&desc->count, memory_order_relaxed),
				      memory_order_relaxed);
		atomic_store_explicit(&desc->count, 0, memory_order_relaxed);
		if (cpu < ext->nr_kstat && ext->nr_kstat > 1) {
			atomic_store_explicit(&desc->count,
					      atomic_load_explicit(&ext->kstat[cpu], memory_order_relaxed),
					      memory_order_relaxed);
			atomic_store_explicit(&ext->kstat[cpu], 0, memory_order_relaxed);
		}
	}
	desc->effective_cpu = (uint16_t)cpu;
	return 0;
}

IMS_API int ims_irq_data_effective_cpu(const struct ims_irq_data *d)
{
	uint32_t ecpu = ims__irq_data_desc(d)->effective_cpu;
	int32_t cpu = ecpu == IMS_IRQ_NO_CPU ? -1 : (int32_t)ecpu;

	return cpu < 0 ? -ENODATA : cpu;
}

IMS_API bool ims_irq_data_is_activated(const struct ims_irq_data *d)
{
	return atomic_load(&ims__irq_data_desc(d)->state) & IMS_IRQS_ACTIVATED;
}

IMS_API bool ims_irq_data_is_masked(const struct ims_irq_data *d)
{
	return atomic_load(&ims__irq_data_desc(d)->state) & IMS_IRQS_MASKED;
}

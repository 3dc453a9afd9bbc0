/*
 * The interrupt core: the irq number space, descriptor allocation, interned
 * affinity masks, and the recount check. Hierarchical allocation through
 * domains is in domain.c; handlers and the flows in manage.c and flow.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "os/irq/internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/rcu.h"

#define DEFAULT_MAX_IRQS (1u << 22)
#define MASK_BUCKETS 256u

IMS_API int ims_irq_core_create(const struct ims_irq_core_config *cfg, struct ims_irq_core **out)
{
	struct ims_irq_core *core;

	if (!cfg || !out)
		return ims__error(-EINVAL, "irq core: NULL %s", cfg ? "out" : "config");
	if (cfg->nr_cpus == 0 || cfg->nr_cpus >= IMS_IRQ_NO_CPU)
		return ims__error(-EINVAL, "irq core: nr_cpus %u is not in 1..%u", cfg->nr_cpus,
				  IMS_IRQ_NO_CPU - 1);
	if (cfg->max_irqs > (1u << 30))
		return ims__error(-EINVAL, "irq core: max_irqs %u exceeds 2^30", cfg->max_irqs);
	if (cfg->flags & ~(uint32_t)IMS_IRQ_CORE_NO_PERCPU_STATS)
		return ims__error(-EINVAL, "irq core: unknown flags 0x%x", cfg->flags);
	if (cfg->storm_window && cfg->storm_unhandled >= cfg->storm_window)
		return ims__error(-EINVAL, "irq core: storm_unhandled %u must be below storm_window %u",
				  cfg->storm_unhandled, cfg->storm_window);
	if (cfg->storm_unhandled >= IMS_IRQS_UNHANDLED_MAX)
		return ims__error(-EINVAL, "irq core: storm_unhandled %u must be below %u",
				  cfg->storm_unhandled, IMS_IRQS_UNHANDLED_MAX);

	core = ims__zalloc(sizeof(*core), "irq_core");
	if (!core)
		return -ENOMEM;
	core->max_irqs = cfg->max_irqs ? cfg->max_irqs : DEFAULT_MAX_IRQS;
	core->nr_cpus = cfg->nr_cpus;
	core->flags = cfg->flags;
	core->storm_window = cfg->storm_window ? cfg->storm_window : 100000;
	core->storm_unhandled = cfg->storm_window ? cfg->storm_unhandled : 99900;
	core->resend = cfg->resend;
	core->resend_ctx = cfg->resend_ctx;
	core->irq_map = ims__calloc(IMS_BITMAP_WORDS(core->max_irqs), sizeof(uint64_t), "irq_core_map");
	if (!core->irq_map)
		goto free_core;
	core->mask_buckets = MASK_BUCKETS;
	core->mask_hash = ims__calloc(MASK_BUCKETS, sizeof(*core->mask_hash), "irq_core_masks");
	if (!core->mask_hash)
		goto free_map;
	if (ims__sparse_init(&core->descs, core->max_irqs, "irq_desc_table"))
		goto free_hash;
	ims__mutex_init(&core->lock);
	ims__spin_init(&core->mask_lock);
	*out = core;
	return 0;

free_hash:
	ims__free(core->mask_hash, MASK_BUCKETS * sizeof(*core->mask_hash));
free_map:
	ims__free(core->irq_map, IMS_BITMAP_WORDS(core->max_irqs) * sizeof(uint64_t));
free_core:
	ims__free(core, sizeof(*core));
	return -ENOMEM;
}

IMS_API int ims_irq_core_destroy(struct ims_irq_core *core)
{
	if (!core)
		return 0;
	ims__mutex_lock(&core->lock);
	if (core->nr_irqs || core->nr_domains) {
		uint32_t irqs = core->nr_irqs, doms = core->nr_domains;

		ims__mutex_unlock(&core->lock);
		return ims__error(-EBUSY, "irq core: %u irqs and %u domains remain; free them first",
				  irqs, doms);
	}
	ims__mutex_unlock(&core->lock);
	ims__sparse_destroy(&core->descs);
	ims__free(core->mask_hash, core->mask_buckets * sizeof(*core->mask_hash));
	ims__free(core->irq_map, IMS_BITMAP_WORDS(core->max_irqs) * sizeof(uint64_t));
	ims__mutex_destroy(&core->lock);
	ims__free(core, sizeof(*core));
	return 0;
}

IMS_API uint32_t ims_irq_core_nr_cpus(const struct ims_irq_core *core)
{
	return core->nr_cpus;
}

IMS_API uint32_t ims_irq_core_nr_irqs(struct ims_irq_core *core)
{
	uint32_t n;

	ims__mutex_lock(&core->lock);
	n = core->nr_irqs;
	ims__mutex_unlock(&core->lock);
	return n;
}

IMS_API uint64_t ims_irq_core_spurious(const struct ims_irq_core *core)
{
	return atomic_load_explicit(&core->spurious, memory_order_relaxed);
}

/* ---- irq numbers and descriptors (core->lock held) ---- */


int ims__irq_range_reserve_locked(struct ims_irq_core *core, int irq, unsigned int cnt)
{
	uint32_t start;
	int ret;

	ims__assert_mutex_held(&core->lock);
	if (cnt == 0 || cnt > core->max_irqs)
		return ims__error(-EINVAL, "irq: cannot allocate %u irqs (1..%u)", cnt, core->max_irqs);
	if (irq >= 0) {
		if ((uint32_t)irq >= core->max_irqs || cnt > core->max_irqs - (uint32_t)irq)
			return ims__error(-EINVAL, "irq: range %d+%u beyond the irq space (%u)", irq,
					  cnt, core->max_irqs);
		if (!ims__bitmap_range_clear(core->irq_map, (uint32_t)irq, cnt))
			return ims__error(-EEXIST, "irq: range %d+%u is partly allocated", irq, cnt);
		start = (uint32_t)irq;
	} else {
		start = ims__find_zero_area(core->irq_map, core->max_irqs, core->hint, cnt, 1);
		if (start >= core->max_irqs)
			start = ims__find_zero_area(core->irq_map, core->max_irqs, 0, cnt, 1);
		if (start >= core->max_irqs)
			return ims__error(-ENOSPC, "irq: no free range of %u irq numbers", cnt);
	}
	ret = ims__sparse_prepare(&core->descs, start, cnt);
	if (ret)
		return ret;
	ims__bitmap_set(core->irq_map, start, cnt);
	core->nr_irqs += cnt;
	core->hint = start + cnt < core->max_irqs ? start + cnt : 0;
	return (int)start;
}

void ims__irq_range_release_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt)
{
	ims__assert_mutex_held(&core->lock);
	ims__bitmap_clear(core->irq_map, irq, cnt);
	core->nr_irqs -= cnt;
	/* Hand the lowest freed numbers out first: a number that comes and
	 * goes stays in the same table chunk. */
	if (irq < core->hint)
		core->hint = irq;
	ims__sparse_trim(&core->descs, irq, cnt);
}

static size_t ext_size(struct ims_irq_core *core)
{
	uint32_t n = core->flags & IMS_IRQ_CORE_NO_PERCPU_STATS ? 1 : core->nr_cpus;

	return sizeof(struct ims_irq_ext) + n * sizeof(atomic_uint);
}

static struct ims_irq_ext *ext_new(struct ims_irq_core *core)
{
	struct ims_irq_ext *ext = ims__zalloc(ext_size(core), "irq_desc_ext");

	if (ext)
		ext->nr_kstat = core->flags & IMS_IRQ_CORE_NO_PERCPU_STATS ? 1 : core->nr_cpus;
	return ext;
}

struct ims_irq_desc *ims__irq_desc_new(struct ims_irq_core *core, unsigned int irq,
				       struct ims_irq_domain *domain, size_t prefix, bool with_ext)
{
	unsigned int i, nlevels = domain ? domain->depth : 1;
	char *block = ims__zalloc(prefix + ims__irq_desc_size(nlevels), "irq_desc");
	struct ims_irq_desc *desc;

	if (!block)
		return NULL;
	desc = (struct ims_irq_desc *)(block + prefix);
	if (with_ext) {
		desc->ext = ext_new(core);
		if (!desc->ext) {
			ims__free(block, prefix + ims__irq_desc_size(nlevels));
			return NULL;
		}
	}
	desc->irq = irq;
	atomic_init(&desc->state, IMS_IRQS_DISABLED | IMS_IRQS_MASKED |
				  (unsigned int)IMS_FLOW_EDGE << IMS_IRQS_FLOW_SHIFT);
	ims__spin_init(&desc->lock);
	desc->depth = 1;
	desc->domain = domain;
	desc->effective_cpu = IMS_IRQ_NO_CPU;
	for (i = 0; i < nlevels; i++)
		desc->data[i].level = (uint8_t)i;
	return desc;
}

/* Make desc->ext if it has none; under desc->lock or before publication. */
int ims__irq_desc_ext_make(struct ims_irq_core *core, struct ims_irq_desc *desc)
{
	if (desc->ext)
		return 0;
	desc->ext = ext_new(core);
	return desc->ext ? 0 : -ENOMEM;
}

void ims__irq_desc_ext_free(struct ims_irq_core *core, struct ims_irq_desc *desc)
{
	if (!desc->ext)
		return;
	if (desc->ext->affinity)
		ims__irq_mask_put(core, desc->ext->affinity);
	ims__free(desc->ext, ext_size(core));
	desc->ext = NULL;
}

void ims__irq_desc_release(struct ims_irq_core *core, struct ims_irq_desc *desc, size_t prefix)
{
	if (!desc)
		return;
	ims__irq_desc_ext_free(core, desc);
	ims__free((char *)desc - prefix, prefix + ims__irq_desc_size(ims__irq_desc_nlevels(desc)));
}

void ims__irq_desc_free(struct ims_irq_core *core, struct ims_irq_desc *desc)
{
	if (!desc || (atomic_load(&desc->state) & IMS_IRQS_OWNED))
		return;
	ims__irq_desc_release(core, desc, 0);
}

/*
 * Unpublish the descriptors of [irq, irq + cnt), wait until no reader can
 * hold them, and free them. Works in batches so that it never allocates.
 */
void ims__irq_descs_retire_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt)
{
	struct ims_irq_desc *batch[128];
	unsigned int i = 0;

	ims__assert_mutex_held(&core->lock);
	while (i < cnt) {
		unsigned int n = 0;

		for (; i < cnt && n < IMS_ARRAY_SIZE(batch); i++) {
			struct ims_irq_desc *desc = ims__irq_to_desc(core, irq + i);

			if (!desc)
				continue;
			ims__spin_lock(&desc->lock);
			ims__irqs_clear_locked(desc, IMS_IRQS_READY);
			ims__spin_unlock(&desc->lock);
			ims__sparse_clear(&core->descs, irq + i);
			batch[n++] = desc;
		}
		ims__rcu_synchronize();
		while (n)
			ims__irq_desc_free(core, batch[--n]);
	}
}

struct ims_irq_desc *ims__irq_desc_get(struct ims_irq_core *core, unsigned int irq, const char *what)
{
	struct ims_irq_desc *desc;

	if (!core) {
		ims__error(-EINVAL, "%s: NULL core", what);
		return NULL;
	}
	desc = ims__irq_to_desc(core, irq);
	if (!desc || !(atomic_load_explicit(&desc->state, memory_order_acquire) & IMS_IRQS_READY)) {
		ims__error(-EINVAL, "%s: irq %u is not allocated", what, irq);
		return NULL;
	}
	return desc;
}

IMS_API int ims_irq_alloc_descs(struct ims_irq_core *core, int irq, unsigned int cnt)
{
	struct ims_irq_desc *desc;
	unsigned int i;
	int start;

	if (!core)
		return ims__error(-EINVAL, "irq_alloc_descs: NULL core");
	ims__mutex_lock(&core->lock);
	start = ims__irq_range_reserve_locked(core, irq, cnt);
	if (start < 0)
		goto out;
	for (i = 0; i < cnt; i++) {
		/* A bare descriptor may run on any CPU: it counts in its ext. */
		desc = ims__irq_desc_new(core, (unsigned int)start + i, NULL, 0, true);
		if (!desc)
			goto unwind;
		atomic_fetch_or(&desc->state, IMS_IRQS_BARE);
		ims__sparse_set(&core->descs, (unsigned int)start + i, desc);
	}
	for (i = 0; i < cnt; i++) {
		desc = ims__irq_to_desc(core, (unsigned int)start + i);
		if (IMS_ALWAYS(desc))
			atomic_fetch_or_explicit(&desc->state, IMS_IRQS_READY, memory_order_release);
	}
	goto out;

unwind:
	/* Nothing was READY, so no reader used these; free them directly. */
	while (i--) {
		desc = ims__irq_to_desc(core, (unsigned int)start + i);
		ims__sparse_clear(&core->descs, (unsigned int)start + i);
		ims__irq_desc_free(core, desc);
	}
	ims__irq_range_release_locked(core, (unsigned int)start, cnt);
	start = -ENOMEM;
out:
	ims__mutex_unlock(&core->lock);
	return start;
}

IMS_API int ims_irq_free_descs(struct ims_irq_core *core, unsigned int irq, unsigned int cnt)
{
	unsigned int i;
	int ret = 0;

	if (!core)
		return ims__error(-EINVAL, "irq_free_descs: NULL core");
	if (cnt == 0 || irq >= core->max_irqs || cnt > core->max_irqs - irq)
		return ims__error(-EINVAL, "irq_free_descs: bad range %u+%u", irq, cnt);
	ims__mutex_lock(&core->lock);
	for (i = 0; i < cnt; i++) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, irq + i);
		unsigned int st = desc ? atomic_load(&desc->state) : 0;

		if (!desc || !(st & IMS_IRQS_READY)) {
			ims__warn_once("irq_free_descs: irq %u is not allocated (double free?)", irq + i);
			ret = ims__error(-EINVAL, "irq_free_descs: irq %u is not allocated", irq + i);
			goto out;
		}
		if (!(st & IMS_IRQS_BARE)) {
			ret = ims__error(-EINVAL, "irq_free_descs: irq %u belongs to domain %s; use "
					 "ims_irq_domain_free_irqs", irq + i, desc->domain->name);
			goto out;
		}
		if (atomic_load(&desc->action)) {
			ret = ims__error(-EBUSY, "irq_free_descs: irq %u still has handler '%s'", irq + i,
					 atomic_load(&desc->action)->name);
			goto out;
		}
	}
	ims__irq_descs_retire_locked(core, irq, cnt);
	ims__irq_range_release_locked(core, irq, cnt);
out:
	ims__mutex_unlock(&core->lock);
	return ret;
}

IMS_API int ims_irq_next(struct ims_irq_core *core, unsigned int from)
{
	uint32_t n;

	if (!core)
		return ims__error(-EINVAL, "irq_next: NULL core");
	ims__mutex_lock(&core->lock);
	n = from < core->max_irqs ? ims__find_next_bit(core->irq_map, core->max_irqs, from)
				  : core->max_irqs;
	ims__mutex_unlock(&core->lock);
	return n < core->max_irqs ? (int)n : -ENOENT;
}

/* ---- interned affinity masks ---- */

static uint32_t mask_hash(const struct ims_cpumask *m)
{
	uint64_t h = 1469598103934665603ull;
	uint32_t i;

	for (i = 0; i < IMS_BITMAP_WORDS(m->nbits); i++) {
		h ^= m->bits[i];
		h *= 1099511628211ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

/*
 * A shared copy of m (the same object for equal masks). NULL on allocation
 * failure, with an error set.
 */
struct ims_irq_mask_ref *ims__irq_mask_get(struct ims_irq_core *core, const struct ims_cpumask *m)
{
	uint32_t h = mask_hash(m);
	struct ims_irq_mask_ref **bucket = &core->mask_hash[h % core->mask_buckets];
	struct ims_irq_mask_ref *ref;
	size_t size = offsetof(struct ims_irq_mask_ref, mask) + ims__cpumask_size(m->nbits);

	ims__spin_lock(&core->mask_lock);
	for (ref = *bucket; ref; ref = ref->next) {
		if (ref->hash == h && ims_cpumask_equal(&ref->mask, m)) {
			ref->refs++;
			ims__spin_unlock(&core->mask_lock);
			return ref;
		}
	}
	ref = ims__zalloc(size, "irq_affinity");
	if (ref) {
		memcpy(&ref->mask, m, ims__cpumask_size(m->nbits));
		ref->refs = 1;
		ref->hash = h;
		ref->next = *bucket;
		*bucket = ref;
		core->nr_masks++;
	}
	ims__spin_unlock(&core->mask_lock);
	return ref;
}

void ims__irq_mask_put(struct ims_irq_core *core, struct ims_irq_mask_ref *ref)
{
	struct ims_irq_mask_ref **pp;

	if (!ref)
		return;
	ims__spin_lock(&core->mask_lock);
	if (--ref->refs) {
		ims__spin_unlock(&core->mask_lock);
		return;
	}
	for (pp = &core->mask_hash[ref->hash % core->mask_buckets]; *pp; pp = &(*pp)->next) {
		if (*pp == ref) {
			*pp = ref->next;
			break;
		}
	}
	core->nr_masks--;
	ims__spin_unlock(&core->mask_lock);
	ims__free(ref, offsetof(struct ims_irq_mask_ref, mask) + ims__cpumask_size(ref->mask.nbits));
}

/* ---- recount ---- */

int ims__irq_core_check(struct ims_irq_core *core)
{
	struct ims_irq_domain *d;
	uint32_t irqs = 0, doms = 0, masks = 0, refs_seen = 0, refs_sum = 0, i;
	int ret = 0;

	ims__mutex_lock(&core->lock);
	for (d = core->domains; d; d = d->next)
		d->_recount = 0;
	for (i = ims__find_next_bit(core->irq_map, core->max_irqs, 0); i < core->max_irqs;
	     i = ims__find_next_bit(core->irq_map, core->max_irqs, i + 1)) {
		struct ims_irq_desc *desc = ims__irq_to_desc(core, i);
		struct ims_irq_domain *dom;

		irqs++;
		if (!desc || desc->irq != i) {
			ret = ims__error(-EIO, "check: irq %u is allocated but has no descriptor", i);
			continue;
		}
		if (desc->ext && desc->ext->affinity)
			refs_seen++;
		for (dom = desc->domain; dom; dom = dom->parent)
			dom->_recount++;
	}
	if (irqs != core->nr_irqs)
		ret = ims__error(-EIO, "check: nr_irqs %u, recount %u", core->nr_irqs, irqs);
	if (ims__bitmap_weight(core->irq_map, core->max_irqs) != irqs)
		ret = ims__error(-EIO, "check: irq map weight differs from recount");
	for (d = core->domains; d; d = d->next) {
		uint32_t children = 0;
		struct ims_irq_domain *c;

		doms++;
		for (c = core->domains; c; c = c->next)
			children += c->parent == d;
		if (d->_recount != d->nr_irqs)
			ret = ims__error(-EIO, "check: domain %s nr_irqs %u, recount %u", d->name,
					 d->nr_irqs, d->_recount);
		if (children != d->nr_children)
			ret = ims__error(-EIO, "check: domain %s nr_children %u, recount %u", d->name,
					 d->nr_children, children);
	}
	if (doms != core->nr_domains)
		ret = ims__error(-EIO, "check: nr_domains %u, recount %u", core->nr_domains, doms);
	ims__spin_lock(&core->mask_lock);
	for (i = 0; i < core->mask_buckets; i++) {
		struct ims_irq_mask_ref *r;

		for (r = core->mask_hash[i]; r; r = r->next) {
			masks++;
			refs_sum += r->refs;
		}
	}
	ims__spin_unlock(&core->mask_lock);
	if (masks != core->nr_masks)
		ret = ims__error(-EIO, "check: nr_masks %u, recount %u", core->nr_masks, masks);
	/* Descriptors are the only holders of mask references. */
	if (refs_sum != refs_seen)
		ret = ims__error(-EIO, "check: mask references %u, held by descriptors %u", refs_sum,
				 refs_seen);
	ims__mutex_unlock(&core->lock);
	return ret;
}

/*
 * The interrupt core's private structures: the core itself, domains,
 * descriptors and actions. Other OS-side code reaches them through the
 * public API and the few ims__irq_* calls declared at the end.
 *
 * Lock order (see docs/locking.md):
 *	core->lock  ->  desc->lock  ->  (chip and domain locks)
 * core->mask_lock is a leaf.
 */
#ifndef IMS_OS_IRQ_INTERNAL_H
#define IMS_OS_IRQ_INTERNAL_H

#include <ims/irqdomain.h>
#include <stdatomic.h>

#include "util/cpumask.h"
#include "util/lock.h"
#include "util/sparse.h"

/*
 * desc->state: flag bits, the flow, and the storm window's unhandled count.
 * Written under desc->lock; a few flags are read locklessly.
 */
enum {
	IMS_IRQS_READY = 1u << 0,	/* fully allocated and published */
	IMS_IRQS_ACTIVATED = 1u << 1,
	IMS_IRQS_STARTED = 1u << 2,	/* has handlers and was started */
	IMS_IRQS_DISABLED = 1u << 3,	/* depth > 0 or never started */
	IMS_IRQS_MASKED = 1u << 4,	/* masked at the chip */
	IMS_IRQS_INPROGRESS = 1u << 5,	/* handlers running (read locklessly) */
	IMS_IRQS_PENDING = 1u << 6,	/* arrived while it could not run */
	IMS_IRQS_REPLAY = 1u << 7,	/* a resend is on its way */
	IMS_IRQS_STORM = 1u << 8,	/* disabled by storm detection */
	IMS_IRQS_BARE = 1u << 9,	/* made by ims_irq_alloc_descs() */
	IMS_IRQS_OWNED = 1u << 10,	/* memory belongs to the caller (a device
					 * domain's descriptor with its prefix) */
	IMS_IRQS_FLOW_SHIFT = 11,	/* enum ims_irq_flow, 2 bits */
	IMS_IRQS_FLOW_MASK = 3u << IMS_IRQS_FLOW_SHIFT,
	IMS_IRQS_UNHANDLED_SHIFT = 13,	/* unhandled in the storm window, 19 bits */
	IMS_IRQS_UNHANDLED_ONE = 1u << IMS_IRQS_UNHANDLED_SHIFT,
};
#define IMS_IRQS_UNHANDLED_MAX ((1u << (32 - IMS_IRQS_UNHANDLED_SHIFT)) - 1)

#define IMS_IRQ_NO_CPU 0xffffu		/* desc->effective_cpu: not known */

struct ims_irq_action {
	ims_irq_handler_t handler;
	void *ctx;
	char *name;
	uint32_t flags;
	_Atomic(struct ims_irq_action *) next;
};

/* An interned affinity mask, shared by every descriptor with the same set. */
struct ims_irq_mask_ref {
	struct ims_irq_mask_ref *next;	/* hash chain */
	uint32_t refs;
	uint32_t hash;
	struct ims_cpumask mask;	/* must be last */
};

/* Chip operations found through the hierarchy (chip.c). */
enum ims__chip_op {
	IMS_OP_MASK, IMS_OP_UNMASK, IMS_OP_ACK, IMS_OP_EOI, IMS_OP_NR_CACHED,
};

struct ims_irq_domain {
	/*
	 * For the operations of the data path: the chip of the nearest level
	 * at or below this domain that has the op (NULL: none), and how many
	 * levels below. Fixed at creation, as the chips and parents are.
	 */
	const struct ims_irq_chip *op_chip[IMS_OP_NR_CACHED];
	uint8_t op_level[IMS_OP_NR_CACHED];
	struct ims_irq_core *core;
	struct ims_irq_domain *parent;
	const struct ims_irq_domain_ops *ops;
	const struct ims_irq_chip *chip;
	void *host_data;
	char *name;
	uint32_t flags;
	uint32_t depth;			/* levels from here to the root */
	uint32_t nr_irqs;		/* under core->lock */
	uint32_t nr_children;		/* under core->lock */
	struct ims_irq_domain *next;	/* core->domains list */
	uint32_t _recount;		/* scratch for ims__irq_core_check() */
};

/*
 * What few descriptors need, made on demand: the affinity mask of one that
 * was given a mask, and the counts of CPUs other than the effective one of
 * an irq that has moved (or of a bare descriptor, which any CPU may run).
 */
struct ims_irq_ext {
	struct ims_irq_mask_ref *affinity;	/* NULL: any CPU */
	uint32_t nr_kstat;			/* nr_cpus, or 1 without per-CPU stats */
	atomic_uint kstat[];			/* handled counts not in desc->count */
};

/*
 * A descriptor is kept small: the per-vector memory budget of the whole
 * stack is 128 bytes, and this header is 40 of them. Per-level data follows
 * it inline; the domain of level i is found by walking up from the
 * outermost domain, so a level carries no domain or chip pointer of its own,
 * and the number of levels is the outermost domain's depth. A device
 * domain's descriptor is preceded by its MSI descriptor in one allocation.
 *
 * desc->count counts interrupts handled on desc->effective_cpu, which is
 * where the platform delivers the irq; the rare other CPUs (an irq that
 * moved, whose old vector may still fire; a bare descriptor) count in
 * ext->kstat, made on the control path before a move can happen.
 */
struct ims_irq_desc {
	uint32_t irq;
	atomic_uint state;		/* IMS_IRQS_* flags, flow, unhandled */
	atomic_uint count;		/* handled on effective_cpu */
	uint16_t effective_cpu;		/* IMS_IRQ_NO_CPU: not known */
	ims_spinlock_t lock;		/* guards everything but count reads */
	uint8_t depth;			/* disable nesting */
	struct ims_irq_domain *domain;	/* outermost domain, NULL if bare */
	_Atomic(struct ims_irq_action *) action;
	struct ims_irq_ext *ext;	/* NULL until needed */
	struct ims_irq_data data[];
};

struct ims_irq_core {
	/*
	 * lock (the sparse irq lock) guards the irq number bitmap, the
	 * descriptor table's structure, the domain list and every domain's
	 * counters, and serializes hierarchical allocation and free.
	 */
	struct ims_mutex lock;
	uint64_t *irq_map;		/* allocated irq numbers */
	uint32_t max_irqs;
	uint32_t nr_irqs;
	uint32_t hint;			/* where the next search starts */
	struct ims_sparse descs;	/* irq -> desc, lock-free reads */
	struct ims_irq_domain *domains;
	uint32_t nr_domains;

	uint32_t nr_cpus;
	uint32_t flags;
	uint32_t storm_window;
	uint32_t storm_unhandled;
	ims_irq_resend_fn resend;
	void *resend_ctx;

	/* mask_lock guards the interned affinity masks. */
	ims_spinlock_t mask_lock;
	struct ims_irq_mask_ref **mask_hash;
	uint32_t mask_buckets;
	uint32_t nr_masks;

	atomic_uint_fast64_t spurious;	/* irqs raised with no descriptor */
	/* Interrupts handled on a CPU no count was made for (a platform that
	 * delivered where it never said it would); not in any irq's count. */
	atomic_uint_fast64_t stray;
};

/*
 * State changes. Every write of desc->state happens with desc->lock held,
 * so a plain load and store suffice (no locked read-modify-write on the data
 * path); lockless readers (synchronize, the READY check) load with acquire.
 */
static inline unsigned int ims__irqs(const struct ims_irq_desc *desc)
{
	return atomic_load_explicit(&desc->state, memory_order_relaxed);
}

static inline void ims__irqs_set_locked(struct ims_irq_desc *desc, unsigned int bits)
{
	atomic_store_explicit(&desc->state, ims__irqs(desc) | bits, memory_order_release);
}

static inline void ims__irqs_clear_locked(struct ims_irq_desc *desc, unsigned int bits)
{
	atomic_store_explicit(&desc->state, ims__irqs(desc) & ~bits, memory_order_release);
}

static inline struct ims_irq_desc *ims__irq_data_desc(const struct ims_irq_data *d)
{
	return (struct ims_irq_desc *)((char *)(uintptr_t)(d - d->level) -
				       offsetof(struct ims_irq_desc, data));
}

static inline size_t ims__irq_desc_size(unsigned int nlevels)
{
	return sizeof(struct ims_irq_desc) + nlevels * sizeof(struct ims_irq_data);
}

static inline unsigned int ims__irq_desc_nlevels(const struct ims_irq_desc *desc)
{
	return desc->domain ? desc->domain->depth : 1;
}

static inline unsigned int ims__irq_desc_flow(const struct ims_irq_desc *desc)
{
	return (ims__irqs(desc) & IMS_IRQS_FLOW_MASK) >> IMS_IRQS_FLOW_SHIFT;
}

static inline unsigned int ims__irq_desc_unhandled(const struct ims_irq_desc *desc)
{
	return ims__irqs(desc) >> IMS_IRQS_UNHANDLED_SHIFT;
}

/* Handled count of irq on cpu; desc->lock held. */
static inline uint64_t ims__irq_desc_count_cpu(const struct ims_irq_desc *desc, uint32_t cpu)
{
	uint64_t n = cpu == desc->effective_cpu ? atomic_load_explicit(&desc->count, memory_order_relaxed)
						: 0;

	if (desc->ext && cpu < desc->ext->nr_kstat)
		n += atomic_load_explicit(&desc->ext->kstat[cpu], memory_order_relaxed);
	return n;
}

/* Lock-free lookup; the caller is in an RCU read section or holds core->lock. */
static inline struct ims_irq_desc *ims__irq_to_desc(struct ims_irq_core *core, unsigned int irq)
{
	return ims__sparse_get(&core->descs, irq);
}

/* Irq numbers and descriptors; core->lock held. */
int ims__irq_range_reserve_locked(struct ims_irq_core *core, int irq, unsigned int cnt);
void ims__irq_range_release_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt);
/*
 * A descriptor of domain (NULL: bare, one level) preceded by prefix bytes
 * (a multiple of 8) that belong to the caller; with_ext also makes its ext.
 * Not published. ims__irq_desc_free() frees it unless IMS_IRQS_OWNED is set,
 * in which case its owner frees it with ims__irq_desc_release().
 */
struct ims_irq_desc *ims__irq_desc_new(struct ims_irq_core *core, unsigned int irq,
				       struct ims_irq_domain *domain, size_t prefix, bool with_ext);
void ims__irq_desc_free(struct ims_irq_core *core, struct ims_irq_desc *desc);
void ims__irq_desc_release(struct ims_irq_core *core, struct ims_irq_desc *desc, size_t prefix);
int ims__irq_desc_ext_make(struct ims_irq_core *core, struct ims_irq_desc *desc);
void ims__irq_desc_ext_free(struct ims_irq_core *core, struct ims_irq_desc *desc);
void ims__irq_descs_retire_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt);
/* Fill d->op_chip and d->op_level from its chip and its parent's. */
void ims__irq_domain_cache_ops(struct ims_irq_domain *d);

/*
 * Hierarchical allocation of one irq into a descriptor made by the caller
 * with ims__irq_desc_new(domain, prefix) and marked IMS_IRQS_OWNED: the
 * irq number, every level, publication. On failure nothing is left but the
 * caller's descriptor. Free with ims_irq_domain_free_irqs(), then release.
 */
int ims__irq_domain_alloc_owned(struct ims_irq_domain *d, struct ims_irq_desc *desc, void *arg,
				const struct ims_cpumask *affinity);

/* Descriptor of a published irq, or NULL with an error set. */
struct ims_irq_desc *ims__irq_desc_get(struct ims_irq_core *core, unsigned int irq,
				       const char *what);

/* The data path for callers that already hold the descriptor (dispatch). */
void ims__irq_handle_desc(struct ims_irq_core *core, struct ims_irq_desc *desc, uint32_t cpu);

/* Chip transitions: the one place each happens. desc->lock held. */
void ims__irq_mask_locked(struct ims_irq_desc *desc);
void ims__irq_unmask_locked(struct ims_irq_desc *desc);
void ims__irq_ack_locked(struct ims_irq_desc *desc);
void ims__irq_eoi_locked(struct ims_irq_desc *desc);
int ims__irq_startup_locked(struct ims_irq_core *core, struct ims_irq_desc *desc);
void ims__irq_shutdown_locked(struct ims_irq_desc *desc);
/* Replay a pending interrupt after enable; called with desc->lock dropped. */
void ims__irq_resend(struct ims_irq_core *core, struct ims_irq_desc *desc);

/* Slow-bus lock of the chip, if it has one; called without desc->lock. */
void ims__irq_bus_lock(struct ims_irq_desc *desc);
int ims__irq_bus_sync_unlock(struct ims_irq_desc *desc);

/* Nearest level with irq_set_affinity, or -1. */
int ims__irq_affinity_level(struct ims_irq_desc *desc);
/* Hardware resend through the chips; 0 if done. desc->lock held. */
int ims__irq_retrigger_locked(struct ims_irq_desc *desc);
/* The descriptor whose handlers this thread is running, if any. */
extern _Thread_local struct ims_irq_desc *ims__irq_current __attribute__((tls_model("initial-exec")));

/* Activation of all levels, bottom-up; desc->lock held. */
int ims__irq_activate_locked(struct ims_irq_desc *desc);
void ims__irq_deactivate_locked(struct ims_irq_desc *desc);

/* Interned masks. */
struct ims_irq_mask_ref *ims__irq_mask_get(struct ims_irq_core *core, const struct ims_cpumask *m);
void ims__irq_mask_put(struct ims_irq_core *core, struct ims_irq_mask_ref *ref);

/* Domain of level `level` of desc. */
struct ims_irq_domain *ims__irq_level_domain(const struct ims_irq_desc *desc, unsigned int level);

/* True if irq has at least one handler (false for an unknown irq). */
bool ims__irq_has_action(struct ims_irq_core *core, unsigned int irq);

/* Recount every counter from the structures; 0 if all agree. For tests. */
int ims__irq_core_check(struct ims_irq_core *core);

#endif

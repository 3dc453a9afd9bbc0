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

/* desc->state bits. Written under desc->lock; a few are read locklessly. */
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
};

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

struct ims_irq_domain {
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
 * A descriptor is kept small: the per-vector memory budget of the whole
 * stack is 128 bytes. Per-level data follows it inline; the domain of level
 * i is found by walking up from the outermost domain, so a level carries no
 * domain or chip pointer of its own.
 */
struct ims_irq_desc {
	uint32_t irq;
	atomic_uint state;		/* IMS_IRQS_* */
	ims_spinlock_t lock;		/* guards everything below but count/kstat */
	uint16_t depth;			/* disable nesting */
	uint8_t nlevels;
	uint8_t flow;			/* enum ims_irq_flow */
	struct ims_irq_domain *domain;	/* outermost domain, NULL if bare */
	_Atomic(struct ims_irq_action *) action;
	struct ims_irq_mask_ref *affinity;	/* NULL: any CPU */
	atomic_uint_fast64_t count;	/* interrupts handled */
	atomic_uint *kstat;		/* per-CPU handled counts, or NULL */
	int32_t effective_cpu;		/* -1: not known */
	uint32_t irq_count;		/* storm window position */
	uint32_t irqs_unhandled;	/* unhandled in this window */
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

/* Lock-free lookup; the caller is in an RCU read section or holds core->lock. */
static inline struct ims_irq_desc *ims__irq_to_desc(struct ims_irq_core *core, unsigned int irq)
{
	return ims__sparse_get(&core->descs, irq);
}

/* Irq numbers and descriptors; core->lock held. */
int ims__irq_range_reserve_locked(struct ims_irq_core *core, int irq, unsigned int cnt);
void ims__irq_range_release_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt);
struct ims_irq_desc *ims__irq_desc_new(struct ims_irq_core *core, unsigned int irq,
				       unsigned int nlevels, struct ims_irq_domain *domain);
void ims__irq_desc_free(struct ims_irq_core *core, struct ims_irq_desc *desc);
void ims__irq_descs_retire_locked(struct ims_irq_core *core, unsigned int irq, unsigned int cnt);

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

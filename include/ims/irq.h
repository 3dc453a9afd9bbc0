/*
 * ims/irq.h - the interrupt core: descriptors, handlers, enable and disable,
 * affinity and statistics.
 *
 * An ims_irq_core is one interrupt subsystem, the equivalent of one running
 * kernel: it owns the irq number space, the descriptors, and the domains
 * built on it (ims/irqdomain.h). Several cores may live in one process, for
 * example a simulated machine and the same machine on KVM.
 *
 * Threading: every call is thread-safe. Handlers run with no ims lock held
 * and may call ims_irq_disable_nosync() and ims_irq_enable() on their own
 * interrupt, but not ims_irq_synchronize(), ims_irq_disable() or
 * ims_irq_free() on it (they would wait for themselves).
 */
#ifndef IMS_IRQ_H
#define IMS_IRQ_H

#include <ims/common.h>
#include <ims/cpumask.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ims_irq_core;

/* Handlers say whether the interrupt was theirs. */
typedef enum ims_irqreturn {
	IMS_IRQ_NONE = 0,
	IMS_IRQ_HANDLED = 1,
} ims_irqreturn_t;

typedef ims_irqreturn_t (*ims_irq_handler_t)(unsigned int irq, void *ctx);

/* Software resend of an interrupt found pending when it is enabled again. */
typedef void (*ims_irq_resend_fn)(struct ims_irq_core *core, unsigned int irq, void *ctx);

enum {
	/* Do not keep per-CPU counts (total counts only). */
	IMS_IRQ_CORE_NO_PERCPU_STATS = 1u << 0,
};

struct ims_irq_core_config {
	uint32_t nr_cpus;		/* CPUs of the machine, 1..65534 (required) */
	uint32_t max_irqs;		/* size of the irq number space; 0: 4,194,304 */
	uint32_t flags;			/* IMS_IRQ_CORE_* */
	/*
	 * Storm detection: after every storm_window interrupts of one irq on
	 * one CPU (its effective CPU, as a rule), if more than storm_unhandled
	 * interrupts of the irq since the last check were not handled by any
	 * handler, the irq is disabled and reported. 0: 100,000 and 99,900.
	 * storm_unhandled is below 524,287.
	 */
	uint32_t storm_window;
	uint32_t storm_unhandled;
	/* NULL: a pending interrupt is replayed at once in ims_irq_enable(). */
	ims_irq_resend_fn resend;
	void *resend_ctx;
};

IMS_API int ims_irq_core_create(const struct ims_irq_core_config *cfg, struct ims_irq_core **out);
/* -EBUSY, changing nothing, while domains or descriptors remain. */
IMS_API int ims_irq_core_destroy(struct ims_irq_core *core);
IMS_API uint32_t ims_irq_core_nr_cpus(const struct ims_irq_core *core);
/* Descriptors allocated now. */
IMS_API uint32_t ims_irq_core_nr_irqs(struct ims_irq_core *core);
/* Interrupts raised on irq numbers that have no descriptor. */
IMS_API uint64_t ims_irq_core_spurious(const struct ims_irq_core *core);

/*
 * Bare descriptors, outside any domain (no chip). irq < 0 takes the first
 * free range of cnt numbers; otherwise exactly [irq, irq + cnt) or -EEXIST.
 * Returns the first irq number or a negative errno. All or nothing.
 */
IMS_API int ims_irq_alloc_descs(struct ims_irq_core *core, int irq, unsigned int cnt);
/* Frees descriptors made by ims_irq_alloc_descs(); -EBUSY if a handler remains. */
IMS_API int ims_irq_free_descs(struct ims_irq_core *core, unsigned int irq, unsigned int cnt);
/* Next allocated irq number >= from, or -ENOENT. */
IMS_API int ims_irq_next(struct ims_irq_core *core, unsigned int from);

/* Flow handlers: how an arriving interrupt is acknowledged and run. */
enum ims_irq_flow {
	IMS_FLOW_EDGE = 0,	/* default: ack first; an edge that arrives while
				 * the handler runs is run again afterwards */
	IMS_FLOW_FASTEOI = 1,	/* run, then end of interrupt */
	IMS_FLOW_SIMPLE = 2,	/* no ack, no eoi */
};
IMS_API int ims_irq_set_flow(struct ims_irq_core *core, unsigned int irq, enum ims_irq_flow flow);

/*
 * The data path: interrupt irq has arrived on cpu. Runs its flow handler
 * and so its handlers. Returns 0, or -ENOENT for an irq with no descriptor
 * (counted as spurious), or -EINVAL for a bad cpu.
 */
IMS_API int ims_irq_handle(struct ims_irq_core *core, unsigned int irq, uint32_t cpu);

enum {
	IMS_IRQF_SHARED = 1u << 0,	/* other handlers may share the irq */
};

/*
 * Install a handler. name is copied; ctx identifies the handler for
 * ims_irq_free(). The first handler starts the interrupt (activates it in
 * its domain hierarchy and unmasks it). -EBUSY if the irq has a handler and
 * either side did not ask for sharing; -EEXIST if ctx is already installed.
 */
IMS_API int ims_irq_request(struct ims_irq_core *core, unsigned int irq, ims_irq_handler_t handler,
			    uint32_t flags, const char *name, void *ctx);
/*
 * Remove the handler installed with ctx, after waiting until no handler of
 * irq runs. The last one shuts the interrupt down (mask, deactivate).
 * Freeing a handler that is not installed is refused with -ENOENT and a
 * one-time warning, and changes nothing.
 */
IMS_API int ims_irq_free(struct ims_irq_core *core, unsigned int irq, void *ctx);

/*
 * Disable nests: each disable needs one enable. An interrupt arriving while
 * disabled is masked and held pending, and replayed by the enable that
 * brings the depth to zero. ims_irq_disable() also waits for running
 * handlers. Enable at depth zero is refused with -EINVAL (a one-time
 * warning) and changes nothing.
 */
IMS_API int ims_irq_disable(struct ims_irq_core *core, unsigned int irq);
IMS_API int ims_irq_disable_nosync(struct ims_irq_core *core, unsigned int irq);
IMS_API int ims_irq_enable(struct ims_irq_core *core, unsigned int irq);
/* Wait until no handler of irq is running. */
IMS_API int ims_irq_synchronize(struct ims_irq_core *core, unsigned int irq);

/*
 * Affinity: the CPUs the interrupt may be delivered to. Goes down the
 * domain hierarchy to the level that can move the interrupt. -EINVAL for an
 * empty mask or one with no CPU of the machine; -ENOSPC if no CPU of the mask
 * can take it (and nothing changes).
 */
IMS_API int ims_irq_set_affinity(struct ims_irq_core *core, unsigned int irq,
				 const struct ims_cpumask *mask);
/* Copies the affinity into out (all CPUs if none was set). */
IMS_API int ims_irq_get_affinity(struct ims_irq_core *core, unsigned int irq, struct ims_cpumask *out);
/* The CPU the interrupt is delivered to now, or -ENODATA if not yet known. */
IMS_API int ims_irq_effective_cpu(struct ims_irq_core *core, unsigned int irq);

struct ims_irq_info {
	unsigned int irq;
	uint32_t hwirq;			/* of the outermost level */
	uint32_t depth;			/* disable depth */
	int effective_cpu;		/* -1 if not known */
	uint64_t count;			/* interrupts handled */
	uint32_t unhandled;		/* in the current storm window */
	uint32_t nr_actions;
	uint32_t nr_levels;		/* levels of the domain hierarchy */
	bool activated, started, disabled, masked, pending, in_progress, storm_disabled;
	char chip[32];			/* outermost chip name ("none" if bare) */
	char domain[64];		/* outermost domain name ("" if bare) */
	char actions[64];		/* handler names, comma separated */
};
IMS_API int ims_irq_get_info(struct ims_irq_core *core, unsigned int irq, struct ims_irq_info *out);
/* Interrupts of irq handled on cpu (0 if per-CPU counts are off). */
IMS_API uint64_t ims_irq_count_cpu(struct ims_irq_core *core, unsigned int irq, uint32_t cpu);

#ifdef __cplusplus
}
#endif
#endif

/*
 * ims/irqdomain.h - interrupt domains and chips, for those who implement a
 * level of the hierarchy (a vector allocator, a remapping driver, an MSI,
 * MSI-X or IMS device domain) and for tests that build their own.
 *
 * A domain translates one kind of hardware interrupt number (hwirq) and has
 * a parent, down to the root (on x86 the vector domain). Allocating an irq
 * in a domain allocates one level of data in it and in every ancestor: the
 * domain's alloc op calls ims_irq_domain_alloc_irqs_parent() first, then
 * fills its own level with ims_irq_domain_set_info(). Any failure unwinds
 * every level; nothing stays allocated.
 */
#ifndef IMS_IRQDOMAIN_H
#define IMS_IRQDOMAIN_H

#include <ims/irq.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ims_irq_domain;

/* An MSI message as a device stores it. */
struct ims_msi_msg {
	uint32_t address_lo;
	uint32_t address_hi;
	uint32_t data;
};

/* One level of one interrupt. */
struct ims_irq_data {
	union {
		void *chip_data;	/* the level's private data ... */
		uint64_t chip_u64;	/* ... or up to 64 bits of it inline */
	};
	uint32_t hwirq;
	uint8_t level;			/* 0: outermost domain; parents follow */
	uint8_t _reserved[3];
};

/*
 * Chip operations of one level. Every member is optional. Where a level
 * has no mask, unmask, ack, eoi, set_affinity, retrigger or compose, the core
 * uses the nearest parent level that has it. All run with the interrupt's
 * descriptor lock held and must not sleep for long.
 */
struct ims_irq_chip {
	const char *name;
	/* Stop (start) the source from signalling; must not lose an edge. */
	void (*irq_mask)(struct ims_irq_data *d);
	void (*irq_unmask)(struct ims_irq_data *d);
	/* Acknowledge at the start of an edge flow. */
	void (*irq_ack)(struct ims_irq_data *d);
	/* End of interrupt at the end of a fasteoi flow. */
	void (*irq_eoi)(struct ims_irq_data *d);
	/*
	 * Move the interrupt to a CPU of mask. Return IMS_SET_AFFINITY_OK when
	 * the levels above must write a new message, IMS_SET_AFFINITY_DONE
	 * when nothing above needs to change, or a negative errno.
	 */
	int (*irq_set_affinity)(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force);
	/* Resend in hardware; 0 on success, else software resend is used. */
	int (*irq_retrigger)(struct ims_irq_data *d);
	/* Compose the message that targets this level's current setting. */
	void (*irq_compose_msi_msg)(struct ims_irq_data *d, struct ims_msi_msg *msg);
	/* Store a message into the device (MSI, MSI-X and IMS levels). */
	void (*irq_write_msi_msg)(struct ims_irq_data *d, const struct ims_msi_msg *msg);
	/*
	 * For chips behind a slow bus (message shadows in system memory that a
	 * device command makes take effect): the control path calls
	 * irq_bus_lock before taking the descriptor lock, and
	 * irq_bus_sync_unlock after dropping it, where the chip pushes what
	 * changed to the device. Not called on the data path. A negative
	 * return from irq_bus_sync_unlock means the device kept its previous
	 * state; the call that changed it is undone where it can be and
	 * reports the error.
	 */
	void (*irq_bus_lock)(struct ims_irq_data *d);
	int (*irq_bus_sync_unlock)(struct ims_irq_data *d);
};

enum {
	IMS_SET_AFFINITY_OK = 0,
	IMS_SET_AFFINITY_DONE = 1,
};

struct ims_irq_domain_ops {
	/*
	 * Allocate levels for [virq, virq + nr_irqs). arg is passed down from
	 * ims_irq_domain_alloc_irqs() and through to the parents. On failure
	 * everything this op and its parents allocated must be undone.
	 */
	int (*alloc)(struct ims_irq_domain *d, unsigned int virq, unsigned int nr_irqs, void *arg);
	/* Free this level, then call ims_irq_domain_free_irqs_parent(). */
	void (*free)(struct ims_irq_domain *d, unsigned int virq, unsigned int nr_irqs);
	/* Program the hardware for this level (called bottom-up). Optional. */
	int (*activate)(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve);
	/* Undo activate (called top-down). Optional. */
	void (*deactivate)(struct ims_irq_domain *d, struct ims_irq_data *irqd);
	/*
	 * Translate a firmware-style specifier (param[], nparam) into a hwirq
	 * and a trigger type. Optional.
	 */
	int (*translate)(struct ims_irq_domain *d, const uint32_t *param, unsigned int nparam,
			 uint32_t *hwirq, uint32_t *type);
};

/*
 * Domain flags. The low 16 bits are defined here; the rest are free for a
 * domain's own use.
 */
enum {
	/* Per-device MSI, MSI-X and IMS domains may be built on this domain. */
	IMS_IRQ_DOMAIN_FLAG_MSI_PARENT = 1u << 0,
	/*
	 * Messages through this domain are isolated per device (remapped with
	 * source-id checks, or translated by device id): IMS may be built on it.
	 * A virtual remapping unit does not set it.
	 */
	IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI = 1u << 1,
	IMS_IRQ_DOMAIN_FLAG_USER_SHIFT = 16,
};

struct ims_irq_domain_info {
	const char *name;			/* copied */
	const struct ims_irq_domain_ops *ops;	/* required, alloc required */
	const struct ims_irq_chip *chip;	/* chip of every irq at this level */
	void *host_data;
	struct ims_irq_domain *parent;		/* NULL for a root domain */
	uint32_t flags;				/* IMS_IRQ_DOMAIN_FLAG_* */
};

IMS_API int ims_irq_domain_create(struct ims_irq_core *core, const struct ims_irq_domain_info *info,
				  struct ims_irq_domain **out);
/* -EBUSY, changing nothing, while the domain has irqs or child domains. */
IMS_API int ims_irq_domain_remove(struct ims_irq_domain *d);

IMS_API struct ims_irq_core *ims_irq_domain_core(const struct ims_irq_domain *d);
IMS_API struct ims_irq_domain *ims_irq_domain_parent(const struct ims_irq_domain *d);
IMS_API const char *ims_irq_domain_name(const struct ims_irq_domain *d);
IMS_API void *ims_irq_domain_host_data(const struct ims_irq_domain *d);
IMS_API const struct ims_irq_chip *ims_irq_domain_chip(const struct ims_irq_domain *d);
IMS_API uint32_t ims_irq_domain_flags(const struct ims_irq_domain *d);
/* Levels from d to the root, d included. */
IMS_API unsigned int ims_irq_domain_depth(const struct ims_irq_domain *d);
/* Irqs that have a level in d now. */
IMS_API uint32_t ims_irq_domain_nr_irqs(const struct ims_irq_domain *d);

/*
 * Allocate nr_irqs consecutive irq numbers with a level in d and in each
 * ancestor. irq_base < 0 takes any free range. affinity may be NULL (any
 * CPU). Returns the first irq or a negative errno; all or nothing.
 */
IMS_API int ims_irq_domain_alloc_irqs(struct ims_irq_domain *d, int irq_base, unsigned int nr_irqs,
				      void *arg, const struct ims_cpumask *affinity);
/*
 * Free irqs allocated from a domain: deactivates them, calls the domains'
 * free ops and frees the descriptors. -EBUSY while a handler is installed.
 */
IMS_API int ims_irq_domain_free_irqs(struct ims_irq_core *core, unsigned int virq, unsigned int nr_irqs);

/* For alloc and free ops. */
IMS_API int ims_irq_domain_alloc_irqs_parent(struct ims_irq_domain *d, unsigned int virq,
					     unsigned int nr_irqs, void *arg);
IMS_API void ims_irq_domain_free_irqs_parent(struct ims_irq_domain *d, unsigned int virq,
					     unsigned int nr_irqs);
IMS_API int ims_irq_domain_set_info(struct ims_irq_domain *d, unsigned int virq, uint32_t hwirq,
				    void *chip_data);
/* d's level of virq, or NULL if virq has no level in d. */
IMS_API struct ims_irq_data *ims_irq_domain_get_irq_data(struct ims_irq_domain *d, unsigned int virq);
IMS_API int ims_irq_domain_activate_irq(struct ims_irq_core *core, unsigned int irq);
IMS_API int ims_irq_domain_deactivate_irq(struct ims_irq_core *core, unsigned int irq);
/*
 * Deactivate (activate) every level below d, leaving d's own level as it
 * is: for a level that stops needing its parents' resources while it stays
 * active, such as a remapping entry switched to posted delivery, which needs
 * no host vector. Activation is bottom-up and unwinds on failure.
 */
IMS_API int ims_irq_domain_activate_parent(struct ims_irq_data *d);
IMS_API void ims_irq_domain_deactivate_parent(struct ims_irq_data *d);

/* Accessors of a level. */
IMS_API unsigned int ims_irq_data_irq(const struct ims_irq_data *d);
IMS_API struct ims_irq_data *ims_irq_data_parent(struct ims_irq_data *d);
IMS_API struct ims_irq_domain *ims_irq_data_domain(const struct ims_irq_data *d);
IMS_API const struct ims_irq_chip *ims_irq_data_chip(const struct ims_irq_data *d);
IMS_API struct ims_irq_core *ims_irq_data_core(const struct ims_irq_data *d);
/* The affinity requested for the interrupt, or NULL for any CPU. */
IMS_API const struct ims_cpumask *ims_irq_data_affinity(const struct ims_irq_data *d);
/*
 * For platform domains that route by CPU: the CPU the interrupt is now
 * delivered to, from the level's activate or set_affinity (the descriptor
 * lock is held there). The first move of an interrupt makes room for
 * per-CPU counts: -ENOMEM then, with nothing changed, and the caller undoes
 * its move. -EINVAL for a CPU the machine does not have.
 */
IMS_API int ims_irq_data_set_effective_cpu(struct ims_irq_data *d, uint32_t cpu);
IMS_API int ims_irq_data_effective_cpu(const struct ims_irq_data *d);
IMS_API bool ims_irq_data_is_activated(const struct ims_irq_data *d);
IMS_API bool ims_irq_data_is_masked(const struct ims_irq_data *d);

/* Call the parent chain's op explicitly (for chips that act and delegate). */
IMS_API void ims_irq_chip_mask_parent(struct ims_irq_data *d);
IMS_API void ims_irq_chip_unmask_parent(struct ims_irq_data *d);
IMS_API void ims_irq_chip_ack_parent(struct ims_irq_data *d);
IMS_API void ims_irq_chip_eoi_parent(struct ims_irq_data *d);
IMS_API int ims_irq_chip_set_affinity_parent(struct ims_irq_data *d, const struct ims_cpumask *mask,
					     bool force);
IMS_API int ims_irq_chip_retrigger_parent(struct ims_irq_data *d);
/* Compose with the nearest level at or below d that can; -ENOSYS if none. */
IMS_API int ims_irq_chip_compose_msi_msg(struct ims_irq_data *d, struct ims_msi_msg *msg);
IMS_API int ims_irq_chip_compose_msi_msg_parent(struct ims_irq_data *d, struct ims_msi_msg *msg);

#ifdef __cplusplus
}
#endif
#endif

/*
 * ims/msi.h - per-device MSI, MSI-X and IMS interrupt domains.
 *
 * A device (struct ims_device) has up to two interrupt domains: the default
 * one (MSI or MSI-X) and a secondary one (IMS). Each is created from a
 * template that the device's driver supplies: the chip that reaches the
 * device's storage (an MSI-X table, an IMS array in device memory, message
 * shadows in system memory), a prepare callback, and a free callback. The
 * domain sits on the device's MSI parent (the interrupt remapping domain on
 * x86) and so on the whole hierarchy below it.
 *
 * Vectors are allocated and freed at any time after the domain exists: at a
 * given index, at any free index, or as a group (one per assignable device
 * interface). Every call takes the device's lock; MSI-X and IMS vectors of
 * one device may be allocated and freed from many threads at once.
 */
#ifndef IMS_MSI_H
#define IMS_MSI_H

#include <ims/irqdomain.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ims_device;

struct ims_device_info {
	const char *name;			/* e.g. "0000:02:00.0"; copied */
	struct ims_irq_core *core;
	/* Where device domains attach: the remapping domain, or the vector
	 * domain on a machine without remapping. Needs the MSI_PARENT flag. */
	struct ims_irq_domain *msi_parent;
	uint16_t rid;				/* requester id: bus << 8 | devfn */
};

IMS_API int ims_device_create(const struct ims_device_info *info, struct ims_device **out);
/*
 * Free every vector of every domain of the device and remove the domains,
 * then the device. -EBUSY, changing nothing, while a handler is installed
 * on one of its vectors.
 */
IMS_API int ims_device_destroy(struct ims_device *dev);
IMS_API const char *ims_device_name(const struct ims_device *dev);
IMS_API uint16_t ims_device_rid(const struct ims_device *dev);
/* Free every vector of every domain (IMS included); the domains stay. */
IMS_API int ims_device_free_all_irqs(struct ims_device *dev);

enum ims_msi_domain_id {
	IMS_MSI_DEFAULT_DOMAIN = 0,		/* MSI or MSI-X */
	IMS_MSI_SECONDARY_DOMAIN = 1,		/* IMS */
	IMS_MSI_MAX_DOMAINS = 2,
};

enum ims_msi_domain_type {
	IMS_MSI_TYPE_MSI = 1,
	IMS_MSI_TYPE_MSIX = 2,
	IMS_MSI_TYPE_IMS = 3,
};

union ims_msi_cookie {
	uint64_t value;
	void *ptr;
};

/*
 * One vector of a device domain. Owned by the domain; read-only to others.
 * It shares one allocation with the vector's irq descriptor: 24 bytes of
 * the 128 that a vector may cost across all levels. The message lives in
 * the device (the chip writes it), the group in the domain's level.
 */
struct ims_msi_desc {
	uint32_t index;				/* slot or table entry */
	uint32_t irq;
	union ims_msi_cookie dcookie;		/* set by the domain (prepare_desc) */
	union ims_msi_cookie icookie;		/* given by the caller (e.g. a PASID) */
};

/* What travels down the hierarchy while a vector is allocated. */
struct ims_msi_alloc_info {
	struct ims_device *dev;
	struct ims_msi_desc *desc;
	uint16_t rid;				/* for source-id checks in remapping */
	uint8_t type;				/* enum ims_msi_domain_type */
};

struct ims_msi_domain_template {
	/* Chip name, e.g. "IMS-array"; the domain is named
	 * "<parent>-<chip>-<device>". */
	const char *name;
	enum ims_msi_domain_type type;
	/*
	 * The device's chip: for IMS, mask, unmask and irq_write_msi_msg are
	 * required and irq_set_affinity is not allowed (the parent moves the
	 * interrupt). The domain adds its own set_affinity that rewrites the
	 * message when the parent asks for it.
	 */
	struct ims_irq_chip chip;
	/*
	 * Optional. Runs before the hierarchy allocation of each vector: the
	 * place to find the slot and set desc->dcookie. A negative return
	 * refuses the allocation, which then changes nothing.
	 */
	int (*prepare_desc)(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
			    struct ims_msi_desc *desc);
	/* Optional. Runs after a vector's hierarchy is freed: reset the slot. */
	void (*free_desc)(struct ims_irq_domain *d, struct ims_msi_desc *desc);
};

/*
 * Create domain domid of dev from tmpl. hwsize bounds the index space;
 * 0 means software-managed (up to IMS_MSI_MAX_SOFT_INDEX). chip_data is
 * returned to the chip by ims_msi_domain_chip_data(). Refused with a message
 * when: the template is incomplete or breaks the rules above; an IMS domain
 * is asked for on a parent that does not isolate messages (no remapping, or
 * a virtual remapping unit) - this refusal is the authoritative answer to
 * "does this device get IMS here"; the domain exists already.
 */
#define IMS_MSI_MAX_SOFT_INDEX (1u << 20)
IMS_API int ims_msi_create_device_domain(struct ims_device *dev, enum ims_msi_domain_id domid,
					 const struct ims_msi_domain_template *tmpl, uint32_t hwsize,
					 void *chip_data);
/* -EBUSY while the domain has vectors. */
IMS_API int ims_msi_remove_device_domain(struct ims_device *dev, enum ims_msi_domain_id domid);
IMS_API struct ims_irq_domain *ims_msi_device_domain(struct ims_device *dev,
						      enum ims_msi_domain_id domid);

#define IMS_MSI_ANY_INDEX UINT32_MAX

/* index and virq of an allocated vector; on failure both hold the errno. */
struct ims_msi_map {
	int index;
	int virq;
};

/*
 * Allocate one vector at index (or the lowest free one with
 * IMS_MSI_ANY_INDEX). affinity may be NULL.
 */
IMS_API struct ims_msi_map ims_msi_alloc_irq_at(struct ims_device *dev, enum ims_msi_domain_id domid,
						uint32_t index, const struct ims_cpumask *affinity,
						union ims_msi_cookie icookie);
IMS_API int ims_msi_free_irq(struct ims_device *dev, enum ims_msi_domain_id domid, uint32_t index);
/*
 * Allocate nvec vectors at any free indices as one group, all or nothing.
 * maps (nvec entries) receives them. Returns the group id (> 0).
 */
IMS_API int ims_msi_alloc_group(struct ims_device *dev, enum ims_msi_domain_id domid, unsigned int nvec,
				const struct ims_cpumask *affinity, union ims_msi_cookie icookie,
				struct ims_msi_map *maps);
IMS_API int ims_msi_free_group(struct ims_device *dev, enum ims_msi_domain_id domid, int group);
IMS_API int ims_msi_free_all(struct ims_device *dev, enum ims_msi_domain_id domid);
/* virq of index, or a negative errno. */
IMS_API int ims_msi_index_to_virq(struct ims_device *dev, enum ims_msi_domain_id domid, uint32_t index);
IMS_API uint32_t ims_msi_nr_allocated(struct ims_device *dev, enum ims_msi_domain_id domid);

/* For chips: the vector of a device-level irq data, and the domain's data. */
IMS_API struct ims_msi_desc *ims_msi_irq_desc(const struct ims_irq_data *d);
IMS_API void *ims_msi_domain_chip_data(const struct ims_irq_data *d);
IMS_API struct ims_device *ims_msi_irq_device(const struct ims_irq_data *d);
/* The chip_data given when device domain d was created (for prepare_desc). */
IMS_API void *ims_msi_domain_data(const struct ims_irq_domain *d);

#ifdef __cplusplus
}
#endif
#endif

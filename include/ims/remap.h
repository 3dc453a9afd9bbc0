/*
 * ims/remap.h - interrupt remapping: the remapping driver, posting of
 * interrupts into a vCPU's posted-interrupt descriptor, and the formats
 * (remapping table entries, remappable-format messages, posted-interrupt
 * descriptors) as plain encode and decode functions.
 *
 * The remapping driver owns one hardware remapping unit: it places the
 * unit's table in DMA memory, programs the unit's registers, and provides a
 * remapping domain, which sits between device domains (MSI, MSI-X, IMS) and
 * the vector domain. Devices under it are handed remappable-format messages
 * whose handle names their table entry; a change of affinity rewrites the
 * entry only, never the device's message.
 */
#ifndef IMS_REMAP_H
#define IMS_REMAP_H

#include <ims/irqdomain.h>
#include <ims/msi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- formats ---- */

/*
 * One interrupt remapping table entry, field by field. The same structure
 * holds both formats: remapped (posted == false) uses dest_logical,
 * redirection_hint, level_trigger, delivery_mode, vector and dest; posted
 * uses urgent, vector (the guest's vector) and pda.
 */
struct ims_irte {
	bool present;
	bool fpd;		/* fault processing disable: faults not recorded */
	bool posted;		/* IRTE mode: 0 remapped, 1 posted */
	uint8_t avail;		/* bits 11:8, for software */
	uint8_t vector;
	/* remapped format */
	bool dest_logical;
	bool redirection_hint;
	bool level_trigger;
	uint8_t delivery_mode;	/* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
	uint32_t dest;		/* bits 63:32 as stored: x2APIC ID, or xAPIC ID << 8 */
	/* posted format */
	bool urgent;
	uint64_t pda;		/* posted-interrupt descriptor address, 64-byte aligned */
	/* both */
	uint16_t sid;		/* source id: requester id, or start bus << 8 | end bus */
	uint8_t sq;		/* source-id qualifier, 0..3 */
	uint8_t svt;		/* 0 none, 1 requester id, 2 bus range, 3 reserved */
	/* decode only: reserved bits of the format that were found set */
	uint64_t rsvd_lo, rsvd_hi;
};

/* Decode (high, low) into fields. Never fails; reserved bits are reported. */
IMS_API void ims_irte_decode(uint64_t lo, uint64_t hi, struct ims_irte *out);
/*
 * Encode fields into (high, low). -EINVAL, writing nothing, for a field out
 * of range (vector is 8 bits; sq, svt 2 bits; delivery_mode 3 and 6 are
 * reserved; pda must be 64-byte aligned; rsvd_* must be 0).
 */
IMS_API int ims_irte_encode(const struct ims_irte *in, uint64_t *lo, uint64_t *hi);
/* Names for printing: "fixed", "lowest", ...; "none", "sid", "bus", "reserved". */
IMS_API const char *ims_irte_delivery_mode_name(unsigned int dm);
IMS_API const char *ims_irte_svt_name(unsigned int svt);

/*
 * Remappable-format message: the entry index is handle, or handle +
 * subhandle when shv is set (the data holds the subhandle).
 */
IMS_API void ims_remap_msg_compose(uint16_t handle, bool shv, uint16_t subhandle,
				   struct ims_msi_msg *msg);
/* -EINVAL if msg is not a remappable-format interrupt message. */
IMS_API int ims_remap_msg_decode(const struct ims_msi_msg *msg, uint16_t *handle, bool *shv,
				 uint16_t *subhandle);

/*
 * Posted-interrupt descriptor: 64 bytes, 64-byte aligned, in DMA memory.
 * The unit sets a PIR bit per posted message and sends the notification
 * vector nv to the APIC ID ndst when it sets ON. In xAPIC mode the ID is
 * stored in NDST bits 15:8, as the unit expects; x2apic selects the 32-bit
 * form (use the same mode as the remapping driver).
 */
IMS_API void ims_pid_init(void *pid, uint8_t nv, uint32_t ndst, bool x2apic);
IMS_API bool ims_pid_pir_test(const void *pid, uint8_t vector);
IMS_API bool ims_pid_on(const void *pid);
IMS_API bool ims_pid_sn(const void *pid);
IMS_API void ims_pid_set_sn(void *pid, bool sn);
/*
 * What a vCPU does on notification: take the PIR (atomically clearing it)
 * into pir[4] and clear ON. Returns the number of vectors taken.
 */
IMS_API unsigned int ims_pid_take(void *pid, uint64_t pir[4]);

/* ---- the remapping driver ---- */

struct ims_remap;
struct ims_hw_ir_unit;	/* a remapping unit of the model machine */
struct ims_hw_dma;	/* the machine's DMA-able memory */

struct ims_remap_config {
	const char *name;		/* domain name; copied */
	struct ims_hw_ir_unit *unit;	/* required: the unit to drive */
	struct ims_hw_dma *dma;		/* required: where the table goes */
	struct ims_irq_domain *parent;	/* required: the vector domain */
	uint32_t nr_entries;		/* table size, a power of two 2..65536; 0: 65536 */
	bool x2apic;			/* 32-bit destinations (EIME) */
	bool allow_compat;		/* let compatibility-format messages pass (CFI) */
};

/*
 * The alloc arg that reaches the remapping domain is the device domain's
 * struct ims_msi_alloc_info (ims/msi.h): its rid becomes the entry's source
 * id (checked by the unit), and an MSI (not MSI-X or IMS) allocation of
 * several vectors gets one aligned block of entries under one handle, the
 * message number being the subhandle. The arg is passed on to the parent.
 */
/*
 * Set the unit up (table, invalidation queue, enable) and create the
 * remapping domain. All or nothing.
 */
IMS_API int ims_remap_create(struct ims_irq_core *core, const struct ims_remap_config *cfg,
			     struct ims_remap **out);
/* Disable the unit and free everything; -EBUSY while the domain has irqs. */
IMS_API int ims_remap_destroy(struct ims_remap *r);
IMS_API struct ims_irq_domain *ims_remap_domain(struct ims_remap *r);
/* The remapping driver of domain d, or NULL if d is not a remapping domain. */
IMS_API struct ims_remap *ims_remap_from_domain(const struct ims_irq_domain *d);
/* True if the unit is virtual (caching mode): a virtual IOMMU. */
IMS_API bool ims_remap_is_virtual(const struct ims_remap *r);
/*
 * May an IMS domain be built on d? Only on a remapping domain of a unit
 * that is not virtual: a guest's virtual IOMMU cannot be trusted to remap
 * the messages of a device's own message store.
 */
IMS_API bool ims_remap_domain_allows_ims(const struct ims_irq_domain *d);

/* The entry index (handle) that irq uses, or -ENOENT if it has none here. */
IMS_API int ims_remap_irq_index(struct ims_remap *r, unsigned int irq);

/*
 * Bind an active irq of the remapping domain to a posted-interrupt
 * descriptor (pda, in DMA memory, 64-byte aligned) and the guest's vector:
 * its entry switches to posted format and the host vector is released.
 * Binding a posted irq again rebinds it.
 */
IMS_API int ims_remap_irq_post(struct ims_remap *r, unsigned int irq, uint64_t pda, uint8_t vector,
			       bool urgent);
/*
 * Return a posted irq to remapped delivery on a host vector. -ENOSPC if no
 * vector can be had: the irq then stays posted, unchanged.
 */
IMS_API int ims_remap_irq_unpost(struct ims_remap *r, unsigned int irq);
IMS_API bool ims_remap_irq_is_posted(struct ims_remap *r, unsigned int irq);

struct ims_remap_stats {
	uint32_t nr_entries;		/* table size */
	uint32_t allocated;		/* entries in use */
	uint32_t posted;		/* entries in posted format */
	uint64_t writes;		/* entries written */
	uint64_t invalidations;		/* invalidation requests sent to the unit */
};
IMS_API void ims_remap_get_stats(struct ims_remap *r, struct ims_remap_stats *out);
/* Recount allocated and posted entries from the bitmap and the table; -EIO on a mismatch. */
IMS_API int ims_remap_check(struct ims_remap *r);

/* A fault the unit recorded, oldest first. */
struct ims_remap_fault {
	uint8_t reason;			/* VT-d reason code, 0x20..0x27 */
	uint16_t sid;			/* requester id of the write */
	uint32_t index;			/* entry index */
};
/* Take the oldest recorded fault: 1 if one was taken, 0 if none. */
IMS_API int ims_remap_fault_pop(struct ims_remap *r, struct ims_remap_fault *out);
/* Name of a fault reason ("not-present", ...). */
IMS_API const char *ims_remap_fault_name(unsigned int reason);

#ifdef __cplusplus
}
#endif
#endif

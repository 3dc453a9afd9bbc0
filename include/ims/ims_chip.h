/*
 * ims/ims_chip.h - the OS-side chips of IMS storage, as templates for an
 * IMS device domain (ims/msi.h), and the register and memory accessors
 * they program through.
 *
 * Two variants, after ims/ims_slot.h:
 *
 * - the device-memory array: slots in a BAR. prepare_desc takes the slot
 *   of the vector's index, resets it and programs the vector's PASID (its
 *   instance cookie) into the control word, masked; mask and unmask write
 *   the control word; a message is written address low, address high,
 *   data, then read back to flush; free_desc resets the slot (masked,
 *   address and data 0, no PASID).
 * - the system-memory queue variant: one shadow slot per queue in system
 *   memory. Mask, unmask and message writes change only the shadow, under
 *   the chip's bus lock; the bus sync-unlock issues the device's LOAD
 *   command and reports its failure, so the interrupt core undoes the
 *   change (ims_irq_request and ims_irq_enable return the error, and the
 *   device keeps the message it had).
 *
 * Both reach the device only through the accessors given here, and never
 * touch a slot that is not a vector's own.
 *
 * Threading: a chip may serve many vectors at once; its operations run
 * under the interrupt core's locks (docs/locking.md).
 */
#ifndef IMS_IMS_CHIP_H
#define IMS_IMS_CHIP_H

#include <ims/ims_slot.h>
#include <ims/msi.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A window of 32-bit registers (a BAR) or of memory, reached by offset.
 * read32 and write32 get 4-byte aligned offsets and return 0 or a negative
 * errno. For a BAR, a driver builds one on its platform's MMIO accessors.
 */
struct ims_io_access {
	int (*read32)(void *ctx, uint64_t off, uint32_t *val);
	int (*write32)(void *ctx, uint64_t off, uint32_t val);
	void *ctx;
};

/*
 * The instance cookie that binds a vector to a PASID: the slot's control
 * word gets PASID enable and the PASID, and the device then refuses a
 * signal that carries another PASID (or none). A zero cookie means no
 * PASID. Only the low 20 bits of pasid are a PASID.
 */
#define IMS_CHIP_PASID_VALID	(1ull << 32)
#define IMS_CHIP_PASID_MAX	0xfffffu
static inline union ims_msi_cookie ims_chip_pasid_cookie(uint32_t pasid)
{
	union ims_msi_cookie c;

	c.value = IMS_CHIP_PASID_VALID | (pasid & IMS_CHIP_PASID_MAX);
	return c;
}

/* ---- device-memory array ---- */

struct ims_array_chip;

struct ims_array_chip_info {
	struct ims_io_access io;	/* the BAR that holds the array */
	uint64_t offset;		/* of slot 0 in that BAR, 16-byte aligned */
	uint32_t nr_slots;		/* 1..IMS_MSI_MAX_SOFT_INDEX */
};

IMS_API int ims_array_chip_create(const struct ims_array_chip_info *info, struct ims_array_chip **out);
/* The chip must serve no domain any more. NULL is ignored. */
IMS_API void ims_array_chip_destroy(struct ims_array_chip *c);
/*
 * The template of an IMS domain over this chip: create the domain with
 * ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN,
 * ims_array_chip_template(), nr_slots, chip). A vector's domain cookie is
 * its slot's offset in the BAR.
 */
IMS_API const struct ims_msi_domain_template *ims_array_chip_template(void);
/* Register accesses that failed (each is also warned once). */
IMS_API uint64_t ims_array_chip_io_errors(const struct ims_array_chip *c);
/*
 * Hold slot masked (hold) or let it follow the interrupt core again, for
 * a mask the core does not see: a guest's mask of its mediated vector.
 * A slot held masked latches its signals and sends one on release if
 * the core has it unmasked. icookie is the vector's instance cookie (the
 * control word keeps its PASID). -EINVAL for a slot no vector owns.
 */
IMS_API int ims_array_chip_hold(struct ims_array_chip *c, uint32_t slot, bool hold,
				union ims_msi_cookie icookie);

/* ---- system-memory queue variant ---- */

struct ims_queue_chip;

struct ims_queue_chip_info {
	struct ims_io_access regs;	/* the command registers (IMS_QUEUE_REG_*) */
	struct ims_io_access shadows;	/* system memory: queue i's shadow at i * 16 */
	uint32_t nr_queues;		/* 1..IMS_MSI_MAX_SOFT_INDEX */
};

IMS_API int ims_queue_chip_create(const struct ims_queue_chip_info *info, struct ims_queue_chip **out);
IMS_API void ims_queue_chip_destroy(struct ims_queue_chip *c);
/* As ims_array_chip_template(); a vector's domain cookie is its shadow's offset. */
IMS_API const struct ims_msi_domain_template *ims_queue_chip_template(void);
/* LOAD commands issued, and those the device failed or refused. */
IMS_API uint64_t ims_queue_chip_loads(const struct ims_queue_chip *c);
IMS_API uint64_t ims_queue_chip_load_errors(const struct ims_queue_chip *c);

#ifdef __cplusplus
}
#endif
#endif /* IMS_IMS_CHIP_H */

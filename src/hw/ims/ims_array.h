/*
 * IMS storage in device memory: an array of 16-byte slots (ims/ims_slot.h)
 * decoded by a BAR, 32-bit aligned accesses only. Writes take effect at
 * once. The device signals slot i, optionally with a PASID; the array
 * sends the slot's message through the fabric sink with the function's
 * requester id (and the slot's PASID when enabled), latches it while the
 * slot is masked and sends it on unmask, and refuses (and counts) a signal
 * whose PASID does not match the slot, so that one ADI cannot fire
 * another's interrupt.
 *
 * Thread-safe: a device thread may signal while the OS writes slots.
 */
#ifndef IMS_HW_IMS_ARRAY_H
#define IMS_HW_IMS_ARRAY_H

#include "hw/ims/slot.h"
#include "hw/mmio.h"

struct ims_hw_ims_array_params {
	uint32_t nr_slots;	/* 1..1048576 */
	uint16_t rid;		/* requester id of the function */
};

struct ims_hw_ims_array;

int ims__hw_ims_array_create(const struct ims_hw_ims_array_params *p,
			     const struct ims_hw_msi_sink *sink, struct ims_hw_ims_array **out);
void ims__hw_ims_array_destroy(struct ims_hw_ims_array *a);
uint32_t ims__hw_ims_array_nr_slots(const struct ims_hw_ims_array *a);

/* The MMIO region (nr_slots x 16 bytes) to map into a BAR. */
void ims__hw_ims_array_region(struct ims_hw_ims_array *a, struct ims_hw_mmio_region *r);

/*
 * Signal slot i. Context: device side, any thread; takes only the array's
 * lock and calls the sink under it. Return: 0 (sent or latched), -EINVAL
 * no such slot, -EPERM PASID mismatch (counted, nothing latched).
 */
int ims__hw_ims_array_signal(struct ims_hw_ims_array *a, uint32_t slot, bool pasid_valid,
			     uint32_t pasid);
/* Device reset (FLR, shutdown): every slot masked, address and data 0, nothing pending. */
void ims__hw_ims_array_reset(struct ims_hw_ims_array *a);
bool ims__hw_ims_array_pending(struct ims_hw_ims_array *a, uint32_t slot);
void ims__hw_ims_array_get_stats(struct ims_hw_ims_array *a, struct ims_hw_ims_stats *st);

#endif

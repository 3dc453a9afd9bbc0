/*
 * The behaviour of one IMS slot, shared by both storage variants: what a
 * signal does (PASID check, latch while masked, send otherwise) and what
 * happens when a slot's control changes (a pending signal is sent when the
 * slot becomes unmasked, and dropped when the slot changes owner). Each
 * variant holds its own lock around these calls.
 */
#ifndef IMS_HW_IMS_SLOT_H
#define IMS_HW_IMS_SLOT_H

#include <ims/ims_slot.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/bus.h"
#include "util/lock.h"

/* The message a slot holds, in register order. */
struct ims_hw_slot {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	uint32_t ctrl;
};
_Static_assert(sizeof(struct ims_hw_slot) == IMS_SLOT_SIZE, "an IMS slot is 16 bytes");

struct ims_hw_ims_stats {
	uint64_t sent;		/* messages handed to the sink */
	uint64_t latched;	/* signals held pending while masked */
	uint64_t refused;	/* signals whose PASID did not match the slot */
	uint64_t dropped;	/* pending signals dropped when the slot changed owner */
};

/*
 * Where a variant's messages go, the counters they update, and the lock of
 * the variant that the _locked functions below assert is held.
 */
struct ims_hw_slot_out {
	struct ims_hw_msi_sink sink;
	uint16_t rid;
	struct ims_hw_ims_stats *stats;
	ims_spinlock_t *lock;
};

/*
 * Stores to a slot are atomic (each register is one 32-bit store), so that
 * a variant may read its slots without its lock (ims_array.c does). With
 * release order: a reader that sees a control word (acquire) sees the
 * address and data written before it.
 */
static inline void ims__hw_slot_store(uint32_t *reg, uint32_t val)
{
	__atomic_store_n(reg, val, __ATOMIC_RELEASE);
}

static inline void ims__hw_slot_reset(struct ims_hw_slot *s)
{
	ims__hw_slot_store(&s->ctrl, IMS_SLOT_CTRL_MASKBIT);
	ims__hw_slot_store(&s->addr_lo, 0);
	ims__hw_slot_store(&s->addr_hi, 0);
	ims__hw_slot_store(&s->data, 0);
}

/*
 * A signal for the slot. 0 when sent or latched (*pending set); -EPERM,
 * counted, when the PASID does not match the slot: a slot with PASID
 * enabled takes only signals carrying that PASID, a slot without takes
 * only signals without one.
 */
int ims__hw_slot_fire_locked(const struct ims_hw_slot *s, bool *pending, bool pasid_valid,
			     uint32_t pasid, const struct ims_hw_slot_out *out);

/*
 * Install new control bits (reserved ones dropped) and handle the
 * transition: a pending signal is dropped if PASID enable or PASID changed
 * (the slot has a new owner), and sent if the slot is now unmasked.
 */
void ims__hw_slot_set_ctrl_locked(struct ims_hw_slot *s, bool *pending, uint32_t ctrl,
				  const struct ims_hw_slot_out *out);

/*
 * The one function that handles a slot leaving the masked state: sends a
 * pending signal if the slot is unmasked, and clears it.
 */
void ims__hw_slot_deliver_unmasked_locked(const struct ims_hw_slot *s, bool *pending,
					  const struct ims_hw_slot_out *out);

#endif

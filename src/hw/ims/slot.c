/*
 * One IMS slot's rules, in one place for both storage variants.
 */
#include <errno.h>

#include "hw/ims/slot.h"
#include "util/log.h"

static bool slot_masked(const struct ims_hw_slot *s)
{
	return s->ctrl & IMS_SLOT_CTRL_MASKBIT;
}

static void slot_send(const struct ims_hw_slot *s, const struct ims_hw_slot_out *out)
{
	struct ims_hw_msi_write w = {
		.addr = (uint64_t)s->addr_hi << 32 | s->addr_lo,
		.data = s->data,
		.rid = out->rid,
		.pasid_valid = s->ctrl & IMS_SLOT_CTRL_PASID_EN,
	};

	if (w.pasid_valid)
		w.pasid = s->ctrl >> IMS_SLOT_CTRL_PASID_SHIFT;
	out->stats->sent++;
	out->sink.fn(out->sink.ctx, &w);
}

int ims__hw_slot_fire_locked(const struct ims_hw_slot *s, bool *pending, bool pasid_valid,
			     uint32_t pasid, const struct ims_hw_slot_out *out)
{
	bool slot_pasid = s->ctrl & IMS_SLOT_CTRL_PASID_EN;

	ims__assert_spin_held(out->lock);
	/* Checked before the mask: a refused signal must not even latch. */
	if (pasid_valid != slot_pasid ||
	    (slot_pasid && pasid != s->ctrl >> IMS_SLOT_CTRL_PASID_SHIFT)) {
		out->stats->refused++;
		return -EPERM;
	}
	if (slot_masked(s)) {
		out->stats->latched++;
		*pending = true;
		return 0;
	}
	slot_send(s, out);
	return 0;
}

void ims__hw_slot_deliver_unmasked_locked(const struct ims_hw_slot *s, bool *pending,
					  const struct ims_hw_slot_out *out)
{
	ims__assert_spin_held(out->lock);
	if (!*pending || slot_masked(s))
		return;
	*pending = false;
	slot_send(s, out);
}

void ims__hw_slot_set_ctrl_locked(struct ims_hw_slot *s, bool *pending, uint32_t ctrl,
				  const struct ims_hw_slot_out *out)
{
	uint32_t owner = IMS_SLOT_CTRL_PASID_EN | IMS_SLOT_CTRL_PASID_MASK;

	ims__assert_spin_held(out->lock);
	ctrl &= IMS_SLOT_CTRL_WRITABLE;
	if (*pending && ((ctrl ^ s->ctrl) & owner)) {
		/* Latched for the previous PASID: never the new owner's. */
		*pending = false;
		out->stats->dropped++;
	}
	ims__hw_slot_store(&s->ctrl, ctrl);
	ims__hw_slot_deliver_unmasked_locked(s, pending, out);
}

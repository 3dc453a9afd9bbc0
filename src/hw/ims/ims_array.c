/*
 * IMS array in device memory. Register writes go straight to the slot; a
 * control write goes through ims__hw_slot_set_ctrl_locked(), which owns the
 * mask transitions, so a pending signal is sent on unmask and nowhere else.
 */
#include <errno.h>

#include "hw/ims/ims_array.h"
#include "util/alloc.h"
#include "util/lock.h"
#include "util/log.h"

#define IMS_ARRAY_MAX_SLOTS (1u << 20)

struct ims_hw_ims_array {
	uint32_t nr;
	/*
	 * Guards slots, pending and stats. The data path (signal) takes it
	 * alone; MMIO takes it inside the config lock of the BAR's function.
	 * The sink is called under it, so once a mask write has returned no
	 * message of that slot leaves.
	 */
	ims_spinlock_t lock;
	struct ims_hw_slot_out out;
	struct ims_hw_ims_stats stats;
	struct ims_hw_slot *slots;
	bool *pending;
};

static int array_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_ims_array *a = ctx;
	const struct ims_hw_slot *s = &a->slots[off / IMS_SLOT_SIZE];

	(void)size;
	ims__spin_lock(&a->lock);
	switch (off % IMS_SLOT_SIZE) {
	case IMS_SLOT_ADDR_LO: *val = s->addr_lo; break;
	case IMS_SLOT_ADDR_HI: *val = s->addr_hi; break;
	case IMS_SLOT_DATA: *val = s->data; break;
	default: *val = s->ctrl; break;
	}
	ims__spin_unlock(&a->lock);
	return 0;
}

static int array_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_ims_array *a = ctx;
	uint32_t i = (uint32_t)(off / IMS_SLOT_SIZE);
	struct ims_hw_slot *s = &a->slots[i];

	(void)size;
	ims__spin_lock(&a->lock);
	switch (off % IMS_SLOT_SIZE) {
	case IMS_SLOT_ADDR_LO:
		/* Bits 1:0 read as zero: messages are dword writes. */
		s->addr_lo = (uint32_t)val & ~3u;
		break;
	case IMS_SLOT_ADDR_HI:
		s->addr_hi = (uint32_t)val;
		break;
	case IMS_SLOT_DATA:
		s->data = (uint32_t)val;
		break;
	default:
		ims__hw_slot_set_ctrl_locked(s, &a->pending[i], (uint32_t)val, &a->out);
		break;
	}
	ims__spin_unlock(&a->lock);
	return 0;
}

static const struct ims_hw_mmio_ops array_ops = {
	.name = "ims-array",
	.read = array_read,
	.write = array_write,
	.sizes = IMS_HW_MMIO_SIZE(4),
};

static void array_free(struct ims_hw_ims_array *a)
{
	ims__free(a->pending, a->nr * sizeof(*a->pending));
	ims__free(a->slots, a->nr * sizeof(*a->slots));
	ims__free(a, sizeof(*a));
}

int ims__hw_ims_array_create(const struct ims_hw_ims_array_params *p,
			     const struct ims_hw_msi_sink *sink, struct ims_hw_ims_array **out)
{
	struct ims_hw_ims_array *a;

	if (!p->nr_slots || p->nr_slots > IMS_ARRAY_MAX_SLOTS)
		return ims__error(-EINVAL, "IMS array: %u slots is not 1..%u", p->nr_slots,
				  IMS_ARRAY_MAX_SLOTS);
	if (!sink || !sink->fn)
		return ims__error(-EINVAL, "IMS array: no sink for the messages");
	a = ims__zalloc(sizeof(*a), "ims_array");
	if (!a)
		return -ENOMEM;
	a->nr = p->nr_slots;
	ims__spin_init(&a->lock);
	a->out = (struct ims_hw_slot_out){ *sink, p->rid, &a->stats, &a->lock };
	a->slots = ims__calloc(a->nr, sizeof(*a->slots), "ims_array_slots");
	if (!a->slots)
		goto free;
	a->pending = ims__calloc(a->nr, sizeof(*a->pending), "ims_array_pending");
	if (!a->pending)
		goto free;
	for (uint32_t i = 0; i < a->nr; i++)
		ims__hw_slot_reset(&a->slots[i]);
	*out = a;
	return 0;
free:
	array_free(a);
	return -ENOMEM;
}

void ims__hw_ims_array_destroy(struct ims_hw_ims_array *a)
{
	if (a)
		array_free(a);
}

uint32_t ims__hw_ims_array_nr_slots(const struct ims_hw_ims_array *a)
{
	return a->nr;
}

void ims__hw_ims_array_region(struct ims_hw_ims_array *a, struct ims_hw_mmio_region *r)
{
	*r = (struct ims_hw_mmio_region){ &array_ops, a, (uint64_t)a->nr * IMS_SLOT_SIZE };
}

int ims__hw_ims_array_signal(struct ims_hw_ims_array *a, uint32_t slot, bool pasid_valid,
			     uint32_t pasid)
{
	int err;

	if (slot >= a->nr)
		return ims__error(-EINVAL, "IMS array: slot %u beyond the %u it has", slot, a->nr);
	ims__spin_lock(&a->lock);
	err = ims__hw_slot_fire_locked(&a->slots[slot], &a->pending[slot], pasid_valid, pasid,
				       &a->out);
	ims__spin_unlock(&a->lock);
	if (err)
		return ims__error(err, "IMS array: slot %u refused a signal %s PASID 0x%x",
				  slot, pasid_valid ? "with" : "without", pasid);
	return 0;
}

void ims__hw_ims_array_reset(struct ims_hw_ims_array *a)
{
	ims__spin_lock(&a->lock);
	for (uint32_t i = 0; i < a->nr; i++) {
		ims__hw_slot_reset(&a->slots[i]);
		a->pending[i] = false;
	}
	ims__spin_unlock(&a->lock);
}

bool ims__hw_ims_array_pending(struct ims_hw_ims_array *a, uint32_t slot)
{
	bool p;

	if (slot >= a->nr)
		return false;
	ims__spin_lock(&a->lock);
	p = a->pending[slot];
	ims__spin_unlock(&a->lock);
	return p;
}

void ims__hw_ims_array_get_stats(struct ims_hw_ims_array *a, struct ims_hw_ims_stats *st)
{
	ims__spin_lock(&a->lock);
	*st = a->stats;
	ims__spin_unlock(&a->lock);
}

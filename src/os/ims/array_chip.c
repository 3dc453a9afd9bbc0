/*
 * The IMS chip of a slot array in device memory. Every operation is a few
 * 32-bit register accesses through the driver's BAR accessor; a vector
 * touches only its own slot, whose offset is its domain cookie. The
 * control word is never read and modified: it is computed from the
 * vector's PASID (its instance cookie) and the mask state the core asks
 * for, so a slot never keeps a bit that its owner did not put there.
 */
#include <errno.h>
#include <stdatomic.h>

#include <ims/ims_chip.h>

#include "os/ims/ims_chip_internal.h"
#include "util/alloc.h"
#include "util/lock.h"
#include "util/log.h"

/* Per-slot state, for the control word: who wants the slot masked. */
enum {
	SLOT_USED = 1u << 0,		/* a vector owns the slot */
	SLOT_CORE_MASKED = 1u << 1,	/* the interrupt core masked it */
	SLOT_HELD = 1u << 2,		/* ims_array_chip_hold() holds it masked */
	/*
	 * What this chip last wrote to the slot, so that it need not write it
	 * again: the message is all zero; the slot is as a free one is left
	 * (masked, no PASID, zero message). Nothing else writes a slot.
	 */
	SLOT_MSG_ZERO = 1u << 3,
	SLOT_CLEAN = 1u << 4,
};

struct ims_array_chip {
	struct ims_array_chip_info info;
	atomic_uint_fast64_t io_errors;
	/*
	 * ctrl_lock guards state[] and orders control-word writes, so the
	 * core's mask and a hold never undo each other. Taken under a
	 * descriptor lock, before the hardware's locks.
	 */
	ims_spinlock_t ctrl_lock;
	uint8_t *state;
};

int ims__chip_check_io(const struct ims_io_access *io, const char *what)
{
	if (!io->read32 || !io->write32)
		return ims__error(-EINVAL, "%s: the accessor needs read32 and write32", what);
	return 0;
}

int ims__chip_check_cookie(union ims_msi_cookie icookie, const char *what, uint32_t index)
{
	if (icookie.value & ~(IMS_CHIP_PASID_VALID | IMS_CHIP_PASID_MAX))
		return ims__error(-EINVAL, "%s: index %u: instance cookie 0x%llx is not a PASID "
				  "(ims_chip_pasid_cookie)", what, index,
				  (unsigned long long)icookie.value);
	return 0;
}

uint32_t ims__chip_ctrl(union ims_msi_cookie icookie, bool masked)
{
	uint32_t ctrl = masked ? IMS_SLOT_CTRL_MASKBIT : 0;

	if (icookie.value & IMS_CHIP_PASID_VALID)
		ctrl |= IMS_SLOT_CTRL_PASID_EN |
			(uint32_t)(icookie.value & IMS_CHIP_PASID_MAX) << IMS_SLOT_CTRL_PASID_SHIFT;
	return ctrl;
}

IMS_API int ims_array_chip_create(const struct ims_array_chip_info *info, struct ims_array_chip **out)
{
	struct ims_array_chip *c;
	int ret;

	if (!info || !out)
		return ims__error(-EINVAL, "array_chip_create: NULL %s", info ? "out" : "info");
	ret = ims__chip_check_io(&info->io, "array_chip_create");
	if (ret)
		return ret;
	if (!info->nr_slots || info->nr_slots > IMS_MSI_MAX_SOFT_INDEX)
		return ims__error(-EINVAL, "array_chip_create: %u slots is not 1..%u", info->nr_slots,
				  IMS_MSI_MAX_SOFT_INDEX);
	if (info->offset % IMS_SLOT_SIZE)
		return ims__error(-EINVAL, "array_chip_create: array offset 0x%llx is not 16-byte "
				  "aligned", (unsigned long long)info->offset);
	c = ims__zalloc(sizeof(*c), "ims_array_chip");
	if (!c)
		return -ENOMEM;
	c->state = ims__zalloc(info->nr_slots, "ims_array_chip_state");
	if (!c->state) {
		ims__free(c, sizeof(*c));
		return -ENOMEM;
	}
	c->info = *info;
	atomic_init(&c->io_errors, 0);
	ims__spin_init(&c->ctrl_lock);
	*out = c;
	return 0;
}

IMS_API void ims_array_chip_destroy(struct ims_array_chip *c)
{
	if (!c)
		return;
	ims__free(c->state, c->info.nr_slots);
	ims__free(c, sizeof(*c));
}

IMS_API uint64_t ims_array_chip_io_errors(const struct ims_array_chip *c)
{
	return c ? atomic_load(&c->io_errors) : 0;
}

static int io_failed(struct ims_array_chip *c, int ret, uint64_t off, const char *what)
{
	atomic_fetch_add(&c->io_errors, 1);
	ims__warn_once("IMS array chip: %s at BAR offset 0x%llx failed (%d); later failures are "
		       "only counted", what, (unsigned long long)off, ret);
	return ims__error(-EIO, "IMS array chip: %s at BAR offset 0x%llx failed (%d)", what,
			  (unsigned long long)off, ret);
}

static int wr(struct ims_array_chip *c, uint64_t slot, uint32_t field, uint32_t val)
{
	uint64_t off = slot + field;
	int ret = c->info.io.write32(c->info.io.ctx, off, val);

	return ret ? io_failed(c, ret, off, "register write") : 0;
}

/* A read of the slot: the device has taken every earlier write. */
static int flush(struct ims_array_chip *c, uint64_t slot, uint32_t field, uint32_t *val)
{
	uint32_t v;
	int ret = c->info.io.read32(c->info.io.ctx, slot + field, &v);

	if (ret)
		return io_failed(c, ret, slot + field, "flushing read");
	if (val)
		*val = v;
	return 0;
}

/* Masked, address and data 0, then the control word ctrl (masked too). */
static int slot_reset(struct ims_array_chip *c, uint64_t slot, uint32_t ctrl)
{
	int ret = wr(c, slot, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);

	ret = ret ? ret : wr(c, slot, IMS_SLOT_ADDR_LO, 0);
	ret = ret ? ret : wr(c, slot, IMS_SLOT_ADDR_HI, 0);
	ret = ret ? ret : wr(c, slot, IMS_SLOT_DATA, 0);
	ret = ret ? ret : wr(c, slot, IMS_SLOT_CTRL, ctrl);
	return ret;
}

static struct ims_array_chip *chip_of(const struct ims_irq_data *d)
{
	return ims_msi_domain_chip_data(d);
}

/*
 * The one place that writes a used slot's control word: masked while the
 * core masks it or a hold is on, with the vector's PASID either way.
 */
static void ctrl_update_locked(struct ims_array_chip *c, uint32_t index, union ims_msi_cookie icookie)
{
	uint64_t slot = c->info.offset + (uint64_t)index * IMS_SLOT_SIZE;
	bool masked = c->state[index] & (SLOT_CORE_MASKED | SLOT_HELD);

	ims__assert_spin_held(&c->ctrl_lock);
	if (!wr(c, slot, IMS_SLOT_CTRL, ims__chip_ctrl(icookie, masked)))
		flush(c, slot, IMS_SLOT_CTRL, NULL);
}

static void set_core_mask(struct ims_irq_data *d, bool masked)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(d);
	struct ims_array_chip *c = chip_of(d);

	ims__spin_lock(&c->ctrl_lock);
	if (masked)
		c->state[desc->index] |= SLOT_CORE_MASKED;
	else
		c->state[desc->index] &= (uint8_t)~SLOT_CORE_MASKED;
	ctrl_update_locked(c, desc->index, desc->icookie);
	ims__spin_unlock(&c->ctrl_lock);
}

static void array_mask(struct ims_irq_data *d)
{
	set_core_mask(d, true);
}

static void array_unmask(struct ims_irq_data *d)
{
	set_core_mask(d, false);
}

IMS_API int ims_array_chip_hold(struct ims_array_chip *c, uint32_t slot, bool hold,
				union ims_msi_cookie icookie)
{
	int ret = 0;

	if (!c || slot >= c->info.nr_slots)
		return ims__error(-EINVAL, "array_chip_hold: no slot %u", slot);
	ims__spin_lock(&c->ctrl_lock);
	if (!(c->state[slot] & SLOT_USED)) {
		ret = ims__error(-EINVAL, "array_chip_hold: slot %u has no vector", slot);
	} else if (!!(c->state[slot] & SLOT_HELD) != hold) {
		c->state[slot] ^= SLOT_HELD;
		ctrl_update_locked(c, slot, icookie);
	}
	ims__spin_unlock(&c->ctrl_lock);
	return ret;
}

static void array_write_msg(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(d);
	struct ims_array_chip *c = chip_of(d);
	uint64_t slot = desc->dcookie.value;

	bool zero = !msg->address_lo && !msg->address_hi && !msg->data;
	uint8_t *st = &c->state[desc->index];

	ims__spin_lock(&c->ctrl_lock);
	if (!zero || !(*st & SLOT_MSG_ZERO)) {
		bool ok = !wr(c, slot, IMS_SLOT_ADDR_LO, msg->address_lo) &&
			  !wr(c, slot, IMS_SLOT_ADDR_HI, msg->address_hi) &&
			  !wr(c, slot, IMS_SLOT_DATA, msg->data) && !flush(c, slot, IMS_SLOT_DATA, NULL);

		*st = (uint8_t)((*st & ~SLOT_MSG_ZERO) | (ok && zero ? SLOT_MSG_ZERO : 0));
	}
	ims__spin_unlock(&c->ctrl_lock);
}

/*
 * The vector's slot is its index. Reset it and give it the vector's PASID,
 * masked, and read the control word back: a device that does not keep the
 * PASID could not refuse another ADI's signals, so the vector is refused.
 */
static int array_prepare(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
			 struct ims_msi_desc *desc)
{
	struct ims_array_chip *c = ims_msi_domain_data(d);
	uint32_t want = ims__chip_ctrl(desc->icookie, true), got = 0;
	uint64_t slot;
	int ret;

	(void)info;
	if (desc->index >= c->info.nr_slots)
		return ims__error(-ENOSPC, "%s: slot %u beyond the array's %u", ims_irq_domain_name(d),
				  desc->index, c->info.nr_slots);
	ret = ims__chip_check_cookie(desc->icookie, ims_irq_domain_name(d), desc->index);
	if (ret)
		return ret;
	slot = c->info.offset + (uint64_t)desc->index * IMS_SLOT_SIZE;
	/* A slot this chip left clean is masked with a zero message already:
	 * the control word alone gives it the PASID. */
	if (c->state[desc->index] & SLOT_CLEAN)
		ret = wr(c, slot, IMS_SLOT_CTRL, want);
	else
		ret = slot_reset(c, slot, want);
	c->state[desc->index] = 0;
	ret = ret ? ret : flush(c, slot, IMS_SLOT_CTRL, &got);
	if (!ret && got != want)
		ret = ims__error(-EIO, "%s: slot %u kept control 0x%x, not 0x%x: the device does not "
				 "hold the PASID", ims_irq_domain_name(d), desc->index, got, want);
	if (ret) {
		/* Leave the slot as a free one is, as far as the device lets us. */
		if (!slot_reset(c, slot, IMS_SLOT_CTRL_MASKBIT) && !flush(c, slot, IMS_SLOT_CTRL, NULL))
			c->state[desc->index] = SLOT_CLEAN | SLOT_MSG_ZERO;
		return ret;
	}
	ims__spin_lock(&c->ctrl_lock);
	c->state[desc->index] = SLOT_USED | SLOT_CORE_MASKED | SLOT_MSG_ZERO;
	ims__spin_unlock(&c->ctrl_lock);
	desc->dcookie.value = slot;
	return 0;
}

static void array_free_desc(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	struct ims_array_chip *c = ims_msi_domain_data(d);

	uint64_t slot = desc->dcookie.value;
	int ret;

	ims__spin_lock(&c->ctrl_lock);
	/* With the message zero already, masking drops the PASID and is all. */
	if (c->state[desc->index] & SLOT_MSG_ZERO)
		ret = wr(c, slot, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	else
		ret = slot_reset(c, slot, IMS_SLOT_CTRL_MASKBIT);
	ret = ret ? ret : flush(c, slot, IMS_SLOT_CTRL, NULL);
	c->state[desc->index] = ret ? 0 : SLOT_CLEAN | SLOT_MSG_ZERO;
	ims__spin_unlock(&c->ctrl_lock);
}

static const struct ims_msi_domain_template array_template = {
	.name = "IMS-array",
	.type = IMS_MSI_TYPE_IMS,
	.chip = {
		.irq_mask = array_mask,
		.irq_unmask = array_unmask,
		.irq_write_msi_msg = array_write_msg,
	},
	.prepare_desc = array_prepare,
	.free_desc = array_free_desc,
};

IMS_API const struct ims_msi_domain_template *ims_array_chip_template(void)
{
	return &array_template;
}

/*
 * The IMS chip of the system-memory (queue) variant. A vector is a queue;
 * its message lives in a shadow slot in system memory that the device
 * reads only when the LOAD command names the queue. Mask, unmask and
 * message writes change the shadow only, under the chip's bus lock, and
 * the sync-unlock issues LOAD and reports a failed one: the interrupt core
 * then puts the shadow back and the device keeps the message it had.
 *
 * The data path may mask a vector without the bus lock (a lazily disabled
 * interrupt that fires): that changes only the shadow, which the next
 * LOAD takes; until then the device keeps signalling, and the flow keeps
 * those interrupts pending, which loses nothing.
 */
#include <errno.h>
#include <stdatomic.h>

#include <ims/ims_chip.h>

#include "os/ims/ims_chip_internal.h"
#include "util/alloc.h"
#include "util/lock.h"
#include "util/log.h"

struct ims_queue_chip {
	struct ims_queue_chip_info info;
	/*
	 * The bus lock: serializes LOAD commands (the command and status
	 * registers are one pair for the whole device) and the shadow
	 * changes that each LOAD pushes. Taken after the device lock and
	 * before any descriptor lock.
	 */
	struct ims_mutex bus_lock;
	atomic_uint_fast64_t loads;
	atomic_uint_fast64_t load_errors;
};

IMS_API int ims_queue_chip_create(const struct ims_queue_chip_info *info, struct ims_queue_chip **out)
{
	struct ims_queue_chip *c;
	int ret;

	if (!info || !out)
		return ims__error(-EINVAL, "queue_chip_create: NULL %s", info ? "out" : "info");
	ret = ims__chip_check_io(&info->regs, "queue_chip_create: command registers");
	ret = ret ? ret : ims__chip_check_io(&info->shadows, "queue_chip_create: shadow memory");
	if (ret)
		return ret;
	if (!info->nr_queues || info->nr_queues > IMS_MSI_MAX_SOFT_INDEX ||
	    info->nr_queues - 1 > IMS_QUEUE_CMD_QUEUE_MASK)
		return ims__error(-EINVAL, "queue_chip_create: %u queues is not 1..%u", info->nr_queues,
				  IMS_MSI_MAX_SOFT_INDEX);
	c = ims__zalloc(sizeof(*c), "ims_queue_chip");
	if (!c)
		return -ENOMEM;
	c->info = *info;
	ims__mutex_init(&c->bus_lock);
	atomic_init(&c->loads, 0);
	atomic_init(&c->load_errors, 0);
	*out = c;
	return 0;
}

IMS_API void ims_queue_chip_destroy(struct ims_queue_chip *c)
{
	if (!c)
		return;
	ims__mutex_destroy(&c->bus_lock);
	ims__free(c, sizeof(*c));
}

IMS_API uint64_t ims_queue_chip_loads(const struct ims_queue_chip *c)
{
	return c ? atomic_load(&c->loads) : 0;
}

IMS_API uint64_t ims_queue_chip_load_errors(const struct ims_queue_chip *c)
{
	return c ? atomic_load(&c->load_errors) : 0;
}

/* A shadow is memory: a failing accessor means a bad mapping, counted with the loads. */
static void shadow_wr(struct ims_queue_chip *c, uint64_t shadow, uint32_t field, uint32_t val)
{
	int ret = c->info.shadows.write32(c->info.shadows.ctx, shadow + field, val);

	if (ret) {
		atomic_fetch_add(&c->load_errors, 1);
		ims__warn_once("IMS queue chip: shadow write at 0x%llx failed (%d)",
			       (unsigned long long)(shadow + field), ret);
	}
}

static void shadow_reset(struct ims_queue_chip *c, uint64_t shadow, uint32_t ctrl)
{
	shadow_wr(c, shadow, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	shadow_wr(c, shadow, IMS_SLOT_ADDR_LO, 0);
	shadow_wr(c, shadow, IMS_SLOT_ADDR_HI, 0);
	shadow_wr(c, shadow, IMS_SLOT_DATA, 0);
	shadow_wr(c, shadow, IMS_SLOT_CTRL, ctrl);
}

/* Make the device take queue's shadow: LOAD, then the status register. */
static int load_locked(struct ims_queue_chip *c, uint32_t queue)
{
	uint32_t cmd = IMS_QUEUE_CMD_OP_LOAD_IRQ << IMS_QUEUE_CMD_OP_SHIFT | queue;
	uint32_t status = IMS_QUEUE_STATUS_DEVICE_ERROR;
	int ret;

	ims__assert_mutex_held(&c->bus_lock);
	atomic_fetch_add(&c->loads, 1);
	ret = c->info.regs.write32(c->info.regs.ctx, IMS_QUEUE_REG_CMD, cmd);
	if (!ret)
		ret = c->info.regs.read32(c->info.regs.ctx, IMS_QUEUE_REG_STATUS, &status);
	if (ret || status != IMS_QUEUE_STATUS_OK) {
		atomic_fetch_add(&c->load_errors, 1);
		if (ret)
			return ims__error(-EIO, "IMS queue chip: LOAD of queue %u: register access "
					  "failed (%d)", queue, ret);
		return ims__error(-EIO, "IMS queue chip: LOAD of queue %u failed: status %u (%s); "
				  "the device keeps the previous message", queue, status,
				  status == IMS_QUEUE_STATUS_INVALID ? "invalid" : "device error");
	}
	return 0;
}

static struct ims_queue_chip *chip_of(const struct ims_irq_data *d)
{
	return ims_msi_domain_chip_data(d);
}

static void queue_mask(struct ims_irq_data *d)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(d);

	shadow_wr(chip_of(d), desc->dcookie.value, IMS_SLOT_CTRL, ims__chip_ctrl(desc->icookie, true));
}

static void queue_unmask(struct ims_irq_data *d)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(d);

	shadow_wr(chip_of(d), desc->dcookie.value, IMS_SLOT_CTRL, ims__chip_ctrl(desc->icookie, false));
}

static void queue_write_msg(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(d);
	struct ims_queue_chip *c = chip_of(d);

	shadow_wr(c, desc->dcookie.value, IMS_SLOT_ADDR_LO, msg->address_lo);
	shadow_wr(c, desc->dcookie.value, IMS_SLOT_ADDR_HI, msg->address_hi);
	shadow_wr(c, desc->dcookie.value, IMS_SLOT_DATA, msg->data);
}

static void queue_bus_lock(struct ims_irq_data *d)
{
	ims__mutex_lock(&chip_of(d)->bus_lock);
}

static int queue_bus_sync_unlock(struct ims_irq_data *d)
{
	struct ims_queue_chip *c = chip_of(d);
	int ret = load_locked(c, ims_msi_irq_desc(d)->index);

	ims__mutex_unlock(&c->bus_lock);
	return ret;
}

/*
 * Reset the queue's shadow with the vector's PASID, masked, and load it.
 * If the device fails the LOAD it still holds the free queue's state; so
 * does the shadow again, and the vector is refused.
 */
static int queue_prepare(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
			 struct ims_msi_desc *desc)
{
	struct ims_queue_chip *c = ims_msi_domain_data(d);
	uint64_t shadow = (uint64_t)desc->index * IMS_SLOT_SIZE;
	int ret;

	(void)info;
	if (desc->index >= c->info.nr_queues)
		return ims__error(-ENOSPC, "%s: queue %u beyond the device's %u", ims_irq_domain_name(d),
				  desc->index, c->info.nr_queues);
	ret = ims__chip_check_cookie(desc->icookie, ims_irq_domain_name(d), desc->index);
	if (ret)
		return ret;
	ims__mutex_lock(&c->bus_lock);
	shadow_reset(c, shadow, ims__chip_ctrl(desc->icookie, true));
	ret = load_locked(c, desc->index);
	if (ret)
		shadow_reset(c, shadow, IMS_SLOT_CTRL_MASKBIT);
	ims__mutex_unlock(&c->bus_lock);
	if (ret)
		return ret;
	desc->dcookie.value = shadow;
	return 0;
}

static void queue_free_desc(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	struct ims_queue_chip *c = ims_msi_domain_data(d);

	ims__mutex_lock(&c->bus_lock);
	shadow_reset(c, desc->dcookie.value, IMS_SLOT_CTRL_MASKBIT);
	if (load_locked(c, desc->index))
		ims__warn("%s: queue %u: the device did not take the reset; it keeps its last "
			  "message, masked", ims_irq_domain_name(d), desc->index);
	ims__mutex_unlock(&c->bus_lock);
}

static const struct ims_msi_domain_template queue_template = {
	.name = "IMS-queue",
	.type = IMS_MSI_TYPE_IMS,
	.chip = {
		.irq_mask = queue_mask,
		.irq_unmask = queue_unmask,
		.irq_write_msi_msg = queue_write_msg,
		.irq_bus_lock = queue_bus_lock,
		.irq_bus_sync_unlock = queue_bus_sync_unlock,
	},
	.prepare_desc = queue_prepare,
	.free_desc = queue_free_desc,
};

IMS_API const struct ims_msi_domain_template *ims_queue_chip_template(void)
{
	return &queue_template;
}

/*
 * Chip operations through the hierarchy. A level without an op uses the
 * nearest parent level that has it. Each hardware transition (mask, unmask)
 * happens in exactly one function here, which also keeps the descriptor's
 * MASKED state, so the state and the hardware never disagree.
 */
#include <errno.h>

#include "os/irq/internal.h"
#include "util/log.h"

enum chip_op {
	OP_MASK, OP_UNMASK, OP_ACK, OP_EOI, OP_SET_AFFINITY, OP_RETRIGGER, OP_COMPOSE,
	OP_BUS_LOCK,
};

static bool chip_has(const struct ims_irq_chip *c, enum chip_op op)
{
	if (!c)
		return false;
	switch (op) {
	case OP_MASK: return c->irq_mask;
	case OP_UNMASK: return c->irq_unmask;
	case OP_ACK: return c->irq_ack;
	case OP_EOI: return c->irq_eoi;
	case OP_SET_AFFINITY: return c->irq_set_affinity;
	case OP_RETRIGGER: return c->irq_retrigger;
	case OP_COMPOSE: return c->irq_compose_msi_msg;
	case OP_BUS_LOCK: return c->irq_bus_lock && c->irq_bus_sync_unlock;
	}
	return false;
}

/* Nearest level at or below `from` whose chip has `op`, or -1. */
static int find_level(const struct ims_irq_desc *desc, unsigned int from, enum chip_op op)
{
	struct ims_irq_domain *dom = ims__irq_level_domain(desc, from);
	unsigned int lvl = from;

	while (dom && !chip_has(dom->chip, op)) {
		dom = dom->parent;
		lvl++;
	}
	return dom ? (int)lvl : -1;
}

#define FIND_LEVEL(desc, from, op) find_level((desc), (from), OP_##op)

static const enum chip_op cached_op[IMS_OP_NR_CACHED] = {
	[IMS_OP_MASK] = OP_MASK, [IMS_OP_UNMASK] = OP_UNMASK, [IMS_OP_ACK] = OP_ACK,
	[IMS_OP_EOI] = OP_EOI,
};

void ims__irq_domain_cache_ops(struct ims_irq_domain *d)
{
	for (unsigned int i = 0; i < IMS_OP_NR_CACHED; i++) {
		if (chip_has(d->chip, cached_op[i])) {
			d->op_chip[i] = d->chip;
			d->op_level[i] = 0;
		} else if (d->parent && d->parent->op_chip[i]) {
			d->op_chip[i] = d->parent->op_chip[i];
			d->op_level[i] = (uint8_t)(d->parent->op_level[i] + 1);
		} else {
			d->op_chip[i] = NULL;
			d->op_level[i] = 0;
		}
	}
}

/* The data path's ops, from the outermost level: one load for the chip. */
#define CACHED_OP(desc, op, fn)                                                         \
	do {                                                                            \
		struct ims_irq_domain *dom_ = (desc)->domain;                           \
		if (dom_) {                                                             \
			if (dom_->op_chip[IMS_OP_##op])                                 \
				dom_->op_chip[IMS_OP_##op]->fn(                         \
					&(desc)->data[dom_->op_level[IMS_OP_##op]]);    \
		} else {                                                                \
			int lvl_ = FIND_LEVEL(desc, 0, op);                             \
			if (lvl_ >= 0)                                                  \
				LEVEL_CHIP(desc, lvl_)->fn(&(desc)->data[lvl_]);        \
		}                                                                       \
	} while (0)

#define LEVEL_CHIP(desc, lvl) (ims__irq_level_domain((desc), (unsigned int)(lvl))->chip)

void ims__irq_mask_locked(struct ims_irq_desc *desc)
{
	ims__assert_spin_held(&desc->lock);
	if (ims__irqs(desc) & IMS_IRQS_MASKED)
		return;
	CACHED_OP(desc, MASK, irq_mask);
	ims__irqs_set_locked(desc, IMS_IRQS_MASKED);
}

void ims__irq_unmask_locked(struct ims_irq_desc *desc)
{
	ims__assert_spin_held(&desc->lock);
	if (!(ims__irqs(desc) & IMS_IRQS_MASKED))
		return;
	/* Clear the state first: an unmask may deliver at once (a pending
	 * bit), and the flow that runs must see the line unmasked. */
	ims__irqs_clear_locked(desc, IMS_IRQS_MASKED);
	CACHED_OP(desc, UNMASK, irq_unmask);
}

void ims__irq_ack_locked(struct ims_irq_desc *desc)
{
	CACHED_OP(desc, ACK, irq_ack);
}

void ims__irq_eoi_locked(struct ims_irq_desc *desc)
{
	CACHED_OP(desc, EOI, irq_eoi);
}

int ims__irq_startup_locked(struct ims_irq_core *core, struct ims_irq_desc *desc)
{
	int ret;

	(void)core;
	ims__assert_spin_held(&desc->lock);
	ret = ims__irq_activate_locked(desc);
	if (ret)
		return ret;
	desc->depth = 0;
	ims__irqs_set_locked(desc, IMS_IRQS_STARTED);
	ims__irqs_clear_locked(desc, IMS_IRQS_DISABLED | IMS_IRQS_STORM);
	ims__irq_unmask_locked(desc);
	return 0;
}

void ims__irq_shutdown_locked(struct ims_irq_desc *desc)
{
	ims__assert_spin_held(&desc->lock);
	ims__irq_mask_locked(desc);
	desc->depth = 1;
	ims__irqs_set_locked(desc, IMS_IRQS_DISABLED);
	ims__irqs_clear_locked(desc, IMS_IRQS_STARTED | IMS_IRQS_PENDING | IMS_IRQS_REPLAY);
	ims__irq_deactivate_locked(desc);
}

/* ---- explicit delegation, for chips that act and then pass on ---- */

static int parent_level(struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);

	return d->level + 1u < ims__irq_desc_nlevels(desc) ? d->level + 1 : -1;
}

#define PARENT_CALL(d, op, opid, ...)                                              \
	do {                                                                 \
		struct ims_irq_desc *desc_ = ims__irq_data_desc(d);          \
		int from_ = parent_level(d), lvl_;                           \
		if (from_ < 0)                                               \
			break;                                               \
		lvl_ = find_level(desc_, (unsigned int)from_, OP_##opid);           \
		if (lvl_ >= 0)                                               \
			LEVEL_CHIP(desc_, lvl_)->op(&desc_->data[lvl_], ##__VA_ARGS__); \
	} while (0)

IMS_API void ims_irq_chip_mask_parent(struct ims_irq_data *d)
{
	PARENT_CALL(d, irq_mask, MASK);
}

IMS_API void ims_irq_chip_unmask_parent(struct ims_irq_data *d)
{
	PARENT_CALL(d, irq_unmask, UNMASK);
}

IMS_API void ims_irq_chip_ack_parent(struct ims_irq_data *d)
{
	PARENT_CALL(d, irq_ack, ACK);
}

IMS_API void ims_irq_chip_eoi_parent(struct ims_irq_data *d)
{
	PARENT_CALL(d, irq_eoi, EOI);
}

IMS_API int ims_irq_chip_set_affinity_parent(struct ims_irq_data *d, const struct ims_cpumask *mask,
					     bool force)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);
	int from = parent_level(d), lvl;

	if (from < 0)
		return ims__error(-ENOSYS, "irq %u: no parent level can set affinity", desc->irq);
	lvl = FIND_LEVEL(desc, (unsigned int)from, SET_AFFINITY);
	if (lvl < 0)
		return ims__error(-ENOSYS, "irq %u: no parent level can set affinity", desc->irq);
	return LEVEL_CHIP(desc, lvl)->irq_set_affinity(&desc->data[lvl], mask, force);
}

IMS_API int ims_irq_chip_retrigger_parent(struct ims_irq_data *d)
{
	struct ims_irq_desc *desc = ims__irq_data_desc(d);
	int from = parent_level(d), lvl;

	if (from < 0)
		return -ENOSYS;
	lvl = FIND_LEVEL(desc, (unsigned int)from, RETRIGGER);
	if (lvl < 0)
		return -ENOSYS;
	return LEVEL_CHIP(desc, lvl)->irq_retrigger(&desc->data[lvl]);
}

static int compose_from(struct ims_irq_desc *desc, int from, struct ims_msi_msg *msg)
{
	int lvl;

	if (from < 0 || !desc->domain)
		return ims__error(-ENOSYS, "irq %u: no level can compose a message", desc->irq);
	lvl = FIND_LEVEL(desc, (unsigned int)from, COMPOSE);
	if (lvl < 0)
		return ims__error(-ENOSYS, "irq %u: no level can compose a message", desc->irq);
	msg->address_lo = msg->address_hi = msg->data = 0;
	LEVEL_CHIP(desc, lvl)->irq_compose_msi_msg(&desc->data[lvl], msg);
	return 0;
}

IMS_API int ims_irq_chip_compose_msi_msg(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	return compose_from(ims__irq_data_desc(d), d->level, msg);
}

IMS_API int ims_irq_chip_compose_msi_msg_parent(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	return compose_from(ims__irq_data_desc(d), parent_level(d), msg);
}

/* Nearest level at or below 0 with set_affinity, for manage.c. */
int ims__irq_affinity_level(struct ims_irq_desc *desc)
{
	return desc->domain ? FIND_LEVEL(desc, 0, SET_AFFINITY) : -1;
}

/* Try a hardware resend; 0 if the chip did it. */
int ims__irq_retrigger_locked(struct ims_irq_desc *desc)
{
	int lvl = desc->domain ? FIND_LEVEL(desc, 0, RETRIGGER) : -1;

	if (lvl < 0)
		return -ENOSYS;
	return LEVEL_CHIP(desc, lvl)->irq_retrigger(&desc->data[lvl]);
}

void ims__irq_bus_lock(struct ims_irq_desc *desc)
{
	int lvl = desc->domain ? FIND_LEVEL(desc, 0, BUS_LOCK) : -1;

	if (lvl >= 0)
		LEVEL_CHIP(desc, lvl)->irq_bus_lock(&desc->data[lvl]);
}

int ims__irq_bus_sync_unlock(struct ims_irq_desc *desc)
{
	int lvl = desc->domain ? FIND_LEVEL(desc, 0, BUS_LOCK) : -1;

	return lvl >= 0 ? LEVEL_CHIP(desc, lvl)->irq_bus_sync_unlock(&desc->data[lvl]) : 0;
}

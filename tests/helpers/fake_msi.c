/*
 * Test doubles for the device MSI layer; see fake_msi.h.
 */
#include <errno.h>
#include <string.h>

#include "helpers/fake_msi.h"

static int parent_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct fake_parent *p = ims_irq_domain_host_data(d);
	struct ims_msi_alloc_info *info = arg;

	if (p->capacity && atomic_load(&p->live) + nr > p->capacity)
		return -ENOSPC;
	if (info)
		atomic_store(&p->last_rid, info->rid);
	for (unsigned int i = 0; i < nr; i++)
		ims_irq_domain_set_info(d, virq + i, atomic_fetch_add(&p->next_hwirq, 1), p);
	atomic_fetch_add(&p->live, nr);
	return 0;
}

static void parent_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	struct fake_parent *p = ims_irq_domain_host_data(d);

	(void)virq;
	atomic_fetch_sub(&p->live, nr);
}

static int parent_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct fake_parent *p = ims_irq_domain_host_data(d);

	(void)reserve;
	ims_irq_data_set_effective_cpu(irqd, 0);
	atomic_fetch_add(&p->active, 1);
	return 0;
}

static void parent_deactivate(struct ims_irq_domain *d, struct ims_irq_data *irqd)
{
	struct fake_parent *p = ims_irq_domain_host_data(d);

	(void)irqd;
	atomic_fetch_sub(&p->active, 1);
}

/* A remappable-format message naming the entry by the level's hwirq. */
static void parent_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	int cpu = ims_irq_data_effective_cpu(d);

	msg->address_lo = 0xfee00010u | ((d->hwirq & 0x7fff) << 5);
	msg->address_hi = 0;
	msg->data = (uint32_t)(cpu > 0 ? cpu : 0);
}

static int parent_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *m, bool force)
{
	struct fake_parent *p = d->chip_data;

	(void)force;
	if (p->affinity_ret < 0)
		return p->affinity_ret;
	ims_irq_data_set_effective_cpu(d, ims_cpumask_next(m, 0));
	return p->affinity_ret;
}

static const struct ims_irq_domain_ops parent_ops = {
	.alloc = parent_alloc,
	.free = parent_free,
	.activate = parent_activate,
	.deactivate = parent_deactivate,
};

static const struct ims_irq_chip parent_chip = {
	.name = "fake-parent",
	.irq_compose_msi_msg = parent_compose,
	.irq_set_affinity = parent_set_affinity,
};

int fake_parent_create(struct ims_irq_core *core, const char *name, bool isolated,
		       struct fake_parent *p)
{
	struct ims_irq_domain_info info = {
		.name = name, .ops = &parent_ops, .chip = &parent_chip, .host_data = p,
		.flags = IMS_IRQ_DOMAIN_FLAG_MSI_PARENT | (isolated ? IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI : 0),
	};

	memset(p, 0, sizeof(*p));
	return ims_irq_domain_create(core, &info, &p->domain);
}

/* ---- the IMS array chip ---- */

static struct fake_ims_slot *slot_of(struct ims_irq_data *d)
{
	return ims_msi_irq_desc(d)->dcookie.ptr;
}

static void ims_mask(struct ims_irq_data *d)
{
	struct fake_ims *ims = ims_msi_domain_chip_data(d);

	slot_of(d)->ctrl |= 1;
	atomic_fetch_add(&ims->masks, 1);
}

static void ims_unmask(struct ims_irq_data *d)
{
	struct fake_ims *ims = ims_msi_domain_chip_data(d);

	slot_of(d)->ctrl &= ~1u;
	atomic_fetch_add(&ims->unmasks, 1);
}

static void ims_write(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct fake_ims *ims = ims_msi_domain_chip_data(d);
	struct fake_ims_slot *s = slot_of(d);

	s->addr_lo = msg->address_lo;
	s->addr_hi = msg->address_hi;
	s->data = msg->data;
	atomic_fetch_add(&ims->writes, 1);
}

/* The domain cookie is the slot's address, as a real IMS array chip does. */
static int ims_prepare(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
		       struct ims_msi_desc *desc)
{
	struct fake_ims *ims = ims_msi_domain_data(d);

	(void)info;
	if (ims->refuse_prepare)
		return ims->refuse_prepare;
	if (desc->index >= FAKE_IMS_SLOTS)
		return -ENOSPC;
	desc->dcookie.ptr = &ims->slot[desc->index];
	atomic_fetch_add(&ims->prepared, 1);
	return 0;
}

/* Slots go back to masked with address and data zero. */
static void ims_free_desc(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	struct fake_ims *ims = ims_msi_domain_data(d);
	struct fake_ims_slot *s = desc->dcookie.ptr;

	if (s) {
		memset(s, 0, sizeof(*s));
		s->ctrl = 1;
	}
	atomic_fetch_add(&ims->freed, 1);
}

const struct ims_msi_domain_template fake_ims_template = {
	.name = "IMS-fake",
	.type = IMS_MSI_TYPE_IMS,
	.chip = {
		.irq_mask = ims_mask,
		.irq_unmask = ims_unmask,
		.irq_write_msi_msg = ims_write,
	},
	.prepare_desc = ims_prepare,
	.free_desc = ims_free_desc,
};

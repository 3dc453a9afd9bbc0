/*
 * The test fabric; see ims_fabric.h.
 */
#include <errno.h>
#include <string.h>

#include "helpers/ims_fabric.h"

static int fab_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct fabric *f = ims_irq_domain_host_data(d);
	struct ims_msi_alloc_info *info = arg;

	if (virq + nr > FAB_MAX_IRQS)
		return -ENOSPC;
	for (unsigned int i = 0; i < nr; i++) {
		atomic_store(&f->rid[virq + i], info ? info->rid : -1);
		ims_irq_domain_set_info(d, virq + i, virq + i, f);
	}
	atomic_fetch_add(&f->live, nr);
	return 0;
}

static void fab_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	struct fabric *f = ims_irq_domain_host_data(d);

	for (unsigned int i = 0; i < nr; i++)
		atomic_store(&f->rid[virq + i], -1);
	atomic_fetch_sub(&f->live, nr);
}

static int fab_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	(void)d;
	(void)reserve;
	ims_irq_data_set_effective_cpu(irqd, 0);
	return 0;
}

static void fab_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	msg->address_lo = 0xfee00010u | (d->hwirq & 0x7fff) << 5 | ((d->hwirq >> 15) & 1) << 2;
	msg->address_hi = 0;
	msg->data = 0;
}

/* Remapping moves an interrupt in its own entry: the device's message stays. */
static int fab_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *m, bool force)
{
	(void)force;
	ims_irq_data_set_effective_cpu(d, ims_cpumask_next(m, 0));
	return IMS_SET_AFFINITY_DONE;
}

static const struct ims_irq_domain_ops fab_ops = {
	.alloc = fab_alloc,
	.free = fab_free,
	.activate = fab_activate,
};

static const struct ims_irq_chip fab_chip = {
	.name = "fabric",
	.irq_compose_msi_msg = fab_compose,
	.irq_set_affinity = fab_set_affinity,
};

static int init(struct fabric *f, struct ims_irq_core *core, const char *name, bool isolated)
{
	struct ims_irq_domain_info info = {
		.name = name, .ops = &fab_ops, .chip = &fab_chip, .host_data = f,
		.flags = IMS_IRQ_DOMAIN_FLAG_MSI_PARENT |
			 (isolated ? IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI : 0),
	};

	memset(f, 0, sizeof(*f));
	for (unsigned int i = 0; i < FAB_MAX_IRQS; i++)
		atomic_init(&f->rid[i], -1);
	ims__spin_init(&f->lock);
	f->core = core;
	return ims_irq_domain_create(core, &info, &f->domain);
}

int fabric_init(struct fabric *f, struct ims_irq_core *core, const char *name)
{
	return init(f, core, name, true);
}

int fabric_init_bare(struct fabric *f, struct ims_irq_core *core, const char *name)
{
	return init(f, core, name, false);
}

int fabric_fini(struct fabric *f)
{
	return ims_irq_domain_remove(f->domain);
}

static void fab_sink_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	struct fabric *f = ctx;

	ims__spin_lock(&f->lock);
	if (f->tail - f->head < FAB_RING)
		f->ring[f->tail++ % FAB_RING] = *w;
	else
		f->overflow++;
	ims__spin_unlock(&f->lock);
	atomic_fetch_add(&f->sent, 1);
}

void fabric_sink(struct fabric *f, struct ims_hw_msi_sink *sink)
{
	sink->fn = fab_sink_fn;
	sink->ctx = f;
}

unsigned int fabric_queued(struct fabric *f)
{
	unsigned int n;

	ims__spin_lock(&f->lock);
	n = f->tail - f->head;
	ims__spin_unlock(&f->lock);
	return n;
}

unsigned int fabric_drain(struct fabric *f)
{
	unsigned int n = 0;

	for (;;) {
		struct ims_hw_msi_write w;
		uint32_t handle;
		int32_t rid;

		ims__spin_lock(&f->lock);
		if (f->head == f->tail) {
			ims__spin_unlock(&f->lock);
			return n;
		}
		w = f->ring[f->head++ % FAB_RING];
		ims__spin_unlock(&f->lock);
		n++;
		handle = (uint32_t)(w.addr >> 5 & 0x7fff) | (uint32_t)(w.addr >> 2 & 1) << 15;
		rid = atomic_load(&f->rid[handle]);
		if ((w.addr >> 20) != 0xfee || !(w.addr & 0x10) || rid < 0 || rid != w.rid) {
			atomic_fetch_add(&f->blocked, 1);
			continue;
		}
		if (ims_irq_handle(f->core, handle, 0))
			atomic_fetch_add(&f->spurious, 1);
		else
			atomic_fetch_add(&f->delivered, 1);
	}
}

/*
 * The reference SIOV accelerator as a device of the simulated machine: the
 * hardware model of hw/accel (configuration space, register BAR with work
 * queues, portals and the IMS array, MSI-X in BAR 2) and its driver of
 * os/accel, unchanged, probed through configuration space and MMIO as on
 * a real machine. Its sink is the machine's fabric, so its messages go to
 * a remapping unit (x86) or to the ITS (arm).
 *
 * An ADI of the machine is an accelerator ADI (ims_accel_adi_create): a
 * work queue configured with the ADI's PASID and a group of IMS vectors
 * whose handlers the driver owns. A raise is a descriptor submitted on
 * the ADI's queue with its completion interrupt on one vector; the device
 * completes queued work one descriptor per scheduler step (and all of it
 * before a drain), writing the completion record and signalling the slot
 * with the descriptor's PASID. The driver's handler finds the completion
 * and reports it through the ADI's callback, which is where the checker
 * counts a handler run: one per completion, so every raise is answered
 * exactly once, whatever coalesced on the way. In threaded mode the
 * device runs its own thread (ims__hw_accel_thread_start), completing
 * work as soon as it is queued.
 */
#include <errno.h>
#include <stdio.h>

#include "backend/sim/machine.h"
#include "hw/accel/accel.h"
#include "hw/pci/bar_io.h"
#include "os/accel/accel_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define ACCELDEV_WQ_DEPTH	16	/* descriptors (and completion records) per ADI */

struct sim_device {
	struct sim_machine *m;
	struct ims_hw_accel *hw;
	struct ims_hw_bar_io bar0, bar2;
	struct ims_accel_info ai;
	struct ims_accel *acc;
	struct ims_accel_adi **adis;	/* by ADI slot */
	char name[16];
};

/* ---- the driver's DMA mapping: the machine's DMA-able memory ---- */

static int dma_map(void *ctx, void *host, size_t len, uint64_t *bus)
{
	*bus = ims__dma_addr(host);
	return ims__dma_register(ctx, host, len);
}

/*
 * Removing a region allocates the smaller region set, which an injected
 * fault can refuse; the memory is freed right after, so the region must
 * go: try again (the fault generator refuses only some allocations).
 */
static void dma_unmap(void *ctx, void *host)
{
	for (int tries = 0; ims__dma_unregister(ctx, host) == -ENOMEM; tries++)
		if (tries == 1000) {
			ims__warn("acceldev: DMA region %p stays registered", host);
			break;
		}
}

static void sink_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	ims__sim_fabric_write(ctx, w);
}

static void acceldev_destroy(struct sim_device *d)
{
	if (!d)
		return;
	if (d->acc && ims_accel_remove(d->acc))
		ims__warn("acceldev %s: the driver still has ADIs at destroy", d->name);
	ims__hw_accel_destroy(d->hw);
	ims__free(d->adis, d->m->cfg.adis * sizeof(*d->adis));
	ims__free(d, sizeof(*d));
}

static int acceldev_create(struct sim_machine *m, uint32_t idx, uint16_t rid,
			   struct ims_irq_domain *msi_parent, struct sim_device **out)
{
	struct ims_hw_msi_sink sink = { sink_fn, m };
	struct ims_hw_accel_params p = {
		.rid = rid, .nr_wqs = (uint16_t)m->cfg.adis, .wq_depth = ACCELDEV_WQ_DEPTH,
		.nr_ims = m->cfg.ims_slots,
		.nr_msix = (uint16_t)(m->cfg.msix_vectors < 2 ? 2 : m->cfg.msix_vectors),
		.dvsec_ims = true,
	};
	struct sim_device *d;
	int ret;

	(void)idx;
	d = ims__zalloc(sizeof(*d), "acceldev");
	if (!d)
		return -ENOMEM;
	d->m = m;
	d->adis = ims__calloc(m->cfg.adis, sizeof(*d->adis), "acceldev_adis");
	if (!d->adis) {
		ims__free(d, sizeof(*d));
		return -ENOMEM;
	}
	snprintf(d->name, sizeof(d->name), "0000:%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1f, rid & 7);
	ims__hw_accel_mem_from_dma(m->dma, &p.mem);
	ret = ims__hw_accel_create(&p, &sink, &d->hw);
	if (ret)
		goto fail;
	d->ai.name = d->name;
	d->ai.core = m->core;
	d->ai.msi_parent = msi_parent;
	d->ai.rid = rid;
	ims__hw_pci_cfg_access(ims__hw_accel_cfg(d->hw), &d->ai.cfg);
	ims__hw_bar_io_init(&d->bar0, ims__hw_accel_cfg(d->hw), IMS_ACCEL_REG_BAR,
			    &d->ai.bar[IMS_ACCEL_REG_BAR]);
	ims__hw_bar_io_init(&d->bar2, ims__hw_accel_cfg(d->hw), IMS_ACCEL_MSIX_BAR,
			    &d->ai.bar[IMS_ACCEL_MSIX_BAR]);
	d->ai.dma = (struct ims_accel_dma_ops){ dma_map, dma_unmap, m->dma };
	ret = ims_accel_probe(&d->ai, &d->acc);
	if (!ret && !ims_accel_has_ims(d->acc))
		ret = ims__error(-ENODEV, "acceldev %s: the driver found no IMS behind this parent", d->name);
	if (ret)
		goto fail;
	*out = d;
	return 0;
fail:
	acceldev_destroy(d);
	return ret;
}

static struct ims_device *acceldev_os_device(struct sim_device *d)
{
	return ims_accel_device(d->acc);
}

/*
 * A completion the ADI's handler found: the operand carried the record's
 * id, so a completion reported to the wrong ADI or vector shows.
 */
static void on_complete(struct ims_accel_adi *adi, void *ctx, unsigned int vec, uint32_t ticket,
			uint32_t status, uint64_t result)
{
	struct sim_vec *v = (struct sim_vec *)ctx + vec;
	struct sim_machine *m = v->m;

	(void)adi;
	(void)ticket;
	if (status != IMS_ACCEL_CR_STATUS_SUCCESS || result >> 32 != v->id) {
		ims__sim_violation(m, IMS_SIM_MISDELIVERED,
				   "step %llu: dev %u ADI %u vector %u got a completion for record %llu (status %u)",
				   (unsigned long long)m->step, v->dev, v->adi, v->nr,
				   (unsigned long long)(result >> 32), status);
		return;
	}
	ims__sim_completed(m, v);
}

static int acceldev_adi_create(struct sim_device *d, uint32_t n, uint32_t pasid, struct ims_msi_map *maps,
			       struct sim_vec *recs)
{
	struct ims_accel_adi_info info = { .pasid = pasid, .nvec = n, .complete = on_complete, .ctx = recs };
	uint32_t slot = recs[0].adi;
	struct ims_accel_adi *adi;
	int ret;

	if (d->adis[slot])
		return ims__error(-EEXIST, "acceldev %s: ADI slot %u is in use", d->name, slot);
	ret = ims_accel_adi_create(d->acc, &info, &adi);
	if (ret)
		return ret;
	for (uint32_t j = 0; j < n; j++) {
		maps[j].virq = ims_accel_adi_irq(adi, j);
		maps[j].index = (int)ims_accel_adi_handle(adi, j);
	}
	d->adis[slot] = adi;
	return (int)slot;
}

static int acceldev_adi_destroy(struct sim_device *d, int group)
{
	int ret;

	if (group < 0 || (uint32_t)group >= d->m->cfg.adis || !d->adis[group])
		return ims__error(-ENOENT, "acceldev %s: no ADI in slot %d", d->name, group);
	ret = ims_accel_adi_destroy(d->adis[group]);
	if (!ret)
		d->adis[group] = NULL;
	return ret;
}

/* A descriptor whose completion raises v: ECHO of the record's id. */
static int acceldev_fire_ims(struct sim_device *d, const struct sim_vec *v, uint32_t pasid)
{
	struct ims_accel_adi *adi = d->adis[v->adi];
	unsigned int vec = v->nr;
	uint32_t ticket;

	(void)pasid;	/* the ADI's WQ carries it */
	if (!adi)
		return -ENOENT;
	if (d->m->bug == SIM_BUG_ACCEL_WRONG_VECTOR)
		vec = (vec ^ 1) % d->m->cfg.vectors_per_adi;
	return ims_accel_submit(adi, vec, IMS_ACCEL_OP_ECHO, (uint64_t)v->id << 32 | v->gen, &ticket);
}

static int acceldev_fire_msix(struct sim_device *d, uint32_t entry)
{
	(void)d;
	(void)entry;
	return -EOPNOTSUPP;	/* MSI-X entry 0 is the driver's error vector */
}

static bool acceldev_ims_pending(struct sim_device *d, uint32_t slot)
{
	return ims__hw_ims_array_pending(ims__hw_accel_ims(d->hw), slot);
}

static void acceldev_ims_stats(struct sim_device *d, uint64_t *sent, uint64_t *latched, uint64_t *refused)
{
	struct ims_hw_ims_stats st;

	ims__hw_ims_array_get_stats(ims__hw_accel_ims(d->hw), &st);
	*sent = st.sent;
	*latched = st.latched;
	*refused = st.refused;
}

/* Time passes: the device completes one queued descriptor. */
static void acceldev_step(struct sim_device *d, uint64_t step)
{
	(void)step;
	ims__hw_accel_step(d->hw, 1);
}

static void acceldev_flush(struct sim_device *d)
{
	while (ims__hw_accel_step(d->hw, 1u << 20))
		;
}

static int acceldev_start(struct sim_device *d)
{
	return ims__hw_accel_thread_start(d->hw);
}

static void acceldev_stop(struct sim_device *d)
{
	ims__hw_accel_thread_stop(d->hw);
}

static int acceldev_check(struct sim_device *d)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < d->m->cfg.adis; s++)
		n += d->adis[s] != NULL;
	if (ims_accel_nr_adis(d->acc) != n)
		return ims__error(-EIO, "acceldev %s: the driver has %u ADIs, the device model %u", d->name,
				  ims_accel_nr_adis(d->acc), n);
	return ims__accel_check(d->acc);
}

const struct sim_device_ops ims__acceldev_ops = {
	.name = "accel",
	.driver_handlers = true,
	.driver_irqs = 1,		/* the admin (error) vector, MSI-X entry 0 */
	.create = acceldev_create,
	.destroy = acceldev_destroy,
	.os_device = acceldev_os_device,
	.adi_create = acceldev_adi_create,
	.adi_destroy = acceldev_adi_destroy,
	.fire_ims = acceldev_fire_ims,
	.fire_msix = acceldev_fire_msix,
	.ims_pending = acceldev_ims_pending,
	.ims_stats = acceldev_ims_stats,
	.step = acceldev_step,
	.flush = acceldev_flush,
	.check = acceldev_check,
	.start = acceldev_start,
	.stop = acceldev_stop,
};

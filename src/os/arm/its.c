/*
 * The GICv3 ITS driver: the MSI parent domain of an ARM machine. It talks
 * to the GIC only through registers (ims_arm_gic_ops) and the memory it
 * gives the GIC: the LPI configuration table, the pending tables, the
 * command queue, the device and collection tables and one ITT per device.
 * Each vector is an (DeviceID, EventID) pair translated to an LPI; the
 * DeviceID is the requester id, so the ITS isolates devices from each
 * other and IMS may be built on this domain.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <ims/arm.h>

#include "os/arm/its_internal.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/rcu.h"

#define CMDQ_SIZE	(64u * 1024u)		/* 2048 commands */
#define PAGE		4096u
#define WAIT_TRIES	1000000u

/* Per-irq data at this level, in ims_irq_data.chip_u64. */
#define PACK(dev, ev, lpi)	((uint64_t)(dev) << 48 | (uint64_t)(ev) << 32 | (lpi))
#define P_DEV(v)		((uint32_t)((v) >> 48))
#define P_EV(v)			((uint32_t)(((v) >> 32) & 0xffff))
#define P_LPI(v)		((uint32_t)(v))

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

/* ---- memory shared with the GIC ---- */

static void put64(void *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

static void set_cfg_locked(struct ims_arm_its *its, uint32_t lpi, bool enable)
{
	ims__assert_spin_held(&its->lock);
	__atomic_store_n(&its->prop[lpi - IMS_LPI_BASE],
			 (uint8_t)(its->prio | IMS_LPI_CFG_RES1 | (enable ? IMS_LPI_CFG_ENABLE : 0)),
			 __ATOMIC_RELEASE);
}

static void *gic_alloc(struct ims_arm_its *its, size_t size, size_t align, uint64_t *pa)
{
	return its->ops->mem_alloc(its->ctx, size, align, pa);
}

static void gic_free(struct ims_arm_its *its, void *p, size_t size)
{
	if (p)
		its->ops->mem_free(its->ctx, p, size);
}

/* ---- the command queue ---- */

static const char *cmd_name(unsigned int c)
{
	switch (c) {
	case IMS_ITS_CMD_MOVI: return "MOVI";
	case IMS_ITS_CMD_INT: return "INT";
	case IMS_ITS_CMD_CLEAR: return "CLEAR";
	case IMS_ITS_CMD_SYNC: return "SYNC";
	case IMS_ITS_CMD_MAPD: return "MAPD";
	case IMS_ITS_CMD_MAPC: return "MAPC";
	case IMS_ITS_CMD_MAPTI: return "MAPTI";
	case IMS_ITS_CMD_MAPI: return "MAPI";
	case IMS_ITS_CMD_INV: return "INV";
	case IMS_ITS_CMD_INVALL: return "INVALL";
	case IMS_ITS_CMD_DISCARD: return "DISCARD";
	}
	return "?";
}

static void write_cmd(struct ims_arm_its *its, uint32_t off, const uint64_t c[4])
{
	uint64_t *slot = its->cmdq + off / 8;

	for (int i = 0; i < 4; i++)
		put64(&slot[i], c[i]);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/*
 * Queue one command and wait until the ITS has taken it. A command the ITS
 * refuses stalls the queue: it is replaced by a SYNC, the ITS is told to
 * retry, and the caller gets -EIO with the ITS's error code.
 */
int ims__its_send_locked(struct ims_arm_its *its, const uint64_t c[4])
{
	uint32_t off = its->cwriter, next = (off + IMS_ITS_CMD_SIZE) % CMDQ_SIZE;
	uint64_t rd;
	unsigned int tries = 0;

	ims__assert_spin_held(&its->lock);
	/* Full: wait for the ITS to take commands (it always does, or stalls). */
	while (((rd = its->ops->its_read(its->ctx, IMS_GITS_CREADR, 8)) & IMS_GITS_CQ_OFFSET_MASK) == next)
		if (++tries > WAIT_TRIES)
			return ims__error(-ETIMEDOUT, "ITS: command queue stays full");
	write_cmd(its, off, c);
	its->cwriter = next;
	its->nr_commands++;
	its->ops->its_write(its->ctx, IMS_GITS_CWRITER, 8, next);
	for (tries = 0;; tries++) {
		rd = its->ops->its_read(its->ctx, IMS_GITS_CREADR, 8);
		if (rd & IMS_GITS_CREADR_STALLED)
			break;
		if ((rd & IMS_GITS_CQ_OFFSET_MASK) == next)
			return 0;
		if (tries > WAIT_TRIES)
			return ims__error(-ETIMEDOUT, "ITS: %s not taken (CREADR 0x%llx)",
					  cmd_name((unsigned)(c[0] & 0xff)), (unsigned long long)rd);
		sched_yield();
	}
	{
		uint32_t code = (uint32_t)its->ops->its_read(its->ctx, IMS_GITS_ERR_CODE, 4);
		uint32_t at = (uint32_t)(rd & IMS_GITS_CQ_OFFSET_MASK);
		const uint64_t sync[4] = { IMS_ITS_CMD_SYNC, 0, 0, 0 };

		its->nr_errors++;
		its->last_error = code;
		write_cmd(its, at, sync);
		its->ops->its_write(its->ctx, IMS_GITS_CWRITER, 8, next | IMS_GITS_CWRITER_RETRY);
		return ims__error(-EIO, "ITS: %s (DeviceID 0x%x, EventID %u) refused: %s (error 0x%04x)",
				  cmd_name((unsigned)(c[0] & 0xff)), (uint32_t)(c[0] >> 32),
				  (uint32_t)c[1], ims_its_err_name(code), code);
	}
}

static int send4(struct ims_arm_its *its, uint64_t c0, uint64_t c1, uint64_t c2)
{
	const uint64_t c[4] = { c0, c1, c2, 0 };

	return ims__its_send_locked(its, c);
}

static uint64_t dev_word(unsigned int cmd, uint32_t devid)
{
	return cmd | (uint64_t)devid << IMS_ITS_CMD_DEVID_SHIFT;
}

static int cmd_sync(struct ims_arm_its *its, uint32_t cpu)
{
	return send4(its, IMS_ITS_CMD_SYNC, 0, (uint64_t)cpu << IMS_ITS_CMD_RDBASE_SHIFT);
}

static int cmd_mapd(struct ims_arm_its *its, uint32_t devid, uint64_t itt_pa, bool valid)
{
	return send4(its, dev_word(IMS_ITS_CMD_MAPD, devid), its->ev_bits - 1,
		     valid ? (itt_pa & IMS_ITS_CMD_ITT_MASK) | IMS_ITS_CMD_VALID : 0);
}

static int cmd_event(struct ims_arm_its *its, unsigned int cmd, uint32_t devid, uint32_t ev,
		     uint64_t hi, uint32_t icid)
{
	return send4(its, dev_word(cmd, devid), ev | hi << 32, icid);
}

/* ---- devices ---- */

static struct its_device *dev_find_locked(struct ims_arm_its *its, uint32_t devid)
{
	struct its_device **chunk = its->devs[devid >> 8];

	ims__assert_spin_held(&its->lock);
	return chunk ? chunk[devid & 0xff] : NULL;
}

static void dev_free(struct ims_arm_its *its, struct its_device *dev)
{
	gic_free(its, dev->itt, dev->itt_size);
	ims__free(dev->events, IMS_BITMAP_WORDS(its->events_per_device) * sizeof(uint64_t));
	ims__free(dev, sizeof(*dev));
}

/* Remove dev from the table; frees the chunk when it empties. */
static void dev_unlink_locked(struct ims_arm_its *its, uint32_t devid)
{
	struct its_device **chunk = its->devs[devid >> 8];

	ims__assert_spin_held(&its->lock);
	chunk[devid & 0xff] = NULL;
	if (--its->devs_in_chunk[devid >> 8] == 0) {
		ims__free(chunk, 256 * sizeof(*chunk));
		its->devs[devid >> 8] = NULL;
	}
	its->nr_devices--;
}

/* The device of devid, made (ITT allocated and MAPD'd) on first use. */
static struct its_device *dev_get_locked(struct ims_arm_its *its, uint32_t devid, int *err)
{
	struct its_device *dev = dev_find_locked(its, devid), **chunk;
	bool new_chunk = false;

	ims__assert_spin_held(&its->lock);
	if (dev)
		return dev;
	*err = -ENOMEM;
	chunk = its->devs[devid >> 8];
	if (!chunk) {
		chunk = ims__calloc(256, sizeof(*chunk), "its_dev_table");
		if (!chunk)
			return NULL;
		new_chunk = true;
	}
	dev = ims__zalloc(sizeof(*dev), "its_device");
	if (!dev)
		goto free_chunk;
	dev->devid = devid;
	dev->events = ims__calloc(IMS_BITMAP_WORDS(its->events_per_device), sizeof(uint64_t),
				  "its_device_events");
	if (!dev->events)
		goto free_dev;
	dev->itt_size = (size_t)its->events_per_device * its->itt_entry;
	dev->itt = gic_alloc(its, dev->itt_size, 256, &dev->itt_pa);
	if (!dev->itt)
		goto free_dev;
	*err = cmd_mapd(its, devid, dev->itt_pa, true);
	if (*err)
		goto free_dev;
	its->devs[devid >> 8] = chunk;
	its->devs_in_chunk[devid >> 8]++;
	chunk[devid & 0xff] = dev;
	its->nr_devices++;
	return dev;

free_dev:
	dev_free(its, dev);
free_chunk:
	if (new_chunk)
		ims__free(chunk, 256 * sizeof(*chunk));
	return NULL;
}

/* Last event gone: unmap the device, then its ITT can go. */
static void dev_put_locked(struct ims_arm_its *its, struct its_device *dev)
{
	ims__assert_spin_held(&its->lock);
	if (dev->nr_events)
		return;
	if (cmd_mapd(its, dev->devid, 0, false) || cmd_sync(its, 0))
		ims__warn("ITS: DeviceID 0x%x: unmapping failed: %s", dev->devid, ims_last_error());
	dev_unlink_locked(its, dev->devid);
	dev_free(its, dev);
}

/* ---- the domain ---- */

static uint64_t *level_u64(struct ims_irq_domain *d, unsigned int virq)
{
	struct ims_irq_data *data = ims_irq_domain_get_irq_data(d, virq);

	return data ? &data->chip_u64 : NULL;
}

static void release_locked(struct ims_arm_its *its, uint64_t v)
{
	struct its_device *dev = dev_find_locked(its, P_DEV(v));

	ims__assert_spin_held(&its->lock);
	ims__clear_bit(its->lpi_map, P_LPI(v) - IMS_LPI_BASE);
	its->lpis_used--;
	if (IMS_NEVER(!dev))
		return;
	ims__clear_bit(dev->events, P_EV(v));
	dev->nr_events--;
	its->events_used--;
	dev_put_locked(its, dev);
}

static void its_domain_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	struct ims_arm_its *its = ims_irq_domain_host_data(d);

	/* A CPU that acknowledged one of these LPIs before its DISCARD is
	 * inside dispatch's read section: let it finish before the LPI can
	 * be handed to someone else. */
	ims__rcu_synchronize();
	ims__spin_lock(&its->lock);
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t *v = level_u64(d, virq + i);

		if (IMS_ALWAYS(v) && *v) {
			release_locked(its, *v);
			*v = 0;
		}
	}
	ims__spin_unlock(&its->lock);
}

static int its_domain_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct ims_arm_its *its = ims_irq_domain_host_data(d);
	struct ims_msi_alloc_info *info = arg;
	unsigned int i;
	int ret = 0;

	if (!info)
		return ims__error(-EINVAL, "ITS: allocation needs the device's requester id "
				  "(struct ims_msi_alloc_info)");
	if ((uint32_t)info->rid >> its->devbits)
		return ims__error(-EINVAL, "ITS: requester id 0x%x beyond the ITS's %u DeviceID bits",
				  info->rid, its->devbits);
	ims__spin_lock(&its->lock);
	for (i = 0; i < nr; i++) {
		struct its_device *dev;
		uint32_t ev, lpi;
		uint64_t *v = level_u64(d, virq + i);

		if (IMS_NEVER(!v)) {
			ret = -EINVAL;
			break;
		}
		lpi = ims__find_next_zero_bit(its->lpi_map, its->nr_lpis, its->lpi_hint);
		if (lpi >= its->nr_lpis)
			lpi = ims__find_next_zero_bit(its->lpi_map, its->nr_lpis, 0);
		if (lpi >= its->nr_lpis) {
			ret = ims__error(-ENOSPC, "ITS: all %u LPIs are in use", its->nr_lpis);
			break;
		}
		dev = dev_get_locked(its, info->rid, &ret);
		if (!dev)
			break;
		ev = ims__find_next_zero_bit(dev->events, its->events_per_device, 0);
		if (ev >= its->events_per_device) {
			ret = ims__error(-ENOSPC, "ITS: DeviceID 0x%x uses all %u EventIDs of its ITT",
					 info->rid, its->events_per_device);
			dev_put_locked(its, dev);
			break;
		}
		ims__set_bit(dev->events, ev);
		dev->nr_events++;
		its->events_used++;
		ims__set_bit(its->lpi_map, lpi);
		its->lpis_used++;
		its->lpi_hint = lpi + 1;
		*v = PACK(info->rid, ev, lpi + IMS_LPI_BASE);
		ims_irq_domain_get_irq_data(d, virq + i)->hwirq = lpi + IMS_LPI_BASE;
	}
	ims__spin_unlock(&its->lock);
	if (ret && i)
		its_domain_free(d, virq, i);
	return ret;
}

/* A CPU of mask (any CPU if NULL), taking turns so that LPIs spread. */
static uint32_t pick_cpu(struct ims_arm_its *its, const struct ims_cpumask *mask)
{
	uint32_t start = atomic_fetch_add_explicit(&its->rr, 1, memory_order_relaxed) % its->nr_cpus;
	uint32_t cpu;

	if (!mask)
		return start;
	cpu = ims_cpumask_next(mask, start);
	if (cpu >= its->nr_cpus)
		cpu = ims_cpumask_next(mask, 0);
	return cpu < its->nr_cpus ? cpu : 0;
}

static int its_domain_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct ims_arm_its *its = ims_irq_domain_host_data(d);
	uint64_t v = irqd->chip_u64;
	uint32_t cpu = pick_cpu(its, ims_irq_data_affinity(irqd)), lpi = P_LPI(v);
	int old = ims_irq_data_effective_cpu(irqd), ret;
	bool mapped;

	(void)reserve;
	/* Counts follow the CPU: room for them first, if it moves again. */
	if (old >= 0) {
		ret = ims_irq_data_set_effective_cpu(irqd, cpu);
		if (ret)
			return ret;
	}
	ims__spin_lock(&its->lock);
	set_cfg_locked(its, lpi, true);
	atomic_store_explicit(&its->lpi_irq[lpi - IMS_LPI_BASE], ims_irq_data_irq(irqd) + 1,
			      memory_order_release);
	ret = cmd_event(its, IMS_ITS_CMD_MAPTI, P_DEV(v), P_EV(v), lpi, cpu);
	mapped = !ret;
	if (!ret && !its->debug_no_inv)
		ret = cmd_event(its, IMS_ITS_CMD_INV, P_DEV(v), P_EV(v), 0, 0);
	if (!ret)
		ret = cmd_sync(its, cpu);
	if (ret) {
		char first[256];

		/* Keep the first error's message: the undo is best effort. */
		snprintf(first, sizeof(first), "%s", ims_last_error());
		if (mapped && cmd_event(its, IMS_ITS_CMD_DISCARD, P_DEV(v), P_EV(v), 0, 0))
			ims__warn("ITS: irq %u: DISCARD after a failed activation failed",
				  ims_irq_data_irq(irqd));
		ims__error(ret, "%s", first);
		set_cfg_locked(its, lpi, false);
		atomic_store_explicit(&its->lpi_irq[lpi - IMS_LPI_BASE], 0, memory_order_release);
		if (old >= 0)
			ims_irq_data_set_effective_cpu(irqd, (uint32_t)old);
	} else {
		its->cpu_lpis[cpu]++;
		/* From no CPU at all nothing is made, so this cannot fail. */
		if (old < 0)
			ims_irq_data_set_effective_cpu(irqd, cpu);
	}
	ims__spin_unlock(&its->lock);
	return ret;
}

static void its_domain_deactivate(struct ims_irq_domain *d, struct ims_irq_data *irqd)
{
	struct ims_arm_its *its = ims_irq_domain_host_data(d);
	uint64_t v = irqd->chip_u64;
	int cpu = ims_irq_data_effective_cpu(irqd);

	ims__spin_lock(&its->lock);
	if (cmd_event(its, IMS_ITS_CMD_DISCARD, P_DEV(v), P_EV(v), 0, 0) ||
	    cmd_sync(its, cpu >= 0 ? (uint32_t)cpu : 0))
		ims__warn("ITS: irq %u: DISCARD failed: %s", ims_irq_data_irq(irqd), ims_last_error());
	set_cfg_locked(its, P_LPI(v), false);
	atomic_store_explicit(&its->lpi_irq[P_LPI(v) - IMS_LPI_BASE], 0, memory_order_release);
	if (cpu >= 0 && IMS_ALWAYS(its->cpu_lpis[cpu]))
		its->cpu_lpis[cpu]--;
	ims__spin_unlock(&its->lock);
}

static const struct ims_irq_domain_ops its_domain_ops = {
	.alloc = its_domain_alloc,
	.free = its_domain_free,
	.activate = its_domain_activate,
	.deactivate = its_domain_deactivate,
};

/* ---- the chip ---- */

static struct ims_arm_its *chip_its(struct ims_irq_data *d)
{
	return ims_irq_domain_host_data(ims_irq_data_domain(d));
}

static void its_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	struct ims_arm_its *its = chip_its(d);

	msg->address_lo = (uint32_t)its->translater;
	msg->address_hi = (uint32_t)(its->translater >> 32);
	msg->data = P_EV(d->chip_u64);
}

/* Configuration change: the table, then INV so the cache sees it, then SYNC. */
static void set_enable(struct ims_irq_data *d, bool enable)
{
	struct ims_arm_its *its = chip_its(d);
	uint64_t v = d->chip_u64;
	int cpu = ims_irq_data_effective_cpu(d), ret = 0;

	ims__spin_lock(&its->lock);
	set_cfg_locked(its, P_LPI(v), enable);
	if (ims_irq_data_is_activated(d) && !its->debug_no_inv) {
		ret = cmd_event(its, IMS_ITS_CMD_INV, P_DEV(v), P_EV(v), 0, 0);
		if (!ret)
			ret = cmd_sync(its, cpu >= 0 ? (uint32_t)cpu : 0);
	}
	ims__spin_unlock(&its->lock);
	if (ret)
		ims__warn("ITS: irq %u: %s: %s", ims_irq_data_irq(d), enable ? "unmask" : "mask",
			  ims_last_error());
}

static void its_mask(struct ims_irq_data *d)
{
	set_enable(d, false);
}

static void its_unmask(struct ims_irq_data *d)
{
	set_enable(d, true);
}

static int its_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct ims_arm_its *its = chip_its(d);
	uint64_t v = d->chip_u64;
	int cur = ims_irq_data_effective_cpu(d), ret;
	uint32_t to;

	(void)force;
	if (ims_cpumask_next(mask, 0) >= its->nr_cpus)
		return ims__error(-EINVAL, "ITS: irq %u: no CPU of the mask exists",
				  ims_irq_data_irq(d));
	if (!ims_irq_data_is_activated(d) || cur < 0)
		return IMS_SET_AFFINITY_DONE;	/* activate picks from the new mask */
	if (ims_cpumask_test(mask, (uint32_t)cur))
		return IMS_SET_AFFINITY_DONE;
	to = pick_cpu(its, mask);
	/* Room for the counts of both CPUs before anything moves. */
	ret = ims_irq_data_set_effective_cpu(d, to);
	if (ret)
		return ret;
	ims__spin_lock(&its->lock);
	ret = cmd_event(its, IMS_ITS_CMD_MOVI, P_DEV(v), P_EV(v), 0, to);
	if (!ret)
		ret = cmd_sync(its, (uint32_t)cur);
	if (!ret) {
		its->cpu_lpis[cur]--;
		its->cpu_lpis[to]++;
	} else {
		ims_irq_data_set_effective_cpu(d, (uint32_t)cur);
	}
	ims__spin_unlock(&its->lock);
	/* The device's message names the EventID, which did not change. */
	return ret ? ret : IMS_SET_AFFINITY_DONE;
}

static const struct ims_irq_chip its_chip = {
	.name = "ITS",
	.irq_mask = its_mask,
	.irq_unmask = its_unmask,
	.irq_set_affinity = its_set_affinity,
	.irq_compose_msi_msg = its_compose,
};

/* ---- creation ---- */

static void free_tables(struct ims_arm_its *its)
{
	if (its->pend)
		for (uint32_t i = 0; i < its->nr_cpus; i++)
			gic_free(its, its->pend[i], its->pend_size);
	gic_free(its, its->prop, its->nr_lpis);
	gic_free(its, its->cmdq, CMDQ_SIZE);
	gic_free(its, its->devtab, its->devtab_size);
	gic_free(its, its->colltab, its->colltab_size);
}

static void its_free(struct ims_arm_its *its)
{
	free_tables(its);
	ims__free(its->pend, its->nr_cpus * sizeof(*its->pend));
	ims__free(its->pend_pa, its->nr_cpus * sizeof(*its->pend_pa));
	ims__free(its->lpi_map, IMS_BITMAP_WORDS(its->nr_lpis) * sizeof(uint64_t));
	ims__free(its->lpi_irq, its->nr_lpis * sizeof(*its->lpi_irq));
	ims__free(its->cpu_lpis, its->nr_cpus * sizeof(*its->cpu_lpis));
	ims__free(its, sizeof(*its));
}

static int check_config(struct ims_irq_core *core, const struct ims_arm_its_config *cfg)
{
	const struct ims_arm_gic_ops *o = cfg->ops;
	uint32_t ev = cfg->events_per_device;

	if (!o || !o->its_read || !o->its_write || !o->rdist_read || !o->rdist_write ||
	    !o->icc_read || !o->icc_write || !o->mem_alloc || !o->mem_free)
		return ims__error(-EINVAL, "ITS: every GIC operation is required");
	if (cfg->nr_cpus != ims_irq_core_nr_cpus(core))
		return ims__error(-EINVAL, "ITS: %u CPUs, but the core has %u", cfg->nr_cpus,
				  ims_irq_core_nr_cpus(core));
	if (cfg->its_base & 0xffff)
		return ims__error(-EINVAL, "ITS: base 0x%llx is not 64 KiB aligned",
				  (unsigned long long)cfg->its_base);
	if (ev && (ev < 2 || ev > 65536 || (ev & (ev - 1))))
		return ims__error(-EINVAL, "ITS: %u events per device is not a power of two in 2..65536",
				  ev);
	if (cfg->lpi_bits && (cfg->lpi_bits < 14 || cfg->lpi_bits > 20))
		return ims__error(-EINVAL, "ITS: %u INTID bits is not 14..20", cfg->lpi_bits);
	return 0;
}

/* Find the BASER of a table type; -1 if the ITS has none. */
static int find_baser(struct ims_arm_its *its, unsigned int type, uint32_t *entry)
{
	for (int n = 0; n < IMS_GITS_NR_BASER; n++) {
		uint64_t b = its->ops->its_read(its->ctx, IMS_GITS_BASER(n), 8);

		if (((b >> IMS_GITS_BASER_TYPE_SHIFT) & IMS_GITS_BASER_TYPE_MASK) == type) {
			*entry = (uint32_t)((b >> IMS_GITS_BASER_ENTRY_SHIFT) & IMS_GITS_BASER_ENTRY_MASK) + 1;
			return n;
		}
	}
	return -1;
}

static int read_its_shape(struct ims_arm_its *its)
{
	uint64_t t = its->ops->its_read(its->ctx, IMS_GITS_TYPER, 8);
	uint32_t evbits = (uint32_t)((t >> IMS_GITS_TYPER_IDBITS_SHIFT) & IMS_GITS_TYPER_IDBITS_MASK) + 1;

	if (!(t & IMS_GITS_TYPER_PHYSICAL))
		return ims__error(-ENODEV, "ITS: GITS_TYPER 0x%llx: no physical LPIs",
				  (unsigned long long)t);
	if (t & IMS_GITS_TYPER_PTA)
		return ims__error(-ENODEV, "ITS: targets by redistributor address (PTA): not supported");
	its->devbits = (uint32_t)((t >> IMS_GITS_TYPER_DEVBITS_SHIFT) & IMS_GITS_TYPER_DEVBITS_MASK) + 1;
	its->itt_entry = (uint32_t)((t >> IMS_GITS_TYPER_ITT_ENTRY_SHIFT) & IMS_GITS_TYPER_ITT_ENTRY_MASK) + 1;
	if (its->devbits > 16)
		its->devbits = 16;	/* requester ids are 16 bits */
	if (its->events_per_device > (1u << IMS_MIN(evbits, 16u)))
		return ims__error(-EINVAL, "ITS: %u events per device, but the ITS has %u EventID bits",
				  its->events_per_device, evbits);
	its->dev_baser = find_baser(its, IMS_GITS_BASER_TYPE_DEVICE, &its->dte_size);
	its->coll_baser = find_baser(its, IMS_GITS_BASER_TYPE_COLLECTION, &its->cte_size);
	if (its->dev_baser < 0 || its->coll_baser < 0)
		return ims__error(-ENODEV, "ITS: no %s table BASER (collections in hardware are not "
				  "supported)", its->dev_baser < 0 ? "device" : "collection");
	its->devtab_size = round_page((size_t)its->dte_size << its->devbits);
	its->colltab_size = round_page((size_t)its->cte_size * its->nr_cpus);
	if (its->devtab_size / PAGE > 256 || its->colltab_size / PAGE > 256)
		return ims__error(-ENODEV, "ITS: tables beyond 256 pages (indirect tables are not "
				  "supported)");
	return 0;
}

static int alloc_tables(struct ims_arm_its *its)
{
	its->prop = gic_alloc(its, its->nr_lpis, PAGE, &its->prop_pa);
	its->cmdq = gic_alloc(its, CMDQ_SIZE, PAGE, &its->cmdq_pa);
	its->devtab = gic_alloc(its, its->devtab_size, PAGE, &its->devtab_pa);
	its->colltab = gic_alloc(its, its->colltab_size, PAGE, &its->colltab_pa);
	if (!its->prop || !its->cmdq || !its->devtab || !its->colltab)
		return -ENOMEM;
	for (uint32_t i = 0; i < its->nr_cpus; i++) {
		its->pend[i] = gic_alloc(its, its->pend_size, IMS_GICR_PEND_ALIGN, &its->pend_pa[i]);
		if (!its->pend[i])
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < its->nr_lpis; i++)
		__atomic_store_n(&its->prop[i], (uint8_t)(its->prio | IMS_LPI_CFG_RES1), __ATOMIC_RELAXED);
	return 0;
}

static uint64_t baser_value(uint64_t pa, size_t size)
{
	return IMS_GITS_BASER_VALID | (pa & IMS_GITS_BASER_ADDR_MASK) | (size / PAGE - 1);
}

/* Program the GIC as at boot; only commands can fail here. */
static int program_gic(struct ims_arm_its *its)
{
	const struct ims_arm_gic_ops *o = its->ops;
	int ret;

	for (uint32_t cpu = 0; cpu < its->nr_cpus; cpu++) {
		o->rdist_write(its->ctx, cpu, IMS_GICR_PROPBASER, 8,
			       its->prop_pa | (its->lpi_bits - 1));
		o->rdist_write(its->ctx, cpu, IMS_GICR_PENDBASER, 8,
			       its->pend_pa[cpu] | IMS_GICR_PENDBASER_PTZ);
		o->rdist_write(its->ctx, cpu, IMS_GICR_CTLR, 4, IMS_GICR_CTLR_ENABLE_LPIS);
		o->icc_write(its->ctx, cpu, IMS_ICC_PMR, 0xff);
		o->icc_write(its->ctx, cpu, IMS_ICC_IGRPEN1, 1);
	}
	o->its_write(its->ctx, IMS_GITS_CBASER, 8,
		     IMS_GITS_CBASER_VALID | its->cmdq_pa | (CMDQ_SIZE / PAGE - 1));
	o->its_write(its->ctx, IMS_GITS_BASER(its->dev_baser), 8,
		     baser_value(its->devtab_pa, its->devtab_size));
	o->its_write(its->ctx, IMS_GITS_BASER(its->coll_baser), 8,
		     baser_value(its->colltab_pa, its->colltab_size));
	o->its_write(its->ctx, IMS_GITS_CWRITER, 8, 0);
	its->cwriter = 0;
	o->its_write(its->ctx, IMS_GITS_CTLR, 4, IMS_GITS_CTLR_ENABLED);
	ims__spin_lock(&its->lock);
	ret = 0;
	for (uint32_t cpu = 0; cpu < its->nr_cpus && !ret; cpu++) {
		ret = send4(its, IMS_ITS_CMD_MAPC, 0,
			    IMS_ITS_CMD_VALID | (uint64_t)cpu << IMS_ITS_CMD_RDBASE_SHIFT | cpu);
		if (!ret)
			ret = cmd_sync(its, cpu);
	}
	ims__spin_unlock(&its->lock);
	return ret;
}

static void quiesce_its(struct ims_arm_its *its)
{
	const struct ims_arm_gic_ops *o = its->ops;

	o->its_write(its->ctx, IMS_GITS_CTLR, 4, 0);
	o->its_write(its->ctx, IMS_GITS_BASER(its->dev_baser), 8, 0);
	o->its_write(its->ctx, IMS_GITS_BASER(its->coll_baser), 8, 0);
	o->its_write(its->ctx, IMS_GITS_CBASER, 8, 0);
}

IMS_API int ims_arm_its_create(struct ims_irq_core *core, const struct ims_arm_its_config *cfg,
			       struct ims_arm_its **out)
{
	struct ims_irq_domain_info info = {
		.name = "ITS", .ops = &its_domain_ops, .chip = &its_chip,
		.flags = IMS_IRQ_DOMAIN_FLAG_MSI_PARENT | IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI,
	};
	struct ims_arm_its *its;
	int ret;

	if (!core || !cfg || !out)
		return ims__error(-EINVAL, "arm_its_create: NULL %s", !core ? "core" : !cfg ? "config" : "out");
	ret = check_config(core, cfg);
	if (ret)
		return ret;
	its = ims__zalloc(sizeof(*its), "its");
	if (!its)
		return -ENOMEM;
	its->core = core;
	its->ops = cfg->ops;
	its->ctx = cfg->ctx;
	its->nr_cpus = cfg->nr_cpus;
	its->translater = cfg->its_base + IMS_GITS_TRANSLATER;
	its->events_per_device = cfg->events_per_device ? cfg->events_per_device : 4096;
	its->ev_bits = (uint32_t)__builtin_ctz(its->events_per_device);
	its->lpi_bits = cfg->lpi_bits ? cfg->lpi_bits : 16;
	its->nr_lpis = (1u << its->lpi_bits) - IMS_LPI_BASE;
	its->pend_size = (1u << its->lpi_bits) / 8;
	its->prio = (uint8_t)((cfg->priority ? cfg->priority : 0xa0) & IMS_LPI_CFG_PRIO_MASK);
	ims__spin_init(&its->lock);
	ret = read_its_shape(its);
	if (ret)
		goto free;
	ret = -ENOMEM;
	its->lpi_map = ims__calloc(IMS_BITMAP_WORDS(its->nr_lpis), sizeof(uint64_t), "its_lpi_map");
	its->lpi_irq = ims__calloc(its->nr_lpis, sizeof(*its->lpi_irq), "its_lpi_irq");
	its->cpu_lpis = ims__calloc(its->nr_cpus, sizeof(*its->cpu_lpis), "its_cpu_lpis");
	its->pend = ims__calloc(its->nr_cpus, sizeof(*its->pend), "its_pend_tables");
	its->pend_pa = ims__calloc(its->nr_cpus, sizeof(*its->pend_pa), "its_pend_tables");
	if (!its->lpi_map || !its->lpi_irq || !its->cpu_lpis || !its->pend || !its->pend_pa)
		goto free;
	ret = alloc_tables(its);
	if (ret)
		goto free;
	info.host_data = its;
	ret = ims_irq_domain_create(core, &info, &its->domain);
	if (ret)
		goto free;
	ret = program_gic(its);
	if (ret) {
		quiesce_its(its);
		ims_irq_domain_remove(its->domain);
		goto free;
	}
	*out = its;
	return 0;
free:
	its_free(its);
	return ret;
}

IMS_API int ims_arm_its_destroy(struct ims_arm_its *its)
{
	int ret;

	if (!its)
		return 0;
	ret = ims_irq_domain_remove(its->domain);
	if (ret)
		return ret;
	/* No irqs: no device has an ITT. The redistributors keep LPIs on (they
	 * cannot be turned off); a new driver needs a new GIC. */
	quiesce_its(its);
	its_free(its);
	return 0;
}

IMS_API struct ims_irq_domain *ims_arm_its_irq_domain(struct ims_arm_its *its)
{
	return its ? its->domain : NULL;
}

/* ---- dispatch ---- */

IMS_API int ims_arm_its_dispatch(struct ims_arm_its *its, uint32_t cpu)
{
	uint32_t intid, irq1 = 0;
	int ret = 0;

	if (ims_unlikely(!its || cpu >= its->nr_cpus))
		return ims__error(-EINVAL, "arm_its_dispatch: cpu %u is not a CPU of the machine", cpu);
	ims__rcu_read_lock();
	intid = (uint32_t)its->ops->icc_read(its->ctx, cpu, IMS_ICC_IAR1);
	if (intid == IMS_ICC_SPURIOUS) {
		ims__rcu_read_unlock();
		return 0;
	}
	if (intid >= IMS_LPI_BASE && intid - IMS_LPI_BASE < its->nr_lpis)
		irq1 = atomic_load_explicit(&its->lpi_irq[intid - IMS_LPI_BASE], memory_order_acquire);
	if (irq1)
		ret = ims_irq_handle(its->core, irq1 - 1, cpu);
	its->ops->icc_write(its->ctx, cpu, IMS_ICC_EOIR1, intid);
	ims__rcu_read_unlock();
	if (!irq1 || ret == -ENOENT) {
		atomic_fetch_add_explicit(&its->spurious, 1, memory_order_relaxed);
		return -ENOENT;
	}
	atomic_fetch_add_explicit(&its->dispatched, 1, memory_order_relaxed);
	return ret < 0 ? ret : 1;
}

/* ---- information ---- */

IMS_API void ims_arm_its_get_stats(struct ims_arm_its *its, struct ims_arm_its_stats *out)
{
	if (!its || !out)
		return;
	ims__spin_lock(&its->lock);
	out->lpis_total = its->nr_lpis;
	out->lpis_used = its->lpis_used;
	out->devices = its->nr_devices;
	out->events_used = its->events_used;
	out->commands = its->nr_commands;
	out->command_errors = its->nr_errors;
	out->last_error = its->last_error;
	ims__spin_unlock(&its->lock);
	out->dispatched = atomic_load(&its->dispatched);
	out->spurious = atomic_load(&its->spurious);
}

IMS_API uint32_t ims_arm_its_cpu_lpis(struct ims_arm_its *its, uint32_t cpu)
{
	uint32_t n;

	if (!its || cpu >= its->nr_cpus)
		return 0;
	ims__spin_lock(&its->lock);
	n = its->cpu_lpis[cpu];
	ims__spin_unlock(&its->lock);
	return n;
}

int ims__arm_its_check(struct ims_arm_its *its)
{
	uint32_t lpis, events = 0, devs = 0, act = 0, cpus = 0;
	int ret = 0;

	ims__spin_lock(&its->lock);
	lpis = ims__bitmap_weight(its->lpi_map, its->nr_lpis);
	for (uint32_t c = 0; c < 256; c++) {
		uint32_t in_chunk = 0;

		if (!its->devs[c])
			continue;
		for (uint32_t i = 0; i < 256; i++) {
			struct its_device *dev = its->devs[c][i];
			uint32_t n;

			if (!dev)
				continue;
			in_chunk++;
			devs++;
			n = ims__bitmap_weight(dev->events, its->events_per_device);
			if (n != dev->nr_events || !n)
				ret = ims__error(-EIO, "check: ITS DeviceID 0x%x: nr_events %u, recount %u",
						 dev->devid, dev->nr_events, n);
			events += n;
		}
		if (in_chunk != its->devs_in_chunk[c])
			ret = ims__error(-EIO, "check: ITS device chunk %u: %u, recount %u", c,
					 its->devs_in_chunk[c], in_chunk);
	}
	for (uint32_t i = 0; i < its->nr_lpis; i++)
		act += atomic_load(&its->lpi_irq[i]) != 0;
	for (uint32_t c = 0; c < its->nr_cpus; c++)
		cpus += its->cpu_lpis[c];
	if (lpis != its->lpis_used)
		ret = ims__error(-EIO, "check: ITS lpis_used %u, recount %u", its->lpis_used, lpis);
	if (events != its->events_used || events != lpis)
		ret = ims__error(-EIO, "check: ITS events_used %u, recount %u, LPIs %u", its->events_used,
				 events, lpis);
	if (devs != its->nr_devices)
		ret = ims__error(-EIO, "check: ITS nr_devices %u, recount %u", its->nr_devices, devs);
	if (act != cpus)
		ret = ims__error(-EIO, "check: ITS %u LPIs in the dispatch table, per-CPU counts say %u",
				 act, cpus);
	ims__spin_unlock(&its->lock);
	return ret;
}

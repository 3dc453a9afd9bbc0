/*
 * A simple SIOV device for the simulated machine, and its driver. The
 * hardware is built from the existing models: a configuration space with
 * MSI-X and the SIOV DVSEC, one 64-bit BAR holding the MSI-X table and
 * PBA, two read-only device registers (where the IMS array sits in the BAR
 * and how many slots it has, as IDXD reports them) and the IMS array. The
 * driver reaches it only through configuration reads and writes and MMIO:
 * it probes the function with the PCI core, enables MSI-X, and creates the
 * MSI-X and IMS domains with chips that write table entries and slots.
 *
 * An ADI is a group of IMS vectors carrying the ADI's PASID: the slots get
 * PASID enable and the PASID in their control word, and the ADI signals
 * them with that PASID, so the array refuses any other ADI's signal.
 *
 * It is the machine's default device; the reference accelerator and its
 * driver (acceldev.c) plug in the same way, through struct sim_device_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ims/ims_slot.h>
#include <ims/pci.h>

#include "backend/sim/machine.h"
#include "hw/ims/ims_array.h"
#include "hw/pci/config.h"
#include "hw/pci/msix.h"
#include "hw/pci/siov_dvsec.h"
#include "util/alloc.h"
#include "util/log.h"

#define SIMDEV_VENDOR		0x8086
#define SIMDEV_DEVICE		0x0d5e	/* a made-up device id for the model */
#define SIMDEV_BAR		0
#define SIMDEV_MSIX_TABLE	0x00000
#define SIMDEV_MSIX_PBA		0x08000
#define SIMDEV_REGS		0x09000
#define SIMDEV_REG_IMS_OFFSET	0x0	/* byte offset of the IMS array in BAR 0 */
#define SIMDEV_REG_IMS_SLOTS	0x4	/* number of IMS slots */
#define SIMDEV_REGS_SIZE	0x10
#define SIMDEV_IMS		0x10000

struct sim_device {
	struct sim_machine *m;
	/* hardware */
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msix *msix;
	struct ims_hw_ims_array *ims;
	uint32_t nr_slots, nr_msix;
	bool regs_mapped, ims_mapped;
	/* driver: what it learnt by probing, and its device */
	struct ims_device *dev;
	uint32_t msix_table, ims_base;	/* BAR offsets */
	uint16_t msix_cap;
	char name[16];
};

/* ---- hardware: the device registers ---- */

static int regs_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct sim_device *d = ctx;

	(void)size;
	*val = off == SIMDEV_REG_IMS_OFFSET ? SIMDEV_IMS : off == SIMDEV_REG_IMS_SLOTS ? d->nr_slots : 0;
	return 0;
}

static int regs_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	(void)ctx;
	(void)off;
	(void)size;
	(void)val;
	return 0;		/* read-only registers: writes are ignored */
}

static const struct ims_hw_mmio_ops regs_ops = {
	.name = "simdev-regs",
	.read = regs_read,
	.write = regs_write,
	.sizes = IMS_HW_MMIO_SIZE(4),
};

/* ---- driver: MMIO helpers ---- */

static void mmio_w32(struct sim_device *d, uint32_t off, uint32_t val)
{
	if (ims__hw_pci_mmio_write(d->cfg, SIMDEV_BAR, off, 4, val))
		ims__warn_once("simdev %s: MMIO write at 0x%x refused", d->name, off);
}

static uint32_t mmio_r32(struct sim_device *d, uint32_t off)
{
	uint64_t v = 0;

	if (ims__hw_pci_mmio_read(d->cfg, SIMDEV_BAR, off, 4, &v))
		ims__warn_once("simdev %s: MMIO read at 0x%x refused", d->name, off);
	return (uint32_t)v;
}

/*
 * Both MSI-X entries and IMS slots are 16 bytes (address low, high, data,
 * control with bit 0 the mask): one chip serves both, with the entry's BAR
 * offset in the descriptor's domain cookie.
 */
static uint32_t entry_off(struct ims_irq_data *irqd)
{
	return (uint32_t)ims_msi_irq_desc(irqd)->dcookie.value;
}

static uint32_t ctrl_base(struct ims_irq_data *irqd)
{
	struct ims_msi_desc *desc = ims_msi_irq_desc(irqd);
	uint32_t pasid = (uint32_t)desc->icookie.value;

	return pasid ? IMS_SLOT_CTRL_PASID_EN | pasid << IMS_SLOT_CTRL_PASID_SHIFT : 0;
}

static bool is_ims(struct ims_irq_data *irqd)
{
	struct sim_device *d = ims_msi_domain_chip_data(irqd);

	return entry_off(irqd) >= d->ims_base;
}

static void chip_mask(struct ims_irq_data *irqd)
{
	struct sim_device *d = ims_msi_domain_chip_data(irqd);

	mmio_w32(d, entry_off(irqd) + IMS_SLOT_CTRL, ctrl_base(irqd) | IMS_SLOT_CTRL_MASKBIT);
}

static void chip_unmask(struct ims_irq_data *irqd)
{
	struct sim_device *d = ims_msi_domain_chip_data(irqd);

	if (d->m->bug == SIM_BUG_DROP_UNMASK && is_ims(irqd))
		return;
	mmio_w32(d, entry_off(irqd) + IMS_SLOT_CTRL, ctrl_base(irqd));
}

static void chip_write_msg(struct ims_irq_data *irqd, const struct ims_msi_msg *msg)
{
	struct sim_device *d = ims_msi_domain_chip_data(irqd);
	uint32_t off = entry_off(irqd);

	if (d->m->bug == SIM_BUG_WRONG_SLOT && is_ims(irqd))
		off ^= IMS_SLOT_SIZE;
	mmio_w32(d, off + IMS_SLOT_ADDR_LO, msg->address_lo);
	mmio_w32(d, off + IMS_SLOT_ADDR_HI, msg->address_hi);
	mmio_w32(d, off + IMS_SLOT_DATA, msg->data);
	(void)mmio_r32(d, off + IMS_SLOT_CTRL);	/* flush the posted writes */
}

static int ims_prepare(struct ims_irq_domain *dom, struct ims_msi_alloc_info *info,
		       struct ims_msi_desc *desc)
{
	struct sim_device *d = ims_msi_domain_data(dom);
	uint32_t pasid = (uint32_t)desc->icookie.value;

	(void)info;
	if (pasid >> 20)
		return ims__error(-EINVAL, "simdev %s: PASID 0x%x is wider than 20 bits", d->name, pasid);
	desc->dcookie.value = d->ims_base + desc->index * IMS_SLOT_SIZE;
	/* The slot takes its owner's PASID while still masked. */
	mmio_w32(d, (uint32_t)desc->dcookie.value + IMS_SLOT_CTRL,
		 IMS_SLOT_CTRL_MASKBIT |
			 (pasid ? IMS_SLOT_CTRL_PASID_EN | pasid << IMS_SLOT_CTRL_PASID_SHIFT : 0));
	return 0;
}

static void ims_free_desc(struct ims_irq_domain *dom, struct ims_msi_desc *desc)
{
	struct sim_device *d = ims_msi_domain_data(dom);
	uint32_t off = (uint32_t)desc->dcookie.value;

	mmio_w32(d, off + IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	mmio_w32(d, off + IMS_SLOT_ADDR_LO, 0);
	mmio_w32(d, off + IMS_SLOT_ADDR_HI, 0);
	mmio_w32(d, off + IMS_SLOT_DATA, 0);
}

static int msix_prepare(struct ims_irq_domain *dom, struct ims_msi_alloc_info *info,
			struct ims_msi_desc *desc)
{
	struct sim_device *d = ims_msi_domain_data(dom);

	(void)info;
	desc->dcookie.value = d->msix_table + desc->index * IMS_PCI_MSIX_ENTRY_SIZE;
	return 0;
}

static void msix_free_desc(struct ims_irq_domain *dom, struct ims_msi_desc *desc)
{
	struct sim_device *d = ims_msi_domain_data(dom);

	mmio_w32(d, (uint32_t)desc->dcookie.value + IMS_PCI_MSIX_ENTRY_CTRL, IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static const struct ims_msi_domain_template ims_tmpl = {
	.name = "IMS-simdev",
	.type = IMS_MSI_TYPE_IMS,
	.chip = { .name = "IMS-simdev", .irq_mask = chip_mask, .irq_unmask = chip_unmask,
		  .irq_write_msi_msg = chip_write_msg },
	.prepare_desc = ims_prepare,
	.free_desc = ims_free_desc,
};

static const struct ims_msi_domain_template msix_tmpl = {
	.name = "PCI-MSIX",
	.type = IMS_MSI_TYPE_MSIX,
	.chip = { .name = "PCI-MSIX", .irq_mask = chip_mask, .irq_unmask = chip_unmask,
		  .irq_write_msi_msg = chip_write_msg },
	.prepare_desc = msix_prepare,
	.free_desc = msix_free_desc,
};

/* ---- the device ---- */

static void hw_destroy(struct sim_device *d)
{
	if (d->ims_mapped)
		ims__hw_pci_bar_unmap(d->cfg, SIMDEV_BAR, SIMDEV_IMS);
	if (d->regs_mapped)
		ims__hw_pci_bar_unmap(d->cfg, SIMDEV_BAR, SIMDEV_REGS);
	ims__hw_ims_array_destroy(d->ims);
	ims__hw_msix_destroy(d->msix);
	ims__hw_pci_cfg_destroy(d->cfg);
}

static int hw_create(struct sim_device *d, uint16_t rid, const struct ims_hw_msi_sink *sink)
{
	struct ims_hw_pci_cfg_params p = { .vendor_id = SIMDEV_VENDOR, .device_id = SIMDEV_DEVICE,
					   .class_code = 0x088000, .rid = rid, .extended = true };
	struct ims_hw_msix_params xp = { .nr_entries = (uint16_t)d->nr_msix, .table_bar = SIMDEV_BAR,
					 .table_offset = SIMDEV_MSIX_TABLE, .pba_bar = SIMDEV_BAR,
					 .pba_offset = SIMDEV_MSIX_PBA };
	struct ims_hw_siov_dvsec_params sp = { .ims_supported = true };
	struct ims_hw_ims_array_params ap = { .nr_slots = d->nr_slots, .rid = rid };
	struct ims_hw_mmio_region regs = { &regs_ops, d, SIMDEV_REGS_SIZE }, arr;
	uint64_t bar = 1;
	uint16_t off;
	int ret;

	while (bar < SIMDEV_IMS + (uint64_t)d->nr_slots * IMS_SLOT_SIZE)
		bar <<= 1;
	ret = ims__hw_pci_cfg_create(&p, &d->cfg);
	if (ret)
		return ret;
	ret = ims__hw_pci_bar_add(d->cfg, SIMDEV_BAR, bar, IMS_HW_PCI_BAR_64BIT);
	if (!ret)
		ret = ims__hw_pci_add_siov_dvsec(d->cfg, &sp, &off);
	if (!ret)
		ret = ims__hw_msix_create(d->cfg, &xp, sink, &d->msix);
	if (!ret)
		ret = ims__hw_pci_bar_map(d->cfg, SIMDEV_BAR, SIMDEV_REGS, &regs);
	if (!ret) {
		d->regs_mapped = true;
		ret = ims__hw_ims_array_create(&ap, sink, &d->ims);
	}
	if (!ret) {
		ims__hw_ims_array_region(d->ims, &arr);
		ret = ims__hw_pci_bar_map(d->cfg, SIMDEV_BAR, SIMDEV_IMS, &arr);
		d->ims_mapped = !ret;
	}
	return ret;
}

/* The driver's probe: everything it knows comes from config space and MMIO. */
static int drv_probe(struct sim_device *d, uint16_t rid, struct ims_irq_domain *msi_parent)
{
	struct ims_device_info di = { .name = d->name, .core = d->m->core, .msi_parent = msi_parent,
				      .rid = rid };
	struct ims_pci_cfg_access acc;
	struct ims_pci_dev_info *info;
	uint32_t cmd, slots;
	int ret;

	info = ims__zalloc(sizeof(*info), "simdev_probe");
	if (!info)
		return -ENOMEM;
	ims__hw_pci_cfg_access(d->cfg, &acc);
	ret = ims_pci_dev_probe(&acc, info);
	if (!ret && (!info->has_msix || info->msix.table_bir != SIMDEV_BAR))
		ret = ims__error(-ENODEV, "simdev %s: no MSI-X table in BAR %d", d->name, SIMDEV_BAR);
	if (!ret && !ims_pci_dev_supports_ims(info))
		ret = ims__error(-ENODEV, "simdev %s: the SIOV DVSEC does not announce IMS", d->name);
	if (ret)
		goto out;
	d->msix_cap = info->msix.offset;
	d->msix_table = info->msix.table_offset;
	d->nr_msix = info->msix.table_size;
	ret = ims__hw_pci_cfg_read(d->cfg, IMS_PCI_COMMAND, 2, &cmd);
	if (!ret)
		ret = ims__hw_pci_cfg_write(d->cfg, IMS_PCI_COMMAND, 2,
					    cmd | IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
	if (ret)
		goto out;
	d->ims_base = mmio_r32(d, SIMDEV_REGS + SIMDEV_REG_IMS_OFFSET);
	slots = mmio_r32(d, SIMDEV_REGS + SIMDEV_REG_IMS_SLOTS);
	ret = ims_device_create(&di, &d->dev);
	if (ret)
		goto out;
	ret = ims_msi_create_device_domain(d->dev, IMS_MSI_DEFAULT_DOMAIN, &msix_tmpl, d->nr_msix, d);
	if (!ret)
		ret = ims_msi_create_device_domain(d->dev, IMS_MSI_SECONDARY_DOMAIN, &ims_tmpl, slots, d);
	if (!ret)	/* dynamic MSI-X: enabled once, entries come and go */
		ret = ims__hw_pci_cfg_write(d->cfg, d->msix_cap + IMS_PCI_MSIX_FLAGS, 2,
					    IMS_PCI_MSIX_FLAGS_ENABLE);
	if (ret) {
		ims_device_destroy(d->dev);
		d->dev = NULL;
	}
out:
	ims__free(info, sizeof(*info));
	return ret;
}

static void sink_fn(void *ctx, const struct ims_hw_msi_write *w);

static void simdev_destroy(struct sim_device *d)
{
	if (!d)
		return;
	if (d->dev && ims_device_destroy(d->dev))
		ims__warn("simdev %s: device still has handlers at destroy", d->name);
	hw_destroy(d);
	ims__free(d, sizeof(*d));
}

static int simdev_create(struct sim_machine *m, uint32_t idx, uint16_t rid,
			 struct ims_irq_domain *msi_parent, struct sim_device **out)
{
	struct ims_hw_msi_sink sink = { sink_fn, m };
	struct sim_device *d;
	int ret;

	(void)idx;
	d = ims__zalloc(sizeof(*d), "simdev");
	if (!d)
		return -ENOMEM;
	d->m = m;
	d->nr_slots = m->cfg.ims_slots;
	d->nr_msix = m->cfg.msix_vectors;
	snprintf(d->name, sizeof(d->name), "0000:%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1f, rid & 7);
	ret = hw_create(d, rid, &sink);
	if (!ret)
		ret = drv_probe(d, rid, msi_parent);
	if (ret) {
		simdev_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
}

static struct ims_device *simdev_os_device(struct sim_device *d)
{
	return d->dev;
}

static int simdev_adi_create(struct sim_device *d, uint32_t n, uint32_t pasid, struct ims_msi_map *maps,
			     struct sim_vec *recs)
{
	union ims_msi_cookie c = { .value = pasid };

	(void)recs;
	return ims_msi_alloc_group(d->dev, IMS_MSI_SECONDARY_DOMAIN, n, NULL, c, maps);
}

static int simdev_adi_destroy(struct sim_device *d, int group)
{
	return ims_msi_free_group(d->dev, IMS_MSI_SECONDARY_DOMAIN, group);
}

static int simdev_fire_ims(struct sim_device *d, const struct sim_vec *v, uint32_t pasid)
{
	return ims__hw_ims_array_signal(d->ims, v->index, pasid != 0, pasid);
}

static int simdev_fire_msix(struct sim_device *d, uint32_t entry)
{
	return ims__hw_msix_signal(d->msix, entry);
}

static int simdev_msix_alloc(struct sim_device *d)
{
	union ims_msi_cookie c = { .value = 0 };
	struct ims_msi_map map = ims_msi_alloc_irq_at(d->dev, IMS_MSI_DEFAULT_DOMAIN, 0, NULL, c);

	return map.virq;
}

static bool simdev_ims_pending(struct sim_device *d, uint32_t slot)
{
	return ims__hw_ims_array_pending(d->ims, slot);
}

static void simdev_ims_stats(struct sim_device *d, uint64_t *sent, uint64_t *latched, uint64_t *refused)
{
	struct ims_hw_ims_stats st;

	ims__hw_ims_array_get_stats(d->ims, &st);
	*sent = st.sent;
	*latched = st.latched;
	*refused = st.refused;
}

const struct sim_device_ops ims__simdev_ops = {
	.name = "simdev",
	.create = simdev_create,
	.destroy = simdev_destroy,
	.os_device = simdev_os_device,
	.adi_create = simdev_adi_create,
	.adi_destroy = simdev_adi_destroy,
	.fire_ims = simdev_fire_ims,
	.fire_msix = simdev_fire_msix,
	.msix_alloc = simdev_msix_alloc,
	.ims_pending = simdev_ims_pending,
	.ims_stats = simdev_ims_stats,
};

static void sink_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	ims__sim_fabric_write(ctx, w);
}

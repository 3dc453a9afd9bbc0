/*
 * The accelerator driver's MSI-X chip: table entries written through the
 * BAR accessor that the table's BIR names. Same habits as the IMS array
 * chip: the vector's entry offset is its domain cookie, writes go address
 * low, address high, data and are flushed by a read, and an entry is reset
 * (masked, address and data 0) when its vector is allocated and freed.
 */
#include <errno.h>

#include "os/accel/accel_internal.h"
#include "util/log.h"

static int entry_wr(struct accel_msix *x, uint64_t entry, uint32_t field, uint32_t val)
{
	int ret = x->io.write32(x->io.ctx, entry + field, val);

	if (ret) {
		atomic_fetch_add(&x->io_errors, 1);
		ims__warn_once("accel MSI-X: write at 0x%llx failed (%d)",
			       (unsigned long long)(entry + field), ret);
	}
	return ret;
}

static void entry_flush(struct accel_msix *x, uint64_t entry)
{
	uint32_t v;

	if (x->io.read32(x->io.ctx, entry + IMS_PCI_MSIX_ENTRY_CTRL, &v))
		atomic_fetch_add(&x->io_errors, 1);
}

static int entry_reset(struct accel_msix *x, uint64_t entry)
{
	int ret = entry_wr(x, entry, IMS_PCI_MSIX_ENTRY_CTRL, IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT);

	ret = ret ? ret : entry_wr(x, entry, IMS_PCI_MSIX_ENTRY_ADDR_LO, 0);
	ret = ret ? ret : entry_wr(x, entry, IMS_PCI_MSIX_ENTRY_ADDR_HI, 0);
	ret = ret ? ret : entry_wr(x, entry, IMS_PCI_MSIX_ENTRY_DATA, 0);
	if (!ret)
		entry_flush(x, entry);
	return ret;
}

static void msix_mask(struct ims_irq_data *d)
{
	struct accel_msix *x = ims_msi_domain_chip_data(d);
	uint64_t e = ims_msi_irq_desc(d)->dcookie.value;

	if (!entry_wr(x, e, IMS_PCI_MSIX_ENTRY_CTRL, IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT))
		entry_flush(x, e);
}

static void msix_unmask(struct ims_irq_data *d)
{
	struct accel_msix *x = ims_msi_domain_chip_data(d);
	uint64_t e = ims_msi_irq_desc(d)->dcookie.value;

	if (!entry_wr(x, e, IMS_PCI_MSIX_ENTRY_CTRL, 0))
		entry_flush(x, e);
}

static void msix_write_msg(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct accel_msix *x = ims_msi_domain_chip_data(d);
	uint64_t e = ims_msi_irq_desc(d)->dcookie.value;

	if (!entry_wr(x, e, IMS_PCI_MSIX_ENTRY_ADDR_LO, msg->address_lo) &&
	    !entry_wr(x, e, IMS_PCI_MSIX_ENTRY_ADDR_HI, msg->address_hi) &&
	    !entry_wr(x, e, IMS_PCI_MSIX_ENTRY_DATA, msg->data))
		entry_flush(x, e);
}

static int msix_prepare(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
			struct ims_msi_desc *desc)
{
	struct accel_msix *x = ims_msi_domain_data(d);
	uint64_t e = x->table + (uint64_t)desc->index * IMS_PCI_MSIX_ENTRY_SIZE;

	(void)info;
	if (desc->index >= x->nr)
		return ims__error(-ENOSPC, "%s: entry %u beyond the table's %u", ims_irq_domain_name(d),
				  desc->index, x->nr);
	if (entry_reset(x, e))
		return ims__error(-EIO, "%s: entry %u: the table cannot be written",
				  ims_irq_domain_name(d), desc->index);
	desc->dcookie.value = e;
	return 0;
}

static void msix_free_desc(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	entry_reset(ims_msi_domain_data(d), desc->dcookie.value);
}

const struct ims_msi_domain_template ims__accel_msix_template = {
	.name = "PCI-MSIX",
	.type = IMS_MSI_TYPE_MSIX,
	.chip = {
		.irq_mask = msix_mask,
		.irq_unmask = msix_unmask,
		.irq_write_msi_msg = msix_write_msg,
	},
	.prepare_desc = msix_prepare,
	.free_desc = msix_free_desc,
};

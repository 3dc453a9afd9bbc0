/*
 * The PCI core's probe of one function: header and BARs (sized through the
 * accessor when it can write, as an OS does at enumeration), the capability
 * walk, and the decoders of MSI, MSI-X and the SIOV DVSEC. MSI-X is
 * validated against the BARs: its BIRs must name a memory BAR the function
 * has, and, when BAR sizes are known, table and PBA must lie inside it
 * without overlapping. "Supports IMS" is the SIOV DVSEC's IMS bit.
 */
#include <errno.h>
#include <string.h>

#include <ims/pci.h>

#include "os/pci/pci_internal.h"
#include "util/log.h"

IMS_API int ims_pci_msi_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
			       struct ims_pci_msi_info *msi, struct ims_pci_fault *fault)
{
	uint32_t mmc, mme;
	uint16_t flags;
	int err;

	err = ims_pci_cfg_read16(acc, off + IMS_PCI_MSI_FLAGS, &flags);
	if (err)
		return err;
	mmc = (flags & IMS_PCI_MSI_FLAGS_QMASK) >> IMS_PCI_MSI_FLAGS_QMASK_SHIFT;
	mme = (flags & IMS_PCI_MSI_FLAGS_QSIZE) >> IMS_PCI_MSI_FLAGS_QSIZE_SHIFT;
	/* Encodings 6 and 7 (64 and 128 vectors) are reserved. */
	if (mmc > 5)
		return ims__pci_fault(fault, IMS_PCI_FAULT_RESERVED, off + IMS_PCI_MSI_FLAGS, flags,
				      "MSI multiple message capable");
	if (mme > 5)
		return ims__pci_fault(fault, IMS_PCI_FAULT_RESERVED, off + IMS_PCI_MSI_FLAGS, flags,
				      "MSI multiple message enable");
	*msi = (struct ims_pci_msi_info){
		.offset = off,
		.enabled = flags & IMS_PCI_MSI_FLAGS_ENABLE,
		.is_64bit = flags & IMS_PCI_MSI_FLAGS_64BIT,
		.per_vector_mask = flags & IMS_PCI_MSI_FLAGS_MASKBIT,
		.nr_capable = (uint8_t)(1u << mmc),
		.nr_enabled = (uint8_t)(1u << mme),
	};
	return 0;
}

IMS_API int ims_pci_msix_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
				struct ims_pci_msix_info *msix, struct ims_pci_fault *fault)
{
	uint32_t table, pba;
	uint16_t flags;
	int err;

	(void)fault;
	err = ims_pci_cfg_read16(acc, off + IMS_PCI_MSIX_FLAGS, &flags);
	if (!err)
		err = ims_pci_cfg_read32(acc, off + IMS_PCI_MSIX_TABLE, &table);
	if (!err)
		err = ims_pci_cfg_read32(acc, off + IMS_PCI_MSIX_PBA, &pba);
	if (err)
		return err;
	*msix = (struct ims_pci_msix_info){
		.offset = off,
		.enabled = flags & IMS_PCI_MSIX_FLAGS_ENABLE,
		.function_masked = flags & IMS_PCI_MSIX_FLAGS_MASKALL,
		.table_size = (uint16_t)((flags & IMS_PCI_MSIX_FLAGS_QSIZE) + 1),
		.table_bir = (uint8_t)(table & IMS_PCI_MSIX_BIR_MASK),
		.table_offset = table & IMS_PCI_MSIX_OFFSET_MASK,
		.pba_bir = (uint8_t)(pba & IMS_PCI_MSIX_BIR_MASK),
		.pba_offset = pba & IMS_PCI_MSIX_OFFSET_MASK,
	};
	return 0;
}

IMS_API int ims_pci_siov_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
				struct ims_pci_siov_info *siov, struct ims_pci_fault *fault)
{
	uint32_t hdr1, pages, sys, caps;
	uint8_t dep, flags;
	uint16_t len;
	int err;

	err = ims_pci_cfg_read32(acc, off + IMS_PCI_DVSEC_HDR1, &hdr1);
	if (err)
		return err;
	len = (uint16_t)(hdr1 >> IMS_PCI_DVSEC_HDR1_LEN_SHIFT);
	if (len < IMS_PCI_SIOV_DVSEC_SIZE || off + (uint32_t)IMS_PCI_SIOV_DVSEC_SIZE > acc->size)
		return ims__pci_fault(fault, IMS_PCI_FAULT_TRUNCATED, off, len,
				      "SIOV DVSEC shorter than its 0x18-byte layout");
	err = ims_pci_cfg_read8(acc, off + IMS_PCI_SIOV_FUNC_DEP_LINK, &dep);
	if (!err)
		err = ims_pci_cfg_read8(acc, off + IMS_PCI_SIOV_FLAGS, &flags);
	if (!err)
		err = ims_pci_cfg_read32(acc, off + IMS_PCI_SIOV_SUPP_PAGE_SIZES, &pages);
	if (!err)
		err = ims_pci_cfg_read32(acc, off + IMS_PCI_SIOV_SYS_PAGE_SIZE, &sys);
	if (!err)
		err = ims_pci_cfg_read32(acc, off + IMS_PCI_SIOV_CAPS, &caps);
	if (err)
		return err;
	*siov = (struct ims_pci_siov_info){
		.offset = off,
		.revision = (uint8_t)((hdr1 >> IMS_PCI_DVSEC_HDR1_REV_SHIFT) & 0xf),
		.length = len,
		.func_dep_link = dep,
		.flags = flags,
		.homogeneous = flags & IMS_PCI_SIOV_FLAGS_HOMOGENEOUS,
		.supported_page_sizes = pages,
		.system_page_size = sys,
		.caps = caps,
		.ims_supported = caps & IMS_PCI_SIOV_CAPS_IMS,
	};
	return 0;
}

static int read_bars(const struct ims_pci_cfg_access *acc, struct ims_pci_dev_info *info)
{
	for (unsigned int i = 0; i < info->nr_bars; i++) {
		struct ims_pci_bar_info *b = &info->bars[i];
		uint32_t off = IMS_PCI_BAR0 + 4 * i, v, hi;
		int err;

		if (i && info->bars[i - 1].kind == IMS_PCI_BAR_KIND_MEM64) {
			b->kind = IMS_PCI_BAR_KIND_MEM64_HI;
			continue;
		}
		err = ims_pci_cfg_read32(acc, off, &v);
		if (err)
			return ims__pci_fault(&info->fault, IMS_PCI_FAULT_READ, off, 0, "BAR");
		if (v & IMS_PCI_BAR_IO) {
			b->kind = IMS_PCI_BAR_KIND_IO;
			b->addr = v & IMS_PCI_BAR_IO_ADDR_MASK;
			continue;
		}
		b->prefetchable = v & IMS_PCI_BAR_PREFETCH;
		b->addr = v & IMS_PCI_BAR_MEM_ADDR_MASK;
		switch (v & IMS_PCI_BAR_MEM_TYPE_MASK) {
		case IMS_PCI_BAR_MEM_TYPE_64:
			if (i + 1 >= info->nr_bars)
				return ims__pci_fault(&info->fault, IMS_PCI_FAULT_BAD_HEADER, off, v,
						      "64-bit BAR without an upper half");
			err = ims_pci_cfg_read32(acc, off + 4, &hi);
			if (err)
				return ims__pci_fault(&info->fault, IMS_PCI_FAULT_READ, off + 4, 0,
						      "BAR");
			b->kind = IMS_PCI_BAR_KIND_MEM64;
			b->addr |= (uint64_t)hi << 32;
			break;
		case IMS_PCI_BAR_MEM_TYPE_32:
		case 0x2:	/* below 1 MB, a PCI 2.x relic: still 32 bits */
			b->kind = IMS_PCI_BAR_KIND_MEM32;
			break;
		default:
			return ims__pci_fault(&info->fault, IMS_PCI_FAULT_RESERVED, off, v,
					      "BAR memory type");
		}
	}
	return 0;
}

/* Write all ones, read back, restore: what the BAR's write mask reveals. */
static int probe_one(const struct ims_pci_cfg_access *acc, uint32_t off, uint32_t *mask)
{
	uint32_t saved;
	int err;

	err = acc->read(acc->ctx, off, 4, &saved);
	if (!err)
		err = acc->write(acc->ctx, off, 4, 0xffffffffu);
	if (!err)
		err = acc->read(acc->ctx, off, 4, mask);
	if (!err)
		err = acc->write(acc->ctx, off, 4, saved);
	return err;
}

static int size_bars(const struct ims_pci_cfg_access *acc, struct ims_pci_dev_info *info)
{
	uint32_t cmd, lo, hi;
	int err, err2;

	err = acc->read(acc->ctx, IMS_PCI_COMMAND, 2, &cmd);
	if (err)
		return ims__pci_fault(&info->fault, IMS_PCI_FAULT_READ, IMS_PCI_COMMAND, 0, "command");
	/* Decode off while the BARs hold all ones, so they claim no addresses. */
	err = acc->write(acc->ctx, IMS_PCI_COMMAND, 2,
			 cmd & ~(uint32_t)(IMS_PCI_COMMAND_IO | IMS_PCI_COMMAND_MEMORY));
	for (unsigned int i = 0; !err && i < info->nr_bars; i++) {
		struct ims_pci_bar_info *b = &info->bars[i];
		uint32_t off = IMS_PCI_BAR0 + 4 * i;
		uint64_t m;

		if (b->kind == IMS_PCI_BAR_KIND_MEM64_HI)
			continue;
		err = probe_one(acc, off, &lo);
		if (err)
			break;
		b->sized = true;
		if (b->kind == IMS_PCI_BAR_KIND_IO) {
			m = lo & IMS_PCI_BAR_IO_ADDR_MASK;
			if (!(m & 0xffff0000u))
				m |= 0xffff0000u;	/* 16-bit I/O decode */
			b->size = m ? (uint32_t)(~(uint32_t)m + 1) : 0;
		} else {
			hi = 0xffffffffu;
			if (b->kind == IMS_PCI_BAR_KIND_MEM64) {
				err = probe_one(acc, off + 4, &hi);
				if (err)
					break;
				info->bars[i + 1].sized = true;
			}
			m = ((uint64_t)hi << 32) | (lo & IMS_PCI_BAR_MEM_ADDR_MASK);
			b->size = (m & IMS_PCI_BAR_MEM_ADDR_MASK) ? ~m + 1 : 0;
		}
		if (!b->size)
			b->kind = IMS_PCI_BAR_KIND_NONE;
	}
	err2 = acc->write(acc->ctx, IMS_PCI_COMMAND, 2, cmd);
	if (err || err2)
		return ims__pci_fault(&info->fault, IMS_PCI_FAULT_READ, IMS_PCI_BAR0, 0,
				      "BAR sizing write");
	return 0;
}

static int check_bir(const struct ims_pci_dev_info *info, uint32_t reg_off, uint8_t bir,
		     struct ims_pci_fault *fault, const char *what)
{
	const struct ims_pci_bar_info *b;

	if (bir >= info->nr_bars)
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAD_BIR, reg_off, bir, what);
	b = &info->bars[bir];
	if (b->kind == IMS_PCI_BAR_KIND_IO || b->kind == IMS_PCI_BAR_KIND_MEM64_HI ||
	    (b->sized && b->kind == IMS_PCI_BAR_KIND_NONE))
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAD_BIR, reg_off, bir, what);
	return 0;
}

static int msix_validate(const struct ims_pci_dev_info *info, const struct ims_pci_msix_info *x,
			 struct ims_pci_fault *fault)
{
	uint64_t tlen = (uint64_t)x->table_size * IMS_PCI_MSIX_ENTRY_SIZE;
	uint64_t plen = (uint64_t)(x->table_size + 63) / 64 * 8;
	const struct ims_pci_bar_info *tb, *pb;
	int err;

	err = check_bir(info, x->offset + IMS_PCI_MSIX_TABLE, x->table_bir, fault,
			"MSI-X table BIR");
	if (!err)
		err = check_bir(info, x->offset + IMS_PCI_MSIX_PBA, x->pba_bir, fault,
				"MSI-X PBA BIR");
	if (err)
		return err;
	tb = &info->bars[x->table_bir];
	pb = &info->bars[x->pba_bir];
	if (tb->sized && x->table_offset + tlen > tb->size)
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAR_RANGE, x->offset + IMS_PCI_MSIX_TABLE,
				      x->table_offset, "MSI-X table");
	if (pb->sized && x->pba_offset + plen > pb->size)
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAR_RANGE, x->offset + IMS_PCI_MSIX_PBA,
				      x->pba_offset, "MSI-X PBA");
	if (x->table_bir == x->pba_bir && x->pba_offset < x->table_offset + tlen &&
	    x->table_offset < x->pba_offset + plen)
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAR_RANGE, x->offset + IMS_PCI_MSIX_PBA,
				      x->pba_offset, "MSI-X PBA overlapping the table");
	return 0;
}

struct probe_ctx {
	const struct ims_pci_cfg_access *acc;
	struct ims_pci_dev_info *info;
};

static int probe_cb(const struct ims_pci_cap *cap, void *ctx)
{
	struct probe_ctx *p = ctx;
	struct ims_pci_dev_info *info = p->info;
	uint32_t hdr1, hdr2;
	int err;

	if (info->nr_caps < IMS_PCI_MAX_CAPS)
		info->caps[info->nr_caps++] = *cap;
	if (!cap->extended) {
		if (cap->id == IMS_PCI_CAP_ID_MSI && !info->has_msi) {
			info->has_msi = true;
			info->msi.offset = cap->offset;
		} else if (cap->id == IMS_PCI_CAP_ID_MSIX && !info->has_msix) {
			info->has_msix = true;
			info->msix.offset = cap->offset;
		}
		return 0;
	}
	if (cap->id != IMS_PCI_EXT_CAP_ID_DVSEC || info->has_siov)
		return 0;
	/* The walk checked that both DVSEC headers fit. */
	err = ims_pci_cfg_read32(p->acc, cap->offset + IMS_PCI_DVSEC_HDR1, &hdr1);
	if (!err)
		err = ims_pci_cfg_read32(p->acc, cap->offset + IMS_PCI_DVSEC_HDR2, &hdr2);
	if (err)
		return err;
	if ((hdr1 & 0xffff) == IMS_PCI_SIOV_VENDOR && (hdr2 & 0xffff) == IMS_PCI_SIOV_DVSEC_ID) {
		info->has_siov = true;
		info->siov.offset = cap->offset;
	}
	return 0;
}

IMS_API int ims_pci_dev_probe(const struct ims_pci_cfg_access *acc, struct ims_pci_dev_info *info)
{
	struct probe_ctx p = { acc, info };
	uint32_t class_rev;
	uint16_t vendor, device;
	uint8_t htype;
	int err;

	memset(info, 0, sizeof(*info));
	err = ims__pci_check_access(acc);
	if (err)
		return err;
	info->cfg_size = acc->size;
	err = ims_pci_cfg_read16(acc, IMS_PCI_VENDOR_ID, &vendor);
	if (!err)
		err = ims_pci_cfg_read16(acc, IMS_PCI_DEVICE_ID, &device);
	if (!err)
		err = ims_pci_cfg_read32(acc, IMS_PCI_REVISION_ID, &class_rev);
	if (!err)
		err = ims_pci_cfg_read8(acc, IMS_PCI_HEADER_TYPE, &htype);
	if (err)
		return ims__pci_fault(&info->fault, IMS_PCI_FAULT_READ, 0, 0, "header");
	if (vendor == 0xffff || vendor == 0)
		return ims__pci_fault(&info->fault, IMS_PCI_FAULT_BAD_HEADER, IMS_PCI_VENDOR_ID,
				      vendor, "vendor id (no function)");
	info->vendor_id = vendor;
	info->device_id = device;
	info->revision = (uint8_t)class_rev;
	info->class_code = class_rev >> 8;
	info->header_type = htype;
	switch (htype & IMS_PCI_HEADER_TYPE_MASK) {
	case 0: info->nr_bars = 6; break;
	case 1: info->nr_bars = 2; break;
	default: info->nr_bars = 0; break;
	}
	err = read_bars(acc, info);
	if (!err && acc->write)
		err = size_bars(acc, info);
	if (err)
		return err;

	err = ims_pci_cap_walk(acc, probe_cb, &p, &info->fault);
	if (err < 0)
		return err;
	if (info->has_msi) {
		err = ims_pci_msi_decode(acc, info->msi.offset, &info->msi, &info->fault);
		if (err)
			return err;
	}
	if (info->has_msix) {
		err = ims_pci_msix_decode(acc, info->msix.offset, &info->msix, &info->fault);
		if (!err)
			err = msix_validate(info, &info->msix, &info->fault);
		if (err)
			return err;
	}
	if (info->has_siov) {
		err = ims_pci_siov_decode(acc, info->siov.offset, &info->siov, &info->fault);
		if (err)
			return err;
	}
	return 0;
}

IMS_API bool ims_pci_dev_supports_ims(const struct ims_pci_dev_info *info)
{
	return info && info->has_siov && info->siov.ims_supported;
}

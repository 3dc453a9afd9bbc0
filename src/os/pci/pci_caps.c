/*
 * The PCI core's capability walk: the standard list from the pointer at
 * 0x34 and the extended list from 0x100, each pointer checked (alignment,
 * lower bound, end of space) before it is followed, each visited dword
 * remembered so that a loop ends the walk, and each capability checked to
 * fit before it is reported. Everything is read through the accessor, so
 * the walk works the same on a live model and on a dump.
 */
#include <errno.h>
#include <string.h>

#include <ims/pci.h>

#include "os/pci/pci_internal.h"
#include "util/bitmap.h"
#include "util/log.h"

static int buf_read(void *ctx, uint32_t off, uint32_t size, uint32_t *val)
{
	const uint8_t *p = (const uint8_t *)ctx + off;
	uint32_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	*val = v;
	return 0;
}

IMS_API int ims_pci_cfg_access_buffer(struct ims_pci_cfg_access *acc, const void *buf,
				      size_t len)
{
	if (!buf || len < IMS_PCI_STD_HEADER_SIZE || len > IMS_PCI_CFG_EXT_SIZE || len % 4)
		return ims__error(-EINVAL,
				  "pci: a configuration space dump of %zu bytes: expected 64..4096, a multiple of 4",
				  len);
	acc->read = buf_read;
	acc->write = NULL;
	/* The accessor never writes through ctx; it is const in spirit. */
	acc->ctx = (void *)(uintptr_t)buf;
	acc->size = (uint32_t)len;
	return 0;
}

int ims__pci_check_access(const struct ims_pci_cfg_access *acc)
{
	if (!acc || !acc->read)
		return ims__error(-EINVAL, "pci: no configuration space accessor");
	if (acc->size < IMS_PCI_STD_HEADER_SIZE || acc->size > IMS_PCI_CFG_EXT_SIZE ||
	    acc->size % 4)
		return ims__error(-EINVAL,
				  "pci: configuration space size %u: expected 64..4096, a multiple of 4",
				  acc->size);
	return 0;
}

static int cfg_read(const struct ims_pci_cfg_access *acc, uint32_t off, uint32_t size,
		    uint32_t *val)
{
	int err;

	if (off % size || off >= acc->size || acc->size - off < size)
		return ims__error(-EINVAL, "pci: %u-byte read at 0x%x: outside the %u-byte space or misaligned",
				  size, off, acc->size);
	err = acc->read(acc->ctx, off, size, val);
	if (err)
		return ims__error(err < 0 ? err : -EIO, "pci: %u-byte read at 0x%x failed", size, off);
	return 0;
}

IMS_API int ims_pci_cfg_read8(const struct ims_pci_cfg_access *acc, uint32_t off, uint8_t *val)
{
	uint32_t v;
	int err = cfg_read(acc, off, 1, &v);

	if (!err)
		*val = (uint8_t)v;
	return err;
}

IMS_API int ims_pci_cfg_read16(const struct ims_pci_cfg_access *acc, uint32_t off, uint16_t *val)
{
	uint32_t v;
	int err = cfg_read(acc, off, 2, &v);

	if (!err)
		*val = (uint16_t)v;
	return err;
}

IMS_API int ims_pci_cfg_read32(const struct ims_pci_cfg_access *acc, uint32_t off, uint32_t *val)
{
	return cfg_read(acc, off, 4, val);
}

IMS_API const char *ims_pci_fault_name(enum ims_pci_fault_kind kind)
{
	switch (kind) {
	case IMS_PCI_FAULT_NONE: return "no fault";
	case IMS_PCI_FAULT_PTR_IN_HEADER: return "pointer into the header";
	case IMS_PCI_FAULT_PTR_BEYOND: return "pointer beyond the space";
	case IMS_PCI_FAULT_PTR_MISALIGNED: return "misaligned pointer";
	case IMS_PCI_FAULT_LOOP: return "loop in the list";
	case IMS_PCI_FAULT_TRUNCATED: return "truncated capability";
	case IMS_PCI_FAULT_BAD_HEADER: return "bad header";
	case IMS_PCI_FAULT_BAD_BIR: return "BIR names no usable memory BAR";
	case IMS_PCI_FAULT_BAR_RANGE: return "outside its BAR or overlapping";
	case IMS_PCI_FAULT_RESERVED: return "reserved value";
	case IMS_PCI_FAULT_READ: return "read failed";
	}
	return "unknown fault";
}

int ims__pci_fault(struct ims_pci_fault *fault, enum ims_pci_fault_kind kind, uint32_t offset,
		   uint32_t value, const char *what)
{
	if (fault)
		*fault = (struct ims_pci_fault){ kind, offset, value };
	return ims__error(-EINVAL, "pci: %s at offset 0x%x (value 0x%x): %s", what, offset, value,
			  ims_pci_fault_name(kind));
}

/* A read failure inside the walk is reported like a fault, at its offset. */
static int read_fault(struct ims_pci_fault *fault, uint32_t off, int err)
{
	if (fault)
		*fault = (struct ims_pci_fault){ IMS_PCI_FAULT_READ, off, 0 };
	return err;
}

/*
 * Bytes a standard capability needs from its offset, or 0 if its layout
 * cannot be read (the caller then reports it truncated).
 */
static int std_cap_len(const struct ims_pci_cfg_access *acc, uint32_t off, uint8_t id,
		       uint32_t *len)
{
	uint16_t flags;
	uint8_t vlen;
	int err;

	switch (id) {
	case IMS_PCI_CAP_ID_MSI:
		if (off + 4 > acc->size) {
			*len = 4;
			return 0;
		}
		err = ims_pci_cfg_read16(acc, off + IMS_PCI_MSI_FLAGS, &flags);
		if (err)
			return err;
		*len = (flags & IMS_PCI_MSI_FLAGS_64BIT) ? 0xe : 0xa;
		if (flags & IMS_PCI_MSI_FLAGS_MASKBIT)
			*len = (flags & IMS_PCI_MSI_FLAGS_64BIT) ? 0x18 : 0x14;
		return 0;
	case IMS_PCI_CAP_ID_MSIX:
		*len = IMS_PCI_MSIX_CAP_SIZE;
		return 0;
	case IMS_PCI_CAP_ID_PM:
		*len = 8;
		return 0;
	case IMS_PCI_CAP_ID_VNDR:
		if (off + 4 > acc->size) {
			*len = 3;
			return 0;
		}
		err = ims_pci_cfg_read8(acc, off + 2, &vlen);
		if (err)
			return err;
		/* The length byte counts the whole capability, header included. */
		*len = vlen < 3 ? 0x100 : vlen;
		return 0;
	default:
		*len = 2;
		return 0;
	}
}

/* Standard capabilities live below 0x100 even in a 4096-byte space. */
static uint32_t std_end(const struct ims_pci_cfg_access *acc)
{
	return acc->size < IMS_PCI_CFG_SIZE ? acc->size : IMS_PCI_CFG_SIZE;
}

static int check_ptr(const struct ims_pci_cfg_access *acc, uint32_t ptr_off, uint32_t ptr,
		     uint32_t lowest, uint32_t end, const uint64_t *visited,
		     struct ims_pci_fault *fault, const char *list)
{
	(void)acc;
	if (ptr & 3)
		return ims__pci_fault(fault, IMS_PCI_FAULT_PTR_MISALIGNED, ptr_off, ptr, list);
	if (ptr < lowest)
		return ims__pci_fault(fault, IMS_PCI_FAULT_PTR_IN_HEADER, ptr_off, ptr, list);
	if (ptr >= end)
		return ims__pci_fault(fault, IMS_PCI_FAULT_PTR_BEYOND, ptr_off, ptr, list);
	if (ims__test_bit(visited, ptr / 4))
		return ims__pci_fault(fault, IMS_PCI_FAULT_LOOP, ptr_off, ptr, list);
	return 0;
}

static int walk_std(const struct ims_pci_cfg_access *acc, ims_pci_cap_fn fn, void *ctx,
		    struct ims_pci_fault *fault, uint64_t *visited)
{
	static const char list[] = "standard capability list: pointer";
	uint32_t ptr_off = IMS_PCI_CAP_PTR, end = std_end(acc);
	uint16_t status;
	uint8_t htype, ptr, id;
	int err;

	err = ims_pci_cfg_read16(acc, IMS_PCI_STATUS, &status);
	if (err)
		return read_fault(fault, IMS_PCI_STATUS, err);
	if (!(status & IMS_PCI_STATUS_CAP_LIST))
		return 0;
	err = ims_pci_cfg_read8(acc, IMS_PCI_HEADER_TYPE, &htype);
	if (err)
		return read_fault(fault, IMS_PCI_HEADER_TYPE, err);
	if ((htype & IMS_PCI_HEADER_TYPE_MASK) > 1)
		return ims__pci_fault(fault, IMS_PCI_FAULT_BAD_HEADER, IMS_PCI_HEADER_TYPE, htype,
				      "header type without a capability pointer at 0x34");
	err = ims_pci_cfg_read8(acc, ptr_off, &ptr);
	if (err)
		return read_fault(fault, ptr_off, err);
	while (ptr) {
		struct ims_pci_cap cap;
		uint32_t len;

		err = check_ptr(acc, ptr_off, ptr, IMS_PCI_STD_HEADER_SIZE, end, visited, fault,
				list);
		if (err)
			return err;
		ims__set_bit(visited, ptr / 4);
		err = ims_pci_cfg_read8(acc, ptr + IMS_PCI_CAP_ID, &id);
		if (err)
			return read_fault(fault, ptr, err);
		err = std_cap_len(acc, ptr, id, &len);
		if (err)
			return read_fault(fault, ptr, err);
		if (ptr + len > end)
			return ims__pci_fault(fault, IMS_PCI_FAULT_TRUNCATED, ptr, id,
					      "standard capability");
		cap = (struct ims_pci_cap){ .offset = ptr, .id = id };
		err = fn ? fn(&cap, ctx) : 0;
		if (err)
			return err;
		ptr_off = ptr + IMS_PCI_CAP_NEXT;
		err = ims_pci_cfg_read8(acc, ptr_off, &ptr);
		if (err)
			return read_fault(fault, ptr_off, err);
	}
	return 0;
}

static int ext_cap_len(const struct ims_pci_cfg_access *acc, uint32_t off, uint16_t id,
		       uint32_t *len)
{
	uint32_t hdr1;
	int err;

	if (id != IMS_PCI_EXT_CAP_ID_DVSEC) {
		*len = 4;
		return 0;
	}
	if (off + IMS_PCI_DVSEC_HDR2 + 4 > acc->size) {
		*len = IMS_PCI_DVSEC_HEADER_SIZE;
		return 0;
	}
	err = ims_pci_cfg_read32(acc, off + IMS_PCI_DVSEC_HDR1, &hdr1);
	if (err)
		return err;
	*len = hdr1 >> IMS_PCI_DVSEC_HDR1_LEN_SHIFT;
	/* A DVSEC shorter than its own headers is as broken as a cut one. */
	if (*len < IMS_PCI_DVSEC_HEADER_SIZE)
		*len = IMS_PCI_CFG_EXT_SIZE + 1;
	return 0;
}

static int walk_ext(const struct ims_pci_cfg_access *acc, ims_pci_cap_fn fn, void *ctx,
		    struct ims_pci_fault *fault, uint64_t *visited)
{
	static const char list[] = "extended capability list: pointer";
	uint32_t off = IMS_PCI_EXT_CAP_START, hdr;
	int err;

	err = ims_pci_cfg_read32(acc, off, &hdr);
	if (err)
		return read_fault(fault, off, err);
	/* No extended capabilities: a zero header, or all ones from a function
	 * that does not decode extended space. */
	if (hdr == 0 || hdr == 0xffffffffu)
		return 0;
	for (;;) {
		uint16_t id = hdr & IMS_PCI_EXT_CAP_ID_MASK;
		uint32_t next = hdr >> IMS_PCI_EXT_CAP_NEXT_SHIFT, len;
		struct ims_pci_cap cap;

		ims__set_bit(visited, off / 4);
		err = ext_cap_len(acc, off, id, &len);
		if (err)
			return read_fault(fault, off, err);
		if (off + len > acc->size)
			return ims__pci_fault(fault, IMS_PCI_FAULT_TRUNCATED, off, id,
					      "extended capability");
		cap = (struct ims_pci_cap){
			.offset = (uint16_t)off,
			.id = id,
			.version = (uint8_t)((hdr & IMS_PCI_EXT_CAP_VER_MASK) >>
					     IMS_PCI_EXT_CAP_VER_SHIFT),
			.extended = true,
		};
		err = fn ? fn(&cap, ctx) : 0;
		if (err)
			return err;
		if (!next)
			return 0;
		err = check_ptr(acc, off, next, IMS_PCI_EXT_CAP_START, acc->size, visited, fault,
				list);
		if (err)
			return err;
		off = next;
		err = ims_pci_cfg_read32(acc, off, &hdr);
		if (err)
			return read_fault(fault, off, err);
	}
}

IMS_API int ims_pci_cap_walk(const struct ims_pci_cfg_access *acc, ims_pci_cap_fn fn, void *ctx,
			     struct ims_pci_fault *fault)
{
	/* One bit per dword of the space: what makes a loop finite. */
	uint64_t visited[IMS_BITMAP_WORDS(IMS_PCI_CFG_EXT_SIZE / 4)];
	int err;

	if (fault)
		*fault = (struct ims_pci_fault){ IMS_PCI_FAULT_NONE, 0, 0 };
	err = ims__pci_check_access(acc);
	if (err)
		return err;
	memset(visited, 0, sizeof(visited));
	err = walk_std(acc, fn, ctx, fault, visited);
	if (err)
		return err;
	if (acc->size < IMS_PCI_CFG_EXT_SIZE)
		return 0;
	return walk_ext(acc, fn, ctx, fault, visited);
}

struct find_ctx {
	uint16_t id;
	bool extended;
	bool dvsec;		/* also match the DVSEC vendor and id */
	uint16_t vendor;
	uint16_t dvsec_id;
	const struct ims_pci_cfg_access *acc;
	uint16_t found;
};

static int find_cb(const struct ims_pci_cap *cap, void *ctx)
{
	struct find_ctx *f = ctx;

	if (cap->extended != f->extended || cap->id != f->id)
		return 0;
	if (f->dvsec) {
		uint32_t hdr1, hdr2;
		int err;

		err = ims_pci_cfg_read32(f->acc, cap->offset + IMS_PCI_DVSEC_HDR1, &hdr1);
		if (!err)
			err = ims_pci_cfg_read32(f->acc, cap->offset + IMS_PCI_DVSEC_HDR2, &hdr2);
		if (err)
			return err;
		if ((hdr1 & 0xffff) != f->vendor || (hdr2 & 0xffff) != f->dvsec_id)
			return 0;
	}
	f->found = cap->offset;
	return 1;
}

static int find(const struct ims_pci_cfg_access *acc, struct find_ctx *f, uint16_t *off)
{
	int err;

	f->acc = acc;
	err = ims_pci_cap_walk(acc, find_cb, f, NULL);
	if (err < 0)
		return err;
	if (err == 0)
		return -ENOENT;
	*off = f->found;
	return 0;
}

IMS_API int ims_pci_find_cap(const struct ims_pci_cfg_access *acc, uint8_t id, uint16_t *off)
{
	struct find_ctx f = { .id = id };

	return find(acc, &f, off);
}

IMS_API int ims_pci_find_ext_cap(const struct ims_pci_cfg_access *acc, uint16_t id, uint16_t *off)
{
	struct find_ctx f = { .id = id, .extended = true };

	return find(acc, &f, off);
}

IMS_API int ims_pci_find_dvsec(const struct ims_pci_cfg_access *acc, uint16_t vendor,
			       uint16_t dvsec_id, uint16_t *off)
{
	struct find_ctx f = {
		.id = IMS_PCI_EXT_CAP_ID_DVSEC, .extended = true, .dvsec = true,
		.vendor = vendor, .dvsec_id = dvsec_id,
	};

	return find(acc, &f, off);
}

IMS_API const char *ims_pci_cap_name(uint16_t id, bool extended)
{
	if (!extended) {
		switch (id) {
		case IMS_PCI_CAP_ID_PM: return "Power Management";
		case 0x03: return "VPD";
		case IMS_PCI_CAP_ID_MSI: return "MSI";
		case IMS_PCI_CAP_ID_VNDR: return "Vendor-Specific";
		case IMS_PCI_CAP_ID_EXP: return "PCI Express";
		case IMS_PCI_CAP_ID_MSIX: return "MSI-X";
		case 0x12: return "SATA";
		case 0x13: return "Advanced Features";
		case 0x14: return "Enhanced Allocation";
		}
		return "unknown";
	}
	switch (id) {
	case IMS_PCI_EXT_CAP_ID_AER: return "Advanced Error Reporting";
	case 0x0002: return "Virtual Channel";
	case IMS_PCI_EXT_CAP_ID_DSN: return "Device Serial Number";
	case 0x000b: return "Vendor-Specific Extended";
	case 0x000d: return "Access Control Services";
	case 0x000e: return "Alternative Routing-ID";
	case IMS_PCI_EXT_CAP_ID_ATS: return "Address Translation Services";
	case IMS_PCI_EXT_CAP_ID_SRIOV: return "SR-IOV";
	case IMS_PCI_EXT_CAP_ID_PRI: return "Page Request";
	case 0x0015: return "Resizable BAR";
	case 0x0018: return "Latency Tolerance Reporting";
	case 0x0019: return "Secondary PCI Express";
	case IMS_PCI_EXT_CAP_ID_PASID: return "PASID";
	case 0x001e: return "L1 PM Substates";
	case IMS_PCI_EXT_CAP_ID_DVSEC: return "Designated Vendor-Specific";
	case 0x0025: return "Data Link Feature";
	}
	return "unknown";
}

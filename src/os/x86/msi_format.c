/*
 * Compose and decode of x86 interrupt messages, in the compatibility format
 * (destination APIC ID and vector in the message itself) and the remappable
 * format (a handle that indexes the interrupt remapping table). Both are
 * pure functions of the bits, shared by the vector domain, the remapping
 * driver and imsctl.
 */
#include <errno.h>

#include <ims/x86.h>

#include "util/log.h"

/* The fields of each word are disjoint and cover only their own bits. */
_Static_assert(sizeof(struct ims_msi_msg) == 12, "address low, address high, data");
_Static_assert((IMS_X86_MSI_ADDR_BASE_MASK & (IMS_X86_MSI_ADDR_DEST_MASK | IMS_X86_MSI_ADDR_EXT_DEST_MASK |
					       IMS_X86_MSI_ADDR_REMAP | IMS_X86_MSI_ADDR_RH |
					       IMS_X86_MSI_ADDR_LOGICAL)) == 0, "compat address fields overlap");
_Static_assert((IMS_X86_MSI_ADDR_DEST_MASK & IMS_X86_MSI_ADDR_EXT_DEST_MASK) == 0,
	       "destination and extended destination overlap");
_Static_assert((IMS_X86_MSI_ADDR_HANDLE_MASK & (IMS_X86_MSI_ADDR_REMAP | IMS_X86_MSI_ADDR_SHV |
						 IMS_X86_MSI_ADDR_HANDLE15)) == 0, "remappable address fields overlap");
_Static_assert((IMS_X86_MSI_DATA_VECTOR_MASK | IMS_X86_MSI_DATA_DM_MASK | IMS_X86_MSI_DATA_RSVD_MASK |
		IMS_X86_MSI_DATA_LEVEL_ASSERT | IMS_X86_MSI_DATA_TRIGGER_LEVEL) == 0xffffffffu &&
	       (IMS_X86_MSI_DATA_RSVD_MASK & (IMS_X86_MSI_DATA_VECTOR_MASK | IMS_X86_MSI_DATA_DM_MASK |
					      IMS_X86_MSI_DATA_LEVEL_ASSERT | IMS_X86_MSI_DATA_TRIGGER_LEVEL)) == 0,
	       "compat data fields tile the word");

IMS_API const char *ims_x86_delivery_mode_name(unsigned int dm)
{
	switch (dm) {
	case IMS_X86_DM_FIXED:
		return "fixed";
	case IMS_X86_DM_LOWEST:
		return "lowest-priority";
	case IMS_X86_DM_SMI:
		return "smi";
	case IMS_X86_DM_NMI:
		return "nmi";
	case IMS_X86_DM_INIT:
		return "init";
	case IMS_X86_DM_EXTINT:
		return "extint";
	default:
		return "reserved";
	}
}

static bool dm_reserved(unsigned int dm)
{
	return dm == 3 || dm == 6 || dm > 7;
}

static int compose_compat(const struct ims_x86_msi_fields *f, struct ims_msi_msg *msg)
{
	if (f->apic_id > IMS_X86_MAX_EXT_APIC_ID)
		return ims__error(-EINVAL, "msi compose: apic_id 0x%x does not fit a compatibility message (max 0x%x)",
				  f->apic_id, IMS_X86_MAX_EXT_APIC_ID);
	if (dm_reserved(f->delivery_mode))
		return ims__error(-EINVAL, "msi compose: delivery_mode %u is reserved", f->delivery_mode);
	msg->address_hi = 0;
	msg->address_lo = IMS_X86_MSI_ADDR_BASE |
			  (f->apic_id & 0xffu) << IMS_X86_MSI_ADDR_DEST_SHIFT |
			  (f->apic_id >> 8) << IMS_X86_MSI_ADDR_EXT_DEST_SHIFT |
			  (f->redirection_hint ? IMS_X86_MSI_ADDR_RH : 0) |
			  (f->dest_logical ? IMS_X86_MSI_ADDR_LOGICAL : 0);
	msg->data = f->vector | (uint32_t)f->delivery_mode << IMS_X86_MSI_DATA_DM_SHIFT |
		    (f->level_assert ? IMS_X86_MSI_DATA_LEVEL_ASSERT : 0) |
		    (f->trigger_level ? IMS_X86_MSI_DATA_TRIGGER_LEVEL : 0);
	return 0;
}

static int compose_remap(const struct ims_x86_msi_fields *f, struct ims_msi_msg *msg)
{
	if (!f->shv && f->subhandle)
		return ims__error(-EINVAL, "msi compose: subhandle 0x%x given without shv", f->subhandle);
	msg->address_hi = 0;
	msg->address_lo = IMS_X86_MSI_ADDR_BASE | IMS_X86_MSI_ADDR_REMAP |
			  (uint32_t)(f->handle & 0x7fffu) << IMS_X86_MSI_ADDR_HANDLE_SHIFT |
			  (f->handle & 0x8000u ? IMS_X86_MSI_ADDR_HANDLE15 : 0) |
			  (f->shv ? IMS_X86_MSI_ADDR_SHV : 0);
	msg->data = f->shv ? f->subhandle : 0;
	return 0;
}

IMS_API int ims_x86_msi_compose(const struct ims_x86_msi_fields *f, struct ims_msi_msg *msg)
{
	if (!f || !msg)
		return ims__error(-EINVAL, "msi compose: NULL %s", f ? "msg" : "fields");
	switch (f->format) {
	case IMS_X86_MSI_COMPAT:
		return compose_compat(f, msg);
	case IMS_X86_MSI_REMAPPABLE:
		return compose_remap(f, msg);
	default:
		return ims__error(-EINVAL, "msi compose: format %d is neither compatibility nor remappable",
				  (int)f->format);
	}
}

IMS_API int ims_x86_msi_decode(const struct ims_msi_msg *msg, struct ims_x86_msi_fields *out)
{
	struct ims_x86_msi_fields f = { 0 };
	uint32_t a, d;

	if (!msg || !out)
		return ims__error(-EINVAL, "msi decode: NULL %s", msg ? "out" : "msg");
	a = msg->address_lo;
	d = msg->data;
	if (msg->address_hi)
		return ims__error(-EINVAL, "msi decode: address high word 0x%x is not 0", msg->address_hi);
	if ((a & IMS_X86_MSI_ADDR_BASE_MASK) != IMS_X86_MSI_ADDR_BASE)
		return ims__error(-EINVAL, "msi decode: address bits 31:20 are 0x%03x, not 0xfee",
				  a >> 20);
	if (a & IMS_X86_MSI_ADDR_REMAP) {
		if (d & IMS_X86_MSI_DATA_REMAP_RSVD)
			return ims__error(-EINVAL, "msi decode: data bits 31:16 (reserved) are 0x%x",
					  d >> 16);
		f.format = IMS_X86_MSI_REMAPPABLE;
		f.handle = (uint16_t)((a & IMS_X86_MSI_ADDR_HANDLE_MASK) >> IMS_X86_MSI_ADDR_HANDLE_SHIFT |
				      (a & IMS_X86_MSI_ADDR_HANDLE15 ? 0x8000u : 0));
		f.shv = a & IMS_X86_MSI_ADDR_SHV;
		f.subhandle = f.shv ? (uint16_t)(d & IMS_X86_MSI_DATA_SUBHANDLE_MASK) : 0;
		f.index = (uint32_t)f.handle + f.subhandle;
	} else {
		f.format = IMS_X86_MSI_COMPAT;
		f.delivery_mode = (uint8_t)((d & IMS_X86_MSI_DATA_DM_MASK) >> IMS_X86_MSI_DATA_DM_SHIFT);
		if (dm_reserved(f.delivery_mode))
			return ims__error(-EINVAL, "msi decode: delivery mode %u (data bits 10:8) is reserved",
					  f.delivery_mode);
		if (d & 0x3800u)	/* bits 13:11 */
			return ims__error(-EINVAL, "msi decode: data bits 13:11 (reserved) are 0x%x",
					  (d >> 11) & 7);
		if (d & 0xffff0000u)
			return ims__error(-EINVAL, "msi decode: data bits 31:16 (reserved) are 0x%x",
					  d >> 16);
		f.dest_id = (a & IMS_X86_MSI_ADDR_DEST_MASK) >> IMS_X86_MSI_ADDR_DEST_SHIFT;
		f.ext_dest_id = (a & IMS_X86_MSI_ADDR_EXT_DEST_MASK) >> IMS_X86_MSI_ADDR_EXT_DEST_SHIFT;
		f.apic_id = f.ext_dest_id << 8 | f.dest_id;
		f.dest_logical = a & IMS_X86_MSI_ADDR_LOGICAL;
		f.redirection_hint = a & IMS_X86_MSI_ADDR_RH;
		f.vector = (uint8_t)(d & IMS_X86_MSI_DATA_VECTOR_MASK);
		f.trigger_level = d & IMS_X86_MSI_DATA_TRIGGER_LEVEL;
		f.level_assert = d & IMS_X86_MSI_DATA_LEVEL_ASSERT;
	}
	*out = f;
	return 0;
}

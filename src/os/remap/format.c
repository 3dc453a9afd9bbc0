/*
 * The formats of interrupt remapping as a public API: remapping table
 * entries field by field, remappable-format messages, posted-interrupt
 * descriptors, and the names of fault reasons. The remapping driver builds
 * its entries with ims_irte_encode(); imsctl prints them with
 * ims_irte_decode().
 */
#include <errno.h>
#include <string.h>

#include <ims/remap.h>

#include "hw/iommu/irte.h"
#include "util/log.h"

IMS_API void ims_irte_decode(uint64_t lo, uint64_t hi, struct ims_irte *o)
{
	memset(o, 0, sizeof(*o));
	o->present = (lo >> IMS_IRTE_P_SHIFT) & 1;
	o->fpd = (lo >> IMS_IRTE_FPD_SHIFT) & 1;
	o->posted = (lo >> IMS_IRTE_IM_SHIFT) & 1;
	o->avail = (uint8_t)ims__field_get(lo, IMS_IRTE_AVAIL_SHIFT, IMS_IRTE_AVAIL_MASK);
	o->vector = (uint8_t)ims__field_get(lo, IMS_IRTE_VECTOR_SHIFT, IMS_IRTE_VECTOR_MASK);
	o->sid = (uint16_t)ims__field_get(hi, IMS_IRTE_SID_SHIFT, IMS_IRTE_SID_MASK);
	o->sq = (uint8_t)ims__field_get(hi, IMS_IRTE_SQ_SHIFT, IMS_IRTE_SQ_MASK);
	o->svt = (uint8_t)ims__field_get(hi, IMS_IRTE_SVT_SHIFT, IMS_IRTE_SVT_MASK);
	if (o->posted) {
		o->urgent = (lo >> IMS_IRTE_URG_SHIFT) & 1;
		o->pda = ims__field_get(lo, IMS_IRTE_PDA_LO_SHIFT, IMS_IRTE_PDA_LO_MASK) << 6 |
			 ims__field_get(hi, IMS_IRTE_PDA_HI_SHIFT, IMS_IRTE_PDA_HI_MASK) << 32;
		o->rsvd_lo = lo & IMS_IRTE_POST_RSVD_LO;
		o->rsvd_hi = hi & IMS_IRTE_POST_RSVD_HI;
	} else {
		o->dest_logical = (lo >> IMS_IRTE_DM_SHIFT) & 1;
		o->redirection_hint = (lo >> IMS_IRTE_RH_SHIFT) & 1;
		o->level_trigger = (lo >> IMS_IRTE_TM_SHIFT) & 1;
		o->delivery_mode = (uint8_t)ims__field_get(lo, IMS_IRTE_DLM_SHIFT, IMS_IRTE_DLM_MASK);
		o->dest = (uint32_t)ims__field_get(lo, IMS_IRTE_DST_SHIFT, IMS_IRTE_DST_MASK);
		o->rsvd_lo = lo & IMS_IRTE_REMAP_RSVD_LO;
		o->rsvd_hi = hi & IMS_IRTE_REMAP_RSVD_HI;
	}
}

IMS_API int ims_irte_encode(const struct ims_irte *in, uint64_t *lo_out, uint64_t *hi_out)
{
	uint64_t lo = 0, hi = 0;

	if (in->avail > IMS_IRTE_AVAIL_MASK)
		return ims__error(-EINVAL, "irte: avail %u is above 15", in->avail);
	if (in->sq > IMS_IRTE_SQ_MASK)
		return ims__error(-EINVAL, "irte: sq %u is above 3", in->sq);
	if (in->svt > IMS_IRTE_SVT_MASK)
		return ims__error(-EINVAL, "irte: svt %u is above 3", in->svt);
	if (in->rsvd_lo || in->rsvd_hi)
		return ims__error(-EINVAL, "irte: reserved bits requested");
	lo |= (uint64_t)in->present << IMS_IRTE_P_SHIFT;
	lo |= (uint64_t)in->fpd << IMS_IRTE_FPD_SHIFT;
	lo |= (uint64_t)in->avail << IMS_IRTE_AVAIL_SHIFT;
	lo |= (uint64_t)in->vector << IMS_IRTE_VECTOR_SHIFT;
	hi |= (uint64_t)in->sid << IMS_IRTE_SID_SHIFT;
	hi |= (uint64_t)in->sq << IMS_IRTE_SQ_SHIFT;
	hi |= (uint64_t)in->svt << IMS_IRTE_SVT_SHIFT;
	if (in->posted) {
		if (in->pda & (64 - 1))
			return ims__error(-EINVAL, "irte: posted descriptor address %#llx is not 64-byte aligned",
					  (unsigned long long)in->pda);
		lo |= 1ull << IMS_IRTE_IM_SHIFT;
		lo |= (uint64_t)in->urgent << IMS_IRTE_URG_SHIFT;
		lo |= ((in->pda >> 6) & IMS_IRTE_PDA_LO_MASK) << IMS_IRTE_PDA_LO_SHIFT;
		hi |= ((in->pda >> 32) & IMS_IRTE_PDA_HI_MASK) << IMS_IRTE_PDA_HI_SHIFT;
	} else {
		if (!ims__dlm_valid(in->delivery_mode))
			return ims__error(-EINVAL, "irte: delivery mode %u is reserved", in->delivery_mode);
		lo |= (uint64_t)in->dest_logical << IMS_IRTE_DM_SHIFT;
		lo |= (uint64_t)in->redirection_hint << IMS_IRTE_RH_SHIFT;
		lo |= (uint64_t)in->level_trigger << IMS_IRTE_TM_SHIFT;
		lo |= (uint64_t)in->delivery_mode << IMS_IRTE_DLM_SHIFT;
		lo |= (uint64_t)in->dest << IMS_IRTE_DST_SHIFT;
	}
	*lo_out = lo;
	*hi_out = hi;
	return 0;
}

IMS_API const char *ims_irte_delivery_mode_name(unsigned int dm)
{
	static const char *const names[8] = { "fixed", "lowest", "smi", "reserved3",
					       "nmi", "init", "reserved6", "extint" };

	return dm < 8 ? names[dm] : "invalid";
}

IMS_API const char *ims_irte_svt_name(unsigned int svt)
{
	static const char *const names[4] = { "none", "sid", "bus", "reserved" };

	return svt < 4 ? names[svt] : "invalid";
}

IMS_API void ims_remap_msg_compose(uint16_t handle, bool shv, uint16_t subhandle, struct ims_msi_msg *msg)
{
	msg->address_lo = ims__msi_remap_addr(handle, shv);
	msg->address_hi = 0;
	msg->data = shv ? subhandle : 0;
}

IMS_API int ims_remap_msg_decode(const struct ims_msi_msg *msg, uint16_t *handle, bool *shv,
				 uint16_t *subhandle)
{
	if (msg->address_hi || (msg->address_lo & IMS_MSI_ADDR_BASE_MASK) != IMS_MSI_ADDR_BASE)
		return ims__error(-EINVAL, "msi: address %#x:%08x is not an interrupt address",
				  msg->address_hi, msg->address_lo);
	if (!ims__msi_is_remappable(msg->address_lo))
		return ims__error(-EINVAL, "msi: address %#x is compatibility format", msg->address_lo);
	*handle = ims__msi_remap_handle(msg->address_lo);
	*shv = ims__msi_remap_shv(msg->address_lo);
	*subhandle = *shv ? (uint16_t)(msg->data & IMS_MSI_DATA_SUBHANDLE_MASK) : 0;
	return 0;
}

/* ---- posted-interrupt descriptor ---- */

static uint64_t *pid_words(const void *pid)
{
	return (uint64_t *)(uintptr_t)pid;
}

IMS_API void ims_pid_init(void *pid, uint8_t nv, uint32_t ndst, bool x2apic)
{
	uint64_t *w = pid_words(pid);
	uint64_t ctl;

	if (!x2apic)
		ndst = (ndst & 0xff) << IMS_PID_NDST_XAPIC_SHIFT;
	ctl = (uint64_t)nv << IMS_PID_NV_SHIFT | (uint64_t)ndst << IMS_PID_NDST_SHIFT;
	for (unsigned int i = 0; i < IMS_PID_PIR_WORDS; i++)
		__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&w[IMS_PID_CTL_WORD], ims__cpu_to_le64(ctl), __ATOMIC_SEQ_CST);
	for (unsigned int i = IMS_PID_CTL_WORD + 1; i < IMS_PID_SIZE / 8; i++)
		__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
}

IMS_API bool ims_pid_pir_test(const void *pid, uint8_t vector)
{
	uint64_t v = ims__le64_to_cpu(__atomic_load_n(&pid_words(pid)[vector / 64], __ATOMIC_ACQUIRE));

	return (v >> (vector % 64)) & 1;
}

static uint64_t pid_ctl(const void *pid)
{
	return ims__le64_to_cpu(__atomic_load_n(&pid_words(pid)[IMS_PID_CTL_WORD], __ATOMIC_ACQUIRE));
}

IMS_API bool ims_pid_on(const void *pid)
{
	return (pid_ctl(pid) >> IMS_PID_ON_SHIFT) & 1;
}

IMS_API bool ims_pid_sn(const void *pid)
{
	return (pid_ctl(pid) >> IMS_PID_SN_SHIFT) & 1;
}

IMS_API void ims_pid_set_sn(void *pid, bool sn)
{
	uint64_t bit = ims__cpu_to_le64(1ull << IMS_PID_SN_SHIFT);

	if (sn)
		__atomic_fetch_or(&pid_words(pid)[IMS_PID_CTL_WORD], bit, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&pid_words(pid)[IMS_PID_CTL_WORD], ~bit, __ATOMIC_SEQ_CST);
}

IMS_API unsigned int ims_pid_take(void *pid, uint64_t pir[4])
{
	uint64_t *w = pid_words(pid);
	unsigned int n = 0;

	/* Clear ON first: a message posted after this sends a new notification. */
	__atomic_fetch_and(&w[IMS_PID_CTL_WORD], ims__cpu_to_le64(~(1ull << IMS_PID_ON_SHIFT)),
			   __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < IMS_PID_PIR_WORDS; i++) {
		pir[i] = ims__le64_to_cpu(__atomic_exchange_n(&w[i], 0, __ATOMIC_SEQ_CST));
		n += (unsigned int)__builtin_popcountll(pir[i]);
	}
	return n;
}

IMS_API const char *ims_remap_fault_name(unsigned int reason)
{
	static const char *const names[IMS_IR_FAULT_NR] = {
		"request-reserved", "index-range",   "not-present",	"table-access",
		"entry-reserved",   "compat-blocked", "source-id", "pid-access",
	};

	if (reason < IMS_IR_FAULT_FIRST || reason >= IMS_IR_FAULT_FIRST + IMS_IR_FAULT_NR)
		return "unknown";
	return names[reason - IMS_IR_FAULT_FIRST];
}

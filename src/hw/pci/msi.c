/*
 * MSI capability model. One function, msi_vector_masked_locked(), decides
 * whether a vector is masked (MSI disabled, vector not among the enabled
 * ones, or its mask bit set); one function, msi_deliver_unmasked_locked(),
 * owns the transition from masked to unmasked: every configuration write to
 * the capability ends there, and it sends and clears each pending vector
 * that is no longer masked.
 */
#include <errno.h>

#include "hw/pci/msi.h"
#include "util/alloc.h"
#include "util/log.h"

struct ims_hw_msi {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msi_sink sink;
	uint16_t cap;
	uint16_t data_off;
	uint16_t mask_off;	/* 0 without per-vector masking */
	uint8_t log2_capable;
	bool is_64bit;
	/* Guarded by the config lock, like the registers. */
	uint32_t pending;	/* mirrored in the pending register when present */
	struct ims_hw_msi_stats stats;
};

static uint32_t log2_enabled_locked(struct ims_hw_msi *msi)
{
	uint32_t flags = ims__hw_pci_cfg_get_locked(msi->cfg, msi->cap + IMS_PCI_MSI_FLAGS, 2);

	return (flags & IMS_PCI_MSI_FLAGS_QSIZE) >> IMS_PCI_MSI_FLAGS_QSIZE_SHIFT;
}

static bool msi_vector_masked_locked(struct ims_hw_msi *msi, unsigned int v)
{
	struct ims_hw_pci_cfg *cfg = msi->cfg;
	uint32_t flags = ims__hw_pci_cfg_get_locked(cfg, msi->cap + IMS_PCI_MSI_FLAGS, 2);

	if (!(flags & IMS_PCI_MSI_FLAGS_ENABLE))
		return true;
	if (v >= (1u << log2_enabled_locked(msi)))
		return true;
	return msi->mask_off && (ims__hw_pci_cfg_get_locked(cfg, msi->mask_off, 4) >> v & 1);
}

static void set_pending_locked(struct ims_hw_msi *msi, uint32_t pending)
{
	msi->pending = pending;
	if (msi->mask_off)
		ims__hw_pci_cfg_set_locked(msi->cfg, msi->mask_off + 4, 4, pending);
}

static void msi_send_locked(struct ims_hw_msi *msi, unsigned int v)
{
	struct ims_hw_pci_cfg *cfg = msi->cfg;
	uint32_t nr_enabled = 1u << log2_enabled_locked(msi);
	struct ims_hw_msi_write w = { 0 };
	uint32_t data = ims__hw_pci_cfg_get_locked(cfg, msi->data_off, 2);

	w.addr = ims__hw_pci_cfg_get_locked(cfg, msi->cap + IMS_PCI_MSI_ADDR_LO, 4);
	if (msi->is_64bit)
		w.addr |= (uint64_t)ims__hw_pci_cfg_get_locked(cfg, msi->cap + IMS_PCI_MSI_ADDR_HI,
							       4) << 32;
	/* Multiple messages: the vector number replaces the low data bits. */
	w.data = (data & ~(nr_enabled - 1)) | v;
	w.rid = ims__hw_pci_cfg_rid(cfg);
	msi->stats.sent++;
	msi->sink.fn(msi->sink.ctx, &w);
}

static void msi_deliver_unmasked_locked(struct ims_hw_msi *msi)
{
	uint32_t pending = msi->pending;

	ims__hw_pci_cfg_assert_locked(msi->cfg);
	for (unsigned int v = 0; v < IMS_PCI_MSI_MAX_VECTORS; v++) {
		if (!(pending >> v & 1) || msi_vector_masked_locked(msi, v))
			continue;
		set_pending_locked(msi, msi->pending & ~(1u << v));
		msi_send_locked(msi, v);
	}
}

static void msi_hook(void *ctx, uint32_t off, uint32_t size)
{
	struct ims_hw_msi *msi = ctx;
	uint32_t flags = ims__hw_pci_cfg_get_locked(msi->cfg, msi->cap + IMS_PCI_MSI_FLAGS, 2);
	uint32_t mme = (flags & IMS_PCI_MSI_FLAGS_QSIZE) >> IMS_PCI_MSI_FLAGS_QSIZE_SHIFT;

	(void)off;
	(void)size;
	/*
	 * Enabling more vectors than the function is capable of is undefined;
	 * the model keeps the register meaningful by capping it.
	 */
	if (mme > msi->log2_capable) {
		ims__warn_once("MSI: multiple message enable %u above capable %u, capped", mme,
			       msi->log2_capable);
		flags = (flags & ~(uint32_t)IMS_PCI_MSI_FLAGS_QSIZE) |
			(uint32_t)msi->log2_capable << IMS_PCI_MSI_FLAGS_QSIZE_SHIFT;
		ims__hw_pci_cfg_set_locked(msi->cfg, msi->cap + IMS_PCI_MSI_FLAGS, 2, flags);
	}
	msi_deliver_unmasked_locked(msi);
}

int ims__hw_msi_create(struct ims_hw_pci_cfg *cfg, const struct ims_hw_msi_params *p,
		       const struct ims_hw_msi_sink *sink, struct ims_hw_msi **out)
{
	uint32_t len, log2 = 0, nvec = p->nr_vectors;
	struct ims_hw_msi *msi;
	uint16_t cap;
	int err;

	while ((1u << log2) < nvec)
		log2++;
	if (!nvec || nvec > IMS_PCI_MSI_MAX_VECTORS || (1u << log2) != nvec)
		return ims__error(-EINVAL, "MSI: %u vectors is not a power of two up to 32", nvec);
	if (!sink || !sink->fn)
		return ims__error(-EINVAL, "MSI: no sink for the messages");
	if (p->per_vector_mask)
		len = p->is_64bit ? 0x18 : 0x14;
	else
		len = p->is_64bit ? 0xe : 0xa;
	msi = ims__zalloc(sizeof(*msi), "pci_msi");
	if (!msi)
		return -ENOMEM;
	msi->cfg = cfg;
	msi->sink = *sink;
	msi->log2_capable = (uint8_t)log2;
	msi->is_64bit = p->is_64bit;
	err = ims__hw_pci_add_cap_hook(cfg, IMS_PCI_CAP_ID_MSI, len, msi_hook, msi, &cap);
	if (err) {
		ims__free(msi, sizeof(*msi));
		return err;
	}
	msi->cap = cap;
	msi->data_off = cap + (p->is_64bit ? IMS_PCI_MSI_DATA_64 : IMS_PCI_MSI_DATA_32);
	if (p->per_vector_mask)
		msi->mask_off = cap + (p->is_64bit ? IMS_PCI_MSI_MASK_64 : IMS_PCI_MSI_MASK_32);

	/* The capability is fresh and unreachable by software until we return. */
	ims__hw_pci_cfg_poke(cfg, cap + IMS_PCI_MSI_FLAGS, 2,
			     log2 << IMS_PCI_MSI_FLAGS_QMASK_SHIFT |
			     (p->is_64bit ? IMS_PCI_MSI_FLAGS_64BIT : 0) |
			     (p->per_vector_mask ? IMS_PCI_MSI_FLAGS_MASKBIT : 0));
	ims__hw_pci_cfg_set_wmask(cfg, cap + IMS_PCI_MSI_FLAGS, 2,
				  IMS_PCI_MSI_FLAGS_ENABLE | IMS_PCI_MSI_FLAGS_QSIZE);
	/* Address bits 1:0 are zero: messages are dword writes. */
	ims__hw_pci_cfg_set_wmask(cfg, cap + IMS_PCI_MSI_ADDR_LO, 4, 0xfffffffcu);
	if (p->is_64bit)
		ims__hw_pci_cfg_set_wmask(cfg, cap + IMS_PCI_MSI_ADDR_HI, 4, 0xffffffffu);
	ims__hw_pci_cfg_set_wmask(cfg, msi->data_off, 2, 0xffff);
	if (p->per_vector_mask)
		ims__hw_pci_cfg_set_wmask(cfg, msi->mask_off, 4,
					  nvec == 32 ? 0xffffffffu : (1u << nvec) - 1);
	*out = msi;
	return 0;
}

void ims__hw_msi_destroy(struct ims_hw_msi *msi)
{
	if (!msi)
		return;
	ims__hw_pci_cfg_remove_hook(msi->cfg, msi_hook, msi);
	ims__free(msi, sizeof(*msi));
}

uint16_t ims__hw_msi_offset(const struct ims_hw_msi *msi)
{
	return msi->cap;
}

int ims__hw_msi_signal(struct ims_hw_msi *msi, unsigned int vector)
{
	if (vector >= (1u << msi->log2_capable))
		return ims__error(-EINVAL, "MSI at 0x%x: vector %u beyond the %u the function has",
				  msi->cap, vector, 1u << msi->log2_capable);
	ims__hw_pci_cfg_lock(msi->cfg);
	if (msi_vector_masked_locked(msi, vector)) {
		set_pending_locked(msi, msi->pending | 1u << vector);
		msi->stats.latched++;
	} else {
		msi_send_locked(msi, vector);
	}
	ims__hw_pci_cfg_unlock(msi->cfg);
	return 0;
}

bool ims__hw_msi_pending(struct ims_hw_msi *msi, unsigned int vector)
{
	bool p;

	ims__hw_pci_cfg_lock(msi->cfg);
	p = vector < 32 && (msi->pending >> vector & 1);
	ims__hw_pci_cfg_unlock(msi->cfg);
	return p;
}

void ims__hw_msi_get_stats(struct ims_hw_msi *msi, struct ims_hw_msi_stats *st)
{
	ims__hw_pci_cfg_lock(msi->cfg);
	*st = msi->stats;
	ims__hw_pci_cfg_unlock(msi->cfg);
}

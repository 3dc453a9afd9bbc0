/*
 * The MSI capability of a function, hardware side: multiple messages,
 * 32- or 64-bit address, optional per-vector masking with mask and pending
 * registers. The device asks to signal vector i; the model sends the
 * message (data with its low bits replaced by i, as multiple-message MSI
 * does) through the fabric sink, or latches i pending while it is masked
 * and sends it when a configuration write unmasks it.
 *
 * The registers live in configuration space; the config lock guards them
 * and the model's pending word, and the sink is called under it.
 */
#ifndef IMS_HW_PCI_MSI_H
#define IMS_HW_PCI_MSI_H

#include "hw/bus.h"
#include "hw/pci/config.h"

struct ims_hw_msi_params {
	uint8_t nr_vectors;	/* 1, 2, 4, 8, 16 or 32 */
	bool is_64bit;
	bool per_vector_mask;
};

struct ims_hw_msi_stats {
	uint64_t sent;		/* messages handed to the sink */
	uint64_t latched;	/* signals held pending while masked */
};

struct ims_hw_msi;

/* Add the capability (and its hook) to cfg; all or nothing. */
int ims__hw_msi_create(struct ims_hw_pci_cfg *cfg, const struct ims_hw_msi_params *p,
		       const struct ims_hw_msi_sink *sink, struct ims_hw_msi **out);
/* The capability stays in the space; only its behaviour goes. */
void ims__hw_msi_destroy(struct ims_hw_msi *msi);
uint16_t ims__hw_msi_offset(const struct ims_hw_msi *msi);

/*
 * Signal vector i. Context: device side, any thread; takes the config lock
 * and calls the sink under it. Return: 0 (sent or latched), -EINVAL beyond
 * the capable count.
 */
int ims__hw_msi_signal(struct ims_hw_msi *msi, unsigned int vector);
bool ims__hw_msi_pending(struct ims_hw_msi *msi, unsigned int vector);
void ims__hw_msi_get_stats(struct ims_hw_msi *msi, struct ims_hw_msi_stats *st);

#endif

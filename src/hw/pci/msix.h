/*
 * MSI-X of a function, hardware side: the capability, and the table and
 * pending-bit array decoded by BARs (aligned 32- and 64-bit accesses only).
 * The device asks to signal entry i; the model sends the entry's message
 * through the fabric sink, or, while the entry is masked (its mask bit,
 * the function mask, or MSI-X disabled), sets its pending bit, and sends
 * and clears it when the entry becomes unmasked. Entries written and
 * unmasked while MSI-X is enabled take effect at once (dynamic MSI-X).
 */
#ifndef IMS_HW_PCI_MSIX_H
#define IMS_HW_PCI_MSIX_H

#include "hw/bus.h"
#include "hw/pci/config.h"

struct ims_hw_msix_params {
	uint16_t nr_entries;	/* 1..2048 */
	uint8_t table_bar;
	uint32_t table_offset;	/* 8-byte aligned */
	uint8_t pba_bar;
	uint32_t pba_offset;	/* 8-byte aligned */
};

struct ims_hw_msix_stats {
	uint64_t sent;		/* messages handed to the sink */
	uint64_t latched;	/* signals that found their entry masked */
};

struct ims_hw_msix;

/*
 * Add the capability and map table and PBA into their BARs (which must
 * exist and hold them); all or nothing.
 */
int ims__hw_msix_create(struct ims_hw_pci_cfg *cfg, const struct ims_hw_msix_params *p,
			const struct ims_hw_msi_sink *sink, struct ims_hw_msix **out);
/* Unmaps table and PBA; the capability stays in the space. */
void ims__hw_msix_destroy(struct ims_hw_msix *x);
uint16_t ims__hw_msix_offset(const struct ims_hw_msix *x);

/*
 * Signal entry i. Context: device side, any thread; takes only the MSI-X
 * lock and calls the sink under it. Return: 0 (sent or latched), -EINVAL
 * beyond the table.
 */
int ims__hw_msix_signal(struct ims_hw_msix *x, unsigned int entry);
bool ims__hw_msix_pending(struct ims_hw_msix *x, unsigned int entry);
void ims__hw_msix_get_stats(struct ims_hw_msix *x, struct ims_hw_msix_stats *st);

#endif

/*
 * The Scalable IOV DVSEC (extended capability 0x0023, vendor 0x8086, DVSEC
 * id 5) of a function, hardware side. Its IMS-supported bit (+0x14 bit 0)
 * is what the PCI core reports as "device supports IMS". Field offsets
 * beyond the IMS bit follow an unmerged Linux patch; docs/pci.md marks them.
 */
#ifndef IMS_HW_PCI_SIOV_DVSEC_H
#define IMS_HW_PCI_SIOV_DVSEC_H

#include "hw/pci/config.h"

struct ims_hw_siov_dvsec_params {
	uint8_t revision;		/* 0..15 */
	uint8_t func_dep_link;
	bool homogeneous;
	uint32_t supported_page_sizes;	/* bit n: 2^(n+12) bytes; 0 means 4 KB only */
	bool ims_supported;
};

/*
 * Add the DVSEC (0x18 bytes) to a 4096-byte space. The system page size
 * (+0x10) is the one field software writes; it starts at 1 (4 KB).
 */
int ims__hw_pci_add_siov_dvsec(struct ims_hw_pci_cfg *cfg, const struct ims_hw_siov_dvsec_params *p,
			       uint16_t *off);

#endif

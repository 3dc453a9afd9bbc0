/*
 * Construction of the SIOV DVSEC in a configuration space model.
 */
#include "hw/pci/siov_dvsec.h"

int ims__hw_pci_add_siov_dvsec(struct ims_hw_pci_cfg *cfg, const struct ims_hw_siov_dvsec_params *p,
			       uint16_t *off)
{
	uint32_t pages = p->supported_page_sizes ? p->supported_page_sizes : 1;
	uint16_t at;
	int err;

	err = ims__hw_pci_add_dvsec(cfg, IMS_PCI_SIOV_VENDOR, p->revision, IMS_PCI_SIOV_DVSEC_ID,
				    IMS_PCI_SIOV_DVSEC_SIZE, &at);
	if (err)
		return err;
	/* The space was just extended; these writes cannot fail. */
	ims__hw_pci_cfg_poke(cfg, at + IMS_PCI_SIOV_FUNC_DEP_LINK, 1, p->func_dep_link);
	ims__hw_pci_cfg_poke(cfg, at + IMS_PCI_SIOV_FLAGS, 1,
			     p->homogeneous ? IMS_PCI_SIOV_FLAGS_HOMOGENEOUS : 0);
	ims__hw_pci_cfg_poke(cfg, at + IMS_PCI_SIOV_SUPP_PAGE_SIZES, 4, pages);
	ims__hw_pci_cfg_poke(cfg, at + IMS_PCI_SIOV_SYS_PAGE_SIZE, 4, 1);
	ims__hw_pci_cfg_set_wmask(cfg, at + IMS_PCI_SIOV_SYS_PAGE_SIZE, 4, pages);
	ims__hw_pci_cfg_poke(cfg, at + IMS_PCI_SIOV_CAPS, 4,
			     p->ims_supported ? IMS_PCI_SIOV_CAPS_IMS : 0);
	*off = at;
	return 0;
}

/*
 * Helpers shared by the PCI core's files: accessor checks and the one way a
 * fault in a configuration space is reported (kind, offset and value in the
 * caller's struct, a message naming them in ims_last_error()).
 */
#ifndef IMS_OS_PCI_INTERNAL_H
#define IMS_OS_PCI_INTERNAL_H

#include <ims/pci.h>

int ims__pci_check_access(const struct ims_pci_cfg_access *acc);
/* Fill *fault (if given), set the message, return -EINVAL. */
int ims__pci_fault(struct ims_pci_fault *fault, enum ims_pci_fault_kind kind, uint32_t offset,
		   uint32_t value, const char *what);

#endif

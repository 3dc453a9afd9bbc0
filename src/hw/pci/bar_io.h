/*
 * A BAR of a function model as the OS side reaches it: an ims_io_access
 * whose 32-bit reads and writes are software MMIO accesses to the BAR
 * (ims__hw_pci_mmio_read/write), refused as the BAR's regions refuse them.
 */
#ifndef IMS_HW_PCI_BAR_IO_H
#define IMS_HW_PCI_BAR_IO_H

#include <ims/ims_chip.h>

#include "hw/pci/config.h"

/* The accessor's context; must outlive the accessor. */
struct ims_hw_bar_io {
	struct ims_hw_pci_cfg *cfg;
	unsigned int bar;
};

void ims__hw_bar_io_init(struct ims_hw_bar_io *b, struct ims_hw_pci_cfg *cfg, unsigned int bar,
			 struct ims_io_access *io);

#endif

/*
 * A hostile guest against the MSI-X model: arbitrary configuration writes
 * and MMIO accesses of every size and offset to the table and the pending-
 * bit array, interleaved with the device signalling entries. After every
 * step, read back as software would: an entry is never pending while it is
 * deliverable (enabled, function unmasked, vector unmasked), and a signal
 * that was sent carried exactly the entry's address and data.
 */
#include <stdlib.h>
#include <string.h>

#include <ims/pci.h>

#include "hw/pci/config.h"
#include "hw/pci/msix.h"
#include "helpers/msi_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NR 16
#define TABLE 0x0
#define PBA 0x1000

static struct msi_rec rec;

static uint64_t mmio_rd(struct ims_hw_pci_cfg *cfg, uint64_t off, uint32_t sz)
{
	uint64_t v = 0;

	if (ims__hw_pci_mmio_read(cfg, 0, off, sz, &v))
		abort();
	return v;
}

static void check(struct ims_hw_pci_cfg *cfg, struct ims_hw_msix *x, uint16_t cap)
{
	uint32_t ctl;

	if (ims__hw_pci_cfg_read(cfg, cap + IMS_PCI_MSIX_FLAGS, 2, &ctl))
		abort();
	for (unsigned int e = 0; e < NR; e++) {
		uint32_t vc = (uint32_t)mmio_rd(cfg, TABLE + e * 16 + 12, 4);
		bool deliverable = (ctl & IMS_PCI_MSIX_FLAGS_ENABLE) &&
				   !(ctl & IMS_PCI_MSIX_FLAGS_MASKALL) && !(vc & 1);
		bool pba = (mmio_rd(cfg, PBA, 8) >> e) & 1;

		if (deliverable && (pba || ims__hw_msix_pending(x, e)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ims_hw_pci_cfg_params p = { .vendor_id = 0x8086, .device_id = 0x0b25, .rid = 0x0300,
					   .extended = true };
	struct ims_hw_msix_params mp = { NR, 0, TABLE, 0, PBA };
	struct ims_hw_msi_sink sink;
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msix *x;
	uint16_t cap;
	size_t i = 0;

	msi_rec_init(&rec, &sink);
	if (ims__hw_pci_cfg_create(&p, &cfg) || ims__hw_pci_bar_add(cfg, 0, 0x4000, IMS_HW_PCI_BAR_64BIT) ||
	    ims__hw_msix_create(cfg, &mp, &sink, &x))
		abort();
	ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2, IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
	cap = ims__hw_msix_offset(x);
	while (i + 6 <= size) {
		const uint8_t *b = data + i;
		uint32_t val, off = (uint32_t)(b[1] | b[2] << 8) % 0x1400;
		static const uint32_t sizes[] = { 1, 2, 4, 8, 3, 4, 4, 8 };
		uint32_t sz = sizes[b[0] >> 5];

		memcpy(&val, b + 2, 4);
		i += 6;
		switch (b[0] & 7) {
		case 0: case 1: {
			uint64_t v = (uint64_t)val << 32 | val;

			/* Refusals are fine; what was refused must change nothing. */
			ims__hw_pci_mmio_write(cfg, 0, off, sz, v);
			break;
		}
		case 2: {
			uint64_t v;

			ims__hw_pci_mmio_read(cfg, 0, off, sz, &v);
			break;
		}
		case 3:
			/* The guest owns the enable and function-mask bits. */
			ims__hw_pci_cfg_write(cfg, cap + IMS_PCI_MSIX_FLAGS, 2,
					      val & (IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL));
			break;
		case 4:
			/* Or writes anywhere in configuration space. */
			ims__hw_pci_cfg_write(cfg, off % 4096, sz > 4 ? 4 : sz, val);
			ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2,
					      IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
			break;
		default: {
			unsigned int e = b[1] % (NR + 2), before = msi_rec_count(&rec);

			ims__hw_msix_signal(x, e);
			if (msi_rec_count(&rec) > before) {
				struct ims_hw_msi_write w = msi_rec_last(&rec);
				uint64_t lo = mmio_rd(cfg, TABLE + e * 16, 8);
				uint32_t d = (uint32_t)mmio_rd(cfg, TABLE + e * 16 + 8, 4);

				if (e >= NR || w.addr != lo || w.data != d || w.rid != 0x0300)
					abort();
			}
			break;
		}
		}
		check(cfg, x, cap);
	}
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
	return 0;
}

/*
 * 32-bit MMIO accessors over a BAR of a function model.
 */
#include "hw/pci/bar_io.h"

static int bar_read32(void *ctx, uint64_t off, uint32_t *val)
{
	struct ims_hw_bar_io *b = ctx;
	uint64_t v = 0;
	int ret = ims__hw_pci_mmio_read(b->cfg, b->bar, off, 4, &v);

	*val = (uint32_t)v;
	return ret;
}

static int bar_write32(void *ctx, uint64_t off, uint32_t val)
{
	struct ims_hw_bar_io *b = ctx;

	return ims__hw_pci_mmio_write(b->cfg, b->bar, off, 4, val);
}

void ims__hw_bar_io_init(struct ims_hw_bar_io *b, struct ims_hw_pci_cfg *cfg, unsigned int bar,
			 struct ims_io_access *io)
{
	b->cfg = cfg;
	b->bar = bar;
	io->read32 = bar_read32;
	io->write32 = bar_write32;
	io->ctx = b;
}

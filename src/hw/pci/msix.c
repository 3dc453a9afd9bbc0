/*
 * MSI-X model. msix_entry_masked_locked() is the one place that decides
 * whether an entry is masked; msix_deliver_unmasked_locked() is the one
 * place that handles an entry leaving the masked state: it sends and clears
 * a pending entry that is no longer masked. Every event that can unmask
 * (a vector control write, a message control write) ends there; nothing
 * else clears a pending bit. Hostile accesses are refused by the MMIO
 * layer (size, alignment, range) before they reach this file; reserved
 * bits of an entry are ignored, and PBA writes are ignored.
 */
#include <errno.h>

#include "hw/pci/msix.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/log.h"

enum { ADDR_LO, ADDR_HI, DATA, CTRL, NR_FIELDS };

struct ims_hw_msix {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msi_sink sink;
	struct ims_hw_msix_params p;
	uint16_t cap;
	uint16_t rid;
	/*
	 * Guards entries, pba, enabled, function_masked and stats. Taken on
	 * the data path (signal) alone, and inside the config lock by MMIO
	 * and configuration writes. The sink is called under it, so a mask
	 * that has returned stops every later message of its entry.
	 */
	ims_spinlock_t lock;
	bool enabled;
	bool function_masked;
	uint32_t (*entries)[NR_FIELDS];
	uint64_t *pba;
	struct ims_hw_msix_stats stats;
	struct ims_hw_mmio_region table_region;
	struct ims_hw_mmio_region pba_region;
};

static size_t pba_words(uint32_t n)
{
	return IMS_BITMAP_WORDS(n);
}

static bool msix_entry_masked_locked(struct ims_hw_msix *x, unsigned int i)
{
	ims__assert_spin_held(&x->lock);
	return !x->enabled || x->function_masked ||
	       (x->entries[i][CTRL] & IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static void msix_send_locked(struct ims_hw_msix *x, unsigned int i)
{
	struct ims_hw_msi_write w = {
		.addr = (uint64_t)x->entries[i][ADDR_HI] << 32 | x->entries[i][ADDR_LO],
		.data = x->entries[i][DATA],
		.rid = x->rid,
	};

	ims__assert_spin_held(&x->lock);
	x->stats.sent++;
	x->sink.fn(x->sink.ctx, &w);
}

static void msix_deliver_unmasked_locked(struct ims_hw_msix *x, unsigned int i)
{
	ims__assert_spin_held(&x->lock);
	if (!ims__test_bit(x->pba, i) || msix_entry_masked_locked(x, i))
		return;
	ims__clear_bit(x->pba, i);
	msix_send_locked(x, i);
}

static void deliver_all_unmasked_locked(struct ims_hw_msix *x)
{
	for (uint32_t i = ims__find_next_bit(x->pba, x->p.nr_entries, 0); i < x->p.nr_entries;
	     i = ims__find_next_bit(x->pba, x->p.nr_entries, i + 1))
		msix_deliver_unmasked_locked(x, i);
}

static void write_dword_locked(struct ims_hw_msix *x, uint64_t off, uint32_t val)
{
	unsigned int i = (unsigned int)(off / IMS_PCI_MSIX_ENTRY_SIZE);
	unsigned int f = (unsigned int)(off % IMS_PCI_MSIX_ENTRY_SIZE) / 4;

	ims__assert_spin_held(&x->lock);
	switch (f) {
	case ADDR_LO:
		/* Bits 1:0 read as zero: messages are dword writes. */
		x->entries[i][ADDR_LO] = val & ~3u;
		break;
	case ADDR_HI:
	case DATA:
		x->entries[i][f] = val;
		break;
	case CTRL:
		/* Only the mask bit is defined; reserved bits stay zero. */
		x->entries[i][CTRL] = val & IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT;
		msix_deliver_unmasked_locked(x, i);
		break;
	}
}

static int table_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_msix *x = ctx;
	unsigned int i = (unsigned int)(off / IMS_PCI_MSIX_ENTRY_SIZE);
	unsigned int f = (unsigned int)(off % IMS_PCI_MSIX_ENTRY_SIZE) / 4;

	ims__spin_lock(&x->lock);
	*val = x->entries[i][f];
	if (size == 8)
		*val |= (uint64_t)x->entries[i][f + 1] << 32;
	ims__spin_unlock(&x->lock);
	return 0;
}

static int table_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_msix *x = ctx;

	ims__spin_lock(&x->lock);
	/* Low dword first: a qword write of data and control unmasks last. */
	write_dword_locked(x, off, (uint32_t)val);
	if (size == 8)
		write_dword_locked(x, off + 4, (uint32_t)(val >> 32));
	ims__spin_unlock(&x->lock);
	return 0;
}

static int pba_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_msix *x = ctx;
	uint64_t w;

	ims__spin_lock(&x->lock);
	w = x->pba[off / 8];
	ims__spin_unlock(&x->lock);
	*val = size == 8 ? w : (uint32_t)(w >> (8 * (off % 8)));
	return 0;
}

static int pba_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	(void)ctx;
	(void)val;
	/* Pending bits are read-only; software writing them is ignored. */
	ims__warn_once("MSI-X PBA: %u-byte write at 0x%llx ignored", size,
		       (unsigned long long)off);
	return 0;
}

static const struct ims_hw_mmio_ops table_ops = {
	.name = "msix-table",
	.read = table_read,
	.write = table_write,
	.sizes = IMS_HW_MMIO_SIZE(4) | IMS_HW_MMIO_SIZE(8),
};

static const struct ims_hw_mmio_ops pba_ops = {
	.name = "msix-pba",
	.read = pba_read,
	.write = pba_write,
	.sizes = IMS_HW_MMIO_SIZE(4) | IMS_HW_MMIO_SIZE(8),
};

static void msix_hook(void *ctx, uint32_t off, uint32_t size)
{
	struct ims_hw_msix *x = ctx;
	uint32_t flags = ims__hw_pci_cfg_get_locked(x->cfg, x->cap + IMS_PCI_MSIX_FLAGS, 2);

	(void)off;
	(void)size;
	ims__spin_lock(&x->lock);
	x->enabled = flags & IMS_PCI_MSIX_FLAGS_ENABLE;
	x->function_masked = flags & IMS_PCI_MSIX_FLAGS_MASKALL;
	deliver_all_unmasked_locked(x);
	ims__spin_unlock(&x->lock);
}

static size_t msix_size(void)
{
	return sizeof(struct ims_hw_msix);
}

static void msix_free(struct ims_hw_msix *x)
{
	ims__free(x->pba, pba_words(x->p.nr_entries) * sizeof(uint64_t));
	ims__free(x->entries, (size_t)x->p.nr_entries * sizeof(*x->entries));
	ims__free(x, msix_size());
}

int ims__hw_msix_create(struct ims_hw_pci_cfg *cfg, const struct ims_hw_msix_params *p,
			const struct ims_hw_msi_sink *sink, struct ims_hw_msix **out)
{
	struct ims_hw_msix *x;
	uint16_t cap;
	int err;

	if (!p->nr_entries || p->nr_entries > IMS_PCI_MSIX_MAX_ENTRIES)
		return ims__error(-EINVAL, "MSI-X: table size %u is not 1..2048", p->nr_entries);
	if ((p->table_offset | p->pba_offset) & IMS_PCI_MSIX_BIR_MASK)
		return ims__error(-EINVAL, "MSI-X: table offset 0x%x or PBA offset 0x%x not 8-byte aligned",
				  p->table_offset, p->pba_offset);
	if (p->table_bar >= IMS_PCI_NR_BARS || p->pba_bar >= IMS_PCI_NR_BARS)
		return ims__error(-EINVAL, "MSI-X: BAR %u or %u does not exist", p->table_bar,
				  p->pba_bar);
	if (!sink || !sink->fn)
		return ims__error(-EINVAL, "MSI-X: no sink for the messages");
	x = ims__zalloc(msix_size(), "pci_msix");
	if (!x)
		return -ENOMEM;
	x->cfg = cfg;
	x->sink = *sink;
	x->p = *p;
	x->rid = ims__hw_pci_cfg_rid(cfg);
	ims__spin_init(&x->lock);
	x->entries = ims__calloc(p->nr_entries, sizeof(*x->entries), "pci_msix_table");
	if (!x->entries)
		goto free;
	x->pba = ims__calloc(pba_words(p->nr_entries), sizeof(uint64_t), "pci_msix_pba");
	if (!x->pba)
		goto free;
	/* Entries come out of reset masked. */
	for (uint32_t i = 0; i < p->nr_entries; i++)
		x->entries[i][CTRL] = IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT;

	x->table_region = (struct ims_hw_mmio_region){
		&table_ops, x, (uint64_t)p->nr_entries * IMS_PCI_MSIX_ENTRY_SIZE };
	x->pba_region = (struct ims_hw_mmio_region){
		&pba_ops, x, pba_words(p->nr_entries) * sizeof(uint64_t) };
	err = ims__hw_pci_bar_map(cfg, p->table_bar, p->table_offset, &x->table_region);
	if (err)
		goto free_err;
	err = ims__hw_pci_bar_map(cfg, p->pba_bar, p->pba_offset, &x->pba_region);
	if (err)
		goto unmap_table;
	err = ims__hw_pci_add_cap_hook(cfg, IMS_PCI_CAP_ID_MSIX, IMS_PCI_MSIX_CAP_SIZE, msix_hook,
				       x, &cap);
	if (err)
		goto unmap_pba;
	x->cap = cap;
	ims__hw_pci_cfg_poke(cfg, cap + IMS_PCI_MSIX_FLAGS, 2, p->nr_entries - 1u);
	ims__hw_pci_cfg_poke(cfg, cap + IMS_PCI_MSIX_TABLE, 4, p->table_offset | p->table_bar);
	ims__hw_pci_cfg_poke(cfg, cap + IMS_PCI_MSIX_PBA, 4, p->pba_offset | p->pba_bar);
	ims__hw_pci_cfg_set_wmask(cfg, cap + IMS_PCI_MSIX_FLAGS, 2,
				  IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL);
	*out = x;
	return 0;

unmap_pba:
	ims__hw_pci_bar_unmap(cfg, p->pba_bar, p->pba_offset);
unmap_table:
	ims__hw_pci_bar_unmap(cfg, p->table_bar, p->table_offset);
free_err:
	msix_free(x);
	return err;
free:
	msix_free(x);
	return -ENOMEM;
}

void ims__hw_msix_destroy(struct ims_hw_msix *x)
{
	if (!x)
		return;
	ims__hw_pci_cfg_remove_hook(x->cfg, msix_hook, x);
	ims__hw_pci_bar_unmap(x->cfg, x->p.pba_bar, x->p.pba_offset);
	ims__hw_pci_bar_unmap(x->cfg, x->p.table_bar, x->p.table_offset);
	msix_free(x);
}

uint16_t ims__hw_msix_offset(const struct ims_hw_msix *x)
{
	return x->cap;
}

int ims__hw_msix_signal(struct ims_hw_msix *x, unsigned int entry)
{
	if (entry >= x->p.nr_entries)
		return ims__error(-EINVAL, "MSI-X at 0x%x: entry %u beyond the table of %u", x->cap,
				  entry, x->p.nr_entries);
	ims__spin_lock(&x->lock);
	if (msix_entry_masked_locked(x, entry)) {
		ims__set_bit(x->pba, entry);
		x->stats.latched++;
	} else {
		msix_send_locked(x, entry);
	}
	ims__spin_unlock(&x->lock);
	return 0;
}

bool ims__hw_msix_pending(struct ims_hw_msix *x, unsigned int entry)
{
	bool p;

	if (entry >= x->p.nr_entries)
		return false;
	ims__spin_lock(&x->lock);
	p = ims__test_bit(x->pba, entry);
	ims__spin_unlock(&x->lock);
	return p;
}

void ims__hw_msix_get_stats(struct ims_hw_msix *x, struct ims_hw_msix_stats *st)
{
	ims__spin_lock(&x->lock);
	*st = x->stats;
	ims__spin_unlock(&x->lock);
}

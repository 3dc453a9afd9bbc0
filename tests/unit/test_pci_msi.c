/*
 * MSI and MSI-X models: register write masks, pending bits latched while
 * masked (vector mask, function mask, disabled) and delivered on unmask,
 * multiple-message data, dynamic MSI-X entries after enable, and hostile
 * table accesses refused or ignored without changing state.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/msi_rec.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"

static struct msi_rec rec;
static struct ims_hw_msi_sink sink;

static struct ims_hw_pci_cfg *new_cfg(void)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x8086, .device_id = 0x0b25, .rid = 0x0210, .extended = true,
	};
	struct ims_hw_pci_cfg *cfg;

	msi_rec_init(&rec, &sink);
	assert_int_equal(ims__hw_pci_cfg_create(&p, &cfg), 0);
	return cfg;
}

static uint32_t rd(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size)
{
	uint32_t v;

	assert_int_equal(ims__hw_pci_cfg_read(cfg, off, size, &v), 0);
	return v;
}

static void wr(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size, uint32_t v)
{
	assert_int_equal(ims__hw_pci_cfg_write(cfg, off, size, v), 0);
}

/* ---- MSI ---- */

static struct ims_hw_msi *new_msi(struct ims_hw_pci_cfg *cfg, uint8_t n, bool is64, bool pvm)
{
	struct ims_hw_msi_params p = { n, is64, pvm };
	struct ims_hw_msi *msi;

	assert_int_equal(ims__hw_msi_create(cfg, &p, &sink, &msi), 0);
	return msi;
}

static void msi_registers_have_spec_write_masks(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi *msi = new_msi(cfg, 8, true, true);
	uint16_t c = ims__hw_msi_offset(msi);

	(void)state;
	assert_int_equal(rd(cfg, c, 1), IMS_PCI_CAP_ID_MSI);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_FLAGS, 2),
			 3 << 1 | IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	/* Only enable and multiple message enable are writable; MME is capped. */
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, 0xffff);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_FLAGS, 2),
			 IMS_PCI_MSI_FLAGS_ENABLE | 3 << 4 | 3 << 1 | IMS_PCI_MSI_FLAGS_64BIT |
			 IMS_PCI_MSI_FLAGS_MASKBIT);
	wr(cfg, c + IMS_PCI_MSI_ADDR_LO, 4, 0xfee00003);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_ADDR_LO, 4), 0xfee00000);
	wr(cfg, c + IMS_PCI_MSI_MASK_64, 4, 0xffffffff);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_MASK_64, 4), 0xff);
	wr(cfg, c + IMS_PCI_MSI_PENDING_64, 4, 0xffffffff);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_64, 4), 0);
	ims__hw_msi_destroy(msi);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msi_disabled_latches_and_enable_delivers(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi *msi = new_msi(cfg, 1, false, false);
	uint16_t c = ims__hw_msi_offset(msi);
	struct ims_hw_msi_write w;

	(void)state;
	wr(cfg, c + IMS_PCI_MSI_ADDR_LO, 4, 0xfee03000);
	wr(cfg, c + IMS_PCI_MSI_DATA_32, 2, 0x41);
	assert_int_equal(ims__hw_msi_signal(msi, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_true(ims__hw_msi_pending(msi, 0));
	/* A second signal while pending is the same pending interrupt. */
	assert_int_equal(ims__hw_msi_signal(msi, 0), 0);
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, IMS_PCI_MSI_FLAGS_ENABLE);
	assert_int_equal(msi_rec_count(&rec), 1);
	w = msi_rec_last(&rec);
	assert_int_equal(w.addr, 0xfee03000);
	assert_int_equal(w.data, 0x41);
	assert_int_equal(w.rid, 0x0210);
	assert_false(ims__hw_msi_pending(msi, 0));
	assert_int_equal(ims__hw_msi_signal(msi, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 2);
	assert_int_equal(ims__hw_msi_signal(msi, 1), -EINVAL);
	ims__hw_msi_destroy(msi);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msi_masked_vector_pending_then_unmask_delivers(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi *msi = new_msi(cfg, 8, true, true);
	uint16_t c = ims__hw_msi_offset(msi);
	struct ims_hw_msi_stats st;

	(void)state;
	wr(cfg, c + IMS_PCI_MSI_ADDR_LO, 4, 0xfee01000);
	wr(cfg, c + IMS_PCI_MSI_ADDR_HI, 4, 0);
	wr(cfg, c + IMS_PCI_MSI_DATA_64, 2, 0x40);
	wr(cfg, c + IMS_PCI_MSI_MASK_64, 4, 1u << 2);
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, IMS_PCI_MSI_FLAGS_ENABLE | 3 << 4);

	assert_int_equal(ims__hw_msi_signal(msi, 2), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_64, 4), 1u << 2);
	assert_int_equal(ims__hw_msi_signal(msi, 1), 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).data, 0x41);
	wr(cfg, c + IMS_PCI_MSI_MASK_64, 4, 0);
	assert_int_equal(msi_rec_count(&rec), 2);
	assert_int_equal(msi_rec_last(&rec).data, 0x42);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_64, 4), 0);
	ims__hw_msi_get_stats(msi, &st);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.latched, 1);
	ims__hw_msi_destroy(msi);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msi_vector_beyond_enabled_count_waits_for_more(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi *msi = new_msi(cfg, 32, false, true);
	uint16_t c = ims__hw_msi_offset(msi);

	(void)state;
	wr(cfg, c + IMS_PCI_MSI_ADDR_LO, 4, 0xfee00000);
	wr(cfg, c + IMS_PCI_MSI_DATA_32, 2, 0x60);
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, IMS_PCI_MSI_FLAGS_ENABLE | 1 << 4);
	assert_int_equal(ims__hw_msi_signal(msi, 31), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_32, 4), 1u << 31);
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, IMS_PCI_MSI_FLAGS_ENABLE | 5 << 4);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).data, 0x60 | 31);
	assert_int_equal(ims__hw_msi_signal(msi, 32), -EINVAL);
	ims__hw_msi_destroy(msi);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msi_32bit_layout_with_masking(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi *msi = new_msi(cfg, 2, false, true);
	uint16_t c = ims__hw_msi_offset(msi);

	(void)state;
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_FLAGS, 2), 1 << 1 | IMS_PCI_MSI_FLAGS_MASKBIT);
	wr(cfg, c + IMS_PCI_MSI_ADDR_LO, 4, 0xfee0f000);
	wr(cfg, c + IMS_PCI_MSI_DATA_32, 2, 0x80);
	wr(cfg, c + IMS_PCI_MSI_MASK_32, 4, 0xffffffff);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_MASK_32, 4), 0x3);
	wr(cfg, c + IMS_PCI_MSI_FLAGS, 2, IMS_PCI_MSI_FLAGS_ENABLE | 1 << 4);
	assert_int_equal(ims__hw_msi_signal(msi, 1), 0);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_32, 4), 0x2);
	/* A byte write to the mask register is as good as a dword. */
	wr(cfg, c + IMS_PCI_MSI_MASK_32, 1, 0x1);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).addr, 0xfee0f000);
	assert_int_equal(msi_rec_last(&rec).data, 0x81);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSI_PENDING_32, 4), 0);
	ims__hw_msi_destroy(msi);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msi_create_refuses_bad_vector_counts(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msi_params p = { 3, false, false };
	struct ims_hw_msi *msi;

	(void)state;
	assert_int_equal(ims__hw_msi_create(cfg, &p, &sink, &msi), -EINVAL);
	p.nr_vectors = 64;
	assert_int_equal(ims__hw_msi_create(cfg, &p, &sink, &msi), -EINVAL);
	p.nr_vectors = 0;
	assert_int_equal(ims__hw_msi_create(cfg, &p, &sink, &msi), -EINVAL);
	assert_int_equal(rd(cfg, IMS_PCI_CAP_PTR, 1), 0);
	ims__hw_pci_cfg_destroy(cfg);
}

/* ---- MSI-X ---- */

#define TABLE 0x2000
#define PBA 0x3000
#define NR 64

static struct ims_hw_msix *new_msix(struct ims_hw_pci_cfg *cfg)
{
	struct ims_hw_msix_params p = { NR, 0, TABLE, 0, PBA };
	struct ims_hw_msix *x;

	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x4000, IMS_HW_PCI_BAR_64BIT), 0);
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), 0);
	wr(cfg, IMS_PCI_COMMAND, 2, IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
	return x;
}

static uint64_t mrd(struct ims_hw_pci_cfg *cfg, uint64_t off, uint32_t size)
{
	uint64_t v;

	assert_int_equal(ims__hw_pci_mmio_read(cfg, 0, off, size, &v), 0);
	return v;
}

static void mwr(struct ims_hw_pci_cfg *cfg, uint64_t off, uint32_t size, uint64_t v)
{
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, off, size, v), 0);
}

static void set_entry(struct ims_hw_pci_cfg *cfg, unsigned int i, uint64_t addr, uint32_t data,
		      bool masked)
{
	uint64_t e = TABLE + 16ull * i;

	mwr(cfg, e + IMS_PCI_MSIX_ENTRY_ADDR_LO, 8, addr);
	mwr(cfg, e + IMS_PCI_MSIX_ENTRY_DATA, 4, data);
	mwr(cfg, e + IMS_PCI_MSIX_ENTRY_CTRL, 4, masked ? 1 : 0);
}

static bool pba_bit(struct ims_hw_pci_cfg *cfg, unsigned int i)
{
	return mrd(cfg, PBA + 8 * (i / 64), 8) >> (i % 64) & 1;
}

static void msix_cap_registers_and_write_masks(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);

	(void)state;
	assert_int_equal(rd(cfg, c, 1), IMS_PCI_CAP_ID_MSIX);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_FLAGS, 2), NR - 1);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_TABLE, 4), TABLE | 0);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_PBA, 4), PBA | 0);
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, 0xffff);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_FLAGS, 2),
			 IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL | (NR - 1));
	wr(cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x1234);
	wr(cfg, c + IMS_PCI_MSIX_PBA, 4, 0x1234);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_TABLE, 4), TABLE);
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_PBA, 4), PBA);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_entries_come_out_of_reset_masked(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);

	(void)state;
	for (unsigned int i = 0; i < NR; i++) {
		assert_int_equal(mrd(cfg, TABLE + 16 * i, 8), 0);
		assert_int_equal(mrd(cfg, TABLE + 16 * i + 8, 8), 1ull << 32);
	}
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_masked_entry_sets_pba_and_unmask_delivers(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);
	struct ims_hw_msix_stats st;

	(void)state;
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	set_entry(cfg, 3, 0xfee03000, 0x41, true);
	assert_int_equal(ims__hw_msix_signal(x, 3), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_true(pba_bit(cfg, 3));
	assert_int_equal(mrd(cfg, PBA, 4), 1u << 3);
	mwr(cfg, TABLE + 16 * 3 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).addr, 0xfee03000);
	assert_int_equal(msi_rec_last(&rec).data, 0x41);
	assert_int_equal(msi_rec_last(&rec).rid, 0x0210);
	assert_false(pba_bit(cfg, 3));
	/* Unmasking again with nothing pending sends nothing. */
	mwr(cfg, TABLE + 16 * 3 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(ims__hw_msix_signal(x, 3), 0);
	assert_int_equal(msi_rec_count(&rec), 2);
	ims__hw_msix_get_stats(x, &st);
	assert_int_equal(st.sent, 2);
	assert_int_equal(st.latched, 1);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_function_mask_holds_every_entry(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);

	(void)state;
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2,
	   IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL);
	for (unsigned int i = 0; i < NR; i += 9)
		set_entry(cfg, i, 0xfee00000, 0x30 + i, false);
	set_entry(cfg, 5, 0xfee00000, 0x99, true);
	for (unsigned int i = 0; i < NR; i += 9)
		assert_int_equal(ims__hw_msix_signal(x, i), 0);
	assert_int_equal(ims__hw_msix_signal(x, 5), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	/* Clearing the function mask delivers every pending unmasked entry. */
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(msi_rec_count(&rec), 8);
	for (unsigned int k = 0; k < 8; k++)
		assert_int_equal(rec.w[k].data, 0x30 + 9 * k);
	/* Entry 5 keeps its own mask and its pending bit. */
	assert_true(pba_bit(cfg, 5));
	mwr(cfg, TABLE + 16 * 5 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 0);
	assert_int_equal(msi_rec_count(&rec), 9);
	assert_int_equal(msi_rec_last(&rec).data, 0x99);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_disabled_latches_and_enable_delivers(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);

	(void)state;
	set_entry(cfg, 7, 0xfee00000, 0x47, false);
	assert_int_equal(ims__hw_msix_signal(x, 7), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_true(ims__hw_msix_pending(x, 7));
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_false(ims__hw_msix_pending(x, 7));
	/* Disabling again holds new signals. */
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, 0);
	assert_int_equal(ims__hw_msix_signal(x, 7), 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_true(ims__hw_msix_pending(x, 7));
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_dynamic_entries_after_enable(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);
	uint32_t flags;

	(void)state;
	set_entry(cfg, 0, 0xfee00000, 0x20, false);
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	flags = rd(cfg, c + IMS_PCI_MSIX_FLAGS, 2);
	/* Entries added one by one after enable, MSI-X never disabled. */
	for (unsigned int i = 1; i < NR; i++) {
		set_entry(cfg, i, 0xfee00000 | (i % 4) << 12, 0x20 + i, false);
		assert_int_equal(ims__hw_msix_signal(x, i), 0);
		assert_int_equal(msi_rec_count(&rec), i);
		assert_int_equal(msi_rec_last(&rec).data, 0x20 + i);
		assert_int_equal(msi_rec_last(&rec).addr, 0xfee00000 | (i % 4) << 12);
	}
	assert_int_equal(rd(cfg, c + IMS_PCI_MSIX_FLAGS, 2), flags);
	/* An entry freed (masked again) latches, and comes back on reuse. */
	mwr(cfg, TABLE + 16 * 9 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 1);
	assert_int_equal(ims__hw_msix_signal(x, 9), 0);
	assert_int_equal(msi_rec_count(&rec), NR - 1);
	set_entry(cfg, 9, 0xfee05000, 0x77, false);
	assert_int_equal(msi_rec_count(&rec), NR);
	assert_int_equal(msi_rec_last(&rec).data, 0x77);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_qword_write_of_data_and_control_unmasks_last(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);

	(void)state;
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	set_entry(cfg, 2, 0xfee00000, 0x11, true);
	assert_int_equal(ims__hw_msix_signal(x, 2), 0);
	mwr(cfg, TABLE + 16 * 2 + IMS_PCI_MSIX_ENTRY_DATA, 8, 0x55);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).data, 0x55);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_hostile_table_accesses_are_refused_or_ignored(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);
	uint64_t before[NR * 2], v;

	(void)state;
	wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
	set_entry(cfg, 1, 0xfee00000, 0x21, true);
	assert_int_equal(ims__hw_msix_signal(x, 1), 0);
	for (unsigned int i = 0; i < NR * 2; i++)
		before[i] = mrd(cfg, TABLE + 8 * i, 8);

	/* Sizes other than 4 and 8, misaligned, and out-of-table offsets. */
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 + 12, 1, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 + 12, 2, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 + 13, 4, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 + 4, 8, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 + 12, 16, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 * NR, 4, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, TABLE + 16 * NR - 4, 8, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_read(cfg, 0, TABLE + 16 * NR + 8, 4, &v), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x10000, 4, 0), -EINVAL);
	/* PBA writes are ignored. */
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, PBA, 8, 0), 0);
	assert_true(pba_bit(cfg, 1));
	for (unsigned int i = 0; i < NR * 2; i++)
		assert_int_equal(mrd(cfg, TABLE + 8 * i, 8), before[i]);
	assert_int_equal(msi_rec_count(&rec), 0);

	/* Reserved control bits are ignored: only bit 0 counts. */
	mwr(cfg, TABLE + 16 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 0xfffffffe);
	assert_int_equal(mrd(cfg, TABLE + 16 + IMS_PCI_MSIX_ENTRY_CTRL, 4), 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	mwr(cfg, TABLE + 16 + IMS_PCI_MSIX_ENTRY_CTRL, 4, 0xffffffff);
	assert_int_equal(mrd(cfg, TABLE + 16 + IMS_PCI_MSIX_ENTRY_CTRL, 4), 1);
	/* Address bits 1:0 read as zero. */
	mwr(cfg, TABLE + 16, 4, 0xfee00003);
	assert_int_equal(mrd(cfg, TABLE + 16, 4), 0xfee00000);
	assert_int_equal(ims__hw_msix_signal(x, NR), -EINVAL);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

static void msix_create_is_all_or_nothing(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix_params p = { NR, 0, 0x3f80, 0, PBA };
	struct ims_mem_stats m0, m1;
	uint8_t before[4096], after[4096];
	struct ims_hw_msix *x;

	(void)state;
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x4000, 0), 0);
	ims__hw_pci_cfg_dump(cfg, before, sizeof(before));
	ims_mem_stats(&m0);
	/* Table runs past the BAR. */
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), -EINVAL);
	/* Table overlaps the PBA. */
	p.table_offset = PBA - 16;
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), -EBUSY);
	/* No such BAR, misaligned offset, bad size. */
	p.table_offset = TABLE;
	p.pba_bar = 2;
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), -EINVAL);
	p.pba_bar = 0;
	p.pba_offset = PBA + 4;
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), -EINVAL);
	p.pba_offset = PBA;
	p.nr_entries = 2049;
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), -EINVAL);
	ims_mem_stats(&m1);
	assert_int_equal(m0.bytes, m1.bytes);
	assert_int_equal(m0.objects, m1.objects);
	ims__hw_pci_cfg_dump(cfg, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	/* The failed attempts left no region behind: a good one still fits. */
	p.nr_entries = NR;
	assert_int_equal(ims__hw_msix_create(cfg, &p, &sink, &x), 0);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

/*
 * Random guest accesses anywhere in the BAR (any size, any offset, any
 * value), random message control writes and random signals. After every
 * step the model's invariants hold: reserved bits read 0, and no entry is
 * pending while unmasked, which is what "unmask delivers" means.
 */
static void msix_random_accesses_keep_the_invariants(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg();
	struct ims_hw_msix *x = new_msix(cfg);
	uint16_t c = ims__hw_msix_offset(x);
	unsigned int seed = 2024;
	struct ims_hw_msix_stats st;
	uint64_t v;

	(void)state;
	for (int step = 0; step < 20000; step++) {
		unsigned int r = (unsigned int)rand_r(&seed);
		uint64_t val = (uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed);
		uint32_t size = 1u << (r % 5);	/* 1..16 */
		uint64_t off;

		switch (r >> 8 & 7) {
		case 0:
			wr(cfg, c + IMS_PCI_MSIX_FLAGS, 2, (uint32_t)val);
			break;
		case 1:
		case 2:
			ims__hw_msix_signal(x, (unsigned int)(val % (NR + 2)));
			break;
		default:
			/* Mostly the table and PBA, sometimes around them. */
			off = (r >> 12) & 1 ? TABLE + val % (16 * NR + 32) : PBA - 8 + val % 32;
			if (r & 0x800)
				off += (r >> 16) & 7;
			if (r & 0x80000)
				(void)ims__hw_pci_mmio_write(cfg, 0, off, size, val);
			else
				(void)ims__hw_pci_mmio_read(cfg, 0, off, size, &v);
			break;
		}
		if (step % 64)
			continue;
		for (unsigned int i = 0; i < NR; i++) {
			uint32_t ctrl = (uint32_t)mrd(cfg, TABLE + 16 * i + IMS_PCI_MSIX_ENTRY_CTRL, 4);
			uint32_t flags = rd(cfg, c + IMS_PCI_MSIX_FLAGS, 2);
			bool masked = !(flags & IMS_PCI_MSIX_FLAGS_ENABLE) ||
				      (flags & IMS_PCI_MSIX_FLAGS_MASKALL) || (ctrl & 1);

			assert_true(ctrl <= 1);
			assert_int_equal(mrd(cfg, TABLE + 16 * i, 4) & 3, 0);
			if (pba_bit(cfg, i))
				assert_true(masked);
		}
	}
	ims__hw_msix_get_stats(x, &st);
	assert_int_equal(st.sent, msi_rec_count(&rec));
	print_message("%llu sent, %llu latched\n", (unsigned long long)st.sent,
		      (unsigned long long)st.latched);
	assert_true(st.sent > 0 && st.latched > 0);
	ims__hw_msix_destroy(x);
	ims__hw_pci_cfg_destroy(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(msi_registers_have_spec_write_masks),
		cmocka_unit_test(msi_disabled_latches_and_enable_delivers),
		cmocka_unit_test(msi_masked_vector_pending_then_unmask_delivers),
		cmocka_unit_test(msi_vector_beyond_enabled_count_waits_for_more),
		cmocka_unit_test(msi_32bit_layout_with_masking),
		cmocka_unit_test(msi_create_refuses_bad_vector_counts),
		cmocka_unit_test(msix_cap_registers_and_write_masks),
		cmocka_unit_test(msix_entries_come_out_of_reset_masked),
		cmocka_unit_test(msix_masked_entry_sets_pba_and_unmask_delivers),
		cmocka_unit_test(msix_function_mask_holds_every_entry),
		cmocka_unit_test(msix_disabled_latches_and_enable_delivers),
		cmocka_unit_test(msix_dynamic_entries_after_enable),
		cmocka_unit_test(msix_qword_write_of_data_and_control_unmasks_last),
		cmocka_unit_test(msix_hostile_table_accesses_are_refused_or_ignored),
		cmocka_unit_test(msix_create_is_all_or_nothing),
		cmocka_unit_test(msix_random_accesses_keep_the_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The PCI core's probe of a live configuration space model and of its
 * dump: BAR sizing that restores every register, MSI, MSI-X (validated
 * against the BARs) and SIOV DVSEC decode, "supports IMS" from the DVSEC
 * bit, and each decode fault with its offset.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/msi_rec.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/siov_dvsec.h"

static struct msi_rec rec;
static struct ims_hw_msi_sink sink;
static struct ims_pci_dev_info info;

struct dev {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msi *msi;
	struct ims_hw_msix *msix;
	uint16_t siov;
};

static void dev_build(struct dev *d, bool ims, bool with_dvsec)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x8086, .device_id = 0x0b25, .revision = 1,
		.class_code = 0x088000, .rid = 0x0300, .extended = true,
	};
	struct ims_hw_msi_params mp = { 4, true, true };
	struct ims_hw_msix_params xp = { 9, 0, 0x2000, 0, 0x3000 };
	struct ims_hw_siov_dvsec_params sp = {
		.revision = 0, .func_dep_link = 0x12, .homogeneous = true,
		.supported_page_sizes = 0x553, .ims_supported = ims,
	};
	uint16_t off;

	msi_rec_init(&rec, &sink);
	assert_int_equal(ims__hw_pci_cfg_create(&p, &d->cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(d->cfg, 0, 0x4000,
					     IMS_HW_PCI_BAR_64BIT | IMS_HW_PCI_BAR_PREFETCH), 0);
	assert_int_equal(ims__hw_pci_bar_add(d->cfg, 2, 0x1000, 0), 0);
	assert_int_equal(ims__hw_pci_add_cap(d->cfg, IMS_PCI_CAP_ID_PM, 8, &off), 0);
	assert_int_equal(ims__hw_msi_create(d->cfg, &mp, &sink, &d->msi), 0);
	assert_int_equal(ims__hw_msix_create(d->cfg, &xp, &sink, &d->msix), 0);
	assert_int_equal(ims__hw_pci_add_ext_cap(d->cfg, IMS_PCI_EXT_CAP_ID_PASID, 1, 8, &off), 0);
	if (with_dvsec)
		assert_int_equal(ims__hw_pci_add_siov_dvsec(d->cfg, &sp, &d->siov), 0);
}

static void dev_free(struct dev *d)
{
	ims__hw_msix_destroy(d->msix);
	ims__hw_msi_destroy(d->msi);
	ims__hw_pci_cfg_destroy(d->cfg);
}

static int probe_live(struct dev *d)
{
	struct ims_pci_cfg_access acc;

	ims__hw_pci_cfg_access(d->cfg, &acc);
	return ims_pci_dev_probe(&acc, &info);
}

static uint8_t dump[4096];

static int probe_dump(struct dev *d)
{
	struct ims_pci_cfg_access acc;

	ims__hw_pci_cfg_dump(d->cfg, dump, sizeof(dump));
	assert_int_equal(ims_pci_cfg_access_buffer(&acc, dump, sizeof(dump)), 0);
	return ims_pci_dev_probe(&acc, &info);
}

static void probe_live_model_decodes_everything(void **state)
{
	struct dev d;

	(void)state;
	dev_build(&d, true, true);
	assert_int_equal(probe_live(&d), 0);
	assert_int_equal(info.vendor_id, 0x8086);
	assert_int_equal(info.device_id, 0x0b25);
	assert_int_equal(info.class_code, 0x088000);
	assert_int_equal(info.revision, 1);
	assert_int_equal(info.nr_bars, 6);
	assert_int_equal(info.bars[0].kind, IMS_PCI_BAR_KIND_MEM64);
	assert_true(info.bars[0].prefetchable);
	assert_true(info.bars[0].sized);
	assert_int_equal(info.bars[0].size, 0x4000);
	assert_int_equal(info.bars[1].kind, IMS_PCI_BAR_KIND_MEM64_HI);
	assert_int_equal(info.bars[2].kind, IMS_PCI_BAR_KIND_MEM32);
	assert_int_equal(info.bars[2].size, 0x1000);
	assert_int_equal(info.bars[3].kind, IMS_PCI_BAR_KIND_NONE);

	assert_int_equal(info.nr_caps, 5);
	assert_true(info.has_msi);
	assert_int_equal(info.msi.offset, ims__hw_msi_offset(d.msi));
	assert_int_equal(info.msi.nr_capable, 4);
	assert_int_equal(info.msi.nr_enabled, 1);
	assert_true(info.msi.is_64bit);
	assert_true(info.msi.per_vector_mask);
	assert_false(info.msi.enabled);

	assert_true(info.has_msix);
	assert_int_equal(info.msix.offset, ims__hw_msix_offset(d.msix));
	assert_int_equal(info.msix.table_size, 9);
	assert_int_equal(info.msix.table_bir, 0);
	assert_int_equal(info.msix.table_offset, 0x2000);
	assert_int_equal(info.msix.pba_bir, 0);
	assert_int_equal(info.msix.pba_offset, 0x3000);

	assert_true(info.has_siov);
	assert_int_equal(info.siov.offset, d.siov);
	assert_int_equal(info.siov.length, IMS_PCI_SIOV_DVSEC_SIZE);
	assert_int_equal(info.siov.func_dep_link, 0x12);
	assert_true(info.siov.homogeneous);
	assert_int_equal(info.siov.supported_page_sizes, 0x553);
	assert_int_equal(info.siov.system_page_size, 1);
	assert_true(info.siov.ims_supported);
	assert_true(ims_pci_dev_supports_ims(&info));
	dev_free(&d);
}

static void probe_sizing_restores_bars_and_command(void **state)
{
	struct ims_pci_cfg_access acc;
	uint8_t before[4096], after[4096];
	struct dev d;

	(void)state;
	dev_build(&d, true, true);
	ims__hw_pci_cfg_access(d.cfg, &acc);
	assert_int_equal(acc.write(acc.ctx, IMS_PCI_BAR0, 4, 0xfe000000), 0);
	assert_int_equal(acc.write(acc.ctx, IMS_PCI_BAR0 + 4, 4, 0x2), 0);
	assert_int_equal(acc.write(acc.ctx, IMS_PCI_BAR0 + 8, 4, 0xfd000000), 0);
	assert_int_equal(acc.write(acc.ctx, IMS_PCI_COMMAND, 2,
				   IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER), 0);
	ims__hw_pci_cfg_dump(d.cfg, before, sizeof(before));
	assert_int_equal(ims_pci_dev_probe(&acc, &info), 0);
	ims__hw_pci_cfg_dump(d.cfg, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(info.bars[0].addr, 0x2fe000000ull);
	assert_int_equal(info.bars[2].addr, 0xfd000000);
	assert_int_equal(info.bars[0].size, 0x4000);
	dev_free(&d);
}

static void probe_of_a_dump_leaves_sizes_unknown(void **state)
{
	struct dev d;

	(void)state;
	dev_build(&d, true, true);
	assert_int_equal(probe_dump(&d), 0);
	assert_false(info.bars[0].sized);
	assert_int_equal(info.bars[0].size, 0);
	assert_int_equal(info.bars[0].kind, IMS_PCI_BAR_KIND_MEM64);
	assert_int_equal(info.msix.table_size, 9);
	assert_true(ims_pci_dev_supports_ims(&info));
	dev_free(&d);
}

static void siov_dvsec_ims_flag_decides_supports_ims(void **state)
{
	struct dev d;
	uint16_t off;

	(void)state;
	dev_build(&d, false, true);
	assert_int_equal(probe_live(&d), 0);
	assert_true(info.has_siov);
	assert_false(info.siov.ims_supported);
	assert_false(ims_pci_dev_supports_ims(&info));
	dev_free(&d);

	/* A DVSEC of another vendor, or another id, is not the SIOV one. */
	dev_build(&d, true, false);
	assert_int_equal(ims__hw_pci_add_dvsec(d.cfg, 0x1af4, 0, 5, 0x18, &off), 0);
	assert_int_equal(ims__hw_pci_add_dvsec(d.cfg, 0x8086, 0, 6, 0x18, &off), 0);
	assert_int_equal(ims__hw_pci_cfg_poke(d.cfg, off + IMS_PCI_SIOV_CAPS, 4, 1), 0);
	assert_int_equal(probe_live(&d), 0);
	assert_false(info.has_siov);
	assert_false(ims_pci_dev_supports_ims(&info));
	assert_int_equal(info.nr_caps, 6);
	dev_free(&d);
	assert_false(ims_pci_dev_supports_ims(NULL));
}

static void siov_dvsec_fields_and_write_masks(void **state)
{
	struct dev d;
	uint32_t v;

	(void)state;
	dev_build(&d, true, true);
	/* Only supported page sizes can be selected; the rest is read-only. */
	assert_int_equal(ims__hw_pci_cfg_write(d.cfg, d.siov + IMS_PCI_SIOV_SYS_PAGE_SIZE, 4,
					       0xffffffff), 0);
	assert_int_equal(ims__hw_pci_cfg_read(d.cfg, d.siov + IMS_PCI_SIOV_SYS_PAGE_SIZE, 4, &v), 0);
	assert_int_equal(v, 0x553);
	assert_int_equal(ims__hw_pci_cfg_write(d.cfg, d.siov + IMS_PCI_SIOV_CAPS, 4, 0), 0);
	assert_int_equal(ims__hw_pci_cfg_read(d.cfg, d.siov + IMS_PCI_SIOV_CAPS, 4, &v), 0);
	assert_int_equal(v, IMS_PCI_SIOV_CAPS_IMS);
	assert_int_equal(ims__hw_pci_cfg_read(d.cfg, d.siov + IMS_PCI_DVSEC_HDR1, 4, &v), 0);
	assert_int_equal(v, 0x8086 | 0x18u << 20);
	assert_int_equal(ims__hw_pci_cfg_read(d.cfg, d.siov + IMS_PCI_DVSEC_HDR2, 2, &v), 0);
	assert_int_equal(v, IMS_PCI_SIOV_DVSEC_ID);
	dev_free(&d);
}

static void expect(int err, enum ims_pci_fault_kind kind, uint32_t offset, uint32_t value)
{
	char want[32];

	assert_int_equal(err, -EINVAL);
	assert_int_equal(info.fault.kind, kind);
	assert_int_equal(info.fault.offset, offset);
	assert_int_equal(info.fault.value, value);
	snprintf(want, sizeof(want), "offset 0x%x", offset);
	assert_non_null(strstr(ims_last_error(), want));
}

static void msix_bir_must_name_a_usable_memory_bar(void **state)
{
	struct dev d;
	uint16_t c;

	(void)state;
	dev_build(&d, true, true);
	c = ims__hw_msix_offset(d.msix);
	/* BIR 6 and 7 are reserved. */
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x2000 | 6);
	expect(probe_live(&d), IMS_PCI_FAULT_BAD_BIR, c + IMS_PCI_MSIX_TABLE, 6);
	expect(probe_dump(&d), IMS_PCI_FAULT_BAD_BIR, c + IMS_PCI_MSIX_TABLE, 6);
	/* BAR 1 is the upper half of the 64-bit BAR 0. */
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x2000 | 1);
	expect(probe_live(&d), IMS_PCI_FAULT_BAD_BIR, c + IMS_PCI_MSIX_TABLE, 1);
	/* BAR 3 is not implemented: only sizing can tell. */
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x2000);
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_PBA, 4, 0x0 | 3);
	expect(probe_live(&d), IMS_PCI_FAULT_BAD_BIR, c + IMS_PCI_MSIX_PBA, 3);
	assert_int_equal(probe_dump(&d), 0);
	/* An I/O BAR cannot hold a table. */
	ims__hw_pci_cfg_poke(d.cfg, IMS_PCI_BAR0 + 12, 4, 0xe001);
	expect(probe_dump(&d), IMS_PCI_FAULT_BAD_BIR, c + IMS_PCI_MSIX_PBA, 3);
	dev_free(&d);
}

static void msix_table_and_pba_must_fit_their_bar(void **state)
{
	struct dev d;
	uint16_t c;

	(void)state;
	dev_build(&d, true, true);
	c = ims__hw_msix_offset(d.msix);
	/* 9 entries from 0x3f80 run past the 16 KB BAR. */
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x3f80);
	expect(probe_live(&d), IMS_PCI_FAULT_BAR_RANGE, c + IMS_PCI_MSIX_TABLE, 0x3f80);
	/* In a dump the BAR size is unknown: nothing to check against. */
	assert_int_equal(probe_dump(&d), 0);
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_TABLE, 4, 0x2000);
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_PBA, 4, 0x4000);
	expect(probe_live(&d), IMS_PCI_FAULT_BAR_RANGE, c + IMS_PCI_MSIX_PBA, 0x4000);
	/* PBA inside the table: caught even in a dump. */
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSIX_PBA, 4, 0x2080);
	expect(probe_dump(&d), IMS_PCI_FAULT_BAR_RANGE, c + IMS_PCI_MSIX_PBA, 0x2080);
	dev_free(&d);
}

static void decode_faults_of_msi_dvsec_and_header(void **state)
{
	struct dev d;
	uint16_t c;

	(void)state;
	dev_build(&d, true, true);
	c = ims__hw_msi_offset(d.msi);
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSI_FLAGS, 2,
			     6 << 1 | IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	expect(probe_dump(&d), IMS_PCI_FAULT_RESERVED, c + IMS_PCI_MSI_FLAGS,
	       6 << 1 | IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	ims__hw_pci_cfg_poke(d.cfg, c + IMS_PCI_MSI_FLAGS, 2,
			     2 << 1 | IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(probe_dump(&d), 0);
	/* A SIOV DVSEC too short to hold the IMS bit. */
	ims__hw_pci_cfg_poke(d.cfg, d.siov + IMS_PCI_DVSEC_HDR1, 4, 0x8086 | 0x10u << 20);
	expect(probe_dump(&d), IMS_PCI_FAULT_TRUNCATED, d.siov, 0x10);
	ims__hw_pci_cfg_poke(d.cfg, IMS_PCI_VENDOR_ID, 2, 0xffff);
	expect(probe_dump(&d), IMS_PCI_FAULT_BAD_HEADER, IMS_PCI_VENDOR_ID, 0xffff);
	ims__hw_pci_cfg_poke(d.cfg, IMS_PCI_VENDOR_ID, 2, 0x8086);
	/* A 64-bit BAR in the last slot has no upper half. */
	ims__hw_pci_cfg_poke(d.cfg, IMS_PCI_BAR0 + 20, 4, IMS_PCI_BAR_MEM_TYPE_64);
	expect(probe_dump(&d), IMS_PCI_FAULT_BAD_HEADER, IMS_PCI_BAR0 + 20,
	       IMS_PCI_BAR_MEM_TYPE_64);
	ims__hw_pci_cfg_poke(d.cfg, IMS_PCI_BAR0 + 20, 4, 0x6);
	expect(probe_dump(&d), IMS_PCI_FAULT_RESERVED, IMS_PCI_BAR0 + 20, 0x6);
	dev_free(&d);
}

/*
 * Software writes anything anywhere in configuration space: what the spec
 * makes read-only (header ids, capability lists, MSI-X layout, the DVSEC)
 * reads the same afterwards, so the probe finds the same device.
 */
static void random_config_writes_change_only_what_software_may(void **state)
{
	static struct ims_pci_dev_info before;
	unsigned int seed = 31;
	struct dev d;

	(void)state;
	dev_build(&d, true, true);
	assert_int_equal(probe_live(&d), 0);
	before = info;
	for (int i = 0; i < 20000; i++) {
		uint32_t size = 1u << (rand_r(&seed) % 3);
		uint32_t off = (uint32_t)rand_r(&seed) % 4096 & ~(size - 1);

		/* Leave command alone: the probe's BAR sizing needs decode. */
		if (off >= IMS_PCI_COMMAND && off < IMS_PCI_COMMAND + 2)
			continue;
		assert_int_equal(ims__hw_pci_cfg_write(d.cfg, off, size, (uint32_t)rand_r(&seed)),
				 0);
	}
	assert_int_equal(probe_live(&d), 0);
	assert_int_equal(info.vendor_id, before.vendor_id);
	assert_int_equal(info.device_id, before.device_id);
	assert_int_equal(info.class_code, before.class_code);
	assert_int_equal(info.nr_caps, before.nr_caps);
	assert_memory_equal(info.caps, before.caps, sizeof(info.caps[0]) * info.nr_caps);
	for (int b = 0; b < 6; b++) {
		assert_int_equal(info.bars[b].kind, before.bars[b].kind);
		assert_int_equal(info.bars[b].size, before.bars[b].size);
	}
	assert_int_equal(info.msi.nr_capable, before.msi.nr_capable);
	assert_int_equal(info.msix.table_size, before.msix.table_size);
	assert_int_equal(info.msix.table_offset, before.msix.table_offset);
	assert_int_equal(info.msix.pba_offset, before.msix.pba_offset);
	assert_int_equal(info.siov.caps, before.siov.caps);
	assert_int_equal(info.siov.supported_page_sizes, before.siov.supported_page_sizes);
	/* System page size is writable, but only to supported sizes. */
	assert_int_equal(info.siov.system_page_size & ~before.siov.supported_page_sizes, 0);
	dev_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe_live_model_decodes_everything),
		cmocka_unit_test(probe_sizing_restores_bars_and_command),
		cmocka_unit_test(probe_of_a_dump_leaves_sizes_unknown),
		cmocka_unit_test(siov_dvsec_ims_flag_decides_supports_ims),
		cmocka_unit_test(siov_dvsec_fields_and_write_masks),
		cmocka_unit_test(msix_bir_must_name_a_usable_memory_bar),
		cmocka_unit_test(msix_table_and_pba_must_fit_their_bar),
		cmocka_unit_test(decode_faults_of_msi_dvsec_and_header),
		cmocka_unit_test(random_config_writes_change_only_what_software_may),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

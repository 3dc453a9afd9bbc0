/*
 * The public PCI core through the shared library, as an out-of-tree user
 * sees it: only <ims/pci.h> and <ims/ims_slot.h>. Every function declared
 * in ims/pci.h is called here, so a missing export fails to link. The
 * space is built by hand and read through a user-supplied accessor.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <ims/ims_slot.h>
#include <ims/pci.h>

_Static_assert(IMS_SLOT_SIZE == 16, "IMS slot layout");
_Static_assert(IMS_PCI_MSIX_ENTRY_SIZE == 16, "MSI-X entry layout");

static uint8_t space[4096];
static unsigned int reads;

static void put(uint32_t off, uint32_t size, uint32_t v)
{
	for (uint32_t i = 0; i < size; i++)
		space[off + i] = (uint8_t)(v >> (8 * i));
}

/* A user accessor: counts reads, returns little-endian values. */
static int user_read(void *ctx, uint32_t off, uint32_t size, uint32_t *val)
{
	const uint8_t *s = ctx;

	reads++;
	*val = 0;
	for (uint32_t i = 0; i < size; i++)
		*val |= (uint32_t)s[off + i] << (8 * i);
	return 0;
}

static void build(void)
{
	memset(space, 0, sizeof(space));
	put(IMS_PCI_VENDOR_ID, 2, 0x8086);
	put(IMS_PCI_DEVICE_ID, 2, 0x0b25);
	put(IMS_PCI_STATUS, 2, IMS_PCI_STATUS_CAP_LIST);
	put(IMS_PCI_BAR0, 4, 0xfe000000 | IMS_PCI_BAR_MEM_TYPE_64);
	put(IMS_PCI_CAP_PTR, 1, 0x40);
	put(0x40, 2, IMS_PCI_CAP_ID_MSI | 0x50 << 8);
	put(0x40 + IMS_PCI_MSI_FLAGS, 2, 2 << 1);
	put(0x50, 2, IMS_PCI_CAP_ID_MSIX);
	put(0x50 + IMS_PCI_MSIX_FLAGS, 2, 31);
	put(0x50 + IMS_PCI_MSIX_TABLE, 4, 0x1000);
	put(0x50 + IMS_PCI_MSIX_PBA, 4, 0x1800);
	put(0x100, 4, IMS_PCI_EXT_CAP_ID_DVSEC | 1u << IMS_PCI_EXT_CAP_VER_SHIFT);
	put(0x100 + IMS_PCI_DVSEC_HDR1, 4, IMS_PCI_SIOV_VENDOR |
	    (uint32_t)IMS_PCI_SIOV_DVSEC_SIZE << IMS_PCI_DVSEC_HDR1_LEN_SHIFT);
	put(0x100 + IMS_PCI_DVSEC_HDR2, 2, IMS_PCI_SIOV_DVSEC_ID);
	put(0x100 + IMS_PCI_SIOV_CAPS, 4, IMS_PCI_SIOV_CAPS_IMS);
}

static int count_cb(const struct ims_pci_cap *cap, void *ctx)
{
	(void)cap;
	(*(int *)ctx)++;
	return 0;
}

static void api_probe_through_a_user_accessor(void **state)
{
	static struct ims_pci_dev_info info;
	struct ims_pci_cfg_access acc = { user_read, NULL, space, sizeof(space) };
	struct ims_pci_msi_info msi;
	struct ims_pci_msix_info msix;
	struct ims_pci_siov_info siov;
	struct ims_pci_fault f;
	uint16_t off, w;
	uint32_t d;
	uint8_t b;
	int n = 0;

	(void)state;
	build();
	assert_int_equal(ims_pci_dev_probe(&acc, &info), 0);
	assert_true(reads > 0);
	assert_true(ims_pci_dev_supports_ims(&info));
	assert_int_equal(info.msix.table_size, 32);
	assert_int_equal(info.msix.pba_offset, 0x1800);
	assert_int_equal(info.msi.nr_capable, 4);
	assert_int_equal(info.bars[0].addr, 0xfe000000);

	assert_int_equal(ims_pci_cap_walk(&acc, count_cb, &n, &f), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ims_pci_find_cap(&acc, IMS_PCI_CAP_ID_MSIX, &off), 0);
	assert_int_equal(off, 0x50);
	assert_int_equal(ims_pci_find_ext_cap(&acc, IMS_PCI_EXT_CAP_ID_DVSEC, &off), 0);
	assert_int_equal(ims_pci_find_dvsec(&acc, IMS_PCI_SIOV_VENDOR, IMS_PCI_SIOV_DVSEC_ID, &off),
			 0);
	assert_int_equal(off, 0x100);
	assert_int_equal(ims_pci_msi_decode(&acc, 0x40, &msi, &f), 0);
	assert_int_equal(ims_pci_msix_decode(&acc, 0x50, &msix, &f), 0);
	assert_int_equal(ims_pci_siov_decode(&acc, 0x100, &siov, &f), 0);
	assert_true(siov.ims_supported);
	assert_int_equal(ims_pci_cfg_read8(&acc, IMS_PCI_CAP_PTR, &b), 0);
	assert_int_equal(b, 0x40);
	assert_int_equal(ims_pci_cfg_read16(&acc, IMS_PCI_VENDOR_ID, &w), 0);
	assert_int_equal(w, 0x8086);
	assert_int_equal(ims_pci_cfg_read32(&acc, 0x100 + IMS_PCI_SIOV_CAPS, &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(ims_pci_cfg_read32(&acc, 0x1002, &d), -EINVAL);
	assert_string_equal(ims_pci_cap_name(IMS_PCI_CAP_ID_MSIX, false), "MSI-X");
	assert_string_equal(ims_pci_cap_name(IMS_PCI_EXT_CAP_ID_DVSEC, true),
			    "Designated Vendor-Specific");
}

static void api_malformed_buffer_names_offset_and_fault(void **state)
{
	static struct ims_pci_dev_info info;
	struct ims_pci_cfg_access acc;

	(void)state;
	build();
	put(0x51, 1, 0x40);
	assert_int_equal(ims_pci_cfg_access_buffer(&acc, space, 256), 0);
	assert_int_equal(ims_pci_dev_probe(&acc, &info), -EINVAL);
	assert_int_equal(info.fault.kind, IMS_PCI_FAULT_LOOP);
	assert_int_equal(info.fault.offset, 0x51);
	assert_non_null(strstr(ims_last_error(), "offset 0x51"));
	assert_non_null(strstr(ims_last_error(), ims_pci_fault_name(IMS_PCI_FAULT_LOOP)));
	assert_false(ims_pci_dev_supports_ims(&info));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(api_probe_through_a_user_accessor),
		cmocka_unit_test(api_malformed_buffer_names_offset_and_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

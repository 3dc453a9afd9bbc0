/*
 * The PCI core's capability walk on raw spaces: both lists in order, every
 * malformed-list fault reported with its kind and the offset of the bad
 * pointer or capability, and random bytes never making the walk read out
 * of bounds or run forever.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ims/pci.h>

static uint8_t space[4096];

static void put16(uint32_t off, uint16_t v)
{
	space[off] = (uint8_t)v;
	space[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint32_t off, uint32_t v)
{
	put16(off, (uint16_t)v);
	put16(off + 2, (uint16_t)(v >> 16));
}

static void std_cap(uint32_t off, uint8_t id, uint8_t next)
{
	space[off] = id;
	space[off + 1] = next;
}

static void ext_cap(uint32_t off, uint16_t id, uint8_t ver, uint32_t next)
{
	put32(off, id | (uint32_t)ver << 16 | next << 20);
}

/* A good space: PM, MSI (64-bit, masking), MSI-X; PASID, SIOV DVSEC. */
static void build_good(void)
{
	memset(space, 0, sizeof(space));
	put16(IMS_PCI_VENDOR_ID, 0x8086);
	put16(IMS_PCI_DEVICE_ID, 0x0b25);
	put16(IMS_PCI_STATUS, IMS_PCI_STATUS_CAP_LIST);
	space[IMS_PCI_CAP_PTR] = 0x40;
	std_cap(0x40, IMS_PCI_CAP_ID_PM, 0x48);
	std_cap(0x48, IMS_PCI_CAP_ID_MSI, 0x60);
	put16(0x48 + IMS_PCI_MSI_FLAGS, IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	std_cap(0x60, IMS_PCI_CAP_ID_MSIX, 0);
	put32(0x60 + IMS_PCI_MSIX_PBA, 0x800);
	ext_cap(0x100, IMS_PCI_EXT_CAP_ID_PASID, 1, 0x108);
	ext_cap(0x108, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0);
	put32(0x108 + IMS_PCI_DVSEC_HDR1, 0x8086 | 0x18u << 20);
	put16(0x108 + IMS_PCI_DVSEC_HDR2, 5);
}

static struct ims_pci_cfg_access acc_of(size_t len)
{
	struct ims_pci_cfg_access acc;

	assert_int_equal(ims_pci_cfg_access_buffer(&acc, space, len), 0);
	return acc;
}

struct rec {
	unsigned int n;
	struct ims_pci_cap caps[64];
	int stop_at;
};

static int rec_cb(const struct ims_pci_cap *cap, void *ctx)
{
	struct rec *r = ctx;

	if (r->n < 64)
		r->caps[r->n] = *cap;
	r->n++;
	if (r->stop_at && (int)r->n == r->stop_at)
		return 1;
	return 0;
}

static void walk_reports_both_lists_in_order(void **state)
{
	struct ims_pci_cfg_access acc;
	struct ims_pci_fault f;
	struct rec r = { 0 };

	(void)state;
	build_good();
	acc = acc_of(4096);
	assert_int_equal(ims_pci_cap_walk(&acc, rec_cb, &r, &f), 0);
	assert_int_equal(f.kind, IMS_PCI_FAULT_NONE);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.caps[0].offset, 0x40);
	assert_int_equal(r.caps[0].id, IMS_PCI_CAP_ID_PM);
	assert_int_equal(r.caps[1].offset, 0x48);
	assert_int_equal(r.caps[2].id, IMS_PCI_CAP_ID_MSIX);
	assert_false(r.caps[2].extended);
	assert_int_equal(r.caps[3].offset, 0x100);
	assert_int_equal(r.caps[3].id, IMS_PCI_EXT_CAP_ID_PASID);
	assert_int_equal(r.caps[3].version, 1);
	assert_true(r.caps[3].extended);
	assert_int_equal(r.caps[4].offset, 0x108);

	/* The same space cut to 256 bytes has no extended list. */
	r.n = 0;
	acc = acc_of(256);
	assert_int_equal(ims_pci_cap_walk(&acc, rec_cb, &r, &f), 0);
	assert_int_equal(r.n, 3);
}

static void walk_stops_when_asked_and_passes_errors_up(void **state)
{
	struct ims_pci_cfg_access acc;
	struct rec r = { .stop_at = 2 };

	(void)state;
	build_good();
	acc = acc_of(4096);
	assert_int_equal(ims_pci_cap_walk(&acc, rec_cb, &r, NULL), 1);
	assert_int_equal(r.n, 2);
}

static void walk_without_cap_list_bit_or_ext_header(void **state)
{
	struct ims_pci_cfg_access acc;
	struct rec r = { 0 };

	(void)state;
	build_good();
	put16(IMS_PCI_STATUS, 0);
	put32(0x100, 0xffffffff);
	acc = acc_of(4096);
	assert_int_equal(ims_pci_cap_walk(&acc, rec_cb, &r, NULL), 0);
	assert_int_equal(r.n, 0);
}

static void expect_fault(size_t len, enum ims_pci_fault_kind kind, uint32_t offset, uint32_t value)
{
	struct ims_pci_cfg_access acc = acc_of(len);
	struct ims_pci_fault f;
	char want[32];

	assert_int_equal(ims_pci_cap_walk(&acc, NULL, NULL, &f), -EINVAL);
	assert_int_equal(f.kind, kind);
	assert_int_equal(f.offset, offset);
	assert_int_equal(f.value, value);
	snprintf(want, sizeof(want), "offset 0x%x", offset);
	assert_non_null(strstr(ims_last_error(), want));
	assert_non_null(strstr(ims_last_error(), ims_pci_fault_name(kind)));
}

static void walk_fault_pointer_into_header(void **state)
{
	(void)state;
	build_good();
	space[IMS_PCI_CAP_PTR] = 0x20;
	expect_fault(4096, IMS_PCI_FAULT_PTR_IN_HEADER, IMS_PCI_CAP_PTR, 0x20);
	build_good();
	space[0x49] = 0x3c;
	expect_fault(4096, IMS_PCI_FAULT_PTR_IN_HEADER, 0x49, 0x3c);
	/* An extended pointer back into conventional space. */
	build_good();
	ext_cap(0x100, IMS_PCI_EXT_CAP_ID_PASID, 1, 0x80);
	expect_fault(4096, IMS_PCI_FAULT_PTR_IN_HEADER, 0x100, 0x80);
}

static void walk_fault_pointer_beyond_space(void **state)
{
	(void)state;
	/* A 64-byte dump (lspci -x) whose capability pointer leaves it. */
	build_good();
	expect_fault(64, IMS_PCI_FAULT_PTR_BEYOND, IMS_PCI_CAP_PTR, 0x40);
	build_good();
	space[IMS_PCI_CAP_PTR] = 0x80;
	expect_fault(128, IMS_PCI_FAULT_PTR_BEYOND, IMS_PCI_CAP_PTR, 0x80);
}

static void walk_fault_misaligned_pointer(void **state)
{
	(void)state;
	build_good();
	space[IMS_PCI_CAP_PTR] = 0x41;
	expect_fault(4096, IMS_PCI_FAULT_PTR_MISALIGNED, IMS_PCI_CAP_PTR, 0x41);
	build_good();
	ext_cap(0x100, IMS_PCI_EXT_CAP_ID_PASID, 1, 0x10a);
	expect_fault(4096, IMS_PCI_FAULT_PTR_MISALIGNED, 0x100, 0x10a);
}

static void walk_fault_loop(void **state)
{
	(void)state;
	build_good();
	space[0x61] = 0x40;
	expect_fault(4096, IMS_PCI_FAULT_LOOP, 0x61, 0x40);
	build_good();
	space[0x41] = 0x40;
	expect_fault(4096, IMS_PCI_FAULT_LOOP, 0x41, 0x40);
	build_good();
	ext_cap(0x108, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0x100);
	expect_fault(4096, IMS_PCI_FAULT_LOOP, 0x108, 0x100);
	build_good();
	ext_cap(0x100, IMS_PCI_EXT_CAP_ID_PASID, 1, 0x100);
	expect_fault(4096, IMS_PCI_FAULT_LOOP, 0x100, 0x100);
}

static void walk_fault_truncated_capability(void **state)
{
	(void)state;
	/* MSI-X needs 12 bytes; at 0xf8 it would run past 0x100. */
	build_good();
	space[0x61] = 0xf8;
	std_cap(0xf8, IMS_PCI_CAP_ID_MSIX, 0);
	expect_fault(4096, IMS_PCI_FAULT_TRUNCATED, 0xf8, IMS_PCI_CAP_ID_MSIX);
	/* MSI with masking and 64-bit needs 0x18 bytes. */
	build_good();
	space[0x61] = 0xf0;
	std_cap(0xf0, IMS_PCI_CAP_ID_MSI, 0);
	put16(0xf0 + IMS_PCI_MSI_FLAGS, IMS_PCI_MSI_FLAGS_64BIT | IMS_PCI_MSI_FLAGS_MASKBIT);
	expect_fault(4096, IMS_PCI_FAULT_TRUNCATED, 0xf0, IMS_PCI_CAP_ID_MSI);
	/* A DVSEC whose length runs past 4096. */
	build_good();
	ext_cap(0x108, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0xff0);
	ext_cap(0xff0, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0);
	put32(0xff0 + IMS_PCI_DVSEC_HDR1, 0x8086 | 0x18u << 20);
	expect_fault(4096, IMS_PCI_FAULT_TRUNCATED, 0xff0, IMS_PCI_EXT_CAP_ID_DVSEC);
	/* A DVSEC shorter than its own headers. */
	build_good();
	put32(0x108 + IMS_PCI_DVSEC_HDR1, 0x8086 | 0x4u << 20);
	expect_fault(4096, IMS_PCI_FAULT_TRUNCATED, 0x108, IMS_PCI_EXT_CAP_ID_DVSEC);
	/* A DVSEC header cut by the end of the space. */
	build_good();
	ext_cap(0x108, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0xffc);
	ext_cap(0xffc, IMS_PCI_EXT_CAP_ID_DVSEC, 1, 0);
	expect_fault(4096, IMS_PCI_FAULT_TRUNCATED, 0xffc, IMS_PCI_EXT_CAP_ID_DVSEC);
}

static void walk_fault_bad_header_type(void **state)
{
	(void)state;
	build_good();
	space[IMS_PCI_HEADER_TYPE] = 2;
	expect_fault(4096, IMS_PCI_FAULT_BAD_HEADER, IMS_PCI_HEADER_TYPE, 2);
}

static void walk_refuses_bad_access(void **state)
{
	struct ims_pci_cfg_access acc;

	(void)state;
	assert_int_equal(ims_pci_cfg_access_buffer(&acc, space, 102), -EINVAL);
	assert_int_equal(ims_pci_cfg_access_buffer(&acc, space, 8192), -EINVAL);
	assert_int_equal(ims_pci_cfg_access_buffer(&acc, space, 32), -EINVAL);
	acc = acc_of(256);
	acc.size = 258;
	assert_int_equal(ims_pci_cap_walk(&acc, NULL, NULL, NULL), -EINVAL);
	acc.read = NULL;
	acc.size = 256;
	assert_int_equal(ims_pci_cap_walk(&acc, NULL, NULL, NULL), -EINVAL);
}

static void find_functions(void **state)
{
	struct ims_pci_cfg_access acc;
	uint16_t off = 0;

	(void)state;
	build_good();
	acc = acc_of(4096);
	assert_int_equal(ims_pci_find_cap(&acc, IMS_PCI_CAP_ID_MSIX, &off), 0);
	assert_int_equal(off, 0x60);
	assert_int_equal(ims_pci_find_cap(&acc, IMS_PCI_CAP_ID_EXP, &off), -ENOENT);
	assert_int_equal(ims_pci_find_ext_cap(&acc, IMS_PCI_EXT_CAP_ID_PASID, &off), 0);
	assert_int_equal(off, 0x100);
	assert_int_equal(ims_pci_find_ext_cap(&acc, IMS_PCI_EXT_CAP_ID_DVSEC, &off), 0);
	assert_int_equal(off, 0x108);
	assert_int_equal(ims_pci_find_dvsec(&acc, 0x8086, 5, &off), 0);
	assert_int_equal(off, 0x108);
	assert_int_equal(ims_pci_find_dvsec(&acc, 0x8086, 6, &off), -ENOENT);
	assert_int_equal(ims_pci_find_dvsec(&acc, 0x1af4, 5, &off), -ENOENT);
	/* A malformed list is an error, not "not found". */
	space[0x61] = 0x40;
	assert_int_equal(ims_pci_find_cap(&acc, IMS_PCI_CAP_ID_EXP, &off), -EINVAL);
}

/* An accessor whose device stops answering at one offset. */
static uint32_t fail_at;

static int failing_read(void *ctx, uint32_t off, uint32_t size, uint32_t *val)
{
	const uint8_t *p = (const uint8_t *)ctx + off;

	if (off <= fail_at && fail_at < off + size)
		return -EIO;
	*val = 0;
	for (uint32_t i = 0; i < size; i++)
		*val |= (uint32_t)p[i] << (8 * i);
	return 0;
}

static void walk_reports_a_failing_accessor_at_its_offset(void **state)
{
	struct ims_pci_cfg_access acc = { failing_read, NULL, space, 4096 };
	static struct ims_pci_dev_info info;
	struct ims_pci_fault f;

	(void)state;
	build_good();
	fail_at = 0x49;
	assert_int_equal(ims_pci_cap_walk(&acc, NULL, NULL, &f), -EIO);
	assert_int_equal(f.kind, IMS_PCI_FAULT_READ);
	assert_int_equal(f.offset, 0x49);
	assert_non_null(strstr(ims_last_error(), "0x49"));
	fail_at = 0x108;
	assert_int_equal(ims_pci_cap_walk(&acc, NULL, NULL, &f), -EIO);
	assert_int_equal(f.offset, 0x108);
	/* The probe fails as cleanly, whatever it was reading. */
	for (fail_at = 0; fail_at < 0x120; fail_at++)
		assert_true(ims_pci_dev_probe(&acc, &info) <= 0);
	fail_at = 0x10000;
	assert_int_equal(ims_pci_dev_probe(&acc, &info), 0);
}

static void walk_survives_random_spaces(void **state)
{
	struct ims_pci_cfg_access acc;
	struct rec r;
	unsigned int seed = 12345;

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		for (size_t i = 0; i < sizeof(space); i++)
			space[i] = (uint8_t)rand_r(&seed);
		/* Bias toward plausible lists so that the walk goes deep. */
		space[IMS_PCI_STATUS] |= IMS_PCI_STATUS_CAP_LIST;
		space[IMS_PCI_HEADER_TYPE] &= 0x80;
		if (iter & 1) {
			for (uint32_t o = 0x40; o < 0x100; o += 4)
				space[o + 1] = (uint8_t)(space[o + 1] & 0xfc);
			for (uint32_t o = 0x100; o < 0x1000; o += 4)
				space[o + 2] &= 0x0f, space[o + 2] |= (uint8_t)(rand_r(&seed) & 0xc0);
		}
		memset(&r, 0, sizeof(r));
		acc = acc_of((iter % 3) ? 4096 : 256);
		(void)ims_pci_cap_walk(&acc, rec_cb, &r, NULL);
		assert_true(r.n <= IMS_PCI_MAX_CAPS);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(walk_reports_both_lists_in_order),
		cmocka_unit_test(walk_stops_when_asked_and_passes_errors_up),
		cmocka_unit_test(walk_without_cap_list_bit_or_ext_header),
		cmocka_unit_test(walk_fault_pointer_into_header),
		cmocka_unit_test(walk_fault_pointer_beyond_space),
		cmocka_unit_test(walk_fault_misaligned_pointer),
		cmocka_unit_test(walk_fault_loop),
		cmocka_unit_test(walk_fault_truncated_capability),
		cmocka_unit_test(walk_fault_bad_header_type),
		cmocka_unit_test(walk_refuses_bad_access),
		cmocka_unit_test(find_functions),
		cmocka_unit_test(walk_reports_a_failing_accessor_at_its_offset),
		cmocka_unit_test(walk_survives_random_spaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

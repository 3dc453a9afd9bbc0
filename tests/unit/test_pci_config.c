/*
 * Configuration space model: write masks and write-1-to-clear bits, refused
 * accesses that change nothing, capability list construction, BAR sizing by
 * writing all ones, and the MMIO dispatch of BARs to regions with their
 * declared access sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "hw/pci/config.h"

static struct ims_hw_pci_cfg *new_cfg(bool extended)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x8086, .device_id = 0x0b25, .revision = 3,
		.class_code = 0x088000, .rid = 0x0200, .extended = extended,
	};
	struct ims_hw_pci_cfg *cfg;

	assert_int_equal(ims__hw_pci_cfg_create(&p, &cfg), 0);
	return cfg;
}

static uint32_t rd(struct ims_hw_pci_cfg *cfg, uint32_t off, uint32_t size)
{
	uint32_t v;

	assert_int_equal(ims__hw_pci_cfg_read(cfg, off, size, &v), 0);
	return v;
}

static void cfg_header_fields_are_read_only(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);

	(void)state;
	assert_int_equal(rd(cfg, IMS_PCI_VENDOR_ID, 2), 0x8086);
	assert_int_equal(rd(cfg, IMS_PCI_DEVICE_ID, 2), 0x0b25);
	assert_int_equal(rd(cfg, IMS_PCI_REVISION_ID, 4), 0x08800003);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_VENDOR_ID, 4, 0x12345678), 0);
	assert_int_equal(rd(cfg, IMS_PCI_VENDOR_ID, 4), 0x0b258086);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_HEADER_TYPE, 1, 0xff), 0);
	assert_int_equal(rd(cfg, IMS_PCI_HEADER_TYPE, 1), 0);
	/* Interrupt line is scratch for software, interrupt pin is not. */
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_INTERRUPT_LINE, 2, 0xffff), 0);
	assert_int_equal(rd(cfg, IMS_PCI_INTERRUPT_LINE, 1), 0xff);
	assert_int_equal(rd(cfg, IMS_PCI_INTERRUPT_PIN, 1), 0);
	ims__hw_pci_cfg_destroy(cfg);
}

static void cfg_command_write_mask(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);

	(void)state;
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2, 0xffff), 0);
	assert_int_equal(rd(cfg, IMS_PCI_COMMAND, 2),
			 IMS_PCI_COMMAND_IO | IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER |
			 IMS_PCI_COMMAND_PARITY | IMS_PCI_COMMAND_SERR |
			 IMS_PCI_COMMAND_INTX_DISABLE);
	ims__hw_pci_cfg_destroy(cfg);
}

static void cfg_status_error_bits_are_write_one_to_clear(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);
	uint16_t off;

	(void)state;
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_PM, 8, &off), 0);
	/* The device latched two errors; status also shows the cap list. */
	assert_int_equal(ims__hw_pci_cfg_poke(cfg, IMS_PCI_STATUS, 2,
					      0x8000 | 0x2000 | IMS_PCI_STATUS_CAP_LIST), 0);
	/* Writing 0 changes nothing; writing 1 clears only that error bit. */
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_STATUS, 2, 0), 0);
	assert_int_equal(rd(cfg, IMS_PCI_STATUS, 2), 0xa010);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_STATUS, 2, 0x2000 | 0x0010), 0);
	assert_int_equal(rd(cfg, IMS_PCI_STATUS, 2), 0x8010);
	ims__hw_pci_cfg_destroy(cfg);
}

static void cfg_bad_access_is_refused_and_changes_nothing(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);
	uint8_t before[256], after[256];
	uint32_t v = 0xdead;

	(void)state;
	ims__hw_pci_cfg_dump(cfg, before, sizeof(before));
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x3, 2, 0xffff), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "0x3"));
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x4, 3, 0xffff), -EINVAL);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x100, 4, 0xffff), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "0x100"));
	assert_non_null(strstr(ims_last_error(), "outside"));
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0xfe, 4, 0xffffffff), -EINVAL);
	assert_int_equal(ims__hw_pci_cfg_read(cfg, 0x2, 4, &v), -EINVAL);
	assert_int_equal(v, 0xdead);
	ims__hw_pci_cfg_dump(cfg, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	ims__hw_pci_cfg_destroy(cfg);
}

static void cfg_cap_lists_are_linked(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(true);
	uint16_t a, b, c, d, e;

	(void)state;
	assert_int_equal(rd(cfg, IMS_PCI_STATUS, 2) & IMS_PCI_STATUS_CAP_LIST, 0);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_PM, 8, &a), 0);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_MSIX, 12, &b), 0);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_VNDR, 5, &c), 0);
	assert_int_equal(a, 0x40);
	assert_int_equal(b, 0x48);
	assert_int_equal(c, 0x54);
	assert_int_equal(rd(cfg, IMS_PCI_CAP_PTR, 1), 0x40);
	assert_int_equal(rd(cfg, 0x41, 1), 0x48);
	assert_int_equal(rd(cfg, 0x49, 1), 0x54);
	assert_int_equal(rd(cfg, 0x55, 1), 0);
	assert_true(rd(cfg, IMS_PCI_STATUS, 2) & IMS_PCI_STATUS_CAP_LIST);
	/* The pointers are read-only to software. */
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x41, 1, 0x40), 0);
	assert_int_equal(rd(cfg, 0x41, 1), 0x48);

	assert_int_equal(ims__hw_pci_add_ext_cap(cfg, IMS_PCI_EXT_CAP_ID_PASID, 1, 8, &d), 0);
	assert_int_equal(ims__hw_pci_add_dvsec(cfg, 0x8086, 0, 5, 0x18, &e), 0);
	assert_int_equal(d, 0x100);
	assert_int_equal(e, 0x108);
	assert_int_equal(rd(cfg, 0x100, 4), 0x1b | 1u << 16 | 0x108u << 20);
	assert_int_equal(rd(cfg, 0x108, 4), 0x23 | 1u << 16);
	assert_int_equal(rd(cfg, 0x10c, 4), 0x8086 | 0x18u << 20);
	assert_int_equal(rd(cfg, 0x110, 2), 5);
	ims__hw_pci_cfg_destroy(cfg);
}

static void cfg_cap_that_does_not_fit_is_refused(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);
	uint16_t off;

	(void)state;
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_VNDR, 0xb8, &off), 0);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_MSIX, 12, &off), -ENOSPC);
	/* Nothing was linked by the failed add. */
	assert_int_equal(rd(cfg, 0x41, 1), 0);
	assert_int_equal(ims__hw_pci_add_ext_cap(cfg, 0x1b, 1, 8, &off), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "4096"));
	ims__hw_pci_cfg_destroy(cfg);
}

static void bar_sizing_by_writing_all_ones(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);

	(void)state;
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x4000, IMS_HW_PCI_BAR_64BIT |
					     IMS_HW_PCI_BAR_PREFETCH), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 2, 0x1000, 0), 0);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0, 4), 0xc);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0 + 8, 4), 0);

	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0, 4, 0xffffffff), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 4, 4, 0xffffffff), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 8, 4, 0xffffffff), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 12, 4, 0xffffffff), 0);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0, 4), 0xffffc00c);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0 + 4, 4), 0xffffffff);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0 + 8, 4), 0xfffff000);
	/* An unimplemented BAR reads back 0. */
	assert_int_equal(rd(cfg, IMS_PCI_BAR0 + 12, 4), 0);

	/* Addresses stick, aligned to the size. */
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0, 4, 0xfe001234), 0);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0, 4), 0xfe00000c);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 4, 4, 0x1), 0);
	assert_int_equal(rd(cfg, IMS_PCI_BAR0 + 4, 4), 0x1);
	ims__hw_pci_cfg_destroy(cfg);
}

static void bar_add_refuses_bad_sizes_and_overlaps(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);

	(void)state;
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x3000, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 8, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 5, 0x1000, IMS_HW_PCI_BAR_64BIT), -EINVAL);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 6, 0x1000, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 1, 0x1000, IMS_HW_PCI_BAR_64BIT), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 2, 0x1000, 0), -EBUSY);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x1000, IMS_HW_PCI_BAR_64BIT), -EBUSY);
	ims__hw_pci_cfg_destroy(cfg);
}

struct reg_dev {
	uint64_t regs[4];
	unsigned int reads, writes;
};

static int reg_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct reg_dev *d = ctx;

	d->reads++;
	*val = d->regs[off / 8];
	if (size == 4)
		*val = (off % 8) ? *val >> 32 : (uint32_t)*val;
	return 0;
}

static int reg_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct reg_dev *d = ctx;

	d->writes++;
	if (size == 8)
		d->regs[off / 8] = val;
	else if (off % 8)
		d->regs[off / 8] = (d->regs[off / 8] & 0xffffffffu) | val << 32;
	else
		d->regs[off / 8] = (d->regs[off / 8] & ~0xffffffffull) | val;
	return 0;
}

static const struct ims_hw_mmio_ops reg_ops = {
	.name = "regs",
	.read = reg_read,
	.write = reg_write,
	.sizes = IMS_HW_MMIO_SIZE(4) | IMS_HW_MMIO_SIZE(8),
};

static void mmio_dispatch_checks_decode_size_alignment_and_range(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);
	struct reg_dev dev = { { 0 }, 0, 0 };
	struct ims_hw_mmio_region r = { &reg_ops, &dev, sizeof(dev.regs) };
	uint64_t v;

	(void)state;
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x1000, 0), 0);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, 0x100, &r), 0);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, 0x110, &r), -EBUSY);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, 0xff8, &r), -EINVAL);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 1, 0, &r), -EINVAL);

	/* Memory decode off: the access goes nowhere. */
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x100, 4, 1), -EIO);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2, IMS_PCI_COMMAND_MEMORY), 0);

	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x108, 8, 0x1122334455667788ull), 0);
	assert_int_equal(ims__hw_pci_mmio_read(cfg, 0, 0x10c, 4, &v), 0);
	assert_int_equal(v, 0x11223344);
	/* Refused before the region sees them. */
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x100, 2, 1), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "size"));
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x104, 8, 1), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "aligned"));
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 0x11c, 8, 1), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_read(cfg, 0, 0x200, 4, &v), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "no region"));
	assert_int_equal(dev.writes, 1);
	assert_int_equal(dev.reads, 1);

	ims__hw_pci_bar_unmap(cfg, 0, 0x100);
	assert_int_equal(ims__hw_pci_mmio_read(cfg, 0, 0x100, 4, &v), -EINVAL);
	ims__hw_pci_cfg_destroy(cfg);
}

struct hook_rec {
	unsigned int calls;
	uint32_t off, size;
};

static void hook_fn(void *ctx, uint32_t off, uint32_t size)
{
	struct hook_rec *h = ctx;

	h->calls++;
	h->off = off;
	h->size = size;
}

static void cfg_hooks_run_for_writes_that_touch_them(void **state)
{
	struct ims_hw_pci_cfg *cfg = new_cfg(false);
	struct hook_rec h = { 0, 0, 0 };

	(void)state;
	assert_int_equal(ims__hw_pci_cfg_add_hook(cfg, 0x42, 2, hook_fn, &h), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x40, 2, 0), 0);
	assert_int_equal(h.calls, 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x40, 4, 0), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.off, 0x40);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x43, 1, 0), 0);
	assert_int_equal(h.calls, 2);
	ims__hw_pci_cfg_remove_hook(cfg, hook_fn, &h);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, 0x42, 2, 0), 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(ims__hw_pci_cfg_add_hook(cfg, 0xff, 2, hook_fn, &h), -EINVAL);
	ims__hw_pci_cfg_destroy(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cfg_header_fields_are_read_only),
		cmocka_unit_test(cfg_command_write_mask),
		cmocka_unit_test(cfg_status_error_bits_are_write_one_to_clear),
		cmocka_unit_test(cfg_bad_access_is_refused_and_changes_nothing),
		cmocka_unit_test(cfg_cap_lists_are_linked),
		cmocka_unit_test(cfg_cap_that_does_not_fit_is_refused),
		cmocka_unit_test(bar_sizing_by_writing_all_ones),
		cmocka_unit_test(bar_add_refuses_bad_sizes_and_overlaps),
		cmocka_unit_test(mmio_dispatch_checks_decode_size_alignment_and_range),
		cmocka_unit_test(cfg_hooks_run_for_writes_that_touch_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fail-the-Nth-allocation loops over every allocating call of the PCI and
 * IMS storage models: for n = 1, 2, ... the nth allocation fails until the
 * call succeeds. Each failed attempt returns -ENOMEM and leaves the
 * accounted memory (bytes and objects) and the configuration space exactly
 * as they were.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/msi_rec.h"
#include "hw/ims/ims_array.h"
#include "hw/ims/ims_queue.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/siov_dvsec.h"

static struct msi_rec rec;
static struct ims_hw_msi_sink sink;

typedef int (*attempt_fn)(void *ctx);

/*
 * Run fn under fail-Nth until it succeeds; check each failure left memory
 * (and, when cfg is given, the configuration space) unchanged. Returns the
 * number of failed attempts.
 */
static unsigned int fail_nth_loop(attempt_fn fn, void *ctx, struct ims_hw_pci_cfg *cfg)
{
	static uint8_t before[4096], after[4096];
	struct ims_mem_stats m0, m1;
	unsigned int n;

	for (n = 1; n < 100; n++) {
		int err;

		if (cfg)
			ims__hw_pci_cfg_dump(cfg, before, sizeof(before));
		ims_mem_stats(&m0);
		ims_fault_arm_nth(n, NULL);
		err = fn(ctx);
		ims_fault_disarm();
		if (!err)
			return n - 1;
		assert_int_equal(err, -ENOMEM);
		ims_mem_stats(&m1);
		assert_int_equal(m1.bytes, m0.bytes);
		assert_int_equal(m1.objects, m0.objects);
		if (cfg) {
			ims__hw_pci_cfg_dump(cfg, after, sizeof(after));
			assert_memory_equal(before, after, sizeof(before));
		}
	}
	fail_msg("never succeeded");
	return n;
}

static struct ims_hw_pci_cfg *the_cfg;

static int try_cfg(void *ctx)
{
	struct ims_hw_pci_cfg_params p = { .vendor_id = 0x8086, .rid = 0x0100, .extended = true };

	(void)ctx;
	return ims__hw_pci_cfg_create(&p, &the_cfg);
}

static struct ims_hw_msi *the_msi;

static int try_msi(void *ctx)
{
	struct ims_hw_msi_params p = { 8, true, true };

	return ims__hw_msi_create(ctx, &p, &sink, &the_msi);
}

static struct ims_hw_msix *the_msix;

static int try_msix(void *ctx)
{
	struct ims_hw_msix_params p = { 2048, 0, 0x0000, 0, 0x8000 };

	return ims__hw_msix_create(ctx, &p, &sink, &the_msix);
}

static struct ims_hw_ims_array *the_array;

static int try_array(void *ctx)
{
	struct ims_hw_ims_array_params p = { 2048, 0x0100 };

	(void)ctx;
	return ims__hw_ims_array_create(&p, &sink, &the_array);
}

static struct ims_hw_ims_queue *the_queue;

static int try_queue(void *ctx)
{
	struct ims_hw_ims_queue_params p = { 512, 0x0100 };

	(void)ctx;
	return ims__hw_ims_queue_create(&p, &sink, &the_queue);
}

static void every_allocating_call_survives_fail_nth(void **state)
{
	struct ims_mem_stats m0, m1;

	(void)state;
	msi_rec_init(&rec, &sink);
	ims_mem_stats(&m0);
	assert_int_equal(fail_nth_loop(try_cfg, NULL, NULL), 1);
	assert_int_equal(ims__hw_pci_bar_add(the_cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT), 0);
	assert_int_equal(fail_nth_loop(try_msi, the_cfg, the_cfg), 1);
	assert_int_equal(fail_nth_loop(try_msix, the_cfg, the_cfg), 3);
	assert_int_equal(fail_nth_loop(try_array, NULL, NULL), 3);
	assert_int_equal(fail_nth_loop(try_queue, NULL, NULL), 4);

	/* What was built works after all the failed attempts. */
	assert_int_equal(ims__hw_pci_cfg_write(the_cfg, IMS_PCI_COMMAND, 2,
					       IMS_PCI_COMMAND_MEMORY), 0);
	assert_int_equal(ims__hw_pci_mmio_write(the_cfg, 0, 0xc, 4, 0), 0);
	assert_int_equal(ims__hw_pci_cfg_write(the_cfg, ims__hw_msix_offset(the_msix) +
					       IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE), 0);
	assert_int_equal(ims__hw_msix_signal(the_msix, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 1);

	ims__hw_ims_queue_destroy(the_queue);
	ims__hw_ims_array_destroy(the_array);
	ims__hw_msix_destroy(the_msix);
	ims__hw_msi_destroy(the_msi);
	ims__hw_pci_cfg_destroy(the_cfg);
	ims_mem_stats(&m1);
	assert_int_equal(m1.bytes, m0.bytes);
	assert_int_equal(m1.objects, m0.objects);
}

/* A whole device built in one go, unwound by the caller on failure. */
struct device {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msix *msix;
	struct ims_hw_ims_array *arr;
};

static int build_device(void *ctx)
{
	struct ims_hw_pci_cfg_params cp = { .vendor_id = 0x8086, .rid = 0x0200, .extended = true };
	struct ims_hw_msix_params xp = { 9, 0, 0x2000, 0, 0x3000 };
	struct ims_hw_siov_dvsec_params sp = { .ims_supported = true };
	struct ims_hw_ims_array_params ap = { 2048, 0x0200 };
	struct device *d = ctx;
	struct ims_hw_mmio_region r;
	uint16_t off;
	int err;

	err = ims__hw_pci_cfg_create(&cp, &d->cfg);
	if (err)
		return err;
	err = ims__hw_pci_bar_add(d->cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT);
	if (!err)
		err = ims__hw_msix_create(d->cfg, &xp, &sink, &d->msix);
	if (err)
		goto destroy_cfg;
	err = ims__hw_pci_add_siov_dvsec(d->cfg, &sp, &off);
	if (!err)
		err = ims__hw_ims_array_create(&ap, &sink, &d->arr);
	if (err)
		goto destroy_msix;
	ims__hw_ims_array_region(d->arr, &r);
	err = ims__hw_pci_bar_map(d->cfg, 0, 0x8000, &r);
	if (err)
		goto destroy_array;
	return 0;

destroy_array:
	ims__hw_ims_array_destroy(d->arr);
destroy_msix:
	ims__hw_msix_destroy(d->msix);
destroy_cfg:
	ims__hw_pci_cfg_destroy(d->cfg);
	return err;
}

static void whole_device_build_survives_fail_nth(void **state)
{
	struct ims_mem_stats m0, m1;
	struct device d;

	(void)state;
	msi_rec_init(&rec, &sink);
	ims_mem_stats(&m0);
	assert_int_equal(fail_nth_loop(build_device, &d, NULL), 7);
	ims__hw_pci_bar_unmap(d.cfg, 0, 0x8000);
	ims__hw_ims_array_destroy(d.arr);
	ims__hw_msix_destroy(d.msix);
	ims__hw_pci_cfg_destroy(d.cfg);
	ims_mem_stats(&m1);
	assert_int_equal(m1.bytes, m0.bytes);
	assert_int_equal(m1.objects, m0.objects);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_allocating_call_survives_fail_nth),
		cmocka_unit_test(whole_device_build_survives_fail_nth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

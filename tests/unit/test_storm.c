/*
 * Interrupt storms on the whole x86 machine (accelerator, IMS, remapping,
 * local APICs, vector dispatch, the interrupt core). A stuck device keeps
 * raising one ADI vector with no completion behind it, so the driver's
 * handler returns NONE every time: after one storm window the core
 * disables that irq (its IMS slot masked, so further raises are latched in
 * the slot and cost the CPUs nothing) and reports it once, while the other
 * vector of the same ADI and another ADI keep completing work. A handled
 * flood (every interrupt carries a completion) is not a storm: the core
 * does not throttle it, and every completion arrives.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "hw/ims/ims_array.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"

#define WINDOW 1000
#define UNHANDLED 990
#define PASID_S 0x51
#define PASID_W 0x52

static struct accel_machine M;
static struct ims_accel_adi *stormer, *worker;
static uint64_t done_s, done_w;

static void on_complete(struct ims_accel_adi *adi, void *ctx, unsigned int vec, uint32_t ticket,
			uint32_t status, uint64_t result)
{
	(void)adi;
	(void)vec;
	(void)ticket;
	(void)status;
	(void)result;
	(*(uint64_t *)ctx)++;
}

static int setup(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = 4, .storm_window = WINDOW,
					  .storm_unhandled = UNHANDLED };
	struct ims_hw_accel_params p = {
		.nr_wqs = 4, .wq_depth = 16, .nr_ims = 32, .nr_msix = 9, .dvsec_ims = true,
	};
	struct ims_accel_adi_info is = { .pasid = PASID_S, .nvec = 2, .complete = on_complete, .ctx = &done_s };
	struct ims_accel_adi_info iw = { .pasid = PASID_W, .nvec = 1, .complete = on_complete, .ctx = &done_w };

	(void)state;
	done_s = done_w = 0;
	assert_int_equal(am_create_core(&M, &cc, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &is, &stormer), 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &iw, &worker), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims_accel_adi_destroy(stormer), 0);
	assert_int_equal(ims_accel_adi_destroy(worker), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

/* Submit one piece of work on adi's vector and run the machine until it is done. */
static void work(struct ims_accel_adi *adi, unsigned int vec)
{
	uint32_t ticket;

	assert_int_equal(ims_accel_submit(adi, vec, IMS_ACCEL_OP_NOOP, 0, &ticket), 0);
	am_run(&M);
}

/* The stuck device: raise the stormer's vector 0 with nothing to complete. */
static void stuck_raise(void)
{
	assert_int_equal(ims__hw_ims_array_signal(ims__hw_accel_ims(M.hw),
						  ims_accel_adi_handle(stormer, 0), true, PASID_S), 0);
	am_run(&M);
}

static struct ims_irq_info info_of(struct ims_accel_adi *adi, unsigned int vec)
{
	struct ims_irq_info info;

	assert_int_equal(ims_irq_get_info(M.core, (unsigned int)ims_accel_adi_irq(adi, vec), &info), 0);
	return info;
}

static void stuck_vector_is_disabled_and_reported_the_rest_keep_working(void **state)
{
	uint64_t warns = ims_warn_count(), empty, raised = 0;
	struct ims_irq_info si;

	(void)state;
	/* The storm, with the worker and the stormer's other vector busy throughout. */
	for (unsigned int i = 0; i < WINDOW; i++) {
		stuck_raise();
		raised++;
		if (i % 10 == 0) {
			work(worker, 0);
			work(stormer, 1);
		}
	}
	si = info_of(stormer, 0);
	assert_true(si.storm_disabled && si.disabled && si.masked);
	assert_int_equal(ims_warn_count(), warns + 1);
	empty = ims_accel_adi_empty_irqs(stormer);
	assert_true(empty >= UNHANDLED);
	assert_int_equal(done_w, WINDOW / 10);
	assert_int_equal(done_s, WINDOW / 10);

	/* The device keeps raising: latched in the masked slot, never dispatched. */
	for (unsigned int i = 0; i < 10 * WINDOW; i++) {
		stuck_raise();
		raised++;
	}
	assert_true(ims__hw_ims_array_pending(ims__hw_accel_ims(M.hw), ims_accel_adi_handle(stormer, 0)));
	assert_int_equal(ims_accel_adi_empty_irqs(stormer), empty);
	assert_int_equal(info_of(stormer, 0).count, si.count);
	assert_int_equal(ims_warn_count(), warns + 1);	/* reported once */

	/* The rest keep working, undisturbed. */
	for (unsigned int i = 0; i < 100; i++) {
		work(worker, 0);
		work(stormer, 1);
	}
	assert_int_equal(done_w, WINDOW / 10 + 100);
	assert_int_equal(done_s, WINDOW / 10 + 100);
	assert_false(info_of(worker, 0).disabled);
	assert_false(info_of(stormer, 1).disabled);
	print_message("storm: %llu raises of a stuck vector, %llu reached its handler, disabled after "
		      "one window of %u; %llu completions elsewhere meanwhile\n", (unsigned long long)raised,
		      (unsigned long long)empty, WINDOW, (unsigned long long)(done_w + done_s));
}

static void handled_flood_is_not_throttled(void **state)
{
	uint64_t warns = ims_warn_count();
	struct ims_irq_info wi;

	(void)state;
	/* Three storm windows of interrupts, each with a completion behind it. */
	for (unsigned int i = 0; i < 3 * WINDOW; i++)
		work(worker, 0);
	wi = info_of(worker, 0);
	assert_false(wi.storm_disabled || wi.disabled);
	assert_int_equal(done_w, 3 * WINDOW);
	assert_int_equal(ims_accel_adi_empty_irqs(worker), 0);
	assert_int_equal(ims_warn_count(), warns);
	print_message("handled flood: %u interrupts, all handled, none throttled\n", 3 * WINDOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stuck_vector_is_disabled_and_reported_the_rest_keep_working,
						setup, teardown),
		cmocka_unit_test_setup_teardown(handled_flood_is_not_throttled, setup, teardown),
	};

	return cmocka_run_group_tests_name("storm", tests, NULL, NULL);
}

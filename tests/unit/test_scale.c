/*
 * The machine of the scale benchmarks (bench/scale.c), small: 16 remapping
 * units with devices behind each, vCPUs in guests of 16, ADIs allocated as
 * groups and every vector posted. Every count is checked against a
 * recount (remapping units, vector domain, device domains, interrupt
 * core), every vector is raised once and must land as one guest vector of
 * one vCPU that no other vector uses, with no host vector involved; and
 * an ADI that fails in the middle (out of guest vectors, or any
 * allocation failing) leaves nothing behind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/bench.h"
#include "helpers/fail_nth.h"

/* Recount everything against what the machine says it posted. */
static void check_counts(struct ims__scale_machine *m)
{
	struct ims_x86_vector_stats vs;
	uint64_t per_unit[IMS_SCALE_MAX_UNITS] = { 0 }, total = 0;

	for (uint32_t d = 0; d < m->nr_devs; d++) {
		uint32_t n = ims_msi_nr_allocated(ims__scale_device(m, d), IMS_MSI_SECONDARY_DOMAIN);

		per_unit[d % m->p.ir_units] += n;
		total += n;
	}
	assert_int_equal(total, m->posted);
	for (uint32_t u = 0; u < m->p.ir_units; u++) {
		struct ims_remap_stats st;

		assert_int_equal(ims_remap_check(m->remaps[u]), 0);
		ims_remap_get_stats(m->remaps[u], &st);
		assert_int_equal(st.allocated, per_unit[u]);
		assert_int_equal(st.posted, per_unit[u]);
	}
	assert_int_equal(ims_x86_vector_check(m->vd), 0);
	ims_x86_vector_get_stats(m->vd, &vs);
	assert_int_equal(vs.allocated, 0);	/* posted: no host vector held */
	assert_int_equal(ims_irq_core_nr_irqs(m->core), m->posted);
}

static void scale_posts_across_16_units_and_recounts(void **state)
{
	const struct ims__scale_params p = { .ir_units = 16, .devices_per_unit = 2, .slots = 64,
					     .host_cpus = 2, .vcpus = 32, .adi_vectors = 8 };
	struct ims__scale_machine *m;
	uint8_t *seen;
	uint64_t pir[4];

	(void)state;
	assert_int_equal(ims__scale_machine_create(&p, &m), 0);
	assert_int_equal(m->nr_devs, 32);
	assert_int_equal(ims__scale_post(m, 1000), 0);
	assert_int_equal(m->posted, 1000);
	check_counts(m);
	assert_int_equal(ims__scale_post(m, 2048), 0);
	assert_int_equal(m->posted, 2048);
	check_counts(m);
	/* Every slot of every device is taken: one more ADI has no room. */
	assert_int_equal(ims__scale_post(m, 2049), -ENOSPC);
	assert_non_null(strstr(ims_last_error(), "2049 vectors"));
	check_counts(m);

	/* Each vector lands as its own guest vector of one vCPU. */
	seen = calloc((size_t)p.vcpus * 256, 1);
	assert_non_null(seen);
	for (uint32_t d = 0; d < m->nr_devs; d++)
		for (uint32_t s = 0; s < p.slots; s++) {
			uint32_t hits = 0;

			assert_int_equal(ims__scale_fire(m, d, s), 0);
			for (uint32_t v = 0; v < p.vcpus; v++) {
				if (!ims_pid_take(ims__scale_pid(m, v), pir))
					continue;
				for (uint32_t gv = 0; gv < 256; gv++) {
					if (!(pir[gv / 64] >> (gv % 64) & 1))
						continue;
					assert_true(gv >= 0x20);
					assert_int_equal(seen[v * 256 + gv], 0);
					seen[v * 256 + gv] = 1;
					hits++;
				}
			}
			assert_int_equal(hits, 1);
		}
	assert_int_equal(m->host_irqs, 0);
	free(seen);
	ims__scale_machine_destroy(m);
}

/* Out of guest vectors in the middle of an ADI: the whole ADI goes back. */
static void scale_out_of_guest_vectors_takes_back_the_adi(void **state)
{
	/* One guest of 16 vCPUs: 16 x 224 guest vectors, ADIs of 24. */
	const struct ims__scale_params p = { .ir_units = 1, .devices_per_unit = 1, .slots = 3600,
					     .host_cpus = 1, .vcpus = 16, .adi_vectors = 24 };
	struct ims__scale_machine *m;

	(void)state;
	assert_int_equal(ims__scale_machine_create(&p, &m), 0);
	assert_int_equal(ims__scale_post(m, 3600), -ENOSPC);
	assert_non_null(strstr(ims_last_error(), "no free guest vector"));
	assert_int_equal(m->posted, 3576);	/* 149 whole ADIs; the 150th fit 8 of 24 */
	check_counts(m);
	ims__scale_machine_destroy(m);
}

static void scale_teardown_frees_everything(void **state)
{
	const struct ims__scale_params p = { .ir_units = 16, .devices_per_unit = 1, .slots = 32,
					     .host_cpus = 2, .vcpus = 16, .adi_vectors = 4 };
	struct ims__scale_machine *m;
	struct ims_mem_stats a, b;

	(void)state;
	ims_mem_stats(&a);
	assert_int_equal(ims__scale_machine_create(&p, &m), 0);
	assert_int_equal(ims__scale_post(m, 512), 0);
	ims__scale_machine_destroy(m);
	ims_mem_stats(&b);
	assert_int_equal(b.bytes, a.bytes);
	assert_int_equal(b.objects, a.objects);
}

/* ---- one ADI, with each allocation in turn failing ---- */

static const struct ims__scale_params small = { .ir_units = 2, .devices_per_unit = 1, .slots = 32,
						.host_cpus = 1, .vcpus = 16, .adi_vectors = 8 };

static int one_adi(void *ctx)
{
	return ims__scale_post(*(struct ims__scale_machine **)ctx, small.adi_vectors);
}

static void fresh_machine(void *ctx)
{
	struct ims__scale_machine **m = ctx;

	ims__scale_machine_destroy(*m);
	assert_int_equal(ims__scale_machine_create(&small, m), 0);
}

/* Nothing of a failed ADI is left anywhere. */
static int nothing_posted(void *ctx)
{
	struct ims__scale_machine *m = *(struct ims__scale_machine **)ctx;

	if (m->posted || ims_irq_core_nr_irqs(m->core))
		return -1;
	for (uint32_t v = 0; v < small.vcpus; v++)
		if (m->next_gvec[v] != 0x20)
			return -1;
	for (uint32_t d = 0; d < m->nr_devs; d++) {
		struct ims_remap_stats st;

		if (ims_msi_nr_allocated(ims__scale_device(m, d), IMS_MSI_SECONDARY_DOMAIN))
			return -1;
		ims_remap_get_stats(ims__scale_device_remap(m, d), &st);
		if (st.allocated || st.posted || ims_remap_check(ims__scale_device_remap(m, d)))
			return -1;
	}
	return ims_x86_vector_check(m->vd) ? -1 : 0;
}

static void scale_adi_is_all_or_nothing_under_faults(void **state)
{
	const struct fail_nth_ops ops = { .op = one_adi, .undo = fresh_machine, .check = nothing_posted };
	struct ims__scale_machine *m = NULL;
	struct fail_nth_result r;

	(void)state;
	fresh_machine(&m);
	r = fail_nth_run(&ops, &m);
	assert_true(r.failures > 0);
	assert_true(r.points >= small.adi_vectors);	/* every vector allocates */
	ims__scale_machine_destroy(m);
}

static void expect_refused(const struct ims__scale_params *p, const char *what)
{
	struct ims__scale_machine *m = NULL;

	assert_int_equal(ims__scale_machine_create(p, &m), -EINVAL);
	assert_null(m);
	assert_non_null(strstr(ims_last_error(), what));
}

static void scale_bad_params_are_refused(void **state)
{
	const struct ims__scale_params ok = { .ir_units = 2, .devices_per_unit = 1, .slots = 16,
					      .host_cpus = 1, .vcpus = 16, .adi_vectors = 4 };
	struct ims__scale_params p;

	(void)state;
	p = ok, p.ir_units = 0;
	expect_refused(&p, "remapping units");
	p = ok, p.ir_units = IMS_SCALE_MAX_UNITS + 1;
	expect_refused(&p, "remapping units");
	p = ok, p.slots = 16129;
	expect_refused(&p, "IMS slots");
	p = ok, p.devices_per_unit = 5, p.slots = 16000;
	expect_refused(&p, "remapping entries");
	p = ok, p.vcpus = 20;
	expect_refused(&p, "vCPUs");
	p = ok, p.adi_vectors = 3;
	expect_refused(&p, "do not divide");
	p = ok, p.adi_vectors = IMS_SCALE_MAX_ADI_VECTORS + 1;
	expect_refused(&p, "ADIs of");
	p = ok, p.ir_units = 64, p.devices_per_unit = 97;
	expect_refused(&p, "devices per unit");
	p = ok, p.host_cpus = 0;
	expect_refused(&p, "host CPUs");
	assert_int_equal(ims__scale_machine_create(NULL, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scale_posts_across_16_units_and_recounts),
		cmocka_unit_test(scale_out_of_guest_vectors_takes_back_the_adi),
		cmocka_unit_test(scale_teardown_frees_everything),
		cmocka_unit_test(scale_adi_is_all_or_nothing_under_faults),
		cmocka_unit_test(scale_bad_params_are_refused),
	};

	return cmocka_run_group_tests_name("scale", tests, NULL, NULL);
}

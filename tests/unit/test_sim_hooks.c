/*
 * The simulation's checker against two more deliberate bugs below the
 * device: a remapping driver that never invalidates the unit's entry cache,
 * and a vector domain that frees a host vector while the local APIC still
 * holds an interrupt for it (so the vector is reused early). Each must be
 * caught, at a step, with the seed, and shrunk to a short trace; the same
 * seeds run clean without the bug.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend/sim/sim_internal.h"

static void config(struct ims_sim_config *cfg, uint64_t seed)
{
	ims_sim_config_default(cfg);
	cfg->seed = seed;
	cfg->steps = 20000;
	cfg->quiet = true;
	cfg->shrink = true;
}

/* Run seeds until one catches the bug; every catch is checked whole. */
static void caught(enum sim_bug bug, const char *what)
{
	unsigned int seeds_caught = 0;

	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct ims_sim_config cfg;
		struct ims_sim_result res, clean;

		config(&cfg, seed);
		assert_int_equal(ims__sim_run_bug(&cfg, SIM_BUG_NONE, NULL, &clean), 0);
		assert_int_equal(clean.invariant_violations, 0);
		ims_sim_result_free(&clean);
		assert_int_equal(ims__sim_run_bug(&cfg, bug, NULL, &res), 0);
		if (res.invariant_violations) {
			assert_true(res.violation != IMS_SIM_OK);
			assert_int_equal(res.seed, seed);
			assert_true(res.violation_step < cfg.steps);
			assert_non_null(strstr(res.violation_msg, "step "));
			assert_non_null(res.min_trace);
			assert_true(res.min_trace_ops >= 1 && res.min_trace_ops <= res.violation_step + 1);
			print_message("%s: seed %llu: %s at step %llu, shrunk to %llu operations\n", what,
				      (unsigned long long)seed, ims_sim_violation_name(res.violation),
				      (unsigned long long)res.violation_step,
				      (unsigned long long)res.min_trace_ops);
			seeds_caught++;
		}
		ims_sim_result_free(&res);
	}
	if (!seeds_caught)
		fail_msg("%s: not caught at any of 4 seeds", what);
}

static void checker_catches_a_skipped_invalidation(void **state)
{
	(void)state;
	caught(SIM_BUG_SKIP_INVALIDATION, "skipped invalidation");
}

static void checker_catches_a_host_vector_reused_early(void **state)
{
	(void)state;
	caught(SIM_BUG_VECTOR_REUSE, "host vector reused early");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checker_catches_a_skipped_invalidation),
		cmocka_unit_test(checker_catches_a_host_vector_reused_early),
	};

	return cmocka_run_group_tests_name("sim_hooks", tests, NULL, NULL);
}

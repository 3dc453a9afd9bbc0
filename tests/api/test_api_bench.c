/*
 * The benchmarks through the public header and the shared library: each
 * reports a positive median with its unit and, where it has one, its
 * baseline and ratio, or is skipped with the reason where the machine
 * cannot run it (KVM); bad arguments are refused. No figure is asserted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

static unsigned int seen, skipped;

static void check_result(const struct ims_bench_result *r, void *ctx)
{
	(void)ctx;
	assert_non_null(r->name);
	assert_non_null(r->what);
	if (r->skipped) {
		/* Only where the machine cannot run it, saying why. */
		assert_true(r->skipped[0] != '\0');
		skipped++;
		seen++;
		return;
	}
	assert_non_null(r->unit);
	assert_true(r->median > 0);
	assert_true(r->runs >= 1);
	if (r->baseline) {
		assert_true(r->baseline_median > 0);
		assert_true(r->ratio > 0);
	}
	if (r->target_ratio > 0) {
		assert_non_null(r->baseline);
		assert_true(r->lower_is_better);
	}
	seen++;
}

static void check_kvm_result(const struct ims_bench_result *r, void *ctx)
{
	check_result(r, ctx);
	assert_true(!strcmp(r->name, "kvm_overhead") || !strcmp(r->name, "kvm_signal"));
	if (r->skipped)
		return;
	assert_non_null(strstr(r->baseline, "KVM_SIGNAL_MSI"));
	assert_true(r->target_ratio > 1.0);
	assert_true(r->target == 0);
}

static void benchmarks_report_medians_and_ratios(void **state)
{
	(void)state;
	seen = 0;
	assert_int_equal(ims_bench_run("matrix", 1, check_result, NULL), 0);
	assert_int_equal(seen, 1);
	/* Allocation only, then started and posted too. */
	assert_int_equal(ims_bench_run("memory", 1, check_result, NULL), 0);
	assert_int_equal(seen, 3);
	assert_int_equal(ims_bench_run("no such benchmark", 1, check_result, NULL), 0);
	assert_int_equal(seen, 3);
	/* A result's own name runs the benchmark that reports it (with its other result). */
	assert_int_equal(ims_bench_run("posted_1m_rate", 1, check_result, NULL), 0);
	assert_int_equal(seen, 5);
	/* Needs no KVM: it always runs, against its baseline, with no target. */
	skipped = 0;
	assert_int_equal(ims_bench_run("syscall_frames", 1, check_result, NULL), 0);
	assert_int_equal(seen, 6);
	assert_int_equal(skipped, 0);
}

/*
 * The KVM benchmarks either run, each with its bare KVM_SIGNAL_MSI
 * baseline and its target on the ratio, or, where /dev/kvm does not work,
 * are skipped with the reason: never a failure.
 */
static void kvm_benchmarks_run_or_say_why_not(void **state)
{
	(void)state;
	seen = 0;
	skipped = 0;
	assert_int_equal(ims_bench_run("kvm", 1, check_kvm_result, NULL), 0);
	assert_int_equal(seen, 2);
	assert_true(skipped == 0 || skipped == 2);
}

static void bad_arguments_are_refused(void **state)
{
	(void)state;
	assert_int_equal(ims_bench_run(NULL, 1, NULL, NULL), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "callback"));
	assert_int_equal(ims_bench_run(NULL, 65, check_result, NULL), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "runs"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(benchmarks_report_medians_and_ratios),
		cmocka_unit_test(kvm_benchmarks_run_or_say_why_not),
		cmocka_unit_test(bad_arguments_are_refused),
	};

	return cmocka_run_group_tests_name("api_bench", tests, NULL, NULL);
}

/*
 * The simulation through the public header and the shared library: the
 * default configuration, a short run with its result, the table and the
 * series, the printed table, a refused configuration, and the demo; the
 * same run and demo on every platform and device, as imsctl's --arch and
 * --device set them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

struct trace_count {
	uint64_t lines, last_step, progress;
};

static void on_trace(void *ctx, uint64_t step, const char *line)
{
	struct trace_count *t = ctx;

	assert_true(strlen(line) > 0);
	t->lines++;
	t->last_step = step;
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct trace_count *t = ctx;

	assert_true(done <= total);
	t->progress++;
}

static void default_run_through_the_public_api(void **state)
{
	struct ims_sim_config cfg;
	struct trace_count t = { 0, 0, 0 };
	struct ims_sim_callbacks cb = { on_trace, on_progress, &t };
	struct ims_sim_result res;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	ims_sim_config_default(&cfg);
	assert_int_equal(cfg.cpus, 4);
	assert_int_equal(cfg.ir_units, 2);
	assert_int_equal(cfg.devices, 1);
	assert_int_equal(cfg.ims_slots, 2048);
	assert_int_equal(cfg.guests, 2);
	cfg.steps = 3000;
	cfg.seed = 3;
	assert_int_equal(ims_sim_run(&cfg, &cb, &res), 0);
	assert_int_equal(res.violation, IMS_SIM_OK);
	assert_int_equal(t.lines, 3000);
	assert_int_equal(t.last_step, 2999);
	assert_true(t.progress >= 90 && t.progress <= 100);
	assert_int_equal(res.seed, 3);
	assert_int_equal(res.steps, 3000);
	assert_true(res.fired > 0 && res.delivered > 0);
	assert_int_equal(res.cpus, 4);
	assert_true(res.nr_rows > 0);
	assert_int_equal(res.vectors_per_cpu.n, 4);
	assert_int_equal(res.irtes_per_unit.n, 2);
	assert_int_equal(res.irqs_per_adi.n, cfg.adis);
	assert_int_equal(res.vectors_per_cpu.points, IMS_SIM_SERIES_BUCKETS);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ims_sim_print_interrupts(&res, f);
	fclose(f);
	assert_non_null(strstr(buf, "CPU3"));
	assert_non_null(strstr(buf, "IMS-simdev"));
	assert_non_null(strstr(buf, "PCI-MSIX"));
	free(buf);
	ims_sim_result_free(&res);
	ims_sim_result_free(&res);	/* a freed result frees nothing twice */
}

static void refused_configuration_says_why(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;

	(void)state;
	ims_sim_config_default(&cfg);
	cfg.storage = IMS_SIM_STORAGE_QUEUE;
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), -EOPNOTSUPP);
	assert_non_null(strstr(ims_last_error(), "queue"));
	assert_string_equal(ims_sim_violation_name(IMS_SIM_LOST), "lost");
	assert_string_equal(ims_sim_violation_name(IMS_SIM_CROSS_GUEST), "cross-guest");
}

static void demo_through_the_public_api(void **state)
{
	struct ims_sim_result res;

	(void)state;
	assert_int_equal(ims_sim_demo(NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.invariant_violations, 0);
	assert_true(res.nr_rows > 0);
	ims_sim_result_free(&res);
}

/* What imsctl passes for --arch and --device, straight into the config. */
static void every_arch_and_device_through_the_public_api(void **state)
{
	(void)state;
	for (int arch = IMS_SIM_ARCH_X86; arch <= IMS_SIM_ARCH_ARM; arch++)
		for (int dev = IMS_SIM_DEVICE_SIMPLE; dev <= IMS_SIM_DEVICE_ACCEL; dev++) {
			struct ims_sim_config cfg;
			struct ims_sim_result res;

			ims_sim_config_default(&cfg);
			cfg.arch = (enum ims_sim_arch)arch;
			cfg.device = (enum ims_sim_device)dev;
			cfg.steps = 2000;
			assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
			assert_int_equal(res.invariant_violations, 0);
			assert_true(res.fired > 0 && res.delivered > 0);
			ims_sim_result_free(&res);
			assert_int_equal(ims_sim_demo(&cfg, NULL, NULL, &res), 0);
			assert_int_equal(res.invariant_violations, 0);
			assert_true(res.nr_rows > 0);
			ims_sim_result_free(&res);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_run_through_the_public_api),
		cmocka_unit_test(refused_configuration_says_why),
		cmocka_unit_test(demo_through_the_public_api),
		cmocka_unit_test(every_arch_and_device_through_the_public_api),
	};

	return cmocka_run_group_tests_name("api_sim", tests, NULL, NULL);
}

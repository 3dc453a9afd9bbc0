/*
 * imsctl bench: run the benchmarks of ims/bench.h and print each figure as
 * a median over repeated runs, with its baseline, ratio and target, or
 * the reason a benchmark was skipped on this machine (exit status 0). The
 * figures are measurements on a shared, noisy machine: compare ratios.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "imsctl.h"

struct bench_out {
	bool json;
	json_t *arr;
};

static bool median_met(const struct ims_bench_result *r)
{
	return r->lower_is_better ? r->median <= r->target : r->median >= r->target;
}

static bool ratio_met(const struct ims_bench_result *r)
{
	return r->lower_is_better ? r->ratio <= r->target_ratio : r->ratio >= r->target_ratio;
}

static void on_result(const struct ims_bench_result *r, void *ctx)
{
	struct bench_out *o = ctx;

	if (o->json) {
		json_t *j = json_object();

		json_object_set_new(j, "name", json_string(r->name));
		json_object_set_new(j, "what", json_string(r->what));
		if (r->skipped) {
			json_object_set_new(j, "skipped", json_string(r->skipped));
			json_array_append_new(o->arr, j);
			return;
		}
		json_object_set_new(j, "unit", json_string(r->unit));
		json_object_set_new(j, "median", json_real(r->median));
		json_object_set_new(j, "runs", json_integer(r->runs));
		if (r->baseline) {
			json_object_set_new(j, "baseline", json_string(r->baseline));
			json_object_set_new(j, "baseline_median", json_real(r->baseline_median));
			json_object_set_new(j, "ratio", json_real(r->ratio));
		}
		if (r->target > 0)
			json_object_set_new(j, "target", json_real(r->target));
		if (r->target_ratio > 0)
			json_object_set_new(j, "target_ratio", json_real(r->target_ratio));
		/* Met only if every target given is. */
		if (r->target > 0 || r->target_ratio > 0)
			json_object_set_new(j, "meets_target",
					    json_boolean((r->target <= 0 || median_met(r)) &&
							 (r->target_ratio <= 0 || ratio_met(r))));
		json_array_append_new(o->arr, j);
		return;
	}
	if (r->skipped) {
		printf("%-24s skipped: %s\n    %s\n", r->name, r->skipped, r->what);
		fflush(stdout);
		return;
	}
	printf("%-24s %10.1f %-5s", r->name, r->median, r->unit);
	if (r->baseline)
		printf("  ratio %5.2f vs %s (%.1f %s)", r->ratio, r->baseline, r->baseline_median, r->unit);
	if (r->target > 0)
		printf("  target %s %.1f: %s", r->lower_is_better ? "<=" : ">=", r->target,
		       median_met(r) ? "met" : "not met");
	if (r->target_ratio > 0)
		printf("  target ratio %s %.2f: %s", r->lower_is_better ? "<=" : ">=", r->target_ratio,
		       ratio_met(r) ? "met" : "not met");
	printf("\n    %s (median of %u)\n", r->what, r->runs);
	fflush(stdout);
}

int imsctl_cmd_bench(int argc, char **argv)
{
	struct bench_out o = { 0 };
	const char *filter = NULL;
	unsigned long runs = 5;
	int ret;

	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl bench [--json] [--runs N] [--only NAME]\n\n"
		       "Run the benchmarks: allocation and free of an IMS vector through the whole\n"
		       "hierarchy (with 1,000 and 1,000,000 vectors held), memory per IMS vector,\n"
		       "one interrupt on the data path against a pointer-chasing baseline (and\n"
		       "through the whole simulated machine), the data path on two threads against\n"
		       "one, the vector matrix at 4,096 CPUs against 4, 1,000,000 IMS vectors\n"
		       "posted across 16 remapping units to 4,608 vCPUs, an interrupt through the\n"
		       "KVM backend against a bare KVM_SIGNAL_MSI loop (skipped, saying why, where\n"
		       "KVM does not work), and a system call made 8 frames deep against one made\n"
		       "at the top. Each figure is the median of N runs (default 5,\n"
		       "at most 64); --only runs the benchmarks whose name, or one of whose\n"
		       "results' names, contains NAME. docs/performance.md explains each figure.\n");
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--runs") || !strcmp(argv[i], "--only")) {
			char *end;

			if (i + 1 >= argc)
				return imsctl_usage_error("bench", "%s needs a value", argv[i]);
			if (!strcmp(argv[i], "--only")) {
				filter = argv[++i];
				continue;
			}
			runs = strtoul(argv[++i], &end, 10);
			if (!*argv[i] || *end || runs < 1 || runs > 64)
				return imsctl_usage_error("bench", "--runs '%s' is not a number in 1..64",
							  argv[i]);
		} else {
			return imsctl_usage_error("bench", "unknown option '%s' (see imsctl bench --help)",
						  argv[i]);
		}
	}
	if (o.json)
		o.arr = json_array();
	ret = ims_bench_run(filter, (uint32_t)runs, on_result, &o);
	if (ret) {
		json_decref(o.arr);

		const char *msg = ims_last_error();

		if (!strncmp(msg, "bench: ", 7))
			msg += 7;
		return imsctl_fail("bench", "%s", msg);
	}
	if (o.json) {
		char *s = json_dumps(o.arr, JSON_INDENT(2));

		printf("%s\n", s);
		free(s);
		json_decref(o.arr);
	}
	return IMSCTL_OK;
}

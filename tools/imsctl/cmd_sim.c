/*
 * imsctl sim: run the simulated machine (ims_sim_run) with one option per
 * dimension, and print what it counted: readable, or one JSON object.
 * A run that breaks an invariant exits 1 with the seed, the step and a
 * short trace that reproduces it.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "imsctl.h"

static void sim_usage(FILE *f)
{
	fprintf(f, "usage: imsctl sim [OPTIONS]\n\n"
		   "Build a simulated machine, run a seeded mix of control operations and\n"
		   "interrupts on it, check every invariant, and print what was counted.\n\n"
		   "options:\n");
	imsctl_simopts_help(f, IMSCTL_SIMOPT_SIM);
	fprintf(f, "  %-26s %s\n", "--json", "print one JSON object");
	fprintf(f, "  %-26s %s\n", "--no-timing", "leave out the wall time (for reproducible output)");
	fprintf(f, "\nWithout options: the demo's machine, 10000 steps, seed 1.\n"
		   "Exit: 0 clean run, 1 an invariant was violated or the run failed, 2 bad input.\n");
}

/*
 * A progress bar on a terminal only: redrawn in place on stderr, erased
 * at the end, so that nothing is left in the output.
 */
static void progress(void *ctx, uint64_t done, uint64_t total)
{
	const int width = 40;
	int fill = total ? (int)(done * (uint64_t)width / total) : width;
	char bar[64];

	(void)ctx;
	memset(bar, '=', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(width - fill));
	bar[width] = 0;
	fprintf(stderr, "\r[%s] %3d%% %" PRIu64 "/%" PRIu64, bar,
		total ? (int)(done * 100 / total) : 100, done, total);
	fflush(stderr);
}

static void progress_erase(void)
{
	fprintf(stderr, "\r%*s\r", 72, "");
	fflush(stderr);
}

int imsctl_sim_run_cli(const char *cmd, const struct ims_sim_config *cfg, struct ims_sim_result *res)
{
	struct ims_sim_callbacks cb = { 0 };
	bool bar = isatty(STDERR_FILENO);
	int ret;

	if (bar)
		cb.progress = progress;
	ret = ims_sim_run(cfg, &cb, res);
	if (bar)
		progress_erase();
	if (ret == -ENODEV && cfg->backend == IMS_SIM_BACKEND_KVM)
		return imsctl_fail(cmd, "KVM is not available (%s); use --backend sim", ims_last_error());
	if (ret)
		return imsctl_fail(cmd, "the run failed: %s", ims_last_error());
	return IMSCTL_OK;
}

void imsctl_sim_print_violation(const struct ims_sim_result *r)
{
	if (r->violation == IMS_SIM_OK)
		return;
	fprintf(stderr, "invariant violated (%s): seed %" PRIu64 ", step %" PRIu64 "\n  %s\n",
		ims_sim_violation_name(r->violation), r->seed, r->violation_step, r->violation_msg);
	if (r->min_trace)
		fprintf(stderr, "a trace of %" PRIu64 " operations that reproduces it:\n%s", r->min_trace_ops,
			r->min_trace);
}

static void print_text(const struct ims_sim_config *c, const struct ims_sim_result *r, bool timing)
{
	static const char *const backends[] = { "sim", "kvm" };

	printf("machine: %u CPUs, %u remapping units, %u device(s) x %u ADIs x %u vectors, %u guests x %u vCPUs, backend %s%s\n",
	       c->cpus, c->ir_units, c->devices, c->adis, c->vectors_per_adi, c->guests, c->guests ? c->vcpus : 0,
	       backends[c->backend & 1], c->threads ? ", threaded" : "");
	printf("run:     seed %" PRIu64 ", %" PRIu64 " steps, trace hash 0x%016" PRIx64 "\n", r->seed, r->steps,
	       r->trace_hash);
	printf("\n");
	printf("%-28s %" PRIu64 "\n", "fired", r->fired);
	printf("%-28s %" PRIu64 " (by guests %" PRIu64 ")\n", "delivered", r->delivered, r->delivered_guest);
	printf("%-28s %" PRIu64 "\n", "coalesced", r->coalesced);
	printf("%-28s %" PRIu64 "\n", "pending", r->pending);
	printf("%-28s %" PRIu64 "\n", "lost", r->lost);
	printf("%-28s %" PRIu64 "\n", "misdelivered", r->misdelivered);
	printf("%-28s %" PRIu64 "\n", "after free", r->after_free);
	printf("%-28s %" PRIu64 "\n", "cross guest", r->cross_guest);
	printf("%-28s %" PRIu64 "\n", "remapping faults", r->faults);
	printf("%-28s %" PRIu64 "\n", "spurious", r->spurious);
	printf("%-28s %" PRIu64 "\n", "invariant violations", r->invariant_violations);
	printf("%-28s %" PRIu64 "\n", "refused operations", r->alloc_failures);
	printf("%-28s %" PRIu64 "\n", "injected faults", r->injected_faults);
	printf("%-28s %u\n", "max vectors used per CPU", r->max_vectors_used_per_cpu);
	printf("%-28s %u\n", "remapping entries (peak)", r->irtes_used);
	printf("%-28s %u\n", "IMS vectors (peak)", r->ims_vectors_allocated);
	if (timing)
		printf("%-28s %.3f s (%.0f steps/s)\n", "wall time", r->wall_seconds,
		       r->wall_seconds > 0 ? (double)r->steps / r->wall_seconds : 0.0);
}

int imsctl_cmd_sim(int argc, char **argv)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	bool json = false, timing = true;
	int rc;

	if (imsctl_wants_help(argc, argv)) {
		sim_usage(stdout);
		return IMSCTL_OK;
	}
	ims_sim_config_default(&cfg);
	for (int i = 1; i < argc; i++) {
		rc = imsctl_simopt_parse("sim", IMSCTL_SIMOPT_SIM, argc, argv, &i, &cfg);
		if (rc == IMSCTL_OK)
			continue;
		if (rc != IMSCTL_SIMOPT_NOT_MINE)
			return rc;
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--no-timing"))
			timing = false;
		else if (argv[i][0] == '-')
			return imsctl_usage_error("sim", "unknown option '%s' (see imsctl sim --help)", argv[i]);
		else
			return imsctl_usage_error("sim", "unexpected argument '%s'", argv[i]);
	}
	rc = imsctl_sim_validate("sim", &cfg);
	if (rc)
		return rc;
	cfg.quiet = true;
	rc = imsctl_sim_run_cli("sim", &cfg, &res);
	if (rc)
		return rc;
	if (json) {
		json_t *o = imsctl_json_result(&res, timing);

		if (o)
			json_object_set_new(o, "config", imsctl_json_config(&cfg));
		rc = imsctl_json_print(o);
	} else {
		print_text(&cfg, &res, timing);
	}
	imsctl_sim_print_violation(&res);
	if (!rc && res.violation != IMS_SIM_OK)
		rc = IMSCTL_FAIL;
	ims_sim_result_free(&res);
	return rc;
}

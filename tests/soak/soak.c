/*
 * The soak run of the simulated machine: deterministic runs at several
 * seeds (every other one with an allocation failing now and then), then
 * threaded runs (CPU, device and control threads) for a while,
 * every one with the invariant checker on and the library's recounts every
 * 256 steps; prints steps and violations and fails on any violation.
 *
 *   soak                      the short version run by `make test`
 *   soak STEPS SEEDS SECONDS  STEPS per seed at SEEDS seeds, then threaded
 *                             runs for SECONDS (`make soak`: 10^7, 4, 60)
 *
 * Only the public API is used, as an embedder would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ims/ims.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void config(struct ims_sim_config *cfg, uint64_t seed, uint64_t steps, uint32_t threads)
{
	ims_sim_config_default(cfg);
	cfg->seed = seed;
	cfg->steps = steps;
	cfg->threads = threads;
	cfg->guests = 2;
	cfg->vcpus = 2;
	cfg->check_every = 256;
	cfg->shrink = true;
}

/* One run; 0 if it kept every invariant. Adds to the totals. */
static uint64_t injected;

static int run(const struct ims_sim_config *cfg, uint64_t *steps, uint64_t *fired, uint64_t *violations)
{
	struct ims_sim_result res;
	int ret;

	memset(&res, 0, sizeof(res));
	ret = ims_sim_run(cfg, NULL, &res);
	if (ret) {
		fprintf(stderr, "soak: seed %llu: run failed: %d (%s)\n", (unsigned long long)cfg->seed,
			ret, ims_last_error());
		return ret;
	}
	*steps += res.steps;
	*fired += res.fired;
	*violations += res.invariant_violations;
	injected += res.injected_faults;
	if (res.invariant_violations) {
		fprintf(stderr, "soak: seed %llu: %s at step %llu: %s\n%s", (unsigned long long)cfg->seed,
			ims_sim_violation_name(res.violation), (unsigned long long)res.violation_step,
			res.violation_msg, res.min_trace ? res.min_trace : "");
		ret = -1;
	}
	ims_sim_result_free(&res);
	return ret;
}

int main(int argc, char **argv)
{
	uint64_t steps = 200000, seeds = 3, det_steps = 0, thr_fired = 0, fired = 0, violations = 0;
	uint64_t thr_runs = 0, thr_violations = 0;
	double seconds = 1, t0;
	struct ims_sim_config cfg;
	int ret = 0;

	if (argc == 4) {
		steps = strtoull(argv[1], NULL, 0);
		seeds = strtoull(argv[2], NULL, 0);
		seconds = strtod(argv[3], NULL);
	} else if (argc != 1) {
		fprintf(stderr, "usage: soak [STEPS SEEDS SECONDS]\n");
		return 2;
	}
	ims_set_log(NULL, IMS_LOG_ERR, NULL);

	for (uint64_t s = 1; s <= seeds; s++) {
		config(&cfg, 1000 + s, steps, 0);
		/* Every other seed with allocations failing now and then. */
		cfg.fault_rate = s % 2 ? 0 : 1000;
		ret |= run(&cfg, &det_steps, &fired, &violations);
	}
	if (seeds)
		printf("soak: deterministic: %llu seeds x %llu steps = %llu steps, %llu interrupts raised, "
		       "%llu allocations failed on purpose, %llu invariant violations\n",
		       (unsigned long long)seeds, (unsigned long long)steps, (unsigned long long)det_steps,
		       (unsigned long long)fired, (unsigned long long)injected,
		       (unsigned long long)violations);

	/* Threaded: runs of 20,000 interrupts (small: 2 CPUs) until the time is up. */
	t0 = now();
	do {
		uint64_t st = 0;

		config(&cfg, 2000 + thr_runs, 20000, 5);
		cfg.cpus = 2;
		cfg.devices = 2;
		cfg.shrink = false;
		ret |= run(&cfg, &st, &thr_fired, &thr_violations);
		thr_runs++;
	} while (now() - t0 < seconds && !ret);
	printf("soak: threaded: %llu runs, %llu interrupts fired, %llu invariant violations\n",
	       (unsigned long long)thr_runs, (unsigned long long)thr_fired,
	       (unsigned long long)thr_violations);
	return ret || violations || thr_violations ? 1 : 0;
}

/*
 * The benchmarks' runner and what they share. Each topic lives in its own
 * file: alloc.c (allocation and memory), delivery.c (the data path),
 * threads.c (the data path on two threads), matrix.c (the vector matrix),
 * kvm.c (the KVM backend against bare KVM_SIGNAL_MSI, and what a system
 * call costs each frame returned through after it), scale.c (a million
 * posted vectors).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "util/log.h"

double ims__bench_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double ims__bench_median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int ims__bench_fail(int ret, const char *bench)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", ims_last_error());
	return ims__error(ret, "bench: %s: %s", bench, why);
}

void ims__bench_emit(ims_bench_fn fn, void *ctx, struct ims_bench_result *r)
{
	r->ratio = r->baseline && r->baseline_median > 0 ? r->median / r->baseline_median : 0;
	fn(r, ctx);
}

int ims__bench_machine(uint32_t slots, struct sim_machine **m)
{
	struct ims_sim_config cfg;

	ims_sim_config_default(&cfg);
	cfg.ims_slots = slots;
	/* The remapping tables are sized for the ADIs the machine may hold:
	 * ask for enough of them that every slot fits. */
	cfg.vectors_per_adi = 64;
	cfg.adis = slots / 64 - 2;
	cfg.guests = 0;
	cfg.posted_percent = 0;
	cfg.quiet = true;
	return ims__sim_machine_create(&cfg, SIM_BUG_NONE, m);
}

/* also: the other results a benchmark reports, which a filter may name too. */
static const struct {
	const char *name;
	const char *also;
	int (*run)(uint32_t runs, ims_bench_fn fn, void *ctx);
} benches[] = {
	{ "alloc_free_ims", "alloc_free_ims_many", ims__bench_alloc_free },
	{ "memory_per_ims_vector", "memory_per_posted_vector", ims__bench_memory },
	{ "delivery", "delivery_sim", ims__bench_delivery },
	{ "delivery_2_threads", NULL, ims__bench_threads },
	{ "matrix_4096_cpus", NULL, ims__bench_matrix },
	{ "posted_1m", "posted_1m_rate", ims__bench_posted_1m },
	{ "kvm_overhead", NULL, ims__bench_kvm_overhead },
	{ "kvm_signal", NULL, ims__bench_kvm_signal },
	{ "syscall_frames", NULL, ims__bench_syscall_frames },
};

IMS_API int ims_bench_run(const char *filter, uint32_t runs, ims_bench_fn fn, void *ctx)
{
	int ret;

	if (!fn)
		return ims__error(-EINVAL, "bench: NULL result callback");
	if (runs > MAX_RUNS)
		return ims__error(-EINVAL, "bench: %u runs, at most %u", runs, MAX_RUNS);
	if (!runs)
		runs = 5;
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		if (filter && !strstr(benches[i].name, filter) &&
		    !(benches[i].also && strstr(benches[i].also, filter)))
			continue;
		ret = benches[i].run(runs, fn, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

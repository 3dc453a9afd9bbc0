/*
 * Allocation and free of an IMS vector through the whole x86 hierarchy
 * (IMS -> remapping -> vector), and memory per allocated vector.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "util/alloc.h"

/*
 * Nanoseconds per allocate-and-free of one IMS vector (the first free slot
 * of the first device, no handler) with whatever the machine holds now.
 */
static int alloc_free_ns(struct ims__scale_machine *m, uint32_t reps, double *ns)
{
	struct ims_device *dev = ims__scale_device(m, 0);
	union ims_msi_cookie c = { 0 };
	double t0;
	int ret = 0;

	t0 = ims__bench_now_ns();
	for (uint32_t i = 0; i < reps && !ret; i++) {
		struct ims_msi_map map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX,
							      NULL, c);

		ret = map.index < 0 ? map.index
				    : ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, (uint32_t)map.index);
	}
	*ns = (ims__bench_now_ns() - t0) / reps;
	return ret;
}

/*
 * The baseline: a zeroed allocation and free of the vector's 112-byte
 * block through the C library, as many times, in the same run.
 */
static double calloc_free_ns(uint32_t reps)
{
	static void *volatile sink;
	double t0 = ims__bench_now_ns();

	for (uint32_t i = 0; i < reps; i++) {
		sink = calloc(1, 112);
		free(sink);
	}
	return (ims__bench_now_ns() - t0) / reps;
}

/*
 * On the machine of the scale targets (16 remapping units, 64 devices):
 * every run with 1,000 vectors allocated and posted, then every run with
 * 1,000,000.
 */
int ims__bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "alloc_free_ims", .unit = "ns", .target = 300,
				      .lower_is_better = true, .runs = runs };
	double few[MAX_RUNS], many[MAX_RUNS], libc[MAX_RUNS];
	struct ims__scale_machine *m;
	int ret = ims__scale_machine_create(&ims__scale_1m, &m);

	if (ret)
		return ims__bench_fail(ret, "alloc_free_ims");
	ret = ims__scale_post(m, 1000);
	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = alloc_free_ns(m, 20000, &few[k]);
		libc[k] = calloc_free_ns(20000);
	}
	if (!ret)
		ret = ims__scale_post(m, IMS_SCALE_1M);
	for (uint32_t k = 0; k < runs && !ret; k++)
		ret = alloc_free_ns(m, 20000, &many[k]);
	if (ret)
		ret = ims__bench_fail(ret, "alloc_free_ims");
	ims__scale_machine_destroy(m);
	if (ret)
		return ret;
	r.what = "allocate and free one IMS vector through IMS, remapping and vector domains, "
		 "1,000 vectors held (posted, 16 remapping units)";
	r.median = ims__bench_median(few, runs);
	r.baseline = "calloc and free of the vector's 112-byte block";
	r.baseline_median = ims__bench_median(libc, runs);
	ims__bench_emit(fn, ctx, &r);
	r.name = "alloc_free_ims_many";
	r.what = "the same with 1,000,000 vectors held (ratio: against 1,000 held)";
	r.baseline = "alloc_free_ims";
	r.baseline_median = r.median;
	r.median = ims__bench_median(many, runs);
	r.target = 1.5 * r.baseline_median;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

/* Bytes per vector of a million held, allocated only or also started and posted. */
static int memory_at_1m(bool post, double *bytes)
{
	struct ims_mem_stats a, b;
	struct ims__scale_machine *m;
	int ret = ims__scale_machine_create(&ims__scale_1m, &m);

	if (ret)
		return ret;
	ims_mem_stats(&a);
	ret = post ? ims__scale_post(m, IMS_SCALE_1M) : ims__scale_alloc(m, IMS_SCALE_1M);
	ims_mem_stats(&b);
	*bytes = m->posted ? (double)(b.bytes - a.bytes) / (double)m->posted : 0;
	ims__scale_machine_destroy(m);
	return ret;
}

/*
 * Every allocation the library makes for a vector, all levels, divided by
 * the vectors: the machine of the scale targets, before and after a
 * million vectors are allocated in ADIs of 16 (the target's figure); then
 * the same with each vector also started (a handler: the driver's, not a
 * level's) and posted to a vCPU, for information.
 */
int ims__bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "memory_per_ims_vector", .unit = "bytes", .target = 128,
				      .lower_is_better = true, .runs = 1 };
	double alloc_only, posted;
	int ret;

	(void)runs;
	ret = memory_at_1m(false, &alloc_only);
	if (!ret)
		ret = memory_at_1m(true, &posted);
	if (ret)
		return ims__bench_fail(ret, "memory_per_ims_vector");
	r.what = "bytes allocated per IMS vector, all levels (MSI descriptor, irq descriptor, IMS, "
		 "remapping and vector levels, index and irq tables), by allocation accounting at "
		 "1,000,000 vectors in ADIs of 16";
	r.median = alloc_only;
	ims__bench_emit(fn, ctx, &r);
	r.name = "memory_per_posted_vector";
	r.what = "the same with each vector also started (its handler, 40 bytes, and name) and "
		 "posted to a vCPU: for information";
	r.target = 0;
	r.median = posted;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

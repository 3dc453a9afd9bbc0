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

/* Nanoseconds per allocate-and-free of one IMS vector with `held` held. */
static int alloc_free_at(struct sim_machine *m, uint32_t held, uint32_t reps, double *ns)
{
	struct ims_device *dev = m->dev_ops->os_device(m->devs[0]);
	union ims_msi_cookie c = { 0 };
	uint32_t base = m->cfg.ims_slots - held - 1, i;
	double t0, t1;
	int ret = 0;

	/* The simulated machine's ADIs use the low slots; hold the high ones. */
	for (i = 0; i < held; i++) {
		int idx = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, base + 1 + i, NULL, c).index;

		if (idx < 0) {
			while (i--)
				ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, base + 1 + i);
			return idx;
		}
	}
	t0 = ims__bench_now_ns();
	for (i = 0; i < reps && !ret; i++) {
		struct ims_msi_map map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, base, NULL, c);

		ret = map.index < 0 ? map.index : ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, base);
	}
	t1 = ims__bench_now_ns();
	for (i = 0; i < held; i++)
		ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, base + 1 + i);
	*ns = (t1 - t0) / reps;
	return ret;
}

int ims__bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "alloc_free_ims", .unit = "ns", .target = 300,
				      .lower_is_better = true, .runs = runs };
	double few[MAX_RUNS], many[MAX_RUNS];
	struct sim_machine *m;
	int ret = ims__bench_machine(16128, &m);

	if (ret)
		return ims__bench_fail(ret, "alloc_free_ims");
	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = alloc_free_at(m, 1000, 20000, &few[k]);
		if (!ret)
			ret = alloc_free_at(m, 15000, 20000, &many[k]);
	}
	ims__sim_machine_destroy(m);
	if (ret)
		return ims__bench_fail(ret, "alloc_free_ims");
	r.what = "allocate and free one IMS vector through IMS, remapping and vector domains, "
		 "1,000 vectors held";
	r.median = ims__bench_median(few, runs);
	ims__bench_emit(fn, ctx, &r);
	r.name = "alloc_free_ims_many";
	r.what = "the same with 15,000 vectors held (ratio: against 1,000 held)";
	r.baseline = "alloc_free_ims";
	r.baseline_median = r.median;
	r.median = ims__bench_median(many, runs);
	r.target = 1.5 * r.baseline_median;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

int ims__bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "memory_per_ims_vector", .unit = "bytes", .target = 128,
				      .lower_is_better = true, .runs = 1 };
	struct ims_mem_stats a, b;
	struct sim_machine *m;
	struct ims_device *dev;
	const uint32_t n = 16000;
	uint32_t got = 0;
	int ret = ims__bench_machine(16128, &m);

	(void)runs;
	if (ret)
		return ims__bench_fail(ret, "memory_per_ims_vector");
	dev = m->dev_ops->os_device(m->devs[0]);
	ims_mem_stats(&a);
	for (; got < n && !ret; got++) {
		int idx = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 16127 - got, NULL,
					       (union ims_msi_cookie){ 0 }).index;

		if (idx < 0) {
			ret = idx;
			break;
		}
	}
	ims_mem_stats(&b);
	for (uint32_t i = 0; i < got; i++)
		ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 16127 - i);
	ims__sim_machine_destroy(m);
	if (ret)
		return ims__bench_fail(ret, "memory_per_ims_vector");
	r.what = "bytes allocated per IMS vector, all levels (descriptor, levels, per-CPU counts, "
		 "MSI descriptor, tables), by allocation accounting at 16,000 vectors";
	r.median = (double)(b.bytes - a.bytes) / n;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}


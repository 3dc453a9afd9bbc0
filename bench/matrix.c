/*
 * The vector matrix: allocation cost at 4 and at 4,096 CPUs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "os/x86/matrix.h"

static int matrix_ns(uint32_t cpus, uint32_t reps, double *ns)
{
	struct ims__matrix *mx;
	double t0;
	uint32_t cpu;
	int ret = ims__matrix_create(cpus, 0xec, &mx);

	/* A new matrix has every CPU online. */
	if (ret)
		return ret;
	t0 = ims__bench_now_ns();
	for (uint32_t i = 0; i < reps && !ret; i++) {
		ret = ims__matrix_alloc(mx, NULL, &cpu);
		if (ret >= 0)
			ret = ims__matrix_free(mx, cpu, (uint32_t)ret);
	}
	*ns = (ims__bench_now_ns() - t0) / reps;
	ims__matrix_destroy(mx);
	return ret;
}

int ims__bench_matrix(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "matrix_4096_cpus", .unit = "ns", .lower_is_better = true,
				      .runs = runs, .baseline = "the same at 4 CPUs" };
	double a[MAX_RUNS], b[MAX_RUNS];
	int ret = 0;

	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = matrix_ns(4, 200000, &a[k]);
		if (!ret)
			ret = matrix_ns(4096, 200000, &b[k]);
	}
	if (ret)
		return ims__bench_fail(ret, "matrix_4096_cpus");
	r.what = "allocate and free one vector from the matrix, any CPU, 4,096 CPUs online";
	r.median = ims__bench_median(b, runs);
	r.baseline_median = ims__bench_median(a, runs);
	r.target = 2 * r.baseline_median;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}


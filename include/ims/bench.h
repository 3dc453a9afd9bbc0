/*
 * ims/bench.h - the benchmarks behind `imsctl bench`.
 *
 * Each benchmark reports the median of several repetitions and, where it
 * has one, the median of a baseline measured in the same run, with the
 * ratio of the two: these machines are shared and noisy, so a ratio means
 * more than a time. Nothing here is asserted by tests; the figures are for
 * people (and docs/performance.md).
 */
#ifndef IMS_BENCH_H
#define IMS_BENCH_H

#include <ims/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ims_bench_result {
	const char *name;		/* e.g. "alloc_free_ims" */
	const char *what;		/* one line saying what was measured */
	const char *unit;		/* "ns", "bytes", "M/s" */
	double median;
	const char *baseline;		/* what the ratio compares with, or NULL */
	double baseline_median;
	double ratio;			/* median / baseline_median, 0 without baseline */
	double target;			/* the performance target in unit, 0 if none */
	bool lower_is_better;
	uint32_t runs;
	/*
	 * The performance target on the ratio, 0 if none (met when ratio is
	 * at most this with lower_is_better, at least this otherwise).
	 */
	double target_ratio;
	/*
	 * Why the benchmark did not run on this machine (e.g. no usable
	 * /dev/kvm), or NULL. A skipped benchmark is no failure: name, what
	 * and skipped are set, and no figure is. Like the whole result, it
	 * is valid only during the call of the result callback.
	 */
	const char *skipped;
};

typedef void (*ims_bench_fn)(const struct ims_bench_result *r, void *ctx);

/*
 * Run the benchmarks whose name contains filter (NULL: all), each repeated
 * runs times (0: 5), calling fn with each result, a skipped one included.
 * 0, or a negative errno with a message if a benchmark could not be set
 * up (a benchmark that cannot run on this machine is skipped, not failed).
 */
IMS_API int ims_bench_run(const char *filter, uint32_t runs, ims_bench_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif

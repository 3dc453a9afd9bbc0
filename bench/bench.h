/*
 * What the benchmarks share: timing, medians, results, and a simulated
 * machine with one device of many IMS slots. Private to bench/.
 */
#ifndef IMS_BENCH_INTERNAL_H
#define IMS_BENCH_INTERNAL_H

#include <ims/bench.h>
#include <ims/sim.h>

#include "backend/sim/machine.h"

#define MAX_RUNS 64

double ims__bench_now_ns(void);
double ims__bench_median(double *v, uint32_t n);
/* Fail with the message of the call that failed, named by the benchmark. */
int ims__bench_fail(int ret, const char *bench);
/* Fill in the ratio and hand the result to the caller. */
void ims__bench_emit(ims_bench_fn fn, void *ctx, struct ims_bench_result *r);
/* A quiet machine with one device of `slots` IMS slots and no guests. */
int ims__bench_machine(uint32_t slots, struct sim_machine **m);

/*
 * One simulated CPU's share of the data path benchmarks: the first
 * BENCH_LANE_VECS vectors of an ADI, moved to the CPU and lent to a handler
 * that counts, raised in turn by the device and taken by the CPU on the
 * calling thread. A lane is a cache line of its own (and more), so that
 * lanes on different threads share nothing but the machine.
 */
#define BENCH_LANE_VECS 16
struct ims_bench_lane {
	struct sim_machine *m;
	struct sim_device *dev;
	struct ims_hw_lapic *lapic;
	struct sim_vec *vecs[BENCH_LANE_VECS];
	uint32_t cpu, pasid;
	uint64_t handled;
} __attribute__((aligned(64)));

struct ims_bench_lane *ims__bench_lane_alloc(uint32_t n);
void ims__bench_lane_free(struct ims_bench_lane *l, uint32_t n);
/* Create ADI adi of device 0 and set its lane up on cpu (then run it once). */
int ims__bench_lane_setup(struct sim_machine *m, uint32_t adi, uint32_t cpu, struct ims_bench_lane *l);
/* Give the vectors back to the machine's handler (the ADI stays). */
void ims__bench_lane_teardown(struct ims_bench_lane *l);
/* n interrupts, each raised, accepted and handled before the next. */
int ims__bench_lane_run(struct ims_bench_lane *l, uint32_t n);

/* The benchmarks, one per topic file. */
int ims__bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_matrix(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_threads(uint32_t runs, ims_bench_fn fn, void *ctx);

#endif

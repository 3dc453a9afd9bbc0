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

/* The benchmarks, one per topic file. */
int ims__bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_matrix(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_kvm_overhead(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_kvm_signal(uint32_t runs, ims_bench_fn fn, void *ctx);

#endif

/*
 * The data path of delivery.c on two threads: each thread is a CPU of the
 * same simulated machine taking the interrupts of its own ADI's slots,
 * which the device raises from that thread. The threads share the device,
 * its IMS array, the remapping unit and its entry cache, the APIC bus, the
 * vector domain and the interrupt core; they share no slot, vector or
 * descriptor. The figure is the rate of both together over the rate of one
 * alone, measured in the same run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "util/log.h"

#define THREADS 2

struct worker {
	struct ims_bench_lane *lane;
	pthread_barrier_t *go;
	uint32_t n;
	double t0, t1;
	int ret;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	w->t0 = ims__bench_now_ns();
	w->ret = ims__bench_lane_run(w->lane, w->n);
	w->t1 = ims__bench_now_ns();
	return NULL;
}

/* Interrupts per second of `threads` lanes run at once, each n times. */
static int rate(struct ims_bench_lane *lanes, uint32_t threads, uint32_t n, double *out)
{
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t go;
	double t0 = 0, t1 = 0;
	uint32_t i, started = 0;
	int ret = 0;

	if (pthread_barrier_init(&go, NULL, threads))
		return -ENOMEM;
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ .lane = &lanes[i], .go = &go, .n = n };
		if (pthread_create(&tid[i], NULL, work, &w[i])) {
			ret = ims__error(-EAGAIN, "cannot start thread %u", i);
			break;
		}
		started++;
	}
	if (started < threads) {
		/* The barrier waits for every thread: nothing started can pass it. */
		pthread_barrier_destroy(&go);
		return ret;
	}
	for (i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].ret && !ret)
			ret = w[i].ret;
		if (!i || w[i].t0 < t0)
			t0 = w[i].t0;
		if (!i || w[i].t1 > t1)
			t1 = w[i].t1;
	}
	pthread_barrier_destroy(&go);
	*out = (double)threads * n / ((t1 - t0) * 1e-9);
	return ret;
}

int ims__bench_threads(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "delivery_2_threads", .unit = "x", .target = 1.7,
				      .lower_is_better = false, .runs = runs };
	static char what[256];
	double x[MAX_RUNS], one[MAX_RUNS], two[MAX_RUNS];
	const uint32_t n = 1000000;
	struct ims_bench_lane *lanes = ims__bench_lane_alloc(THREADS);
	struct sim_machine *m = NULL;
	uint32_t set = 0;
	int ret = lanes ? ims__bench_machine(2048, &m) : -ENOMEM;

	/* The thread of lane i is CPU i: no two lanes share an APIC. */
	for (; !ret && set < THREADS; set++)
		ret = ims__bench_lane_setup(m, set, set, &lanes[set]);
	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = rate(lanes, 1, n, &one[k]);
		if (!ret)
			ret = rate(lanes, THREADS, n, &two[k]);
		x[k] = ret ? 0 : two[k] / one[k];
	}
	while (m && set--)
		ims__bench_lane_teardown(&lanes[set]);
	if (m)
		ims__sim_machine_destroy(m);
	ims__bench_lane_free(lanes, THREADS);
	if (ret)
		return ims__bench_fail(ret, "delivery_2_threads");
	r.median = ims__bench_median(x, runs);
	snprintf(what, sizeof(what),
		 "interrupts per second of two threads, each a CPU taking its own ADI's slots through "
		 "the shared machine, over one thread alone (%.1f M/s vs %.1f M/s, medians)",
		 ims__bench_median(two, runs) / 1e6, ims__bench_median(one, runs) / 1e6);
	r.what = what;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

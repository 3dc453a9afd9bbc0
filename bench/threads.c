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
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "util/log.h"

#define THREADS 2

/*
 * The workers live through every run, so that each keeps its thread (and
 * the per-thread shards and RCU slot it claimed) from one run to the next.
 * Each waits for its go, runs its lane and posts done.
 */
struct pool;
struct worker {
	struct pool *pool;
	struct ims_bench_lane *lane;
	sem_t go;
	double t0, t1;
	int ret;
};

struct pool {
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	uint32_t started;
	sem_t done;
	uint32_t n;		/* interrupts per worker this run */
	bool quit;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	for (;;) {
		while (sem_wait(&w->go))
			;	/* EINTR */
		if (p->quit)
			return NULL;
		w->t0 = ims__bench_now_ns();
		w->ret = ims__bench_lane_run(w->lane, p->n);
		w->t1 = ims__bench_now_ns();
		sem_post(&p->done);
	}
}

static void pool_stop(struct pool *p)
{
	p->quit = true;
	for (uint32_t i = 0; i < p->started; i++)
		sem_post(&p->w[i].go);
	for (uint32_t i = 0; i < p->started; i++)
		pthread_join(p->tid[i], NULL);
	for (uint32_t i = 0; i < THREADS; i++)
		sem_destroy(&p->w[i].go);
	sem_destroy(&p->done);
}

static int pool_start(struct pool *p, struct ims_bench_lane *lanes)
{
	sem_init(&p->done, 0, 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		p->w[i] = (struct worker){ .pool = p, .lane = &lanes[i] };
		sem_init(&p->w[i].go, 0, 0);
	}
	for (; p->started < THREADS; p->started++) {
		if (pthread_create(&p->tid[p->started], NULL, work, &p->w[p->started])) {
			pool_stop(p);
			return ims__error(-EAGAIN, "cannot start thread %u", p->started);
		}
	}
	return 0;
}

/* Interrupts per second of the first `active` lanes run at once, each n times. */
static int rate(struct pool *p, uint32_t active, uint32_t n, double *out)
{
	double t0 = 0, t1 = 0;
	int ret = 0;

	p->n = n;
	for (uint32_t i = 0; i < active; i++)
		sem_post(&p->w[i].go);
	for (uint32_t i = 0; i < active; i++)
		while (sem_wait(&p->done))
			;	/* EINTR */
	for (uint32_t i = 0; i < active; i++) {
		if (p->w[i].ret && !ret)
			ret = p->w[i].ret;
		if (!i || p->w[i].t0 < t0)
			t0 = p->w[i].t0;
		if (!i || p->w[i].t1 > t1)
			t1 = p->w[i].t1;
	}
	*out = (double)active * n / ((t1 - t0) * 1e-9);
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
	struct pool pool = { 0 };
	bool started = false;
	uint32_t set = 0;
	int ret = lanes ? ims__bench_machine(2048, &m) : -ENOMEM;

	/* The thread of lane i is CPU i: no two lanes share an APIC. */
	for (; !ret && set < THREADS; set++)
		ret = ims__bench_lane_setup(m, set, set, &lanes[set]);
	if (!ret) {
		ret = pool_start(&pool, lanes);
		started = !ret;
	}
	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = rate(&pool, 1, n, &one[k]);
		if (!ret)
			ret = rate(&pool, THREADS, n, &two[k]);
		x[k] = ret ? 0 : two[k] / one[k];
	}
	if (started)
		pool_stop(&pool);
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

/*
 * One interrupt through the simulated machine against a pointer-chasing
 * baseline of as many dependent loads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* A chain of dependent loads through shuffled memory, as many per step as
 * the interrupt path makes (slot, entry, APIC, vector table, descriptor,
 * action, handler context, and back). */
#define CHASE_LOADS 8
#define CHASE_NODES (1u << 16)

static double chase_ns(uint32_t steps)
{
	uint32_t *next = malloc(CHASE_NODES * sizeof(*next)), *perm = malloc(CHASE_NODES * sizeof(*perm));
	uint64_t seed = 88172645463325252ull;
	volatile uint32_t sink;
	uint32_t i, p = 0;
	double t0, t1;

	if (!next || !perm) {
		free(next);
		free(perm);
		return 0;
	}
	for (i = 0; i < CHASE_NODES; i++)
		perm[i] = i;
	for (i = CHASE_NODES - 1; i > 0; i--) {
		uint32_t j, x;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		j = (uint32_t)(seed % (i + 1));
		x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (i = 0; i < CHASE_NODES; i++)
		next[perm[i]] = perm[(i + 1) % CHASE_NODES];
	t0 = ims__bench_now_ns();
	for (i = 0; i < steps * CHASE_LOADS; i++)
		p = next[p];
	t1 = ims__bench_now_ns();
	sink = p;
	(void)sink;
	free(next);
	free(perm);
	return (t1 - t0) / steps;
}

int ims__bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "delivery", .unit = "ns", .target = 50,
				      .lower_is_better = true, .runs = runs,
				      .baseline = "pointer chase of 8 dependent loads" };
	double t[MAX_RUNS], base[MAX_RUNS];
	struct sim_machine *m;
	struct sim_vec *v = NULL;
	const uint32_t n = 200000;
	int ret = ims__bench_machine(2048, &m);

	if (ret)
		return ims__bench_fail(ret, "delivery");
	ret = ims__sim_adi_create(m, 0, 0);
	for (uint32_t i = 0; !ret && i < m->nr_vecs && !v; i++)
		if (atomic_load(&m->vecs[i].live) && !m->vecs[i].msix)
			v = &m->vecs[i];
	if (!v)
		ret = ret ? ret : -ENOENT;
	for (uint32_t k = 0; k < runs && !ret; k++) {
		double t0 = ims__bench_now_ns();

		for (uint32_t i = 0; i < n && !ret; i++) {
			ret = ims__sim_fire(m, v);
			for (uint32_t c = 0; c < m->cfg.cpus; c++)
				while (ims__sim_cpu_accept(m, c) >= 0)
					;
		}
		t[k] = (ims__bench_now_ns() - t0) / n;
		base[k] = chase_ns(n);
	}
	ims__sim_machine_destroy(m);
	if (ret)
		return ims__bench_fail(ret, "delivery");
	r.what = "one interrupt through the simulated machine: slot -> remapping -> local APIC -> "
		 "dispatch -> handler -> EOI, one thread, with the simulation's own bookkeeping";
	r.median = ims__bench_median(t, runs);
	r.baseline_median = ims__bench_median(base, runs);
	ims__bench_emit(fn, ctx, &r);
	return 0;
}


/*
 * The interrupt data path against a pointer-chasing baseline of as many
 * dependent loads, and the same through the whole simulated machine.
 *
 * "delivery" drives the data path and nothing else: the device raises an
 * IMS slot (the IMS array reads the slot: mask, PASID, message), the fabric
 * routes the write to the remapping unit (decode, entry cache, checks), the
 * APIC bus hands it to the local APIC (IRR), the CPU accepts it (IRR ->
 * ISR, PPR) and dispatches it (per-CPU vector table -> irq descriptor ->
 * flow -> handler), and the vector chip's ack writes EOI. The machine is
 * the simulated one, built from the library's hardware models and OS code;
 * only its checker (which counts every raise and run, and looks for
 * violations) is left out: the vectors are lent to the benchmark's handler,
 * and raises go to the device directly rather than through ims__sim_fire().
 *
 * "delivery_sim" is the old figure: the same interrupt through
 * ims__sim_fire() and ims__sim_cpu_accept(), with the checker's bookkeeping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "hw/lapic.h"
#include "util/log.h"

/*
 * Dependent loads of one interrupt on the path measured by "delivery": the
 * longest chain of loads in which each address comes from the value of
 * the one before, through the interrupt's own data (what the device and
 * the CPU start from, the benchmark's own records, and loads whose address
 * is known up front are not counted; nor are loads that other loads of
 * the chain do not wait for, which run beside it):
 *
 *  device:  1 the device's IMS array pointer -> 2 the array's slot table
 *           -> 3 the slot (control word, address, data)
 *  remap:   4 the entry cache slot of the handle (tag and entry)
 *  bus:     5 APIC ID -> CPU table entry of the entry's destination
 *           -> 6 that CPU's local APIC pointer -> 7 its IRR word (the OR)
 *  accept:  8 the IRR words, read by the CPU (the vector)
 *  vector:  9 the CPU's vector table entry (the irq number)
 *  irq:     10 the descriptor table chunk -> 11 the descriptor pointer
 *           -> 12 the descriptor (state, lock, action) -> 13 the action
 *           (handler, context) -> 14 the handler's context
 *
 * EOI reaches the APIC through the dispatch context, the vector domain's
 * APIC ops and the bus's APIC table, a chain of its own that does not
 * depend on the interrupt's data; the stores and locked operations are
 * not loads. The baseline chases 14 links.
 */
#define CHASE_LOADS 14
#define CHASE_NODES (1u << 16)	/* 256 KB of 4-byte links: beyond L1, within L2 */

static double chase_ns(uint32_t steps, uint32_t loads)
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
	for (i = 0; i < steps * loads; i++)
		p = next[p];
	t1 = ims__bench_now_ns();
	sink = p;
	(void)sink;
	free(next);
	free(perm);
	return (t1 - t0) / steps;
}

static ims_irqreturn_t lane_handler(unsigned int irq, void *ctx)
{
	struct ims_bench_lane *l = ctx;

	(void)irq;
	l->handled++;	/* runs on the lane's thread only */
	return IMS_IRQ_HANDLED;
}

int ims__bench_lane_setup(struct sim_machine *m, uint32_t adi, uint32_t cpu, struct ims_bench_lane *l)
{
	struct ims_cpumask *mask = ims_cpumask_create(m->cfg.cpus);
	struct sim_adi *a = sim_adi_at(m, 0, adi);
	uint32_t i;
	int ret;

	memset(l, 0, sizeof(*l));
	if (!mask)
		return -ENOMEM;
	l->m = m;
	l->dev = m->devs[0];
	l->cpu = cpu;
	l->lapic = ims__apic_bus_lapic(m->bus, cpu);
	ims_cpumask_set(mask, cpu);
	ret = ims__sim_adi_create(m, 0, adi);
	l->pasid = a->pasid;
	for (i = 0; !ret && i < BENCH_LANE_VECS; i++) {
		struct sim_vec *v = &m->vecs[a->first_vec + i];

		ret = ims__sim_vec_handler(m, v, lane_handler, l);
		if (ret)
			break;
		l->vecs[i] = v;
		ret = ims_irq_set_affinity(m->core, v->irq, mask);
	}
	ims_cpumask_destroy(mask);
	if (ret)
		return ret;
	/* Once around: the moves complete, every cache holds its entry. */
	ret = ims__bench_lane_run(l, BENCH_LANE_VECS);
	if (!ret)
		ims_x86_vector_cleanup(m->vd);
	return ret;
}

void ims__bench_lane_teardown(struct ims_bench_lane *l)
{
	for (uint32_t i = 0; i < BENCH_LANE_VECS && l->vecs[i]; i++)
		ims__sim_vec_handler(l->m, l->vecs[i], NULL, l);
}

int ims__bench_lane_run(struct ims_bench_lane *l, uint32_t n)
{
	struct sim_machine *m = l->m;
	struct ims_x86_vector_domain *vd = m->vd;
	uint64_t want = l->handled + n;

	for (uint32_t i = 0; i < n; i++) {
		const struct sim_vec *v = l->vecs[i % BENCH_LANE_VECS];
		int ret = m->dev_ops->fire_ims(l->dev, v, l->pasid);
		int vec;

		if (ret)
			return ret;
		vec = ims__lapic_accept(l->lapic);
		if (vec < 0)
			return ims__error(-EIO, "irq %u (slot %u) did not reach CPU %u", v->irq, v->index,
					  l->cpu);
		ims_x86_vector_dispatch(vd, l->cpu, (uint8_t)vec);
	}
	if (l->handled != want)
		return ims__error(-EIO, "CPU %u: %llu of %u interrupts reached the handler", l->cpu,
				  (unsigned long long)(n - (want - l->handled)), n);
	return 0;
}

static int data_path(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "delivery", .unit = "ns", .target = 50,
				      .lower_is_better = true, .runs = runs,
				      .baseline = "pointer chase of 14 dependent loads" };
	double t[MAX_RUNS], base[MAX_RUNS];
	const uint32_t n = 1000000;
	struct ims_bench_lane *l = ims__bench_lane_alloc(1);
	struct sim_machine *m = NULL;
	int ret = l ? ims__bench_machine(2048, &m) : -ENOMEM;

	if (!ret)
		ret = ims__bench_lane_setup(m, 0, 0, l);
	for (uint32_t k = 0; k < runs && !ret; k++) {
		double t0 = ims__bench_now_ns();

		ret = ims__bench_lane_run(l, n);
		t[k] = (ims__bench_now_ns() - t0) / n;
		base[k] = chase_ns(n, CHASE_LOADS);
	}
	if (m) {
		ims__bench_lane_teardown(l);
		ims__sim_machine_destroy(m);
	}
	ims__bench_lane_free(l, 1);
	if (ret)
		return ims__bench_fail(ret, "delivery");
	r.what = "one interrupt on the data path: IMS slot -> remapping unit (entry cache) -> APIC bus "
		 "-> local APIC -> accept -> dispatch -> flow -> handler -> EOI, one thread";
	r.median = ims__bench_median(t, runs);
	r.baseline_median = ims__bench_median(base, runs);
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

static int whole_sim(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "delivery_sim", .unit = "ns", .runs = runs,
				      .lower_is_better = true };
	double t[MAX_RUNS];
	struct sim_machine *m;
	struct sim_vec *v = NULL;
	const uint32_t n = 200000;
	int ret = ims__bench_machine(2048, &m);

	if (ret)
		return ims__bench_fail(ret, "delivery_sim");
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
	}
	ims__sim_machine_destroy(m);
	if (ret)
		return ims__bench_fail(ret, "delivery_sim");
	r.what = "the same through the simulated machine's fire and accept, with its checker's "
		 "bookkeeping (every CPU polled), one thread";
	r.median = ims__bench_median(t, runs);
	ims__bench_emit(fn, ctx, &r);
	return 0;
}

int ims__bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	int ret = data_path(runs, fn, ctx);

	return ret ? ret : whole_sim(runs, fn, ctx);
}

struct ims_bench_lane *ims__bench_lane_alloc(uint32_t n)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, n * sizeof(struct ims_bench_lane)))
		return NULL;
	return p;
}

void ims__bench_lane_free(struct ims_bench_lane *l, uint32_t n)
{
	(void)n;
	free(l);
}

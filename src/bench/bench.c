/*
 * The benchmarks: allocation and free of an IMS vector through the whole
 * x86 hierarchy (IMS -> remapping -> vector) with few and with many vectors
 * already held, memory per allocated IMS vector by allocation accounting,
 * delivery through the simulated machine against a pointer-chasing
 * baseline, and the vector matrix at 4 and at 4,096 CPUs.
 */
#include <errno.h>
#include <stdio.h>
#include <ims/bench.h>
#include <ims/sim.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/sim/machine.h"
#include "os/x86/matrix.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_RUNS 64

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Fail with the message of the call that failed, named by the benchmark. */
static int fail(int ret, const char *bench)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", ims_last_error());
	return ims__error(ret, "bench: %s: %s", bench, why);
}

static void emit(ims_bench_fn fn, void *ctx, struct ims_bench_result *r)
{
	r->ratio = r->baseline && r->baseline_median > 0 ? r->median / r->baseline_median : 0;
	fn(r, ctx);
}

/* ---- a machine with one device of many IMS slots ---- */

static int machine(uint32_t slots, struct sim_machine **m)
{
	struct ims_sim_config cfg;

	ims_sim_config_default(&cfg);
	cfg.ims_slots = slots;
	/* The remapping tables are sized for the ADIs the machine may hold:
	 * ask for enough of them that every slot fits. */
	cfg.vectors_per_adi = 64;
	cfg.adis = slots / 64 - 2;
	cfg.guests = 0;
	cfg.posted_percent = 0;
	cfg.quiet = true;
	return ims__sim_machine_create(&cfg, SIM_BUG_NONE, m);
}

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
	t0 = now_ns();
	for (i = 0; i < reps && !ret; i++) {
		struct ims_msi_map map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, base, NULL, c);

		ret = map.index < 0 ? map.index : ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, base);
	}
	t1 = now_ns();
	for (i = 0; i < held; i++)
		ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, base + 1 + i);
	*ns = (t1 - t0) / reps;
	return ret;
}

static int bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "alloc_free_ims", .unit = "ns", .target = 300,
				      .lower_is_better = true, .runs = runs };
	double few[MAX_RUNS], many[MAX_RUNS];
	struct sim_machine *m;
	int ret = machine(16128, &m);

	if (ret)
		return fail(ret, "alloc_free_ims");
	for (uint32_t k = 0; k < runs && !ret; k++) {
		ret = alloc_free_at(m, 1000, 20000, &few[k]);
		if (!ret)
			ret = alloc_free_at(m, 15000, 20000, &many[k]);
	}
	ims__sim_machine_destroy(m);
	if (ret)
		return fail(ret, "alloc_free_ims");
	r.what = "allocate and free one IMS vector through IMS, remapping and vector domains, "
		 "1,000 vectors held";
	r.median = median(few, runs);
	emit(fn, ctx, &r);
	r.name = "alloc_free_ims_many";
	r.what = "the same with 15,000 vectors held (ratio: against 1,000 held)";
	r.baseline = "alloc_free_ims";
	r.baseline_median = r.median;
	r.median = median(many, runs);
	r.target = 1.5 * r.baseline_median;
	emit(fn, ctx, &r);
	return 0;
}

static int bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "memory_per_ims_vector", .unit = "bytes", .target = 128,
				      .lower_is_better = true, .runs = 1 };
	struct ims_mem_stats a, b;
	struct sim_machine *m;
	struct ims_device *dev;
	const uint32_t n = 16000;
	uint32_t got = 0;
	int ret = machine(16128, &m);

	(void)runs;
	if (ret)
		return fail(ret, "memory_per_ims_vector");
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
		return fail(ret, "memory_per_ims_vector");
	r.what = "bytes allocated per IMS vector, all levels (descriptor, levels, per-CPU counts, "
		 "MSI descriptor, tables), by allocation accounting at 16,000 vectors";
	r.median = (double)(b.bytes - a.bytes) / n;
	emit(fn, ctx, &r);
	return 0;
}

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
	t0 = now_ns();
	for (i = 0; i < steps * CHASE_LOADS; i++)
		p = next[p];
	t1 = now_ns();
	sink = p;
	(void)sink;
	free(next);
	free(perm);
	return (t1 - t0) / steps;
}

static int bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = { .name = "delivery", .unit = "ns", .target = 50,
				      .lower_is_better = true, .runs = runs,
				      .baseline = "pointer chase of 8 dependent loads" };
	double t[MAX_RUNS], base[MAX_RUNS];
	struct sim_machine *m;
	struct sim_vec *v = NULL;
	const uint32_t n = 200000;
	int ret = machine(2048, &m);

	if (ret)
		return fail(ret, "delivery");
	ret = ims__sim_adi_create(m, 0, 0);
	for (uint32_t i = 0; !ret && i < m->nr_vecs && !v; i++)
		if (atomic_load(&m->vecs[i].live) && !m->vecs[i].msix)
			v = &m->vecs[i];
	if (!v)
		ret = ret ? ret : -ENOENT;
	for (uint32_t k = 0; k < runs && !ret; k++) {
		double t0 = now_ns();

		for (uint32_t i = 0; i < n && !ret; i++) {
			ret = ims__sim_fire(m, v);
			for (uint32_t c = 0; c < m->cfg.cpus; c++)
				while (ims__sim_cpu_accept(m, c) >= 0)
					;
		}
		t[k] = (now_ns() - t0) / n;
		base[k] = chase_ns(n);
	}
	ims__sim_machine_destroy(m);
	if (ret)
		return fail(ret, "delivery");
	r.what = "one interrupt through the simulated machine: slot -> remapping -> local APIC -> "
		 "dispatch -> handler -> EOI, one thread, with the simulation's own bookkeeping";
	r.median = median(t, runs);
	r.baseline_median = median(base, runs);
	emit(fn, ctx, &r);
	return 0;
}

static int matrix_ns(uint32_t cpus, uint32_t reps, double *ns)
{
	struct ims__matrix *mx;
	double t0;
	uint32_t cpu;
	int ret = ims__matrix_create(cpus, 0xec, &mx);

	/* A new matrix has every CPU online. */
	if (ret)
		return ret;
	t0 = now_ns();
	for (uint32_t i = 0; i < reps && !ret; i++) {
		ret = ims__matrix_alloc(mx, NULL, &cpu);
		if (ret >= 0)
			ret = ims__matrix_free(mx, cpu, (uint32_t)ret);
	}
	*ns = (now_ns() - t0) / reps;
	ims__matrix_destroy(mx);
	return ret;
}

static int bench_matrix(uint32_t runs, ims_bench_fn fn, void *ctx)
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
		return fail(ret, "matrix_4096_cpus");
	r.what = "allocate and free one vector from the matrix, any CPU, 4,096 CPUs online";
	r.median = median(b, runs);
	r.baseline_median = median(a, runs);
	r.target = 2 * r.baseline_median;
	emit(fn, ctx, &r);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(uint32_t runs, ims_bench_fn fn, void *ctx);
} benches[] = {
	{ "alloc_free_ims", bench_alloc_free },
	{ "memory_per_ims_vector", bench_memory },
	{ "delivery", bench_delivery },
	{ "matrix_4096_cpus", bench_matrix },
};

IMS_API int ims_bench_run(const char *filter, uint32_t runs, ims_bench_fn fn, void *ctx)
{
	int ret;

	if (!fn)
		return ims__error(-EINVAL, "bench: NULL result callback");
	if (runs > MAX_RUNS)
		return ims__error(-EINVAL, "bench: %u runs, at most %u", runs, MAX_RUNS);
	if (!runs)
		runs = 5;
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		if (filter && !strstr(benches[i].name, filter))
			continue;
		ret = benches[i].run(runs, fn, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

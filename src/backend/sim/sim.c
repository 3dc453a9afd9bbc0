/*
 * The deterministic simulation: a seeded scheduler that draws one
 * operation per step (a control operation or a data event), runs it on the
 * machine, traces it, and checks the invariants; the shrinker that replays
 * shorter operation lists to find a short trace of a violation; the
 * threaded mode; and the public API of ims/sim.h. docs/sim.md describes
 * the scheduler and each invariant.
 *
 * Operations carry raw random numbers and pick their target among what
 * exists when they run (the n-th live ADI, the first free slot from some
 * point), so any sublist of a run's operations is itself a valid run: that
 * is what lets the shrinker delete operations freely.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/sim/machine.h"
#include "backend/sim/sim_internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- random numbers: splitmix64, enough for scheduling ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- operations ---- */

enum op_kind {
	OP_FIRE, OP_ACCEPT, OP_ADI_CREATE, OP_ADI_DESTROY, OP_DISABLE, OP_ENABLE, OP_AFFINITY,
	OP_POST, OP_UNPOST, OP_CPU_OFF, OP_CPU_ON, OP_VCPU_SCHED, OP_DRAIN, OP_GUEST_MSIX, OP_NR
};

static const char *const op_names[OP_NR] = {
	"fire", "accept", "adi-create", "adi-destroy", "mask", "unmask", "affinity",
	"post", "unpost", "cpu-offline", "cpu-online", "vcpu-sched", "drain", "guest-msix",
};

struct sim_op {
	uint8_t kind;
	uint32_t a, b, c;
};

static void op_weights(const struct ims_sim_config *cfg, uint32_t w[OP_NR])
{
	static const uint32_t base[OP_NR] = { 400, 300, 40, 25, 30, 30, 50, 0, 20, 8, 12, 20, 15, 20 };

	memcpy(w, base, sizeof(base));
	w[OP_POST] = cfg->guests ? cfg->posted_percent * 60 / 100 : 0;
	if (!cfg->guests) {
		w[OP_UNPOST] = 0;
		w[OP_VCPU_SCHED] = 0;
		w[OP_GUEST_MSIX] = 0;
	}
	/* CPU hotplug is modelled by the x86 vector domain only. */
	if (cfg->cpus < 2 || cfg->arch == IMS_SIM_ARCH_ARM)
		w[OP_CPU_OFF] = w[OP_CPU_ON] = 0;
}

static struct sim_op op_draw(uint64_t *rng, const uint32_t w[OP_NR], uint32_t total)
{
	struct sim_op op = { 0 };
	uint32_t r = (uint32_t)(rng_next(rng) % total);
	uint64_t x = rng_next(rng);

	while (r >= w[op.kind]) {
		r -= w[op.kind];
		op.kind++;
	}
	op.a = (uint32_t)x;
	op.b = (uint32_t)(x >> 32);
	op.c = (uint32_t)rng_next(rng);
	return op;
}

/* The first ADI slot of dev from start (in turn) that is (not) live. */
static int find_adi(struct sim_machine *m, uint32_t dev, uint32_t start, bool live, int posted)
{
	for (uint32_t i = 0; i < m->cfg.adis; i++) {
		uint32_t s = (start + i) % m->cfg.adis;
		struct sim_adi *a = sim_adi_at(m, dev, s);

		if (a->live != live)
			continue;
		if (posted >= 0 && (a->guest != SIM_NO_GUEST) != (posted > 0))
			continue;
		return (int)s;
	}
	return -1;
}

/* A live vector of dev: an ADI's (from start), or the MSI-X one one time in 16. */
static struct sim_vec *pick_vec(struct sim_machine *m, uint32_t dev, uint32_t a, uint32_t c)
{
	uint32_t vpd = sim_vecs_per_dev(m);
	int s;

	/* (A device whose driver keeps MSI-X to itself has no MSI-X record.) */
	if (c % 16 == 0 && atomic_load(&m->vecs[dev * vpd + vpd - 1].live))
		return &m->vecs[dev * vpd + vpd - 1];
	s = find_adi(m, dev, a, true, -1);
	if (s < 0)
		return NULL;
	return &m->vecs[sim_adi_at(m, dev, (uint32_t)s)->first_vec + c % m->cfg.vectors_per_adi];
}

/* An operation that found nothing to act on: say so in the trace, succeed. */
static int nothing(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int nothing(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return 0;
}

static int op_run(struct sim_machine *m, const struct sim_op *op, char *buf, size_t len)
{
	uint32_t dev = op->a % m->cfg.devices;
	struct sim_vec *v = NULL;
	int ret = 0, s;

	switch (op->kind) {
	case OP_GUEST_MSIX:
		s = find_adi(m, dev, op->b, true, 1);
		if (s < 0)
			return nothing(buf, len, "guest-msix dev%u: nothing posted", dev);
		v = &m->vecs[sim_adi_at(m, dev, (uint32_t)s)->first_vec + op->c % m->cfg.vectors_per_adi];
		snprintf(buf, len, "guest-msix dev%u adi%d.%u guest vector 0x%x", dev, s, v->nr, v->gvec);
		ret = ims__sim_guest_revector(m, v, op->c >> 8);
		snprintf(buf + strlen(buf), len - strlen(buf), " -> 0x%x", v->gvec);
		return ret;
	case OP_FIRE:
	case OP_DISABLE:
	case OP_AFFINITY:
		v = pick_vec(m, dev, op->b, op->c);
		if (!v)
			return nothing(buf, len, "%s dev%u: no ADI", op_names[op->kind], dev);
		if (op->kind == OP_FIRE)
			ret = ims__sim_fire(m, v);
		else if (op->kind == OP_DISABLE)
			ret = ims__sim_vec_disable(m, v);
		else
			ret = ims__sim_vec_affinity(m, v, op->b >> 8, op->b >> 16);
		snprintf(buf, len, "%s dev%u %s%u.%u irq %u slot %u%s", op_names[op->kind], dev,
			 v->msix ? "msix" : "adi", v->adi, v->nr, v->irq, v->index,
			 atomic_load(&v->posted) ? " posted" : "");
		if (op->kind == OP_AFFINITY)
			snprintf(buf + strlen(buf), len - strlen(buf), " cpus %u,%u", (op->b >> 8) % m->cfg.cpus,
				 (op->b >> 16) % m->cfg.cpus);
		return ret;
	case OP_ENABLE: {
		uint32_t vpd = sim_vecs_per_dev(m);

		for (uint32_t i = 0; i < vpd; i++) {
			struct sim_vec *c = &m->vecs[dev * vpd + (op->b + i) % vpd];

			if (atomic_load(&c->live) && !c->enabled) {
				v = c;
				break;
			}
		}
		if (!v)
			return nothing(buf, len, "unmask dev%u: nothing masked", dev);
		ret = ims__sim_vec_enable(m, v);
		snprintf(buf, len, "unmask dev%u %s%u.%u irq %u", dev, v->msix ? "msix" : "adi", v->adi, v->nr,
			 v->irq);
		return ret;
	}
	case OP_ACCEPT: {
		uint32_t cpu = op->a % m->cfg.cpus;
		int vec = ims__sim_cpu_accept(m, cpu);

		snprintf(buf, len, "accept cpu%u vector %d", cpu, vec);
		return 0;
	}
	case OP_ADI_CREATE:
		s = find_adi(m, dev, op->b, false, -1);
		if (s < 0)
			return nothing(buf, len, "adi-create dev%u: all in use", dev);
		ret = ims__sim_adi_create(m, dev, (uint32_t)s);
		snprintf(buf, len, "adi-create dev%u adi%d", dev, s);
		if (!ret)
			snprintf(buf + strlen(buf), len - strlen(buf), " irqs %u..", m->vecs[sim_adi_at(m, dev,
				 (uint32_t)s)->first_vec].irq);
		return ret;
	case OP_ADI_DESTROY:
		s = find_adi(m, dev, op->b, true, -1);
		if (s < 0)
			return nothing(buf, len, "adi-destroy dev%u: none", dev);
		snprintf(buf, len, "adi-destroy dev%u adi%d", dev, s);
		return ims__sim_adi_destroy(m, dev, (uint32_t)s);
	case OP_POST:
		s = find_adi(m, dev, op->b, true, 0);
		if (s < 0)
			return nothing(buf, len, "post dev%u: none", dev);
		snprintf(buf, len, "post dev%u adi%d guest %u", dev, s, op->c % m->cfg.guests);
		return ims__sim_adi_post(m, dev, (uint32_t)s, op->c, op->b >> 16);
	case OP_UNPOST:
		s = find_adi(m, dev, op->b, true, 1);
		if (s < 0)
			return nothing(buf, len, "unpost dev%u: none", dev);
		snprintf(buf, len, "unpost dev%u adi%d", dev, s);
		return ims__sim_adi_unpost(m, dev, (uint32_t)s);
	case OP_CPU_OFF: {
		uint32_t cpu = 1 + op->a % (m->cfg.cpus - 1);

		snprintf(buf, len, "cpu-offline cpu%u", cpu);
		return ims__sim_cpu_offline(m, cpu);
	}
	case OP_CPU_ON:
		for (uint32_t i = 0; i < m->cfg.cpus; i++) {
			uint32_t cpu = (op->a + i) % m->cfg.cpus;

			if (m->cpu_offline[cpu]) {
				snprintf(buf, len, "cpu-online cpu%u", cpu);
				return ims__sim_cpu_online(m, cpu);
			}
		}
		return nothing(buf, len, "cpu-online: none offline");
	case OP_VCPU_SCHED: {
		uint32_t vi = op->a % m->nr_vcpus;
		bool run = m->vcpus[vi].descheduled;

		ims__sim_vcpu_sched(m, vi, run);
		snprintf(buf, len, "vcpu-sched guest %u vcpu %u %s", m->vcpus[vi].guest, m->vcpus[vi].nr,
			 run ? "in" : "out");
		return 0;
	}
	case OP_DRAIN:
		snprintf(buf, len, "drain");
		return ims__sim_quiesce_check(m, NULL);
	}
	return 0;
}

/* ---- one run over a list of operations ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h ^ '\n';
}

struct run_ctx {
	const struct ims_sim_config *cfg;
	enum sim_bug bug;
	const struct ims_sim_callbacks *cb;
	struct ims_sim_result *res;	/* NULL while shrinking */
	/* The operations: drawn from the seed (ops_in NULL) or given. */
	const struct sim_op *ops_in;
	uint64_t nr_ops;
	struct sim_op *ops_out;		/* where drawn operations are kept */
	/* Trace text of the run, for the minimal trace (NULL: none). */
	char *text;
	size_t text_len, text_cap;
	/* What happened. */
	enum ims_sim_violation_kind violation;
	uint64_t violation_step;
	char msg[256];
	uint64_t hash;
};

static void text_add(struct run_ctx *rc, const char *line)
{
	size_t n = strlen(line) + 1;

	if (rc->text_len + n + 1 > rc->text_cap) {
		size_t cap = (rc->text_cap ? rc->text_cap * 2 : 4096) + n;
		char *t = realloc(rc->text, cap);

		if (!t)
			return;
		rc->text = t;
		rc->text_cap = cap;
	}
	memcpy(rc->text + rc->text_len, line, n - 1);
	rc->text_len += n;
	rc->text[rc->text_len - 1] = '\n';
	rc->text[rc->text_len] = 0;
}

/* Remapping faults (x86), or messages the ITS could not translate (arm). */
static uint64_t sim_faults(struct sim_machine *m)
{
	struct ims_hw_its_stats st;

	if (!m->gic)
		return atomic_load(&m->fabric_faults);
	ims__hw_gic_its_stats(m->gic, &st);
	return st.faults;
}

/* Entries the MSI parent holds in unit u: IRTEs, or on arm the LPIs (unit 0). */
static uint32_t parent_entries(struct sim_machine *m, uint32_t u)
{
	if (m->its) {
		struct ims_arm_its_stats st;

		if (u)
			return 0;
		ims_arm_its_get_stats(m->its, &st);
		return st.lpis_used;
	} else {
		struct ims_remap_stats st;

		ims_remap_get_stats(m->remaps[u], &st);
		return st.allocated;
	}
}

static void sample_series(struct sim_machine *m, struct ims_sim_result *res, uint32_t point,
			  uint64_t *last_adi, uint64_t *last_faults)
{
	uint64_t *cpu = calloc(m->cfg.cpus, sizeof(uint64_t));
	uint32_t nadi = m->cfg.devices * m->cfg.adis;

	if (point >= IMS_SIM_SERIES_BUCKETS || !cpu) {
		free(cpu);
		return;
	}
	ims__sim_vectors_per_cpu(m, cpu);
	for (uint32_t c = 0; c < m->cfg.cpus; c++) {
		res->vectors_per_cpu.v[c * IMS_SIM_SERIES_BUCKETS + point] = cpu[c];
		if (cpu[c] > res->max_vectors_used_per_cpu)
			res->max_vectors_used_per_cpu = (uint32_t)cpu[c];
	}
	for (uint32_t u = 0; u < m->cfg.ir_units; u++)
		res->irtes_per_unit.v[u * IMS_SIM_SERIES_BUCKETS + point] = parent_entries(m, u);
	for (uint32_t i = 0; i < nadi; i++) {
		uint64_t r = atomic_load(&m->adi_runs[i]);

		res->irqs_per_adi.v[i * IMS_SIM_SERIES_BUCKETS + point] = r - last_adi[i];
		last_adi[i] = r;
	}
	res->faults_series.v[point] = sim_faults(m) - *last_faults;
	*last_faults = sim_faults(m);
	res->vectors_per_cpu.points = res->irtes_per_unit.points = res->irqs_per_adi.points =
		res->faults_series.points = point + 1;
	free(cpu);
}

static void peaks(struct sim_machine *m, struct ims_sim_result *res)
{
	uint64_t *cpu = calloc(m->cfg.cpus, sizeof(uint64_t));
	uint32_t irtes = 0, ims = 0;

	if (cpu) {
		ims__sim_vectors_per_cpu(m, cpu);
		for (uint32_t c = 0; c < m->cfg.cpus; c++)
			if (cpu[c] > res->max_vectors_used_per_cpu)
				res->max_vectors_used_per_cpu = (uint32_t)cpu[c];
		free(cpu);
	}

	for (uint32_t u = 0; u < m->cfg.ir_units; u++)
		irtes += parent_entries(m, u);
	for (uint32_t d = 0; d < m->cfg.devices; d++)
		ims += ims_msi_nr_allocated(m->dev_ops->os_device(m->devs[d]), IMS_MSI_SECONDARY_DOMAIN);
	if (irtes > res->irtes_used)
		res->irtes_used = irtes;
	if (ims > res->ims_vectors_allocated)
		res->ims_vectors_allocated = ims;
}

static int take_rows(struct sim_machine *m, struct ims_sim_result *res)
{
	uint32_t n = 0, r = 0;

	for (uint32_t i = 0; i < m->nr_vecs; i++)
		n += atomic_load(&m->vecs[i].live);
	res->rows = calloc(n ? n : 1, sizeof(*res->rows));
	if (!res->rows)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->nr_vecs; i++) {
		struct sim_vec *v = &m->vecs[i];
		struct ims_sim_irq_row *row = &res->rows[r];
		struct ims_irq_info info;
		uint16_t rid = m->dev_rid[v->dev];

		if (!atomic_load(&v->live) || ims_irq_get_info(m->core, v->irq, &info))
			continue;
		row->per_cpu = calloc(m->cfg.cpus, sizeof(uint64_t));
		if (!row->per_cpu)
			return -ENOMEM;
		row->irq = v->irq;
		row->hwirq = info.hwirq;
		for (uint32_t c = 0; c < m->cfg.cpus; c++) {
			row->per_cpu[c] = ims_irq_count_cpu(m->core, v->irq, c);
			row->total += row->per_cpu[c];
		}
		snprintf(row->chip, sizeof(row->chip), "%s", info.chip);
		snprintf(row->domain, sizeof(row->domain), "%s", info.domain);
		snprintf(row->action, sizeof(row->action), "%s", info.actions);
		snprintf(row->device, sizeof(row->device), "0000:%02x:%02x.%x", rid >> 8, (rid >> 3) & 0x1f,
			 rid & 7);
		row->posted = atomic_load(&v->posted);
		r++;
	}
	/* Rows in irq order, as /proc/interrupts lists them. */
	for (uint32_t i = 1; i < r; i++)
		for (uint32_t j = i; j > 0 && res->rows[j - 1].irq > res->rows[j].irq; j--) {
			struct ims_sim_irq_row t = res->rows[j];

			res->rows[j] = res->rows[j - 1];
			res->rows[j - 1] = t;
		}
	res->nr_rows = r;
	return 0;
}

static void finish_counts(struct sim_machine *m, struct ims_sim_result *res)
{
	struct ims_x86_vector_stats vs = { 0 };

	if (m->vd) {
		ims_x86_vector_get_stats(m->vd, &vs);
	} else {
		struct ims_arm_its_stats st;

		ims_arm_its_get_stats(m->its, &st);
		vs.spurious = st.spurious;
	}
	res->fired = atomic_load(&m->fired);
	res->delivered = atomic_load(&m->delivered);
	res->delivered_guest = atomic_load(&m->delivered_guest);
	res->misdelivered = atomic_load(&m->misdelivered);
	res->after_free = atomic_load(&m->after_free);
	res->cross_guest = atomic_load(&m->cross_guest);
	res->faults = sim_faults(m);
	res->spurious = vs.spurious;
	res->kvm_irqfd_fires = m->route_fires;
	/*
	 * Raises that no handler run stands for and that are not held: they
	 * were absorbed on the way (a slot pending while masked, an IRR or PIR
	 * bit already set), or raised on a vector freed before delivery.
	 */
	res->coalesced = res->fired > res->delivered + res->pending ? res->fired - res->delivered - res->pending : 0;
	res->cpus = m->cfg.cpus;
	res->cpu_vector = calloc((size_t)m->cfg.cpus * 256, sizeof(uint64_t));
	if (res->cpu_vector)
		for (uint32_t i = 0; i < m->cfg.cpus * 256; i++)
			res->cpu_vector[i] = atomic_load(&m->cpu_vector[i]);
	res->nr_vcpus = m->nr_vcpus;
	res->vcpu_vector = m->nr_vcpus ? calloc((size_t)m->nr_vcpus * 256, sizeof(uint64_t)) : NULL;
	for (uint32_t i = 0; res->vcpu_vector && i < m->nr_vcpus; i++) {
		struct sim_guest *g = &m->guests[m->vcpus[i].guest];

		/* Counted under the guest's lock by whoever took the descriptor. */
		ims__spin_lock(&g->lock);
		memcpy(&res->vcpu_vector[(size_t)i * 256], m->vcpus[i].gvec_count, 256 * sizeof(uint64_t));
		ims__spin_unlock(&g->lock);
	}
}

static void violation_from_machine(struct sim_machine *m, struct run_ctx *rc, uint64_t step)
{
	rc->violation = (enum ims_sim_violation_kind)atomic_load(&m->violation);
	rc->violation_step = step;
	ims__spin_lock(&m->violation_lock);
	snprintf(rc->msg, sizeof(rc->msg), "%s", m->violation_msg);
	ims__spin_unlock(&m->violation_lock);
}

static int series_alloc(struct ims_sim_series *s, uint32_t n, uint64_t per_point)
{
	s->n = n;
	s->step_per_point = per_point;
	s->v = calloc((size_t)(n ? n : 1) * IMS_SIM_SERIES_BUCKETS, sizeof(uint64_t));
	return s->v ? 0 : -ENOMEM;
}

/*
 * Build a machine and run the operations of rc (drawn or given). 0, or a
 * negative errno if the machine could not be built.
 */
static int run_ops(struct run_ctx *rc)
{
	const struct ims_sim_config *cfg = rc->cfg;
	struct ims_sim_result *res = rc->res;
	uint32_t w[OP_NR], total = 0;
	uint64_t rng = cfg->seed, per_point, *last_adi = NULL, last_faults = 0, step;
	uint32_t check_every = cfg->check_every ? cfg->check_every : 1, point = 0;
	uint64_t progress_every = rc->nr_ops / 100 ? rc->nr_ops / 100 : 1;
	struct sim_machine *m;
	char line[320], desc[256];
	int ret;

	op_weights(cfg, w);
	for (int k = 0; k < OP_NR; k++)
		total += w[k];
	ret = ims__sim_machine_create(cfg, rc->bug, &m);
	if (ret)
		return ret;
	per_point = (rc->nr_ops + IMS_SIM_SERIES_BUCKETS - 1) / IMS_SIM_SERIES_BUCKETS;
	if (res) {
		if (series_alloc(&res->vectors_per_cpu, cfg->cpus, per_point) ||
		    series_alloc(&res->irtes_per_unit, cfg->ir_units, per_point) ||
		    series_alloc(&res->irqs_per_adi, cfg->devices * cfg->adis, per_point) ||
		    series_alloc(&res->faults_series, 1, per_point) ||
		    !(last_adi = calloc((size_t)cfg->devices * cfg->adis, sizeof(uint64_t)))) {
			ims__sim_machine_destroy(m);
			return -ENOMEM;
		}
	}
	rc->hash = 0xcbf29ce484222325ull;
	rc->violation = IMS_SIM_OK;
	if (cfg->fault_rate)
		ims_fault_arm_rate(cfg->fault_rate, cfg->seed);
	for (step = 0; step < rc->nr_ops; step++) {
		struct sim_op op = rc->ops_in ? rc->ops_in[step] : op_draw(&rng, w, total);
		int r;

		if (rc->ops_out)
			rc->ops_out[step] = op;
		m->step = step;
		if (m->dev_ops->step) {
			for (uint32_t d = 0; d < cfg->devices; d++)
				m->dev_ops->step(m->devs[d], step);
			ims__sim_flush(m, 0);
		}
		desc[0] = 0;
		r = ims__sim_flush(m, op_run(m, &op, desc, sizeof(desc)));
		snprintf(line, sizeof(line), "%llu %s -> %d", (unsigned long long)step, desc, r);
		rc->hash = fnv1a(rc->hash, line);
		if (rc->cb && rc->cb->trace)
			rc->cb->trace(rc->cb->ctx, step, line);
		if (rc->text)
			text_add(rc, line);
		if (res && r < 0 && r != -EALREADY && op.kind != OP_DRAIN)
			res->alloc_failures++;
		if (!atomic_load(&m->violation) && (step + 1) % check_every == 0 && ims__sim_check_counts(m))
			ims__sim_violation(m, IMS_SIM_COUNTER, "step %llu: %s", (unsigned long long)step,
					   ims_last_error());
		if (atomic_load(&m->violation)) {
			violation_from_machine(m, rc, step);
			step++;
			break;
		}
		if (res) {
			/* Where vectors, entries or slots are taken or moved. */
			if (op.kind == OP_ADI_CREATE || op.kind == OP_UNPOST || op.kind == OP_AFFINITY ||
			    op.kind == OP_CPU_OFF)
				peaks(m, res);
			if ((step + 1) % per_point == 0)
				sample_series(m, res, point++, last_adi, &last_faults);
			if (rc->cb && rc->cb->progress && (step + 1) % progress_every == 0)
				rc->cb->progress(rc->cb->ctx, step + 1, rc->nr_ops);
		}
	}
	if (cfg->fault_rate) {
		if (res)
			res->injected_faults = ims_fault_injected();
		ims_fault_disarm();
	}
	if (!rc->violation) {
		uint64_t pending = 0;

		m->step = step;
		if (ims__sim_quiesce_check(m, &pending) || ims__sim_check_counts(m)) {
			if (!atomic_load(&m->violation))
				ims__sim_violation(m, IMS_SIM_COUNTER, "end: %s", ims_last_error());
			violation_from_machine(m, rc, step);
		}
		if (res)
			res->pending = pending;
	}
	if (res) {
		res->steps = step;
		if (point < IMS_SIM_SERIES_BUCKETS && step % per_point)
			sample_series(m, res, point, last_adi, &last_faults);
		finish_counts(m, res);
		ret = take_rows(m, res);
	}
	free(last_adi);
	ims__sim_machine_destroy(m);
	return ret;
}

int ims__sim_take_result(struct sim_machine *m, struct ims_sim_result *res)
{
	finish_counts(m, res);
	return take_rows(m, res);
}

/* ---- shrinking ---- */

static enum ims_sim_violation_kind replay(const struct ims_sim_config *cfg, enum sim_bug bug,
					  const struct sim_op *ops, uint64_t n)
{
	struct run_ctx rc = { .cfg = cfg, .bug = bug, .ops_in = ops, .nr_ops = n };

	if (run_ops(&rc))
		return IMS_SIM_OK;
	return rc.violation;
}

/*
 * Delete chunks of operations, halving the chunk size, keeping each
 * deletion after which the same kind of violation still happens. At most
 * budget replays, and about SHRINK_MAX_OPS operations replayed in all, so
 * that a violation found late in a long run is shrunk in bounded time.
 * Returns the new length.
 */
#define SHRINK_MAX_OPS 2000000u

static uint64_t shrink(const struct ims_sim_config *cfg, enum sim_bug bug, struct sim_op *ops, uint64_t n,
		       enum ims_sim_violation_kind kind, unsigned int budget)
{
	struct sim_op *cand = malloc((n ? n : 1) * sizeof(*cand));
	uint64_t replayed = 0;

	if (!cand)
		return n;
	for (uint64_t chunk = n / 2; chunk >= 1 && budget; chunk /= 2) {
		for (uint64_t i = 0; i < n && budget && n > 1 && replayed < SHRINK_MAX_OPS;) {
			uint64_t k = i + chunk > n ? n - i : chunk, len = 0;

			memcpy(cand, ops, i * sizeof(*ops));
			memcpy(cand + i, ops + i + k, (n - i - k) * sizeof(*ops));
			len = n - k;
			budget--;
			replayed += len;
			if (replay(cfg, bug, cand, len) == kind) {
				memcpy(ops, cand, len * sizeof(*ops));
				n = len;
			} else {
				i += k;
			}
		}
	}
	free(cand);
	return n;
}

/* ---- threaded mode ---- */

struct thr {
	struct sim_machine *m;
	uint32_t id, nr;		/* index among threads of its kind, and their number */
	uint64_t budget;		/* device threads: raises to make */
	uint64_t seed;
	atomic_bool *stop;
	atomic_uint *devices_left;
};

#define SIM_MT_STALL	10000000ull

static void *device_thread(void *arg)
{
	struct thr *t = arg;
	struct sim_machine *m = t->m;
	uint64_t rng = t->seed;

	/*
	 * The thread ends when it has made its share of the raises, however
	 * slowly the other threads run: a raise refused (its ADI away, every
	 * completion record of the ADI in use) is tried again. Only a thread
	 * that can make no raise at all for SIM_MT_STALL tries in a row (none
	 * of its vectors comes back) gives up, with fewer raises made.
	 */
	for (uint64_t fired = 0, stalled = 0; fired < t->budget && stalled < SIM_MT_STALL; stalled++) {
		uint64_t x = rng_next(&rng);
		uint32_t id = (uint32_t)(x % m->nr_vecs);
		struct sim_vec *v;

		/* Each thread raises only its own share of the vectors. */
		id -= id % t->nr;
		id += t->id;
		if (id >= m->nr_vecs)
			continue;
		v = &m->vecs[id];
		/*
		 * Mostly one completion outstanding per vector, as a queue with
		 * its interrupt not yet serviced would have; one raise in four
		 * comes regardless, so that raises also meet in IRR and PIR.
		 */
		if (sim_vec_due(m, v) && (x >> 60) & 3) {
			sched_yield();
			continue;
		}
		if (ims__sim_fire_guarded(m, v)) {
			fired++;
			stalled = 0;
		} else {
			sched_yield();	/* away or full: the control or device thread frees it */
		}
	}
	atomic_fetch_sub(t->devices_left, 1);
	return NULL;
}

static void *cpu_thread(void *arg)
{
	struct thr *t = arg;
	struct sim_machine *m = t->m;

	while (!atomic_load(t->stop)) {
		bool any = false;

		for (uint32_t c = t->id; c < m->cfg.cpus; c += t->nr)
			while (ims__sim_cpu_accept(m, c) >= 0)
				any = true;
		if (!any)
			sched_yield();
	}
	return NULL;
}

static void *control_thread(void *arg)
{
	struct thr *t = arg;
	struct sim_machine *m = t->m;
	uint64_t rng = t->seed;

	while (atomic_load(t->devices_left)) {
		uint64_t x = rng_next(&rng);
		struct sim_vec *v = &m->vecs[(x >> 8) % m->nr_vecs];
		uint32_t dev = v->dev, slot = v->adi;

		switch (x % 9) {
		case 0:
		case 1:
			if (!atomic_load(&v->live))
				break;
			if (v->enabled)
				ims__sim_vec_disable(m, v);
			else
				ims__sim_vec_enable(m, v);
			break;
		case 2:
		case 3:
			if (atomic_load(&v->live))
				ims__sim_vec_affinity(m, v, (uint32_t)(x >> 32), (uint32_t)(x >> 40));
			break;
		case 4:		/* an ADI goes away while its vectors fire */
			if (!v->msix && sim_adi_at(m, dev, slot)->live)
				ims__sim_adi_destroy(m, dev, slot);
			break;
		case 5:
			if (v->msix || !m->cfg.guests || m->dev_ops->driver_handlers ||
			    !sim_adi_at(m, dev, slot)->live)
				break;
			if (sim_adi_at(m, dev, slot)->guest == SIM_NO_GUEST)
				ims__sim_adi_post(m, dev, slot, (uint32_t)(x >> 32), (uint32_t)(x >> 48));
			else
				ims__sim_adi_unpost(m, dev, slot);
			break;
		case 7:
			if (atomic_load(&v->posted))
				ims__sim_guest_revector(m, v, (uint32_t)(x >> 32));
			break;
		case 6:
			if (m->nr_vcpus) {
				uint32_t vi = (uint32_t)(x >> 32) % m->nr_vcpus;

				ims__sim_vcpu_sched(m, vi, atomic_load(&m->vcpus[vi].descheduled));
			}
			break;
		default:	/* and comes back */
			if (!v->msix && !sim_adi_at(m, dev, slot)->live)
				ims__sim_adi_create(m, dev, slot);
			sched_yield();
			break;
		}
	}
	return NULL;
}

static int run_threaded(const struct ims_sim_config *cfg, struct ims_sim_result *res, struct run_ctx *rc)
{
	uint32_t nr_dev = (cfg->threads - 1) / 2, nr_cpu = cfg->threads - 1 - nr_dev;
	struct thr *th = calloc(cfg->threads, sizeof(*th));
	pthread_t *tid = calloc(cfg->threads, sizeof(*tid));
	atomic_bool stop = false;
	atomic_uint left = nr_dev;
	struct sim_machine *m = NULL;
	uint64_t pending = 0;
	uint32_t i, started = 0;
	int ret = -ENOMEM;

	if (!th || !tid)
		goto out;
	if (nr_cpu > cfg->cpus)
		nr_cpu = cfg->cpus;
	ret = ims__sim_machine_create(cfg, rc->bug, &m);
	if (ret)
		goto out;
	for (uint32_t d = 0; d < cfg->devices; d++)
		for (uint32_t a = 0; a < cfg->adis; a++)
			ims__sim_adi_create(m, d, a);	/* as many as fit */
	peaks(m, res);
	for (i = 0; m->dev_ops->start && i < cfg->devices; i++) {
		ret = m->dev_ops->start(m->devs[i]);
		if (ret) {
			while (i--)
				m->dev_ops->stop(m->devs[i]);
			goto out;
		}
	}
	for (i = 0; i < nr_dev + nr_cpu + 1; i++) {
		struct thr *t = &th[i];
		void *(*fn)(void *);

		*t = (struct thr){ .m = m, .seed = cfg->seed * 1000003u + i, .stop = &stop, .devices_left = &left };
		if (i < nr_dev) {
			t->id = i;
			t->nr = nr_dev;
			t->budget = cfg->steps / nr_dev + (i < cfg->steps % nr_dev);
			fn = device_thread;
		} else if (i < nr_dev + nr_cpu) {
			t->id = i - nr_dev;
			t->nr = nr_cpu;
			fn = cpu_thread;
		} else {
			fn = control_thread;
		}
		if (pthread_create(&tid[i], NULL, fn, t)) {
			ret = ims__error(-EAGAIN, "sim: cannot start thread %u", i);
			atomic_store(&left, 0);
			break;
		}
		started++;
	}
	/* Device and control threads end by themselves; then the CPUs stop. */
	for (i = 0; i < started; i++)
		if (i < nr_dev || i == nr_dev + nr_cpu)
			pthread_join(tid[i], NULL);
	/* The devices' own threads stop (queued work is then completed by the drain). */
	for (uint32_t d = 0; m->dev_ops->stop && d < cfg->devices; d++)
		m->dev_ops->stop(m->devs[d]);
	atomic_store(&stop, true);
	for (i = nr_dev; i < nr_dev + nr_cpu && i < started; i++)
		pthread_join(tid[i], NULL);
	if (started < nr_dev + nr_cpu + 1)
		goto out;
	/* ADIs back, everything unmasked, then the end checks on a quiet machine. */
	for (uint32_t d = 0; d < cfg->devices; d++)
		for (uint32_t a = 0; a < cfg->adis; a++)
			if (!sim_adi_at(m, d, a)->live)
				ims__sim_adi_create(m, d, a);
	for (i = 0; i < m->nr_vecs; i++)
		if (atomic_load(&m->vecs[i].live) && !m->vecs[i].enabled)
			ims__sim_vec_enable(m, &m->vecs[i]);
	if (ims__sim_quiesce_check(m, &pending) || ims__sim_check_counts(m))
		if (!atomic_load(&m->violation))
			ims__sim_violation(m, IMS_SIM_COUNTER, "end: %s", ims_last_error());
	if (atomic_load(&m->violation))
		violation_from_machine(m, rc, cfg->steps);
	res->steps = cfg->steps;
	res->pending = pending;
	if (rc->cb && rc->cb->progress)
		rc->cb->progress(rc->cb->ctx, cfg->steps, cfg->steps);
	if (!series_alloc(&res->vectors_per_cpu, cfg->cpus, cfg->steps) &&
	    !series_alloc(&res->irtes_per_unit, cfg->ir_units, cfg->steps) &&
	    !series_alloc(&res->irqs_per_adi, cfg->devices * cfg->adis, cfg->steps) &&
	    !series_alloc(&res->faults_series, 1, cfg->steps)) {
		uint64_t *last = calloc((size_t)cfg->devices * cfg->adis, sizeof(uint64_t)), lf = 0;

		if (last)
			sample_series(m, res, 0, last, &lf);
		free(last);
	}
	finish_counts(m, res);
	ret = take_rows(m, res);
out:
	ims__sim_machine_destroy(m);
	free(th);
	free(tid);
	return ret;
}

/* ---- public API ---- */

IMS_API void ims_sim_config_default(struct ims_sim_config *cfg)
{
	*cfg = (struct ims_sim_config){
		.cpus = 4, .ir_units = 2, .devices = 1, .adis = 8, .vectors_per_adi = 8,
		.ims_slots = 2048, .msix_vectors = 9, .guests = 2, .vcpus = 2, .posted_percent = 50,
		.storage = IMS_SIM_STORAGE_ARRAY, .steps = 10000, .seed = 1, .threads = 0,
		.backend = IMS_SIM_BACKEND_SIM, .shrink = true,
	};
}

#define RANGE(field, lo, hi)                                                                    \
	do {                                                                                    \
		if ((uint64_t)cfg->field < (lo) || (uint64_t)cfg->field > (hi))                 \
			return ims__error(-EINVAL, "sim: " #field " is %llu, must be %llu..%llu", \
					  (unsigned long long)cfg->field, (unsigned long long)(lo),     \
					  (unsigned long long)(hi));                            \
	} while (0)

IMS_API int ims_sim_config_validate(const struct ims_sim_config *cfg)
{
	uint32_t slots, msix;

	if (!cfg)
		return ims__error(-EINVAL, "sim: no configuration");
	slots = cfg->ims_slots ? cfg->ims_slots : 2048;
	msix = cfg->msix_vectors ? cfg->msix_vectors : 9;
	RANGE(cpus, 1, IMS_SIM_MAX_CPUS);
	RANGE(ir_units, 1, IMS_SIM_MAX_IR_UNITS);
	RANGE(devices, 1, IMS_SIM_MAX_DEVICES);
	if (cfg->arch == IMS_SIM_ARCH_X86 && cfg->devices > 15 * cfg->ir_units)
		return ims__error(-EINVAL, "sim: %u devices do not fit behind %u remapping units (15 per unit)",
				  cfg->devices, cfg->ir_units);
	if (cfg->apic_ids)
		for (uint32_t i = 0; i < cfg->cpus; i++) {
			if (cfg->apic_ids[i] >= 255)
				return ims__error(-EINVAL, "sim: APIC ID %u of CPU %u is not below 255 (xAPIC)",
						  cfg->apic_ids[i], i);
			for (uint32_t j = 0; j < i; j++)
				if (cfg->apic_ids[j] == cfg->apic_ids[i])
					return ims__error(-EINVAL, "sim: CPUs %u and %u both have APIC ID %u", j,
							  i, cfg->apic_ids[i]);
		}
	if (cfg->device_unit && cfg->arch == IMS_SIM_ARCH_X86) {
		uint32_t per[IMS_SIM_MAX_IR_UNITS] = { 0 };

		for (uint32_t d = 0; d < cfg->devices; d++) {
			if (cfg->device_unit[d] >= cfg->ir_units)
				return ims__error(-EINVAL, "sim: device %u is behind remapping unit %u of %u",
						  d, cfg->device_unit[d], cfg->ir_units);
			if (++per[cfg->device_unit[d]] > 15)
				return ims__error(-EINVAL, "sim: more than 15 devices behind remapping unit %u",
						  cfg->device_unit[d]);
		}
	}
	RANGE(adis, 1, IMS_SIM_MAX_ADIS);
	RANGE(vectors_per_adi, 1, 64);
	if (slots > 16128)
		return ims__error(-EINVAL, "sim: ims_slots is %u, must be 1..16128", slots);
	if ((uint64_t)cfg->adis * cfg->vectors_per_adi > slots)
		return ims__error(-EINVAL, "sim: %u ADIs of %u vectors need %llu IMS slots, the device has %u",
				  cfg->adis, cfg->vectors_per_adi,
				  (unsigned long long)cfg->adis * cfg->vectors_per_adi, slots);
	if (msix > 2048)
		return ims__error(-EINVAL, "sim: msix_vectors is %u, must be 1..2048", msix);
	RANGE(guests, 0, IMS_SIM_MAX_GUESTS);
	if (cfg->guests)
		RANGE(vcpus, 1, IMS_SIM_MAX_VCPUS);
	RANGE(posted_percent, 0, 100);
	RANGE(steps, 1, 1000000000ull);
	if (cfg->storage == IMS_SIM_STORAGE_QUEUE)
		return ims__error(-EOPNOTSUPP,
				  "sim: storage queue (IMS in system memory) is not available yet: its OS-side chip has not landed; use storage array");
	if (cfg->storage != IMS_SIM_STORAGE_ARRAY)
		return ims__error(-EINVAL, "sim: storage %d is neither array nor queue", (int)cfg->storage);
	if (cfg->backend != IMS_SIM_BACKEND_SIM && cfg->backend != IMS_SIM_BACKEND_KVM)
		return ims__error(-EINVAL, "sim: backend %d is neither sim nor kvm", (int)cfg->backend);
	if (cfg->threads && (cfg->threads < 3 || cfg->threads > IMS_SIM_MAX_THREADS))
		return ims__error(-EINVAL, "sim: threads is %u, must be 0 (deterministic) or 3..%u",
				  cfg->threads, IMS_SIM_MAX_THREADS);
	if (cfg->kvm_irqfd && cfg->backend != IMS_SIM_BACKEND_KVM)
		return ims__error(-EINVAL, "sim: kvm_irqfd needs the kvm backend");
	if (cfg->threads && cfg->backend == IMS_SIM_BACKEND_KVM)
		return ims__error(-EOPNOTSUPP, "sim: threaded mode runs on the sim backend only");
	if (cfg->threads && cfg->fault_rate)
		return ims__error(-EOPNOTSUPP, "sim: fault_rate needs deterministic mode (threads 0)");
	if (cfg->arch == IMS_SIM_ARCH_ARM && cfg->backend == IMS_SIM_BACKEND_KVM)
		return ims__error(-EOPNOTSUPP, "sim: backend kvm is x86 only (it delivers into KVM's "
				  "in-kernel local APICs); arch arm runs on backend sim");
	if (cfg->arch != IMS_SIM_ARCH_X86 && cfg->arch != IMS_SIM_ARCH_ARM)
		return ims__error(-EINVAL, "sim: arch %d is neither x86 nor arm", (int)cfg->arch);
	if (cfg->device != IMS_SIM_DEVICE_SIMPLE && cfg->device != IMS_SIM_DEVICE_ACCEL)
		return ims__error(-EINVAL, "sim: device %d is neither simple nor accel", (int)cfg->device);
	return 0;
}

IMS_API const char *ims_sim_violation_name(enum ims_sim_violation_kind k)
{
	static const char *const names[] = { "none", "lost", "misdelivered", "after-free",
					     "cross-guest", "counter", "internal" };

	return (unsigned int)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static void normalize(struct ims_sim_config *c)
{
	if (!c->ims_slots)
		c->ims_slots = 2048;
	if (!c->msix_vectors)
		c->msix_vectors = 9;
	if (c->arch == IMS_SIM_ARCH_ARM) {	/* host delivery only (docs/sim.md) */
		c->guests = 0;
		c->posted_percent = 0;
	}
	if (c->device == IMS_SIM_DEVICE_ACCEL)	/* its ADIs stay on the host */
		c->posted_percent = 0;
	if (!c->guests)
		c->vcpus = 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report_violation(const struct ims_sim_config *cfg, const struct ims_sim_result *res)
{
	if (cfg->quiet)
		return;
	fprintf(stderr, "ims sim: invariant violated (%s): seed %llu, step %llu\n  %s\n",
		ims_sim_violation_name(res->violation), (unsigned long long)res->seed,
		(unsigned long long)res->violation_step, res->violation_msg);
	if (res->min_trace)
		fprintf(stderr, "  a trace of %llu operations that reproduces it:\n%s",
			(unsigned long long)res->min_trace_ops, res->min_trace);
}

int ims__sim_run_bug(const struct ims_sim_config *cfg_in, enum sim_bug bug, const struct ims_sim_callbacks *cb,
		     struct ims_sim_result *res)
{
	struct ims_sim_config cfg;
	struct run_ctx rc = { .cfg = &cfg, .bug = bug, .cb = cb, .res = res };
	double t0 = now_seconds();
	int ret;

	if (!res)
		return ims__error(-EINVAL, "sim: no result");
	memset(res, 0, sizeof(*res));
	ret = ims_sim_config_validate(cfg_in);
	if (ret)
		return ret;
	cfg = *cfg_in;
	normalize(&cfg);
	res->seed = cfg.seed;
	if (cfg.threads) {
		ret = run_threaded(&cfg, res, &rc);
	} else {
		rc.nr_ops = cfg.steps;
		rc.ops_out = malloc(cfg.steps * sizeof(struct sim_op));
		if (!rc.ops_out)
			return ims__error(-ENOMEM, "sim: no memory for %llu operations",
					  (unsigned long long)cfg.steps);
		ret = run_ops(&rc);
	}
	res->wall_seconds = now_seconds() - t0;
	res->trace_hash = rc.hash;
	if (!ret && rc.violation) {
		res->violation = rc.violation;
		res->violation_step = rc.violation_step;
		res->invariant_violations = 1;
		res->lost = rc.violation == IMS_SIM_LOST;
		memcpy(res->violation_msg, rc.msg, sizeof(res->violation_msg));
		if (!cfg.threads) {
			uint64_t n = rc.violation_step + 1;

			if (cfg.shrink)
				n = shrink(&cfg, bug, rc.ops_out, n, rc.violation, 200);
			/* Replay the short list once more to write its trace. */
			{
				struct run_ctx tr = { .cfg = &cfg, .bug = bug, .ops_in = rc.ops_out, .nr_ops = n };

				tr.text = calloc(1, 1);
				tr.text_cap = tr.text ? 1 : 0;
				if (tr.text && !run_ops(&tr)) {
					res->min_trace = tr.text;
					res->min_trace_ops = n;
				} else {
					free(tr.text);
				}
			}
		}
		report_violation(&cfg, res);
	}
	free(rc.ops_out);
	return ret;
}

IMS_API int ims_sim_run(const struct ims_sim_config *cfg, const struct ims_sim_callbacks *cb,
			struct ims_sim_result *res)
{
	return ims__sim_run_bug(cfg, SIM_BUG_NONE, cb, res);
}

IMS_API void ims_sim_result_free(struct ims_sim_result *res)
{
	if (!res)
		return;
	for (uint32_t i = 0; i < res->nr_rows; i++)
		free(res->rows[i].per_cpu);
	free(res->rows);
	free(res->cpu_vector);
	free(res->vcpu_vector);
	free(res->min_trace);
	free(res->vectors_per_cpu.v);
	free(res->irtes_per_unit.v);
	free(res->irqs_per_adi.v);
	free(res->faults_series.v);
	memset(res, 0, sizeof(*res));
}

IMS_API void ims_sim_print_interrupts(const struct ims_sim_result *res, FILE *f)
{
	fprintf(f, "%8s", "");
	for (uint32_t c = 0; c < res->cpus; c++)
		fprintf(f, " %10s%-u", "CPU", c);
	fprintf(f, "\n");
	for (uint32_t i = 0; i < res->nr_rows; i++) {
		const struct ims_sim_irq_row *r = &res->rows[i];

		fprintf(f, "%7u:", r->irq);
		for (uint32_t c = 0; c < res->cpus; c++)
			fprintf(f, " %11llu", (unsigned long long)r->per_cpu[c]);
		fprintf(f, "  %-12s %6u  %-28s %-14s %s%s\n", r->chip, r->hwirq, r->domain, r->device, r->action,
			r->posted ? " (posted)" : "");
	}
	fprintf(f, "fired %llu delivered %llu (guest %llu) coalesced %llu pending %llu lost %llu faults %llu\n",
		(unsigned long long)res->fired, (unsigned long long)res->delivered,
		(unsigned long long)res->delivered_guest, (unsigned long long)res->coalesced,
		(unsigned long long)res->pending, (unsigned long long)res->lost, (unsigned long long)res->faults);
}

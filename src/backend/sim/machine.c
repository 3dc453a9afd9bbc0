/*
 * The simulated machine of machine.h: construction and teardown, the
 * fabric, CPUs accepting and dispatching (on the APIC models or on KVM),
 * guests and their posted-interrupt descriptors, the control operations
 * the scheduler and the demo use, and the checker's bookkeeping.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/kvm.h"
#include "backend/sim/machine.h"
#include "os/x86/vector.h"

/* Test hook of the remapping driver (src/os/remap/remap.c). */
void ims__remap_test_skip_invalidation(struct ims_remap *r, bool on);
#include "hw/lapic.h"
#include "os/arm/its_internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- violations ---- */

void ims__sim_violation(struct sim_machine *m, enum ims_sim_violation_kind k, const char *fmt, ...)
{
	int expected = IMS_SIM_OK;
	va_list ap;

	switch (k) {
	case IMS_SIM_MISDELIVERED:
		atomic_fetch_add(&m->misdelivered, 1);
		break;
	case IMS_SIM_AFTER_FREE:
		atomic_fetch_add(&m->after_free, 1);
		break;
	case IMS_SIM_CROSS_GUEST:
		atomic_fetch_add(&m->cross_guest, 1);
		break;
	default:
		break;
	}
	if (!atomic_compare_exchange_strong(&m->violation, &expected, (int)k))
		return;
	ims__spin_lock(&m->violation_lock);
	va_start(ap, fmt);
	vsnprintf(m->violation_msg, sizeof(m->violation_msg), fmt, ap);
	va_end(ap);
	ims__spin_unlock(&m->violation_lock);
}

/* ---- the fabric ---- */

void ims__sim_fabric_write(struct sim_machine *m, const struct ims_hw_msi_write *w)
{
	struct ims_hw_ir_unit *u;
	int ret;

	if (m->gic) {	/* arm: every message goes to the ITS (it counts its faults) */
		m->gic_sink.fn(m->gic_sink.ctx, w);
		return;
	}
	u = ims__ir_route(m->units, m->cfg.ir_units, w->rid);
	if (!u) {
		/* No unit covers the requester: compatibility format straight to the APICs. */
		if (m->bus)
			ims__apic_bus_msi_write(m->bus, w);
		else
			ims__kvm_signal_msi(m->kvm, (uint32_t)w->addr, (uint32_t)(w->addr >> 32), w->data);
		return;
	}
	ret = ims__ir_unit_handle(u, w, NULL);
	if (ret == -EIO)
		atomic_fetch_add(&m->fabric_faults, 1);
	else if (ret == -EINVAL)
		atomic_fetch_add(&m->not_interrupt, 1);
}

/* ---- KVM: the vector domain's view of a vCPU's APIC ---- */

static uint32_t kvm_reg_read(void *ctx, uint32_t cpu, uint32_t reg)
{
	struct sim_machine *m = ctx;
	uint64_t w[4] = { 0 };

	if (reg >= IMS_X86_APIC_IRR && reg < IMS_X86_APIC_IRR + 0x80) {
		ims__kvm_irr(m->kvm, cpu, w);
		reg = (reg - IMS_X86_APIC_IRR) / 0x10;
		return (uint32_t)(w[reg / 2] >> (32 * (reg % 2)));
	}
	if (reg >= IMS_X86_APIC_ISR && reg < IMS_X86_APIC_ISR + 0x80) {
		uint64_t v;

		reg = (reg - IMS_X86_APIC_ISR) / 0x10;
		ims__spin_lock(&m->kvm_isr_lock);
		v = m->kvm_isr[cpu * 4 + reg / 2];
		ims__spin_unlock(&m->kvm_isr_lock);
		return (uint32_t)(v >> (32 * (reg % 2)));
	}
	if (reg == IMS_X86_APIC_SVR)
		return 0x1ff;
	if (reg == IMS_X86_APIC_ID)
		return m->apic_ids[cpu] << 24;
	return 0;
}

/*
 * KVM's vCPUs never run, so nothing there moves IRR to ISR: acceptance
 * clears the IRR bit (ims__kvm_accept) and the machine keeps the in-service
 * vector here, which an EOI clears, so that the vector domain's cleanup
 * sees what a real APIC would show.
 */
static void kvm_reg_write(void *ctx, uint32_t cpu, uint32_t reg, uint32_t val)
{
	struct sim_machine *m = ctx;

	(void)val;
	if (reg != IMS_X86_APIC_EOI)
		return;
	ims__spin_lock(&m->kvm_isr_lock);
	for (int i = 3; i >= 0; i--) {
		uint64_t *w = &m->kvm_isr[cpu * 4 + (uint32_t)i];

		if (*w) {
			*w &= ~(1ull << (63 - __builtin_clzll(*w)));
			break;
		}
	}
	ims__spin_unlock(&m->kvm_isr_lock);
}

static const struct ims_x86_apic_ops kvm_reg_ops = { .read = kvm_reg_read, .write = kvm_reg_write };

/*
 * The irqfd option: each distinct message gets a GSI route the first time
 * it is sent (KVM allows 4096 per VM), and is then sent by writing the
 * route's eventfd. KVM injects an MSI route from the writer's context when
 * it can, so the message is in the IRR when the write returns; when it
 * cannot (it defers to a worker), acceptance's read-modify-write of the
 * APIC state may race with it (docs/sim.md).
 */
#define SIM_ROUTE_SLOTS 8192u

static int kvm_irqfd_sink(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct sim_machine *m = ctx;
	struct ims_x86_msi_fields f = {
		.format = IMS_X86_MSI_COMPAT, .apic_id = irq->dest, .dest_logical = irq->dest_logical,
		.redirection_hint = irq->redirection_hint, .vector = irq->vector,
		.delivery_mode = irq->delivery_mode, .trigger_level = irq->level_trigger,
		.level_assert = irq->level_assert,
	};
	struct ims_msi_msg msg;
	uint64_t key;
	uint32_t h;

	if (ims_x86_msi_compose(&f, &msg))
		return 0;
	key = ((uint64_t)msg.address_lo << 32 | msg.data) + 1;
	h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 51) % SIM_ROUTE_SLOTS;
	while (m->route_key[h] && m->route_key[h] != key)
		h = (h + 1) % SIM_ROUTE_SLOTS;
	if (!m->route_key[h]) {
		int gsi = ims__kvm_route_add(m->kvm, msg.address_lo, 0, msg.data);

		if (gsi < 0) {	/* routes exhausted: the message still goes */
			m->route_fallbacks++;
			return ims__kvm_signal_msi(m->kvm, msg.address_lo, 0, msg.data);
		}
		m->route_key[h] = key;
		m->route_gsi[h] = gsi;
	}
	m->route_fires++;
	return ims__kvm_route_fire(m->kvm, m->route_gsi[h]) ? 0 : 1;
}

/* ---- CPUs ---- */

int ims__sim_cpu_accept(struct sim_machine *m, uint32_t cpu)
{
	int v;

	if (m->its) {
		/*
		 * The CPU's interrupt entry: IAR, the LPI's irq, EOI. An LPI
		 * that no irq owns (its event was discarded after it became
		 * pending) was taken all the same: the ITS counts it spurious.
		 * LPIs are not vectors: every one is counted in column 0.
		 */
		v = ims_arm_its_dispatch(m->its, cpu);
		if (v == 0 || (v < 0 && v != -ENOENT))
			return -1;
		atomic_fetch_add_explicit(&m->cpu_vector[cpu * 256], 1, memory_order_relaxed);
		return 0;
	}
	if (m->bus) {
		v = ims__lapic_accept(ims__apic_bus_lapic(m->bus, cpu));
	} else {
		v = ims__kvm_accept(m->kvm, cpu);
		if (v >= 0) {
			ims__spin_lock(&m->kvm_isr_lock);
			m->kvm_isr[cpu * 4 + (uint32_t)v / 64] |= 1ull << (v % 64);
			ims__spin_unlock(&m->kvm_isr_lock);
		}
	}
	if (v < 0)
		return -1;
	atomic_fetch_add_explicit(&m->cpu_vector[cpu * 256 + (uint32_t)v], 1, memory_order_relaxed);
	ims_x86_vector_dispatch(m->vd, cpu, (uint8_t)v);
	return v;
}

uint64_t ims__sim_drain(struct sim_machine *m)
{
	uint64_t n = 0;
	bool any;

	/* Work still queued completes first: its interrupts are on their way. */
	for (uint32_t d = 0; m->dev_ops->flush && d < m->cfg.devices; d++)
		m->dev_ops->flush(m->devs[d]);
	ims__sim_flush(m, 0);
	do {
		any = false;
		for (uint32_t c = 0; c < m->cfg.cpus; c++)
			while (ims__sim_cpu_accept(m, c) >= 0) {
				n++;
				any = true;
			}
	} while (any);
	if (m->vd)
		ims_x86_vector_cleanup(m->vd);
	return n;
}

/* ---- the checker's side of delivery ---- */

static void vec_taken(struct sim_machine *m, struct sim_vec *v, const char *where)
{
	uint64_t runs = atomic_fetch_add(&v->runs, 1) + 1;
	uint64_t raised = atomic_load(&v->raised);

	/*
	 * A run answers every raise that reached the vector before it was
	 * accepted. A driver's completion answers one raise only, which its
	 * own count says (sim_vec_due): need is not theirs.
	 */
	if (!sim_vec_counted(m, v))
		atomic_store(&v->need, false);
	atomic_fetch_add_explicit(&m->delivered, 1, memory_order_relaxed);
	if (!v->msix)
		atomic_fetch_add_explicit(&m->adi_runs[v->dev * m->cfg.adis + v->adi], 1,
					  memory_order_relaxed);
	if (runs > raised)
		ims__sim_violation(m, IMS_SIM_MISDELIVERED,
				   "step %llu: %s of dev %u ADI %u vector %u (irq %u) ran %llu times for %llu raises",
				   (unsigned long long)m->step, where, v->dev, v->adi, v->nr, v->irq,
				   (unsigned long long)runs, (unsigned long long)raised);
}

void ims__sim_completed(struct sim_machine *m, struct sim_vec *v)
{
	if (!atomic_load(&v->live)) {
		ims__sim_violation(m, IMS_SIM_AFTER_FREE, "step %llu: a completion of freed irq %u was reported",
				   (unsigned long long)m->step, v->irq);
		return;
	}
	vec_taken(m, v, "completion");
}

static ims_irqreturn_t vec_handler(unsigned int irq, void *ctx)
{
	struct sim_vec *v = ctx;
	struct sim_machine *m = v->m;

	if (!atomic_load(&v->live)) {
		ims__sim_violation(m, IMS_SIM_AFTER_FREE, "step %llu: handler of freed irq %u ran",
				   (unsigned long long)m->step, irq);
		return IMS_IRQ_HANDLED;
	}
	if (irq != v->irq) {
		ims__sim_violation(m, IMS_SIM_MISDELIVERED, "step %llu: irq %u reached the handler of irq %u",
				   (unsigned long long)m->step, irq, v->irq);
		return IMS_IRQ_HANDLED;
	}
	vec_taken(m, v, "handler");
	return IMS_IRQ_HANDLED;
}

static void vcpu_take_locked(struct sim_machine *m, uint32_t vi)
{
	struct sim_vcpu *vc = &m->vcpus[vi];
	struct sim_guest *g = &m->guests[vc->guest];
	uint64_t pir[4];

	ims__assert_spin_held(&g->lock);
	if (!ims_pid_take(vc->pid, pir))
		return;
	for (uint32_t gv = 0; gv < 256; gv++) {
		struct sim_vec *v;
		uint32_t owner;

		if (!(pir[gv / 64] >> (gv % 64) & 1))
			continue;
		vc->gvec_count[gv]++;
		owner = g->gvec_owner[gv];
		if (!owner) {
			ims__sim_violation(m, IMS_SIM_CROSS_GUEST,
					   "step %llu: guest %u vCPU %u took vector 0x%x that nothing of the guest owns",
					   (unsigned long long)m->step, vc->guest, vc->nr, gv);
			continue;
		}
		v = &m->vecs[owner - 1];
		if (v->vcpu != vi) {
			ims__sim_violation(m, IMS_SIM_MISDELIVERED,
					   "step %llu: guest %u vCPU %u took vector 0x%x posted to vCPU %u",
					   (unsigned long long)m->step, vc->guest, vc->nr, gv, v->vcpu);
			continue;
		}
		atomic_fetch_add(&v->runs_guest, 1);
		atomic_fetch_add_explicit(&m->delivered_guest, 1, memory_order_relaxed);
		vec_taken(m, v, "guest");
	}
}

void ims__sim_vcpu_take(struct sim_machine *m, uint32_t vi)
{
	struct sim_guest *g = &m->guests[m->vcpus[vi].guest];

	ims__spin_lock(&g->lock);
	vcpu_take_locked(m, vi);
	ims__spin_unlock(&g->lock);
}

/* The posted-interrupt notification: the vCPUs running on cpu take their PIR. */
static void pi_notify(void *ctx, uint32_t cpu, uint8_t vector)
{
	struct sim_machine *m = ctx;

	(void)vector;
	for (uint32_t i = 0; i < m->nr_vcpus; i++)
		if (m->vcpus[i].host_cpu == cpu && !atomic_load(&m->vcpus[i].descheduled))
			ims__sim_vcpu_take(m, i);
}

void ims__sim_vcpu_sched(struct sim_machine *m, uint32_t vi, bool run)
{
	struct sim_vcpu *vc = &m->vcpus[vi];

	ims_pid_set_sn(vc->pid, !run);
	atomic_store(&vc->descheduled, !run);
	if (run)	/* VM entry: whatever was posted meanwhile is taken */
		ims__sim_vcpu_take(m, vi);
}

/* NDST moves with the vCPU (control word bits 63:32, xAPIC form). */
static void vcpu_move(struct sim_machine *m, uint32_t vi, uint32_t cpu)
{
	uint64_t *ctl = (uint64_t *)m->vcpus[vi].pid + 4;
	uint64_t old = __atomic_load_n(ctl, __ATOMIC_ACQUIRE), val;

	do {
		val = (old & 0xffffffffull) | (uint64_t)((m->apic_ids[cpu] & 0xff) << 8) << 32;
	} while (!__atomic_compare_exchange_n(ctl, &old, val, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
	m->vcpus[vi].host_cpu = cpu;
	if (!atomic_load(&m->vcpus[vi].descheduled))	/* a notification may have gone to the old CPU */
		ims__sim_vcpu_take(m, vi);
}

/* ---- control operations ---- */

int ims__sim_fire(struct sim_machine *m, struct sim_vec *v)
{
	struct sim_device *d = m->devs[v->dev];
	struct sim_adi *a;
	int ret;

	if (m->dev_ops->driver_handlers && !v->msix) {
		/*
		 * A descriptor: counted before it is submitted (its completion
		 * may be reported at once from another thread), taken back if
		 * the ADI refused it (every completion record in use).
		 */
		a = sim_adi_at(m, v->dev, v->adi);
		atomic_fetch_add(&v->raised, 1);
		ret = m->dev_ops->fire_ims(d, v, a->pasid);
		if (ret) {
			atomic_fetch_sub(&v->raised, 1);
			return ret;
		}
		atomic_fetch_add_explicit(&m->fired, 1, memory_order_relaxed);
		return ims__sim_flush(m, 0);
	}
	atomic_fetch_add(&v->raised, 1);
	atomic_store(&v->need, true);
	atomic_fetch_add_explicit(&m->fired, 1, memory_order_relaxed);
	if (v->msix) {
		ret = m->dev_ops->fire_msix(d, v->index);
	} else {
		a = sim_adi_at(m, v->dev, v->adi);
		ret = m->dev_ops->fire_ims(d, v, a->pasid);
	}
	return ims__sim_flush(m, ret);
}

bool ims__sim_fire_guarded(struct sim_machine *m, struct sim_vec *v)
{
	bool made = false;

	atomic_fetch_add(&v->firing, 1);
	if (atomic_load(&v->fire_ok)) {
		int ret = ims__sim_fire(m, v);

		/* A descriptor the ADI refused was not counted: no raise. */
		made = !sim_vec_counted(m, v) || !ret;
	}
	atomic_fetch_sub(&v->firing, 1);
	return made;
}

/* No device raises v from now on (seq_cst: either a device sees fire_ok
 * clear, or this sees its firing count and waits for it). */
static void vec_stop_firing(struct sim_vec *v)
{
	atomic_store(&v->fire_ok, false);
	while (atomic_load(&v->firing))
		sched_yield();
}

static void vec_unpublish(struct sim_machine *m, struct sim_vec *v)
{
	(void)m;
	atomic_store(&v->live, false);
}

static void vec_name(const struct sim_vec *v, char *name, size_t n)
{
	if (v->msix)
		snprintf(name, n, "simdev%u-misc", v->dev);
	else
		snprintf(name, n, "simdev%u-adi%u-%u", v->dev, v->adi, v->nr);
}

static int vec_request(struct sim_machine *m, struct sim_vec *v, int irq, uint32_t index)
{
	char name[32];
	int ret;

	v->irq = (uint32_t)irq;
	v->index = index;
	v->gen++;
	v->enabled = true;
	v->guest = SIM_NO_GUEST;
	atomic_store(&v->posted, false);
	atomic_store(&v->raised, 0);
	atomic_store(&v->runs, 0);
	atomic_store(&v->runs_guest, 0);
	atomic_store(&v->need, false);
	vec_name(v, name, sizeof(name));
	atomic_store(&v->live, true);
	if (m->dev_ops->driver_handlers && !v->msix) {	/* the driver's handler reports */
		atomic_store(&v->fire_ok, true);
		return 0;
	}
	ret = ims_irq_request(m->core, (unsigned int)irq, vec_handler, 0, name, v);
	if (ret)
		atomic_store(&v->live, false);
	else
		atomic_store(&v->fire_ok, true);
	return ret;
}

int ims__sim_vec_handler(struct sim_machine *m, struct sim_vec *v, ims_irq_handler_t fn, void *ctx)
{
	char name[32];
	int ret;

	if (m->dev_ops->driver_handlers && !v->msix)
		return ims__error(-EINVAL, "sim: the driver owns the handler of irq %u", v->irq);
	if (!atomic_load(&v->live))
		return ims__error(-ENOENT, "sim: irq %u has no live vector record", v->irq);
	ret = ims_irq_free(m->core, v->irq, fn ? (void *)v : ctx);
	if (ret)
		return ret;
	vec_name(v, name, sizeof(name));
	return fn ? ims_irq_request(m->core, v->irq, fn, 0, name, ctx)
		  : ims_irq_request(m->core, v->irq, vec_handler, 0, name, v);
}

int ims__sim_adi_create(struct sim_machine *m, uint32_t dev, uint32_t slot)
{
	struct sim_adi *a = sim_adi_at(m, dev, slot);
	uint32_t n = m->cfg.vectors_per_adi, j;
	struct ims_msi_map maps[64];
	int group, ret = 0;

	if (a->live)
		return -EEXIST;
	a->pasid = (dev + 1) << 11 | (slot + 1);
	group = m->dev_ops->adi_create(m->devs[dev], n, a->pasid, maps, &m->vecs[a->first_vec]);
	if (group < 0)
		return group;
	for (j = 0; j < n; j++) {
		ret = vec_request(m, &m->vecs[a->first_vec + j], maps[j].virq, (uint32_t)maps[j].index);
		if (ret)
			break;
	}
	if (ret) {
		while (j--) {
			struct sim_vec *v = &m->vecs[a->first_vec + j];

			vec_stop_firing(v);
			if (!m->dev_ops->driver_handlers)
				ims_irq_free(m->core, v->irq, v);
			vec_unpublish(m, v);
		}
		if (m->dev_ops->adi_destroy(m->devs[dev], group))
			ims__sim_violation(m, IMS_SIM_INTERNAL, "step %llu: cannot free group %d of dev %u",
					   (unsigned long long)m->step, group, dev);
		return ret;
	}
	a->group = group;
	a->guest = SIM_NO_GUEST;
	a->gen++;
	a->live = true;
	return 0;
}

/*
 * v's entry no longer posts: its vCPU takes what the descriptor holds
 * (which may be v's), then v's guest vector is given back.
 */
static void gvec_release(struct sim_machine *m, struct sim_vec *v)
{
	struct sim_guest *g = &m->guests[v->guest];

	ims__spin_lock(&g->lock);
	if (m->bug != SIM_BUG_EARLY_REUSE)
		vcpu_take_locked(m, v->vcpu);
	g->gvec_owner[v->gvec] = 0;
	atomic_store(&v->posted, false);
	v->guest = SIM_NO_GUEST;
	ims__spin_unlock(&g->lock);
}

int ims__sim_adi_destroy(struct sim_machine *m, uint32_t dev, uint32_t slot)
{
	struct sim_adi *a = sim_adi_at(m, dev, slot);
	uint32_t n = m->cfg.vectors_per_adi;
	int ret;

	if (!a->live)
		return -ENOENT;
	for (uint32_t j = 0; j < n; j++)
		vec_stop_firing(&m->vecs[a->first_vec + j]);
	if (m->dev_ops->driver_handlers) {
		/* The driver frees its handlers (waiting for running ones) first:
		 * until then a completion may still be reported to the records. */
		ret = m->dev_ops->adi_destroy(m->devs[dev], a->group);
		if (ret)
			ims__sim_violation(m, IMS_SIM_INTERNAL, "step %llu: destroying ADI %u of dev %u: %s",
					   (unsigned long long)m->step, slot, dev, ims_last_error());
		for (uint32_t j = 0; j < n; j++)
			vec_unpublish(m, &m->vecs[a->first_vec + j]);
		a->live = false;
		a->guest = SIM_NO_GUEST;
		return ret;
	}
	for (uint32_t j = 0; j < n; j++) {
		struct sim_vec *v = &m->vecs[a->first_vec + j];

		ret = ims_irq_free(m->core, v->irq, v);
		if (ret)
			ims__sim_violation(m, IMS_SIM_INTERNAL, "step %llu: freeing irq %u: %s",
					   (unsigned long long)m->step, v->irq, ims_last_error());
	}
	/* Entries are cleared: what the vCPUs hold from before is still theirs. */
	for (uint32_t j = 0; j < n; j++) {
		struct sim_vec *v = &m->vecs[a->first_vec + j];

		if (atomic_load(&v->posted))
			gvec_release(m, v);
		vec_unpublish(m, v);
	}
	ret = m->dev_ops->adi_destroy(m->devs[dev], a->group);
	if (ret)
		ims__sim_violation(m, IMS_SIM_INTERNAL, "step %llu: freeing group %d: %s",
				   (unsigned long long)m->step, a->group, ims_last_error());
	a->live = false;
	a->guest = SIM_NO_GUEST;
	return ret;
}

int ims__sim_vec_disable(struct sim_machine *m, struct sim_vec *v)
{
	int ret;

	if (!v->enabled)
		return -EALREADY;
	ret = ims_irq_disable(m->core, v->irq);
	if (!ret)
		v->enabled = false;
	return ret;
}

int ims__sim_vec_enable(struct sim_machine *m, struct sim_vec *v)
{
	int ret;

	if (v->enabled)
		return -EALREADY;
	ret = ims_irq_enable(m->core, v->irq);
	if (!ret)
		v->enabled = true;
	return ret;
}

int ims__sim_vec_affinity(struct sim_machine *m, struct sim_vec *v, uint32_t cpu_a, uint32_t cpu_b)
{
	struct ims_cpumask *mask = ims_cpumask_create(m->cfg.cpus);
	int ret;

	if (!mask)
		return -ENOMEM;
	ims_cpumask_set(mask, cpu_a % m->cfg.cpus);
	ims_cpumask_set(mask, cpu_b % m->cfg.cpus);
	ret = ims_irq_set_affinity(m->core, v->irq, mask);
	ims_cpumask_destroy(mask);
	return ret;
}

static struct ims_remap *remap_of(struct sim_machine *m, uint32_t dev)
{
	return m->remaps[m->dev_unit[dev]];
}

int ims__sim_adi_post(struct sim_machine *m, uint32_t dev, uint32_t slot, uint32_t guest, uint32_t vsel)
{
	struct sim_adi *a = sim_adi_at(m, dev, slot);
	uint32_t n = m->cfg.vectors_per_adi, free = 0, posted = 0;
	struct sim_guest *g;
	int ret = 0;

	if (!m->cfg.guests)
		return -ENODEV;
	guest %= m->cfg.guests;
	g = &m->guests[guest];
	if (!a->live || a->guest != SIM_NO_GUEST)
		return -EBUSY;
	ims__spin_lock(&g->lock);
	for (uint32_t gv = SIM_GUEST_FIRST_VECTOR; gv < 256; gv++)
		free += !g->gvec_owner[gv];
	ims__spin_unlock(&g->lock);
	if (free < n)
		return -ENOSPC;
	for (uint32_t j = 0, gv = SIM_GUEST_FIRST_VECTOR; j < n; j++) {
		struct sim_vec *v = &m->vecs[a->first_vec + j];
		uint32_t vi = g->first_vcpu + (vsel + j) % m->cfg.vcpus, target = vi;

		if (m->bug == SIM_BUG_CROSS_GUEST)	/* names another guest's vCPU */
			target = (vi + m->cfg.vcpus) % m->nr_vcpus;
		ims__spin_lock(&g->lock);
		while (g->gvec_owner[gv])
			gv++;
		g->gvec_owner[gv] = v->id + 1;
		v->guest = guest;
		v->vcpu = vi;
		v->gvec = (uint8_t)gv;
		atomic_store(&v->posted, true);
		ims__spin_unlock(&g->lock);
		ret = ims_remap_irq_post(remap_of(m, dev), v->irq, ims__dma_addr(m->vcpus[target].pid),
					 (uint8_t)gv, false);
		if (ret) {
			gvec_release(m, v);
			break;
		}
		posted++;
	}
	if (posted)
		a->guest = guest;
	return ret;
}

int ims__sim_guest_revector(struct sim_machine *m, struct sim_vec *v, uint32_t pick)
{
	struct sim_guest *g;
	uint32_t old, gv = 0, nfree = 0;
	int ret;

	if (!atomic_load(&v->live) || !atomic_load(&v->posted))
		return -ENOENT;
	g = &m->guests[v->guest];
	ims__spin_lock(&g->lock);
	for (uint32_t i = SIM_GUEST_FIRST_VECTOR; i < 256; i++)
		nfree += !g->gvec_owner[i];
	if (nfree)
		for (uint32_t i = SIM_GUEST_FIRST_VECTOR, k = pick % nfree + 1; i < 256 && k; i++)
			if (!g->gvec_owner[i] && !--k)
				gv = i;
	if (!gv) {
		ims__spin_unlock(&g->lock);
		return -ENOSPC;
	}
	old = v->gvec;
	g->gvec_owner[gv] = v->id + 1;
	v->gvec = (uint8_t)gv;
	ims__spin_unlock(&g->lock);
	ret = ims_remap_irq_post(remap_of(m, v->dev), v->irq, ims__dma_addr(m->vcpus[v->vcpu].pid),
				 (uint8_t)gv, false);
	ims__spin_lock(&g->lock);
	if (ret) {		/* the entry still names the old vector */
		g->gvec_owner[gv] = 0;
		v->gvec = (uint8_t)old;
	} else {		/* what was posted under the old vector is taken first */
		if (m->bug != SIM_BUG_EARLY_REUSE)
			vcpu_take_locked(m, v->vcpu);
		g->gvec_owner[old] = 0;
	}
	ims__spin_unlock(&g->lock);
	return ret;
}

int ims__sim_adi_unpost(struct sim_machine *m, uint32_t dev, uint32_t slot)
{
	struct sim_adi *a = sim_adi_at(m, dev, slot);
	uint32_t still = 0;
	int ret = 0;

	if (!a->live || a->guest == SIM_NO_GUEST)
		return -ENOENT;
	for (uint32_t j = 0; j < m->cfg.vectors_per_adi; j++) {
		struct sim_vec *v = &m->vecs[a->first_vec + j];
		int r;

		if (!atomic_load(&v->posted))
			continue;
		r = ims_remap_irq_unpost(remap_of(m, dev), v->irq);
		if (r) {
			ret = r;
			still++;
			continue;
		}
		/* The entry is remapped again: take what was posted before. */
		gvec_release(m, v);
	}
	if (!still)
		a->guest = SIM_NO_GUEST;
	return ret;
}

int ims__sim_cpu_offline(struct sim_machine *m, uint32_t cpu)
{
	int ret;

	if (!m->vd)
		return ims__error(-EOPNOTSUPP, "sim: CPU offline is modelled on x86 only (the ITS driver has no CPU hotplug)");
	if (!cpu || cpu >= m->cfg.cpus || m->cpu_offline[cpu])
		return -EINVAL;	/* CPU 0 stays: the vCPUs go there */
	ret = ims_x86_vector_cpu_offline(m->vd, cpu);
	if (ret)
		return ret;
	m->cpu_offline[cpu] = true;
	for (uint32_t i = 0; i < m->nr_vcpus; i++)
		if (m->vcpus[i].host_cpu == cpu)
			vcpu_move(m, i, 0);
	return 0;
}

int ims__sim_cpu_online(struct sim_machine *m, uint32_t cpu)
{
	int ret;

	if (!m->vd || cpu >= m->cfg.cpus || !m->cpu_offline[cpu])
		return -EINVAL;
	ret = ims_x86_vector_cpu_online(m->vd, cpu);
	if (!ret)
		m->cpu_offline[cpu] = false;
	return ret;
}

/* ---- checks ---- */

/*
 * arm: the ITS driver's counts against the model (an LPI and an EventID per
 * live vector, a DeviceID per device holding any), every LPI on the CPU its
 * irq says, no command refused, and the GIC's view of the same commands.
 */
static int check_its(struct sim_machine *m, uint32_t live)
{
	struct ims_arm_its_stats st;
	struct ims_hw_its_stats hw;
	uint32_t per_cpu[IMS_SIM_MAX_CPUS] = { 0 }, devs = 0;

	ims_arm_its_get_stats(m->its, &st);
	ims__hw_gic_its_stats(m->gic, &hw);
	if (st.lpis_used != live || st.events_used != live)
		return ims__error(-EIO, "sim: the ITS has %u LPIs and %u EventIDs in use, the model %u vectors",
				  st.lpis_used, st.events_used, live);
	if (st.command_errors || hw.command_errors)
		return ims__error(-EIO, "sim: the ITS refused %llu commands (the driver counts %llu), last error 0x%x",
				  (unsigned long long)hw.command_errors,
				  (unsigned long long)st.command_errors, st.last_error);
	if (st.commands != hw.commands)
		return ims__error(-EIO, "sim: the driver sent %llu ITS commands, the ITS ran %llu",
				  (unsigned long long)st.commands, (unsigned long long)hw.commands);
	for (uint32_t d = 0; d < m->cfg.devices; d++) {
		bool any = m->dev_ops->driver_irqs > 0;

		for (uint32_t i = 0; i < sim_vecs_per_dev(m); i++) {
			struct sim_vec *v = &m->vecs[d * sim_vecs_per_dev(m) + i];
			int cpu;

			if (!atomic_load(&v->live))
				continue;
			any = true;
			cpu = ims_irq_effective_cpu(m->core, v->irq);
			if (cpu < 0 || (uint32_t)cpu >= m->cfg.cpus)
				return ims__error(-EIO, "sim: irq %u has no target CPU (%d)", v->irq, cpu);
			per_cpu[cpu]++;
		}
		devs += any;
	}
	if (st.devices != devs)
		return ims__error(-EIO, "sim: the ITS maps %u DeviceIDs, the model %u devices with vectors",
				  st.devices, devs);
	/* The driver's own irqs: on whichever CPU, counted in the total. */
	if (m->dev_ops->driver_irqs) {
		uint32_t sum = 0;

		for (uint32_t c = 0; c < m->cfg.cpus; c++)
			sum += ims_arm_its_cpu_lpis(m->its, c) - per_cpu[c];
		if (sum != m->cfg.devices * m->dev_ops->driver_irqs)
			return ims__error(-EIO, "sim: the ITS targets %u LPIs beyond the model's, the drivers hold %u",
					  sum, m->cfg.devices * m->dev_ops->driver_irqs);
		return 0;
	}
	for (uint32_t c = 0; c < m->cfg.cpus; c++)
		if (ims_arm_its_cpu_lpis(m->its, c) != per_cpu[c])
			return ims__error(-EIO, "sim: the ITS targets %u LPIs at CPU %u, the irqs say %u",
					  ims_arm_its_cpu_lpis(m->its, c), c, per_cpu[c]);
	return 0;
}

int ims__sim_check_counts(struct sim_machine *m)
{
	uint32_t per_unit[IMS_SIM_MAX_IR_UNITS] = { 0 }, posted[IMS_SIM_MAX_IR_UNITS] = { 0 };
	uint32_t live = 0, extra = m->dev_ops->driver_irqs;

	if (m->vd && ims_x86_vector_check(m->vd))
		return -EIO;
	for (uint32_t u = 0; m->remaps[0] && u < m->cfg.ir_units; u++)
		if (ims_remap_check(m->remaps[u]))
			return -EIO;
	for (uint32_t d = 0; d < m->cfg.devices; d++) {
		uint32_t ims = 0;

		if (m->dev_ops->check && m->dev_ops->check(m->devs[d]))
			return -EIO;
		live += extra;
		per_unit[m->dev_unit[d]] += extra;
		for (uint32_t i = 0; i < sim_vecs_per_dev(m); i++) {
			struct sim_vec *v = &m->vecs[d * sim_vecs_per_dev(m) + i];

			if (!atomic_load(&v->live))
				continue;
			live++;
			ims += !v->msix;
			per_unit[m->dev_unit[d]]++;
			posted[m->dev_unit[d]] += atomic_load(&v->posted);
		}
		if (ims_msi_nr_allocated(m->dev_ops->os_device(m->devs[d]), IMS_MSI_SECONDARY_DOMAIN) != ims)
			return ims__error(-EIO, "sim: device %u has %u IMS vectors, the model %u", d,
					  ims_msi_nr_allocated(m->dev_ops->os_device(m->devs[d]),
							       IMS_MSI_SECONDARY_DOMAIN), ims);
	}
	if (m->its) {
		int ret = check_its(m, live);

		if (ret)
			return ret;
	}
	for (uint32_t u = 0; m->remaps[0] && u < m->cfg.ir_units; u++) {
		struct ims_remap_stats st;

		ims_remap_get_stats(m->remaps[u], &st);
		if (st.allocated != per_unit[u] || st.posted != posted[u])
			return ims__error(-EIO, "sim: unit %u has %u entries (%u posted), the model %u (%u)",
					  u, st.allocated, st.posted, per_unit[u], posted[u]);
	}
	if (ims_irq_core_nr_irqs(m->core) != live)
		return ims__error(-EIO, "sim: %u irqs in the core, %u in the model",
				  ims_irq_core_nr_irqs(m->core), live);
	return 0;
}

int ims__sim_quiesce_check(struct sim_machine *m, uint64_t *pending)
{
	uint64_t held = 0;

	for (uint32_t i = 0; i < m->nr_vcpus; i++)
		if (atomic_load(&m->vcpus[i].descheduled))
			ims__sim_vcpu_sched(m, i, true);
	ims__sim_drain(m);
	for (uint32_t i = 0; i < m->nr_vecs; i++) {
		struct sim_vec *v = &m->vecs[i];

		if (!atomic_load(&v->live) || !sim_vec_due(m, v))
			continue;
		if (!v->enabled) {
			held++;
			continue;
		}
		ims__sim_violation(m, IMS_SIM_LOST,
				   "step %llu: dev %u %s %u vector %u (irq %u, slot %u%s) raised %llu times, handled %llu, last raise never handled",
				   (unsigned long long)m->step, v->dev, v->msix ? "MSI-X" : "ADI", v->adi, v->nr,
				   v->irq, v->index, atomic_load(&v->posted) ? ", posted" : "",
				   (unsigned long long)atomic_load(&v->raised),
				   (unsigned long long)atomic_load(&v->runs));
		if (pending)
			*pending = held;
		return -EIO;
	}
	if (pending)
		*pending = held;
	return 0;
}

void ims__sim_vectors_per_cpu(struct sim_machine *m, uint64_t *out)
{
	memset(out, 0, m->cfg.cpus * sizeof(*out));
	for (uint32_t i = 0; i < m->nr_vecs; i++) {
		struct sim_vec *v = &m->vecs[i];
		int cpu;

		if (!atomic_load(&v->live) || atomic_load(&v->posted))
			continue;
		cpu = ims_irq_effective_cpu(m->core, v->irq);
		if (cpu >= 0 && (uint32_t)cpu < m->cfg.cpus)
			out[cpu]++;
	}
}

/* ---- construction ---- */

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 256;

	while (p < n && p < 65536)
		p <<= 1;
	return p;
}

static int build_units(struct sim_machine *m)
{
	struct ims_hw_apic_sink sink = m->bus ? ims__apic_bus_sink(m->bus)
			: m->route_key ? (struct ims_hw_apic_sink){ kvm_irqfd_sink, m }
				       : (struct ims_hw_apic_sink){ ims__kvm_apic_sink_posted, m->kvm };
	uint32_t per_unit[IMS_SIM_MAX_IR_UNITS] = { 0 };
	char uname[16], rname[16];
	int ret;

	for (uint32_t u = 0; u < m->cfg.ir_units; u++) {
		struct ims_hw_ir_unit_config uc = {
			.name = uname, .dma = m->dma, .apic = sink,
			.rid_first = (uint16_t)(u * 16 << 8), .rid_last = (uint16_t)(((u * 16 + 15) << 8) | 0xff),
		};
		struct ims_remap_config rc = { .name = rname, .dma = m->dma,
					       .parent = ims_x86_vector_irq_domain(m->vd) };

		snprintf(uname, sizeof(uname), "dmar%u", u);
		snprintf(rname, sizeof(rname), "IR-%u", u);
		for (uint32_t d = 0; d < m->cfg.devices; d++)
			per_unit[u] += m->dev_unit[d] == u;
		m->unit_entries[u] = pow2_at_least(2 * per_unit[u] * sim_vecs_per_dev(m));
		rc.nr_entries = m->unit_entries[u];
		ret = ims__ir_unit_create(&uc, &m->units[u]);
		if (ret)
			return ret;
		rc.unit = m->units[u];
		ret = ims_remap_create(m->core, &rc, &m->remaps[u]);
		if (ret)
			return ret;
		if (m->bug == SIM_BUG_SKIP_INVALIDATION)
			ims__remap_test_skip_invalidation(m->remaps[u], true);
	}
	return 0;
}

static int build_guests(struct sim_machine *m)
{
	m->nr_vcpus = m->cfg.guests * m->cfg.vcpus;
	if (!m->nr_vcpus)
		return 0;
	m->guests = ims__calloc(m->cfg.guests, sizeof(*m->guests), "sim_guests");
	m->vcpus = ims__calloc(m->nr_vcpus, sizeof(*m->vcpus), "sim_vcpus");
	if (!m->guests || !m->vcpus)
		return -ENOMEM;
	m->pid_mem_size = ((size_t)m->nr_vcpus * 64 + 4095) & ~(size_t)4095;
	m->pid_mem = ims__dma_alloc_registered(m->dma, m->pid_mem_size, 4096, "sim_pids");
	if (!m->pid_mem)
		return -ENOMEM;
	for (uint32_t g = 0; g < m->cfg.guests; g++) {
		m->guests[g].first_vcpu = g * m->cfg.vcpus;
		ims__spin_init(&m->guests[g].lock);
	}
	for (uint32_t i = 0; i < m->nr_vcpus; i++) {
		struct sim_vcpu *vc = &m->vcpus[i];

		vc->guest = i / m->cfg.vcpus;
		vc->nr = i % m->cfg.vcpus;
		vc->host_cpu = i % m->cfg.cpus;
		vc->pid = (char *)m->pid_mem + (size_t)i * 64;
		vc->gvec_count = ims__calloc(256, sizeof(uint64_t), "sim_gvec_count");
		if (!vc->gvec_count)
			return -ENOMEM;
		ims_pid_init(vc->pid, SIM_PI_VECTOR, m->apic_ids[vc->host_cpu], false);
	}
	return 0;
}

static int build_devices(struct sim_machine *m)
{
	uint32_t vpd = sim_vecs_per_dev(m);
	int ret, irq;

	for (uint32_t d = 0; d < m->cfg.devices; d++) {
		uint32_t u = m->dev_unit[d];
		struct sim_vec *mv = &m->vecs[d * vpd + vpd - 1];

		for (uint32_t a = 0; a < m->cfg.adis; a++) {
			sim_adi_at(m, d, a)->first_vec = d * vpd + a * m->cfg.vectors_per_adi;
			sim_adi_at(m, d, a)->guest = SIM_NO_GUEST;
		}
		for (uint32_t i = 0; i < vpd; i++) {
			struct sim_vec *v = &m->vecs[d * vpd + i];

			v->m = m;
			v->id = d * vpd + i;
			v->dev = d;
			v->adi = i / m->cfg.vectors_per_adi;
			v->nr = i % m->cfg.vectors_per_adi;
			v->guest = SIM_NO_GUEST;
		}
		mv->msix = true;
		mv->adi = 0;
		mv->nr = 0;
		ret = m->dev_ops->create(m, d, m->dev_rid[d],
					 m->its ? ims_arm_its_irq_domain(m->its) : ims_remap_domain(m->remaps[u]),
					 &m->devs[d]);
		if (ret)
			return ret;
		if (!m->dev_ops->msix_alloc)
			continue;
		irq = m->dev_ops->msix_alloc(m->devs[d]);
		if (irq < 0)
			return irq;
		ret = vec_request(m, mv, irq, 0);
		if (ret) {
			ims_msi_free_irq(m->dev_ops->os_device(m->devs[d]), IMS_MSI_DEFAULT_DOMAIN, 0);
			return ret;
		}
	}
	return 0;
}

/*
 * The smallest INTID width (14..20 bits) whose LPIs (2^bits - 8192) hold
 * every vector the devices can have at once.
 */
static uint32_t arm_lpi_bits(const struct sim_machine *m)
{
	uint64_t need = (uint64_t)m->cfg.devices * sim_vecs_per_dev(m);
	uint32_t bits = 14;

	while (bits < 20 && (1ull << bits) - 8192 < need)
		bits++;
	return bits;
}

/* An ITT holds every vector one device can have (MSI-X and IMS share it). */
static uint32_t arm_events_per_device(const struct sim_machine *m)
{
	uint32_t n = 2;

	while (n < sim_vecs_per_dev(m))
		n <<= 1;
	return n;
}

/*
 * arm: the GIC (one ITS, a redistributor and CPU interface per CPU) and
 * the ITS driver programming it as an OS does at boot; devices write to
 * GITS_TRANSLATER through the GIC's sink. No vector domain, no remapping
 * units, no guests.
 */
static int build_arm(struct sim_machine *m)
{
	uint32_t bits = arm_lpi_bits(m);
	struct ims_hw_gic_params gp = { .nr_cpus = m->cfg.cpus, .its_base = SIM_ITS_BASE,
					.lpi_bits = (uint8_t)bits };
	struct ims_arm_its_config ic = { .nr_cpus = m->cfg.cpus, .its_base = SIM_ITS_BASE,
					 .events_per_device = arm_events_per_device(m), .lpi_bits = bits,
					 .ops = &ims__hw_gic_ops };
	int ret;

	ret = ims__hw_gic_create(&gp, &m->gic);
	if (ret)
		return ret;
	ic.ctx = m->gic;
	ret = ims_arm_its_create(m->core, &ic, &m->its);
	if (ret)
		return ret;
	m->its->debug_no_inv = m->bug == SIM_BUG_ITS_NO_INV;
	ims__hw_gic_msi_sink(m->gic, &m->gic_sink);
	return 0;
}

int ims__sim_machine_create(const struct ims_sim_config *cfg, enum sim_bug bug, struct sim_machine **out)
{
	struct ims_irq_core_config cc = { .nr_cpus = cfg->cpus };
	struct ims_x86_vector_config vc = { .nr_cpus = cfg->cpus };
	struct sim_machine *m;
	int ret = -ENOMEM;

	m = ims__zalloc(sizeof(*m), "sim_machine");
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	if (cfg->arch == IMS_SIM_ARCH_ARM) {	/* no posted delivery without a GICv4 model */
		m->cfg.guests = 0;
		m->cfg.vcpus = 0;
		m->cfg.posted_percent = 0;
	}
	if (cfg->device == IMS_SIM_DEVICE_ACCEL)
		m->cfg.posted_percent = 0;
	m->bug = bug;
	m->dev_ops = cfg->device == IMS_SIM_DEVICE_ACCEL ? &ims__acceldev_ops : &ims__simdev_ops;
	ims__spin_init(&m->violation_lock);
	ims__spin_init(&m->kvm_isr_lock);
	m->nr_vecs = cfg->devices * sim_vecs_per_dev(m);
	m->apic_ids = ims__calloc(cfg->cpus, sizeof(uint32_t), "sim_apic_ids");
	m->cpu_offline = ims__calloc(cfg->cpus, sizeof(bool), "sim_cpu_offline");
	m->cpu_vector = ims__calloc((size_t)cfg->cpus * 256, sizeof(uint64_t), "sim_cpu_vector");
	m->units = ims__calloc(cfg->ir_units, sizeof(*m->units), "sim_units");
	m->remaps = ims__calloc(cfg->ir_units, sizeof(*m->remaps), "sim_remaps");
	m->unit_entries = ims__calloc(cfg->ir_units, sizeof(uint32_t), "sim_unit_entries");
	m->devs = ims__calloc(cfg->devices, sizeof(*m->devs), "sim_devs");
	m->dev_rid = ims__calloc(cfg->devices, sizeof(uint16_t), "sim_dev_rid");
	m->dev_unit = ims__calloc(cfg->devices, sizeof(uint32_t), "sim_dev_unit");
	m->adis = ims__calloc((size_t)cfg->devices * cfg->adis, sizeof(*m->adis), "sim_adis");
	m->vecs = ims__calloc(m->nr_vecs, sizeof(*m->vecs), "sim_vecs");
	m->adi_runs = ims__calloc((size_t)cfg->devices * cfg->adis, sizeof(uint64_t), "sim_adi_runs");
	if (m->dev_unit && m->dev_rid) {
		/* Where each device sits: its unit, and the next bus behind it. */
		uint32_t next_bus[IMS_SIM_MAX_IR_UNITS] = { 0 };

		for (uint32_t d = 0; d < cfg->devices; d++) {
			uint32_t u;

			if (cfg->arch == IMS_SIM_ARCH_ARM) {	/* bus d + 1: the DeviceID */
				m->dev_rid[d] = (uint16_t)((d + 1) << 8);
				continue;
			}
			u = cfg->device_unit ? cfg->device_unit[d] : d % cfg->ir_units;
			m->dev_unit[d] = u;
			m->dev_rid[d] = (uint16_t)((u * 16 + ++next_bus[u]) << 8);
		}
	}
	if (!m->adi_runs || !m->apic_ids || !m->cpu_offline || !m->cpu_vector || !m->units || !m->remaps ||
	    !m->unit_entries || !m->devs || !m->dev_rid || !m->dev_unit || !m->adis || !m->vecs)
		goto fail;
	/* By default distinct from the CPU numbers, so that a mix-up of the two shows. */
	for (uint32_t c = 0; c < cfg->cpus; c++)
		m->apic_ids[c] = cfg->apic_ids ? cfg->apic_ids[c] : c * 2;
	/* The description's arrays are the caller's: not kept past creation. */
	m->cfg.apic_ids = NULL;
	m->cfg.device_unit = NULL;
	ret = ims_irq_core_create(&cc, &m->core);
	if (ret)
		goto fail;
	if (cfg->arch == IMS_SIM_ARCH_ARM) {
		ret = build_arm(m);
		if (!ret)
			ret = ims__dma_create(&m->dma);
		if (!ret)
			ret = build_devices(m);
		if (ret)
			goto fail;
		*out = m;
		return 0;
	}
	if (cfg->backend == IMS_SIM_BACKEND_KVM) {
		m->kvm_isr = ims__calloc((size_t)cfg->cpus * 4, sizeof(uint64_t), "sim_kvm_isr");
		if (!m->kvm_isr) {
			ret = -ENOMEM;
			goto fail;
		}
		if (cfg->kvm_irqfd) {
			m->route_key = ims__calloc(SIM_ROUTE_SLOTS, sizeof(uint64_t), "sim_kvm_routes");
			m->route_gsi = ims__calloc(SIM_ROUTE_SLOTS, sizeof(int), "sim_kvm_route_gsi");
			if (!m->route_key || !m->route_gsi) {
				ret = -ENOMEM;
				goto fail;
			}
		}
		ret = ims__kvm_create(cfg->cpus, m->apic_ids, &m->kvm);
		vc.apic = &kvm_reg_ops;
		vc.apic_ctx = m;
	} else {
		ret = ims__apic_bus_create(cfg->cpus, m->apic_ids, 0, &m->bus);
		vc.apic = &ims__apic_bus_reg_ops;
		vc.apic_ctx = m->bus;
	}
	if (ret)
		goto fail;
	vc.apic_ids = m->apic_ids;
	ret = ims_x86_vector_domain_create(m->core, &vc, &m->vd);
	if (ret)
		goto fail;
	if (m->bug == SIM_BUG_VECTOR_REUSE)
		ims__x86_vector_test_no_hold(m->vd, true);
	ret = ims_x86_vector_set_system_handler(m->vd, SIM_PI_VECTOR, pi_notify, m);
	if (!ret)
		ret = ims__dma_create(&m->dma);
	if (!ret)
		ret = build_units(m);
	if (!ret)
		ret = build_guests(m);
	if (!ret)
		ret = build_devices(m);
	if (ret)
		goto fail;
	*out = m;
	return 0;
fail:
	ims__sim_machine_destroy(m);
	return ret;
}

void ims__sim_machine_destroy(struct sim_machine *m)
{
	const struct ims_sim_config *cfg;

	if (!m)
		return;
	cfg = &m->cfg;
	for (uint32_t d = 0; m->devs && d < cfg->devices; d++) {
		uint32_t vpd = sim_vecs_per_dev(m);
		struct sim_vec *mv;

		if (!m->devs[d])
			continue;
		mv = &m->vecs[d * vpd + vpd - 1];	/* devices exist only once vecs does */
		for (uint32_t a = 0; a < cfg->adis; a++)
			if (sim_adi_at(m, d, a)->live)
				ims__sim_adi_destroy(m, d, a);
		if (atomic_load(&mv->live)) {
			ims_irq_free(m->core, mv->irq, mv);
			atomic_store(&mv->live, false);
		}
		m->dev_ops->destroy(m->devs[d]);
	}
	if (m->its && ims_arm_its_destroy(m->its))
		ims__warn("sim: the ITS driver still has irqs at teardown");
	ims__hw_gic_destroy(m->gic);
	for (uint32_t u = 0; m->units && m->remaps && u < cfg->ir_units; u++) {
		if (m->remaps[u] && ims_remap_destroy(m->remaps[u]))
			ims__warn("sim: remapping driver %u still busy at teardown", u);
		ims__ir_unit_destroy(m->units[u]);
	}
	for (uint32_t i = 0; m->vcpus && i < m->nr_vcpus; i++)
		ims__free(m->vcpus[i].gvec_count, 256 * sizeof(uint64_t));
	if (m->pid_mem) {
		if (ims__dma_free_registered(m->dma, m->pid_mem, m->pid_mem_size, 4096))
			ims__warn("sim: posted-interrupt descriptors left allocated: %s", ims_last_error());
	}
	if (m->dma)
		ims__dma_destroy(m->dma);
	if (m->vd) {
		ims_x86_vector_set_system_handler(m->vd, SIM_PI_VECTOR, NULL, NULL);
		ims_x86_vector_domain_destroy(m->vd);
	}
	if (m->bus)
		ims__apic_bus_destroy(m->bus);
	ims__kvm_destroy(m->kvm);
	if (m->core)
		ims_irq_core_destroy(m->core);
	ims__free(m->guests, cfg->guests * sizeof(*m->guests));
	ims__free(m->vcpus, m->nr_vcpus * sizeof(*m->vcpus));
	ims__free(m->kvm_isr, (size_t)cfg->cpus * 4 * sizeof(uint64_t));
	ims__free(m->route_key, SIM_ROUTE_SLOTS * sizeof(uint64_t));
	ims__free(m->route_gsi, SIM_ROUTE_SLOTS * sizeof(int));
	ims__free(m->vecs, m->nr_vecs * sizeof(*m->vecs));
	ims__free(m->adi_runs, (size_t)cfg->devices * cfg->adis * sizeof(uint64_t));
	ims__free(m->adis, (size_t)cfg->devices * cfg->adis * sizeof(*m->adis));
	ims__free(m->dev_unit, cfg->devices * sizeof(uint32_t));
	ims__free(m->dev_rid, cfg->devices * sizeof(uint16_t));
	ims__free(m->devs, cfg->devices * sizeof(*m->devs));
	ims__free(m->unit_entries, cfg->ir_units * sizeof(uint32_t));
	ims__free(m->remaps, cfg->ir_units * sizeof(*m->remaps));
	ims__free(m->units, cfg->ir_units * sizeof(*m->units));
	ims__free(m->cpu_vector, (size_t)cfg->cpus * 256 * sizeof(uint64_t));
	ims__free(m->cpu_offline, cfg->cpus * sizeof(bool));
	ims__free(m->apic_ids, cfg->cpus * sizeof(uint32_t));
	ims__free(m, sizeof(*m));
}

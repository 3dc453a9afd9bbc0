/*
 * The x86 vector domain: the root of the interrupt hierarchy on x86. It
 * hands out (CPU, vector) pairs from the matrix, keeps each CPU's vector
 * table for dispatch, composes compatibility-format messages, and moves
 * interrupts between CPUs without losing one: the new vector is live
 * before the message changes, and the old one keeps reaching the irq until
 * an interrupt has arrived on the new one (so the device uses the new
 * message) and the old CPU's APIC holds nothing for the old vector (so no
 * interrupt is on its way through it). Only then is the old vector freed.
 *
 * Everything here runs under vector_lock (see vector.h for what it
 * guards); the data path in dispatch.c takes no lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os/x86/vector.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/cpumask.h"
#include "util/log.h"

#define VEC_WORDS (IMS_X86_NR_VECTORS / 64)

static uint64_t state_load(const struct ims_irq_data *d)
{
	return __atomic_load_n(&d->chip_u64, __ATOMIC_ACQUIRE);
}

static void state_store(struct ims_irq_data *d, uint64_t s)
{
	__atomic_store_n(&d->chip_u64, s, __ATOMIC_RELEASE);
}

static struct ims_x86_vector_domain *vd_of(const struct ims_irq_data *d)
{
	return ims_irq_domain_host_data(ims_irq_data_domain(d));
}

static void lock(struct ims_x86_vector_domain *vd)
{
	ims__mutex_lock(&vd->vector_lock);
}

static void unlock(struct ims_x86_vector_domain *vd)
{
	ims__mutex_unlock(&vd->vector_lock);
}

/*
 * Does cpu's APIC hold an interrupt for vector, requested (IRR) or in
 * service (ISR)? IRR first: acceptance moves a vector from IRR to ISR
 * inside the APIC, so reading in this order cannot miss one in between.
 * On silicon the old CPU reads its own APIC after a cleanup IPI; here the
 * control path reads it through the same register interface.
 */
static bool apic_holds(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector)
{
	uint32_t off = (vector / 32) * 0x10u, bit = 1u << (vector % 32);

	if (vd->apic->read(vd->apic_ctx, cpu, IMS_X86_APIC_IRR + off) & bit)
		return true;
	return vd->apic->read(vd->apic_ctx, cpu, IMS_X86_APIC_ISR + off) & bit;
}

static void entry_set_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector,
			     uint32_t irq, uint64_t flags)
{
	uint64_t gen;

	ims__assert_mutex_held(&vd->vector_lock);
	gen = ++vd->gen & VT_GEN_MASK;
	atomic_store_explicit(ims__vt_entry(vd, cpu, vector),
			      VT_VALID | flags | gen << VT_GEN_SHIFT | irq, memory_order_release);
}

static void entry_clear_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector)
{
	ims__assert_mutex_held(&vd->vector_lock);
	atomic_store_explicit(ims__vt_entry(vd, cpu, vector), 0, memory_order_release);
}

static uint64_t *cleanup_bits(struct ims_x86_vector_domain *vd, uint32_t cpu)
{
	return &vd->cleanup_map[(size_t)cpu * VEC_WORDS];
}

static void hold_old_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector)
{
	ims__assert_mutex_held(&vd->vector_lock);
	ims__set_bit(cleanup_bits(vd, cpu), vector);
	ims__set_bit(vd->cleanup_cpus, cpu);
	atomic_fetch_add_explicit(&vd->cleanup_held, 1, memory_order_relaxed);
}

/* Free an old vector that cleanup held: table entry, matrix, bit. */
static void free_old_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector)
{
	ims__assert_mutex_held(&vd->vector_lock);
	entry_clear_locked(vd, cpu, vector);
	ims__matrix_free(vd->matrix, cpu, vector);
	ims__clear_bit(cleanup_bits(vd, cpu), vector);
	atomic_fetch_sub_explicit(&vd->cleanup_held, 1, memory_order_relaxed);
}

/*
 * The irq no longer uses (cpu, vector). Free it now if the APIC holds
 * nothing for it; else keep it, marked stale, so that the interrupt still
 * held reaches the irq, and let cleanup free it later.
 */
static void retire_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector, uint32_t irq)
{
	ims__assert_mutex_held(&vd->vector_lock);
	if (vd->test_no_hold || !apic_holds(vd, cpu, vector)) {
		entry_clear_locked(vd, cpu, vector);
		ims__matrix_free(vd->matrix, cpu, vector);
		return;
	}
	entry_set_locked(vd, cpu, vector, irq, VT_STALE);
	hold_old_locked(vd, cpu, vector);
}

void ims__x86_vector_test_no_hold(struct ims_x86_vector_domain *vd, bool on)
{
	ims__mutex_lock(&vd->vector_lock);
	vd->test_no_hold = on;
	ims__mutex_unlock(&vd->vector_lock);
}

void ims__x86_vector_test_dispatch_stall(struct ims_x86_vector_domain *vd,
					 void (*fn)(void *ctx, uint32_t cpu, unsigned int irq), void *ctx)
{
	vd->test_dispatch_stall_ctx = ctx;
	atomic_store(&vd->test_dispatch_stall, fn);
}

/* One held vector: free it if its time has come. */
static void cleanup_one_locked(struct ims_x86_vector_domain *vd, uint32_t cpu, uint32_t vector)
{
	uint64_t e = atomic_load_explicit(ims__vt_entry(vd, cpu, vector), memory_order_relaxed);
	struct ims_irq_data *d;
	uint64_t s, cur;

	ims__assert_mutex_held(&vd->vector_lock);
	if (!(e & VT_VALID) || (e & VT_STALE)) {
		/* Deactivated (or its irq freed): wait only for the APIC. */
		if (!apic_holds(vd, cpu, vector))
			free_old_locked(vd, cpu, vector);
		return;
	}
	/*
	 * The old vector of a move. Its irq is alive: deactivation and free
	 * both take vector_lock and turn the entry stale or clear it first.
	 */
	d = ims_irq_domain_get_irq_data(vd->domain, VT_IRQ(e));
	if (IMS_NEVER(!d))
		return;
	s = state_load(d);
	if (IMS_NEVER(!(s & VS_MOVING) || VS_PCPU(s) != cpu || VS_PVEC(s) != vector))
		return;
	cur = atomic_load_explicit(ims__vt_entry(vd, VS_CPU(s), VS_VEC(s)), memory_order_acquire);
	if (cur & VT_MOVED)
		return;		/* nothing arrived on the new vector yet */
	if (apic_holds(vd, cpu, vector))
		return;		/* an interrupt is still on its way through it */
	free_old_locked(vd, cpu, vector);
	state_store(d, s & ~(VS_MOVING | VS_MAKE(0, 0, 0xffff, 0xff, 0)));
	vd->moves_done++;
}

static void cleanup_locked(struct ims_x86_vector_domain *vd)
{
	uint32_t cpu, w;

	ims__assert_mutex_held(&vd->vector_lock);
	if (!atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed))
		return;
	for (cpu = ims__find_next_bit(vd->cleanup_cpus, vd->nr_cpus, 0); cpu < vd->nr_cpus;
	     cpu = ims__find_next_bit(vd->cleanup_cpus, vd->nr_cpus, cpu + 1)) {
		uint64_t *bits = cleanup_bits(vd, cpu);
		bool left = false;

		for (w = 0; w < VEC_WORDS; w++) {
			uint64_t word = bits[w];

			while (word) {
				uint32_t v = w * 64 + (uint32_t)__builtin_ctzll(word);

				word &= word - 1;
				cleanup_one_locked(vd, cpu, v);
			}
			left |= bits[w] != 0;
		}
		if (!left)
			ims__clear_bit(vd->cleanup_cpus, cpu);
	}
}

IMS_API int ims_x86_vector_cleanup(struct ims_x86_vector_domain *vd)
{
	int held;

	if (!vd)
		return ims__error(-EINVAL, "x86-vector: cleanup: NULL domain");
	lock(vd);
	cleanup_locked(vd);
	held = (int)atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed);
	unlock(vd);
	return held;
}

/* ---- domain ops ---- */

static int vector_alloc(struct ims_irq_domain *dom, unsigned int virq, unsigned int nr, void *arg)
{
	struct ims_x86_vector_domain *vd = ims_irq_domain_host_data(dom);
	unsigned int i;

	(void)arg;
	for (i = 0; i < nr; i++) {
		int rc = ims_irq_domain_set_info(dom, virq + i, virq + i, NULL);

		if (IMS_NEVER(rc))
			return rc;	/* nothing of ours to undo yet */
	}
	/* A reservation only: vectors are assigned at activation. */
	lock(vd);
	for (i = 0; i < nr; i++)
		ims__matrix_reserve(vd->matrix);
	unlock(vd);
	return 0;
}

static void release_locked(struct ims_x86_vector_domain *vd, struct ims_irq_data *d)
{
	uint64_t s = state_load(d);
	uint32_t irq = ims_irq_data_irq(d);

	ims__assert_mutex_held(&vd->vector_lock);
	if (!(s & VS_HAS_VEC))
		return;
	retire_locked(vd, VS_CPU(s), VS_VEC(s), irq);
	if (s & VS_MOVING) {
		/* The old vector is held already; now it waits only for the APIC. */
		uint32_t pc = VS_PCPU(s), pv = VS_PVEC(s);

		if (apic_holds(vd, pc, pv))
			entry_set_locked(vd, pc, pv, irq, VT_STALE);
		else
			free_old_locked(vd, pc, pv);
		vd->moves_done++;
	}
	state_store(d, 0);
	ims__matrix_reserve(vd->matrix);
}

static void vector_free(struct ims_irq_domain *dom, unsigned int virq, unsigned int nr)
{
	struct ims_x86_vector_domain *vd = ims_irq_domain_host_data(dom);
	unsigned int i;

	lock(vd);
	for (i = 0; i < nr; i++) {
		struct ims_irq_data *d = ims_irq_domain_get_irq_data(dom, virq + i);

		if (IMS_NEVER(!d))
			continue;
		/* The core deactivates first; this is for a level left active. */
		release_locked(vd, d);
		ims__matrix_remove_reserve(vd->matrix);
		state_store(d, 0);
	}
	/*
	 * Stale vectors of these irqs may still be held for an interrupt in
	 * the APIC. The irq numbers are about to be reused: such an
	 * interrupt must find no owner rather than a new one.
	 */
	if (atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed)) {
		uint32_t cpu, v;

		for (cpu = ims__find_next_bit(vd->cleanup_cpus, vd->nr_cpus, 0); cpu < vd->nr_cpus;
		     cpu = ims__find_next_bit(vd->cleanup_cpus, vd->nr_cpus, cpu + 1)) {
			for (v = ims__find_next_bit(cleanup_bits(vd, cpu), IMS_X86_NR_VECTORS, 0);
			     v < IMS_X86_NR_VECTORS;
			     v = ims__find_next_bit(cleanup_bits(vd, cpu), IMS_X86_NR_VECTORS, v + 1)) {
				uint64_t e = atomic_load_explicit(ims__vt_entry(vd, cpu, v),
								  memory_order_relaxed);

				if ((e & VT_VALID) && VT_IRQ(e) >= virq && VT_IRQ(e) - virq < nr)
					entry_clear_locked(vd, cpu, v);
			}
		}
	}
	cleanup_locked(vd);
	unlock(vd);
}

/* True if mask has a CPU that is online in the matrix. */
static bool mask_has_online_locked(struct ims_x86_vector_domain *vd, const struct ims_cpumask *mask)
{
	uint32_t n = IMS_MIN(mask->nbits, vd->nr_cpus);

	ims__assert_mutex_held(&vd->vector_lock);
	for (uint32_t c = ims__find_next_bit(mask->bits, n, 0); c < n;
	     c = ims__find_next_bit(mask->bits, n, c + 1))
		if (ims__matrix_cpu_online(vd->matrix, c))
			return true;
	return false;
}

static int vector_activate(struct ims_irq_domain *dom, struct ims_irq_data *d, bool reserve)
{
	struct ims_x86_vector_domain *vd = ims_irq_domain_host_data(dom);
	const struct ims_cpumask *aff = ims_irq_data_affinity(d);
	uint32_t irq = ims_irq_data_irq(d), cpu;
	int v, ret;

	(void)reserve;
	lock(vd);
	cleanup_locked(vd);
	if (state_load(d) & VS_HAS_VEC) {
		unlock(vd);
		return 0;
	}
	/* Within the affinity; any online CPU if the affinity has none online. */
	if (aff && !mask_has_online_locked(vd, aff))
		aff = NULL;
	v = ims__matrix_alloc(vd->matrix, aff, &cpu);
	if (v < 0) {
		unlock(vd);
		if (v == -ENOSPC)
			return ims__error(-ENOSPC, "x86-vector: irq %u: no free vector on the CPUs of its affinity",
					  irq);
		return v;
	}
	/* Counts follow the CPU; the first move makes room for them. */
	ret = ims_irq_data_set_effective_cpu(d, cpu);
	if (ret) {
		ims__matrix_free(vd->matrix, cpu, (uint32_t)v);
		unlock(vd);
		return ret;
	}
	entry_set_locked(vd, cpu, (uint32_t)v, irq, 0);
	ims__matrix_remove_reserve(vd->matrix);
	state_store(d, VS_MAKE(cpu, v, 0, 0, VS_HAS_VEC));
	unlock(vd);
	return 0;
}

static void vector_deactivate(struct ims_irq_domain *dom, struct ims_irq_data *d)
{
	struct ims_x86_vector_domain *vd = ims_irq_domain_host_data(dom);

	lock(vd);
	release_locked(vd, d);
	cleanup_locked(vd);
	unlock(vd);
}

static const struct ims_irq_domain_ops vector_ops = {
	.alloc = vector_alloc,
	.free = vector_free,
	.activate = vector_activate,
	.deactivate = vector_deactivate,
};

/* ---- chip ---- */

static int vector_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct ims_x86_vector_domain *vd = vd_of(d);
	uint32_t irq = ims_irq_data_irq(d), cpu;
	uint64_t s;
	int v, ret;

	(void)force;
	lock(vd);
	cleanup_locked(vd);
	if (!mask_has_online_locked(vd, mask)) {
		unlock(vd);
		return ims__error(-EINVAL, "x86-vector: irq %u: the affinity has no online CPU", irq);
	}
	s = state_load(d);
	if (!(s & VS_HAS_VEC)) {
		/* Not active: the core keeps the mask; activation will use it. */
		unlock(vd);
		return IMS_SET_AFFINITY_DONE;
	}
	if (ims_cpumask_test(mask, VS_CPU(s))) {
		unlock(vd);
		return IMS_SET_AFFINITY_DONE;
	}
	if (s & VS_MOVING) {
		unlock(vd);
		return ims__error(-EBUSY, "x86-vector: irq %u: the move from CPU %u vector 0x%x is still in progress",
				  irq, VS_PCPU(s), VS_PVEC(s));
	}
	v = ims__matrix_alloc(vd->matrix, mask, &cpu);
	if (v < 0) {
		unlock(vd);
		if (v == -ENOSPC)
			return ims__error(-ENOSPC, "x86-vector: irq %u: no free vector on the CPUs of the new affinity",
					  irq);
		return v;
	}
	ret = ims_irq_data_set_effective_cpu(d, cpu);
	if (ret) {
		ims__matrix_free(vd->matrix, cpu, (uint32_t)v);
		unlock(vd);
		return ret;
	}
	/* Live before the levels above write the message that names it. */
	entry_set_locked(vd, cpu, (uint32_t)v, irq, VT_MOVED);
	hold_old_locked(vd, VS_CPU(s), VS_VEC(s));
	state_store(d, VS_MAKE(cpu, v, VS_CPU(s), VS_VEC(s), VS_HAS_VEC | VS_MOVING));
	vd->moves_started++;
	unlock(vd);
	return IMS_SET_AFFINITY_OK;
}

static void vector_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	struct ims_x86_vector_domain *vd = vd_of(d);
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_COMPAT };
	uint64_t s = state_load(d);

	if (!(s & VS_HAS_VEC))
		ims__warn_once("x86-vector: irq %u: message composed before activation",
			       ims_irq_data_irq(d));
	f.apic_id = vd->apic_ids[VS_CPU(s)];
	f.vector = (uint8_t)VS_VEC(s);
	f.delivery_mode = IMS_X86_DM_FIXED;
	/* Only CPUs whose APIC ID fits hold vectors (see create). */
	if (IMS_NEVER(ims_x86_msi_compose(&f, msg)))
		memset(msg, 0, sizeof(*msg));
}

static const struct ims_irq_chip vector_chip = {
	.name = "x86-vector",
	.irq_ack = ims__x86_vector_ack,
	.irq_eoi = ims__x86_vector_ack,
	.irq_set_affinity = vector_set_affinity,
	.irq_compose_msi_msg = vector_compose,
};

/* ---- creation ---- */

static void vd_free(struct ims_x86_vector_domain *vd)
{
	size_t n = vd->nr_cpus;

	ims__matrix_destroy(vd->matrix);
	ims__free(vd->apic_ids, n * sizeof(*vd->apic_ids));
	ims__free(vd->table, n * IMS_X86_NR_VECTORS * sizeof(*vd->table));
	ims__free(vd->cpu_count, n * sizeof(*vd->cpu_count));
	ims__free(vd->cleanup_map, n * VEC_WORDS * sizeof(uint64_t));
	ims__free(vd->cleanup_cpus, IMS_BITMAP_WORDS(vd->nr_cpus) * sizeof(uint64_t));
	ims__mutex_destroy(&vd->vector_lock);
	ims__free(vd, sizeof(*vd));
}

IMS_API int ims_x86_vector_domain_create(struct ims_irq_core *core,
					 const struct ims_x86_vector_config *cfg,
					 struct ims_x86_vector_domain **out)
{
	struct ims_irq_domain_info info = {
		.name = "x86-vector", .ops = &vector_ops, .chip = &vector_chip,
	};
	struct ims_x86_vector_domain *vd;
	uint32_t n, c, max_id;
	int rc;

	if (!core || !cfg || !out)
		return ims__error(-EINVAL, "x86-vector: create: NULL %s",
				  !core ? "core" : !cfg ? "config" : "out");
	n = cfg->nr_cpus;
	if (n != ims_irq_core_nr_cpus(core))
		return ims__error(-EINVAL, "x86-vector: create: nr_cpus %u differs from the core's %u", n,
				  ims_irq_core_nr_cpus(core));
	if (!cfg->apic || !cfg->apic->read || !cfg->apic->write)
		return ims__error(-EINVAL, "x86-vector: create: apic register ops are required");
	if (cfg->flags & ~(uint32_t)IMS_X86_VECTOR_EXT_DEST_ID)
		return ims__error(-EINVAL, "x86-vector: create: unknown flags 0x%x",
				  cfg->flags & ~(uint32_t)IMS_X86_VECTOR_EXT_DEST_ID);
	vd = ims__zalloc(sizeof(*vd), "x86_vector");
	if (!vd)
		return -ENOMEM;
	ims__mutex_init(&vd->vector_lock);
	vd->core = core;
	vd->nr_cpus = n;
	vd->flags = cfg->flags;
	vd->apic = cfg->apic;
	vd->apic_ctx = cfg->apic_ctx;
	rc = -ENOMEM;
	vd->apic_ids = ims__calloc(n, sizeof(*vd->apic_ids), "x86_vector");
	vd->table = ims__calloc((size_t)n * IMS_X86_NR_VECTORS, sizeof(*vd->table), "x86_vector_table");
	vd->cpu_count = ims__calloc(n, sizeof(*vd->cpu_count), "x86_vector");
	vd->cleanup_map = ims__calloc((size_t)n * VEC_WORDS, sizeof(uint64_t), "x86_vector");
	vd->cleanup_cpus = ims__calloc(IMS_BITMAP_WORDS(n), sizeof(uint64_t), "x86_vector");
	if (!vd->apic_ids || !vd->table || !vd->cpu_count || !vd->cleanup_map ||
	    !vd->cleanup_cpus)
		goto err_free;
	rc = ims__matrix_create(n, cfg->first_system_vector, &vd->matrix);
	if (rc)
		goto err_free;
	vd->first_system = ims__matrix_first_system(vd->matrix);
	max_id = (cfg->flags & IMS_X86_VECTOR_EXT_DEST_ID) ? IMS_X86_MAX_EXT_APIC_ID : 0xffu;
	for (c = 0; c < n; c++) {
		vd->apic_ids[c] = cfg->apic_ids ? cfg->apic_ids[c] : c;
		/* A CPU that no compatibility message can name gets no device vector. */
		if (vd->apic_ids[c] > max_id)
			ims__matrix_offline(vd->matrix, c);
	}
	info.host_data = vd;
	rc = ims_irq_domain_create(core, &info, &vd->domain);
	if (rc)
		goto err_free;
	/* What the OS does at boot: software-enable each APIC, accept all classes. */
	for (c = 0; c < n; c++) {
		uint32_t svr = cfg->apic->read(cfg->apic_ctx, c, IMS_X86_APIC_SVR);

		cfg->apic->write(cfg->apic_ctx, c, IMS_X86_APIC_SVR, svr | 0x1ffu);
		cfg->apic->write(cfg->apic_ctx, c, IMS_X86_APIC_TPR, 0);
	}
	*out = vd;
	return 0;

err_free:
	vd_free(vd);
	return rc;
}

IMS_API int ims_x86_vector_domain_destroy(struct ims_x86_vector_domain *vd)
{
	int rc;

	if (!vd)
		return ims__error(-EINVAL, "x86-vector: destroy: NULL domain");
	rc = ims_irq_domain_remove(vd->domain);
	if (rc)
		return rc;
	vd_free(vd);
	return 0;
}

IMS_API struct ims_irq_domain *ims_x86_vector_irq_domain(struct ims_x86_vector_domain *vd)
{
	return vd ? vd->domain : NULL;
}

IMS_API int ims_x86_vector_set_system_handler(struct ims_x86_vector_domain *vd, uint8_t vector,
					      ims_x86_sysvec_fn fn, void *ctx)
{
	if (!vd)
		return ims__error(-EINVAL, "x86-vector: system handler: NULL domain");
	if (vector < vd->first_system)
		return ims__error(-EINVAL, "x86-vector: vector 0x%x is a device vector (system vectors start at 0x%x)",
				  vector, vd->first_system);
	atomic_store_explicit(&vd->sysvec[vector].ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&vd->sysvec[vector].fn, fn, memory_order_release);
	return 0;
}

IMS_API int ims_x86_vector_target(const struct ims_irq_data *d, uint32_t *cpu, uint32_t *apic_id,
				  uint8_t *vector)
{
	struct ims_x86_vector_domain *vd;
	uint64_t s;

	if (!d)
		return ims__error(-EINVAL, "x86-vector: target: NULL irq data");
	if (ims_irq_domain_chip(ims_irq_data_domain(d)) != &vector_chip)
		return ims__error(-EINVAL, "x86-vector: target: irq %u: not a level of a vector domain",
				  ims_irq_data_irq(d));
	vd = vd_of(d);
	s = state_load(d);
	if (!(s & VS_HAS_VEC))
		return -ENODATA;
	if (cpu)
		*cpu = VS_CPU(s);
	if (apic_id)
		*apic_id = vd->apic_ids[VS_CPU(s)];
	if (vector)
		*vector = (uint8_t)VS_VEC(s);
	return 0;
}

/* ---- CPU hotplug ---- */

IMS_API int ims_x86_vector_cpu_offline(struct ims_x86_vector_domain *vd, uint32_t cpu)
{
	uint32_t irqs[IMS_X86_NR_VECTORS], nirq = 0, v, i;
	struct ims_cpumask *mask;
	int rc = 0;

	if (!vd || cpu >= vd->nr_cpus)
		return ims__error(-EINVAL, "x86-vector: offline: CPU %u out of range", cpu);
	lock(vd);
	if (!ims__matrix_cpu_online(vd->matrix, cpu)) {
		unlock(vd);
		return ims__error(-EINVAL, "x86-vector: offline: CPU %u is not online", cpu);
	}
	cleanup_locked(vd);
	/* The irqs whose current vector is on the CPU (old ones go by cleanup). */
	for (v = IMS_X86_FIRST_EXTERNAL_VECTOR; v < vd->first_system; v++) {
		uint64_t e = atomic_load_explicit(ims__vt_entry(vd, cpu, v), memory_order_relaxed);
		struct ims_irq_data *d;
		uint64_t s;

		if (!(e & VT_VALID) || (e & VT_STALE))
			continue;
		d = ims_irq_domain_get_irq_data(vd->domain, VT_IRQ(e));
		if (!d)
			continue;
		s = state_load(d);
		if ((s & VS_HAS_VEC) && VS_CPU(s) == cpu && VS_VEC(s) == v)
			irqs[nirq++] = VT_IRQ(e);
	}
	unlock(vd);

	mask = ims_cpumask_create(vd->nr_cpus);
	if (!mask)
		return -ENOMEM;
	/* Through the core, so that the levels above rewrite their messages. */
	for (i = 0; i < nirq; i++) {
		int r = ims_irq_get_affinity(vd->core, irqs[i], mask);

		if (r)
			continue;	/* freed meanwhile */
		ims_cpumask_clear(mask, cpu);
		lock(vd);
		if (!mask_has_online_locked(vd, mask)) {
			/* Nowhere else in its affinity: widen it, as the CPU goes. */
			ims_cpumask_setall(mask);
			ims_cpumask_clear(mask, cpu);
		}
		unlock(vd);
		r = ims_irq_set_affinity(vd->core, irqs[i], mask);
		if (r < 0 && !rc)
			rc = r;
	}
	ims_cpumask_destroy(mask);
	lock(vd);
	cleanup_locked(vd);
	if (!rc)
		rc = ims__matrix_offline(vd->matrix, cpu);
	if (rc == -EBUSY)
		rc = ims__error(-EBUSY, "x86-vector: offline: CPU %u still holds vectors of moves in progress; "
				"retry once their interrupts have landed", cpu);
	unlock(vd);
	return rc;
}

IMS_API int ims_x86_vector_cpu_online(struct ims_x86_vector_domain *vd, uint32_t cpu)
{
	uint32_t max_id;
	int rc;

	if (!vd || cpu >= vd->nr_cpus)
		return ims__error(-EINVAL, "x86-vector: online: CPU %u out of range", cpu);
	max_id = (vd->flags & IMS_X86_VECTOR_EXT_DEST_ID) ? IMS_X86_MAX_EXT_APIC_ID : 0xffu;
	if (vd->apic_ids[cpu] > max_id)
		return ims__error(-EINVAL, "x86-vector: online: CPU %u: APIC ID 0x%x cannot be named in a message",
				  cpu, vd->apic_ids[cpu]);
	lock(vd);
	rc = ims__matrix_online(vd->matrix, cpu);
	unlock(vd);
	return rc;
}

/* ---- statistics, dump, check ---- */

IMS_API void ims_x86_vector_get_stats(struct ims_x86_vector_domain *vd, struct ims_x86_vector_stats *out)
{
	struct ims__matrix_counts c;

	memset(out, 0, sizeof(*out));
	lock(vd);
	ims__matrix_counts(vd->matrix, -1, &c);
	out->available = c.available;
	out->allocated = c.allocated + c.managed_allocated;
	out->reserved = c.reserved;
	out->system = c.system;
	out->online_cpus = c.online;
	out->moves_in_progress = atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed);
	out->moves_started = vd->moves_started;
	out->moves_done = vd->moves_done;
	unlock(vd);
	for (uint32_t cpu = 0; cpu < vd->nr_cpus; cpu++) {
		out->spurious += atomic_load_explicit(&vd->cpu_count[cpu].spurious, memory_order_relaxed);
		out->dispatched += atomic_load_explicit(&vd->cpu_count[cpu].dispatched, memory_order_relaxed);
	}
}

IMS_API uint64_t ims_x86_vector_spurious(struct ims_x86_vector_domain *vd, uint32_t cpu)
{
	if (!vd || cpu >= vd->nr_cpus)
		return 0;
	return atomic_load_explicit(&vd->cpu_count[cpu].spurious, memory_order_relaxed);
}

IMS_API void ims_x86_vector_dump(struct ims_x86_vector_domain *vd, FILE *f)
{
	lock(vd);
	ims__matrix_dump(vd->matrix, f);
	fprintf(f, "moves: started %llu done %llu; old vectors held %u\n",
		(unsigned long long)vd->moves_started, (unsigned long long)vd->moves_done,
		atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed));
	for (uint32_t cpu = 0; cpu < vd->nr_cpus; cpu++) {
		bool any = false;

		for (uint32_t v = 0; v < IMS_X86_NR_VECTORS; v++) {
			uint64_t e = atomic_load_explicit(ims__vt_entry(vd, cpu, v), memory_order_relaxed);
			bool held = ims__test_bit(cleanup_bits(vd, cpu), v);

			if (!(e & VT_VALID) && !held)
				continue;
			if (!any)
				fprintf(f, "cpu %u (apic 0x%x) spurious %llu:", cpu, vd->apic_ids[cpu],
					(unsigned long long)atomic_load(&vd->cpu_count[cpu].spurious));
			any = true;
			if (e & VT_VALID)
				fprintf(f, " 0x%02x->irq %u%s%s%s", v, VT_IRQ(e), e & VT_MOVED ? " new" : "",
					e & VT_STALE ? " stale" : "", held ? " held" : "");
			else
				fprintf(f, " 0x%02x->none held", v);
		}
		if (any)
			fputc('\n', f);
	}
	unlock(vd);
}

IMS_API int ims_x86_vector_check(struct ims_x86_vector_domain *vd)
{
	uint32_t cpu, v, held = 0;
	int rc;

	lock(vd);
	rc = ims__matrix_check(vd->matrix);
	for (cpu = 0; !rc && cpu < vd->nr_cpus; cpu++) {
		for (v = 0; v < IMS_X86_NR_VECTORS; v++) {
			uint64_t e = atomic_load_explicit(ims__vt_entry(vd, cpu, v), memory_order_relaxed);
			bool is_held = ims__test_bit(cleanup_bits(vd, cpu), v);
			bool alloc = ims__matrix_is_allocated(vd->matrix, cpu, v);

			held += is_held;
			if ((e & VT_VALID) && !alloc) {
				rc = ims__error(-EIO, "x86-vector check: CPU %u vector 0x%x maps irq %u but is not allocated",
						cpu, v, VT_IRQ(e));
				break;
			}
			if (alloc && !(e & VT_VALID) && !is_held) {
				rc = ims__error(-EIO, "x86-vector check: CPU %u vector 0x%x is allocated to nothing",
						cpu, v);
				break;
			}
			if ((e & VT_STALE) && !is_held) {
				rc = ims__error(-EIO, "x86-vector check: CPU %u vector 0x%x is stale but not held",
						cpu, v);
				break;
			}
		}
	}
	if (!rc && held != atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed))
		rc = ims__error(-EIO, "x86-vector check: %u old vectors held, count says %u", held,
				atomic_load_explicit(&vd->cleanup_held, memory_order_relaxed));
	unlock(vd);
	return rc;
}

/*
 * A fake root domain that keeps the vector domain's contract for the
 * remapping tests: alloc reserves nothing, activate assigns a (CPU,
 * vector) from the first CPU of the affinity, deactivate releases it (and
 * is harmless when nothing is held), set_affinity moves it, compose gives
 * the compatibility message (APIC ID = CPU, bits 14:8 of it in address
 * bits 11:5). owner[cpu][vector] names the irq that holds a vector, for
 * sinks that dispatch. Thread-safe; header only. NR_CPUS must be defined.
 */
#ifndef IMS_TEST_FAKE_ROOT_H
#define IMS_TEST_FAKE_ROOT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <ims/irqdomain.h>

#define FIRST_VEC 0x30
#define LAST_VEC 0xdf

struct fake_root {
	pthread_mutex_t lock;		/* guards everything below and chip_u64 */
	uint64_t used[NR_CPUS][4];
	unsigned int in_use;
	unsigned int limit;		/* vectors it will hand out in all; 0: no limit */
	bool no_reuse;			/* never hand out a vector twice */
	uint64_t ever[NR_CPUS][4];	/* handed out once (for no_reuse) */
	_Atomic uint32_t owner[NR_CPUS][256];	/* irq + 1 that owns (cpu, vector), 0: none */
	struct ims_irq_domain *domain;
};

#define FR_HAS (1ull << 63)
#define FR_CPU(u) ((uint32_t)(((u) >> 8) & 0xffff))
#define FR_VEC(u) ((uint8_t)(u))

static inline int fr_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < nr; i++) {
		int ret = ims_irq_domain_set_info(d, virq + i, virq + i, NULL);

		if (ret < 0)
			return ret;
		ims_irq_domain_get_irq_data(d, virq + i)->chip_u64 = 0;
	}
	return 0;
}

static inline void fr_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	(void)d;
	(void)virq;
	(void)nr;
}

static inline int fr_take(struct fake_root *fr, uint32_t cpu, unsigned int irq)
{
	if (fr->limit && fr->in_use >= fr->limit)
		return -ENOSPC;
	for (unsigned int v = FIRST_VEC; v <= LAST_VEC; v++) {
		if (fr->used[cpu][v / 64] >> (v % 64) & 1)
			continue;
		if (fr->no_reuse && (fr->ever[cpu][v / 64] >> (v % 64) & 1))
			continue;
		fr->used[cpu][v / 64] |= 1ull << (v % 64);
		fr->ever[cpu][v / 64] |= 1ull << (v % 64);
		atomic_store(&fr->owner[cpu][v], irq + 1);
		fr->in_use++;
		return (int)v;
	}
	return -ENOSPC;
}

static inline void fr_release(struct fake_root *fr, struct ims_irq_data *d)
{
	uint64_t u = d->chip_u64;

	if (!(u & FR_HAS))
		return;		/* deactivating twice is harmless */
	fr->used[FR_CPU(u)][FR_VEC(u) / 64] &= ~(1ull << (FR_VEC(u) % 64));
	atomic_store(&fr->owner[FR_CPU(u)][FR_VEC(u)], 0);
	fr->in_use--;
	d->chip_u64 = 0;
}

static inline uint32_t first_cpu(const struct ims_cpumask *m)
{
	return m ? ims_cpumask_next(m, 0) : 0;
}

static inline int fr_activate(struct ims_irq_domain *dom, struct ims_irq_data *d, bool reserve)
{
	struct fake_root *fr = ims_irq_domain_host_data(dom);
	uint32_t cpu = first_cpu(ims_irq_data_affinity(d));
	int v;

	(void)reserve;
	pthread_mutex_lock(&fr->lock);
	if (d->chip_u64 & FR_HAS) {
		pthread_mutex_unlock(&fr->lock);
		return 0;
	}
	v = fr_take(fr, cpu, ims_irq_data_irq(d));
	if (v >= 0) {
		d->chip_u64 = FR_HAS | (uint64_t)cpu << 8 | (uint64_t)v;
		ims_irq_data_set_effective_cpu(d, cpu);
	}
	pthread_mutex_unlock(&fr->lock);
	return v < 0 ? v : 0;
}

static inline void fr_deactivate(struct ims_irq_domain *dom, struct ims_irq_data *d)
{
	struct fake_root *fr = ims_irq_domain_host_data(dom);

	pthread_mutex_lock(&fr->lock);
	fr_release(fr, d);
	pthread_mutex_unlock(&fr->lock);
}

static inline void fr_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	uint32_t cpu = FR_CPU(d->chip_u64);

	msg->address_hi = 0;
	msg->address_lo = 0xFEE00000u | (cpu & 0xff) << 12 | (cpu >> 8) << 5;
	msg->data = FR_VEC(d->chip_u64);
}

static inline int fr_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct fake_root *fr = ims_irq_domain_host_data(ims_irq_data_domain(d));
	uint32_t cpu = first_cpu(mask);
	int v;

	(void)force;
	pthread_mutex_lock(&fr->lock);
	if (!(d->chip_u64 & FR_HAS)) {
		pthread_mutex_unlock(&fr->lock);
		return IMS_SET_AFFINITY_OK;
	}
	v = fr_take(fr, cpu, ims_irq_data_irq(d));
	if (v >= 0) {
		fr_release(fr, d);
		d->chip_u64 = FR_HAS | (uint64_t)cpu << 8 | (uint64_t)v;
		ims_irq_data_set_effective_cpu(d, cpu);
	}
	pthread_mutex_unlock(&fr->lock);
	return v < 0 ? v : IMS_SET_AFFINITY_OK;
}

static const struct ims_irq_domain_ops fr_ops = {
	.alloc = fr_alloc, .free = fr_free, .activate = fr_activate, .deactivate = fr_deactivate,
};
static const struct ims_irq_chip fr_chip = {
	.name = "fake-vector", .irq_compose_msi_msg = fr_compose, .irq_set_affinity = fr_set_affinity,
};

#endif

/*
 * The ITS under threads: CPUs dispatching, a device firing every vector of
 * a stable set round after round, a thread moving those vectors between
 * CPUs with MOVI, and a thread allocating, firing and freeing other
 * vectors (one at a time and in groups) all at once. Each fire waits until
 * its handler has run before the next one of that vector, so the count is
 * exact: every interrupt is handled exactly once, none lost to a move, and
 * nothing faults in the ITS.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hw/arm/gic.h"
#include "hw/ims/ims_array.h"
#include "os/arm/its_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NCPU 4u
#define ITS_BASE 0x8080000ull
#define NSTABLE 16u
#define ROUNDS 300u
#define CHURN_SLOTS 4096u

static struct ims_irq_core *core;
static struct ims_hw_gic *gic;
static struct ims_arm_its *its;
static struct ims_hw_msi_sink sink;
static struct ims_hw_ims_array *arr;
static struct ims_hw_mmio_region reg;
static struct ims_device *dev;
static atomic_uint runs[1 << 16];
static atomic_bool stop, fire_done;
static atomic_uint moves, churned;
static unsigned int stable_irq[NSTABLE];
static uint32_t stable_idx[NSTABLE];
static const union ims_msi_cookie no_cookie;

static void slot_w(uint32_t slot, uint32_t field, uint32_t v)
{
	uint64_t x = v;

	ims__hw_mmio_access(&reg, 16ull * slot + field, 4, &x, true);
}

static uint32_t slot_r(uint32_t slot, uint32_t field)
{
	uint64_t x = 0;

	ims__hw_mmio_access(&reg, 16ull * slot + field, 4, &x, false);
	return (uint32_t)x;
}

static void c_mask(struct ims_irq_data *d)
{
	uint32_t s = ims_msi_irq_desc(d)->index;

	slot_w(s, IMS_SLOT_CTRL, slot_r(s, IMS_SLOT_CTRL) | IMS_SLOT_CTRL_MASKBIT);
}

static void c_unmask(struct ims_irq_data *d)
{
	uint32_t s = ims_msi_irq_desc(d)->index;

	slot_w(s, IMS_SLOT_CTRL, slot_r(s, IMS_SLOT_CTRL) & ~IMS_SLOT_CTRL_MASKBIT);
}

static void c_write(struct ims_irq_data *d, const struct ims_msi_msg *m)
{
	uint32_t s = ims_msi_irq_desc(d)->index;

	slot_w(s, IMS_SLOT_ADDR_LO, m->address_lo);
	slot_w(s, IMS_SLOT_ADDR_HI, m->address_hi);
	slot_w(s, IMS_SLOT_DATA, m->data);
}

static void c_free(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	(void)d;
	slot_w(desc->index, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	slot_w(desc->index, IMS_SLOT_DATA, 0);
}

static const struct ims_msi_domain_template tmpl = {
	.name = "IMS-array",
	.type = IMS_MSI_TYPE_IMS,
	.chip = { .irq_mask = c_mask, .irq_unmask = c_unmask, .irq_write_msi_msg = c_write },
	.free_desc = c_free,
};

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&runs[irq], 1);
	return IMS_IRQ_HANDLED;
}

/* Wait for a count, giving up (a lost interrupt) after a long while. */
static bool wait_runs(unsigned int irq, unsigned int want)
{
	time_t end = time(NULL) + 60;

	while (atomic_load(&runs[irq]) < want) {
		if (time(NULL) > end)
			return false;
		sched_yield();
	}
	return true;
}

static void *cpu_thread(void *arg)
{
	uint32_t first = (uint32_t)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		int got = 0;

		for (uint32_t c = first; c < NCPU; c += 2)
			got += ims_arm_its_dispatch(its, c) > 0;
		if (!got)
			sched_yield();
	}
	return NULL;
}

static void *fire_thread(void *arg)
{
	(void)arg;
	for (unsigned int r = 1; r <= ROUNDS; r++) {
		for (unsigned int i = 0; i < NSTABLE; i++)
			ims__hw_ims_array_signal(arr, stable_idx[i], false, 0);
		for (unsigned int i = 0; i < NSTABLE; i++)
			if (!wait_runs(stable_irq[i], r))
				return (void *)1;
	}
	atomic_store(&fire_done, true);
	return NULL;
}

static void *move_thread(void *arg)
{
	struct ims_cpumask *m = ims_cpumask_create(NCPU);
	unsigned int seed = 7;

	(void)arg;
	while (!atomic_load(&fire_done) && !atomic_load(&stop)) {
		unsigned int i = (unsigned int)rand_r(&seed) % NSTABLE;

		ims_cpumask_zero(m);
		ims_cpumask_set(m, (uint32_t)rand_r(&seed) % NCPU);
		if (ims_irq_set_affinity(core, stable_irq[i], m) == 0)
			atomic_fetch_add(&moves, 1);
		sched_yield();
	}
	ims_cpumask_destroy(m);
	return NULL;
}

static int churn_one(struct ims_msi_map *m)
{
	if (m->virq < 0)
		return -1;
	if (ims_irq_request(core, (unsigned)m->virq, handler, 0, "churn", NULL))
		return -1;
	ims__hw_ims_array_signal(arr, (uint32_t)m->index, false, 0);
	if (!wait_runs((unsigned)m->virq, 1))
		return -1;
	return ims_irq_free(core, (unsigned)m->virq, NULL);
}

static void *churn_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&fire_done) && !atomic_load(&stop)) {
		struct ims_msi_map m, g[3];
		int grp;

		m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL, no_cookie);
		atomic_store(&runs[m.virq], 0);
		if (churn_one(&m) || ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, (uint32_t)m.index))
			return (void *)1;
		grp = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, no_cookie, g);
		if (grp <= 0)
			return (void *)1;
		for (int i = 0; i < 3; i++) {
			atomic_store(&runs[g[i].virq], 0);
			if (churn_one(&g[i]))
				return (void *)1;
		}
		if (ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, grp))
			return (void *)1;
		atomic_fetch_add(&churned, 4);
	}
	return NULL;
}

static void fire_move_and_churn_lose_nothing(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NCPU };
	struct ims_hw_gic_params gp = { .nr_cpus = NCPU, .its_base = ITS_BASE };
	struct ims_arm_its_config ic = { .nr_cpus = NCPU, .its_base = ITS_BASE, .ops = &ims__hw_gic_ops };
	struct ims_hw_ims_array_params ap = { CHURN_SLOTS, 0x0200 };
	struct ims_device_info di = { .name = "0000:02:00.0", .rid = 0x0200 };
	pthread_t cpus[2], fire, move, churn;
	void *fr, *cr;
	struct ims_hw_its_stats st;
	struct ims_arm_its_stats ist;
	struct ims_mem_stats mem;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims__hw_gic_create(&gp, &gic), 0);
	ims__hw_gic_msi_sink(gic, &sink);
	ic.ctx = gic;
	assert_int_equal(ims_arm_its_create(core, &ic, &its), 0);
	assert_int_equal(ims__hw_ims_array_create(&ap, &sink, &arr), 0);
	ims__hw_ims_array_region(arr, &reg);
	di.core = core;
	di.msi_parent = ims_arm_its_irq_domain(its);
	assert_int_equal(ims_device_create(&di, &dev), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &tmpl, CHURN_SLOTS,
						      NULL), 0);
	for (unsigned int i = 0; i < NSTABLE; i++) {
		struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1000 + i, NULL,
							    no_cookie);

		assert_true(m.virq >= 0);
		stable_irq[i] = (unsigned int)m.virq;
		stable_idx[i] = (uint32_t)m.index;
		assert_int_equal(ims_irq_request(core, stable_irq[i], handler, 0, "stable", NULL), 0);
	}
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&cpus[i], NULL, cpu_thread, (void *)i), 0);
	assert_int_equal(pthread_create(&fire, NULL, fire_thread, NULL), 0);
	assert_int_equal(pthread_create(&move, NULL, move_thread, NULL), 0);
	assert_int_equal(pthread_create(&churn, NULL, churn_thread, NULL), 0);
	pthread_join(fire, &fr);
	atomic_store(&fire_done, true);
	pthread_join(move, NULL);
	pthread_join(churn, &cr);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(cpus[i], NULL);
	assert_null(fr);
	assert_null(cr);
	for (unsigned int i = 0; i < NSTABLE; i++)
		assert_int_equal(atomic_load(&runs[stable_irq[i]]), ROUNDS);
	ims__hw_gic_its_stats(gic, &st);
	ims_arm_its_get_stats(its, &ist);
	print_message("%u interrupts handled once each, %u moves, %u vectors churned, %llu commands\n",
		      ROUNDS * NSTABLE, atomic_load(&moves), atomic_load(&churned),
		      (unsigned long long)st.commands);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.command_errors, 0);
	assert_int_equal(ist.spurious, 0);
	for (unsigned int i = 0; i < NSTABLE; i++)
		assert_int_equal(ims_irq_free(core, stable_irq[i], NULL), 0);
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims__arm_its_check(its), 0);
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims_arm_its_destroy(its), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims__hw_gic_destroy(gic);
	ims__hw_ims_array_destroy(arr);
	ims_mem_stats(&mem);
	assert_int_equal(mem.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fire_move_and_churn_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

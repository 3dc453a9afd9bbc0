/*
 * The remapping driver and unit under concurrency, through the interrupt
 * core. Devices fire their (never changing) messages from several threads;
 * the APIC sink dispatches each remapped interrupt into the core, whose data
 * path holds an RCU read section and takes the descriptor lock. Meanwhile
 * the control thread moves the interrupts between CPUs and posts and
 * unposts one of them, each change invalidating under the descriptor lock.
 * This would deadlock if an invalidation waited for an RCU grace period;
 * the unit waits only for its own requests in flight, which call nothing.
 * Proved: the run completes, no request faults (every entry change is one
 * atomic store), every fired request is accounted for (dispatched to its
 * own irq, landed on an already released vector, or posted), no handler
 * ever runs for an interrupt that is not its own, and the counts recount.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir_env.h"
#include "os/irq/internal.h"
#include "util/rcu.h"

#define NR_CPUS 8
#include "fake_root.h"

#define NIRQ 4
#define FIRERS 2
#define FIRES 20000u
#define ROUNDS 1000u
#define NV 0xf2
#define RID 0x0200

struct mt {
	struct ims_irq_core *core;
	struct fake_root fr;
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit *unit;
	struct ims_remap *remap;
	uint64_t *pid;
	unsigned int irq[NIRQ];
	struct ims_msi_msg msg[NIRQ];
	unsigned int ctx[NIRQ];
	atomic_uint_fast64_t handled[NIRQ];
	atomic_uint_fast64_t fired, dispatched, stale, posted, notified, faults, wrong;
	atomic_bool stop;
};

static struct mt *m;

static int sink(void *ctx, const struct ims_hw_apic_irq *irq)
{
	uint32_t owner;

	(void)ctx;
	if (irq->vector == NV) {
		atomic_fetch_add(&m->notified, 1);
		return 1;
	}
	owner = atomic_load(&m->fr.owner[irq->dest][irq->vector]);
	if (!owner) {
		/* Remapped just before a move, delivered after the old vector
		 * was released: in flight, as on hardware. */
		atomic_fetch_add(&m->stale, 1);
		return 1;
	}
	atomic_fetch_add(&m->dispatched, 1);
	ims_irq_handle(m->core, owner - 1, irq->dest);
	return 1;
}

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	unsigned int i = *(unsigned int *)ctx;

	if (irq != m->irq[i])
		atomic_fetch_add(&m->wrong, 1);
	atomic_fetch_add(&m->handled[i], 1);
	return IMS_IRQ_HANDLED;
}

static int fire(unsigned int i)
{
	struct ims_hw_msi_write w = { .addr = m->msg[i].address_lo, .data = m->msg[i].data, .rid = RID };
	struct ims_ir_outcome out;
	int ret = ims__ir_unit_handle(m->unit, &w, &out);

	atomic_fetch_add(&m->fired, 1);
	if (ret != 0)
		atomic_fetch_add(&m->faults, 1);
	else if (out.kind == IMS_IR_OUT_POSTED)
		atomic_fetch_add(&m->posted, 1);
	return ret;
}

static void *firer(void *arg)
{
	(void)arg;
	/* At least FIRES, and on until the control thread is done. */
	for (unsigned int n = 0; n < FIRES || !atomic_load(&m->stop); n++)
		fire(n % NIRQ);
	return NULL;
}

static void moves_and_posting_race_delivery_without_deadlock(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NR_CPUS };
	struct ims_irq_domain_info di = { .name = "fake-vector", .ops = &fr_ops, .chip = &fr_chip };
	struct ims_hw_ir_unit_config ucfg = { .name = "dmar0", .apic = { sink, NULL }, .rid_last = 0xffff };
	struct ims_remap_config rcfg = { .nr_entries = 64 };
	struct ims_msi_alloc_info info = { .rid = RID, .type = IMS_MSI_TYPE_IMS };
	struct ims_cpumask *mask = ims_cpumask_create(NR_CPUS);
	pthread_t th[FIRERS];
	uint64_t sum = 0;
	int first;

	(void)state;
	m = calloc(1, sizeof(*m));
	pthread_mutex_init(&m->fr.lock, NULL);
	m->fr.no_reuse = true;
	assert_int_equal(ims_irq_core_create(&cc, &m->core), 0);
	di.host_data = &m->fr;
	assert_int_equal(ims_irq_domain_create(m->core, &di, &m->fr.domain), 0);
	assert_int_equal(ims__dma_create(&m->dma), 0);
	m->pid = ims__dma_alloc_registered(m->dma, 64, 64, "test_pid");
	assert_non_null(m->pid);
	ims_pid_init(m->pid, NV, 1, false);
	ucfg.dma = m->dma;
	assert_int_equal(ims__ir_unit_create(&ucfg, &m->unit), 0);
	rcfg.unit = m->unit;
	rcfg.dma = m->dma;
	rcfg.parent = m->fr.domain;
	assert_int_equal(ims_remap_create(m->core, &rcfg, &m->remap), 0);
	first = ims_irq_domain_alloc_irqs(ims_remap_domain(m->remap), -1, NIRQ, &info, NULL);
	assert_true(first >= 0);
	for (unsigned int i = 0; i < NIRQ; i++) {
		m->irq[i] = (unsigned int)first + i;
		m->ctx[i] = i;
		assert_int_equal(ims_irq_request(m->core, m->irq[i], handler, 0, "mt", &m->ctx[i]), 0);
		assert_int_equal(ims_irq_chip_compose_msi_msg(
					 ims_irq_domain_get_irq_data(ims_remap_domain(m->remap), m->irq[i]),
					 &m->msg[i]), 0);
	}

	for (int t = 0; t < FIRERS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, firer, NULL), 0);
	for (unsigned int round = 0; round < ROUNDS; round++) {
		unsigned int i = round % NIRQ;

		ims_cpumask_zero(mask);
		ims_cpumask_set(mask, (round * 3) % NR_CPUS);
		assert_int_equal(ims_irq_set_affinity(m->core, m->irq[i], mask), 0);
		if (round % 7 == 0) {
			if (ims_remap_irq_is_posted(m->remap, m->irq[0]))
				assert_int_equal(ims_remap_irq_unpost(m->remap, m->irq[0]), 0);
			else
				assert_int_equal(ims_remap_irq_post(m->remap, m->irq[0], ims__dma_addr(m->pid),
								    0x40, round % 2), 0);
		}
		if (round % 64 == 0) {
			uint64_t pir[4];

			ims_pid_take(m->pid, pir);
		}
	}
	atomic_store(&m->stop, true);
	for (int t = 0; t < FIRERS; t++)
		pthread_join(th[t], NULL);

	assert_int_equal(atomic_load(&m->faults), 0);
	assert_int_equal(atomic_load(&m->wrong), 0);
	assert_true(atomic_load(&m->fired) >= FIRERS * FIRES);
	assert_int_equal(atomic_load(&m->dispatched) + atomic_load(&m->stale) + atomic_load(&m->posted),
			 atomic_load(&m->fired));
	assert_int_equal(ims_remap_check(m->remap), 0);
	assert_int_equal(ims__irq_core_check(m->core), 0);
	printf("%llu fired: %llu dispatched, %llu in flight at a move, %llu posted (%llu notifications)\n",
	       (unsigned long long)atomic_load(&m->fired), (unsigned long long)atomic_load(&m->dispatched),
	       (unsigned long long)atomic_load(&m->stale),
	       (unsigned long long)atomic_load(&m->posted), (unsigned long long)atomic_load(&m->notified));

	/* Quiet now: each interrupt, fired once, runs its own handler once. */
	if (ims_remap_irq_is_posted(m->remap, m->irq[0]))
		assert_int_equal(ims_remap_irq_unpost(m->remap, m->irq[0]), 0);
	for (unsigned int i = 0; i < NIRQ; i++) {
		uint64_t before = atomic_load(&m->handled[i]);

		assert_int_equal(fire(i), 0);
		assert_int_equal(atomic_load(&m->handled[i]), before + 1);
		sum += before + 1;
	}
	assert_true(sum >= NIRQ);

	for (unsigned int i = 0; i < NIRQ; i++)
		assert_int_equal(ims_irq_free(m->core, m->irq[i], &m->ctx[i]), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m->core, m->irq[0], NIRQ), 0);
	assert_int_equal(ims_remap_destroy(m->remap), 0);
	ims__ir_unit_destroy(m->unit);
	assert_int_equal(ims__dma_free_registered(m->dma, m->pid, 64, 64), 0);
	assert_int_equal(ims__dma_destroy(m->dma), 0);
	assert_int_equal(ims_irq_domain_remove(m->fr.domain), 0);
	assert_int_equal(ims_irq_core_destroy(m->core), 0);
	pthread_mutex_destroy(&m->fr.lock);
	ims_cpumask_destroy(mask);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(moves_and_posting_race_delivery_without_deadlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

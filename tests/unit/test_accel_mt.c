/*
 * ADI churn while completions fire, with real threads on the whole
 * machine: the device runs its own thread, two threads play the CPUs
 * (taking vectors from their local APICs and dispatching them), and four
 * threads each create an ADI, submit work, wait for its completion
 * interrupts and destroy it, again and again; every third ADI is destroyed
 * with its work still queued or in flight. Every completion must reach
 * the handler of the ADI that submitted it, while that ADI lives, and
 * every ADI that waited must see all of its work complete.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NCPU 4
#define NCHURN 4
#define ROUNDS 60
#define WORK 8
#define SPIN_LIMIT 100000000ull

static struct accel_machine M;
static atomic_bool stop_cpus;
static atomic_uint_fast64_t wrong, completed, waited_out;

struct adi_ctx {
	_Atomic(struct ims_accel_adi *) adi;
	atomic_bool alive;
	atomic_uint outstanding;
	uint64_t tag;
};

static void on_complete(struct ims_accel_adi *adi, void *ctx, unsigned int vec, uint32_t ticket,
			uint32_t status, uint64_t result)
{
	struct adi_ctx *c = ctx;

	(void)vec;
	(void)ticket;
	if (atomic_load(&c->adi) != adi || !atomic_load(&c->alive) ||
	    status != IMS_ACCEL_CR_STATUS_SUCCESS || result >> 8 != c->tag)
		atomic_fetch_add(&wrong, 1);
	atomic_fetch_sub(&c->outstanding, 1);
	atomic_fetch_add(&completed, 1);
}

static void *cpu_thread(void *arg)
{
	uint32_t first = (uint32_t)(uintptr_t)arg;

	while (!atomic_load(&stop_cpus)) {
		bool any = false;

		for (uint32_t c = first; c < NCPU; c += 2)
			while (am_poll(&M, c) >= 0)
				any = true;
		if (!any)
			sched_yield();
	}
	return NULL;
}

static void *churn_thread(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;

	for (uint32_t round = 0; round < ROUNDS; round++) {
		struct adi_ctx c;
		struct ims_accel_adi_info ii = { .pasid = 0x1000 + id * ROUNDS + round, .nvec = 2,
						 .complete = on_complete, .ctx = &c };
		struct ims_accel_adi *adi;
		uint32_t t;
		int ret;

		memset(&c, 0, sizeof(c));
		c.tag = (uint64_t)id << 16 | round;
		atomic_store(&c.alive, true);
		ret = ims_accel_adi_create(M.acc, &ii, &adi);
		if (ret) {
			atomic_fetch_add(&wrong, 1);
			continue;
		}
		atomic_store(&c.adi, adi);
		for (uint32_t k = 0; k < WORK; k++) {
			atomic_fetch_add(&c.outstanding, 1);
			if (ims_accel_submit(adi, k % 2, IMS_ACCEL_OP_ECHO, c.tag << 8 | k, &t)) {
				atomic_fetch_sub(&c.outstanding, 1);
				atomic_fetch_add(&wrong, 1);
			}
		}
		if (round % 3 != 2) {
			uint64_t spins = 0;

			while (atomic_load(&c.outstanding) && ++spins < SPIN_LIMIT)
				sched_yield();
			if (atomic_load(&c.outstanding))
				atomic_fetch_add(&waited_out, 1);
		}
		/* Destroyed with its work done, or with it still on its way. */
		ret = ims_accel_adi_destroy(adi);
		atomic_store(&c.alive, false);
		if (ret)
			atomic_fetch_add(&wrong, 1);
	}
	return NULL;
}

static void adi_churn_while_completions_fire(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 64, .wq_depth = WORK, .nr_ims = 1024, .nr_msix = 9, .dvsec_ims = true,
	};
	pthread_t cpus[2], churn[NCHURN];
	struct ims_hw_accel_stats st;
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(am_create(&M, NCPU, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	assert_int_equal(ims__hw_accel_thread_start(M.hw), 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&cpus[i], NULL, cpu_thread, (void *)i), 0);
	for (uintptr_t i = 0; i < NCHURN; i++)
		assert_int_equal(pthread_create(&churn[i], NULL, churn_thread, (void *)i), 0);
	for (int i = 0; i < NCHURN; i++)
		pthread_join(churn[i], NULL);
	ims__hw_accel_thread_stop(M.hw);
	atomic_store(&stop_cpus, true);
	for (int i = 0; i < 2; i++)
		pthread_join(cpus[i], NULL);

	ims__hw_accel_get_stats(M.hw, &st);
	print_message("%d threads x %d ADIs: %llu completions handled, %llu descriptors dropped by "
		      "destruction, %llu completed by the device\n", NCHURN, ROUNDS,
		      (unsigned long long)atomic_load(&completed), (unsigned long long)st.dropped,
		      (unsigned long long)st.completed);
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(atomic_load(&waited_out), 0);
	/* Every waited-for ADI saw all its work: at least two thirds of it all. */
	assert_true(atomic_load(&completed) >= (uint64_t)NCHURN * (ROUNDS / 3) * 2 * WORK);
	assert_int_equal(st.submitted, (uint64_t)NCHURN * ROUNDS * WORK);
	assert_int_equal(ims_accel_nr_adis(M.acc), 0);
	assert_int_equal(ims__accel_check(M.acc), 0);
	assert_int_equal(ims__msi_device_check(ims_accel_device(M.acc)), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adi_churn_while_completions_fire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

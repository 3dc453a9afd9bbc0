/*
 * Concurrency of the interrupt core: synchronize and free wait for a
 * running handler; handlers keep firing from several threads while others
 * install, remove, disable and enable them, and no handler ever runs on a
 * context that was freed (ASan and TSan watch this binary).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "os/irq/internal.h"

static struct ims_irq_core *core;
static int irq;

static atomic_bool entered, go, exited, sync_done, exited_at_sync;

static ims_irqreturn_t blocking_handler(unsigned int n, void *ctx)
{
	(void)n;
	(void)ctx;
	atomic_store(&entered, true);
	while (!atomic_load(&go))
		sched_yield();
	atomic_store(&exited, true);
	return IMS_IRQ_HANDLED;
}

static void *fire_once(void *arg)
{
	(void)arg;
	ims_irq_handle(core, (unsigned int)irq, 1);
	return NULL;
}

static void *do_sync(void *arg)
{
	int free_it = *(int *)arg;

	if (free_it)
		assert_int_equal(ims_irq_free(core, (unsigned int)irq, NULL), 0);
	else
		assert_int_equal(ims_irq_synchronize(core, (unsigned int)irq), 0);
	atomic_store(&exited_at_sync, atomic_load(&exited));
	atomic_store(&sync_done, true);
	return NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void waits_for_running_handler(int free_it)
{
	pthread_t f, s;

	atomic_store(&entered, false);
	atomic_store(&go, false);
	atomic_store(&exited, false);
	atomic_store(&sync_done, false);
	assert_int_equal(ims_irq_request(core, (unsigned int)irq, blocking_handler, 0, "blk", NULL), 0);
	pthread_create(&f, NULL, fire_once, NULL);
	while (!atomic_load(&entered))
		sched_yield();
	pthread_create(&s, NULL, do_sync, &free_it);
	/* Give the waiter every chance to return early; it must not. */
	pause_ms(20);
	assert_false(atomic_load(&sync_done));
	atomic_store(&go, true);
	pthread_join(s, NULL);
	pthread_join(f, NULL);
	assert_true(atomic_load(&exited_at_sync));
	if (!free_it)
		assert_int_equal(ims_irq_free(core, (unsigned int)irq, NULL), 0);
}

static void synchronize_waits_for_running_handler(void **state)
{
	(void)state;
	waits_for_running_handler(0);
}

static void free_waits_for_running_handler(void **state)
{
	(void)state;
	waits_for_running_handler(1);
}

/* ---- churn ---- */

#define MAGIC 0x5eed5eedu

struct hctx {
	unsigned int magic;
	atomic_uint calls;
};

static atomic_bool stop;
static atomic_uint_fast64_t fired;

static ims_irqreturn_t checking_handler(unsigned int n, void *ctx)
{
	struct hctx *h = ctx;

	(void)n;
	assert_int_equal(h->magic, MAGIC);
	atomic_fetch_add(&h->calls, 1);
	return IMS_IRQ_HANDLED;
}

static void *firer(void *arg)
{
	uint32_t cpu = (uint32_t)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		ims_irq_handle(core, (unsigned int)irq, cpu);
		atomic_fetch_add(&fired, 1);
	}
	return NULL;
}

static void handlers_churn_while_firing(void **state)
{
	pthread_t t[3];
	unsigned int i, round;
	unsigned int rounds = 3000;

	(void)state;
	atomic_store(&stop, false);
	for (i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, firer, (void *)(uintptr_t)i);
	/* At least `rounds` rounds, and on until the firers have really fired. */
	for (round = 0; round < rounds || atomic_load(&fired) < 20000; round++) {
		struct hctx *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

		a->magic = b->magic = MAGIC;
		assert_int_equal(ims_irq_request(core, (unsigned int)irq, checking_handler,
						 IMS_IRQF_SHARED, "a", a), 0);
		assert_int_equal(ims_irq_request(core, (unsigned int)irq, checking_handler,
						 IMS_IRQF_SHARED, "b", b), 0);
		if (round % 3 == 0) {
			assert_int_equal(ims_irq_disable(core, (unsigned int)irq), 0);
			assert_int_equal(ims_irq_enable(core, (unsigned int)irq), 0);
		}
		assert_int_equal(ims_irq_free(core, (unsigned int)irq, a), 0);
		a->magic = 0;	/* a handler still using it would now fail */
		free(a);
		assert_int_equal(ims_irq_free(core, (unsigned int)irq, b), 0);
		b->magic = 0;
		free(b);
	}
	atomic_store(&stop, true);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_true(atomic_load(&fired) >= 20000);
	assert_int_equal(ims__irq_core_check(core), 0);
}

static int setup(void **state)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4 };

	(void)state;
	assert_int_equal(ims_irq_core_create(&cfg, &core), 0);
	irq = ims_irq_alloc_descs(core, -1, 1);
	assert_true(irq >= 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(ims_irq_free_descs(core, (unsigned int)irq, 1), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(synchronize_waits_for_running_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(free_waits_for_running_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(handlers_churn_while_firing, setup, teardown),
	};

	return cmocka_run_group_tests_name("irq_sync_mt", tests, NULL, NULL);
}

/*
 * Dispatch against an irq number freed and handed out again. A CPU takes a
 * vector and reads the irq its table entry names; before it looks that
 * irq up, another thread frees the irq and allocates a new one, which gets
 * the same number (the core hands the lowest freed numbers out first), with
 * a handler of its own. The interrupt was raised for the freed irq: it
 * must not run the new owner's handler. The read and the lookup are one
 * RCU read section, so the free cannot finish (and the number cannot come
 * back) until the dispatch has looked the number up.
 *
 * A test hook stalls the dispatch between the two. The stall waits for the
 * other thread to finish, for at most STALL_MS: with the read section the
 * free waits for the dispatch, so the stall always lasts that long.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helpers/x86_machine.h"
#include "os/x86/vector.h"

#define STALL_MS 250

static struct x86m m;
static atomic_uint old_hits, new_hits;
static int old_irq, new_irq = -1;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool go, done, stalled;
static int rc_free, rc_free_irqs, rc_request;	/* the other thread's results (asserted on the main one) */

static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	atomic_fetch_add((atomic_uint *)ctx, 1);
	return IMS_IRQ_HANDLED;
}

/* The driver tears its irq down and allocates a new one on the same slot. */
static void *reuser(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	rc_free = ims_irq_free(m.core, (unsigned int)old_irq, &old_hits);
	rc_free_irqs = ims_irq_domain_free_irqs(m.core, (unsigned int)old_irq, 1);
	new_irq = x86m_alloc(&m, 0, 1, NULL);
	rc_request = new_irq < 0 ? new_irq
				 : ims_irq_request(m.core, (unsigned int)new_irq, count_handler, 0, "new", &new_hits);
	pthread_mutex_lock(&mu);
	done = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Dispatch has read the table entry: let the other thread run, a while. */
static void stall(void *ctx, uint32_t cpu, unsigned int irq)
{
	struct timespec until;

	(void)ctx;
	(void)cpu;
	if (irq != (unsigned int)old_irq || stalled)
		return;
	stalled = true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += STALL_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&mu);
	go = true;
	pthread_cond_broadcast(&cv);
	while (!done)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&mu);
}

static void dispatch_never_reaches_the_next_owner_of_a_freed_number(void **state)
{
	pthread_t t;
	uint32_t cpu;
	uint8_t vec;

	(void)state;
	assert_int_equal(x86m_create(&m, 1, NULL, 0, 1), 0);
	old_irq = x86m_alloc(&m, 0, 1, NULL);
	assert_true(old_irq >= 0);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)old_irq, count_handler, 0, "old", &old_hits), 0);
	assert_int_equal(ims_x86_vector_target(ims_irq_domain_get_irq_data(ims_x86_vector_irq_domain(m.vd),
									   (unsigned int)old_irq),
					       &cpu, NULL, &vec), 0);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_true(x86m_irr(&m, cpu, vec));

	assert_int_equal(pthread_create(&t, NULL, reuser, NULL), 0);
	ims__x86_vector_test_dispatch_stall(m.vd, stall, NULL);
	assert_int_equal(x86m_poll(&m, cpu), vec);
	ims__x86_vector_test_dispatch_stall(m.vd, NULL, NULL);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(stalled);
	assert_int_equal(rc_free, 0);
	assert_int_equal(rc_free_irqs, 0);
	assert_int_equal(rc_request, 0);

	/* The number came back (else this tested nothing) ... */
	assert_int_equal(new_irq, old_irq);
	/* ... and the freed irq's interrupt ran no handler, least of all the new one. */
	assert_int_equal(atomic_load(&old_hits), 0);
	assert_int_equal(atomic_load(&new_hits), 0);
	assert_int_equal(ims_x86_vector_check(m.vd), 0);

	/* The new owner's own interrupts reach it. */
	assert_int_equal(ims_x86_vector_target(ims_irq_domain_get_irq_data(ims_x86_vector_irq_domain(m.vd),
									   (unsigned int)new_irq),
					       &cpu, NULL, &vec), 0);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_int_equal(x86m_run(&m), 1);
	assert_int_equal(atomic_load(&new_hits), 1);

	assert_int_equal(ims_irq_free(m.core, (unsigned int)new_irq, &new_hits), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)new_irq, 1), 0);
	x86m_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dispatch_never_reaches_the_next_owner_of_a_freed_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

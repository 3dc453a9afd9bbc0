/*
 * Switching to posted delivery and back, under fire. A remapping level
 * that posts an irq deactivates its parents, so the vector domain must
 * give the host vector back at once, or, when the APIC still holds an
 * interrupt for it, keep it (stale) until that interrupt has reached the
 * handler. Here the test device plays the remapping entry: posting a slot
 * stops its host messages and waits for those already on their way (the
 * invalidation wait), then deactivates the parents; unposting activates
 * them and writes the new message. One thread raises interrupts (one
 * outstanding per slot), one switches slots between posted and remapped
 * and moves them between CPUs, and one thread per CPU dispatches. Every
 * raise must be taken exactly once, by its handler or by posted delivery,
 * no vector may be found without an owner, and every vector must come
 * back. Runs until 10^6 raises took the host path (IMS_POSTED_IRQS).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helpers/x86_machine.h"
#include "os/irq/internal.h"

#define NCPUS 3
#define NIRQS 12

static struct x86m m;
static int base_irq;
static atomic_int outstanding[NIRQS];
static atomic_uint_fast64_t runs, posted_runs, misdelivered;
static atomic_bool stop_cpus, stop_ctl;
static bool posted[NIRQS];	/* control thread only */
static uint64_t posts, unposts, moves;

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	uintptr_t i = (uintptr_t)ctx;

	(void)irq;
	if (atomic_exchange(&outstanding[i], 0) != 1)
		atomic_fetch_add(&misdelivered, 1);
	atomic_fetch_add(&runs, 1);
	return IMS_IRQ_HANDLED;
}

/* Posted delivery: the guest takes it; no host vector is involved. */
static void posted_deliver(void *ctx, uint32_t slot)
{
	(void)ctx;
	if (atomic_exchange(&outstanding[slot], 0) != 1)
		atomic_fetch_add(&misdelivered, 1);
	atomic_fetch_add(&posted_runs, 1);
}

static void *cpu_thread(void *arg)
{
	uint32_t cpu = (uint32_t)(uintptr_t)arg;
	unsigned int idle = 0;

	while (!atomic_load(&stop_cpus)) {
		if (x86m_poll(&m, cpu) >= 0)
			continue;
		if (++idle % 64 == 0)
			ims_x86_vector_cleanup(m.vd);
		sched_yield();
	}
	return NULL;
}

/* What a remapping driver does under the descriptor lock. */
static void toggle_posted(uint32_t i)
{
	unsigned int irq = (unsigned int)base_irq + i;
	struct ims_irq_desc *desc = ims__irq_to_desc(m.core, irq);
	struct ims_irq_data *top = ims_irq_domain_get_irq_data(m.dev, irq);
	struct ims_msi_msg msg;

	ims__spin_lock(&desc->lock);
	if (!posted[i]) {
		x86m_slot_post(&m, i);
		ims_irq_domain_deactivate_parent(top);
		posted[i] = true;
		posts++;
	} else if (ims_irq_domain_activate_parent(top) == 0) {
		assert_int_equal(ims_irq_chip_compose_msi_msg_parent(top, &msg), 0);
		x86m_slot_unpost(&m, i, &msg);
		posted[i] = false;
		unposts++;
	}
	ims__spin_unlock(&desc->lock);
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

static void *control_thread(void *arg)
{
	struct ims_cpumask *mask = ims_cpumask_create(NCPUS);

	(void)arg;
	while (!atomic_load(&stop_ctl)) {
		uint32_t i = (uint32_t)(rnd() % NIRQS);

		/* Posting is the rarer move, so most raises take the host path. */
		if (posted[i] || rnd() % 8 == 0) {
			toggle_posted(i);
		} else {
			int rc;

			ims_cpumask_zero(mask);
			ims_cpumask_set(mask, (uint32_t)(rnd() % NCPUS));
			rc = ims_irq_set_affinity(m.core, (unsigned int)base_irq + i, mask);
			if (rc == 0)
				moves++;
			else if (rc != -EBUSY)
				fail_msg("set_affinity: %d (%s)", rc, ims_last_error());
		}
		sched_yield();
	}
	for (uint32_t i = 0; i < NIRQS; i++)
		if (posted[i])
			toggle_posted(i);
	ims_cpumask_destroy(mask);
	return NULL;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void posted_switch_under_fire_loses_nothing(void **state)
{
	pthread_t cpus[NCPUS], ctl;
	struct ims_x86_vector_stats st;
	uint64_t target = 1000000, fired = 0;
	const char *env = getenv("IMS_POSTED_IRQS");
	double deadline;
	uint32_t i;

	(void)state;
	if (env)
		target = strtoull(env, NULL, 0);
	assert_int_equal(x86m_create(&m, NCPUS, NULL, 0, NIRQS), 0);
	m.posted_fn = posted_deliver;
	base_irq = x86m_alloc(&m, 0, NIRQS, NULL);
	assert_true(base_irq >= 0);
	for (i = 0; i < NIRQS; i++)
		assert_int_equal(ims_irq_request(m.core, (unsigned int)base_irq + i, handler, 0, "p",
						 (void *)(uintptr_t)i), 0);
	for (i = 0; i < NCPUS; i++)
		pthread_create(&cpus[i], NULL, cpu_thread, (void *)(uintptr_t)i);
	pthread_create(&ctl, NULL, control_thread, NULL);

	/* Until the host path has taken `target`: posted raises are cheap. */
	deadline = now_s() + 10;
	while (atomic_load(&runs) < target) {
		bool any = false, host = false;

		for (i = 0; i < NIRQS; i++) {
			if (atomic_load(&outstanding[i]))
				continue;
			atomic_store(&outstanding[i], 1);
			host |= x86m_fire(&m, i) > 0;
			fired++;
			any = true;
			deadline = now_s() + 10;
		}
		/* A round of posted raises only: let the other threads run. */
		if (any && !host)
			sched_yield();
		if (!any) {
			if (now_s() > deadline) {
				ims_x86_vector_dump(m.vd, stderr);
				fail_msg("stuck after %llu interrupts", (unsigned long long)fired);
			}
			sched_yield();
		}
	}
	for (;;) {
		int left = 0;

		for (i = 0; i < NIRQS; i++)
			left += atomic_load(&outstanding[i]);
		if (!left)
			break;
		if (now_s() > deadline) {
			ims_x86_vector_dump(m.vd, stderr);
			fail_msg("%d interrupts never reached their handler", left);
		}
		sched_yield();
	}
	atomic_store(&stop_ctl, true);
	pthread_join(ctl, NULL);
	atomic_store(&stop_cpus, true);
	for (i = 0; i < NCPUS; i++)
		pthread_join(cpus[i], NULL);

	ims_x86_vector_get_stats(m.vd, &st);
	print_message("fired %llu: handled %llu, posted %llu; posts %llu unposts %llu moves %llu\n",
		      (unsigned long long)fired, (unsigned long long)atomic_load(&runs),
		      (unsigned long long)atomic_load(&posted_runs), (unsigned long long)posts,
		      (unsigned long long)unposts, (unsigned long long)moves);
	assert_int_equal(atomic_load(&runs) + atomic_load(&posted_runs), fired);
	assert_int_equal(atomic_load(&misdelivered), 0);
	assert_int_equal(st.spurious, 0);
	assert_true(posts > 0 && atomic_load(&posted_runs) > 0);
	if (ims_x86_vector_check(m.vd))
		fail_msg("%s", ims_last_error());
	for (i = 0; i < NIRQS; i++)
		assert_int_equal(ims_irq_free(m.core, (unsigned int)base_irq + i, (void *)(uintptr_t)i), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)base_irq, NIRQS), 0);
	ims_x86_vector_cleanup(m.vd);
	ims_x86_vector_get_stats(m.vd, &st);
	assert_int_equal(st.allocated + st.reserved + st.moves_in_progress, 0);
	if (ims_x86_vector_check(m.vd))
		fail_msg("%s", ims_last_error());
	x86m_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(posted_switch_under_fire_loses_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

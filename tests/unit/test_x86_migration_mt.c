/*
 * Migration under fire. One thread raises interrupts on 16 device slots,
 * one thread changes their affinity continuously, and one thread per CPU
 * takes vectors from its local APIC and dispatches them. Each slot has at
 * most one interrupt outstanding: the device raises it again only after
 * its handler has started. So every raise must be followed by exactly one
 * handler run of its own irq:
 *   - none lost: handler runs == raises - coalesced (the APICs count
 *     coalescing, and with one outstanding per slot it must be 0), and no
 *     slot is left waiting;
 *   - none misdelivered: a handler that runs with nothing outstanding for
 *     its own irq ran for someone else's interrupt (or twice);
 *   - no vector is found without an owner (spurious = 0), and afterwards
 *     every vector comes back and every count matches a recount.
 * 10^6 interrupts (IMS_MIGRATION_IRQS overrides); about a second, also
 * under ThreadSanitizer.
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

#define NCPUS 4
#define NIRQS 16

static struct x86m m;
static int base_irq;
static atomic_int outstanding[NIRQS];
static atomic_uint_fast64_t runs[NIRQS];
static atomic_uint_fast64_t misdelivered;
static atomic_uint_fast64_t wrong_irq;
static atomic_uint_fast64_t off_target;
static _Thread_local int this_cpu = -1;
static atomic_bool stop_cpus, stop_affinity;
static uint64_t fired_total;
static uint64_t moves_ok, moves_busy, moves_same, moves_offline;
static uint64_t offlines, offline_busy;

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	uintptr_t i = (uintptr_t)ctx;

	if (irq != (unsigned int)base_irq + i)
		atomic_fetch_add(&wrong_irq, 1);
	if (atomic_exchange(&outstanding[i], 0) != 1)
		atomic_fetch_add(&misdelivered, 1);
	atomic_fetch_add_explicit(&runs[i], 1, memory_order_relaxed);
	/* Taken on a CPU the irq has already left: an old vector at work. */
	if (this_cpu != ims_irq_effective_cpu(m.core, irq))
		atomic_fetch_add_explicit(&off_target, 1, memory_order_relaxed);
	return IMS_IRQ_HANDLED;
}

static void *cpu_thread(void *arg)
{
	uint32_t cpu = (uint32_t)(uintptr_t)arg;
	unsigned int idle = 0;

	this_cpu = (int)cpu;
	while (!atomic_load_explicit(&stop_cpus, memory_order_acquire)) {
		if (x86m_poll(&m, cpu) >= 0) {
			idle = 0;
			continue;
		}
		/* Idle: the CPU's own chance to free old vectors. */
		if (++idle % 64 == 0)
			ims_x86_vector_cleanup(m.vd);
		sched_yield();
	}
	return NULL;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

static void *affinity_thread(void *arg)
{
	struct ims_cpumask *mask = ims_cpumask_create(NCPUS);

	bool cpu3_online = true;
	unsigned int round = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop_affinity, memory_order_acquire)) {
		uint32_t i = (uint32_t)(rnd() % NIRQS);
		int before = ims_irq_effective_cpu(m.core, (unsigned int)base_irq + i), rc;

		/* Now and then CPU 3 leaves (taking its irqs elsewhere) and returns. */
		if (++round % 256 == 0) {
			if (cpu3_online) {
				/* Busy until interrupts land on the moved irqs' new vectors. */
				for (int tries = 0; tries < 100; tries++) {
					rc = ims_x86_vector_cpu_offline(m.vd, 3);
					if (rc != -EBUSY)
						break;
					offline_busy++;
					sched_yield();
				}
				if (rc == 0) {
					cpu3_online = false;
					offlines++;
				} else if (rc != -EBUSY) {
					fail_msg("cpu_offline: %d (%s)", rc, ims_last_error());
				}
			} else {
				assert_int_equal(ims_x86_vector_cpu_online(m.vd, 3), 0);
				cpu3_online = true;
			}
		}

		ims_cpumask_zero(mask);
		ims_cpumask_set(mask, (uint32_t)(rnd() % NCPUS));
		if (rnd() % 4 == 0)
			ims_cpumask_set(mask, (uint32_t)(rnd() % NCPUS));
		rc = ims_irq_set_affinity(m.core, (unsigned int)base_irq + i, mask);
		if (rc == -EBUSY)
			moves_busy++;
		else if (rc == -EINVAL && !cpu3_online)
			moves_offline++;	/* the mask held only the offline CPU */
		else if (rc == 0 && ims_cpumask_test(mask, (uint32_t)before) &&
			 ims_irq_effective_cpu(m.core, (unsigned int)base_irq + i) == before)
			moves_same++;
		else if (rc == 0)
			moves_ok++;
		else
			fail_msg("set_affinity: %d (%s)", rc, ims_last_error());
		sched_yield();
	}
	if (!cpu3_online)
		assert_int_equal(ims_x86_vector_cpu_online(m.vd, 3), 0);
	ims_cpumask_destroy(mask);
	return NULL;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void dump_state(void)
{
	ims_x86_vector_dump(m.vd, stderr);
	for (int i = 0; i < NIRQS; i++)
		fprintf(stderr, "slot %d: outstanding %d runs %llu masked %d pending %d\n", i,
			atomic_load(&outstanding[i]), (unsigned long long)atomic_load(&runs[i]),
			m.slots[i].masked, m.slots[i].pending);
}

static void migration_under_fire_loses_and_misdelivers_nothing(void **state)
{
	pthread_t cpus[NCPUS], aff;
	struct ims_x86_vector_stats st;
	uint64_t target = 1000000, handled = 0, coalesced = 0;
	const char *env = getenv("IMS_MIGRATION_IRQS");
	double deadline;
	uint32_t i;

	(void)state;
	if (env)
		target = strtoull(env, NULL, 0);
	rnd_state = 0x9e3779b97f4a7c15ull;
	assert_int_equal(x86m_create(&m, NCPUS, NULL, 0, NIRQS), 0);
	base_irq = x86m_alloc(&m, 0, NIRQS, NULL);
	assert_true(base_irq >= 0);
	for (i = 0; i < NIRQS; i++)
		assert_int_equal(ims_irq_request(m.core, (unsigned int)base_irq + i, handler, 0, "mig",
						 (void *)(uintptr_t)i), 0);
	for (i = 0; i < NCPUS; i++)
		assert_int_equal(pthread_create(&cpus[i], NULL, cpu_thread, (void *)(uintptr_t)i), 0);
	assert_int_equal(pthread_create(&aff, NULL, affinity_thread, NULL), 0);

	/* This thread is the device. Ten seconds without progress is a hang. */
	deadline = now_s() + 10;
	while (fired_total < target) {
		bool any = false;

		for (i = 0; i < NIRQS && fired_total < target; i++) {
			if (atomic_load_explicit(&outstanding[i], memory_order_acquire))
				continue;
			atomic_store(&outstanding[i], 1);
			x86m_fire(&m, i);
			fired_total++;
			any = true;
			deadline = now_s() + 10;
		}
		if (!any) {
			if (now_s() > deadline) {
				dump_state();
				fail_msg("stuck after %llu interrupts", (unsigned long long)fired_total);
			}
			sched_yield();
		}
	}
	/* Every raise must find its handler. */
	for (;;) {
		int left = 0;

		for (i = 0; i < NIRQS; i++)
			left += atomic_load(&outstanding[i]);
		if (!left)
			break;
		if (now_s() > deadline) {
			dump_state();
			fail_msg("%d interrupts never reached their handler", left);
		}
		sched_yield();
	}
	atomic_store(&stop_affinity, true);
	pthread_join(aff, NULL);
	atomic_store(&stop_cpus, true);
	for (i = 0; i < NCPUS; i++)
		pthread_join(cpus[i], NULL);

	for (i = 0; i < NIRQS; i++)
		handled += atomic_load(&runs[i]);
	for (i = 0; i < NCPUS; i++) {
		struct ims_hw_lapic_stats ls;

		ims__lapic_stats(ims__apic_bus_lapic(m.bus, i), &ls);
		coalesced += ls.coalesced;
		assert_true(x86m_isr_empty(&m, i));
	}
	ims_x86_vector_get_stats(m.vd, &st);
	print_message("CPU 3 offline %llu times (refused busy %llu); %llu moves refused for an "
		      "offline-only mask\n", (unsigned long long)offlines, (unsigned long long)offline_busy,
		      (unsigned long long)moves_offline);
	print_message("fired %llu handled %llu coalesced %llu; moves %llu (refused busy %llu, "
		      "no change %llu); vector moves started %llu done %llu; dispatched %llu, %llu of them "
		      "on a CPU the irq had left\n",
		      (unsigned long long)fired_total, (unsigned long long)handled,
		      (unsigned long long)coalesced, (unsigned long long)moves_ok,
		      (unsigned long long)moves_busy, (unsigned long long)moves_same,
		      (unsigned long long)st.moves_started, (unsigned long long)st.moves_done,
		      (unsigned long long)st.dispatched, (unsigned long long)atomic_load(&off_target));
	assert_int_equal(coalesced, 0);
	assert_int_equal(handled, fired_total - coalesced);
	assert_int_equal(atomic_load(&misdelivered), 0);
	assert_int_equal(atomic_load(&wrong_irq), 0);
	assert_int_equal(st.spurious, 0);
	assert_true(st.moves_started > 0);
	if (ims_x86_vector_check(m.vd))
		fail_msg("%s", ims_last_error());

	for (i = 0; i < NIRQS; i++)
		assert_int_equal(ims_irq_free(m.core, (unsigned int)base_irq + i, (void *)(uintptr_t)i), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)base_irq, NIRQS), 0);
	ims_x86_vector_cleanup(m.vd);
	ims_x86_vector_get_stats(m.vd, &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.moves_in_progress, 0);
	if (ims_x86_vector_check(m.vd))
		fail_msg("%s", ims_last_error());
	x86m_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migration_under_fire_loses_and_misdelivers_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

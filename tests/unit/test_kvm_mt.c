/*
 * The KVM backend's messages against acceptance on another thread.
 * Acceptance reads the vCPU's APIC state, clears one IRR bit and writes the
 * state back; a message that KVM took between the read and the write would
 * be written over and lost. Each message here goes to a vector that is not
 * pending (the sender waits for its acceptance before reusing a vector), so
 * every message must be accepted exactly once: one lost shows as a count
 * that never catches up, one doubled as a vector accepted twice. Both
 * directions: the backend's own thread sending while another accepts, and
 * another thread sending while the backend's own thread accepts. Skipped,
 * saying so, where /dev/kvm is missing or unusable.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backend/kvm.h"
#include "helpers/skip.h"
#include "util/log.h"

#define MESSAGES	20000u
#define FIRST_VECTOR	0x40u
#define NR_VECTORS	0xb0u	/* 0x40 .. 0xef */
#define STALL_NS	5000000000ull	/* no progress for this long: a message was lost */

static const uint32_t apic_id0;
static struct ims_kvm *k;
static atomic_bool outstanding[256];
static atomic_uint_fast64_t accepted, doubled, errors;
static atomic_bool stop;

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Accept until stopped; then until nothing is left. */
static void accept_all(void)
{
	for (;;) {
		int v = ims__kvm_accept(k, 0);

		if (v == -ENOENT) {
			if (atomic_load(&stop))
				return;
			continue;
		}
		if (v < 0) {
			atomic_fetch_add(&errors, 1);
			return;
		}
		if (!atomic_exchange(&outstanding[v], false))
			atomic_fetch_add(&doubled, 1);
		atomic_fetch_add(&accepted, 1);
	}
}

/*
 * Send MESSAGES messages, each to a vector not pending, half through the
 * posted sink and a flush, half with ims__kvm_signal_msi(). false if the
 * acceptor stopped making progress (a message lost).
 */
static bool send_all(void)
{
	uint32_t v = 0;
	uint64_t sent = 0, last = now_ns(), seen = 0;

	while (sent < MESSAGES) {
		uint64_t a = atomic_load(&accepted);

		if (a != seen) {
			seen = a;
			last = now_ns();
		} else if (now_ns() - last > STALL_NS) {
			return false;
		}
		v = (v + 1) % NR_VECTORS;
		if (atomic_load(&outstanding[FIRST_VECTOR + v])) {
			sched_yield();
			continue;
		}
		atomic_store(&outstanding[FIRST_VECTOR + v], true);
		if (sent % 2) {
			struct ims_hw_apic_irq irq = { .dest = 0, .vector = (uint8_t)(FIRST_VECTOR + v) };

			if (ims__kvm_apic_sink_posted(k, &irq) < 0 || ims__kvm_flush())
				atomic_fetch_add(&errors, 1);
		} else if (ims__kvm_signal_msi(k, 0xfee00000u, 0, FIRST_VECTOR + v) != 1) {
			atomic_fetch_add(&errors, 1);
		}
		sent++;
	}
	/* Every one must be accepted. */
	last = now_ns();
	seen = atomic_load(&accepted);
	while (atomic_load(&accepted) < MESSAGES) {
		if (atomic_load(&accepted) != seen) {
			seen = atomic_load(&accepted);
			last = now_ns();
		} else if (now_ns() - last > STALL_NS) {
			return false;
		}
		sched_yield();
	}
	return true;
}

static void *acceptor_fn(void *arg)
{
	(void)arg;
	accept_all();
	return NULL;
}

static void *sender_fn(void *arg)
{
	*(bool *)arg = send_all();
	atomic_store(&stop, true);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(ims__kvm_create(1, &apic_id0, &k), 0);
	for (unsigned int v = 0; v < 256; v++)
		atomic_store(&outstanding[v], false);
	atomic_store(&accepted, 0);
	atomic_store(&doubled, 0);
	atomic_store(&errors, 0);
	atomic_store(&stop, false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ims__kvm_destroy(k);
	return 0;
}

static void check(bool completed)
{
	uint64_t a = atomic_load(&accepted);

	if (!completed)
		fail_msg("%llu of %u messages accepted, then none for 5 s: %llu lost to a concurrent "
			 "acceptance", (unsigned long long)a, MESSAGES,
			 (unsigned long long)(MESSAGES - a));
	assert_int_equal(atomic_load(&errors), 0);
	assert_int_equal(atomic_load(&doubled), 0);
	assert_int_equal(a, MESSAGES);
	print_message("%u messages, each accepted once\n", MESSAGES);
}

/* The thread that made the backend sends; another accepts. */
static void own_thread_sends_while_another_accepts(void **state)
{
	pthread_t t;
	bool completed;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, acceptor_fn, NULL), 0);
	completed = send_all();
	atomic_store(&stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	check(completed);
}

/* Another thread sends; the thread that made the backend accepts. */
static void another_thread_sends_while_the_own_accepts(void **state)
{
	pthread_t t;
	bool completed = false;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, sender_fn, &completed), 0);
	accept_all();
	assert_int_equal(pthread_join(t, NULL), 0);
	check(completed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(own_thread_sends_while_another_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(another_thread_sends_while_the_own_accepts, setup,
						teardown),
	};
	struct ims_kvm *probe;

	if (ims__kvm_create(1, &apic_id0, &probe))
		IMS_TEST_SKIP_ALL("KVM tests: %s", ims_last_error());
	ims__kvm_destroy(probe);
	return cmocka_run_group_tests_name("kvm_mt", tests, NULL, NULL);
}

/*
 * The KVM backend against the kernel's local APICs: where a message lands,
 * coalescing in the IRR, acceptance, broadcast, a destination nobody has,
 * irqfd routes made, changed and freed on demand, and posted messages
 * (queued on their thread until it flushes). Skipped, saying so,
 * where /dev/kvm is missing or unusable.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "backend/kvm.h"
#include "helpers/skip.h"
#include "util/log.h"

static const uint32_t apic_ids[4] = { 0, 1, 2, 3 };
static struct ims_kvm *k;

static uint32_t msi_addr(uint32_t dest)
{
	return 0xfee00000u | (dest << 12);
}

static bool irr_has(uint32_t vcpu, unsigned int v)
{
	uint64_t irr[4];

	assert_int_equal(ims__kvm_irr(k, vcpu, irr), 0);
	return (irr[v / 64] >> (v % 64)) & 1;
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(ims__kvm_create(4, apic_ids, &k), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ims__kvm_destroy(k);
	return 0;
}

static void message_lands_on_named_vcpu_and_vector(void **state)
{
	(void)state;
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(2), 0, 0x41), 1);
	assert_true(irr_has(2, 0x41));
	assert_false(irr_has(1, 0x41));
	/* A second message before acceptance coalesces into the same bit. */
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(2), 0, 0x41), 1);
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(2), 0, 0x52), 1);
	/* Acceptance takes the highest first and clears only that bit. */
	assert_int_equal(ims__kvm_accept(k, 2), 0x52);
	assert_true(irr_has(2, 0x41));
	assert_int_equal(ims__kvm_accept(k, 2), 0x41);
	assert_int_equal(ims__kvm_accept(k, 2), -ENOENT);
}

static void broadcast_and_missing_destination(void **state)
{
	(void)state;
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(0xff), 0, 0x61), 4);
	for (uint32_t c = 0; c < 4; c++)
		assert_int_equal(ims__kvm_accept(k, c), 0x61);
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(9), 0, 0x61), 0);
	for (uint32_t c = 0; c < 4; c++)
		assert_int_equal(ims__kvm_accept(k, c), -ENOENT);
}

static void apic_sink_composes_compatibility_messages(void **state)
{
	struct ims_hw_apic_irq irq = { .dest = 3, .vector = 0x77 };

	(void)state;
	assert_int_equal(ims__kvm_apic_sink(k, &irq), 1);
	assert_int_equal(ims__kvm_accept(k, 3), 0x77);
}

/* The IRR as another thread sees it: reading it there does not flush this thread's queue. */
struct irr_look {
	uint32_t vcpu;
	uint64_t irr[4];
	int ret;
};

static void *look_fn(void *arg)
{
	struct irr_look *l = arg;

	l->ret = ims__kvm_irr(k, l->vcpu, l->irr);
	return NULL;
}

static bool irr_has_elsewhere(uint32_t vcpu, unsigned int v)
{
	struct irr_look l = { .vcpu = vcpu };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, look_fn, &l), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(l.ret, 0);
	return (l.irr[v / 64] >> (v % 64)) & 1;
}

static int post(uint32_t dest, uint8_t vector)
{
	struct ims_hw_apic_irq irq = { .dest = dest, .vector = vector };

	return ims__kvm_apic_sink_posted(k, &irq);
}

/* Posted messages wait on their thread until it flushes; then all land. */
static void posted_messages_wait_for_the_flush(void **state)
{
	(void)state;
	assert_int_equal(ims__kvm_flush(), 0);	/* nothing queued: nothing to do */
	assert_int_equal(post(1, 0x45), 1);
	assert_int_equal(post(2, 0x46), 1);
	assert_int_equal(ims__kvm_posted(), 2);
	assert_false(irr_has_elsewhere(1, 0x45));
	assert_false(irr_has_elsewhere(2, 0x46));
	assert_int_equal(ims__kvm_flush(), 0);
	assert_int_equal(ims__kvm_posted(), 0);
	assert_true(irr_has_elsewhere(1, 0x45));
	assert_true(irr_has_elsewhere(2, 0x46));
	assert_int_equal(ims__kvm_accept(k, 1), 0x45);
	assert_int_equal(ims__kvm_accept(k, 2), 0x46);
}

/* Every other call from the posting thread signals its queue first. */
static void other_calls_flush_first(void **state)
{
	(void)state;
	assert_int_equal(post(3, 0x50), 1);
	assert_int_equal(ims__kvm_accept(k, 3), 0x50);
	assert_int_equal(post(3, 0x51), 1);
	assert_true(irr_has(3, 0x51));
	assert_int_equal(post(3, 0x52), 1);
	assert_int_equal(ims__kvm_signal_msi(k, msi_addr(3), 0, 0x40), 1);
	assert_int_equal(ims__kvm_posted(), 0);
	assert_int_equal(ims__kvm_accept(k, 3), 0x52);
	assert_int_equal(ims__kvm_accept(k, 3), 0x51);
	assert_int_equal(ims__kvm_accept(k, 3), 0x40);
	assert_int_equal(post(0, 0x53), 1);
	assert_true(ims__kvm_route_add(k, msi_addr(0), 0, 0x54) >= 0);
	assert_int_equal(ims__kvm_posted(), 0);
	assert_int_equal(ims__kvm_accept(k, 0), 0x53);
	/* Destroying the backend signals what was posted to it, then frees. */
	assert_int_equal(post(0, 0x55), 1);
	ims__kvm_destroy(k);
	k = NULL;
	assert_int_equal(ims__kvm_posted(), 0);
	assert_int_equal(ims__kvm_create(4, apic_ids, &k), 0);
}

static void *post_then_exit(void *arg)
{
	*(int *)arg = post(2, 0x5a);
	return NULL;
}

/* A thread that exits with messages queued has them signalled on its way out. */
static void exiting_thread_signals_its_queue(void **state)
{
	pthread_t t;
	int ret = 0;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, post_then_exit, &ret), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ret, 1);
	assert_int_equal(ims__kvm_posted(), 0);	/* nothing of this thread's */
	assert_true(irr_has(2, 0x5a));
}

/* A full queue is signalled before the next message is queued. */
static void full_queue_is_signalled_first(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < IMS_KVM_POSTED; i++)
		assert_int_equal(post(0, (uint8_t)(0x60 + i)), 1);
	assert_int_equal(ims__kvm_posted(), IMS_KVM_POSTED);
	assert_false(irr_has_elsewhere(0, 0x60));
	assert_int_equal(post(0, 0x60 + IMS_KVM_POSTED), 1);
	assert_int_equal(ims__kvm_posted(), 1);
	for (unsigned int i = 0; i < IMS_KVM_POSTED; i++)
		assert_true(irr_has_elsewhere(0, 0x60 + i));
	assert_false(irr_has_elsewhere(0, 0x60 + IMS_KVM_POSTED));
	assert_true(irr_has(0, 0x60 + IMS_KVM_POSTED));
}

/* A message KVM refuses: the flush names it, returns the first error and still signals the rest. */
static void flush_reports_a_refused_message_and_goes_on(void **state)
{
	(void)state;
	assert_int_equal(post(1, 0x70), 1);
	assert_int_equal(post(1, 0x71), 1);
	assert_int_equal(post(2, 0x72), 1);
	ims__kvm_outbox.msg[1].vm_fd = -1;	/* the second cannot be signalled */
	assert_int_equal(ims__kvm_flush(), -EBADF);
	assert_non_null(strstr(ims_last_error(), "KVM_SIGNAL_MSI"));
	assert_int_equal(ims__kvm_posted(), 0);
	assert_true(irr_has(1, 0x70));
	assert_false(irr_has(1, 0x71));
	assert_true(irr_has(2, 0x72));
}

static bool wait_irr(uint32_t vcpu, unsigned int v)
{
	for (int i = 0; i < 100000; i++) {
		if (irr_has(vcpu, v))
			return true;
		sched_yield();
	}
	return false;
}

static void irqfd_routes_on_demand(void **state)
{
	uint64_t pushes;
	int g1, g2;

	(void)state;
	g1 = ims__kvm_route_add(k, msi_addr(1), 0, 0x45);
	g2 = ims__kvm_route_add(k, msi_addr(0), 0, 0x46);
	assert_true(g1 >= 0 && g2 >= 0 && g1 != g2);
	assert_int_equal(ims__kvm_nr_routes(k), 2);
	assert_int_equal(ims__kvm_route_fire(k, g1), 0);
	assert_true(wait_irr(1, 0x45));
	assert_int_equal(ims__kvm_accept(k, 1), 0x45);
	/* Two changes, one push at the next fire. */
	pushes = ims__kvm_route_pushes(k);
	assert_int_equal(ims__kvm_route_set(k, g1, msi_addr(3), 0, 0x47), 0);
	assert_int_equal(ims__kvm_route_set(k, g2, msi_addr(3), 0, 0x48), 0);
	assert_int_equal(ims__kvm_route_fire(k, g1), 0);
	assert_int_equal(ims__kvm_route_pushes(k), pushes + 1);
	assert_true(wait_irr(3, 0x47));
	assert_int_equal(ims__kvm_route_del(k, g1), 0);
	assert_int_equal(ims__kvm_route_fire(k, g1), -EINVAL);
	assert_int_equal(ims__kvm_route_del(k, g1), -EINVAL);
	assert_int_equal(ims__kvm_route_del(k, g2), 0);
	assert_int_equal(ims__kvm_nr_routes(k), 0);
	/* A freed route number is handed out again. */
	assert_int_equal(ims__kvm_route_add(k, msi_addr(0), 0, 0x49), g1 < g2 ? g1 : g2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(message_lands_on_named_vcpu_and_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(broadcast_and_missing_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(apic_sink_composes_compatibility_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(irqfd_routes_on_demand, setup, teardown),
		cmocka_unit_test_setup_teardown(posted_messages_wait_for_the_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(other_calls_flush_first, setup, teardown),
		cmocka_unit_test_setup_teardown(exiting_thread_signals_its_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(full_queue_is_signalled_first, setup, teardown),
		cmocka_unit_test_setup_teardown(flush_reports_a_refused_message_and_goes_on, setup, teardown),
	};
	struct ims_kvm *probe;

	if (ims__kvm_create(1, apic_ids, &probe))
		IMS_TEST_SKIP_ALL("KVM tests: %s", ims_last_error());
	ims__kvm_destroy(probe);
	return cmocka_run_group_tests_name("kvm", tests, NULL, NULL);
}

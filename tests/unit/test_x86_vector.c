/*
 * The vector domain through the interrupt core: alloc only reserves,
 * activation assigns within the affinity, compose makes the message the
 * device then sends, dispatch runs the right handler and ends the
 * interrupt at the APIC, unowned vectors count as spurious, a move keeps
 * the old vector live until an interrupt arrives on the new one and the
 * old APIC holds nothing, deactivation (also of the parents only, as a
 * posted remapping entry does) gives vectors back, exhaustion and
 * recovery, CPU offline moving its irqs, refusals and fault injection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helpers/x86_machine.h"
#include "os/x86/vector.h"

static unsigned int hits[64];

static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	unsigned int *slot = ctx;

	(void)irq;
	(*slot)++;
	return IMS_IRQ_HANDLED;
}

static struct ims_irq_data *vlevel(struct x86m *m, unsigned int irq)
{
	return ims_irq_domain_get_irq_data(ims_x86_vector_irq_domain(m->vd), irq);
}

static void target(struct x86m *m, unsigned int irq, uint32_t *cpu, uint8_t *vec)
{
	assert_int_equal(ims_x86_vector_target(vlevel(m, irq), cpu, NULL, vec), 0);
}

static struct ims_cpumask *mask_of(uint32_t nr, const char *list)
{
	struct ims_cpumask *mk = ims_cpumask_create(nr);

	assert_non_null(mk);
	assert_int_equal(ims_cpumask_parse(mk, list), 0);
	return mk;
}

static void stats(struct x86m *m, struct ims_x86_vector_stats *st)
{
	ims_x86_vector_get_stats(m->vd, st);
}

static void check(struct x86m *m)
{
	if (ims_x86_vector_check(m->vd))
		fail_msg("%s", ims_last_error());
}

static void vector_alloc_reserves_activate_assigns(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	struct ims_cpumask *aff = mask_of(4, "2");
	struct ims_x86_msi_fields f;
	struct ims_msi_msg msg;
	uint32_t cpu;
	uint8_t vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 4, NULL, 0, 8), 0);
	irq = x86m_alloc(&m, 0, 4, aff);
	assert_true(irq >= 0);
	stats(&m, &st);
	assert_int_equal(st.reserved, 4);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(ims_x86_vector_target(vlevel(&m, (unsigned int)irq), &cpu, NULL, &vec), -ENODATA);
	/* Requesting a handler activates: a vector on the affinity's CPU. */
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "t", &hits[0]), 0);
	stats(&m, &st);
	assert_int_equal(st.reserved, 3);
	assert_int_equal(st.allocated, 1);
	target(&m, (unsigned int)irq, &cpu, &vec);
	assert_int_equal(cpu, 2);
	assert_true(vec >= 0x20 && vec < 0xec);
	assert_int_equal(ims_irq_effective_cpu(m.core, (unsigned int)irq), 2);
	/* The device holds the composed message: physical, APIC 2, the vector. */
	assert_int_equal(ims_irq_chip_compose_msi_msg(vlevel(&m, (unsigned int)irq), &msg), 0);
	assert_int_equal(msg.address_lo, m.slots[0].addr);
	assert_int_equal(msg.data, m.slots[0].data);
	assert_int_equal(ims_x86_msi_decode(&msg, &f), 0);
	assert_int_equal(f.format, IMS_X86_MSI_COMPAT);
	assert_int_equal(f.apic_id, 2);
	assert_false(f.dest_logical);
	assert_int_equal(f.vector, vec);
	assert_int_equal(f.delivery_mode, IMS_X86_DM_FIXED);
	assert_false(f.trigger_level);
	check(&m);
	assert_int_equal(ims_irq_free(m.core, (unsigned int)irq, &hits[0]), 0);
	stats(&m, &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(st.reserved, 4);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 4), 0);
	stats(&m, &st);
	assert_int_equal(st.reserved, 0);
	check(&m);
	ims_cpumask_destroy(aff);
	x86m_destroy(&m);
}

static void vector_dispatch_runs_handler_and_ends_interrupt(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	uint32_t cpu;
	uint8_t vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 4), 0);
	irq = x86m_alloc(&m, 0, 2, NULL);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq + 1, count_handler, 0, "b", &hits[1]), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_true(x86m_irr(&m, cpu, vec));
	assert_int_equal(x86m_poll(&m, cpu), vec);
	assert_int_equal(hits[0], 1);
	assert_int_equal(hits[1], 0);
	assert_true(x86m_isr_empty(&m, cpu));	/* EOI written */
	/* Edge and fasteoi both end the interrupt exactly once. */
	assert_int_equal(ims_irq_set_flow(m.core, (unsigned int)irq + 1, IMS_FLOW_FASTEOI), 0);
	for (int i = 0; i < 10; i++) {
		x86m_fire(&m, 1);
		x86m_fire(&m, 0);
		x86m_run(&m);
	}
	assert_int_equal(hits[0], 11);
	assert_int_equal(hits[1], 10);
	/* Simple flow has no ack or eoi: dispatch ends it itself. */
	assert_int_equal(ims_irq_set_flow(m.core, (unsigned int)irq, IMS_FLOW_SIMPLE), 0);
	x86m_fire(&m, 0);
	assert_int_equal(x86m_run(&m), 1);
	for (uint32_t c = 0; c < 2; c++)
		assert_true(x86m_isr_empty(&m, c));
	stats(&m, &st);
	assert_int_equal(st.dispatched, 22);
	assert_int_equal(st.spurious, 0);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_free(m.core, (unsigned int)irq + 1, &hits[1]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 2);
	x86m_destroy(&m);
}

static unsigned int sys_calls;
static void sys_handler(void *ctx, uint32_t cpu, uint8_t vector)
{
	(void)ctx;
	(void)cpu;
	assert_int_equal(vector, 0xf2);
	sys_calls++;
}

static void vector_unowned_vector_is_spurious_on_its_cpu(void **state)
{
	struct x86m m;

	(void)state;
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	assert_int_equal(x86m_send(&m, 0xfee01000u, 0x99), 1);
	assert_int_equal(x86m_poll(&m, 1), 0x99);
	assert_int_equal(ims_x86_vector_spurious(m.vd, 1), 1);
	assert_int_equal(ims_x86_vector_spurious(m.vd, 0), 0);
	assert_true(x86m_isr_empty(&m, 1));
	/* A system vector runs its handler; without one it is spurious. */
	assert_int_equal(ims_x86_vector_set_system_handler(m.vd, 0xf2, sys_handler, NULL), 0);
	x86m_send(&m, 0xfee00000u, 0xf2);
	x86m_send(&m, 0xfee00000u, 0xf3);
	assert_int_equal(x86m_run(&m), 2);
	assert_int_equal(sys_calls, 1);
	assert_int_equal(ims_x86_vector_spurious(m.vd, 0), 1);
	assert_int_equal(ims_x86_vector_set_system_handler(m.vd, 0x80, sys_handler, NULL), -EINVAL);
	assert_int_equal(ims_x86_vector_dispatch(m.vd, 2, 0x40), -EINVAL);
	x86m_destroy(&m);
}

static void vector_move_keeps_old_vector_until_new_one_fires(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	struct ims_cpumask *to1 = mask_of(4, "1"), *to3 = mask_of(4, "3");
	uint32_t cpu, old_cpu, old_addr, old_data;
	uint8_t vec, old_vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 4, NULL, 0, 2), 0);
	irq = x86m_alloc(&m, 0, 2, to1);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq + 1, count_handler, 0, "b", &hits[1]), 0);
	target(&m, (unsigned int)irq, &old_cpu, &old_vec);
	assert_int_equal(old_cpu, 1);
	old_addr = m.slots[0].addr;
	old_data = m.slots[0].data;
	/* Move: the device gets the new message; both vectors map to the irq. */
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to3), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	assert_int_equal(cpu, 3);
	assert_int_equal(ims_irq_effective_cpu(m.core, (unsigned int)irq), 3);
	assert_int_not_equal(m.slots[0].addr, old_addr);
	stats(&m, &st);
	assert_int_equal(st.allocated, 3);	/* old, new, and irq + 1 */
	assert_int_equal(st.moves_in_progress, 1);
	/* A message sent before the change lands on the old vector: still ours. */
	assert_int_equal(x86m_send(&m, old_addr, old_data), 1);
	assert_int_equal(x86m_poll(&m, 1), old_vec);
	assert_int_equal(hits[0], 1);
	assert_int_equal(hits[1], 0);
	/* Nothing on the new vector yet: the old one stays, a second move waits. */
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 1);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), -EBUSY);
	assert_non_null(strstr(ims_last_error(), "in progress"));
	/* The first interrupt on the new vector completes the move. */
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_int_equal(x86m_poll(&m, 3), vec);
	assert_int_equal(hits[0], 2);
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 0);
	stats(&m, &st);
	assert_int_equal(st.allocated, 2);
	assert_int_equal(st.moves_started, 1);
	assert_int_equal(st.moves_done, 1);
	/* The old vector is free and owned by nobody now. */
	x86m_send(&m, old_addr, old_data);
	x86m_poll(&m, 1);
	assert_int_equal(ims_x86_vector_spurious(m.vd, 1), 1);
	assert_int_equal(hits[0], 2);
	check(&m);
	/* A mask that holds the current CPU changes nothing. */
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to3), 0);
	stats(&m, &st);
	assert_int_equal(st.moves_started, 1);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), 0);
	check(&m);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_free(m.core, (unsigned int)irq + 1, &hits[1]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 2);
	stats(&m, &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(st.moves_in_progress, 0);
	check(&m);
	ims_cpumask_destroy(to1);
	ims_cpumask_destroy(to3);
	x86m_destroy(&m);
}

static void vector_move_waits_while_old_apic_holds_the_vector(void **state)
{
	struct x86m m;
	struct ims_cpumask *to0 = mask_of(2, "0"), *to1 = mask_of(2, "1");
	uint32_t cpu, old_addr, old_data;
	uint8_t vec, old_vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, to0);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	target(&m, (unsigned int)irq, &cpu, &old_vec);
	old_addr = m.slots[0].addr;
	old_data = m.slots[0].data;
	/* An interrupt sits in CPU 0's IRR when the move happens. */
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_int_equal(x86m_poll(&m, 1), vec);
	/* The new vector fired, but CPU 0 still holds the old one: not freed. */
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 1);
	assert_true(x86m_irr(&m, 0, old_vec));
	assert_int_equal(x86m_poll(&m, 0), old_vec);
	assert_int_equal(hits[0], 2);
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 0);
	(void)old_addr;
	(void)old_data;
	check(&m);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	ims_cpumask_destroy(to0);
	ims_cpumask_destroy(to1);
	x86m_destroy(&m);
}

static void vector_deactivate_with_pending_keeps_it_stale_then_frees(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	uint32_t cpu;
	uint8_t vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, NULL);
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	/* Open the slot by hand (no handler: the core would mask it). */
	m.slots[0].masked = false;
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_int_equal(ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq), 0);
	stats(&m, &st);
	assert_int_equal(st.allocated, 1);	/* held for the interrupt in IRR */
	assert_int_equal(st.moves_in_progress, 1);
	assert_int_equal(st.reserved, 1);
	check(&m);
	/* The held interrupt still reaches the irq (no handler: kept pending). */
	assert_int_equal(x86m_poll(&m, cpu), vec);
	assert_int_equal(ims_x86_vector_spurious(m.vd, cpu), 0);
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 0);
	stats(&m, &st);
	assert_int_equal(st.allocated, 0);
	check(&m);
	/* Freed with an interrupt still held: it must find no owner. */
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	m.slots[0].masked = false;
	x86m_fire(&m, 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1), 0);
	assert_int_equal(x86m_poll(&m, cpu), vec);
	assert_int_equal(ims_x86_vector_spurious(m.vd, cpu), 1);
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 0);
	stats(&m, &st);
	assert_int_equal(st.allocated + st.reserved, 0);
	check(&m);
	x86m_destroy(&m);
}

static void vector_deactivate_parent_frees_host_vector(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	struct ims_irq_data *top;
	uint32_t cpu;
	uint8_t vec;
	int irq;

	(void)state;
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, NULL);
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq), 0);
	top = ims_irq_domain_get_irq_data(m.dev, (unsigned int)irq);
	/* What a remapping level does when it switches to posted delivery. */
	ims_irq_domain_deactivate_parent(top);
	assert_int_equal(ims_x86_vector_target(vlevel(&m, (unsigned int)irq), &cpu, NULL, &vec), -ENODATA);
	stats(&m, &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(ims_irq_domain_activate_parent(top), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	stats(&m, &st);
	assert_int_equal(st.allocated, 1);
	assert_int_equal(ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1), 0);
	check(&m);
	x86m_destroy(&m);
}

static void vector_exhausts_then_recovers(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	unsigned int total = 2 * 204 - 16, i;
	int irq, rc;

	(void)state;
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 500), 0);
	irq = x86m_alloc(&m, 0, 500, NULL);
	assert_true(irq >= 0);
	for (i = 0; i < 500; i++) {
		rc = ims_irq_domain_activate_irq(m.core, (unsigned int)irq + i);
		if (rc)
			break;
	}
	assert_int_equal(i, total);
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(strstr(ims_last_error(), "no free vector"));
	stats(&m, &st);
	assert_int_equal(st.available, 0);
	assert_int_equal(st.allocated, total);
	assert_int_equal(st.reserved, 500 - total);
	check(&m);
	assert_int_equal(ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq + 7), 0);
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq + total), 0);
	for (i = 0; i <= total; i++)
		ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq + i);
	stats(&m, &st);
	assert_int_equal(st.available, total);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 500), 0);
	check(&m);
	x86m_destroy(&m);
}

static void vector_cpu_offline_moves_its_irqs(void **state)
{
	struct x86m m;
	struct ims_x86_vector_stats st;
	struct ims_cpumask *only2 = mask_of(4, "2"), *two3 = mask_of(4, "2-3");
	uint32_t cpu;
	uint8_t vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 4, NULL, 0, 4), 0);
	irq = x86m_alloc(&m, 0, 2, only2);
	assert_true(irq >= 0);
	assert_int_equal(x86m_alloc(&m, 2, 2, two3), irq + 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ims_irq_request(m.core, (unsigned int)irq + i, count_handler, 0, "x",
						 &hits[i]), 0);
	/* Put all four on CPU 2. */
	ims_irq_set_affinity(m.core, (unsigned int)irq + 2, only2);
	ims_irq_set_affinity(m.core, (unsigned int)irq + 3, only2);
	for (int i = 0; i < 4; i++)
		x86m_fire(&m, (uint32_t)i);
	x86m_run(&m);
	ims_x86_vector_cleanup(m.vd);
	/* The moves wait for interrupts on the new vectors. */
	assert_int_equal(ims_x86_vector_cpu_offline(m.vd, 2), -EBUSY);
	for (int i = 0; i < 4; i++) {
		target(&m, (unsigned int)irq + (unsigned int)i, &cpu, &vec);
		assert_int_not_equal(cpu, 2);
		x86m_fire(&m, (uint32_t)i);
	}
	x86m_run(&m);
	assert_int_equal(ims_x86_vector_cpu_offline(m.vd, 2), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(hits[i], 2);
	stats(&m, &st);
	assert_int_equal(st.online_cpus, 3);
	check(&m);
	assert_int_equal(ims_x86_vector_cpu_offline(m.vd, 2), -EINVAL);
	assert_int_equal(ims_x86_vector_cpu_online(m.vd, 2), 0);
	for (int i = 0; i < 4; i++)
		ims_irq_free(m.core, (unsigned int)irq + (unsigned int)i, &hits[i]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 2);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq + 2, 2);
	check(&m);
	ims_cpumask_destroy(only2);
	ims_cpumask_destroy(two3);
	x86m_destroy(&m);
}

static void vector_extended_destination_ids(void **state)
{
	static const uint32_t ids[3] = { 0, 0x1a5, 0x300 };
	struct x86m m;
	struct ims_cpumask *to1 = mask_of(3, "1");
	struct ims_x86_msi_fields f;
	struct ims_msi_msg msg;
	uint32_t cpu, apic;
	uint8_t vec;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 3, ids, IMS_X86_VECTOR_EXT_DEST_ID, 1), 0);
	irq = x86m_alloc(&m, 0, 1, to1);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	assert_int_equal(ims_x86_vector_target(vlevel(&m, (unsigned int)irq), &cpu, &apic, &vec), 0);
	assert_int_equal(apic, 0x1a5);
	msg.address_lo = m.slots[0].addr;
	msg.address_hi = 0;
	msg.data = m.slots[0].data;
	assert_int_equal(ims_x86_msi_decode(&msg, &f), 0);
	assert_int_equal(f.dest_id, 0xa5);
	assert_int_equal(f.ext_dest_id, 0x1);
	/* The bus with extended IDs delivers it to APIC 0x1a5. */
	x86m_fire(&m, 0);
	assert_int_equal(x86m_poll(&m, 1), vec);
	assert_int_equal(hits[0], 1);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	x86m_destroy(&m);

	/* Without them, CPUs with APIC IDs above 255 get no device vector. */
	assert_int_equal(x86m_create(&m, 3, ids, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, to1);
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq), 0);
	target(&m, (unsigned int)irq, &cpu, &vec);
	assert_int_equal(cpu, 0);	/* the affinity had no usable CPU */
	assert_int_equal(ims_x86_vector_cpu_online(m.vd, 2), -EINVAL);
	ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	x86m_destroy(&m);
	ims_cpumask_destroy(to1);
}

static void vector_bad_input_is_refused(void **state)
{
	struct ims_irq_core *core;
	struct ims_irq_core_config cc = { .nr_cpus = 2 };
	struct ims_x86_vector_config vc = { .nr_cpus = 3, .apic = &ims__apic_bus_reg_ops };
	struct ims_x86_vector_domain *vd;
	struct ims_x86_apic_ops half = { .read = ims__apic_bus_reg_ops.read };
	struct x86m m;
	struct ims_cpumask *off;
	int irq;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims_x86_vector_domain_create(core, &vc, &vd), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "nr_cpus"));
	vc.nr_cpus = 2;
	vc.apic = &half;
	assert_int_equal(ims_x86_vector_domain_create(core, &vc, &vd), -EINVAL);
	vc.apic = &ims__apic_bus_reg_ops;
	vc.first_system_vector = 0x30;
	assert_int_equal(ims_x86_vector_domain_create(core, &vc, &vd), -EINVAL);
	vc.first_system_vector = 0;
	vc.flags = 0x80;
	assert_int_equal(ims_x86_vector_domain_create(core, &vc, &vd), -EINVAL);
	assert_int_equal(ims_irq_core_destroy(core), 0);

	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	off = mask_of(2, "0");
	irq = x86m_alloc(&m, 0, 1, off);
	ims_cpumask_destroy(off);
	assert_int_equal(ims_irq_domain_activate_irq(m.core, (unsigned int)irq), 0);
	/* The domain is busy while it has irqs. */
	assert_int_equal(ims_x86_vector_domain_destroy(m.vd), -EBUSY);
	/* An affinity with no online CPU: refused, nothing moves. */
	assert_int_equal(ims_x86_vector_cpu_offline(m.vd, 1), 0);
	off = mask_of(2, "1");
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, off), -EINVAL);
	assert_int_equal(ims_x86_vector_target(NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(ims_x86_vector_target(ims_irq_domain_get_irq_data(m.dev, (unsigned int)irq),
					       NULL, NULL, NULL), -EINVAL);
	ims_cpumask_destroy(off);
	ims_irq_domain_deactivate_irq(m.core, (unsigned int)irq);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	check(&m);
	x86m_destroy(&m);
}

static void vector_create_fails_cleanly_at_every_allocation(void **state)
{
	struct ims_irq_core *core;
	struct ims_irq_core_config cc = { .nr_cpus = 4 };
	struct ims_hw_apic_bus *bus;
	struct ims_x86_vector_domain *vd;
	struct ims_mem_stats before, after;
	int rc;
	uint64_t n;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims__apic_bus_create(4, NULL, 0, &bus), 0);
	for (n = 1;; n++) {
		struct ims_x86_vector_config vc = { .nr_cpus = 4, .apic = &ims__apic_bus_reg_ops,
						    .apic_ctx = bus };

		ims_mem_stats(&before);
		ims_fault_arm_nth(n, NULL);
		rc = ims_x86_vector_domain_create(core, &vc, &vd);
		ims_fault_disarm();
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		ims_mem_stats(&after);
		assert_int_equal(after.bytes, before.bytes);
	}
	assert_true(n > 5);
	assert_int_equal(ims_x86_vector_domain_destroy(vd), 0);
	ims__apic_bus_destroy(bus);
	assert_int_equal(ims_irq_core_destroy(core), 0);
}

static void vector_dump_shows_tables_and_counters(void **state)
{
	struct x86m m;
	struct ims_cpumask *to1 = mask_of(2, "1"), *to0 = mask_of(2, "0");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 2, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, to0);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), 0);
	f = open_memstream(&buf, &len);
	ims_x86_vector_dump(m.vd, f);
	fclose(f);
	assert_non_null(strstr(buf, "global: available"));
	assert_non_null(strstr(buf, "moves: started 1 done 0; old vectors held 1"));
	assert_non_null(strstr(buf, " held"));
	assert_non_null(strstr(buf, " new"));
	free(buf);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	check(&m);
	ims_cpumask_destroy(to0);
	ims_cpumask_destroy(to1);
	x86m_destroy(&m);
}

/* Printed, never asserted: the whole path on one thread. */
static void vector_data_path_cost_printed(void **state)
{
	struct x86m m;
	struct timespec a, b;
	unsigned int n = 200000, i;
	int irq;

	(void)state;
	memset(hits, 0, sizeof(hits));
	assert_int_equal(x86m_create(&m, 1, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, NULL);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "a", &hits[0]), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		x86m_fire(&m, 0);
		x86m_poll(&m, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(hits[0], n);
	print_message("slot -> bus -> APIC -> accept -> dispatch -> handler: %.0f ns per interrupt\n",
		      ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n);
	ims_irq_free(m.core, (unsigned int)irq, &hits[0]);
	ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1);
	x86m_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vector_alloc_reserves_activate_assigns),
		cmocka_unit_test(vector_dispatch_runs_handler_and_ends_interrupt),
		cmocka_unit_test(vector_unowned_vector_is_spurious_on_its_cpu),
		cmocka_unit_test(vector_move_keeps_old_vector_until_new_one_fires),
		cmocka_unit_test(vector_move_waits_while_old_apic_holds_the_vector),
		cmocka_unit_test(vector_deactivate_with_pending_keeps_it_stale_then_frees),
		cmocka_unit_test(vector_deactivate_parent_frees_host_vector),
		cmocka_unit_test(vector_exhausts_then_recovers),
		cmocka_unit_test(vector_cpu_offline_moves_its_irqs),
		cmocka_unit_test(vector_extended_destination_ids),
		cmocka_unit_test(vector_bad_input_is_refused),
		cmocka_unit_test(vector_create_fails_cleanly_at_every_allocation),
		cmocka_unit_test(vector_dump_shows_tables_and_counters),
		cmocka_unit_test(vector_data_path_cost_printed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Compact per-vector state: the count of the effective CPU lives in the
 * descriptor and other CPUs count in an ext made only when an irq first
 * moves, so counts stay exact across a move (the old vector still firing)
 * and a failed move changes nothing; an IMS vector through IMS, remapping
 * and vector domains costs at most 128 bytes by allocation accounting.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ims/sim.h>

#include "backend/sim/machine.h"
#include "helpers/x86_machine.h"
#include "os/irq/internal.h"
#include "os/x86/vector.h"

static unsigned int hits;

static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	hits++;
	return IMS_IRQ_HANDLED;
}

static struct ims_cpumask *mask_of(uint32_t nr, const char *list)
{
	struct ims_cpumask *mk = ims_cpumask_create(nr);

	assert_non_null(mk);
	assert_int_equal(ims_cpumask_parse(mk, list), 0);
	return mk;
}

static uint64_t total(struct ims_irq_core *core, unsigned int irq)
{
	struct ims_irq_info info;

	assert_int_equal(ims_irq_get_info(core, irq, &info), 0);
	return info.count;
}

static void counts_follow_a_move_exactly(void **state)
{
	struct ims_cpumask *to1 = mask_of(4, "1"), *to3 = mask_of(4, "3");
	struct ims_irq_desc *desc;
	uint32_t old_addr, old_data;
	struct x86m m;
	int irq;

	(void)state;
	hits = 0;
	assert_int_equal(x86m_create(&m, 4, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, NULL);
	assert_true(irq >= 0);
	desc = ims__irq_to_desc(m.core, (unsigned int)irq);
	if (!desc)
		fail_msg("irq %d has no descriptor", irq);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "s", NULL), 0);
	/* Where it was activated it counts in the descriptor alone. */
	assert_null(desc->ext);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), 0);
	/* The mask needs the ext; counts of CPU 1 are still inline. */
	assert_non_null(desc->ext);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(x86m_fire(&m, 0), 1);
		assert_int_equal(x86m_poll(&m, 1) > 0, true);
	}
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 1), 3);
	old_addr = m.slots[0].addr;
	old_data = m.slots[0].data;
	/* Move to CPU 3: a message sent before the move still lands on CPU 1. */
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to3), 0);
	assert_int_equal(ims_irq_effective_cpu(m.core, (unsigned int)irq), 3);
	assert_int_equal(x86m_send(&m, old_addr, old_data), 1);
	assert_true(x86m_poll(&m, 1) > 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(x86m_fire(&m, 0), 1);
		assert_true(x86m_poll(&m, 3) > 0);
	}
	assert_int_equal(hits, 6);
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 1), 4);
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 3), 2);
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 0), 0);
	assert_int_equal(total(m.core, (unsigned int)irq), 6);
	/* And back: CPU 1's counts come inline again, nothing is lost. */
	assert_int_equal(ims_x86_vector_cleanup(m.vd), 0);
	assert_int_equal(ims_irq_set_affinity(m.core, (unsigned int)irq, to1), 0);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_true(x86m_poll(&m, 1) > 0);
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 1), 5);
	assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, 3), 2);
	assert_int_equal(total(m.core, (unsigned int)irq), 7);
	assert_int_equal(ims_irq_free(m.core, (unsigned int)irq, NULL), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1), 0);
	assert_int_equal(ims_irq_core_nr_irqs(m.core), 0);
	ims_cpumask_destroy(to1);
	ims_cpumask_destroy(to3);
	x86m_destroy(&m);
}

static void failed_first_move_changes_nothing(void **state)
{
	struct ims_cpumask *to3 = mask_of(4, "3");
	struct ims_mem_stats a, b;
	uint64_t injected = 0;
	struct x86m m;
	int irq, cpu, ret = -ENOMEM;

	(void)state;
	hits = 0;
	assert_int_equal(x86m_create(&m, 4, NULL, 0, 1), 0);
	irq = x86m_alloc(&m, 0, 1, NULL);
	assert_int_equal(ims_irq_request(m.core, (unsigned int)irq, count_handler, 0, "f", NULL), 0);
	cpu = ims_irq_effective_cpu(m.core, (unsigned int)irq);
	assert_true(cpu >= 0 && cpu != 3);
	assert_int_equal(x86m_fire(&m, 0), 1);
	assert_true(x86m_poll(&m, (uint32_t)cpu) > 0);
	/* Each allocation of the move fails in turn: nothing may change. */
	for (uint64_t n = 1; ret == -ENOMEM; n++) {
		ims_mem_stats(&a);
		ims_fault_arm_nth(n, NULL);
		ret = ims_irq_set_affinity(m.core, (unsigned int)irq, to3);
		injected += ims_fault_injected();
		ims_fault_disarm();
		if (ret == 0)
			break;
		assert_int_equal(ret, -ENOMEM);
		ims_mem_stats(&b);
		assert_int_equal(a.bytes, b.bytes);
		assert_int_equal(ims_irq_effective_cpu(m.core, (unsigned int)irq), cpu);
		assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, (uint32_t)cpu), n);
		assert_int_equal(x86m_fire(&m, 0), 1);
		assert_true(x86m_poll(&m, (uint32_t)cpu) > 0);
		assert_int_equal(ims_irq_count_cpu(m.core, (unsigned int)irq, (uint32_t)cpu), 1 + n);
	}
	assert_true(injected >= 2);	/* the interned mask and the ext */
	assert_int_equal(ims_irq_effective_cpu(m.core, (unsigned int)irq), 3);
	assert_int_equal(total(m.core, (unsigned int)irq), hits);
	assert_int_equal(ims_irq_free(m.core, (unsigned int)irq, NULL), 0);
	assert_int_equal(ims_irq_domain_free_irqs(m.core, (unsigned int)irq, 1), 0);
	assert_int_equal(ims_irq_core_nr_irqs(m.core), 0);
	ims_cpumask_destroy(to3);
	x86m_destroy(&m);
}

/* The per-vector budget of DESIGN.md, by allocation accounting. */
static void ims_vector_costs_at_most_128_bytes(void **state)
{
	struct ims_sim_config cfg;
	struct sim_machine *m;
	struct ims_device *dev;
	struct ims_mem_stats a, b;
	const uint32_t n = 8192;

	(void)state;
	ims_sim_config_default(&cfg);
	cfg.ims_slots = 16128;
	cfg.vectors_per_adi = 64;
	cfg.adis = 200;
	cfg.guests = 0;
	cfg.posted_percent = 0;
	cfg.quiet = true;
	assert_int_equal(ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m), 0);
	dev = m->dev_ops->os_device(m->devs[0]);
	ims_mem_stats(&a);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 16127 - i, NULL,
						      (union ims_msi_cookie){ 0 }).index,
				 (int)(16127 - i));
	ims_mem_stats(&b);
	print_message("%.1f bytes per IMS vector\n", (double)(b.bytes - a.bytes) / n);
	assert_true(b.bytes - a.bytes <= 128ull * n);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 16127 - i), 0);
	ims__sim_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_follow_a_move_exactly),
		cmocka_unit_test(failed_first_move_changes_nothing),
		cmocka_unit_test(ims_vector_costs_at_most_128_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The x86 platform through the public headers alone, linked against the
 * shared library: message compose and decode, and the vector domain over
 * a local APIC supplied by the user as register callbacks (as a KVM or
 * other backend would), with handlers run by ims_x86_vector_dispatch().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

#define NCPU 2

/* The user's APIC: only what the vector domain touches. */
struct fake_apic {
	uint32_t svr[NCPU], tpr[NCPU];
	unsigned int eoi[NCPU];
};

static uint32_t apic_read(void *ctx, uint32_t cpu, uint32_t reg)
{
	struct fake_apic *a = ctx;

	if (reg == IMS_X86_APIC_SVR)
		return a->svr[cpu];
	return 0;	/* IRR and ISR empty: nothing is ever held */
}

static void apic_write(void *ctx, uint32_t cpu, uint32_t reg, uint32_t val)
{
	struct fake_apic *a = ctx;

	if (reg == IMS_X86_APIC_SVR)
		a->svr[cpu] = val;
	else if (reg == IMS_X86_APIC_TPR)
		a->tpr[cpu] = val;
	else if (reg == IMS_X86_APIC_EOI)
		a->eoi[cpu]++;
}

static const struct ims_x86_apic_ops apic_ops = { .read = apic_read, .write = apic_write };

static unsigned int calls;
static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	calls++;
	return IMS_IRQ_HANDLED;
}

static void x86_public_compose_decode(void **state)
{
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_COMPAT, .apic_id = 3, .vector = 0x41 };
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee03000u);
	memset(&f, 0, sizeof(f));
	assert_int_equal(ims_x86_msi_decode(&m, &f), 0);
	assert_int_equal(f.vector, 0x41);
	m.address_lo = 0xfed00000u;
	assert_int_equal(ims_x86_msi_decode(&m, &f), -EINVAL);
}

static void x86_public_vector_domain(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NCPU };
	struct fake_apic apic = { { 0xff, 0xff }, { 0x20, 0x20 }, { 0, 0 } };
	struct ims_x86_vector_config vc = {
		.nr_cpus = NCPU, .apic = &apic_ops, .apic_ctx = &apic,
	};
	struct ims_x86_vector_domain *vd;
	struct ims_x86_vector_stats st;
	struct ims_x86_msi_fields f;
	struct ims_irq_core *core;
	struct ims_irq_domain *root;
	struct ims_cpumask *to1;
	struct ims_msi_msg msg;
	uint32_t cpu, apic_id;
	uint8_t vec;
	int irq;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims_x86_vector_domain_create(core, &vc, &vd), 0);
	/* Boot: the APICs are software-enabled and accept every class. */
	assert_int_equal(apic.svr[1] & 0x100, 0x100);
	assert_int_equal(apic.tpr[1], 0);
	root = ims_x86_vector_irq_domain(vd);
	assert_string_equal(ims_irq_domain_name(root), "x86-vector");
	to1 = ims_cpumask_create(NCPU);
	ims_cpumask_set(to1, 1);
	irq = ims_irq_domain_alloc_irqs(root, -1, 1, NULL, to1);
	assert_true(irq >= 0);
	assert_int_equal(ims_irq_request(core, (unsigned int)irq, handler, 0, "h", &calls), 0);
	assert_int_equal(ims_x86_vector_target(ims_irq_domain_get_irq_data(root, (unsigned int)irq),
					       &cpu, &apic_id, &vec), 0);
	assert_int_equal(cpu, 1);
	assert_int_equal(apic_id, 1);
	assert_int_equal(ims_irq_chip_compose_msi_msg(ims_irq_domain_get_irq_data(root, (unsigned int)irq),
						      &msg), 0);
	assert_int_equal(ims_x86_msi_decode(&msg, &f), 0);
	assert_int_equal(f.apic_id, 1);
	assert_int_equal(f.vector, vec);
	/* The CPU took vec from its APIC: the handler runs, one EOI is written. */
	assert_int_equal(ims_x86_vector_dispatch(vd, 1, vec), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(apic.eoi[1], 1);
	assert_int_equal(ims_x86_vector_dispatch(vd, 0, vec), -ENOENT);
	assert_int_equal(ims_x86_vector_spurious(vd, 0), 1);
	assert_int_equal(apic.eoi[0], 1);
	ims_x86_vector_get_stats(vd, &st);
	assert_int_equal(st.allocated, 1);
	assert_int_equal(st.dispatched, 1);
	assert_int_equal(ims_x86_vector_check(vd), 0);
	assert_int_equal(ims_irq_free(core, (unsigned int)irq, &calls), 0);
	assert_int_equal(ims_irq_domain_free_irqs(core, (unsigned int)irq, 1), 0);
	ims_cpumask_destroy(to1);
	assert_int_equal(ims_x86_vector_domain_destroy(vd), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x86_public_compose_decode),
		cmocka_unit_test(x86_public_vector_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Per-device MSI-X and IMS domains on a fake parent: template rules, the
 * IMS-needs-remapping refusal, allocation by index, any index and group,
 * prepare and free callbacks, messages written on activation, affinity,
 * teardown, and the fail-Nth loop over every allocating call.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/fail_nth.h"
#include "helpers/fake_msi.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

static struct ims_irq_core *core;
static struct fake_parent remap, bare;
static struct fake_ims ims, msix;
static struct ims_device *dev;
static struct ims_msi_domain_template msix_template;

static const union ims_msi_cookie no_cookie;

static int setup(void **state)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4 };
	struct ims_device_info di = { .name = "0000:02:00.0", .rid = 0x0200 };

	(void)state;
	memset(&ims, 0, sizeof(ims));
	memset(&msix, 0, sizeof(msix));
	assert_int_equal(ims_irq_core_create(&cfg, &core), 0);
	assert_int_equal(fake_parent_create(core, "IR", true, &remap), 0);
	assert_int_equal(fake_parent_create(core, "VECTOR", false, &bare), 0);
	di.core = core;
	di.msi_parent = remap.domain;
	assert_int_equal(ims_device_create(&di, &dev), 0);
	msix_template = fake_ims_template;
	msix_template.name = "PCI-MSIX-fake";
	msix_template.type = IMS_MSI_TYPE_MSIX;
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(atomic_load(&remap.live), 0);
	assert_int_equal(ims_irq_domain_remove(remap.domain), 0);
	assert_int_equal(ims_irq_domain_remove(bare.domain), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

static void create_ims(uint32_t size)
{
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template,
						      size, &ims), 0);
}

static void ims_refused_without_remapping(void **state)
{
	struct ims_device_info di = { .name = "0000:03:00.0", .core = core, .msi_parent = bare.domain };
	struct ims_device *d2;

	(void)state;
	assert_int_equal(ims_device_create(&di, &d2), 0);
	assert_int_equal(ims_msi_create_device_domain(d2, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template,
						      2048, &ims), -EOPNOTSUPP);
	assert_non_null(strstr(ims_last_error(), "IMS needs interrupt remapping"));
	assert_null(ims_msi_device_domain(d2, IMS_MSI_SECONDARY_DOMAIN));
	/* MSI-X is fine there. */
	assert_int_equal(ims_msi_create_device_domain(d2, IMS_MSI_DEFAULT_DOMAIN, &msix_template, 16,
						      &msix), 0);
	assert_int_equal(ims_device_destroy(d2), 0);
}

static void template_rules_are_enforced(void **state)
{
	struct ims_msi_domain_template t = fake_ims_template;

	(void)state;
	t.chip.irq_mask = NULL;
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &t, 0, &ims), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "irq_mask"));
	t = fake_ims_template;
	t.chip.irq_set_affinity = (int (*)(struct ims_irq_data *, const struct ims_cpumask *, bool))1;
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &t, 0, &ims), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "irq_set_affinity"));
	t = fake_ims_template;
	t.chip.irq_write_msi_msg = NULL;
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &t, 0, &ims), -EINVAL);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_DEFAULT_DOMAIN, &fake_ims_template, 8,
						      &ims), -EINVAL);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &msix_template, 8,
						      &ims), -EINVAL);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_DEFAULT_DOMAIN, &msix_template, 4096,
						      &msix), -EINVAL);
	assert_int_equal(ims_msi_create_device_domain(dev, (enum ims_msi_domain_id)5, &msix_template, 8,
						      &msix), -EINVAL);
	create_ims(2048);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template,
						      2048, &ims), -EEXIST);
	/* The name shows parent, chip and device. */
	assert_string_equal(ims_irq_domain_name(ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN)),
			    "IR-IMS-fake-0000:02:00.0");
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), -ENOENT);
}

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(*(unsigned int *)ctx)++;
	return IMS_IRQ_HANDLED;
}

static void alloc_by_index_and_any_index(void **state)
{
	union ims_msi_cookie pasid = { .value = 0x1234 };
	struct ims_msi_map m;
	struct ims_irq_data *d;

	(void)state;
	create_ims(8);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, pasid);
	assert_int_equal(m.index, 5);
	assert_true(m.virq >= 0);
	assert_int_equal(atomic_load(&remap.last_rid), 0x0200);
	d = ims_irq_domain_get_irq_data(ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN),
					(unsigned int)m.virq);
	assert_int_equal(d->hwirq, 5);
	assert_int_equal(ims_msi_irq_desc(d)->icookie.value, 0x1234);
	assert_ptr_equal(ims_msi_irq_desc(d)->dcookie.ptr, &ims.slot[5]);
	assert_ptr_equal(ims_msi_irq_device(d), dev);
	assert_int_equal(ims_msi_index_to_virq(dev, IMS_MSI_SECONDARY_DOMAIN, 5), m.virq);
	/* Any index takes the lowest free ones. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX,
						      NULL, no_cookie).index, i);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
					      no_cookie).index, 6);
	/* Bad index, taken index, full domain: refused, nothing changes. */
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 8, NULL, no_cookie).index,
			 -EINVAL);
	assert_non_null(strstr(ims_last_error(), "beyond"));
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, no_cookie).virq,
			 -EEXIST);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
					      no_cookie).index, 7);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
					      no_cookie).index, -ENOSPC);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 8);
	assert_int_equal(ims__msi_device_check(dev), 0);
	/* Free one, and a double free is refused. */
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), -EINVAL);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 7);
	assert_int_equal(ims.freed, 1);
	assert_int_equal(ims.slot[3].ctrl, 1);
	/* The default domain does not exist. */
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, 0, NULL, no_cookie).index,
			 -ENOENT);
}

static void software_managed_index_space(void **state)
{
	(void)state;
	create_ims(0);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3000, NULL, no_cookie).index,
			 3000);
	/* The fake chip has 4096 slots: its prepare callback refuses more. */
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5000, NULL, no_cookie).index,
			 -ENOSPC);
	ims.refuse_prepare = -EAGAIN;
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL, no_cookie).index,
			 -EAGAIN);
	ims.refuse_prepare = 0;
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 1);
	assert_int_equal(atomic_load(&remap.live), 1);
}

static void request_writes_message_and_unmasks(void **state)
{
	unsigned int hits = 0;
	struct ims_msi_map m;
	struct ims_cpumask *cpus = ims_cpumask_create(4);

	(void)state;
	create_ims(16);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 2, NULL, no_cookie);
	/* Allocated: masked, nothing written yet. */
	assert_int_equal(ims.slot[2].addr_lo, 0);
	assert_int_equal(ims_irq_request(core, (unsigned int)m.virq, handler, 0, "adi0", &hits), 0);
	/* Activated: the parent's (remappable) message is in the slot, unmasked. */
	assert_int_equal(ims.slot[2].addr_lo & 0xfff0001f, 0xfee00010);
	assert_int_equal(ims.slot[2].ctrl & 1, 0);
	assert_int_equal(ims_irq_handle(core, (unsigned int)m.virq, 0), 0);
	assert_int_equal(hits, 1);
	/* Freeing with a handler is refused and changes nothing. */
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 2), -EBUSY);
	assert_int_equal(ims_msi_free_all(dev, IMS_MSI_SECONDARY_DOMAIN), -EBUSY);
	assert_int_equal(ims_device_destroy(dev), -EBUSY);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 1);
	/* Affinity: a parent that rewrites only its own entry leaves the slot. */
	remap.affinity_ret = IMS_SET_AFFINITY_DONE;
	ims_cpumask_set(cpus, 3);
	{
		uint32_t writes = ims.writes, data = ims.slot[2].data;

		assert_int_equal(ims_irq_set_affinity(core, (unsigned int)m.virq, cpus), 0);
		assert_int_equal(ims.writes, writes);
		assert_int_equal(ims.slot[2].data, data);
		/* A parent whose message changed makes the domain rewrite it. */
		remap.affinity_ret = IMS_SET_AFFINITY_OK;
		ims_cpumask_zero(cpus);
		ims_cpumask_set(cpus, 2);
		assert_int_equal(ims_irq_set_affinity(core, (unsigned int)m.virq, cpus), 0);
		assert_int_equal(ims.writes, writes + 1);
		assert_int_equal(ims.slot[2].data, 2);
	}
	assert_int_equal(ims_irq_free(core, (unsigned int)m.virq, &hits), 0);
	/* Shut down: masked, message cleared. */
	assert_int_equal(ims.slot[2].ctrl & 1, 1);
	assert_int_equal(ims.slot[2].addr_lo, 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 2), 0);
	ims_cpumask_destroy(cpus);
}

static void groups_allocate_and_free_whole(void **state)
{
	struct ims_msi_map maps[4];
	union ims_msi_cookie pasid = { .value = 77 };
	int g1, g2;

	(void)state;
	create_ims(10);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL, no_cookie).index, 1);
	g1 = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL, pasid, maps);
	assert_true(g1 > 0);
	assert_int_equal(maps[0].index, 0);
	assert_int_equal(maps[1].index, 2);
	assert_int_equal(maps[3].index, 4);
	g2 = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, no_cookie, maps);
	assert_true(g2 > 0 && g2 != g1);
	/* Only two indices left: a group of three is refused whole. */
	assert_int_equal(ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, no_cookie, maps),
			 -ENOSPC);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 8);
	/* A member cannot be freed alone. */
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 2), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "group"));
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, g1), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 4);
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, g1), -EINVAL);
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, 0), -EINVAL);
	/* The parent runs out in the middle of a group: nothing is left. */
	remap.capacity = atomic_load(&remap.live) + 2;
	assert_int_equal(ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL, no_cookie, maps),
			 -ENOSPC);
	remap.capacity = 0;
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 4);
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims__irq_core_check(core), 0);
}

static void free_all_frees_ims_too(void **state)
{
	struct ims_msi_map maps[3];

	(void)state;
	create_ims(64);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_DEFAULT_DOMAIN, &msix_template, 8,
						      &msix), 0);
	assert_true(ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, no_cookie, maps) > 0);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, 0, NULL, no_cookie).index, 0);
	assert_int_equal(ims_device_free_all_irqs(dev), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_DEFAULT_DOMAIN), 0);
	assert_int_equal(atomic_load(&remap.live), 0);
	/* The domains stay and serve again. */
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 9, NULL, no_cookie).index, 9);
}

/* ---- fail-Nth ---- */

static int op_device(void *p)
{
	struct ims_device_info di = { .name = "fn", .core = core, .msi_parent = remap.domain };

	return ims_device_create(&di, p);
}

static void undo_device(void *p)
{
	assert_int_equal(ims_device_destroy(*(struct ims_device **)p), 0);
}

static int op_domain(void *p)
{
	(void)p;
	return ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template, 2048, &ims);
}

static void undo_domain(void *p)
{
	(void)p;
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
}

static int check_state(void *p)
{
	(void)p;
	return ims__msi_device_check(dev) || ims__irq_core_check(core) ||
			       ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN) != 1 ||
			       atomic_load(&remap.live) != 1 ? -1 : 0;
}

static int check_no_domain(void *p)
{
	(void)p;
	return ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN) || ims__irq_core_check(core) ? -1 : 0;
}

static int op_alloc(void *p)
{
	struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX,
						    p, no_cookie);

	return m.index < 0 ? m.index : 0;
}

static void undo_alloc(void *p)
{
	(void)p;
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 1), 0);
}

static int group_id;
static int op_group(void *p)
{
	struct ims_msi_map maps[5];

	group_id = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 5, p, no_cookie, maps);
	return group_id;
}

static void undo_group(void *p)
{
	(void)p;
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, group_id), 0);
}

static void fail_nth_over_every_allocating_call(void **state)
{
	struct ims_device *d2;
	struct ims_cpumask *m = ims_cpumask_create(4);
	const struct fail_nth_ops devops = { op_device, undo_device, NULL, NULL };
	const struct fail_nth_ops domops = { op_domain, undo_domain, check_no_domain, NULL };
	const struct fail_nth_ops allocops = { op_alloc, undo_alloc, check_state, NULL };
	const struct fail_nth_ops groupops = { op_group, undo_group, check_state, NULL };
	struct fail_nth_result r;

	(void)state;
	ims_cpumask_set(m, 1);
	r = fail_nth_run(&devops, &d2);
	assert_true(r.failures >= 2);
	r = fail_nth_run(&domops, NULL);
	assert_true(r.failures >= 4);
	create_ims(2048);
	/* One vector stays allocated throughout, index 0. */
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 0, NULL, no_cookie).index, 0);
	r = fail_nth_run(&allocops, m);
	assert_true(r.failures >= 3);
	/* Each of the 5 vectors makes its descriptor and, having a mask, its ext. */
	r = fail_nth_run(&groupops, m);
	assert_true(r.failures >= 10);
	ims_cpumask_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ims_refused_without_remapping, setup, teardown),
		cmocka_unit_test_setup_teardown(template_rules_are_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(alloc_by_index_and_any_index, setup, teardown),
		cmocka_unit_test_setup_teardown(software_managed_index_space, setup, teardown),
		cmocka_unit_test_setup_teardown(request_writes_message_and_unmasks, setup, teardown),
		cmocka_unit_test_setup_teardown(groups_allocate_and_free_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(free_all_frees_ims_too, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_every_allocating_call, setup, teardown),
	};

	ims_set_log(NULL, IMS_LOG_ERR, NULL);
	return cmocka_run_group_tests_name("msi", tests, NULL, NULL);
}

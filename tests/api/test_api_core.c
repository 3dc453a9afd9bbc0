/*
 * The interrupt core through the public headers alone, linked against the
 * shared library: a two-level hierarchy (a CPU-routing root and a device
 * level that stores its message on activation), handlers, affinity and
 * errors, as an outside user of ims sees them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

struct dev {
	struct ims_msi_msg slot[8];
	bool masked[8];
};

static int root_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < nr; i++)
		ims_irq_domain_set_info(d, virq + i, virq + i, NULL);
	return 0;
}

static int root_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	(void)d;
	(void)reserve;
	const struct ims_cpumask *m = ims_irq_data_affinity(irqd);

	ims_irq_data_set_effective_cpu(irqd, m ? ims_cpumask_next(m, 0) : 0);
	return 0;
}

static void root_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	msg->address_lo = 0xfee00000u | ((uint32_t)ims_irq_data_effective_cpu(d) << 12);
	msg->data = 0x40 + d->hwirq % 64;
}

static int root_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *m, bool force)
{
	(void)force;
	ims_irq_data_set_effective_cpu(d, ims_cpumask_next(m, 0));
	return IMS_SET_AFFINITY_OK;
}

static const struct ims_irq_domain_ops root_ops = { .alloc = root_alloc, .activate = root_activate };
static const struct ims_irq_chip root_chip = {
	.name = "root", .irq_compose_msi_msg = root_compose, .irq_set_affinity = root_set_affinity,
};

static int dev_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	unsigned int *index = arg;
	int ret = ims_irq_domain_alloc_irqs_parent(d, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++)
		ims_irq_domain_set_info(d, virq + i, *index + i, ims_irq_domain_host_data(d));
	return 0;
}

static int dev_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct ims_msi_msg msg;

	(void)d;
	(void)reserve;
	if (ims_irq_chip_compose_msi_msg(irqd, &msg))
		return -EIO;
	ims_irq_data_chip(irqd)->irq_write_msi_msg(irqd, &msg);
	return 0;
}

static void dev_write(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	((struct dev *)d->chip_data)->slot[d->hwirq] = *msg;
}

static void dev_mask(struct ims_irq_data *d)
{
	((struct dev *)d->chip_data)->masked[d->hwirq] = true;
}

static void dev_unmask(struct ims_irq_data *d)
{
	((struct dev *)d->chip_data)->masked[d->hwirq] = false;
}

static int dev_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *m, bool force)
{
	struct ims_msi_msg msg;
	int ret = ims_irq_chip_set_affinity_parent(d, m, force);

	if (ret == IMS_SET_AFFINITY_OK && !ims_irq_chip_compose_msi_msg(d, &msg))
		dev_write(d, &msg);
	return ret < 0 ? ret : IMS_SET_AFFINITY_DONE;
}

static const struct ims_irq_domain_ops dev_ops = { .alloc = dev_alloc, .activate = dev_activate };
static const struct ims_irq_chip dev_chip = {
	.name = "dev", .irq_mask = dev_mask, .irq_unmask = dev_unmask, .irq_write_msi_msg = dev_write,
	.irq_set_affinity = dev_set_affinity,
};

static unsigned int handled;
static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	handled++;
	return IMS_IRQ_HANDLED;
}

static void public_api_end_to_end(void **state)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4 };
	struct ims_irq_core *core;
	struct ims_irq_domain *root, *devd;
	struct dev dev;
	struct ims_irq_info info;
	struct ims_cpumask *m;
	unsigned int index = 3;
	int virq;

	(void)state;
	memset(&dev, 0, sizeof(dev));
	assert_int_equal(ims_irq_core_create(&cfg, &core), 0);
	struct ims_irq_domain_info ri = { .name = "root", .ops = &root_ops, .chip = &root_chip };
	assert_int_equal(ims_irq_domain_create(core, &ri, &root), 0);
	struct ims_irq_domain_info di = { .name = "dev", .ops = &dev_ops, .chip = &dev_chip,
					  .host_data = &dev, .parent = root };
	assert_int_equal(ims_irq_domain_create(core, &di, &devd), 0);
	assert_int_equal(ims_irq_domain_depth(devd), 2);

	m = ims_cpumask_create(4);
	assert_int_equal(ims_cpumask_parse(m, "2-3"), 0);
	virq = ims_irq_domain_alloc_irqs(devd, -1, 1, &index, m);
	assert_true(virq >= 0);
	assert_int_equal(ims_irq_request(core, (unsigned int)virq, handler, 0, "dev-q3", NULL), 0);
	/* Activation stored the message composed at the root in slot 3. */
	assert_int_equal(dev.slot[3].address_lo, 0xfee02000u);
	assert_false(dev.masked[3]);
	assert_int_equal(ims_irq_handle(core, (unsigned int)virq, 2), 0);
	assert_int_equal(handled, 1);
	/* Moving it rewrites the device's message. */
	assert_int_equal(ims_cpumask_parse(m, "1"), 0);
	assert_int_equal(ims_irq_set_affinity(core, (unsigned int)virq, m), 0);
	assert_int_equal(dev.slot[3].address_lo, 0xfee01000u);
	assert_int_equal(ims_irq_effective_cpu(core, (unsigned int)virq), 1);
	assert_int_equal(ims_irq_get_info(core, (unsigned int)virq, &info), 0);
	assert_string_equal(info.actions, "dev-q3");
	assert_int_equal(info.hwirq, 3);
	/* Errors carry a message naming what was wrong. */
	assert_int_equal(ims_cpumask_parse(m, "1-x"), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "1-x"));
	assert_int_equal(ims_irq_domain_free_irqs(core, (unsigned int)virq, 1), -EBUSY);
	assert_non_null(strstr(ims_last_error(), "dev-q3"));
	assert_int_equal(ims_irq_free(core, (unsigned int)virq, NULL), 0);
	assert_true(dev.masked[3]);
	assert_int_equal(ims_irq_domain_free_irqs(core, (unsigned int)virq, 1), 0);
	assert_int_equal(ims_irq_domain_remove(devd), 0);
	assert_int_equal(ims_irq_domain_remove(root), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims_cpumask_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(public_api_end_to_end),
	};

	return cmocka_run_group_tests_name("api_core", tests, NULL, NULL);
}

/*
 * The IMS chips through the public headers alone, linked against the
 * shared library, over a device the test itself implements behind the
 * accessors: an array of slots in "device memory" that logs every access,
 * and queue shadows in "system memory" with a command register that can be
 * told to fail. It shows the order of the array chip's accesses (address
 * low, address high, data, then a flushing read), the PASID it programs,
 * and the queue chip taking effect only through LOAD, with a failed LOAD
 * reported by ims_irq_request and ims_irq_enable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

#define NR 16

/* ---- a root domain that isolates messages, as remapping does ---- */

static int root_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	(void)arg;
	for (unsigned int i = 0; i < nr; i++)
		ims_irq_domain_set_info(d, virq + i, virq + i, NULL);
	return 0;
}

static void root_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	(void)d;
	(void)virq;
	(void)nr;
}

static void root_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	ims_remap_msg_compose((uint16_t)d->hwirq, false, 0, msg);
}

static const struct ims_irq_domain_ops root_ops = { .alloc = root_alloc, .free = root_free };
static const struct ims_irq_chip root_chip = { .name = "root", .irq_compose_msi_msg = root_compose };

/* ---- the test's device ---- */

struct access {
	bool write;
	uint32_t off, val;
};

static struct {
	uint32_t slot[NR][4];		/* array: in effect at once; queue: shadows */
	uint32_t active[NR][4];		/* queue: what LOAD took into effect */
	uint32_t status;
	int fail_loads;
	struct access log[64];
	unsigned int n;
} devm;

static int mem_read32(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	if (off >= sizeof(devm.slot) || off % 4)
		return -EINVAL;
	*val = devm.slot[off / 16][off % 16 / 4];
	if (devm.n < 64)
		devm.log[devm.n++] = (struct access){ false, (uint32_t)off, *val };
	return 0;
}

static int mem_write32(void *ctx, uint64_t off, uint32_t val)
{
	(void)ctx;
	if (off >= sizeof(devm.slot) || off % 4)
		return -EINVAL;
	devm.slot[off / 16][off % 16 / 4] = val;
	if (devm.n < 64)
		devm.log[devm.n++] = (struct access){ true, (uint32_t)off, val };
	return 0;
}

static int regs_read32(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	*val = off == IMS_QUEUE_REG_STATUS ? devm.status : 0;
	return 0;
}

static int regs_write32(void *ctx, uint64_t off, uint32_t val)
{
	uint32_t q = val & IMS_QUEUE_CMD_QUEUE_MASK;

	(void)ctx;
	if (off != IMS_QUEUE_REG_CMD)
		return 0;
	if (val >> IMS_QUEUE_CMD_OP_SHIFT != IMS_QUEUE_CMD_OP_LOAD_IRQ || q >= NR) {
		devm.status = IMS_QUEUE_STATUS_INVALID;
	} else if (devm.fail_loads > 0) {
		devm.fail_loads--;
		devm.status = IMS_QUEUE_STATUS_DEVICE_ERROR;
	} else {
		memcpy(devm.active[q], devm.slot[q], 16);
		devm.status = IMS_QUEUE_STATUS_OK;
	}
	return 0;
}

static struct ims_irq_core *core;
static struct ims_irq_domain *root;
static struct ims_device *dev;

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	return IMS_IRQ_HANDLED;
}

static int setup(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = 2 };
	struct ims_irq_domain_info ri = { .name = "IR", .ops = &root_ops, .chip = &root_chip,
					  .flags = IMS_IRQ_DOMAIN_FLAG_MSI_PARENT |
						   IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI };
	struct ims_device_info di = { .name = "dev", .rid = 0x100 };

	(void)state;
	memset(&devm, 0, sizeof(devm));
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims_irq_domain_create(core, &ri, &root), 0);
	di.core = core;
	di.msi_parent = root;
	assert_int_equal(ims_device_create(&di, &dev), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims_irq_domain_remove(root), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	return 0;
}

static void array_chip_accesses_in_order(void **state)
{
	struct ims_array_chip_info ci = { { mem_read32, mem_write32, NULL }, 0, NR };
	struct ims_array_chip *c;
	struct ims_msi_map m;
	const uint32_t pasid_ctrl = IMS_SLOT_CTRL_PASID_EN | 0x7u << IMS_SLOT_CTRL_PASID_SHIFT;
	unsigned int i;

	(void)state;
	assert_int_equal(ims_array_chip_create(&ci, &c), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN,
						      ims_array_chip_template(), NR, c), 0);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 2, NULL, ims_chip_pasid_cookie(7));
	assert_int_equal(m.index, 2);
	assert_int_equal(devm.slot[2][3], IMS_SLOT_CTRL_MASKBIT | pasid_ctrl);
	devm.n = 0;
	assert_int_equal(ims_irq_request(core, (unsigned int)m.virq, handler, 0, "h", NULL), 0);
	/* Activation: address low, high, data, a flushing read; then the unmask and its flush. */
	i = 0;
	assert_true(devm.log[i].write && devm.log[i++].off == 32 + IMS_SLOT_ADDR_LO);
	assert_true(devm.log[i].write && devm.log[i++].off == 32 + IMS_SLOT_ADDR_HI);
	assert_true(devm.log[i].write && devm.log[i++].off == 32 + IMS_SLOT_DATA);
	assert_false(devm.log[i++].write);
	assert_true(devm.log[i].write && devm.log[i].off == 32 + IMS_SLOT_CTRL &&
		    devm.log[i].val == pasid_ctrl);
	i++;
	assert_false(devm.log[i++].write);
	assert_int_equal(devm.n, i);
	assert_int_equal(devm.slot[2][0] >> 20, 0xfee);
	/* Nothing outside slot 2 was touched. */
	for (unsigned int k = 0; k < devm.n; k++)
		assert_int_equal(devm.log[k].off / 16, 2);
	assert_int_equal(ims_irq_free(core, (unsigned int)m.virq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 2), 0);
	assert_int_equal(devm.slot[2][0] | devm.slot[2][1] | devm.slot[2][2], 0);
	assert_int_equal(devm.slot[2][3], IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	ims_array_chip_destroy(c);
}

static void queue_chip_takes_effect_only_through_load(void **state)
{
	struct ims_queue_chip_info ci = { { regs_read32, regs_write32, NULL },
					  { mem_read32, mem_write32, NULL }, NR };
	struct ims_queue_chip *c;
	struct ims_msi_map m;
	unsigned int irq;

	(void)state;
	assert_int_equal(ims_queue_chip_create(&ci, &c), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN,
						      ims_queue_chip_template(), NR, c), 0);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, ims_chip_pasid_cookie(9));
	irq = (unsigned int)m.virq;
	assert_int_equal(devm.active[5][3], IMS_SLOT_CTRL_MASKBIT | IMS_SLOT_CTRL_PASID_EN |
						    9u << IMS_SLOT_CTRL_PASID_SHIFT);
	/* A failed LOAD: request reports it, the device keeps what it had. */
	devm.fail_loads = 1;
	assert_int_equal(ims_irq_request(core, irq, handler, 0, "h", NULL), -EIO);
	assert_int_equal(devm.active[5][0], 0);
	assert_true(devm.active[5][3] & IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims_irq_request(core, irq, handler, 0, "h", NULL), 0);
	assert_int_equal(devm.active[5][0] >> 20, 0xfee);
	assert_false(devm.active[5][3] & IMS_SLOT_CTRL_MASKBIT);
	/* Enable after disable: the failed LOAD leaves the interrupt disabled. */
	assert_int_equal(ims_irq_disable(core, irq), 0);
	devm.fail_loads = 1;
	assert_int_equal(ims_irq_enable(core, irq), -EIO);
	assert_int_equal(ims_irq_enable(core, irq), 0);
	assert_int_equal(ims_queue_chip_load_errors(c), 2);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 5), 0);
	assert_int_equal(devm.active[5][3], IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	ims_queue_chip_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(array_chip_accesses_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_chip_takes_effect_only_through_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

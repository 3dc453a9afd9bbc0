/*
 * The ITS driver on the GIC model, with the device MSI layer unchanged on
 * top: the ITS domain is an isolated MSI parent, so the same IMS domain
 * code that runs on x86 remapping is created here; devices with a real IMS
 * array (and a second array standing in for an MSI-X table) allocate
 * vectors by index, at any index and as groups, fire every one, and every
 * handler runs exactly once; masked slots deliver on unmask; affinity moves
 * by MOVI with the device's message unchanged; bad messages are faults and
 * devices cannot reach each other's LPIs; refused commands surface as -EIO
 * and the queue goes on; the fail-Nth loop over every allocating call.
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
#include "hw/arm/gic.h"
#include "hw/ims/ims_array.h"
#include "os/arm/its_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"
#include "util/log.h"

#define NCPU 4u
#define ITS_BASE 0x8080000ull
#define RID 0x0200u
#define NSLOTS 256u

/* ---- an IMS array chip over the real array model's registers ---- */

struct arr_chip {
	struct ims_hw_ims_array *arr;
	struct ims_hw_mmio_region r;
};

static void slot_w(struct arr_chip *a, uint32_t slot, uint32_t field, uint32_t v)
{
	uint64_t x = v;

	assert_int_equal(ims__hw_mmio_access(&a->r, 16ull * slot + field, 4, &x, true), 0);
}

static uint32_t slot_r(struct arr_chip *a, uint32_t slot, uint32_t field)
{
	uint64_t x = 0;

	assert_int_equal(ims__hw_mmio_access(&a->r, 16ull * slot + field, 4, &x, false), 0);
	return (uint32_t)x;
}

static uint32_t slot_of(struct ims_irq_data *d)
{
	return (uint32_t)ims_msi_irq_desc(d)->dcookie.value;
}

static void arr_mask(struct ims_irq_data *d)
{
	struct arr_chip *a = ims_msi_domain_chip_data(d);
	uint32_t s = slot_of(d);

	slot_w(a, s, IMS_SLOT_CTRL, slot_r(a, s, IMS_SLOT_CTRL) | IMS_SLOT_CTRL_MASKBIT);
}

static void arr_unmask(struct ims_irq_data *d)
{
	struct arr_chip *a = ims_msi_domain_chip_data(d);
	uint32_t s = slot_of(d);

	slot_w(a, s, IMS_SLOT_CTRL, slot_r(a, s, IMS_SLOT_CTRL) & ~IMS_SLOT_CTRL_MASKBIT);
}

static void arr_write(struct ims_irq_data *d, const struct ims_msi_msg *m)
{
	struct arr_chip *a = ims_msi_domain_chip_data(d);
	uint32_t s = slot_of(d);

	slot_w(a, s, IMS_SLOT_ADDR_LO, m->address_lo);
	slot_w(a, s, IMS_SLOT_ADDR_HI, m->address_hi);
	slot_w(a, s, IMS_SLOT_DATA, m->data);
	(void)slot_r(a, s, IMS_SLOT_CTRL);	/* flush */
}

static int arr_prepare(struct ims_irq_domain *d, struct ims_msi_alloc_info *info,
		       struct ims_msi_desc *desc)
{
	struct arr_chip *a = ims_msi_domain_data(d);

	(void)info;
	if (desc->index >= ims__hw_ims_array_nr_slots(a->arr))
		return -ENOSPC;
	desc->dcookie.value = desc->index;
	return 0;
}

static void arr_free_desc(struct ims_irq_domain *d, struct ims_msi_desc *desc)
{
	struct arr_chip *a = ims_msi_domain_data(d);

	slot_w(a, (uint32_t)desc->dcookie.value, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	slot_w(a, (uint32_t)desc->dcookie.value, IMS_SLOT_ADDR_LO, 0);
	slot_w(a, (uint32_t)desc->dcookie.value, IMS_SLOT_ADDR_HI, 0);
	slot_w(a, (uint32_t)desc->dcookie.value, IMS_SLOT_DATA, 0);
}

static const struct ims_msi_domain_template ims_tmpl = {
	.name = "IMS-array",
	.type = IMS_MSI_TYPE_IMS,
	.chip = { .irq_mask = arr_mask, .irq_unmask = arr_unmask, .irq_write_msi_msg = arr_write },
	.prepare_desc = arr_prepare,
	.free_desc = arr_free_desc,
};

/* ---- the machine ---- */

static struct ims_irq_core *core;
static struct ims_hw_gic *gic;
static struct ims_arm_its *its;
static struct ims_hw_msi_sink sink;
static struct arr_chip ims_arr, msix_arr;
static struct ims_device *dev;
static struct ims_msi_domain_template msix_tmpl;

static const union ims_msi_cookie no_cookie;
static atomic_uint runs[4096];

static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&runs[irq % 4096], 1);
	return IMS_IRQ_HANDLED;
}

static void arr_make(struct arr_chip *a, uint16_t rid)
{
	struct ims_hw_ims_array_params p = { NSLOTS, rid };

	assert_int_equal(ims__hw_ims_array_create(&p, &sink, &a->arr), 0);
	ims__hw_ims_array_region(a->arr, &a->r);
}

static int setup(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NCPU };
	struct ims_hw_gic_params gp = { .nr_cpus = NCPU, .its_base = ITS_BASE };
	struct ims_arm_its_config ic = { .nr_cpus = NCPU, .its_base = ITS_BASE,
					 .events_per_device = 1024, .ops = &ims__hw_gic_ops };
	struct ims_device_info di = { .name = "0000:02:00.0", .rid = RID };

	(void)state;
	memset(runs, 0, sizeof(runs));
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims__hw_gic_create(&gp, &gic), 0);
	ims__hw_gic_msi_sink(gic, &sink);
	ic.ctx = gic;
	assert_int_equal(ims_arm_its_create(core, &ic, &its), 0);
	arr_make(&ims_arr, RID);
	arr_make(&msix_arr, RID);
	di.core = core;
	di.msi_parent = ims_arm_its_irq_domain(its);
	assert_int_equal(ims_device_create(&di, &dev), 0);
	msix_tmpl = ims_tmpl;
	msix_tmpl.name = "MSIX-like";
	msix_tmpl.type = IMS_MSI_TYPE_MSIX;
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_DEFAULT_DOMAIN, &msix_tmpl, 64,
						      &msix_arr), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &ims_tmpl, NSLOTS,
						      &ims_arr), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;
	struct ims_hw_its_stats st;

	(void)state;
	if (dev) {
		assert_int_equal(ims__msi_device_check(dev), 0);
		assert_int_equal(ims_device_destroy(dev), 0);
		dev = NULL;
	}
	assert_int_equal(ims__arm_its_check(its), 0);
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(ims_arm_its_destroy(its), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims__hw_gic_its_stats(gic, &st);
	ims__hw_gic_destroy(gic);
	ims__hw_ims_array_destroy(ims_arr.arr);
	ims__hw_ims_array_destroy(msix_arr.arr);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

/* Run every CPU until none has anything to take. Returns LPIs taken. */
static unsigned int drain(void)
{
	unsigned int n = 0;
	bool more = true;

	while (more) {
		more = false;
		for (uint32_t c = 0; c < NCPU; c++) {
			int r = ims_arm_its_dispatch(its, c);

			assert_true(r >= 0);
			if (r > 0) {
				n++;
				more = true;
			}
		}
	}
	return n;
}

static struct arr_chip *arr_of(enum ims_msi_domain_id id)
{
	return id == IMS_MSI_DEFAULT_DOMAIN ? &msix_arr : &ims_arr;
}

static void fire(enum ims_msi_domain_id id, uint32_t index)
{
	assert_int_equal(ims__hw_ims_array_signal(arr_of(id)->arr, index, false, 0), 0);
}

/* ---- tests ---- */

static void its_domain_is_an_isolated_msi_parent(void **state)
{
	struct ims_irq_domain *d = ims_arm_its_irq_domain(its);
	struct fake_ims fims;
	struct ims_device *d2;
	struct ims_device_info di = { .name = "0000:03:00.0", .core = core, .msi_parent = d,
				      .rid = 0x0300 };
	struct ims_msi_map m;

	(void)state;
	assert_string_equal(ims_irq_domain_name(d), "ITS");
	assert_int_equal(ims_irq_domain_flags(d),
			 IMS_IRQ_DOMAIN_FLAG_MSI_PARENT | IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI);
	assert_string_equal(ims_irq_domain_name(ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN)),
			    "ITS-IMS-array-0000:02:00.0");
	/* The shared test template, unchanged, on the ITS. */
	memset(&fims, 0, sizeof(fims));
	assert_int_equal(ims_device_create(&di, &d2), 0);
	assert_int_equal(ims_msi_create_device_domain(d2, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template,
						      0, &fims), 0);
	m = ims_msi_alloc_irq_at(d2, IMS_MSI_SECONDARY_DOMAIN, 77, NULL, no_cookie);
	assert_int_equal(m.index, 77);
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "fake", NULL), 0);
	assert_int_equal(fims.slot[77].addr_lo, (uint32_t)(ITS_BASE + IMS_GITS_TRANSLATER));
	assert_int_equal(fims.slot[77].data, 0);	/* the first EventID of DeviceID 0x300 */
	assert_int_equal(ims_arm_its_destroy(its), -EBUSY);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(ims_device_destroy(d2), 0);
}

/* Allocate by index, any index and group in both domains; fire all once. */
static void every_vector_fires_and_runs_exactly_once(void **state)
{
	struct ims_msi_map maps[40], grp[8];
	struct ims_arm_its_stats st;
	unsigned int n = 0, i;
	int g;

	(void)state;
	maps[n++] = ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, 3, NULL, no_cookie);
	maps[n++] = ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, 10, NULL, no_cookie);
	maps[n++] = ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, IMS_MSI_ANY_INDEX, NULL, no_cookie);
	maps[n++] = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 200, NULL, no_cookie);
	for (i = 0; i < 20; i++)
		maps[n++] = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
						 no_cookie);
	g = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 8, NULL, no_cookie, grp);
	assert_true(g > 0);
	for (i = 0; i < n; i++)
		assert_true(maps[i].virq >= 0);
	assert_int_equal(maps[2].index, 0);
	for (i = 0; i < n + 8; i++) {
		struct ims_msi_map *m = i < n ? &maps[i] : &grp[i - n];

		assert_int_equal(ims_irq_request(core, (unsigned)m->virq, count_handler, 0, "v", NULL), 0);
	}
	/* LPIs spread over the CPUs in turn. */
	for (uint32_t c = 0; c < NCPU; c++) {
		assert_true(ims_arm_its_cpu_lpis(its, c) + 1 >= (n + 8) / NCPU);
		assert_true(ims_arm_its_cpu_lpis(its, c) <= (n + 8) / NCPU + 1);
	}
	ims_arm_its_get_stats(its, &st);
	assert_int_equal(st.devices, 1);	/* MSI-X and IMS share the DeviceID */
	assert_int_equal(st.lpis_used, n + 8);
	assert_int_equal(st.events_used, n + 8);
	/* Each slot holds the TRANSLATER address and its own EventID. */
	for (i = 0; i < n + 8; i++) {
		struct ims_msi_map *m = i < n ? &maps[i] : &grp[i - n];
		enum ims_msi_domain_id id = i < 3 ? IMS_MSI_DEFAULT_DOMAIN : IMS_MSI_SECONDARY_DOMAIN;
		struct arr_chip *a = arr_of(id);

		assert_int_equal(slot_r(a, (uint32_t)m->index, IMS_SLOT_ADDR_LO),
				 (uint32_t)(ITS_BASE + IMS_GITS_TRANSLATER));
		assert_int_equal(slot_r(a, (uint32_t)m->index, IMS_SLOT_ADDR_HI), 0);
		for (unsigned int j = 0; j < i; j++) {
			struct ims_msi_map *o = j < n ? &maps[j] : &grp[j - n];
			enum ims_msi_domain_id oid = j < 3 ? IMS_MSI_DEFAULT_DOMAIN : IMS_MSI_SECONDARY_DOMAIN;

			assert_int_not_equal(slot_r(a, (uint32_t)m->index, IMS_SLOT_DATA),
					     slot_r(arr_of(oid), (uint32_t)o->index, IMS_SLOT_DATA));
		}
		fire(id, (uint32_t)m->index);
	}
	assert_int_equal(drain(), n + 8);
	for (i = 0; i < n + 8; i++) {
		struct ims_msi_map *m = i < n ? &maps[i] : &grp[i - n];

		assert_int_equal(atomic_load(&runs[m->virq]), 1);
		assert_int_equal(ims_irq_free(core, (unsigned)m->virq, NULL), 0);
	}
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, g), 0);
	assert_int_equal(ims_device_free_all_irqs(dev), 0);
	ims_arm_its_get_stats(its, &st);
	assert_int_equal(st.devices, 0);
	assert_int_equal(st.lpis_used, 0);
	assert_int_equal(st.command_errors, 0);
	assert_int_equal(st.dispatched, n + 8);
	assert_int_equal(st.spurious, 0);
}

static void masked_slot_delivers_on_unmask(void **state)
{
	struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, no_cookie);
	unsigned int irq = (unsigned int)m.virq;

	(void)state;
	assert_int_equal(ims_irq_request(core, irq, count_handler, 0, "v", NULL), 0);
	assert_int_equal(ims_irq_disable(core, irq), 0);
	fire(IMS_MSI_SECONDARY_DOMAIN, 5);	/* reaches the flow: masked, held pending */
	assert_int_equal(drain(), 1);
	assert_int_equal(atomic_load(&runs[irq]), 0);
	assert_true(slot_r(&ims_arr, 5, IMS_SLOT_CTRL) & IMS_SLOT_CTRL_MASKBIT);
	fire(IMS_MSI_SECONDARY_DOMAIN, 5);	/* latched in the slot */
	assert_true(ims__hw_ims_array_pending(ims_arr.arr, 5));
	assert_int_equal(drain(), 0);
	assert_int_equal(ims_irq_enable(core, irq), 0);	/* unmask sends the latched one */
	assert_false(ims__hw_ims_array_pending(ims_arr.arr, 5));
	drain();
	assert_int_equal(atomic_load(&runs[irq]), 2);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 5), 0);
}

static void affinity_moves_by_movi_message_unchanged(void **state)
{
	struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 9, NULL, no_cookie);
	unsigned int irq = (unsigned int)m.virq;
	struct ims_cpumask *mask = ims_cpumask_create(NCPU);
	uint32_t data, from, to;

	(void)state;
	assert_int_equal(ims_irq_request(core, irq, count_handler, 0, "v", NULL), 0);
	from = (uint32_t)ims_irq_effective_cpu(core, irq);
	to = (from + 1) % NCPU;
	data = slot_r(&ims_arr, 9, IMS_SLOT_DATA);
	assert_int_equal(ims_arm_its_cpu_lpis(its, from), 1);
	/* Pending on the old CPU when it moves: it follows, none lost. */
	fire(IMS_MSI_SECONDARY_DOMAIN, 9);
	ims_cpumask_set(mask, to);
	assert_int_equal(ims_irq_set_affinity(core, irq, mask), 0);
	assert_int_equal(ims_irq_effective_cpu(core, irq), (int)to);
	assert_int_equal(slot_r(&ims_arr, 9, IMS_SLOT_DATA), data);
	assert_int_equal(ims_arm_its_cpu_lpis(its, from), 0);
	assert_int_equal(ims_arm_its_cpu_lpis(its, to), 1);
	assert_int_equal(ims_arm_its_dispatch(its, from), 0);
	assert_int_equal(ims_arm_its_dispatch(its, to), 1);
	fire(IMS_MSI_SECONDARY_DOMAIN, 9);
	assert_int_equal(drain(), 1);
	assert_int_equal(ims_irq_count_cpu(core, irq, to), 2);
	assert_int_equal(ims_irq_count_cpu(core, irq, from), 0);
	/* Moving to where it is changes nothing. */
	assert_int_equal(ims_irq_set_affinity(core, irq, mask), 0);
	ims_cpumask_destroy(mask);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 9), 0);
}

static void bad_messages_fault_and_devices_are_isolated(void **state)
{
	struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL, no_cookie);
	struct ims_hw_its_stats st;
	struct arr_chip rogue;
	uint32_t data;

	(void)state;
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "v", NULL), 0);
	data = slot_r(&ims_arr, 1, IMS_SLOT_DATA);
	/* A device with another requester id writes the same EventID. */
	arr_make(&rogue, 0x0300);
	slot_w(&rogue, 0, IMS_SLOT_ADDR_LO, (uint32_t)(ITS_BASE + IMS_GITS_TRANSLATER));
	slot_w(&rogue, 0, IMS_SLOT_DATA, data);
	slot_w(&rogue, 0, IMS_SLOT_CTRL, 0);
	assert_int_equal(ims__hw_ims_array_signal(rogue.arr, 0, false, 0), 0);
	/* Our own device with an EventID beyond its ITT, and one not mapped. */
	slot_w(&ims_arr, 2, IMS_SLOT_ADDR_LO, (uint32_t)(ITS_BASE + IMS_GITS_TRANSLATER));
	slot_w(&ims_arr, 2, IMS_SLOT_DATA, 5000);
	slot_w(&ims_arr, 2, IMS_SLOT_CTRL, 0);
	fire(IMS_MSI_SECONDARY_DOMAIN, 2);
	slot_w(&ims_arr, 2, IMS_SLOT_DATA, 77);
	fire(IMS_MSI_SECONDARY_DOMAIN, 2);
	assert_int_equal(drain(), 0);
	assert_int_equal(atomic_load(&runs[m.virq]), 0);
	ims__hw_gic_its_stats(gic, &st);
	assert_int_equal(st.fault_by_err[IMS_ITS_ERR_DEV_UNMAPPED], 1);
	assert_int_equal(st.fault_by_err[IMS_ITS_ERR_EVENTID_RANGE], 1);
	assert_int_equal(st.fault_by_err[IMS_ITS_ERR_EVENT_UNMAPPED], 1);
	slot_w(&ims_arr, 2, IMS_SLOT_CTRL, IMS_SLOT_CTRL_MASKBIT);
	ims__hw_ims_array_destroy(rogue.arr);
	fire(IMS_MSI_SECONDARY_DOMAIN, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(atomic_load(&runs[m.virq]), 1);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
}

static void refused_command_is_eio_and_the_queue_goes_on(void **state)
{
	const uint64_t bad[4] = { IMS_ITS_CMD_MAPTI | 0x777ull << 32, 1 | 9000ull << 32, 0, 0 };
	struct ims_arm_its_stats st;
	struct ims_msi_map m;
	int ret;

	(void)state;
	ims__spin_lock(&its->lock);
	ret = ims__its_send_locked(its, bad);
	ims__spin_unlock(&its->lock);
	assert_int_equal(ret, -EIO);
	assert_non_null(strstr(ims_last_error(), "MAPTI"));
	assert_non_null(strstr(ims_last_error(), "device not mapped"));
	ims_arm_its_get_stats(its, &st);
	assert_int_equal(st.command_errors, 1);
	assert_int_equal(st.last_error, IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_DEV_UNMAPPED);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 0, NULL, no_cookie);
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "v", NULL), 0);
	fire(IMS_MSI_SECONDARY_DOMAIN, 0);
	assert_int_equal(drain(), 1);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
}

/* The ITS refuses the MAPTI of an activation: request fails, nothing stays. */
static void refused_activation_fails_request_and_leaves_nothing(void **state)
{
	struct ims_msi_map m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL, no_cookie);
	uint64_t v = ims_irq_domain_get_irq_data(ims_arm_its_irq_domain(its), (unsigned)m.virq)->chip_u64;
	uint64_t ev = (v >> 32) & 0xffff;
	const uint64_t squat[4] = { IMS_ITS_CMD_MAPTI | (uint64_t)RID << 32, ev | 9000ull << 32, 0, 0 };
	const uint64_t undo[4] = { IMS_ITS_CMD_DISCARD | (uint64_t)RID << 32, ev, 0, 0 };
	struct ims_irq_info info;
	int ret;

	(void)state;
	ims__spin_lock(&its->lock);
	ret = ims__its_send_locked(its, squat);	/* someone else maps the EventID */
	ims__spin_unlock(&its->lock);
	assert_int_equal(ret, 0);
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "v", NULL), -EIO);
	assert_non_null(strstr(ims_last_error(), "event already mapped"));
	assert_int_equal(ims_irq_get_info(core, (unsigned)m.virq, &info), 0);
	assert_false(info.activated);
	assert_int_equal(info.nr_actions, 0);
	assert_int_equal(ims_arm_its_cpu_lpis(its, 0) + ims_arm_its_cpu_lpis(its, 1) +
			 ims_arm_its_cpu_lpis(its, 2) + ims_arm_its_cpu_lpis(its, 3), 0);
	assert_int_equal(ims__arm_its_check(its), 0);
	ims__spin_lock(&its->lock);
	ret = ims__its_send_locked(its, undo);
	ims__spin_unlock(&its->lock);
	assert_int_equal(ret, 0);
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "v", NULL), 0);
	fire(IMS_MSI_SECONDARY_DOMAIN, 4);
	assert_int_equal(drain(), 1);
	assert_int_equal(atomic_load(&runs[m.virq]), 1);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
}

/* A device chip without mask: the ITS masks by the LPI's enable bit + INV. */
static void lpi_enable_bit_masks_when_the_device_cannot(void **state)
{
	struct ims_msi_domain_template t = msix_tmpl;
	struct ims_device_info di = { .name = "0000:04:00.0", .core = core,
				      .msi_parent = ims_arm_its_irq_domain(its), .rid = 0x0400 };
	struct arr_chip a;
	struct ims_device *d2;
	struct ims_msi_map m;
	uint32_t lpi;

	(void)state;
	t.chip.irq_mask = NULL;
	t.chip.irq_unmask = NULL;
	arr_make(&a, 0x0400);
	assert_int_equal(ims_device_create(&di, &d2), 0);
	assert_int_equal(ims_msi_create_device_domain(d2, IMS_MSI_DEFAULT_DOMAIN, &t, 8, &a), 0);
	m = ims_msi_alloc_irq_at(d2, IMS_MSI_DEFAULT_DOMAIN, 0, NULL, no_cookie);
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, count_handler, 0, "v", NULL), 0);
	slot_w(&a, 0, IMS_SLOT_CTRL, 0);	/* this "device" has no mask of its own */
	lpi = ims_irq_domain_get_irq_data(ims_arm_its_irq_domain(its), (unsigned)m.virq)->hwirq;
	assert_true(ims__hw_gic_lpi_cached_cfg(gic, lpi) & IMS_LPI_CFG_ENABLE);
	assert_int_equal(ims_irq_disable(core, (unsigned)m.virq), 0);
	assert_int_equal(ims__hw_ims_array_signal(a.arr, 0, false, 0), 0);
	assert_int_equal(drain(), 1);		/* the flow masks: enable bit off, INV */
	assert_false(ims__hw_gic_lpi_cached_cfg(gic, lpi) & IMS_LPI_CFG_ENABLE);
	assert_int_equal(ims__hw_ims_array_signal(a.arr, 0, false, 0), 0);
	assert_int_equal(drain(), 0);		/* held pending at the redistributor */
	assert_int_equal(atomic_load(&runs[m.virq]), 0);
	assert_int_equal(ims_irq_enable(core, (unsigned)m.virq), 0);
	drain();
	assert_int_equal(atomic_load(&runs[m.virq]), 2);
	/* A driver that forgets INV leaves the cache stale: still enabled. */
	its->debug_no_inv = true;
	assert_int_equal(ims_irq_disable(core, (unsigned)m.virq), 0);
	assert_int_equal(ims__hw_ims_array_signal(a.arr, 0, false, 0), 0);
	assert_int_equal(drain(), 1);
	assert_true(ims__hw_gic_lpi_cached_cfg(gic, lpi) & IMS_LPI_CFG_ENABLE);
	assert_int_equal(ims__hw_ims_array_signal(a.arr, 0, false, 0), 0);
	assert_int_equal(drain(), 1);		/* delivered although "masked" */
	its->debug_no_inv = false;
	assert_int_equal(ims_irq_enable(core, (unsigned)m.virq), 0);
	drain();
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(ims_device_destroy(d2), 0);
	ims__hw_ims_array_destroy(a.arr);
}

/* ---- fail-Nth ---- */

struct nth_ctx {
	struct ims_irq_core *core;
	struct ims_hw_gic *gic;
	struct ims_arm_its *its;
	struct ims_device *dev;
	struct ims_msi_map m, grp[5];
	int group;
	uint32_t devices, lpis;
	unsigned int irq;
};

static int op_create(void *p)
{
	struct nth_ctx *c = p;
	struct ims_irq_core_config cc = { .nr_cpus = 2 };
	struct ims_hw_gic_params gp = { .nr_cpus = 2, .its_base = ITS_BASE, .lpi_bits = 14 };
	struct ims_arm_its_config ic = { .nr_cpus = 2, .its_base = ITS_BASE, .lpi_bits = 14,
					 .events_per_device = 64, .ops = &ims__hw_gic_ops };
	int ret;

	ret = ims_irq_core_create(&cc, &c->core);
	if (ret)
		return ret;
	ret = ims__hw_gic_create(&gp, &c->gic);
	if (ret)
		goto core;
	ic.ctx = c->gic;
	ret = ims_arm_its_create(c->core, &ic, &c->its);
	if (!ret)
		return 0;
	ims__hw_gic_destroy(c->gic);
core:
	ims_irq_core_destroy(c->core);
	return ret;
}

static void undo_create(void *p)
{
	struct nth_ctx *c = p;

	assert_int_equal(ims_arm_its_destroy(c->its), 0);
	ims__hw_gic_destroy(c->gic);
	assert_int_equal(ims_irq_core_destroy(c->core), 0);
}

static int check_state(void *p)
{
	struct nth_ctx *c = p;
	struct ims_arm_its_stats st;
	int ret = ims__arm_its_check(its) ?: ims__irq_core_check(core) ?: ims__msi_device_check(c->dev);

	if (ret)
		return ret;
	ims_arm_its_get_stats(its, &st);
	if (st.devices != c->devices || st.lpis_used != c->lpis)
		return ims__error(-EIO, "ITS: %u devices and %u LPIs, expected %u and %u", st.devices,
				  st.lpis_used, c->devices, c->lpis);
	return 0;
}

static int op_alloc_first(void *p)
{
	struct nth_ctx *c = p;

	c->m = ims_msi_alloc_irq_at(c->dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL, no_cookie);
	return c->m.virq < 0 ? c->m.virq : 0;
}

static void undo_alloc_first(void *p)
{
	struct nth_ctx *c = p;

	assert_int_equal(ims_msi_free_irq(c->dev, IMS_MSI_SECONDARY_DOMAIN, (uint32_t)c->m.index), 0);
}

static int op_group(void *p)
{
	struct nth_ctx *c = p;

	c->group = ims_msi_alloc_group(c->dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, no_cookie, c->grp);
	return c->group < 0 ? c->group : 0;
}

static void undo_group(void *p)
{
	struct nth_ctx *c = p;

	assert_int_equal(ims_msi_free_group(c->dev, IMS_MSI_SECONDARY_DOMAIN, c->group), 0);
}

static int op_request(void *p)
{
	struct nth_ctx *c = p;

	return ims_irq_request(core, c->irq, count_handler, 0, "nth", NULL);
}

static void undo_request(void *p)
{
	struct nth_ctx *c = p;

	assert_int_equal(ims_irq_free(core, c->irq, NULL), 0);
}

static void fail_nth_over_every_allocating_call(void **state)
{
	struct nth_ctx c = { .dev = dev };
	struct fail_nth_ops ops = { op_create, undo_create, NULL, NULL };
	struct fail_nth_result r;
	struct ims_msi_map keep;

	(void)state;
	r = fail_nth_run(&ops, &c);
	assert_true(r.failures > 10);
	print_message("ims_arm_its_create: %llu fault points, all failed cleanly\n",
		      (unsigned long long)r.failures);
	/* The first vector of a device makes its ITT. */
	ops = (struct fail_nth_ops){ op_alloc_first, undo_alloc_first, check_state, NULL };
	r = fail_nth_run(&ops, &c);
	assert_true(r.failures >= 4);
	/* A group, with the device already mapped by one vector. */
	keep = ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, 0, NULL, no_cookie);
	c.devices = 1;
	c.lpis = 1;
	ops = (struct fail_nth_ops){ op_group, undo_group, check_state, NULL };
	r = fail_nth_run(&ops, &c);
	assert_true(r.failures >= 5);
	/* Activation through request. */
	c.irq = (unsigned int)keep.virq;
	ops = (struct fail_nth_ops){ op_request, undo_request, check_state, NULL };
	fail_nth_run(&ops, &c);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_DEFAULT_DOMAIN, 0), 0);
}

static void create_refuses_bad_configs(void **state)
{
	struct ims_arm_its_config ic = { .nr_cpus = NCPU, .its_base = ITS_BASE, .ops = &ims__hw_gic_ops,
					 .ctx = gic };
	struct ims_arm_its *x;

	(void)state;
	ic.nr_cpus = 3;
	assert_int_equal(ims_arm_its_create(core, &ic, &x), -EINVAL);
	ic.nr_cpus = NCPU;
	ic.its_base = ITS_BASE + 0x1000;
	assert_int_equal(ims_arm_its_create(core, &ic, &x), -EINVAL);
	ic.its_base = ITS_BASE;
	ic.events_per_device = 100;
	assert_int_equal(ims_arm_its_create(core, &ic, &x), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "power of two"));
	ic.events_per_device = 0;
	ic.lpi_bits = 21;
	assert_int_equal(ims_arm_its_create(core, &ic, &x), -EINVAL);
	ic.lpi_bits = 0;
	ic.ops = NULL;
	assert_int_equal(ims_arm_its_create(core, &ic, &x), -EINVAL);
	assert_int_equal(ims_arm_its_dispatch(its, NCPU), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(its_domain_is_an_isolated_msi_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(every_vector_fires_and_runs_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(masked_slot_delivers_on_unmask, setup, teardown),
		cmocka_unit_test_setup_teardown(affinity_moves_by_movi_message_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_messages_fault_and_devices_are_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_command_is_eio_and_the_queue_goes_on, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_activation_fails_request_and_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(lpi_enable_bit_masks_when_the_device_cannot, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_every_allocating_call, setup, teardown),
		cmocka_unit_test_setup_teardown(create_refuses_bad_configs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

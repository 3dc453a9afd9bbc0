/*
 * The accelerator end to end on the whole x86 machine: IMS slot ->
 * interrupt remapping unit -> local APIC -> CPU dispatch -> the ADI's
 * handler. Probe builds the IMS domain on the remapping domain (and falls
 * back to MSI-X behind a virtual IOMMU); 1,000 ADIs with 4 vectors each
 * complete their work on their own handlers, on the CPUs their affinity
 * names, and are destroyed in random order while the others fire; a slot
 * masked by a disabled interrupt holds its signal until enable; a change
 * of affinity rewrites the remapping entry, never the slot.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

static struct accel_machine M;
/* The platform the next machine is built on; the arch-neutral tests run
 * once on each, from the same code. */
static enum am_arch arch;

static void machine(uint32_t nr_cpus, uint16_t nr_wqs, uint32_t nr_ims, uint32_t ir_flags)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = nr_wqs, .wq_depth = 8, .nr_ims = nr_ims, .nr_msix = 9, .dvsec_ims = true,
	};

	assert_int_equal(am_create_arch(&M, arch, nr_cpus, &p, ir_flags), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims__accel_check(M.acc), 0);
	assert_int_equal(ims__msi_device_check(ims_accel_device(M.acc)), 0);
	assert_int_equal(am_parent_check(&M), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

static uint32_t rd0(uint32_t off)
{
	uint32_t v;

	assert_int_equal(M.ai.bar[0].read32(M.ai.bar[0].ctx, off, &v), 0);
	return v;
}

static void slot_msg(struct ims_accel_adi *adi, unsigned int vec, struct ims_msi_msg *msg)
{
	uint32_t slot = rd0(IMS_ACCEL_REG_IMS_OFFSET) + 16 * ims_accel_adi_handle(adi, vec);

	msg->address_lo = rd0(slot + IMS_SLOT_ADDR_LO);
	msg->address_hi = rd0(slot + IMS_SLOT_ADDR_HI);
	msg->data = rd0(slot + IMS_SLOT_DATA);
}

static void e2e_probe_builds_ims_on_remapping(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x42, .nvec = 2 };
	struct ims_accel_adi *adi;
	struct ims_remap_stats st;
	struct ims_msi_msg msg;
	uint16_t handle, sub;
	bool shv;
	uint32_t t;
	uint64_t r;

	(void)state;
	machine(4, 16, 256, 0);
	assert_true(ims_accel_has_ims(M.acc));
	assert_string_equal(ims_irq_domain_name(ims_msi_device_domain(ims_accel_device(M.acc),
								      IMS_MSI_SECONDARY_DOMAIN)),
			    "IR-0-IMS-array-0000:05:00.0");
	assert_int_equal(ims_accel_adi_create(M.acc, &ii, &adi), 0);
	/* Each slot holds a remappable message naming the vector's remapping entry. */
	slot_msg(adi, 1, &msg);
	assert_int_equal(ims_remap_msg_decode(&msg, &handle, &shv, &sub), 0);
	assert_int_equal(handle, ims_remap_irq_index(M.remap, (unsigned)ims_accel_adi_irq(adi, 1)));
	ims_remap_get_stats(M.remap, &st);
	assert_int_equal(st.allocated, 3);	/* admin MSI-X and the two IMS vectors */
	assert_int_equal(ims_accel_submit(adi, 1, IMS_ACCEL_OP_ECHO, 77, &t), 0);
	assert_int_equal(am_run(&M), 1);
	assert_int_equal(ims_accel_poll(adi, t, &r), 0);
	assert_int_equal(r, 77);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
	ims_remap_get_stats(M.remap, &st);
	assert_int_equal(st.allocated, 1);
}

static void e2e_virtual_iommu_falls_back_to_msix(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x43, .nvec = 3 };
	struct ims_accel_adi *adi;
	uint32_t t[3];
	uint64_t r;

	(void)state;
	machine(4, 16, 256, IMS_HW_IR_VIRTUAL);
	assert_false(ims_accel_has_ims(M.acc));
	{
		/* No guests without IMS: their vectors could not be posted. */
		struct ims_accel_guest_vcpu vc = { 0, 0 };
		struct ims_accel_guest_info gi = { .pasid = 1, .nvec = 1, .nr_vcpus = 1, .vcpus = &vc };
		struct ims_accel_guest *g;

		assert_int_equal(ims_accel_guest_create(M.acc, &gi, &g), -EOPNOTSUPP);
	}
	assert_int_equal(ims_accel_adi_create(M.acc, &ii, &adi), 0);
	for (unsigned int v = 0; v < 3; v++)
		assert_int_equal(ims_accel_submit(adi, v, IMS_ACCEL_OP_ECHO, v + 1, &t[v]), 0);
	assert_int_equal(am_run(&M), 3);
	for (unsigned int v = 0; v < 3; v++) {
		assert_int_equal(ims_accel_poll(adi, t[v], &r), 0);
		assert_int_equal(r, v + 1);
	}
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
}

/* ---- a thousand ADIs ---- */

#define NCPU 32
#define NADI 1000
#define NVEC 4

struct adi_ctx {
	struct ims_accel_adi *adi;
	bool alive;
	uint32_t outstanding;
	uint64_t done;
};

static struct adi_ctx *ctxs;
static uint64_t wrong;

static void on_complete(struct ims_accel_adi *adi, void *ctx, unsigned int vec, uint32_t ticket,
			uint32_t status, uint64_t result)
{
	struct adi_ctx *c = ctx;

	(void)ticket;
	if (c->adi != adi || !c->alive || status != IMS_ACCEL_CR_STATUS_SUCCESS ||
	    result != ((uint64_t)(c - ctxs) << 8 | vec))
		wrong++;
	c->outstanding--;
	c->done++;
}

static void submit_all(int i)
{
	uint32_t t;

	for (unsigned int v = 0; v < NVEC; v++) {
		assert_int_equal(ims_accel_submit(ctxs[i].adi, v, IMS_ACCEL_OP_ECHO,
						  (uint64_t)i << 8 | v, &t), 0);
		ctxs[i].outstanding++;
	}
}

static void e2e_thousand_adis_on_their_own_handlers_and_cpus(void **state)
{
	struct ims_cpumask *mask = ims_cpumask_create(NCPU);
	struct ims_accel_adi_info ii = { .nvec = NVEC, .complete = on_complete, .affinity = mask };
	int order[NADI];
	uint64_t total = 0, dispatched = 0;

	(void)state;
	machine(NCPU, 1024, 4096, 0);
	ctxs = calloc(NADI, sizeof(*ctxs));
	wrong = 0;
	for (int i = 0; i < NADI; i++) {
		ims_cpumask_zero(mask);
		ims_cpumask_set(mask, (uint32_t)i % NCPU);
		ii.pasid = 0x2000 + (uint32_t)i;
		ii.ctx = &ctxs[i];
		assert_int_equal(ims_accel_adi_create(M.acc, &ii, &ctxs[i].adi), 0);
		ctxs[i].alive = true;
	}
	/* Remapping entries on x86, LPIs on ARM: one each, plus the admin vector. */
	assert_int_equal(am_parent_entries(&M), 1 + NADI * NVEC);
	for (int i = 0; i < NADI; i++)
		submit_all(i);
	dispatched += am_run(&M);
	for (int i = 0; i < NADI; i++) {
		assert_int_equal(ctxs[i].done, NVEC);
		for (unsigned int v = 0; v < NVEC; v++)
			assert_int_equal(ims_irq_count_cpu(M.core,
							   (unsigned)ims_accel_adi_irq(ctxs[i].adi, v),
							   (uint32_t)i % NCPU), 1);
	}
	assert_int_equal(wrong, 0);

	srand(7);
	for (int i = 0; i < NADI; i++)
		order[i] = i;
	for (int i = NADI - 1; i > 0; i--) {
		int j = rand() % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (int k = 0; k < NADI; k++) {
		struct adi_ctx *c = &ctxs[order[k]];

		if (k % 20 == 0) {
			for (int i = 0; i < NADI; i++)
				if (ctxs[i].alive)
					submit_all(i);
			/* Some complete and sit in the APICs' IRRs while one ADI goes. */
			ims__hw_accel_step(M.hw, (unsigned int)(NADI - k) * NVEC / 2);
		}
		c->alive = false;
		assert_int_equal(ims_accel_adi_destroy(c->adi), 0);
		if (k % 20 == 19) {
			dispatched += am_run(&M);
			for (int i = 0; i < NADI; i++)
				assert_true(!ctxs[i].alive || ctxs[i].outstanding == 0);
		}
	}
	dispatched += am_run(&M);
	for (int i = 0; i < NADI; i++)
		total += ctxs[i].done;
	assert_int_equal(wrong, 0);
	assert_int_equal(am_parent_entries(&M), 1);
	print_message("e2e (%s): 1000 ADIs x 4 IMS vectors on %d CPUs: %llu completions, each on its own "
		      "ADI's handler; %llu interrupts dispatched\n", arch == AM_ARM ? "ARM ITS" : "x86", NCPU, (unsigned long long)total,
		      (unsigned long long)dispatched);
	free(ctxs);
	ims_cpumask_destroy(mask);
}

static void e2e_masked_slot_holds_the_signal_until_enable(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x51, .nvec = 1 };
	struct ims_accel_adi *adi;
	unsigned int irq;
	uint32_t t1, t2, slot;
	uint64_t r;

	(void)state;
	machine(4, 16, 256, 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &ii, &adi), 0);
	irq = (unsigned)ims_accel_adi_irq(adi, 0);
	slot = ims_accel_adi_handle(adi, 0);
	assert_int_equal(ims_irq_disable(M.core, irq), 0);
	assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_ECHO, 1, &t1), 0);
	am_run(&M);
	/* Arrived while disabled: masked at the slot, held pending by the core. */
	assert_int_equal(ims_accel_poll(adi, t1, &r), -EAGAIN);
	assert_int_equal(rd0(rd0(IMS_ACCEL_REG_IMS_OFFSET) + 16 * slot + IMS_SLOT_CTRL) &
			 IMS_SLOT_CTRL_MASKBIT, IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_ECHO, 2, &t2), 0);
	am_run(&M);
	assert_true(ims__hw_ims_array_pending(ims__hw_accel_ims(M.hw), slot));
	assert_int_equal(ims_accel_poll(adi, t2, &r), -EAGAIN);
	assert_int_equal(ims_irq_enable(M.core, irq), 0);
	am_run(&M);
	assert_false(ims__hw_ims_array_pending(ims__hw_accel_ims(M.hw), slot));
	assert_int_equal(ims_accel_poll(adi, t1, &r), 0);
	assert_int_equal(r, 1);
	assert_int_equal(ims_accel_poll(adi, t2, &r), 0);
	assert_int_equal(r, 2);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
}

static void e2e_affinity_rewrites_the_entry_not_the_slot(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x61, .nvec = 1 };
	struct ims_cpumask *mask = ims_cpumask_create(4);
	struct ims_msi_msg before, after;
	struct ims_accel_adi *adi;
	unsigned int irq;
	uint32_t t;
	uint64_t r;

	(void)state;
	machine(4, 16, 256, 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &ii, &adi), 0);
	irq = (unsigned)ims_accel_adi_irq(adi, 0);
	slot_msg(adi, 0, &before);
	for (uint32_t cpu = 0; cpu < 4; cpu++) {
		ims_cpumask_zero(mask);
		ims_cpumask_set(mask, cpu);
		assert_int_equal(ims_irq_set_affinity(M.core, irq, mask), 0);
		slot_msg(adi, 0, &after);
		assert_memory_equal(&before, &after, sizeof(before));
		assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_ECHO, cpu, &t), 0);
		am_run(&M);
		assert_int_equal(ims_accel_poll(adi, t, &r), 0);
		assert_int_equal(r, cpu);
		assert_int_equal(ims_irq_count_cpu(M.core, irq, cpu), 1);
	}
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
	ims_cpumask_destroy(mask);
}

static int on_x86(void **state)
{
	(void)state;
	arch = AM_X86;
	return 0;
}

static int on_arm(void **state)
{
	(void)state;
	arch = AM_ARM;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(e2e_probe_builds_ims_on_remapping, on_x86, teardown),
		cmocka_unit_test_setup_teardown(e2e_virtual_iommu_falls_back_to_msix, on_x86, teardown),
		{ "x86: e2e_thousand_adis_on_their_own_handlers_and_cpus",
		  e2e_thousand_adis_on_their_own_handlers_and_cpus, on_x86, teardown, NULL },
		{ "arm: e2e_thousand_adis_on_their_own_handlers_and_cpus",
		  e2e_thousand_adis_on_their_own_handlers_and_cpus, on_arm, teardown, NULL },
		{ "x86: e2e_masked_slot_holds_the_signal_until_enable",
		  e2e_masked_slot_holds_the_signal_until_enable, on_x86, teardown, NULL },
		{ "arm: e2e_masked_slot_holds_the_signal_until_enable",
		  e2e_masked_slot_holds_the_signal_until_enable, on_arm, teardown, NULL },
		cmocka_unit_test_setup_teardown(e2e_affinity_rewrites_the_entry_not_the_slot, on_x86,
						teardown),
	};

	return cmocka_run_group_tests_name("accel_e2e", tests, NULL, NULL);
}

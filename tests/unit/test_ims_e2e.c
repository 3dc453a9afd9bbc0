/*
 * IMS end to end on the whole x86 machine: a device with both MSI-X and a
 * 2048-slot IMS array (the reference accelerator's function) allocates its
 * vectors dynamically after probe, by index, at any free index and as
 * groups with a PASID, until every slot is taken; the device then raises
 * every IMS slot and every MSI-X entry once, and each travels slot ->
 * remapping unit -> local APIC -> dispatch -> handler, and every handler
 * runs exactly once, for its own vector. Slots masked while their
 * interrupt is disabled hold what they are asked to raise and deliver it on
 * unmask, losing nothing. (Every vector is active at once, so the machine
 * has 16 CPUs: about 200 device vectors fit on each.)
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
#include "hw/ims/ims_array.h"
#include "hw/pci/msix.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NR_IMS 2048
#define NR_MSIX 64

static struct accel_machine M;

struct vec {
	int virq;
	unsigned int runs;
	uint32_t pasid;		/* 0: none */
};

static struct vec ims_vec[NR_IMS], msix_vec[NR_MSIX];

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	struct vec *v = ctx;

	assert_int_equal(irq, v->virq);
	v->runs++;
	return IMS_IRQ_HANDLED;
}

static void take(struct vec *tab, struct ims_msi_map m, uint32_t pasid)
{
	if (m.index < 0 || m.virq < 0)
		fail_msg("allocation failed: %d: %s", m.index, ims_last_error());
	assert_int_equal(tab[m.index].virq, 0);
	tab[m.index].virq = m.virq;
	tab[m.index].pasid = pasid;
	assert_int_equal(ims_irq_request(M.core, (unsigned int)m.virq, handler, 0, "e2e",
					 &tab[m.index]), 0);
}

static void every_slot_fires_once_through_the_whole_machine(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 4, .wq_depth = 8, .nr_ims = NR_IMS, .nr_msix = NR_MSIX, .dvsec_ims = true,
	};
	struct ims_device *dev;
	struct ims_msi_map maps[4];
	int groups[128];
	unsigned int i, g, n;

	(void)state;
	memset(ims_vec, 0, sizeof(ims_vec));
	memset(msix_vec, 0, sizeof(msix_vec));
	/* About 200 device vectors per CPU: 2,111 active vectors need 11 CPUs. */
	assert_int_equal(am_create(&M, 16, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	assert_true(ims_accel_has_ims(M.acc));
	dev = ims_accel_device(M.acc);

	/* MSI-X: the driver holds entry 0 (admin); take the rest one by one. */
	for (i = 1; i < NR_MSIX; i++)
		take(msix_vec, ims_msi_alloc_irq_at(dev, IMS_MSI_DEFAULT_DOMAIN, i, NULL,
						    (union ims_msi_cookie){ 0 }), 0);
	/* IMS: 512 at chosen indices (every fourth), 128 groups of 4 with a
	 * PASID each, then the rest at any free index. */
	for (i = 0; i < 512; i++)
		take(ims_vec, ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, i * 4, NULL,
						   (union ims_msi_cookie){ 0 }), 0);
	for (g = 0; g < 128; g++) {
		uint32_t pasid = 0x100 + g;

		groups[g] = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL,
						ims_chip_pasid_cookie(pasid), maps);
		assert_true(groups[g] > 0);
		for (i = 0; i < 4; i++)
			take(ims_vec, maps[i], pasid);
	}
	for (n = 512 + 512; n < NR_IMS; n++)
		take(ims_vec, ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
						   (union ims_msi_cookie){ 0 }), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), NR_IMS);
	assert_int_equal(ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
					      (union ims_msi_cookie){ 0 }).index, -ENOSPC);
	assert_int_equal(ims__msi_device_check(dev), 0);

	/* The device raises every slot and entry once. */
	for (i = 0; i < NR_IMS; i++)
		assert_int_equal(ims__hw_ims_array_signal(ims__hw_accel_ims(M.hw), i,
							  ims_vec[i].pasid != 0, ims_vec[i].pasid), 0);
	for (i = 1; i < NR_MSIX; i++)
		assert_int_equal(ims__hw_msix_signal(ims__hw_accel_msix(M.hw), i), 0);
	am_run(&M);
	for (i = 0; i < NR_IMS; i++)
		assert_int_equal(ims_vec[i].runs, 1);
	for (i = 1; i < NR_MSIX; i++)
		assert_int_equal(msix_vec[i].runs, 1);

	/* Disabled: the first raise is held pending and masks the slot, the
	 * second latches in the slot; enable delivers both. */
	for (i = 0; i < NR_IMS; i += 7)
		assert_int_equal(ims_irq_disable(M.core, (unsigned int)ims_vec[i].virq), 0);
	for (n = 0; n < 2; n++) {
		for (i = 0; i < NR_IMS; i += 7)
			assert_int_equal(ims__hw_ims_array_signal(ims__hw_accel_ims(M.hw), i,
								  ims_vec[i].pasid != 0,
								  ims_vec[i].pasid), 0);
		am_run(&M);
	}
	for (i = 0; i < NR_IMS; i += 7) {
		assert_int_equal(ims_vec[i].runs, 1);
		assert_true(ims__hw_ims_array_pending(ims__hw_accel_ims(M.hw), i));
	}
	for (i = 0; i < NR_IMS; i += 7)
		assert_int_equal(ims_irq_enable(M.core, (unsigned int)ims_vec[i].virq), 0);
	am_run(&M);
	for (i = 0; i < NR_IMS; i++)
		assert_int_equal(ims_vec[i].runs, i % 7 ? 1u : 3u);

	/* Free everything dynamically again: groups whole, the rest one by one. */
	for (i = 0; i < NR_IMS; i++)
		assert_int_equal(ims_irq_free(M.core, (unsigned int)ims_vec[i].virq, &ims_vec[i]), 0);
	for (i = 1; i < NR_MSIX; i++)
		assert_int_equal(ims_irq_free(M.core, (unsigned int)msix_vec[i].virq, &msix_vec[i]), 0);
	for (g = 0; g < 128; g++)
		assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, groups[g]), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), NR_IMS - 512);
	for (i = 0; i < NR_IMS; i++)
		if (!ims_vec[i].pasid)
			assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, i), 0);
	for (i = 1; i < NR_MSIX; i++)
		assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_DEFAULT_DOMAIN, i), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(am_destroy(&M), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_slot_fires_once_through_the_whole_machine),
	};

	return cmocka_run_group_tests_name("ims_e2e", tests, NULL, NULL);
}

/*
 * A guest masks, unmasks, function-masks and disables its MSI-X entry from
 * one thread while its ADI's work completes on the device thread and a
 * vCPU thread takes posted interrupts from its descriptor. The work is
 * fired one item at a time, each waiting until the vCPU has seen the one
 * before, so no two can coalesce: every one must be seen exactly once,
 * however the guest's masking falls, and nothing may land anywhere else.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NV 0xf2
#define VEC 0x51
#define FIRES 2000
#define TOGGLES 3000
#define SPIN_LIMIT 100000000ull

static struct accel_machine M;
static uint8_t *pids;
static struct ims_accel_guest *g;
static atomic_uint seen, wrong;
static atomic_bool stop, fired_all;
static atomic_uint toggles;

static void fire(void)
{
	struct ims_accel_adi *adi = ims_accel_guest_adi(g);
	uint32_t portal, d[8] = { IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI, IMS_ACCEL_DESC_PASID_VALID | 0xa0,
				  0, 0, ims_accel_adi_handle(adi, 0), 0, 0, 0 };

	M.ai.bar[0].read32(M.ai.bar[0].ctx, IMS_ACCEL_REG_PORTAL_OFFSET, &portal);
	portal += ims_accel_adi_wq(adi) * IMS_ACCEL_PORTAL_STRIDE;
	for (unsigned int i = 0; i < 8; i++)
		M.ai.bar[0].write32(M.ai.bar[0].ctx, portal + 4 * i, d[i]);
}

static void *vcpu_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		uint64_t pir[4];
		unsigned int n = ims_pid_take(pids, pir);

		if (!n) {
			sched_yield();
			continue;
		}
		if (n != 1 || !(pir[VEC / 64] >> (VEC % 64) & 1))
			atomic_fetch_add(&wrong, 1);
		else
			atomic_fetch_add(&seen, 1);
		/* The other guest's descriptor never gets anything. */
		if (ims_pid_take(pids + 64, pir))
			atomic_fetch_add(&wrong, 1);
	}
	return NULL;
}

static void *guest_thread(void *arg)
{
	unsigned int r = 1;

	(void)arg;
	/* Until every item has been fired and seen, and at least TOGGLES times. */
	for (unsigned int i = 0; i < TOGGLES || !atomic_load(&fired_all); i++) {
		atomic_fetch_add(&toggles, 1);
		r = r * 1103515245u + 12345u;
		switch ((r >> 16) % 3) {
		case 0:
			ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_CTRL, 4, 1);
			sched_yield();
			ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_CTRL, 4, 0);
			break;
		case 1:
			ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2,
						  IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL);
			sched_yield();
			ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
			break;
		default:
			ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, 0);
			sched_yield();
			ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE);
			break;
		}
	}
	return NULL;
}

static void guest_masking_races_completions_and_loses_none(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 4, .wq_depth = 8, .nr_ims = 64, .nr_msix = 9, .dvsec_ims = true,
	};
	struct ims_accel_guest_vcpu v = { 0, 0 };
	struct ims_accel_guest_info ii = { .pasid = 0xa0, .nvec = 1, .nr_vcpus = 1, .vcpus = &v };
	pthread_t vt, gt;
	struct ims_mem_stats m;
	uint64_t spins = 0;

	(void)state;
	assert_int_equal(am_create(&M, 2, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	pids = ims__dma_alloc_registered(M.dma, 128, 64, "test_pids");
	assert_non_null(pids);
	ims_pid_init(pids, NV, 1, false);
	ims_pid_init(pids + 64, NV, 1, false);
	v.pid = ims__dma_addr(pids);
	assert_int_equal(ims_accel_guest_create(M.acc, &ii, &g), 0);
	assert_int_equal(ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_ADDR_LO, 4, 0xfee00000u), 0);
	assert_int_equal(ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_DATA, 4, VEC), 0);
	assert_int_equal(ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_CTRL, 4, 0), 0);
	assert_int_equal(ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE), 0);

	assert_int_equal(ims__hw_accel_thread_start(M.hw), 0);
	assert_int_equal(pthread_create(&vt, NULL, vcpu_thread, NULL), 0);
	assert_int_equal(pthread_create(&gt, NULL, guest_thread, NULL), 0);
	for (unsigned int k = 1; k <= FIRES && spins < SPIN_LIMIT; k++) {
		fire();
		while (atomic_load(&seen) < k && ++spins < SPIN_LIMIT)
			sched_yield();
	}
	atomic_store(&fired_all, true);
	pthread_join(gt, NULL);
	ims__hw_accel_thread_stop(M.hw);
	atomic_store(&stop, true);
	pthread_join(vt, NULL);

	print_message("%u completion interrupts posted through %u guest mask changes: %u seen\n",
		      FIRES, 2 * atomic_load(&toggles), atomic_load(&seen));
	assert_true(spins < SPIN_LIMIT);
	assert_int_equal(atomic_load(&seen), FIRES);
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(ims_accel_adi_completions(ims_accel_guest_adi(g)), 0);

	assert_int_equal(ims_accel_guest_destroy(g), 0);
	assert_int_equal(ims__msi_device_check(ims_accel_device(M.acc)), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(ims__dma_free_registered(M.dma, pids, 128, 64), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guest_masking_races_completions_and_loses_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
